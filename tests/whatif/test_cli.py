"""`shopfloor whatif` as a user meets it: tables, files, errors, determinism, failures, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from shopfloor.cli import main as cli_main
from simulator.whatif import engine, experiment
from tests.support import ROOT, cli, complete_lines, wait_for

PLANT = """\
plant: {enterprise: e, site: s}
seed: 5
energy:
  co2e_kg_per_kwh: 0.66
  tariff: {price_per_kwh: {normal: 2000}, default_period: normal}
lines:
  - id: l1
    area: a
    stations:
      - {id: a, ideal_cycle_s: 30, cycle_s: {mean: 32, cv: 0.2}, mtbf_min: 300, mttr_min: 10, buffer: 4, power_kw: {idle: 1, running: 5}}
      - {id: b, ideal_cycle_s: 50, cycle_s: {mean: 60, cv: 0.2}, mtbf_min: 300, mttr_min: 10, buffer: 4, power_kw: {idle: 1, running: 8}}
      - {id: c, ideal_cycle_s: 30, cycle_s: {mean: 32, cv: 0.2}, power_kw: {idle: 1, running: 5}}
"""
SCENARIOS = """\
scenarios:
  - name: faster repairs
    set: {stations.b.mttr_min: [5, 2]}
  - set: {stations.a.buffer: 8}
"""
SHORT = ["--duration", "12h", "--warmup", "1h", "--replications", "3"]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "plant.yaml").write_text(PLANT)
    (tmp_path / "whatif.yaml").write_text(SCENARIOS)
    return tmp_path / "plant.yaml", tmp_path / "whatif.yaml"


def sf(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cli(*args), capture_output=True, text=True, timeout=timeout)


def test_same_command_same_bytes_whatever_the_workers(files, tmp_path):
    plant, scenarios = files
    outs = {}
    for workers in ("1", "2"):
        j, c = tmp_path / f"w{workers}.json", tmp_path / f"w{workers}.csv"
        proc = sf("whatif", "--config", str(plant), "--scenarios", str(scenarios), *SHORT,
                  "--workers", workers, "--json", str(j), "--csv", str(c), "--no-progress")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        outs[workers] = (j.read_bytes(), c.read_bytes(), proc.stdout)
    assert outs["1"] == outs["2"]
    doc = json.loads(outs["1"][0])
    assert doc["schema"] == "shopfloor-whatif/1"
    names = [sc["name"] for sc in doc["scenarios"]]
    assert names == [
        "baseline",
        "faster repairs (b.mttr_min=5)",
        "faster repairs (b.mttr_min=2)",
        "a.buffer=8",
    ]
    assert doc["scenarios"][1]["live"] == {
        "all_live": True,
        "set": [{"line": "l1", "area": "a", "station": "b", "parameter": "mttr_min", "value": 5.0}],
        "not_live": [],
    }
    assert doc["scenarios"][3]["live"]["not_live"] == ["lines[0].stations[0].buffer"]
    fig = doc["scenarios"][0]["plant"]["figures"]
    assert set(fig) >= {
        "throughput_per_h",
        "good_per_shift",
        "oee",
        "kwh_per_good",
        "cost_per_good",
        "co2e_kg_per_good",
    }
    assert (
        fig["throughput_per_h"]["ci_low"]
        < fig["throughput_per_h"]["mean"]
        < fig["throughput_per_h"]["ci_high"]
    )
    assert doc["scenarios"][0]["lines"]["l1"]["bottleneck"]["station"] == "b"
    table = outs["1"][2]
    assert (
        "baseline" in table
        and "faster repairs (b.mttr_min=2)" in table
        and "Δ vs baseline" in table
    )
    header = outs["1"][1].decode().splitlines()[0]
    assert header.startswith("scenario,level,id,metric,unit,mean,ci_low,ci_high,n,diff_mean")


def test_a_bad_scenario_is_named_by_its_key_path_before_anything_runs(files, tmp_path):
    plant, _ = files
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "scenarios:\n  - set: {stations.b.mttr_min: -1}\n  - set: {lines.l9.stations.b.buffer: 2}\n"
    )
    proc = sf(
        "whatif",
        "--config",
        str(plant),
        "--scenarios",
        str(bad),
        *SHORT,
        "--json",
        str(tmp_path / "o.json"),
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "2 errors" in proc.stderr
    assert "scenarios[0]: lines[0].stations[1].mttr_min: must be > 0, got -1" in proc.stderr
    assert (
        "scenarios[1].set.lines.l9.stations.b.buffer: lines: no item 'l9' (lines: l1)"
        in proc.stderr
    )
    assert "runs of" not in proc.stderr  # nothing started
    assert not (tmp_path / "o.json").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--replications", "1"], "--replications: must be >= 2"),
        (["--duration", "soon"], "--duration: 'soon' is not a duration"),
        (["--start", "tomorrow"], "--start: 'tomorrow' is not an ISO 8601 time"),
        (["--json", "-", "--csv", "-"], "cannot both write to standard output"),
        (["--sensitivity", "150"], "--sensitivity: must be between 0 and 100"),
        (
            ["--json", "/no/such/folder/out.json"],
            "--json: cannot write /no/such/folder/out.json: no folder",
        ),
    ],
)
def test_user_errors_are_one_clear_line(files, args, needle):
    plant, scenarios = files
    what = [] if "--sensitivity" in args else ["--scenarios", str(scenarios)]
    proc = sf("whatif", "--config", str(plant), *what, *args)
    assert proc.returncode == 1, proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_sensitivity_ranks_the_bottleneck_cycle_first(files, tmp_path):
    plant, _ = files
    out = tmp_path / "s.json"
    proc = sf("whatif", "--config", str(plant), "--sensitivity", "20", "--duration", "1d", "--warmup", "1h",
              "--replications", "2", "--json", str(out), "--no-progress")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["kind"] == "sensitivity"
    ranking = doc["sensitivity"]["ranking"]
    # a and b: mtbf, mttr, cycle, buffer; c (last, never fails): cycle only.
    assert len(ranking) == 9
    top = ranking[0]
    assert (top["station"], top["parameter"], top["rank_throughput"]) == ("b", "cycle_s.mean", 1)
    # The bottleneck's rate decides: 60 s -> 50 s (20 % down would pass the ideal cycle, the
    # floor) and 72 s, i.e. +20 % and -17 % throughput.
    assert (top["low"]["value"], top["high"]["value"]) == (50, 72)
    base = doc["scenarios"][0]["plant"]["figures"]["throughput_per_h"]["mean"]
    effect = top["throughput_per_h"]
    assert effect["low"]["mean"] / base == pytest.approx(60 / 50 - 1, abs=0.03)
    assert effect["high"]["mean"] / base == pytest.approx(60 / 72 - 1, abs=0.03)
    assert "Sensitivity" in proc.stdout
    assert sorted(r["rank_kwh_per_good"] for r in ranking) == list(range(1, 10))


def _fail_one(cfg, spec):
    if (spec.scenario, spec.replication) == (1, 1):
        raise RuntimeError("the model broke")
    return engine.simulate(cfg, spec)


def test_a_failing_run_is_named_with_its_scenario_and_seed_and_the_others_go_on(
    files, tmp_path, monkeypatch, capsys
):
    # A runner that fails once in the engine's place (workers 1: this process).
    monkeypatch.setattr(experiment, "simulate", _fail_one)
    plant, scenarios = files
    out = tmp_path / "f.json"
    code = cli_main.main(["whatif", "--config", str(plant), "--scenarios", str(scenarios), *SHORT,
                          "--workers", "1", "--json", str(out), "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 70
    assert (
        "run failed: scenario 'faster repairs (b.mttr_min=5)', replication 1, seed 6: RuntimeError: the model broke"
        in err
    )
    doc = json.loads(out.read_text())
    assert doc["failures"] == [
        {
            "scenario": "faster repairs (b.mttr_min=5)",
            "replication": 1,
            "seed": 6,
            "error": doc["failures"][0]["error"],
        }
    ]
    assert doc["failures"][0]["error"].startswith("RuntimeError: the model broke")
    assert doc["scenarios"][1]["runs"] == {"ok": 2, "failed": 1}
    assert doc["scenarios"][1]["plant"]["figures"]["throughput_per_h"]["values"][1] is None
    assert doc["scenarios"][1]["vs_baseline"]["plant"]["figures"]["throughput_per_h"]["n"] == 2
    assert all(sc["runs"]["failed"] == 0 for i, sc in enumerate(doc["scenarios"]) if i != 1)


def test_a_failing_run_in_a_worker_process_is_reported_too(files):
    from shopfloor.config import load_config
    from shopfloor.config.overrides import load_scenarios

    plant, scenarios = files
    cfg = load_config(plant)
    exp = experiment.Experiment(
        load_scenarios(scenarios, cfg), 3, 1_795_366_800_000, 0.0, 6 * 3600, 5
    )
    outcomes = experiment.run_all(exp, 2, runner=_fail_one)
    assert [(o.spec.scenario, o.spec.replication) for o in outcomes] == [
        (s, r) for s in range(4) for r in range(3)
    ]
    failed = [o for o in outcomes if o.error is not None]
    assert [(o.spec.scenario, o.spec.replication, o.spec.seed) for o in failed] == [(1, 1, 6)]
    assert failed[0].error.startswith("RuntimeError: the model broke")
    assert all(o.figures is not None for o in outcomes if o.error is None)


def _children(pid: int) -> set[int]:
    out = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        out.update(int(p) for p in task.read_text().split())
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("group", [False, True], ids=["to-the-command", "to-its-process-group"])
def test_ctrl_c_stops_cleanly(files, tmp_path, group):
    plant, scenarios = files
    out = tmp_path / "never.json"
    proc = subprocess.Popen(
        cli("whatif", "--config", str(plant), "--scenarios", str(scenarios), "--duration", "3650d",
            "--replications", "4", "--workers", "2", "--json", str(out)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        # Both workers running a (ten-year) run: the moment a stop has the most to stop.
        wait_for(lambda: len(_children(proc.pid)) >= 2, timeout=60)
        workers = _children(proc.pid)
        if group:
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        else:
            os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "stopped after 0 of 16 runs; nothing written" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert not out.exists()
    # The workers are gone, none left running the model.
    wait_for(lambda: not any(_alive(p) for p in workers), timeout=10, what="the workers to end")


def test_telemetry_is_written_only_when_asked(files, tmp_path):
    plant, scenarios = files
    folder = tmp_path / "telemetry"
    out = {}
    for extra in ([], ["--telemetry", str(folder)]):
        j = tmp_path / f"t{len(extra)}.json"
        proc = sf("whatif", "--config", str(plant), "--scenarios", str(scenarios), "--duration", "6h",
                  "--warmup", "0", "--replications", "2", "--workers", "1", "--json", str(j),
                  "--no-progress", *extra)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        out[len(extra)] = j.read_bytes()
    assert out[0] == out[2]  # the same figures, telemetry or not
    files_written = sorted(p.name for p in folder.iterdir())
    assert files_written == [
        f"scenario-{s:03d}-rep-{r:03d}.jsonl" for s in range(4) for r in range(2)
    ]
    first = json.loads((folder / files_written[0]).read_bytes().splitlines()[0])
    assert first["topic"].endswith("/status") and first["payload"]["online"] is True


def test_config_init_gives_scenarios_that_run_as_they_are(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.run(
            cli(*args), capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
        )

    init = run("config", "init")
    assert init.returncode == 0, init.stderr
    assert "shopfloor whatif --config plant.yaml --scenarios whatif.yaml" in init.stdout
    proc = run("whatif", "--config", "plant.yaml", "--scenarios", "whatif.yaml", "--start", "2024-01-01T06:00",
               "--duration", "4h", "--warmup", "0", "--replications", "2", "--no-progress")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "cnc-01 buffer (cnc-01.buffer=64)" in proc.stdout


def test_ctrl_c_after_some_runs_says_how_many_finished(files, tmp_path):
    plant, scenarios = files
    progress = tmp_path / "progress.jsonl"

    def done() -> int:
        lines = complete_lines(progress)
        return json.loads(lines[-1])["done"] if lines else 0

    proc = subprocess.Popen(
        cli("whatif", "--config", str(plant), "--scenarios", str(scenarios), "--duration", "120d",
            "--replications", "6", "--workers", "2", "--no-progress", "--progress-jsonl", str(progress)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        wait_for(lambda: done() >= 1, timeout=120, what="a first finished run")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    n = done()
    assert 1 <= n < 24
    assert f"stopped after {n} of 24 runs; nothing written" in err
    assert "Traceback" not in err
