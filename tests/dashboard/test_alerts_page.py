"""The alert banner and the Alerts page in a real headless Chromium, on a store filled by a
seeded simulation whose own breakdown list says which machine is down, since when, at the
pinned instant; and the Truth page kept out of the navigation without --broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
import pytest
import yaml

from collector.validate import validate
from shopfloor.broker import free_port
from shopfloor.config import load_config
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.paced_env import PacedEnvironment
from simulator.plant import Plant
from simulator.sinks import ListSink
from tests.dashboard.test_browser import (
    CHROMEDRIVER,
    CHROMIUM,
    _answers,
    chromium,
    text_of,
    to_vietnamese,
)
from tests.integration.test_alerts import BREAKY, START_MS
from tests.support import cli, wait_for

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs chromium and chromium-driver (apt; .ci/run installs them)",
)
N_MIN = 10
TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("alerts")
    data = {**BREAKY, "alerts": {"machine_down_min": N_MIN}}
    (tmp / "plant.yaml").write_text(yaml.safe_dump(data))
    cfg = load_config(tmp / "plant.yaml")
    sink = ListSink()
    env = PacedEnvironment(None)
    plant = Plant(env, cfg, sink, START_MS)
    env.run(until=8 * 3600)
    # The truth: the first breakdown longer than N + 4 minutes; "now" 2 minutes past N.
    m, start_s = next(
        (st.id, s) for st in plant.stations for s, r, _ in st.failures if r > (N_MIN + 4) * 60
    )
    down_ms = START_MS + start_s * 1000
    now_ms = int(down_ms + (N_MIN + 2) * 60_000)
    others = [
        st.id for st in plant.stations for s, r, _ in st.failures
        if st.id != m and START_MS + s * 1000 + N_MIN * 60_000 < now_ms < START_MS + (s + r) * 1000
    ]  # fmt: skip
    end_ms = START_MS + 8 * 3_600_000
    store = SqliteStore(tmp / "s.db")
    recs = [validate(t, orjson.dumps(p), end_ms, 10**12, 10**6) for t, p, _ in sink.messages]
    store.write([r for r in recs if isinstance(r, Record)])
    store.close()
    port = free_port()
    now_iso = datetime.fromtimestamp(now_ms / 1000, TZ).isoformat()
    proc = subprocess.Popen(
        cli("dash", "--store", f"sqlite:///{tmp / 's.db'}", "--config", str(tmp / "plant.yaml"),
            "--port", str(port), "--no-auth"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "SHOPFLOOR_NOW": now_iso},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    wait_for(lambda: _answers(url), 60, "the dashboard answers")
    yield url, m, down_ms, now_ms, others
    proc.send_signal(signal.SIGINT)
    proc.wait(20)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    yield from chromium(tmp_path_factory)


def attrs(browser, selector: str, name: str) -> set[str]:
    """One snapshot of an attribute of every match (the live refresh re-renders elements, so
    selenium's element handles can go stale between a find and a read)."""
    return set(
        browser.execute_script(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.getAttribute(arguments[1]))",
            selector,
            name,
        )
    )


def test_banner_on_every_page_and_the_alerts_list_in_both_languages(served, browser):
    from selenium.webdriver.common.by import By

    url, machine, down_ms, now_ms, others = served
    expected = {f"machine_down:{x}" for x in [machine, *others]}
    since = datetime.fromtimestamp(down_ms / 1000, TZ).strftime("%H:%M")
    minutes = round((now_ms - down_ms) / 60_000)
    item = f'#alert-banner [data-alert="machine_down:{machine}"]'
    for path in ("", "energy", "alerts"):
        browser.get(url + path)
        text = wait_for(lambda: text_of(browser, By.CSS_SELECTOR, item), 30, f"banner on /{path}")
        assert text == f"{machine} down for {minutes} min since {since} (limit {N_MIN} min)"
        assert attrs(browser, "#alert-banner [data-alert]", "data-alert") == expected
    # The Alerts page lists the same, with the rule.
    rows = wait_for(
        lambda: attrs(browser, "#alerts-list tr.alert-row", "data-alert"), 30, "the alerts list"
    )
    assert rows == expected
    assert (
        "A machine down for longer than 10 min" in browser.find_element(By.ID, "alerts-rules").text
    )
    nav = browser.find_element(By.ID, "nav").text
    assert "Alerts" in nav and "Truth" not in nav and "Simulation" not in nav
    to_vietnamese(browser)
    wait_for(lambda: "hỏng" in (text_of(browser, By.CSS_SELECTOR, item) or ""), 20, "vi banner")
    assert text_of(browser, By.CSS_SELECTOR, item) == (
        f"{machine} hỏng {minutes} phút, từ {since} (ngưỡng {N_MIN} phút)"
    )
    wait_for(lambda: "Máy hỏng" in (text_of(browser, By.ID, "alerts-list") or ""), 20, "vi list")
    wait_for(
        lambda: "Máy hỏng lâu hơn 10 phút" in (text_of(browser, By.ID, "alerts-rules") or ""),
        20, "vi rules",
    )  # fmt: skip
    assert "Cảnh báo" in (text_of(browser, By.ID, "nav") or "")


def test_every_tab_in_a_clock_bucket_shares_one_evaluation_and_a_new_alert_shows(
    tmp_path, monkeypatch
):
    """The banner (every page, every tab) and the Alerts page all refresh every 5 s: one
    evaluation of the rules serves them within a short clock bucket, and an alert that
    becomes active still shows on the next refresh."""
    from dashboard import alertview
    from dashboard.app import create_app
    from shopfloor import alerts, clock

    data = {**BREAKY, "alerts": {"machine_down_min": N_MIN}}
    (tmp_path / "plant.yaml").write_text(yaml.safe_dump(data))
    cfg = load_config(tmp_path / "plant.yaml")
    sink = ListSink()
    env = PacedEnvironment(None)
    plant = Plant(env, cfg, sink, START_MS)
    env.run(until=8 * 3600)
    m, start_s = next(
        (st.id, s) for st in plant.stations for s, r, _ in st.failures if r > (N_MIN + 4) * 60
    )
    store = SqliteStore(tmp_path / "s.db")
    end_ms = START_MS + 8 * 3_600_000
    recs = [validate(t, orjson.dumps(p), end_ms, 10**12, 10**6) for t, p, _ in sink.messages]
    store.write([r for r in recs if isinstance(r, Record)])
    create_app(store, cfg)
    page = sys.modules[
        "pages.alerts"
    ]  # as Dash loaded it: importing dashboard.pages.alerts registers the page twice

    calls: list[int] = []
    real = alerts.evaluate

    def counted(store: object, cfg: object, now_ms: int) -> list:
        calls.append(now_ms)
        return real(store, cfg, now_ms)  # type: ignore[arg-type]

    monkeypatch.setattr(alerts, "evaluate", counted)
    # Half a second before m has been down N minutes: not yet active.
    raised_ms = START_MS + start_s * 1000 + N_MIN * 60_000
    before = raised_ms - 500

    def at(ms: int) -> None:
        iso = datetime.fromtimestamp(ms / 1000, TZ).isoformat(timespec="milliseconds")
        monkeypatch.setenv(clock.ENV, iso)

    def shown(banner: tuple) -> set[str]:
        return {c.to_plotly_json()["props"].get("data-alert") for c in banner[0] or []} - {None}

    at(before)
    tab1 = alertview.refresh_banner(1, "en")
    tab2 = alertview.refresh_banner(1, "vi")
    listed = page.refresh(1, "en")
    assert len(calls) == 1, calls
    assert f"machine_down:{m}" not in shown(tab1) | shown(tab2)
    assert listed[2] is None  # rules set, store answered
    # One refresh period later (5 s): a new evaluation, and m's alert is on the banner.
    at(before + 5_000)
    tab1 = alertview.refresh_banner(2, "en")
    tab2 = alertview.refresh_banner(2, "en")
    assert len(calls) == 2, calls
    assert f"machine_down:{m}" in shown(tab1) and shown(tab1) == shown(tab2)
    store.close()
