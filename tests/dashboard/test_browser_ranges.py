"""The pages stop misleading (issue 10), in a real headless Chromium at pinned clocks.

One store holds a seeded simulation of config/plant.yaml from Saturday 20:00 to Monday 11:07
(plant time). Two dashboards read it, each with its clock frozen: Sunday 23:30 (no shift on
Sundays) and Monday 11:07 (shift A under way, seven minutes into a quarter hour). A third
setup runs the live stack (broker, simulator, collector, dashboard with --broker) on a ticking
clock for the Simulation page.
"""

from __future__ import annotations

import signal
import subprocess

import orjson
import pytest

from collector.validate import validate
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
)
from tests.support import (
    MONDAY_1100,
    PLANT,
    SUNDAY_2330,
    cli,
    instant_s,
    pinned_env,
    running_broker,
    wait_for,
)

SAT_2000_MS = int(instant_s("2026-11-21T20:00:00+07:00") * 1000)
MON_1107 = "2026-11-23T11:07:00+07:00"
END_MS = int(instant_s(MON_1107) * 1000)
NO_PLANNED = (
    "No planned production in this range (outside shift hours). "
    "The next shift, A, starts Mon 23/11/2026 06:00."
)
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs chromium and chromium-driver (apt; .ci/run installs them)",
)


def _dash(db: str, env: dict[str, str], *extra: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        cli("dash", "--store", db, "--config", str(PLANT), "--port", str(port), "--no-auth", *extra),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    wait_for(lambda: _answers(url), 60, "the dashboard answers")
    return proc, url


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ranges")
    sink = ListSink()
    run(load_config(PLANT), sink, SAT_2000_MS, (END_MS - SAT_2000_MS) / 1000)
    store = SqliteStore(tmp / "s.db")
    recs = [validate(t, orjson.dumps(p), END_MS, 10**12, 10**6) for t, p, _ in sink.messages]
    store.write([r for r in recs if isinstance(r, Record)])
    store.close()
    db = f"sqlite:///{tmp / 's.db'}"
    procs = []
    try:
        sunday, sunday_url = _dash(db, pinned_env(SUNDAY_2330, frozen=True))
        procs.append(sunday)
        monday, monday_url = _dash(db, pinned_env(MON_1107, frozen=True))
        procs.append(monday)
        yield {"sunday": sunday_url, "monday": monday_url, "tmp": tmp}
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait(20)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    yield from chromium(tmp_path_factory)


def message(browser, page_id: str) -> str:
    from selenium.webdriver.common.by import By

    return text_of(browser, By.ID, f"{page_id}-message") or ""


def displayed(browser, element_id: str) -> bool | None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        found = browser.find_elements(By.ID, element_id)
        return found[0].is_displayed() if found else None
    except StaleElementReferenceException:
        return None


def plot(browser, graph_id: str, expr: str):
    """A value read from the Plotly graph inside dcc.Graph `graph_id` (its data or layout as
    drawn), None while it is not drawn yet."""
    return browser.execute_script(
        f"const g = document.querySelector('#{graph_id} .js-plotly-plot');"
        f"return g && g.data && g.data.length ? ({expr}) : null;"
    )


def test_sunday_night_says_no_planned_production_and_when_the_next_shift_starts(sites, browser):
    browser.get(sites["sunday"] + "machine")
    pick_range(browser, "Last hour")
    wait_for(lambda: NO_PLANNED in message(browser, "machine") or None, 30, "the machine notice")
    # No OEE charts of nothing: the states (off) and the power stay.
    assert wait_for(lambda: displayed(browser, "machine-oee-charts") is False or None, 10, "hidden")
    assert displayed(browser, "machine-gantt")
    browser.save_screenshot(str(sites["tmp"] / "machine-sunday.png"))
    browser.get(sites["sunday"] + "losses")
    pick_range(browser, "Last hour")
    wait_for(lambda: NO_PLANNED in message(browser, "losses") or None, 30, "the losses notice")
    assert displayed(browser, "losses-charts") is False
    # "Current shift" on a Sunday night is Saturday's B, and the page says so.
    pick_range(browser, "Current shift")
    wait_for(
        lambda: (
            "showing the last one, shift B, Sat 21/11/2026 14:00 to 22:00"
            in message(browser, "losses")
            or None
        ),
        30,
        "which shift 'current shift' shows",
    )
    assert "The next shift, A, starts Mon 23/11/2026 06:00." in message(browser, "losses")
    browser.find_element("xpath", "//label[contains(., 'Tiếng Việt')]").click()
    wait_for(
        lambda: (
            "Ca tiếp theo, ca A, bắt đầu lúc Thứ 2 23/11/2026 06:00" in message(browser, "losses")
            or None
        ),
        20,
        "the notice in Vietnamese",
    )
    browser.find_element("xpath", "//label[contains(., 'English')]").click()


def test_custom_range_without_dates_is_one_message_and_no_empty_charts(sites, browser):
    from selenium.webdriver.common.by import By

    browser.get(sites["monday"] + "energy")
    wait_for(lambda: displayed(browser, "energy-charts"), 30, "the energy charts")
    pick_range(browser, "Custom")
    want = "Custom range: set its start (plant time, Asia/Ho_Chi_Minh)."
    wait_for(lambda: message(browser, "energy") == want or None, 30, "one message")
    assert wait_for(lambda: displayed(browser, "energy-charts") is False or None, 10, "hidden")
    plots = [
        g for g in browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot") if g.is_displayed()
    ]
    assert plots == []  # not four empty charts
    browser.save_screenshot(str(sites["tmp"] / "energy-custom.png"))


def test_energy_quarter_under_way_axes_and_pie(sites, browser):
    browser.get(sites["monday"] + "energy")
    pick_range(browser, "Last hour")
    traces = wait_for(
        lambda: plot(
            browser, "energy-peak", "g.data.length === 2 && g.data.map(t => [t.name, t.x])"
        ),
        30,
        "the demand chart with its quarter under way",
    )
    (_, done_x), (partial_name, partial_x) = traces
    assert partial_name == "Current quarter hour, so far (unfinished)"
    assert partial_x == ["2026-11-23T11:07:30+07:00"]  # the middle of 11:00-11:15
    assert all(x < "2026-11-23T11:00" for x in done_x)
    # The time axis says the plant's zone.
    title = plot(browser, "energy-peak", "g._fullLayout.xaxis.title.text")
    assert title == "Time (Asia/Ho_Chi_Minh)"
    # kWh per good part never below zero, on the axis as drawn.
    low = wait_for(lambda: plot(browser, "energy-bars", "g._fullLayout.yaxis2.range"), 20, "axis")
    assert low[0] >= 0

    # Pie labels: no two slice texts overlap on the page (read until the chart has settled: a
    # refresh redraws it, and old and new texts coexist for a moment).
    def boxes() -> list | None:
        return browser.execute_script(
            "const g = document.querySelector('#energy-by-state .js-plotly-plot');"
            "if (!g) return null;"
            "const b = [...g.querySelectorAll('text.slicetext')].map(e => e.getBoundingClientRect())"
            "  .filter(r => r.width > 0).map(r => [r.left, r.top, r.right, r.bottom]);"
            "return b.length ? b : null;"
        )

    def apart(a: list, b: list) -> bool:
        return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]

    def no_overlap() -> list | None:
        got = boxes()
        ok = got and all(apart(a, b) for i, a in enumerate(got) for b in got[i + 1 :])
        return got if ok else None

    assert len(wait_for(no_overlap, 20, "the pie's labels, none overlapping")) >= 1
    browser.save_screenshot(str(sites["tmp"] / "energy-hour.png"))


def test_a_week_per_hour_is_readable_and_one_shift_is_bars(sites, browser):
    browser.get(sites["monday"] + "machine")
    pick_range(browser, "Last 7 days")
    # Every hour of the week is a point (168, and the hour cut at each end) ...
    points = wait_for(
        lambda: plot(browser, "machine-by-hour", "g.data[0].x.length >= 168 && g.data[0].x.length"),
        30,
        "a week of hours",
    )
    assert points <= 169
    # ... under at most eight labels, not 168.
    ticks = browser.execute_script(
        "return document.querySelectorAll('#machine-by-hour .xtick').length;"
    )
    assert 2 <= ticks <= 8
    assert plot(browser, "machine-by-hour", "g._fullLayout.xaxis.title.text") == (
        "Time (Asia/Ho_Chi_Minh)"
    )
    # Current shift (one shift, A): four bars, not a lone dot.
    pick_range(browser, "Current shift")
    kinds = wait_for(
        lambda: plot(
            browser,
            "machine-by-shift",
            "g.data.length === 4 && g.data[0].x.length === 1 && g.data.map(t => t.type)",
        ),
        30,
        "the per-shift chart of one shift",
    )
    assert kinds == ["bar"] * 4
    assert "Current shift: A, Mon 23/11/2026 06:00 to 14:00 (under way)." in message(
        browser, "machine"
    )
    browser.save_screenshot(str(sites["tmp"] / "machine-week.png"))


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """Broker, a live simulator at 60x on a ticking clock inside Monday's shift A, the
    collector into SQLite, and the dashboard with --broker."""
    tmp = tmp_path_factory.mktemp("live-ranges")
    db = f"sqlite:///{tmp / 's.db'}"
    env = pinned_env(MONDAY_1100)
    with running_broker() as broker:
        procs = [
            subprocess.Popen(cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            for args in (
                ("collect", "--broker", broker.url, "--store", db, "--client-id", "ranges-test",
                 "--metrics-port", "0"),
                ("sim", "--config", str(PLANT), "--backfill", "5m", "--speed", "60",
                 "--broker", broker.url),
            )
        ]  # fmt: skip
        try:
            dash, url = _dash(db, env, "--broker", broker.url)
            procs.append(dash)
            yield url
        finally:
            for p in reversed(procs):
                p.send_signal(signal.SIGINT)
            for p in procs:
                p.wait(20)


def test_simulation_page_shows_the_speed_in_use_and_the_plant_at_the_clock(live, browser):
    from selenium.webdriver.common.by import By

    def box() -> str | None:
        found = browser.find_elements(By.ID, "sim-speed")
        return found[0].get_attribute("value") if found else None

    def clock_line() -> str:
        return text_of(browser, By.ID, "sim-clock") or ""

    # The simulator announced 60x (retained): the box shows it, not a made-up default.
    def speed_shown() -> bool | None:
        browser.get(live + "simulation")
        return wait_for(lambda: box(), 10, "the speed box") == "60" or None

    wait_for(speed_shown, 60, "the speed in use in the box")
    wait_for(lambda: "Speed in use: 60×." in clock_line() or None, 20, "the speed in use")
    # 60x, yet at the wall clock: a live plant never runs ahead of it.
    wait_for(lambda: "The plant is at the wall clock" in clock_line() or None, 60, "at the clock")
    assert "applies only while the plant is behind the clock" in (
        text_of(browser, By.ID, "sim-note") or ""
    )
    # Change it from the page: after a reload the box shows the new speed.
    field = browser.find_element(By.ID, "sim-speed")
    field.clear()
    field.send_keys("2")
    browser.find_element(By.ID, "sim-speed-go").click()
    wait_for(lambda: text_of(browser, By.ID, "sim-result"), 15, "the command's reply")
    browser.get(live + "simulation")
    assert wait_for(lambda: box() == "2" or None, 20, "the new speed in the box")
    wait_for(lambda: "Speed in use: 2×." in clock_line() or None, 20, "the new speed in use")
