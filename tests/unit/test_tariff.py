"""Time-of-use periods in local time, priced buckets, CO2e, and the config checks."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from shopfloor.config import load_config
from shopfloor.config.load import ConfigError
from shopfloor.config.schema import Energy, Tariff
from shopfloor.tariff import co2e_kg, cost, kwh_by_period, period_at
from tests.support import PLANT

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
EVN = Tariff.model_validate(
    {
        "price_per_kwh": {"peak": 3640, "normal": 2000, "off_peak": 1146},
        "default_period": "normal",
        "windows": [
            {"period": "peak", "start": "09:30", "end": "11:30", "days": ["mon", "tue", "wed", "thu", "fri", "sat"]},
            {"period": "peak", "start": "17:00", "end": "20:00", "days": ["mon", "tue", "wed", "thu", "fri", "sat"]},
            {"period": "off_peak", "start": "22:00", "end": "04:00"},
        ],
    }
)  # fmt: skip


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=HCM).timestamp() * 1000)


@pytest.mark.parametrize(
    ("local", "period"),
    [
        ("2026-11-23T09:29", "normal"),  # Monday
        ("2026-11-23T09:30", "peak"),
        ("2026-11-23T11:29", "peak"),
        ("2026-11-23T11:30", "normal"),
        ("2026-11-23T19:59", "peak"),
        ("2026-11-23T22:00", "off_peak"),
        ("2026-11-24T03:59", "off_peak"),  # past midnight, from Monday's window
        ("2026-11-24T04:00", "normal"),
        ("2026-11-29T10:00", "normal"),  # Sunday: no peak
        ("2026-11-29T23:00", "off_peak"),
    ],
)
def test_periods_follow_the_local_clock(local, period):
    assert period_at(EVN, ms(local), HCM) == period


def test_the_same_instant_in_utc_terms_is_not_peak():
    # 09:30 UTC is 16:30 in Ho Chi Minh City: normal hours there.
    assert period_at(EVN, ms("2026-11-23T16:30"), HCM) == "normal"


def test_cost_and_co2e():
    buckets = [
        (ms("2026-11-23T09:30"), 2.0),
        (ms("2026-11-23T12:00"), 1.0),
        (ms("2026-11-23T23:00"), 4.0),
    ]
    by = kwh_by_period(buckets, EVN, HCM)
    assert by == {"peak": 2.0, "normal": 1.0, "off_peak": 4.0}
    assert cost(by, EVN) == pytest.approx(2 * 3640 + 2000 + 4 * 1146)
    assert co2e_kg(100.0, Energy(co2e_kg_per_kwh=0.6592)) == pytest.approx(65.92)
    assert co2e_kg(100.0, Energy()) is None


def test_the_example_config_prices_every_period():
    cfg = load_config(PLANT)
    assert cfg.energy.co2e_kg_per_kwh == pytest.approx(0.6592)
    t = cfg.energy.tariff
    assert t is not None and t.currency == "VND"
    assert {t.default_period, *(w.period for w in t.windows)} <= set(t.price_per_kwh)


def test_an_unpriced_period_names_its_key(tmp_path):
    text = PLANT.read_text().replace("default_period: normal", "default_period: shoulder")
    bad = tmp_path / "p.yaml"
    bad.write_text(text)
    with pytest.raises(
        ConfigError, match=r"energy\.tariff\.default_period: 'shoulder' has no price"
    ):
        load_config(bad)
