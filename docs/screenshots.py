"""Make the README's screenshots: `python docs/screenshots.py [PAGE ...]` (needs chromium,
chromedriver and the test extra's selenium). It writes docs/screenshots/en/<page>.png and
docs/screenshots/vi/<page>.png: every page of the dashboard (or the pages named), in English
and in Vietnamese.

The pictures show a fixed moment, whatever the hour it is run at: a Monday afternoon in the
demo plant (shift B, after a full shift A). The day is simulated and goes to the store the way
a plant's data does: `shopfloor sim` publishes it to a real broker and `shopfloor collect
--config` stores it (so the legacy press gets the states and energy the collector infers from
its power), both on a clock pinned there (SHOPFLOOR_NOW), and a dashboard pinned there too
serves it. The Simulation and Truth pages get a live plant on a clock that ticks on from the
same moment (a breakdown injected from the page); the Alerts page a copy of the config with a
rule the plant breaks at that moment (a line under its OEE target); the What-if page a small
experiment launched from the page (one simulated day, two replications).

A Vietnamese picture holding English, snake_case or English numbers is reported on the way
(tests/dashboard/test_vietnamese.py's rules).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shopfloor import clock
from shopfloor.broker import Broker, free_port
from shopfloor.store.sqlite import SqliteStore

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
OUT = DOCS / "screenshots"
PLANT = ROOT / "config" / "plant.yaml"
NOW_ISO = "2026-11-23T16:30:00+07:00"  # Monday, shift B
DAY_START_ISO = "2026-11-23T00:00:00+07:00"
LANGS = ("en", "vi")
PAGES = ("overview", "machine", "losses", "energy", "line", "andon", "whatif", "alerts", "truth",
         "simulation")  # fmt: skip
ONLY: set[str] = set(PAGES)  # the pages asked for (main)
# The Alerts page's rules: the example config's are seldom broken at NOW_ISO, its lines' own
# OEE targets are (the line's OEE over the last hour below its targets.oee).
ALERT_RULES = {"line_oee_below: 0.40": "line_oee_below: target"}

sys.path.insert(0, str(ROOT))  # the browser tests' helpers: settling and the Vietnamese check


def wait_for(cond: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (got := cond()):
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        time.sleep(0.1)
    return got


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def shopfloor(*args: str) -> list[str]:
    return [sys.executable, "-m", "shopfloor.cli.main", *args]


def spawn(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        shopfloor(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )


def stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        p.wait(30)


@contextmanager
def dashboard(store_url: str, env: dict[str, str], config: Path, *extra: str) -> Iterator[str]:
    port = free_port()
    proc = spawn(env, "dash", "--store", store_url, "--config", str(config), "--port", str(port),
                 "--no-auth", *extra)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: answers(url), 60, "the dashboard")
        yield url
    finally:
        stop([proc])


@contextmanager
def collector(broker: Broker, store_url: str, env: dict[str, str]) -> Iterator[None]:
    """`shopfloor collect --config`, subscribed before anything is published (a broker that
    keeps no offline session would drop the first messages)."""
    port = free_port()
    proc = spawn(env, "collect", "--broker", broker.url, "--store", store_url,
                 "--config", str(PLANT), "--metrics-port", str(port), "--client-id", "screenshots")  # fmt: skip

    def subscribed() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as r:
                return b"shopfloor_collector_subscribed 1.0" in r.read()
        except OSError:
            return False

    try:
        wait_for(subscribed, 60, "the collector's subscription")
        yield
    finally:
        stop([proc])


def browser(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
                 "--window-size=1400,1000"):  # fmt: skip
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    # Each page's first picture in English: the dashboard keeps the language last chosen in
    # localStorage, which would carry the previous page's Vietnamese over.
    script = "try { localStorage.clear(); } catch (e) {}"
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})
    return driver


def found(driver: Any, css: str, n: int = 1) -> bool:
    from selenium.webdriver.common.by import By

    return len(driver.find_elements(By.CSS_SELECTOR, css)) >= n


def graphs(n: int) -> Callable[[Any], bool]:
    return lambda d: found(d, ".js-plotly-plot .main-svg .trace", n)


def text_in(element_id: str, text: str = "") -> Callable[[Any], bool]:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By

    def ready(d: Any) -> bool:
        try:
            got = d.find_element(By.ID, element_id).text
        except WebDriverException:
            return False
        return bool(got) and text in got

    return ready


def shoot(driver: Any, lang: str, name: str, ready: Callable[[Any], bool]) -> None:
    """The page, once ready and settled, in `lang` (switched with the header's toggle, or
    taken from the URL on a page without it); a Vietnamese picture holding English, snake_case
    or English numbers is reported (the Vietnamese browser test's rules)."""
    from tests.dashboard.test_vietnamese import english_patterns, settled, to_vietnamese, violations

    wait_for(lambda: ready(driver), 120, f"/{name} ({lang})")
    if lang == "vi":
        driver.execute_script("window.scrollTo({top: 0, behavior: 'instant'})")  # to the switch
        to_vietnamese(driver)
        wait_for(lambda: "Cập nhật" in driver.page_source or "Tổng quan" in driver.page_source
                 or name == "andon", 30, f"/{name} in Vietnamese")  # fmt: skip
        wait_for(lambda: ready(driver), 60, f"/{name} redrawn in Vietnamese")
    seen = settled(driver, f"/{name} ({lang})")
    time.sleep(1.0)  # Plotly's transitions end; a picture, not a test
    if lang == "vi":
        for bad in violations(seen, english_patterns()):
            print(f"  vi/{name}: {bad}")
    path = OUT / lang / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    optimise(path)
    print(f"wrote {path.relative_to(ROOT)}")


def optimise(path: Path) -> None:
    """Losslessly smaller, with Pillow if it is installed (it is not a dependency)."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as im:
        im.load()
    im.save(path, optimize=True)


def both(driver: Any, url: str, name: str, ready: Callable[[Any], bool]) -> None:
    if name not in ONLY:
        return
    for lang in LANGS:
        driver.get(url)
        shoot(driver, lang, name, ready)


def collected_day(tmp: Path) -> str:
    """Monday from midnight to NOW_ISO, published by the simulator and stored by the collector,
    both on the pinned clock; done when the store holds every machine's closing status (the
    simulator's last message on the connection that carried the rest)."""
    env = {**os.environ, clock.ENV: NOW_ISO}
    store_url = f"sqlite:///{tmp / 'day.db'}"
    SqliteStore(tmp / "day.db").close()
    broker = Broker(free_port(), data_dir=tmp / "broker-day").start()
    try:
        with collector(broker, store_url, env):
            sim = subprocess.run(
                shopfloor("sim", "--config", str(PLANT), "--broker", broker.url,
                          "--start", DAY_START_ISO, "--duration", "16h30m", "--fast"),
                env=env, capture_output=True, text=True,
            )  # fmt: skip
            if sim.returncode != 0:
                raise SystemExit(f"screenshots: the simulator failed:\n{sim.stderr}")
            store = SqliteStore(tmp / "day.db", read_only=True)
            try:
                wait_for(
                    lambda: (ms := store.machines()) and not any(m.online for m in ms),
                    120,
                    "the day in the store",
                )
            finally:
                store.close()
    finally:
        broker.close()
    return store_url


def stored_pages(driver: Any, tmp: Path) -> None:
    env = {**os.environ, clock.ENV: NOW_ISO}
    store_url = collected_day(tmp)
    with dashboard(store_url, env, PLANT) as url:
        pages: tuple[tuple[str, str, Callable[[Any], bool]], ...] = (
            ("overview", "", lambda d: graphs(1)(d) and found(d, ".kpi-table")),
            ("machine", "machine", graphs(5)),
            ("losses", "losses", graphs(2)),
            ("energy", "energy", graphs(4)),
            ("line", "line", graphs(1)),
        )
        for name, path, ready in pages:
            both(driver, url + path, name, ready)
        for lang in LANGS if "andon" in ONLY else ():  # no header: the language is in the URL
            driver.get(url + "andon" + ("?lang=vi" if lang == "vi" else ""))
            shoot(driver, lang, "andon", lambda d: found(d, ".andon-tile"))
        if "whatif" in ONLY:
            whatif_page(driver, url)
    if "alerts" not in ONLY:
        return
    alerts = tmp / "alerts.yaml"
    text = PLANT.read_text(encoding="utf-8")
    for old, new in ALERT_RULES.items():
        text, n = re.subn(rf"(?m)^  {re.escape(old)}\b.*$", "  " + new, text)
        if n != 1:
            raise SystemExit(f"screenshots: config/plant.yaml has no '{old}' to tighten")
    alerts.write_text(text, encoding="utf-8")
    with dashboard(store_url, env, alerts) as url:
        both(driver, url + "alerts", "alerts", lambda d: found(d, "#alerts-list .alert-row"))


def whatif_page(driver: Any, url: str) -> None:
    """A small experiment launched from the page (cnc-01 repaired in 5 minutes instead of 20),
    pictured once finished; the page keeps showing it, in either language."""
    from selenium.webdriver.common.by import By

    from tests.dashboard.test_browser_whatif import _fill, _row_value, _size

    driver.get(url + "whatif")
    wait_for(lambda: text_in("whatif-base")(driver), 60, "the What-if page")
    _fill(driver, "whatif-name", "cnc-01 · MTTR 5")  # a name in neither language
    _row_value(driver, 0, "5")
    _size(driver, "1d", "0", "2")
    driver.find_element(By.ID, "whatif-launch").click()
    done = text_in("whatif-status", "Done")
    wait_for(lambda: done(driver), 600, "the experiment")

    def results_in_view(d: Any) -> bool:
        """The comparison drawn, scrolled up to the buttons (the form above is the inputs)."""
        if not graphs(2)(d):
            return False
        d.execute_script("window.scrollTo({top: document.getElementById('whatif-launch')"
                         ".getBoundingClientRect().top + window.scrollY - 12, behavior: 'instant'})")  # fmt: skip
        return True

    for lang in LANGS:  # in place: the form keeps the experiment's size
        shoot(driver, lang, "whatif", results_in_view)


def live_pages(driver: Any, tmp: Path) -> None:
    """Truth and Simulation: a live plant whose day was published from midnight, on a clock
    ticking on from NOW_ISO."""
    from selenium.webdriver.common.by import By

    env = {**os.environ, clock.ENV: clock.ticking_from(clock.parse(NOW_ISO).at_s)}
    store_url = f"sqlite:///{tmp / 'live.db'}"
    broker = Broker(free_port(), data_dir=tmp / "broker-live").start()
    try:
        with collector(broker, store_url, env):
            sim = spawn(env, "sim", "--config", str(PLANT), "--broker", broker.url,
                        "--start", DAY_START_ISO, "--then-live")  # fmt: skip
            try:
                with dashboard(store_url, env, PLANT, "--broker", broker.url) as url:
                    # Compared up to NOW_ISO: the store has the quarter hour from every machine.
                    both(driver, url + "truth", "truth",
                         lambda d: found(d, "#truth-table table") and text_in("truth-range", "16:30")(d))  # fmt: skip
                    if "simulation" not in ONLY:
                        return
                    driver.get(url + "simulation")
                    wait_for(lambda: found(driver, ".recent-states li"), 60, "states")
                    driver.find_element(By.ID, "sim-breakdown-go").click()
                    wait_for(lambda: text_in("sim-result")(driver), 15, "the reply")

                    def newest_is_the_breakdown(d: Any) -> bool:
                        items = d.find_elements(By.CSS_SELECTOR, ".recent-states li")
                        try:
                            return bool(items) and "dashboard" in items[0].text
                        except Exception:  # re-rendered under us
                            return False

                    wait_for(lambda: newest_is_the_breakdown(driver), 60, "the breakdown")
                    shoot(driver, "en", "simulation", newest_is_the_breakdown)
                    # Afresh: the reply stays in the language it came in (a page's choice).
                    driver.get(url + "simulation")
                    shoot(driver, "vi", "simulation", lambda d: found(d, ".recent-states li"))
            finally:
                stop([sim])
    finally:
        broker.close()


def main(argv: list[str]) -> int:
    unknown = set(argv) - set(PAGES)
    if unknown:
        print(f"screenshots: no page {', '.join(sorted(unknown))}; pages: {', '.join(PAGES)}")
        return 2
    if argv:
        ONLY.intersection_update(argv)
    with tempfile.TemporaryDirectory(prefix="shopfloor-shots-") as folder:
        tmp = Path(folder)
        driver = browser(tmp / "chrome")
        try:
            if ONLY - {"truth", "simulation"}:
                stored_pages(driver, tmp)
            if ONLY & {"truth", "simulation"}:
                live_pages(driver, tmp)
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
