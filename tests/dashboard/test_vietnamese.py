"""Every page in Vietnamese, in a real headless Chromium: no English left, no snake_case, numbers
and dates written the Vietnamese way (issue 10).

The dashboard runs on a real SQLite store filled from a simulated Monday of config/plant.yaml
(through collector.validate, as the collector stores it), plus a breakdown with a known
failure mode, with --broker on a real broker so the Simulation page is there too, and on a
clock pinned to the end of that Monday. The simulator's real replies (from its Commander) go
to that broker, so the Simulation page shows them. Every page of `dash.page_registry` is
visited (a page added later is covered without touching this test), and its visible text,
tooltips, the figures' SVG text and their hover texts must hold:

- no text of an English catalogue entry whose Vietnamese differs,
- no snake_case token,
- no number written the English way (97.5%, 1,234,567, 12,345.6), no ISO or English date.

A page is judged once it has settled: no callback queued or running in Dash's renderer and its
text unchanged over three looks, so an English label between two renders does not fail the
test, and a real one always does (no time window: a slow machine only takes longer).
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import time

import orjson
import pytest

from collector.validate import validate
from dashboard.i18n import LABELS
from shopfloor import commands
from shopfloor.broker import free_port
from shopfloor.config import load_config
from shopfloor.mqtt_url import make_client, parse_broker_url
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.run import run
from simulator.sinks import ListSink
from tests.dashboard.test_browser import CHROMEDRIVER, CHROMIUM, END_ISO, END_MS, _answers
from tests.support import PLANT, cli, pinned_env, running_broker, wait_for

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs chromium and chromium-driver (apt; .ci/run installs them)",
)

SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
# Numbers and dates only English writes: a point before 1-2 or 4+ decimals (Vietnamese groups
# have exactly 3 digits), a comma between groups of 3 twice or before a decimal point, 0.xxx,
# ISO dates, English weekday and month names.
_NAMES = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
ENGLISH_NUMBERS = (
    re.compile(r"(?<![\d.])\d+\.(?:\d{1,2}|\d{4,})(?![\d.])"),
    re.compile(r"\d,\d{3},\d{3}"),
    re.compile(r"\d,\d{3}\.\d"),
    re.compile(r"(?<![\d.])0\.\d{3}(?![\d.])"),
    re.compile(r"\d\.\d+\s?%"),
    re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),
    # "Thu nhỏ" is Vietnamese: an English name counts beside a day number ("Nov 23", "23 Nov").
    re.compile(rf"\b{_NAMES}\b(?=,? \d)|(?<=\d ){_NAMES}\b"),
)
VIETNAMESE = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]")
PLACEHOLDER = re.compile(r"\\\{\w+\\\}")


def english_patterns() -> list[tuple[str, re.Pattern[str]]]:
    """Each English catalogue text whose Vietnamese differs, as a pattern: searched anywhere
    when distinctive (two words or more, or one capitalised word of three letters or more),
    else matched against a whole piece of text (a cell, a line, an SVG text: "min", "peak")."""
    out = []
    for key, texts in LABELS.items():
        en, vi = texts["en"].strip(), texts.get("vi", "").strip()
        if not en or en == vi:
            continue
        body = PLACEHOLDER.sub(".+?", re.escape(en))
        if " " in en or re.fullmatch(r"[A-Z][a-z]{2,}", en):
            out.append((key, re.compile(rf"(?<![\w]){body}(?![\w])")))
        else:
            out.append((key, re.compile(rf"^\s*{body}\s*:?\s*$")))
    return out


COLLECT = """
const out = {text: document.body.innerText, svg: [], hover: [], titles: [], dateAxes: []};
document.querySelectorAll('.js-plotly-plot svg text').forEach(e => out.svg.push(e.textContent));
document.querySelectorAll('[title]').forEach(e => out.titles.push(e.getAttribute('title')));
// The charts' toolbar tooltips (Plotly's own words, in its locale).
document.querySelectorAll('[data-title]').forEach(e => out.titles.push(e.getAttribute('data-title')));
document.querySelectorAll('.js-plotly-plot').forEach(gd => {
  (gd.data || []).forEach(tr => {
    const put = v => {
      if (typeof v === 'string') out.hover.push(v);
      else if (Array.isArray(v)) v.forEach(put);
    };
    ['name', 'text', 'hovertext', 'customdata', 'labels'].forEach(k => put(tr[k]));
    if (typeof tr.hovertemplate === 'string')
      out.hover.push(tr.hovertemplate.replace(/%\\{[^}]*\\}/g, ' ').replace(/<extra>.*?<\\/extra>/g, ' ')
                       .replace(/<[^>]+>/g, ' '));
  });
  const full = gd._fullLayout || {};
  // Plotly's own date labels and hover are English: a shown date axis needs Babel's ticks,
  // and a hover that shows x a digits-only format.
  const hoversX = (gd._fullData || []).some(tr => tr.hovertemplate
    ? /%\\{(x|base)/.test(tr.hovertemplate)
    : tr.hoverinfo === 'all' || /(^|\\+)x(\\+|$)/.test(tr.hoverinfo || ''));
  Object.keys(full).filter(k => /^[xy]axis\\d*$/.test(k) && full[k].type === 'date').forEach(k => {
    const ax = full[k];
    const where = `${(gd.closest('[id]') || {}).id}.${k}`;
    if (ax.visible && ax.showticklabels && ax.tickmode !== 'array')
      out.dateAxes.push(`${where}: Plotly's tick labels`);
    if (hoversX && (!ax.hoverformat || /%[aAbB]/.test(ax.hoverformat)))
      out.dateAxes.push(`${where}: Plotly's hover format ${ax.hoverformat}`);
  });
});
// Dash's renderer keeps its callback queues in window.store: busy while any is requested,
// waiting on another or running (a chained callback is queued before its parent ends).
const cbs = window.store ? window.store.getState().callbacks : null;
const queued = cbs ? ['requested', 'prioritized', 'blocked', 'executing', 'watched', 'executed']
  .reduce((n, k) => n + (cbs[k] || []).length, 0) : 1;
// Before the first callback has completed the layout may still be on its way (queues empty).
out.busy = document.title === 'Updating...' || queued > 0 || !(cbs && cbs.completed > 0);
out.completed = cbs ? cbs.completed : 0;
return out;
"""


def violations(seen: dict, english: list[tuple[str, re.Pattern[str]]]) -> list[str]:
    texts = [("text", seen["text"])] + [("svg", s) for s in seen["svg"]]
    texts += [("hover", s) for s in seen["hover"]] + [("title", s) for s in seen["titles"]]
    found = []
    for where, text in texts:
        if not text:
            continue
        pieces = [p for p in re.split(r"[\n\t]+", text) if p.strip()]
        for key, pattern in english:
            for piece in pieces:
                m = pattern.search(piece)
                if m:
                    found.append(
                        f"{where}: English {key!r}: {m.group(0).strip()!r} in {piece[:80]!r}"
                    )
        for m in SNAKE.finditer(text):
            found.append(
                f"{where}: snake_case {m.group(0)!r} in {text[max(0, m.start() - 40) : m.end() + 40]!r}"
            )
        for pattern in ENGLISH_NUMBERS:
            for m in pattern.finditer(text):
                around = text[max(0, m.start() - 30) : m.end() + 30]
                found.append(f"{where}: English number or date {m.group(0)!r} in {around!r}")
    found += [f"date axis with Plotly's English labels: {a}" for a in seen.get("dateAxes", [])]
    return sorted(set(found))


@pytest.fixture(scope="module")
def vietnamese_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vi")
    cfg = load_config(PLANT)
    sink = ListSink()
    run(cfg, sink, END_MS - 86_400_000, 86400)
    store = SqliteStore(tmp / "s.db")
    recs = [validate(t, orjson.dumps(p), END_MS, 10**12, 10**6) for t, p, _ in sink.messages]
    store.write([r for r in recs if isinstance(r, Record)])
    # A breakdown with a known failure mode, the newest state of cnc-01.
    store.write([Record(cfg.plant.enterprise, cfg.plant.site, "machining", "machining-1", "cnc-01",
                        "state", END_MS - 1000, 10**9, {"state": "down", "reason": "tool_breakage"})])  # fmt: skip
    store.close()
    assert any("waiting for " in str(p.get("reason")) for _, p, _ in sink.messages)
    with running_broker() as broker:
        port = free_port()
        proc = subprocess.Popen(
            cli("dash", "--store", f"sqlite:///{tmp / 's.db'}", "--config", str(PLANT),
                "--port", str(port), "--no-auth", "--broker", broker.url),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=pinned_env(END_ISO, frozen=True),
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}/"
        try:
            wait_for(lambda: _answers(url), 60, "the dashboard answers")
            yield url, broker, cfg, tmp
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(20)


def page_paths(tmp) -> list[str]:
    """Every page the dashboard registers (the same code the served dashboard runs)."""
    import dash

    from dashboard.app import create_app

    store = SqliteStore(tmp / "s.db")
    try:
        create_app(store, load_config(PLANT))
        return [p["path"] for p in dash.page_registry.values()]
    finally:
        store.close()


def real_replies(cfg) -> list[tuple[str, bytes]]:
    """The simulator's own answers (its Commander) to commands the dashboard can send, and to
    bad ones, on their reply topics."""
    import queue

    import simpy

    from simulator.commands import Commander
    from simulator.plant import Plant

    env = simpy.Environment()
    sim = Plant(env, cfg, ListSink(), END_MS - 3_600_000)
    env.run(until=60)
    commander = Commander(sim, queue.SimpleQueue())
    ent, site = cfg.plant.enterprise, cfg.plant.site
    cnc = commands.cmd_topic(ent, site, "machining/machining-1/cnc-01")
    whole = commands.cmd_topic(ent, site)
    asked = [
        (cnc, commands.breakdown("dashboard", 12)),
        (cnc, commands.breakdown("tool_breakage", 5)),
        (cnc, commands.set_params({"mttr_min": 20.5})),
        (cnc, commands.set_params({"scrap_rate": 1.5})),
        (cnc, commands.set_params({"cycle_s.mean": 0.5})),
        (cnc, commands.set_speed(2)),
        (whole, commands.set_speed(2.5)),
    ]
    out = []
    for topic, cmd in asked:
        reply = commander.handle(topic, orjson.dumps({**cmd, "id": "vi-test"}))
        out.append((commands.reply_topic(topic), orjson.dumps(reply)))
    assert any(not orjson.loads(r)["ok"] for _, r in out) and any(
        orjson.loads(r)["ok"] for _, r in out
    )
    return out


@pytest.fixture(scope="module")
def vi_browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path_factory.mktemp('chrome-vi')}", "--window-size=1400,1000",
                 "--lang=en-GB"):  # fmt: skip
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    # Every page loaded starts in English (the dashboard keeps the language chosen in
    # localStorage): the test switches each one itself, and its last look is in English.
    script = "try { localStorage.clear(); } catch (e) {}"
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})
    yield driver
    driver.quit()


def _click_text(browser, text: str, what: str) -> None:
    from selenium.webdriver.common.by import By

    option = wait_for(
        lambda: (
            [
                e
                for e in browser.find_elements(By.XPATH, f"//*[text()='{text}']")
                if e.is_displayed()
            ]
            or None
        ),
        10,
        what,
    )[-1]
    _click_when_clickable(browser, option, what, scroll_top=False)  # an open menu stays put


def to_vietnamese(browser) -> None:
    """Click the header's switch; a page without it (a TV page) took ?lang=vi from its URL."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By

    def click() -> bool | None:
        try:
            found = browser.find_elements(By.XPATH, "//label[contains(., 'Tiếng Việt')]")
            if found and not found[0].is_displayed():
                return True
            if not found:
                return None
            found[0].click()
            return True
        except WebDriverException:
            return None

    wait_for(click, 30, "the language switch")


def pick_range(browser, label: str) -> bool:
    """Pick a range of the header by its shown label (False on a page without the picker)."""
    from selenium.webdriver.common.by import By

    from dashboard import ids

    pickers = browser.find_elements(By.ID, ids.RANGE)
    if not (pickers and pickers[0].is_displayed()):
        return False
    _click_when_clickable(browser, pickers[0], "the range picker")
    _click_text(browser, label, "range options")
    return True


def _click_when_clickable(browser, element, what: str, scroll_top: bool = True) -> None:
    """Click the header's element with the page scrolled to its top: a page scrolled down by
    an earlier look, or re-rendering under a callback, intercepted the click at y=-1772. If
    something still covers it after a few tries, the click is dispatched to the element
    itself (what a user's click would reach once the cover is gone)."""
    from selenium.common.exceptions import (
        ElementClickInterceptedException,
        ElementNotInteractableException,
    )

    tries = 0

    def clicked() -> bool:
        nonlocal tries
        tries += 1
        if scroll_top:
            browser.execute_script("window.scrollTo(0, 0)")
        try:
            element.click()
        except (ElementClickInterceptedException, ElementNotInteractableException):
            if tries < 10:
                return False
            browser.execute_script("arguments[0].click()", element)
        return True

    wait_for(clicked, 30, f"{what} clickable")


def dropdown_options(browser) -> str:
    """The options of every dropdown on the page (they show only while it is open)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    seen = []
    for i in range(len(browser.find_elements(By.CSS_SELECTOR, "button.dash-dropdown"))):
        try:
            box = browser.find_elements(By.CSS_SELECTOR, "button.dash-dropdown")[i]
            if not box.is_displayed():
                continue
            box.click()
            wait_for(
                lambda box=box: box.get_attribute("aria-expanded") == "true" or None, 5, "options"
            )
            seen.append(browser.execute_script("return document.body.innerText"))
            browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
            wait_for(
                lambda box=box: box.get_attribute("aria-expanded") != "true" or None, 5, "closed"
            )
        except (WebDriverException, IndexError):
            continue  # re-rendered under us: the next look at the page judges it again
    return "\n".join(seen)


def settled(browser, what: str, timeout: float = 60.0) -> dict:
    """The page's collected text once it has stopped changing (three looks, 0.5 s apart,
    the last with no callback running)."""
    from selenium.common.exceptions import WebDriverException

    last: list = []

    def look() -> dict | None:
        try:
            seen = browser.execute_script(COLLECT)
        except WebDriverException:
            return None
        key = orjson.dumps({k: seen[k] for k in ("text", "svg", "hover", "titles")})
        last.append(key)
        # A page that asks the simulator (and waits for its answer) is busy part of the time.
        if len(last) >= 3 and len(set(last[-3:])) == 1 and not seen["busy"]:
            return seen
        time.sleep(0.5)
        return None

    return wait_for(look, timeout, f"{what} to settle")


def check_page(browser, english, what: str) -> tuple[dict, list[str]]:
    """Violations on the settled page: no Dash callback queued or running and the text the
    same in three looks, so a label caught between two renders is not judged. A page with
    violations is judged again after its next refresh (at least three more callbacks have
    completed: a count, not a time window), so a render not yet reached by the page's
    interval refresh is not one either; a real violation is there both times."""
    seen = settled(browser, what)
    bad = violations(seen, english)
    if bad:
        done = seen["completed"]
        # A page that never refreshes is judged as it stands.
        with contextlib.suppress(AssertionError):
            wait_for(
                lambda: browser.execute_script(COLLECT)["completed"] >= done + 3 or None,
                120,
                f"{what}'s next refresh",
            )
        seen = settled(browser, what)
        bad = violations(seen, english)
    return seen, bad


def test_every_page_in_vietnamese_has_no_english_no_snake_case_and_vietnamese_numbers(
    vietnamese_site, vi_browser
):
    from selenium.webdriver.common.by import By

    from dashboard import ids

    url, broker, cfg, tmp = vietnamese_site
    paths = page_paths(tmp)
    assert "/" in paths and "/simulation" in paths, paths
    english = english_patterns()
    replies = real_replies(cfg)
    report: dict[str, list[str]] = {}
    client = make_client(parse_broker_url(broker.url), "vi-test-replies")
    client.connect(broker.host, broker.port)
    client.loop_start()
    picked: list[str] = []
    for path in paths:
        vi_browser.get(url + path.lstrip("/") + "?lang=vi")
        wait_for(lambda: vi_browser.find_elements(By.ID, ids.LANG) or None, 30, f"{path}'s header")
        to_vietnamese(vi_browser)
        if path == "/simulation":
            # The simulator's replies arrive on the broker the dashboard listens to.
            def shown() -> bool | None:
                for topic, payload in replies:
                    client.publish(topic, payload, qos=1).wait_for_publish(5)
                items = vi_browser.find_elements(By.CSS_SELECTOR, f"#{ids.SIM_REPLIES} li")
                return len(items) >= len(replies) or None

            wait_for(shown, 30, "the simulator's replies on the page")
            # A command no simulator answers: the page's own message, in Vietnamese.
            vi_browser.find_element(By.ID, ids.SIM_BREAKDOWN_GO).click()
            wait_for(
                lambda: vi_browser.find_element(By.ID, ids.SIM_RESULT).text or None,
                30,
                "the command's outcome",
            )
        # The default range (the current shift: at the pinned Tuesday 00:00 the plant is off,
        # so the pages say so and name the next shift), then the simulated day.
        for label in (None, LABELS["range.last_24h"]["vi"]):
            if label is not None:
                if not pick_range(vi_browser, label):
                    continue
                picked.append(path)
            what = f"{path} ({label or 'default range'})"
            seen, bad = check_page(vi_browser, english, what)
            if label is None:
                opened = {
                    "text": dropdown_options(vi_browser),
                    "svg": [],
                    "hover": [],
                    "titles": [],
                }
                bad += [f"dropdown options: {v}" for v in violations(opened, english)]
            assert re.search(VIETNAMESE, seen["text"]), (
                f"{what} is not in Vietnamese: {seen['text'][:300]!r}"
            )
            if bad:
                report[what] = bad
                vi_browser.save_screenshot(
                    str(tmp / f"vi{path.replace('/', '_')}{'_24h' if label else ''}.png")
                )
    assert "/" in picked and "/machine" in picked, picked
    client.disconnect()
    client.loop_stop()
    # The checks can fail: the same page in English breaks every one of them.
    vi_browser.get(url)
    english_seen = settled(vi_browser, "the English overview")
    caught = "\n".join(violations(english_seen, english))
    assert "English 'oee'" not in caught and "English 'availability'" in caught, caught
    assert "English number" in caught, caught
    assert "snake_case" not in caught, caught  # no language shows snake_case
    assert LABELS["range.last_hour"]["en"] in dropdown_options(vi_browser)  # options are read
    assert not report, "\n".join(f"{p}:\n  " + "\n  ".join(v) for p, v in report.items())
