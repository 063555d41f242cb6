"""Time-of-use electricity cost and CO2e from the config's `energy` section.

Periods follow the plant's local wall clock (EVN's peak hours are Ho Chi Minh City's, not
UTC's). Energy arrives as kWh per bucket (15 minutes on the dashboard); each bucket is priced
by the period at its start, which is exact when period boundaries fall on bucket boundaries
(EVN's do: 04:00, 09:30, 11:30, 17:00, 20:00, 22:00).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from shopfloor.config.schema import WEEKDAYS, Energy, Tariff


def _minutes(clock: str) -> int:
    h, m = clock.split(":")
    return int(h) * 60 + int(m)


def period_at(tariff: Tariff, ts_ms: int, tz: ZoneInfo) -> str:
    local = datetime.fromtimestamp(ts_ms / 1000, tz)
    day = WEEKDAYS[local.weekday()]
    yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
    minute = local.hour * 60 + local.minute
    for w in tariff.windows:
        start, end = _minutes(w.start), _minutes(w.end)
        if start < end:
            if day in w.days and start <= minute < end:
                return w.period
        elif (day in w.days and minute >= start) or (yesterday in w.days and minute < end):
            return w.period
    return tariff.default_period


def kwh_by_period(
    buckets: Iterable[tuple[int, float]], tariff: Tariff, tz: ZoneInfo
) -> dict[str, float]:
    out = dict.fromkeys(tariff.price_per_kwh, 0.0)
    for ts, kwh in buckets:
        out[period_at(tariff, ts, tz)] += kwh
    return out


def cost(by_period: dict[str, float], tariff: Tariff) -> float:
    return sum(kwh * tariff.price_per_kwh[p] for p, kwh in by_period.items())


def co2e_kg(kwh: float, energy: Energy) -> float | None:
    return None if energy.co2e_kg_per_kwh is None else kwh * energy.co2e_kg_per_kwh
