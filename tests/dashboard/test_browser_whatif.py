"""The What-if page in a real headless Chromium (issue 11), against the real `shopfloor whatif`.

A tiny experiment (the golden plant, one simulated day, three replications) launched from the
page draws exactly the numbers the CLI writes for the same scenario file and seeds (a run is
fixed by its config and seed, so the comparison is exact); a bad value shows its key-path
error and runs nothing; a size over the page's bounds names its field; and "Apply to the
live plant" sends the scenario to a running simulator (real broker, `shopfloor sim` on a
pinned ticking clock), whose reply says the parameter changed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from shopfloor.broker import free_port
from shopfloor.store.sqlite import SqliteStore
from tests.dashboard.test_browser import CHROMEDRIVER, CHROMIUM, _answers, chromium, text_of
from tests.support import GOLDEN, MONDAY_1100, cli, pinned_env, run_cli, running_broker, wait_for

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs chromium and chromium-driver (apt; .ci/run installs them)",
)

SCENARIO = {"scenarios": [{"name": "faster repair", "set": {"stations.cnc-01.mttr_min": 5}}]}


def _dash(tmp: Path, env: dict[str, str], *extra: str) -> tuple[subprocess.Popen, str]:
    db = tmp / "s.db"
    SqliteStore(db).close()  # an empty store: the page needs the config, not data
    port = free_port()
    proc = subprocess.Popen(
        cli("dash", "--store", f"sqlite:///{db}", "--config", str(GOLDEN), "--port", str(port),
            "--no-auth", *extra),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    wait_for(lambda: _answers(url), 60, "the dashboard answers")
    return proc, url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    yield from chromium(tmp_path_factory, "1400,1600")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("whatif-page")
    proc, url = _dash(tmp, pinned_env(MONDAY_1100))
    yield url
    proc.send_signal(signal.SIGINT)
    proc.wait(20)


@pytest.fixture(scope="module")
def cli_result(tmp_path_factory):
    """What the CLI writes for the page's scenario: the same file, config and seeds."""
    tmp = tmp_path_factory.mktemp("whatif-cli")
    (tmp / "sc.yaml").write_text(json.dumps(SCENARIO))  # JSON is YAML
    r = run_cli("whatif", "--config", str(GOLDEN), "--scenarios", str(tmp / "sc.yaml"),
                "--duration", "1d", "--warmup", "0", "--replications", "3", "--workers", "1",
                "--no-progress", "--json", str(tmp / "out.json"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    return json.loads((tmp / "out.json").read_text())


def _type(box, value: str) -> None:
    """Replace an input's text as a user does (WebElement.clear() sends no input event, so
    React's controlled input would keep its old value)."""
    from selenium.webdriver.common.keys import Keys

    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    box.send_keys(value)


def _fill(browser, by_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By

    _type(browser.find_element(By.ID, by_id), value)


def _row_value(browser, row: int, value: str) -> None:
    from selenium.webdriver.common.by import By

    _type(browser.find_elements(By.CSS_SELECTOR, ".whatif-value input")[row], value)


def _size(browser, duration: str, warmup: str, reps: str) -> None:
    _fill(browser, "whatif-duration", duration)
    _fill(browser, "whatif-warmup", warmup)
    _fill(browser, "whatif-reps", reps)


def _figure(browser, graph_id: str) -> list[dict] | None:
    """The Plotly traces a dcc.Graph holds, as the browser drew them."""
    return browser.execute_script(
        "const g = document.querySelector(`#${arguments[0]} .js-plotly-plot`);"
        "return g && g.data ? g.data.map(t => ({x: t.x, y: t.y, err_y: t.error_y, err_x: t.error_x,"
        " text: t.text, color: t.marker && t.marker.color})) : null;",
        graph_id,
    )


def _wait_page(browser, url: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(url + "whatif")
    wait_for(lambda: browser.find_elements(By.ID, "whatif-launch") or None, 30, "the What-if page")
    wait_for(lambda: "Base: the running plant" in (text_of(browser, By.ID, "whatif-base") or "")
             or None, 30, "the base note")  # fmt: skip


def test_an_experiment_from_the_page_draws_what_the_cli_computes(
    served, cli_result, browser, tmp_path
):
    from selenium.webdriver.common.by import By

    _wait_page(browser, served)
    # Row 1 starts on the first station (cnc-01) and the repair time.
    _fill(browser, "whatif-name", "faster repair")
    _row_value(browser, 0, "5")
    _size(browser, "1d", "0", "3")
    browser.find_element(By.ID, "whatif-launch").click()
    wait_for(lambda: "Experiment started: 6 runs." in (text_of(browser, By.ID, "whatif-message") or "")
             or None, 20, "the launch")  # fmt: skip
    bars = wait_for(lambda: _figure(browser, "whatif-bars"), 120, "the comparison")
    assert "Done: 6 runs." in text_of(browser, By.ID, "whatif-status")
    scenarios = cli_result["scenarios"]
    assert [s["name"] for s in scenarios] == ["baseline", "faster repair"]
    tp = [s["plant"]["figures"]["throughput_per_h"] for s in scenarios]
    (trace,) = bars
    assert trace["x"] == ["Baseline (as configured)", "faster repair"]
    assert trace["y"] == [f["mean"] for f in tp]  # exact: same config, scenario and seeds
    assert trace["err_y"]["array"] == [f["ci_high"] - f["mean"] for f in tp]
    assert trace["err_y"]["arrayminus"] == [f["mean"] - f["ci_low"] for f in tp]
    (diff,) = wait_for(lambda: _figure(browser, "whatif-diffs"), 20, "the paired differences")
    d = scenarios[1]["vs_baseline"]["plant"]["figures"]["throughput_per_h"]
    assert diff["y"] == ["faster repair"]
    assert diff["x"] == [d["mean"]]
    assert diff["err_x"]["array"] == [d["ci_high"] - d["mean"]]
    assert diff["text"][0].endswith(" *") == d["significant"]
    # OEE is drawn in percent, from the same runs.
    browser.find_element(By.XPATH, "//label[contains(., 'OEE')]").click()

    def oee_drawn() -> list | None:
        fig = _figure(browser, "whatif-bars")
        return fig[0]["y"] if fig and fig[0]["y"] != trace["y"] else None  # redrawn

    oee = wait_for(oee_drawn, 20, "the OEE bars")
    assert oee == pytest.approx(
        [s["plant"]["figures"]["oee"]["mean"] * 100 for s in scenarios], rel=1e-12
    )
    browser.save_screenshot(str(tmp_path / "whatif.png"))
    # Both languages: the same figure's title, and the page's labels.
    browser.find_element(By.XPATH, "//label[contains(., 'Tiếng Việt')]").click()
    wait_for(
        lambda: "OEE của nhà máy theo kịch bản" in browser.page_source or None,
        20,
        "Vietnamese figure",
    )
    wait_for(lambda: "Chạy thử nghiệm" in browser.page_source or None, 20, "Vietnamese labels")
    # The results too, by the Vietnamese test's rules: no English text of the catalogue, no
    # snake_case, numbers written the Vietnamese way (charts, hover texts, toolbar included).
    from tests.dashboard.test_vietnamese import COLLECT, english_patterns, violations

    english = english_patterns()

    def settled_vietnamese() -> list[str] | None:
        seen = browser.execute_script(COLLECT)
        if seen["busy"] or "Cơ sở (như cấu hình)" not in " ".join(seen["svg"]):
            return None
        return violations(seen, english) or ["none"]

    assert wait_for(settled_vietnamese, 20, "the Vietnamese results") == ["none"]
    browser.find_element(By.XPATH, "//label[contains(., 'English')]").click()
    wait_for(lambda: "Launch" in browser.page_source or None, 20, "English again")


def test_a_bad_value_shows_its_key_path_error_and_sizes_are_bounded(served, browser):
    from selenium.webdriver.common.by import By

    _wait_page(browser, served)
    _row_value(browser, 0, "-5")
    _size(browser, "1d", "0", "2")
    browser.find_element(By.ID, "whatif-launch").click()
    errors = wait_for(lambda: text_of(browser, By.ID, "whatif-errors"), 20, "the key-path error")
    assert "scenarios[0]: lines[0].stations[0].mttr_min: must be > 0, got -5" in errors, errors
    assert "1 error(s)" in text_of(browser, By.ID, "whatif-message")
    # Not a number, and a size the page refuses: each names its field.
    _row_value(browser, 0, "abc")
    browser.find_element(By.ID, "whatif-launch").click()
    wait_for(lambda: "Row 1: 'abc' is not a number" in (text_of(browser, By.ID, "whatif-message") or "")
             or None, 20, "the row's error")  # fmt: skip
    _row_value(browser, 0, "5")
    _size(browser, "200d", "0", "2")
    browser.find_element(By.ID, "whatif-launch").click()
    wait_for(lambda: "Duration: must be more than 0 and at most 90 days."
             in (text_of(browser, By.ID, "whatif-message") or "") or None, 20, "the bound")  # fmt: skip
    _size(browser, "1d", "0", "31")
    browser.find_element(By.ID, "whatif-launch").click()
    wait_for(lambda: "Replications: a whole number from 2 to 30."
             in (text_of(browser, By.ID, "whatif-message") or "") or None, 20, "the bound")  # fmt: skip


def _experiment_pid() -> int | None:
    """The running `shopfloor whatif` the page started (it leads its own process group)."""
    for d in Path("/proc").iterdir():
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
            leads = d.name.isdigit() and os.getpgid(int(d.name)) == int(d.name)
        except OSError:
            continue  # ended meanwhile
        if leads and b"whatif" in argv and b"--progress-jsonl" in argv:
            return int(d.name)
    return None


def _pending(pid: int, sig: int) -> bool:
    """Whether `sig` waits, undelivered, on the (stopped) process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("ShdPnd:"):
            return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    return False


def test_which_machine_first_bounds_stops_and_draws_the_cli_ranking(served, browser, tmp_path):
    from selenium.webdriver.common.by import By

    from shopfloor.config import load_config
    from shopfloor.config.overrides import sensitivity

    n = len(sensitivity(load_config(GOLDEN), 10))  # the baseline and each parameter's two moves
    _wait_page(browser, served)

    def message() -> str:
        return text_of(browser, By.ID, "whatif-message") or ""

    # Too much altogether: refused with the total, nothing started.
    _size(browser, "30d", "0", "10")
    browser.find_element(By.ID, "whatif-sensitivity").click()
    days = f"{n * 10 * 30:,}"
    wait_for(lambda: f"would simulate {days} days in all (at most 2,000)" in message() or None,
             20, "the total's bound")  # fmt: skip
    # Within the bounds but long: it runs, shows its progress, and Stop ends it.
    _size(browser, "7d", "0", "10")
    browser.find_element(By.ID, "whatif-sensitivity").click()
    wait_for(lambda: f"Experiment started: {n * 10:,} runs." in message() or None, 20, "the launch")
    wait_for(lambda: f"of {n * 10:,} runs done" in (text_of(browser, By.ID, "whatif-status") or "")
             or None, 60, "the progress")  # fmt: skip
    # Held still (SIGSTOP to its process group) so it cannot end before Stop, however fast
    # the machine: the Stop's SIGTERM waits as a pending signal and is served at SIGCONT.
    cli_pid = wait_for(_experiment_pid, 20, "the experiment's process")
    os.killpg(cli_pid, signal.SIGSTOP)
    try:
        browser.find_element(By.ID, "whatif-launch").click()  # a second one is refused
        wait_for(lambda: "already running" in message() or None, 20, "the refusal")
        browser.find_element(By.ID, "whatif-stop").click()
        wait_for(lambda: _pending(cli_pid, signal.SIGTERM), 20, "the Stop's SIGTERM")
    finally:
        os.killpg(cli_pid, signal.SIGCONT)
    wait_for(lambda: "The experiment was stopped." in (text_of(browser, By.ID, "whatif-status") or "")
             or None, 30, "the stop")  # fmt: skip
    # A short one to the end (a day: the plant works 06:00-14:00): the tornado is the CLI's
    # ranking, largest swing on top.
    _size(browser, "1d", "0", "2")
    browser.find_element(By.ID, "whatif-sensitivity").click()
    low, high = wait_for(lambda: _figure(browser, "whatif-tornado"), 120, "the tornado")
    r = run_cli("whatif", "--config", str(GOLDEN), "--sensitivity", "--duration", "1d", "--warmup",
                "0", "--replications", "2", "--workers", "1", "--no-progress", "--json",
                str(tmp_path / "sens.json"), timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    ranking = json.loads((tmp_path / "sens.json").read_text())["sensitivity"]["ranking"]
    ranking.sort(key=lambda row: row["rank_throughput"])
    assert len(low["y"]) == min(15, len(ranking))
    assert [y.split(" · ")[0] for y in low["y"]] == [row["station"] for row in ranking][:15]
    for trace, side in ((low, "low"), (high, "high")):
        assert (
            trace["x"]
            == [(row["throughput_per_h"][side] or {}).get("mean") for row in ranking][:15]
        )
    browser.save_screenshot(str(tmp_path / "tornado.png"))


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A broker, a live simulator of the golden plant and the dashboard with --broker, on one
    clock ticking from inside Monday's shift."""
    tmp = tmp_path_factory.mktemp("whatif-live")
    env = pinned_env(MONDAY_1100)
    with running_broker() as broker:
        sim = subprocess.Popen(cli("sim", "--config", str(GOLDEN), "--speed", "1", "--broker", broker.url),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # fmt: skip
        proc, url = _dash(tmp, env, "--broker", broker.url)
        try:
            yield url
        finally:
            for p in (proc, sim):
                p.send_signal(signal.SIGINT)
            for p in (proc, sim):
                p.wait(20)


def test_apply_to_the_live_plant_sets_what_the_scenario_changed(live, browser, tmp_path):
    from selenium.webdriver.common.by import By

    _wait_page(browser, live)
    # A scenario file this time: a live parameter and one only a restart can change.
    scenario = tmp_path / "live.yaml"
    scenario.write_text(
        "scenarios:\n  - name: quick crew\n    set:\n      stations.cnc-01.mttr_min: 4\n"
        "      stations.cnc-01.buffer: 6\n"
    )
    browser.find_element(By.CSS_SELECTOR, "#whatif-upload input[type=file]").send_keys(
        str(scenario)
    )
    wait_for(lambda: "live.yaml: 1 scenario(s), all valid." in (text_of(browser, By.ID, "whatif-file-note") or "")
             or None, 20, "the file checked")  # fmt: skip
    _size(browser, "1d", "0", "2")
    browser.find_element(By.ID, "whatif-launch").click()
    wait_for(lambda: _figure(browser, "whatif-bars"), 120, "the comparison")
    wait_for(
        lambda: browser.find_element(By.ID, "whatif-apply-go").is_displayed() or None,
        20,
        "the apply button",
    )
    go = browser.find_element(By.ID, "whatif-apply-go")
    browser.execute_script("arguments[0].click()", go)  # below the fold of the headless window
    result = wait_for(
        lambda: text_of(browser, By.ID, "whatif-apply-result"), 20, "the simulator's reply"
    )
    # The simulator's own reply: cnc-01 took the new repair time; the buffer needs a restart.
    assert "cnc-01: set Mean time to repair" in result and "= 4" in result, result
    assert "Needs a restart with the edited config: cnc-01 · Buffer after (places)" in result, (
        result
    )
