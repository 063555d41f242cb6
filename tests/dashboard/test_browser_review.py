"""Review fixes of the dashboard in a real headless Chromium (Debian's chromium + chromedriver):
the language chosen survives a reload, the energy charts' right axes are readable, the header
fits one line at 1400 px, and a store that cannot be read is said in the page's language.

The dashboard serves the simulated Monday of tests/dashboard/test_browser.py (its `served`
fixture, on a clock pinned to the end of that Monday); the header is measured on one started
with --broker too, which adds the Simulation and Truth pages to the menu (as compose runs it).
"""

from __future__ import annotations

import pytest

from tests.dashboard import test_browser
from tests.dashboard.test_browser import (
    CHROMEDRIVER,
    CHROMIUM,
    chromium,
    text_of,
)
from tests.dashboard.test_vietnamese import _click_when_clickable
from tests.support import wait_for

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
