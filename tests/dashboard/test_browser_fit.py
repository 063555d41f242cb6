"""Every page fits a plant manager's screen (1280 to 1440 px wide) in both languages, in a real
headless Chromium (Debian's chromium + chromedriver).

The dashboard serves the simulated Monday of tests/dashboard/test_browser.py with --broker (the
longest menu: the Simulation and Truth pages too), on a clock pinned to the end of that Monday,
and each page is judged once its data for "Last 24 h" has rendered (KPI numbers, tables and
legends at their real lengths). A page fits when:

- the page itself does not scroll sideways (documentElement.scrollWidth <= clientWidth), and
- nothing is cut off inside a box of its own: no menu scrolled sideways inside the header, no
  input squeezed narrower than its text, no dropdown value cut (a wide table may scroll in its
  own box, as a user expects; the charts' own clipping is Plotly's).

The header is judged with the custom range picked too: its two date inputs make it the widest.
"""

from __future__ import annotations

import pytest

from dashboard.i18n import t
from tests.dashboard import test_browser
from tests.dashboard.test_browser import CHROMEDRIVER, CHROMIUM, chromium, text_of
from tests.dashboard.test_browser_review import choose, with_broker  # noqa: F401 (fixture)
from tests.dashboard.test_vietnamese import pick_range, settled
from tests.support import wait_for

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs chromium and chromium-driver (apt; .ci/run installs them)",
)

served = test_browser.served  # its simulated Monday, served once for this module

WIDTHS = (1400, 1280)
LANGUAGES = (("en", "English"), ("vi", "Tiếng Việt"))

# What passes the window's right edge (outside any box that scrolls or clips it and itself
# fits), widest first, and the boxes whose content is cut: scrollWidth over clientWidth in a box
# that does not show its overflow. A table's own scroll box is allowed; Plotly clips by design.
FIT = """
const cw = document.documentElement.clientWidth;
const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
  (typeof e.className === 'string' && e.className.trim()
    ? '.' + e.className.trim().split(/\\s+/).join('.') : '');
const clipper = (e) => {
  for (let p = e.parentElement; p && p !== document.body; p = p.parentElement)
    if (getComputedStyle(p).overflowX !== 'visible') return p;
  return null;
};
const past = [], cut = [];
for (const e of document.body.querySelectorAll('*')) {
  const r = e.getBoundingClientRect();
  if (r.width === 0 || e.closest('.js-plotly-plot')) continue;
  const c = clipper(e);
  if (r.right > cw + 0.5 && !(c && c.getBoundingClientRect().right <= cw + 0.5))
    past.push({element: name(e), width: Math.round(r.width), right: Math.round(r.right)});
  const s = getComputedStyle(e);
  if (s.overflowX !== 'visible' && e.scrollWidth > e.clientWidth + 1
      && !(s.overflowX === 'auto' && e.querySelector('table')))
    cut.push({element: name(e), content: e.scrollWidth, shown: e.clientWidth,
              text: (e.innerText || '').trim().slice(0, 40)});
}
past.sort((a, b) => b.width - a.width);
cut.sort((a, b) => (b.content - b.shown) - (a.content - a.shown));
return {scroll: document.documentElement.scrollWidth, client: cw, past, cut};
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    # The language chosen is kept in localStorage from page to page, as a user's is.
    yield from chromium(tmp_path_factory, fresh_storage=False)


def _misfit(got: dict) -> str | None:
    """What does not fit, widest first, or None."""
    if got["scroll"] > got["client"]:
        widest = got["past"][0] if got["past"] else "?"
        return f"page {got['scroll']} px wide in a {got['client']} px window; widest: {widest}"
    if got["cut"]:
        others = sorted({c["element"] for c in got["cut"][1:]})
        return f"cut off inside its box: {got['cut'][0]}" + (f"; also {others}" if others else "")
    return None


def _window(browser, width: int) -> None:
    browser.set_window_size(width, 1000)
    wait_for(
        lambda: browser.execute_script("return document.documentElement.clientWidth") <= width,
        10,
        f"a window {width} px wide",
    )


def test_every_page_fits_1400_and_1280_px_in_both_languages(with_broker, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    url = with_broker
    browser.get(url)
    wait_for(lambda: "Simulation" in (text_of(browser, By.ID, "nav") or "") or None, 30, "menu")
    paths = browser.execute_script(
        "return [...document.querySelectorAll('#nav a.nav-link')].map(a => a.pathname)"
    )
    assert len(paths) == 11, paths  # every page, Simulation and Truth included
    misfits = []
    try:
        for width in WIDTHS:
            _window(browser, width)
            for lang, label in LANGUAGES:
                for path in paths:
                    browser.get(url.rstrip("/") + path)
                    choose(browser, label)
                    pick_range(browser, t("range.last_24h", lang))  # the simulated day
                    settled(browser, f"{path} in {lang} at {width} px")
                    bad = _misfit(browser.execute_script(FIT))
                    if bad:
                        misfits.append(f"{path} in {lang} at {width} px: {bad}")
                # The header at its widest: the custom range's inputs shown beside the menu.
                browser.get(url)
                choose(browser, label)
                pick_range(browser, t("range.custom", lang))
                wait_for(
                    lambda: browser.find_element(By.ID, "custom-box").is_displayed() or None,
                    10,
                    "the custom range's inputs",
                )
                bad = _misfit(browser.execute_script(FIT))
                if bad:
                    misfits.append(f"/ with a custom range in {lang} at {width} px: {bad}")
    finally:
        _window(browser, 1400)
    assert not misfits, "\n".join(misfits)
