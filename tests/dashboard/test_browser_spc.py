"""The Machine page's control chart in a real headless Chromium (issue 12, tool wear): a CNC
whose tool wears, a simulated day stored through the collector's validation in SQLite, the
dashboard on a clock pinned to the day's end. The chart is drawn for the value the config
says wears; the first point it flags lies in the first tool's life, before the tool change
the simulator made; the page switches to Vietnamese with the chart."""

from __future__ import annotations

import signal
import subprocess

import orjson
import pytest
import yaml

from collector.validate import validate
from dashboard import ids
from shopfloor.broker import free_port
from shopfloor.config import load_config
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.run import run
from simulator.sinks import ListSink
from tests.dashboard.test_browser import (
    CHROMEDRIVER,
    CHROMIUM,
    _answers,
    chromium,
    pick_range,
    text_of,
    to_vietnamese,
)
from tests.support import cli, instant_s, pinned_env, wait_for

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs chromium and chromium-driver (apt; .ci/run installs them)",
)

END_ISO = "2026-11-24T00:00:00+07:00"
END_MS = int(instant_s(END_ISO) * 1000)
CONFIG = {
    "plant": {"enterprise": "acme-vn", "site": "hcm"},
    "seed": 5,
    "lines": [
        {
            "id": "machining-1",
            "area": "machining",
            "stations": [
                {
                    "id": "cnc-01",
                    "kind": "cnc",
                    "ideal_cycle_s": 45,
                    "scrap_rate": 0.01,
                    "power_kw": {"idle": 2.5, "running": 15.0},
                    "tool_wear": {
                        "value": "vibration_mm_s",
                        "drift": 1.5,
                        "change_every_parts": 400,
                        "change_min": 5,
                        "scrap_rate_worn": 0.3,
                    },
                }
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("spc")
    path = tmp / "plant.yaml"
    path.write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    sink = ListSink()
    run(load_config(path), sink, END_MS - 86_400_000, 86400)
    store = SqliteStore(tmp / "s.db")
    recs = [validate(t, orjson.dumps(p), END_MS, 10**12, 10**6) for t, p, _ in sink.messages]
    store.write([r for r in recs if isinstance(r, Record)])
    store.close()
    changes = [
        p["ts"]
        for t, p, _ in sink.messages
        if t.endswith("/state") and p["reason"] == "tool change"
    ]
    port = free_port()
    proc = subprocess.Popen(cli("dash", "--store", f"sqlite:///{tmp / 's.db'}", "--config", str(path), "--port", str(port), "--no-auth"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=pinned_env(END_ISO, frozen=True))  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    wait_for(lambda: _answers(url), 60, "the dashboard answers")
    yield url, changes, tmp
    proc.send_signal(signal.SIGINT)
    proc.wait(20)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    yield from chromium(tmp_path_factory, "1400,2400")


def test_the_control_chart_flags_the_first_tools_drift_before_its_change(served, browser):
    from selenium.webdriver.common.by import By

    url, changes, _ = served
    assert len(changes) >= 3
    browser.get(url + "machine")
    pick_range(browser, "Last 24 h")
    title = wait_for(
        lambda: text_of(browser, By.CSS_SELECTOR, f"#{ids.MACHINE_SPC} .gtitle"),
        60,
        "the control chart",
    )
    assert title == "Control chart, individuals and moving range: vibration (mm/s)"
    note = wait_for(
        lambda: text_of(browser, By.ID, ids.MACHINE_SPC_NOTE),
        30,
        "the chart's note",
    )
    assert "One point per 5 min" in note and "first 20 points" in note, note
    assert "points out of control, the first at" in note, note
    # The first flag after the baseline (dd/mm/yyyy HH:MM, plant time) lies in the first
    # tool's life, after the baseline's 100 minutes: the drift, before the tool change.
    first = note.split("the first at ")[1].rstrip(".")
    day, clock = first.split(" ")
    d, m, y = (int(x) for x in day.split("/"))
    hh, mm = (int(x) for x in clock.split(":"))
    at_ms = int(instant_s(f"{y:04d}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:00+07:00") * 1000)
    assert END_MS - 86_400_000 + 100 * 60_000 <= at_ms < changes[0], (first, changes[0])
    to_vietnamese(browser)
    wait_for(
        lambda: (
            "độ rung (mm/s)"
            in (text_of(browser, By.CSS_SELECTOR, f"#{ids.MACHINE_SPC} .gtitle") or "")
            or None
        ),
        30,
        "the Vietnamese chart",
    )
    assert "điểm ngoài kiểm soát" in text_of(browser, By.ID, ids.MACHINE_SPC_NOTE)
