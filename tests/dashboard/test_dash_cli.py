from __future__ import annotations

import signal
import subprocess
import urllib.request

from shopfloor.broker import free_port
from tests.support import PLANT, cli, run_cli, wait_for


def test_dash_serves_on_localhost_and_stops(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        cli("dash", "--store", f"sqlite:///{tmp_path / 's.db'}", "--config", str(PLANT), "--port", str(port)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:

        def up() -> bool:
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).status == 200
            except OSError:
                return False

        wait_for(up, 30, "dashboard answers")
        body = (
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_dash-layout", timeout=5)
            .read()
            .decode()
        )
        assert "Tiếng Việt" in body or "Ti\\u1ebfng Vi\\u1ec7t" in body
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)


def test_dash_flag_errors(tmp_path):
    proc = run_cli("dash", "--store", f"sqlite:///{tmp_path / 's.db'}", "--auth", "nocolon")
    assert proc.returncode == 1 and "--auth must be USER:PASS" in proc.stderr
    proc = run_cli("dash", "--store", "redis://x")
    assert proc.returncode == 1 and "--store" in proc.stderr and "Traceback" not in proc.stderr
