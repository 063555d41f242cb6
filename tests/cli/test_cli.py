"""The command line as a user meets it: exit codes, messages, no tracebacks."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLANT = str(ROOT / "config" / "plant.yaml")


def sf(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shopfloor.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_user_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in proc.stderr, proc.stderr


def test_console_script_is_installed():
    proc = subprocess.run(["shopfloor", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "sim" in proc.stdout and "config" in proc.stdout


def test_config_check_ok():
    proc = sf("config", "check", PLANT)
    assert proc.returncode == 0
    assert "ok (3 lines, 12 stations)" in proc.stdout


def test_config_check_lists_every_error(tmp_path):
    data = yaml.safe_load(Path(PLANT).read_text().replace("off:", "'off':"))
    data["lines"][0]["stations"][1]["mttr_min"] = -3
    data["lines"][1]["stations"][0]["scrap_rate"] = 1.2
    data["lines"][2]["stations"] = []
    data["plant"]["colour"] = "red"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    proc = sf("config", "check", str(bad))
    assert_user_error(
        proc,
        "4 errors",
        "lines[0].stations[1].mttr_min: must be > 0, got -3",
        "lines[1].stations[0].scrap_rate: must be <= 1, got 1.2",
        "lines[2].stations: must not be empty",
        "plant.colour: unknown key",
    )


def test_config_check_missing_file(tmp_path):
    assert_user_error(sf("config", "check", str(tmp_path / "none.yaml")), "file not found")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--duration", "8x"], "--duration"),
        (["--duration", "-2h"], "--duration"),
        (["--speed", "0"], "--speed"),
        (["--speed", "fast"], "--speed"),
        (["--seed", "abc"], "--seed"),
        (["--fast"], "--fast needs --duration"),
        (["--fast", "--speed", "2", "--duration", "1h"], "not allowed with"),
        (["--start", "tomorrow", "--fast", "--duration", "1h"], "--start"),
        (["--fast", "--duration", "1h", "--jsonl", "-", "--report", "-"], "standard output"),
        (
            ["--fast", "--duration", "1h", "--jsonl", "/nonexistent/dir/x.jsonl"],
            "cannot write /nonexistent/dir/x.jsonl",
        ),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_sim_flag_errors(args, needle):
    assert_user_error(sf("sim", "--config", PLANT, *args), needle)


def test_sim_with_a_bad_config_names_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        Path(PLANT).read_text().replace("timezone: Asia/Ho_Chi_Minh", "timezone: Asia/Hanoii")
    )
    assert_user_error(
        sf("sim", "--config", str(bad), "--fast", "--duration", "1h"),
        "plant.timezone: unknown time zone",
    )


def test_sim_report_to_stdout(tmp_path):
    proc = sf(
        "sim",
        "--config",
        PLANT,
        "--fast",
        "--duration",
        "8h",
        "--start",
        "2026-11-23T06:00+07:00",
        "--report",
        "-",
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert set(report) == {"plant", "lines", "machines"}
    assert set(report["lines"]) == {"machining-1", "molding-1", "assembly-1"}
    assert report["machines"]["cnc-01"]["planned_s"] == pytest.approx(7.5 * 3600)
    assert "plant OEE" in proc.stderr


def test_fast_with_a_past_start_backfills_up_to_now():
    proc = sf("sim", "--config", PLANT, "--fast", "--start", "-", "--report", "-")
    assert_user_error(proc, "--start")
    from datetime import UTC, datetime, timedelta

    from shopfloor import clock

    start = (datetime.fromtimestamp(clock.now_s(), UTC) - timedelta(hours=2)).isoformat()
    proc = sf("sim", "--config", PLANT, "--fast", "--start", start, "--report", "-")
    assert proc.returncode == 0, proc.stderr
    plant = json.loads(proc.stdout)["plant"]
    assert (plant["end_ms"] - plant["start_ms"]) / 1000 == pytest.approx(7200, abs=5)


def test_real_time_run_is_paced_and_stops_cleanly(tmp_path):
    out = tmp_path / "live.jsonl"
    proc = sf(
        "sim",
        "--config",
        PLANT,
        "--speed",
        "600",
        "--duration",
        "10m",
        "--jsonl",
        str(out),
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text().splitlines()
    ts = [json.loads(x)["payload"]["ts"] for x in lines]
    assert (max(ts) - min(ts)) / 1000 == pytest.approx(600, abs=1)


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_live_run_stops_on_a_signal_with_its_report(tmp_path, sig):
    import signal

    from tests.support import wait_for

    out, rep = tmp_path / "live.jsonl", tmp_path / "report.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shopfloor.cli.main",
            "sim",
            "--config",
            PLANT,
            "--jsonl",
            str(out),
            "--report",
            str(rep),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: out.exists() and out.stat().st_size > 0, 20, "the first line written")
        proc.send_signal(getattr(signal, sig))
    except BaseException:
        proc.kill()
        raise
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    report = json.loads(rep.read_text())
    assert len(report["machines"]) == 12
    last = [json.loads(x) for x in out.read_text().splitlines()][-1]
    assert last["topic"].endswith("/status") and last["payload"]["online"] is False
