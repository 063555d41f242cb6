"""The What-if page refuses sweeps past its bound by their count, before making any
(found by the cold review of issue 11: a file or four editor rows of long `;` lists made
every combination in the request thread before the bound was checked)."""

from __future__ import annotations

import base64
import json
import sys

import yaml

from dashboard import ids
from dashboard.app import create_app
from dashboard.context import context
from dashboard.whatif_jobs import MAX_SCENARIOS, jobs
from shopfloor.config import load_config
from shopfloor.config.load import _Loader
from shopfloor.config.overrides import sensitivity_count
from shopfloor.store.sqlite import SqliteStore
from tests.support import PLANT, ROOT, run_cli

SWEEP = list(range(1, 101))


def test_a_sweep_past_the_bound_is_counted_and_refused(tmp_path):
    cfg = load_config(PLANT)
    create_app(SqliteStore(tmp_path / "s.db"), cfg)
    page = sys.modules[
        "pages.whatif"
    ]  # as Dash loaded it: importing dashboard.pages.whatif registers the page twice  # registers itself in a Dash app

    # 100 x 100 x 100 = a million scenarios: counted, not made.
    data = {
        "scenarios": [
            {
                "set": {
                    "stations.cnc-01.mttr_min": SWEEP,
                    "stations.cnc-02.mttr_min": SWEEP,
                    "stations.imm-01.mttr_min": SWEEP,
                }
            }
        ]
    }
    assert page.key_path_errors(cfg, data, "f.yaml") == (100**3 + 1, [])
    text = yaml.safe_dump(data)
    contents = "data:application/x-yaml;base64," + base64.b64encode(text.encode()).decode()
    stored, note, errors, source = page.upload(contents, "f.yaml", "en")
    assert stored["text"] == text and errors == "" and source == "file"
    assert "1,000,001" in note and f"{MAX_SCENARIOS:,}" in note
    before = jobs().status()
    message, errors = page.launch(context(), ids.WHATIF_LAUNCH, "file", None, [], [], [],
                                  stored, "1d", "0", 2, "en")  # fmt: skip
    assert "1,000,001" in message and errors == ""
    assert jobs().status() == before  # nothing started
    # The editor's rows too: four rows of 100 values are 10^8 scenarios.
    message, _ = page.launch(
        context(), ids.WHATIF_LAUNCH, "editor", None,
        ["cnc-01", "cnc-02", "imm-01", "trim-01"], ["mttr_min"] * 4,
        [";".join(map(str, SWEEP))] * 4, None, "1d", "0", 2, "en",
    )  # fmt: skip
    assert "100,000,001" in message
    assert jobs().status() == before


def test_an_uploaded_file_over_the_bound_is_refused_unread(tmp_path):
    cfg = load_config(PLANT)
    create_app(SqliteStore(tmp_path / "s.db"), cfg)
    page = sys.modules[
        "pages.whatif"
    ]  # as Dash loaded it: importing dashboard.pages.whatif registers the page twice

    # Valid YAML a comment long, a byte over the bound: before, every byte of a file of any
    # size was decoded and parsed in the request thread, and echoed back into the page.
    body = "scenarios:\n  - set: {stations.cnc-01.mttr_min: 5}\n"
    text = body + "#" * (page.MAX_UPLOAD_BYTES - len(body)) + "\n"
    contents = "data:application/x-yaml;base64," + base64.b64encode(text.encode()).decode()
    stored, note, errors, source = page.upload(contents, "big.yaml", "en")
    assert stored is None and errors == "" and source == "file"
    assert note == "big.yaml: larger than 1,024 kB, too large for a scenario file."
    stored, note, _, _ = page.upload(contents, "big.yaml", "vi")
    assert note == "big.yaml: lớn hơn 1.024 kB, quá lớn đối với một tệp kịch bản."
    # At the bound it is read and checked as any file.
    text = text[:-2] + "\n"
    contents = "data:application/x-yaml;base64," + base64.b64encode(text.encode()).decode()
    stored, note, errors, _ = page.upload(contents, "big.yaml", "en")
    assert stored["text"] == text and errors == ""
    assert note == "big.yaml: 1 scenario(s), all valid."


def test_an_uploaded_file_is_read_as_the_cli_reads_it(tmp_path):
    cfg = load_config(PLANT)
    create_app(SqliteStore(tmp_path / "s.db"), cfg)
    page = sys.modules[
        "pages.whatif"
    ]  # as Dash loaded it: importing dashboard.pages.whatif registers the page twice

    # Unquoted times, as a config file may have them (YAML 1.2: strings; safe_load's YAML 1.1
    # made 810 of 13:30 and refused the file the CLI runs).
    text = "scenarios:\n  - name: shorter A\n    set:\n      shifts.A.end: 13:30\n"
    path = tmp_path / "sc.yaml"
    path.write_text(text)
    r = run_cli("whatif", "--config", str(PLANT), "--scenarios", str(path), "--duration", "1h",
                "--warmup", "0", "--replications", "2", "--workers", "1", "--no-progress",
                "--json", str(tmp_path / "out.json"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["scenarios"][1]["overrides"][0]["value"] == "13:30"
    contents = "data:application/x-yaml;base64," + base64.b64encode(text.encode()).decode()
    stored, note, errors, _ = page.upload(contents, "sc.yaml", "en")
    assert (note, errors) == ("sc.yaml: 1 scenario(s), all valid.", "")
    # What the page hands the CLI keeps the time a string.
    data, _ = page.file_scenarios(stored["text"])
    assert yaml.load(yaml.safe_dump(data), Loader=_Loader) == data
    assert data["scenarios"][0]["set"]["shifts.A.end"] == "13:30"


def test_which_machine_first_on_a_large_plant_is_refused_by_its_count(tmp_path):
    cfg = load_config(ROOT / "config" / "large.yaml")
    create_app(SqliteStore(tmp_path / "s.db"), cfg)
    page = sys.modules[
        "pages.whatif"
    ]  # as Dash loaded it: importing dashboard.pages.whatif registers the page twice

    before = jobs().status()
    message, _ = page.launch(context(), ids.WHATIF_SENSITIVITY, "editor", None, [], [], [],
                             None, "1d", "0", 2, "en")  # fmt: skip
    n = sensitivity_count(cfg, page.SENSITIVITY_PCT)
    assert n > MAX_SCENARIOS
    assert f"{n:,}" in message and f"{MAX_SCENARIOS:,}" in message
    assert jobs().status() == before


def test_apply_takes_a_pick_of_the_experiment_shown_only(tmp_path):
    # Every page shows the newest experiment: a pick made on an older one (another user
    # launched since) must not send the same index of the new one to the live plant.
    from dashboard.commands import CommandClient
    from shopfloor.mqtt_url import parse_broker_url
    from tests.support import GOLDEN, running_broker

    cfg = load_config(GOLDEN)
    scenarios = "scenarios:\n  - set: {stations.press-01.mttr_min: 5}\n"
    with running_broker() as broker:
        commands = CommandClient(parse_broker_url(broker.url), "acme", "review")
        try:
            create_app(SqliteStore(tmp_path / "s.db"), cfg, commands=commands)
            page = sys.modules[
                "pages.whatif"
            ]  # as Dash loaded it: importing dashboard.pages.whatif registers the page twice

            jobs().start(GOLDEN.read_text(), scenarios_yaml=scenarios, duration_s=3600,
                         warmup_s=0, replications=2)  # fmt: skip
            job = jobs().wait(120)
            assert job is not None and job.state == "done", job
            out = page.poll(1, "throughput_per_h", "en", None)
            options, pick = out[5], out[6]
            assert [o["value"] for o in options] == [f"{job.id}:1"] and pick == f"{job.id}:1"
            for stale in ("0123456789ab:1", "1", 1, None):
                assert page.apply_live(1, stale, "en") == "Pick a scenario to apply."
        finally:
            commands.close()
