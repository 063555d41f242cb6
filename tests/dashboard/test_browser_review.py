"""Review fixes of the dashboard in a real headless Chromium (Debian's chromium + chromedriver):
the language chosen survives a reload, the energy charts' right axes are readable, the header
fits one line at 1400 px, and a store that cannot be read is said in the page's language.

The dashboard serves the simulated Monday of tests/dashboard/test_browser.py (its `served`
fixture, on a clock pinned to the end of that Monday); the header is measured on one started
with --broker too, which adds the Simulation and Truth pages to the menu (as compose runs it).
"""

from __future__ import annotations

import re
import signal
import subprocess
from itertools import pairwise

import pytest

from dashboard.i18n import LABELS
from shopfloor.broker import free_port
from tests.dashboard import test_browser
from tests.dashboard.test_browser import (
    CHROMEDRIVER,
    CHROMIUM,
    END_ISO,
    PLANT,
    _answers,
    chromium,
    graphs_drawn,
    pick_range,
    text_of,
)
from tests.dashboard.test_vietnamese import _click_when_clickable
from tests.support import cli, pinned_env, running_broker, wait_for

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs chromium and chromium-driver (apt; .ci/run installs them)",
)


served = test_browser.served  # its simulated Monday, served once for this module


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    # The browser keeps localStorage between page loads, as a user's does.
    yield from chromium(tmp_path_factory, fresh_storage=False)


def choose(browser, label: str) -> None:
    from selenium.webdriver.common.by import By

    switch = wait_for(
        lambda: browser.find_elements(By.XPATH, f"//label[contains(., '{label}')]") or None,
        30,
        f"the {label} switch",
    )[0]
    _click_when_clickable(browser, switch, f"the {label} switch")


def nav_text(browser) -> str:
    from selenium.webdriver.common.by import By

    return text_of(browser, By.ID, "nav") or ""


def test_the_language_chosen_survives_a_reload_and_a_new_page(served, browser):
    from selenium.webdriver.common.by import By

    url = served[0]
    browser.get(url)
    wait_for(lambda: "Overview" in nav_text(browser) or None, 30, "the English menu")
    choose(browser, "Tiếng Việt")
    wait_for(lambda: "Tổng quan" in nav_text(browser) or None, 20, "the Vietnamese menu")
    browser.refresh()
    # Before: a reload came back in English.
    wait_for(lambda: "Tổng quan" in nav_text(browser) or None, 30, "Vietnamese after a reload")
    checked = browser.find_element(By.CSS_SELECTOR, "#lang input:checked")
    assert checked.get_attribute("value") == "vi"
    wait_for(
        lambda: (
            (text_of(browser, By.CLASS_NAME, "updated") or "").startswith("Cập nhật lúc") or None
        ),
        30,
        "the page itself in Vietnamese",
    )
    browser.get(url + "energy")  # another page, typed in the address bar
    wait_for(
        lambda: "Điện năng" in browser.page_source or None, 30, "the energy page in Vietnamese"
    )
    choose(browser, "English")
    wait_for(lambda: "Overview" in nav_text(browser) or None, 20, "the English menu")
    browser.refresh()
    wait_for(lambda: "Overview" in nav_text(browser) or None, 30, "English after a reload")
    assert "Tổng quan" not in nav_text(browser)


def _axes(browser, graph_id: str) -> dict[str, list[str]]:
    """The visible tick labels and titles of a chart's left (y) and right (y2) axes."""
    return browser.execute_script(
        """
        const g = document.getElementById(arguments[0]);
        const texts = (sel) => [...g.querySelectorAll(sel)].map((e) => e.textContent);
        return {y: texts('.ytick text'), y2: texts('.y2tick text'),
                ytitle: texts('.g-ytitle text'), y2title: texts('.g-y2title text')};
        """,
        graph_id,
    )


def _number(text: str, lang: str) -> float:
    group, point = (".", ",") if lang == "vi" else (",", ".")
    return float(text.replace(group, "").replace(point, "."))


def test_energy_charts_right_axes_have_round_ticks_from_zero_in_both_languages(served, browser):
    url, truth, _ = served
    browser.get(url + "energy")
    choose(browser, "English")
    pick_range(browser, "Last 24 h")
    lines = truth["lines"].values()
    most = max(e["energy_kwh"] / e["good_count"] for e in lines if e["good_count"])
    for lang, label in (("en", "English"), ("vi", "Tiếng Việt")):
        choose(browser, label)
        per_part = LABELS["axis.kwh_per_good"][lang]
        for graph in ("energy-bars", "energy-shifts"):

            def drawn(graph=graph, per_part=per_part):
                got = _axes(browser, graph)
                return got if got["y2"] and got["y2title"] == [per_part] else None

            wait_for(lambda: graphs_drawn(browser, 4), 30, "the energy graphs")
            got = wait_for(drawn, 30, f"{graph}'s axes in {lang}")
            # Titles with units on both sides.
            assert len(got["ytitle"]) == 1 and "(kWh)" in got["ytitle"][0], got
            right = [_number(v, lang) for v in got["y2"]]
            left = [_number(v, lang) for v in got["y"]]
            # From zero, in equal round steps, as many as the left axis's (one grid for both).
            # Before: 0.40593, 0.4061, 0.40627, ... (Plotly.js synced them to the left grid).
            assert right[0] == 0 and left[0] == 0, got
            step = right[1]
            assert all(abs(b - a - step) < 1e-9 for a, b in pairwise(right)), got
            assert len(right) == len(left), got
            assert all(len(re.sub(r"^\d+[.,]?", "", v)) <= 2 for v in got["y2"]), got
            if graph == "energy-bars":
                # The lines' kWh per good part (the simulator's) fit under the top tick.
                assert most <= right[-1] <= 2.5 * most, (most, got)
            if lang == "vi":
                assert not any("." in v for v in got["y2"]), got  # 0,2 not 0.2


@pytest.fixture(scope="module")
def with_broker(served):
    """The same store served with --broker (on a broker no simulator uses): the menu then has
    the Simulation and Truth pages too, the longest header there is."""
    tmp = served[2]
    with running_broker() as broker:
        yield from _dashboard(f"sqlite:///{tmp / 's.db'}", "--broker", broker.url)


HEADER_BOXES = """
const header = document.querySelector('header.app-header');
const nav = document.getElementById('nav');
const boxes = [...header.querySelectorAll('.brand, #nav .nav-link, #range, #lang label')]
    .map((e) => e.getBoundingClientRect());
return {
    height: header.getBoundingClientRect().height,
    links: nav.querySelectorAll('.nav-link').length,
    tops: boxes.map((b) => b.top), bottoms: boxes.map((b) => b.bottom),
    lefts: boxes.map((b) => b.left), rights: boxes.map((b) => b.right),
    width: document.documentElement.clientWidth,
    page_width: document.documentElement.scrollWidth,
    nav_clipped: nav.scrollWidth > nav.clientWidth + 1,
};
"""


def test_the_header_is_one_line_at_1400_px_and_wraps_narrower(with_broker, browser):
    browser.get(with_broker)
    wait_for(lambda: "Simulation" in nav_text(browser) or None, 30, "the menu with Simulation")
    try:
        for lang, label, word in (("en", "English", "Overview"),
                                  ("vi", "Tiếng Việt", "Tổng quan")):  # fmt: skip
            choose(browser, label)
            wait_for(lambda word=word: word in nav_text(browser) or None, 20, f"the {lang} menu")
            for width in (1400, 1000):
                browser.set_window_size(width, 1000)
                got = wait_for(
                    lambda width=width: (
                        (box := browser.execute_script(HEADER_BOXES))["width"] <= width and box
                    ),
                    10,
                    f"a window {width} px wide",
                )
                what = f"{lang} at {width} px: {got}"
                assert got["links"] == 11, what
                # Every link shown whole (none scrolled out of the menu), inside the window.
                assert not got["nav_clipped"], what
                assert min(got["lefts"]) >= 0 and max(got["rights"]) <= got["width"], what
                if width == 1400:
                    # One line: brand, every link, the range and the language switch side by
                    # side (before: the controls on a second line, the bar 99 px high; in
                    # Vietnamese the menu itself took two).
                    assert max(got["tops"]) < min(got["bottoms"]), what
                    assert got["height"] < 60, what
    finally:
        browser.set_window_size(1400, 1000)


@pytest.fixture(scope="module")
def store_down(tmp_path_factory):
    """A dashboard whose store does not answer: InfluxDB 1.x on a port nothing listens on."""
    yield from _dashboard("influxdb1://127.0.0.1:1/shopfloor")


def _dashboard(store: str, *extra: str):
    """`shopfloor dash` on `store` at the pinned end, yielding its URL once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        cli("dash", "--store", store, "--config", str(PLANT), "--port", str(port), "--no-auth",
            *extra),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=pinned_env(END_ISO, frozen=True),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: _answers(url), 60, "the dashboard answers")
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)


# Each page's message area (the Line view's and the Andon TV's have their own ids).
DOWN_PAGES = {"": "overview-message", "machine": "machine-message", "losses": "losses-message",
              "energy": "energy-message", "orders": "orders-message", "line": "line-message"}  # fmt: skip


def test_a_store_that_cannot_be_read_is_said_in_the_pages_language(store_down, browser):
    from selenium.webdriver.common.by import By

    browser.get(store_down)
    choose(browser, "English")
    said = LABELS["notice.store_error"]
    for lang, label in (("en", "English"), ("vi", "Tiếng Việt")):
        head = said[lang].split("{")[0]
        other = said["vi" if lang == "en" else "en"].split("{")[0]
        for path in DOWN_PAGES:
            browser.get(store_down + path)
            choose(browser, label)  # kept from the last page; clicked again, it stays
            if path == "machine":
                pick_range(browser, LABELS["range.last_24h"][lang])

            def message(path=path, head=head):
                text = text_of(browser, By.ID, DOWN_PAGES[path]) or ""
                return text if head in text else None

            # Before: "influxdb1://127.0.0.1:...: ConnectionRefusedError: ..." on its own.
            text = wait_for(message, 30, f"/{path}'s message in {lang}")
            assert other not in text, (path, lang, text)
            assert "127.0.0.1" in text  # the store's own words stay, as data
