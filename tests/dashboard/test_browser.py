"""The dashboard in a real headless Chromium (Debian's chromium + chromedriver; no download).

The dashboard's clock is pinned (SHOPFLOOR_NOW) to the end of a simulated Monday, so its
"Last 24 h" is exactly the simulated day and the pages are compared with that day's ground
truth at any hour the tests run. Screenshots go under tmp_path only (docs/screenshots.py
makes the README's pictures).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import urllib.request

import orjson
import pytest

from collector.validate import validate
from shopfloor.broker import free_port
from shopfloor.config import load_config
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.run import run
from simulator.sinks import ListSink
from tests.support import (
    GOLDEN,
    MONDAY_1100,
    PLANT,
    cli,
    instant_s,
    pinned_env,
    running_broker,
    wait_for,
)

EVIL = "<img src=x onerror=\"document.title='owned'\"><b>bold</b>"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
# The end of the simulated day: Tuesday 00:00 plant time, after a Monday of two shifts.
END_ISO = "2026-11-24T00:00:00+07:00"
END_MS = int(instant_s(END_ISO) * 1000)
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs chromium and chromium-driver (apt; .ci/run installs them)",
)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    sink = ListSink()
    truth = run(load_config(PLANT), sink, END_MS - 86_400_000, 86400).report
    store = SqliteStore(tmp / "s.db")
    recs = [validate(t, orjson.dumps(p), END_MS, 10**12, 10**6) for t, p, _ in sink.messages]
    store.write([r for r in recs if isinstance(r, Record)])
    # Telemetry text is data, never markup: a breakdown reason that is an HTML injection,
    # one second before the end (it moves no KPI shown by more than a second's worth).
    store.write([Record("acme-vn", "hcm", "machining", "machining-1", "cnc-01", "state", END_MS - 1000,
                        10**9, {"state": "down", "reason": EVIL})])  # fmt: skip
    store.close()
    port = free_port()
    proc = subprocess.Popen(cli("dash", "--store", f"sqlite:///{tmp / 's.db'}", "--config", str(PLANT), "--port", str(port), "--no-auth"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=pinned_env(END_ISO, frozen=True))  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    wait_for(lambda: _answers(url), 60, "the dashboard answers")
    yield url, truth, tmp
    proc.send_signal(signal.SIGINT)
    proc.wait(20)


def chromium(tmp_path_factory, window: str = "1400,1000", fresh_storage: bool = True):
    """A headless Debian Chromium through chromedriver (nothing downloaded), its profile under
    tmp; every browser test module's `browser` fixture yields from this one.

    fresh_storage: every page loaded starts from empty localStorage, so in English, whatever
    language an earlier test chose (the dashboard keeps the choice there across reloads)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path_factory.mktemp('chrome')}", f"--window-size={window}"):  # fmt: skip
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    if fresh_storage:
        script = "try { localStorage.clear(); } catch (e) {}"
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    yield from chromium(tmp_path_factory)


def text_of(driver, by: str, value: str) -> str | None:
    """The element's text, or None while it is missing or being re-rendered (live refresh)."""
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        found = driver.find_elements(by, value)
        return found[0].text if found else None
    except StaleElementReferenceException:
        return None


def cell(driver, key: str) -> str | None:
    from selenium.webdriver.common.by import By

    return text_of(driver, By.CSS_SELECTOR, f'[data-kpi="{key}"]')


def pick_range(browser, label: str) -> None:
    from selenium.webdriver.common.by import By

    wait_for(lambda: browser.find_elements(By.ID, "range") or None, 30, "the range picker")
    browser.find_element(By.ID, "range").click()
    wait_for(
        lambda: (
            [
                e
                for e in browser.find_elements(By.XPATH, f"//*[text()='{label}']")
                if e.is_displayed()
            ]
            or None
        ),
        10,
        "range options",
    )[-1].click()


def graphs_drawn(browser, n: int) -> bool | None:
    from selenium.webdriver.common.by import By

    return (
        len(browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg .trace")) >= n or None
    )


def to_vietnamese(browser) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.XPATH, "//label[contains(., 'Tiếng Việt')]").click()


def test_overview_shows_the_ground_truth_switches_language_and_refreshes(served, browser):
    from selenium.webdriver.common.by import By

    url, truth, tmp = served
    browser.get(url)
    wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, ".kpi-table") or None, 30, "the KPI table"
    )
    pick_range(browser, "Last 24 h")  # the simulated day
    want = truth["plant"]["oee"] * 100

    def plant_oee_near() -> float | None:
        text = cell(browser, "plant:Plant:oee")
        value = float(text.rstrip("%")) if text else None
        return value if value is not None and abs(value - want) <= 0.5 else None

    got = wait_for(plant_oee_near, 30, f"plant OEE near {want:.1f}%")
    assert abs(got - truth["plant"]["oee"] * 100) <= 0.5
    for lid, entry in truth["lines"].items():
        shown = float(
            wait_for(lambda lid=lid: cell(browser, f"line:Line {lid}:oee"), 10, lid).rstrip("%")
        )
        assert abs(shown - entry["oee"] * 100) <= 0.5, lid
    browser.save_screenshot(str(tmp / "overview.png"))

    # The live refresh: a state change written to the store now shows without a reload.
    store = SqliteStore(tmp / "s.db")
    store.write([Record("acme-vn", "hcm", "molding", "molding-1", "pack-02", "state", END_MS - 500,
                        10**9, {"state": "setup", "reason": "refresh probe"})])  # fmt: skip
    store.close()
    wait_for(
        lambda: (
            browser.find_elements(
                By.CSS_SELECTOR, '.machine-state[data-state="setup"][title="refresh probe"]'
            )
            or None
        ),
        20,
        "a live refresh showing the new state",
    )

    browser.find_element(By.XPATH, "//label[contains(., 'Tiếng Việt')]").click()
    wait_for(lambda: cell(browser, "plant:Nhà máy:oee"), 20, "Vietnamese labels")
    nav = wait_for(
        lambda: "Tổng quan" in (text_of(browser, By.ID, "nav") or "") or None, 10, "the menu"
    )
    assert nav
    assert wait_for(
        lambda: text_of(browser, By.CLASS_NAME, "updated"), 10, "refresh time"
    ).startswith("Cập nhật lúc")
    assert "Độ sẵn sàng" in browser.page_source


def test_machine_page_counters_per_hour_and_shift(served, browser):
    from selenium.webdriver.common.by import By

    url, truth, _ = served
    browser.get(url + "machine")
    pick_range(browser, "Last 24 h")
    want = truth["machines"]["cnc-01"]["good_count"]  # the first machine is picked
    wait_for(
        lambda: (
            text_of(browser, By.CSS_SELECTOR, '[data-counter="good"]') == f"Good {want}" or None
        ),
        30,
        f"cnc-01 good count {want}",
    )
    wait_for(lambda: graphs_drawn(browser, 5), 30, "the machine's graphs")
    assert "OEE per shift" in browser.page_source
    # The injected reason shows as its own text; no element was made from it.
    cell = wait_for(
        lambda: (
            [c for c in browser.find_elements(By.CSS_SELECTOR, ".breakdowns td") if c.text == EVIL]
            or None
        ),
        20,
        "the injected reason as text",
    )
    assert cell and not browser.find_elements(By.CSS_SELECTOR, ".breakdowns img, .breakdowns b")
    assert browser.title != "owned"
    browser.save_screenshot(str(served[2] / "machine.png"))
    to_vietnamese(browser)
    wait_for(lambda: "OEE theo ca" in browser.page_source or None, 20, "Vietnamese labels")


def test_losses_page_bottleneck_and_pareto(served, browser):
    from selenium.webdriver.common.by import By

    url, truth, _ = served
    browser.get(url + "losses")
    pick_range(browser, "Last 24 h")

    # The active-period method on what really happened. The page shows exactly the simulated
    # day plus the two injected states (a second or so): stations within 0.1% may swap.
    def active(mid: str) -> float:
        m = truth["machines"][mid]
        return (m["running_s"] + m["down_s"] + m["setup_s"]) / m["planned_s"]

    ranked = sorted(truth["lines"]["machining-1"]["stations"], key=active, reverse=True)
    want = ranked[:1] if active(ranked[0]) - active(ranked[1]) > 0.001 else ranked[:2]
    wait_for(
        lambda: (
            text_of(browser, By.CSS_SELECTOR, '[data-bottleneck="machining-1"]') in want or None
        ),
        30,
        f"the bottleneck of machining-1 in {want}",
    )
    wait_for(lambda: graphs_drawn(browser, 2), 30, "pareto and waterfall")
    browser.save_screenshot(str(served[2] / "losses.png"))
    to_vietnamese(browser)
    wait_for(lambda: "Điểm nghẽn" in browser.page_source or None, 20, "Vietnamese labels")


def test_energy_page_total_cost_and_co2e(served, browser):
    from selenium.webdriver.common.by import By

    url, truth, _ = served
    browser.get(url + "energy")
    pick_range(browser, "Last 24 h")
    legacy = {st.id for _, st in load_config(PLANT).stations() if st.connectivity == "legacy"}
    metered = sum(m["energy_kwh"] for mid, m in truth["machines"].items() if mid not in legacy)
    wait_for(
        lambda: (
            text_of(browser, By.CSS_SELECTOR, '[data-energy="total"]')
            == f"Energy (kWh): {metered:,.1f}"
            or None
        ),
        30,
        f"{metered:,.1f} kWh",
    )
    assert (
        text_of(browser, By.CSS_SELECTOR, '[data-energy="co2e"]')
        == f"CO2e: {metered * 0.6592:,.1f} kg"
    )
    # The tariff's currency as the language writes it (Babel: "₫3,091,711" in English).
    assert re.fullmatch(
        r"Energy cost: ₫[\d,]+", text_of(browser, By.CSS_SELECTOR, '[data-energy="cost"]')
    )
    wait_for(lambda: graphs_drawn(browser, 4), 30, "the energy graphs")
    browser.save_screenshot(str(served[2] / "energy.png"))
    to_vietnamese(browser)
    wait_for(lambda: "Chi phí điện" in browser.page_source or None, 20, "Vietnamese labels")


@pytest.fixture(scope="module")
def live_plant(tmp_path_factory):
    """A broker, a live simulator, the collector into SQLite, and the dashboard with --broker,
    all on one clock pinned inside a Monday shift (a breakdown does nothing while a plant is
    off, as it is at night and on Sundays)."""
    tmp = tmp_path_factory.mktemp("live")
    db = f"sqlite:///{tmp / 's.db'}"
    env = pinned_env(MONDAY_1100)
    with running_broker() as broker:
        procs = [
            subprocess.Popen(cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            for args in (
                ("sim", "--config", str(GOLDEN), "--speed", "1", "--broker", broker.url),
                ("collect", "--broker", broker.url, "--store", db, "--client-id", "browser-test",
                 "--metrics-port", "0"),
            )
        ]  # fmt: skip
        port = free_port()
        procs.append(
            subprocess.Popen(
                cli("dash", "--store", db, "--config", str(GOLDEN), "--port", str(port),
                    "--broker", broker.url, "--no-auth"),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            )
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}/"
        try:
            wait_for(lambda: _answers(url), 60, "the dashboard answers")
            yield url
        finally:
            for p in reversed(procs):
                p.send_signal(signal.SIGINT)
            for p in procs:
                p.wait(20)


def _answers(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=1).status == 200
    except OSError:
        return False


def test_simulation_page_injects_a_breakdown_and_shows_it_arrive(live_plant, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(live_plant + "simulation")
    # cnc-01 is picked; its state changes reach the store through the collector.
    wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, ".recent-states li") or None,
        60,
        "cnc-01 states",
    )
    browser.find_element(By.ID, "sim-repair").clear()
    browser.find_element(By.ID, "sim-repair").send_keys("30")
    browser.find_element(By.ID, "sim-breakdown-go").click()
    result = wait_for(lambda: text_of(browser, By.ID, "sim-result"), 15, "the command's reply")
    assert "cnc-01: breakdown injected (injected from the dashboard), repair 30 min" in result, (
        result
    )

    def newest_is_down() -> bool | None:
        items = browser.find_elements(By.CSS_SELECTOR, ".recent-states li")
        try:
            return (
                items
                and items[0].get_attribute("data-state") == "down"
                and "dashboard" in items[0].text
            ) or None
        except Exception:  # re-rendered under us
            return None

    wait_for(newest_is_down, 30, "the breakdown in the store")
    # A bad value gets the simulator's own error (rebuilt in the page's language), and
    # nothing breaks.
    browser.find_element(By.ID, "sim-value").send_keys("7")
    param = browser.find_element(By.ID, "sim-param")
    param.click()
    wait_for(
        lambda: (
            [
                e
                for e in browser.find_elements(By.XPATH, "//*[text()='Scrap rate']")
                if e.is_displayed()
            ]
            or None
        ),
        10,
        "parameter options",
    )[-1].click()
    browser.find_element(By.ID, "sim-param-go").click()
    wait_for(
        lambda: (
            "Scrap rate: must be ≤ 1, got 7" in (text_of(browser, By.ID, "sim-result") or "")
            or None
        ),
        15,
        "the error reply",
    )
    browser.save_screenshot(str(tmp_path / "simulation.png"))
    to_vietnamese(browser)
    wait_for(lambda: "Tạo sự cố hỏng máy" in browser.page_source or None, 20, "Vietnamese labels")
