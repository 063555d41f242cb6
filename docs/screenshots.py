"""Make the README's screenshots: `python docs/screenshots.py` (needs chromium, chromedriver and
the test extra's selenium).

The pictures show a fixed moment, whatever the hour it is run at: a Monday afternoon in the
demo plant (shift B, after a full shift A), simulated, stored and served by a dashboard whose
clock is pinned there (SHOPFLOOR_NOW). The Simulation page gets a live plant on a clock that
ticks on from the same moment, and a breakdown injected from the page.
"""

from __future__ import annotations

import os
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

import orjson

from collector.validate import validate
from shopfloor import clock
from shopfloor.broker import Broker, free_port
from shopfloor.config import load_config
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.run import run
from simulator.sinks import ListSink

DOCS = Path(__file__).resolve().parent
PLANT = DOCS.parent / "config" / "plant.yaml"
NOW_ISO = "2026-11-23T16:30:00+07:00"  # Monday, shift B
DAY_START_ISO = "2026-11-23T00:00:00+07:00"


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


@contextmanager
def dashboard(store_url: str, env: dict[str, str], *extra: str) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        shopfloor("dash", "--store", store_url, "--config", str(PLANT), "--port", str(port), "--no-auth", *extra),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: answers(url), 60, "the dashboard")
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)


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
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def graphs(driver: Any, n: int) -> bool:
    from selenium.webdriver.common.by import By

    return len(driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg .trace")) >= n


def stored_day(tmp: Path) -> str:
    """Monday from midnight to NOW_ISO, through the collector's validation into SQLite."""
    start_ms = int(clock.parse(DAY_START_ISO).at_s * 1000)
    now_ms = int(clock.parse(NOW_ISO).at_s * 1000)
    sink = ListSink()
    run(load_config(PLANT), sink, start_ms, (now_ms - start_ms) / 1000)
    store = SqliteStore(tmp / "day.db")
    recs = [validate(t, orjson.dumps(p), now_ms, 10**12, 10**6) for t, p, _ in sink.messages]
    store.write([r for r in recs if isinstance(r, Record)])
    store.close()
    return f"sqlite:///{tmp / 'day.db'}"


def static_pages(driver: Any, tmp: Path) -> None:
    from selenium.webdriver.common.by import By

    env = {**os.environ, clock.ENV: NOW_ISO}
    with dashboard(stored_day(tmp), env) as url:
        pages = (("", 1), ("machine", 5), ("losses", 2), ("energy", 4), ("line", 1), ("andon", 0))
        for page, n_graphs in pages:
            driver.get(url + page)
            wait_for(lambda n=n_graphs: graphs(driver, n), 60, f"the graphs of /{page}")
            if page == "":
                wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".kpi-table"), 30, "KPIs")
            if page == "andon":
                wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".andon-tile"), 30, "tiles")
            time.sleep(1.0)  # Plotly's transitions end; a picture, not a test
            driver.save_screenshot(str(DOCS / f"{page or 'overview'}.png"))
            print(f"wrote docs/{page or 'overview'}.png")


def simulation_page(driver: Any, tmp: Path) -> None:
    from selenium.webdriver.common.by import By

    env = {**os.environ, clock.ENV: clock.ticking_from(clock.parse(NOW_ISO).at_s)}
    broker = Broker(free_port(), data_dir=tmp / "broker").start()
    store_url = f"sqlite:///{tmp / 'live.db'}"
    procs = [
        subprocess.Popen(shopfloor(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        for args in (
            ("collect", "--broker", broker.url, "--store", store_url, "--metrics-port", "0",
             "--client-id", "screenshots"),
            ("sim", "--config", str(PLANT), "--broker", broker.url, "--backfill", "1h"),
        )
    ]  # fmt: skip
    try:
        with dashboard(store_url, env, "--broker", broker.url) as url:
            driver.get(url + "simulation")
            wait_for(
                lambda: driver.find_elements(By.CSS_SELECTOR, ".recent-states li"), 60, "states"
            )
            driver.find_element(By.ID, "sim-breakdown-go").click()
            wait_for(lambda: driver.find_element(By.ID, "sim-result").text, 15, "the reply")

            def newest_is_the_breakdown() -> bool:
                items = driver.find_elements(By.CSS_SELECTOR, ".recent-states li")
                try:
                    return bool(items) and "dashboard" in items[0].text
                except Exception:  # re-rendered under us
                    return False

            wait_for(newest_is_the_breakdown, 60, "the breakdown in the store")
            driver.save_screenshot(str(DOCS / "simulation.png"))
            print("wrote docs/simulation.png")
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait(20)
        broker.close()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="shopfloor-shots-") as folder:
        tmp = Path(folder)
        driver = browser(tmp / "chrome")
        try:
            static_pages(driver, tmp)
            simulation_page(driver, tmp)
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
