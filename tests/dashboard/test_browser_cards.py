"""The overview's KPI cards in a real headless Chromium, against the simulator's ground truth.

A simulated Monday of config/plant.yaml (two shifts, A 06-14 and B 14-22) is stored as the
collector stores it, and the dashboard runs on a clock pinned to its end (Tuesday 00:00), so
"Last 24 h" is that day and the current shift is B, the previous one A. The config's targets
are set around the day's true OEE: the plant's just under it, one line's just over it and
another's inside the near band, so each card's colour is known from the truth alone.
"""

from __future__ import annotations

import re
import signal
import subprocess
from zoneinfo import ZoneInfo

import orjson
import pytest
import yaml

from collector.legacy import PowerStates
from collector.validate import validate
from shopfloor import kpi
from shopfloor.broker import free_port
from shopfloor.config import load_config
from shopfloor.config.load import _Loader
from shopfloor.report import MachineFacts, build_report
from shopfloor.shifts import ShiftCalendar
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.run import run
from simulator.sinks import ListSink
from tests.dashboard.test_browser import (
    CHROMEDRIVER,
    CHROMIUM,
    END_ISO,
    END_MS,
    _answers,
    chromium,
    pick_range,
    text_of,
    to_vietnamese,
)
from tests.support import PLANT, cli, pinned_env, wait_for

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs chromium and chromium-driver (apt; .ci/run installs them)",
)
START_MS = END_MS - 86_400_000
HOUR_MS = 3_600_000


def shift_truth(cfg, upto: dict[int, dict], h0: int, h1: int) -> dict:
    """The ground truth of [h0, h1) (hours after midnight): the simulator is deterministic, so
    the run up to h1 minus the run up to h0 is what happened in between."""
    lines: dict[str, list[MachineFacts]] = {}
    for line, st in cfg.stations():
        a, b = upto[h0]["machines"][st.id], upto[h1]["machines"][st.id]
        lines.setdefault(line.id, []).append(
            MachineFacts(
                id=st.id, line=line.id, area=line.area,
                durations_s={s: b[f"{s}_s"] - a[f"{s}_s"] for s in kpi.STATES},
                total=b["total_count"] - a["total_count"], good=b["good_count"] - a["good_count"],
                scrap=b["scrap_count"] - a["scrap_count"], ideal_cycle_s=st.ideal_cycle_s,
                energy_kwh=b["energy_kwh"] - a["energy_kwh"],
            )
        )  # fmt: skip
    return build_report(lines, {})


def as_collected(cfg, records: list[Record]) -> list[Record]:
    """The records as the collector stores them: with a legacy machine's states and energy
    inferred from its power samples (collector/legacy.py)."""
    calendar = ShiftCalendar(cfg.shifts, ZoneInfo(cfg.plant.timezone))
    power = PowerStates(calendar)
    out = []
    for rec in records:
        out.append(rec)
        if rec.channel == "status" and rec.payload.get("connectivity") == "legacy":
            power.learn(rec.machine, rec.payload["power_kw"], rec.payload.get("sample_interval_s"))
        elif rec.channel == "telemetry" and power.is_legacy(rec.machine):
            out += power.infer(rec)
    return out


@pytest.fixture(scope="module")
def cards_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cards")
    cfg = load_config(PLANT)
    sink = ListSink()
    truth = run(cfg, sink, START_MS, 86400).report
    upto = {h: run(cfg, ListSink(), START_MS, h * 3600).report for h in (6, 14)}
    upto[22] = truth  # nothing is produced after 22:00
    shifts = {"A": shift_truth(cfg, upto, 6, 14), "B": shift_truth(cfg, upto, 14, 22)}
    store = SqliteStore(tmp / "s.db")
    recs = [validate(t, orjson.dumps(p), END_MS, 10**12, 10**6) for t, p, _ in sink.messages]
    store.write(as_collected(cfg, [r for r in recs if isinstance(r, Record)]))
    store.close()
    # Targets around the truth: the plant meets its OEE target by half a point, machining-1
    # misses its own by half a point (with no near band), molding-1 is 2.5% of its target
    # short (near: within 5%).
    data = yaml.load(PLANT.read_text(encoding="utf-8"), Loader=_Loader)
    plant_oee = truth["plant"]["oee"]
    data["targets"] = {"oee": round(plant_oee - 0.005, 4), "near_fraction": 0.05}
    by_id = {line["id"]: line for line in data["lines"]}
    by_id["machining-1"]["targets"] = {
        "oee": round(truth["lines"]["machining-1"]["oee"] + 0.005, 4),
        "near_fraction": 0,  # no near band: the colour flips at the target itself
    }
    by_id["molding-1"]["targets"] = {"oee": round(truth["lines"]["molding-1"]["oee"] / 0.975, 4)}
    config = tmp / "plant.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen(cli("dash", "--store", f"sqlite:///{tmp / 's.db'}", "--config", str(config), "--port", str(port), "--no-auth"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=pinned_env(END_ISO, frozen=True))  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: _answers(url), 60, "the dashboard answers")
        yield url, cfg, truth, shifts
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    yield from chromium(tmp_path_factory)


def card_value(browser, card: str) -> str | None:
    """The card's value as shown; it waits out a re-render by the live refresh."""
    from selenium.webdriver.common.by import By

    return wait_for(
        lambda: text_of(browser, By.CSS_SELECTOR, f'[data-card-value="{card}"]'), 10, card
    )


def shown(browser, css: str) -> str:
    from selenium.webdriver.common.by import By

    return wait_for(lambda: text_of(browser, By.CSS_SELECTOR, css), 10, css)


def number(text: str) -> float:
    """An English-formatted number as shown: 1,375 / 64.5% / 0.407 kWh / ▼ −8.1 pts."""
    m = re.search(r"([+−±-]?)\s*([\d,]+(?:\.\d+)?)", text)
    assert m, text
    sign = -1.0 if m.group(1) in ("−", "-") else 1.0
    return sign * float(m.group(2).replace(",", ""))


def attribute(browser, css: str, name: str) -> str | None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        found = browser.find_elements(By.CSS_SELECTOR, css)
        return found[0].get_attribute(name) if found else None
    except StaleElementReferenceException:
        return None


def open_day(browser, url: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(url)
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".kpi-card") or None, 30, "the cards")
    pick_range(browser, "Last 24 h")  # the simulated Monday


def test_plant_cards_show_the_days_ground_truth(cards_site, browser):
    from selenium.webdriver.common.by import By

    url, _, truth, _ = cards_site
    open_day(browser, url)
    plant = truth["plant"]
    want_good = f"{plant['good_count']:,}"
    wait_for(
        lambda: (
            text_of(browser, By.CSS_SELECTOR, '[data-card-value="plant:good"]') == want_good or None
        ),
        30,
        want_good,
    )
    for key in ("oee", "availability", "performance", "quality"):
        value = number(card_value(browser, f"plant:{key}"))
        assert abs(value - plant[key] * 100) <= 0.1, (key, value, plant[key])
    for lid, entry in truth["lines"].items():
        assert abs(number(card_value(browser, f"line:{lid}:oee")) - entry["oee"] * 100) <= 0.1
        assert card_value(browser, f"line:{lid}:good") == f"{entry['good_count']:,}"
    # Energy per good part, the legacy press's energy estimated from its power samples (and
    # said to be).
    kwh = number(card_value(browser, "plant:kwh_per_good_part"))
    card = browser.find_element(By.CSS_SELECTOR, '[data-card="plant:kwh_per_good_part"]')
    legacy = truth["machines"]["press-01"]["energy_kwh"]
    assert card.find_elements(By.CSS_SELECTOR, ".estimated-mark")
    assert abs(kwh - plant["energy_kwh"] / plant["good_count"]) <= 0.0015, (kwh, legacy)
    # The sparkline: one point per two hours of the day (at most 12 points).
    points = browser.execute_script(
        "const g = document.querySelector('[data-card=\"plant:oee\"] .js-plotly-plot');"
        "return g && g.data ? g.data[0].y.length : null;"
    )
    assert points == 12


CARD_STATE = """
const c = document.querySelector(`[data-card='${arguments[0]}']`);
const v = document.querySelector(`[data-card-value='${arguments[0]}']`);
return c && v ? [c.dataset.status, c.className, getComputedStyle(v).color] : null;
"""


def read_until(browser, script: str, ok, what: str, *args):
    """A script's answer once `ok` holds for it: read in one go in the page, so a live
    re-render cannot come in between two reads."""

    def attempt():
        got = browser.execute_script(script, *args)
        return got if got is not None and ok(got) else None

    return wait_for(attempt, 30, what)


def test_colour_flips_at_the_target(cards_site, browser):
    url, _, _, _ = cards_site
    open_day(browser, url)
    want = {"plant:oee": "above", "line:machining-1:oee": "below", "line:molding-1:oee": "near"}
    # The value's colour says the same: green, red, amber (Bootstrap's shades).
    rgb = {"above": "rgb(25, 135, 84)", "near": "rgb(181, 129, 0)", "below": "rgb(220, 53, 69)"}
    for card, status in want.items():
        got = read_until(
            browser, CARD_STATE, lambda g, s=status: g[0] == s, f"{card} {status}", card
        )
        assert f"kpi-{status}" in got[1].split(), got
        assert got[2] == rgb[status], got


def test_change_against_the_previous_shift_is_the_truth_difference(cards_site, browser):
    from selenium.webdriver.common.by import By

    url, _, _, shifts = cards_site
    open_day(browser, url)
    a, b = shifts["A"]["plant"], shifts["B"]["plant"]
    delta = wait_for(lambda: text_of(browser, By.CSS_SELECTOR, '[data-delta="plant:oee"]'), 30, "Δ")
    assert abs(number(delta) - (b["oee"] - a["oee"]) * 100) <= 0.15, (delta, a["oee"], b["oee"])
    assert delta.startswith("▲" if b["oee"] > a["oee"] else "▼")
    good = number(shown(browser, '[data-delta="plant:good"]'))
    assert abs(good - (b["good_count"] - a["good_count"])) <= 2
    for lid in shifts["A"]["lines"]:
        la, lb = shifts["A"]["lines"][lid], shifts["B"]["lines"][lid]
        text = shown(browser, f'[data-delta="line:{lid}:oee"]')
        assert abs(number(text) - (lb["oee"] - la["oee"]) * 100) <= 0.15, (lid, text)
    assert "vs shift A" in browser.find_element(By.CSS_SELECTOR, '[data-card="plant:oee"]').text


MARKS = """
const rows = [...document.querySelectorAll('.kpi-table tbody tr')];
if (!rows.length) return null;
const kind = r => ['plant', 'line', 'machine'].find(k => r.classList.contains('row-' + k));
return {
  marked: rows.filter(r => r.querySelector('.inferred-mark'))
              .map(r => [kind(r), r.cells[0].innerText.replace(/\\s*inferred$/, '')]),
  flagged: rows.filter(r => r.dataset.inferred).map(r => r.cells[0].innerText.split(/\\s/)[0]),
  title: (document.querySelector('.kpi-table .row-machine .inferred-mark') || {}).title,
  plant_cards: document.querySelectorAll('[data-card^="plant:"] .inferred-mark').length,
  cards: [...document.querySelectorAll('.line-card .inferred-mark')]
           .map(m => m.closest('.line-card').querySelector('.card-header').innerText),
};
"""


def test_inferred_marker_on_the_legacy_machine_only(cards_site, browser):
    url, cfg, _, _ = cards_site
    open_day(browser, url)
    legacy = {st.id for _, st in cfg.stations() if st.connectivity == "legacy"}
    assert legacy == {"press-01"}
    with_legacy = {line.id for line, st in cfg.stations() if st.id in legacy}
    got = read_until(browser, MARKS, lambda g: g["marked"], "the inferred marker")
    machines = [name for kind, name in got["marked"] if kind == "machine"]
    assert machines == ["press-01"], got
    assert got["flagged"] == ["press-01"], got
    assert "power meter" in got["title"]
    # The press's line and the plant count its inferred parts in their scrap of every station
    # and yield; no other line does.
    lines = [name for kind, name in got["marked"] if kind == "line"]
    assert lines == [f"Line {lid}" for lid in sorted(with_legacy)], got
    assert [kind for kind, _ in got["marked"]].count("plant") == 1
    # The plant's OEE, A, P, Q and good parts come from the lines' last stations: not inferred.
    assert got["plant_cards"] == 0
    assert got["cards"] == [f"Line {lid}" for lid in sorted(with_legacy)], got


def test_cards_in_vietnamese(cards_site, browser):
    from selenium.webdriver.common.by import By

    url, _, truth, _ = cards_site
    open_day(browser, url)
    to_vietnamese(browser)
    want = f"{truth['plant']['good_count']:,}".replace(",", ".")
    wait_for(
        lambda: text_of(browser, By.CSS_SELECTOR, '[data-card-value="plant:good"]') == want or None,
        30,
        want,
    )
    oee = card_value(browser, "plant:oee")
    assert re.fullmatch(r"\d+,\d%", oee), oee
    assert "Sản phẩm đạt" in browser.page_source
    assert "so với ca A" in browser.page_source
