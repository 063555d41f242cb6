from __future__ import annotations

import http.client
import os
import signal
import subprocess
import urllib.request

from shopfloor.broker import free_port
from tests.support import PLANT, cli, run_cli, wait_for


def test_dash_serves_on_localhost_and_stops(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        cli("dash", "--store", f"sqlite:///{tmp_path / 's.db'}", "--config", str(PLANT), "--port", str(port), "--no-auth"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:

        def up() -> bool:
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).status == 200
            except OSError:
                return False

        wait_for(up, 30, "dashboard answers")
        # Through waitress, not Flask's development server.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert r.headers["Server"] == "waitress"
        body = (
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_dash-layout", timeout=5)
            .read()
            .decode()
        )
        assert "Tiếng Việt" in body or "Ti\\u1ebfng Vi\\u1ec7t" in body
        # A body announced past the bound is refused from its headers (413), never read.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.putrequest("POST", "/_dash-update-component")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(17 * 1024 * 1024))
        conn.endheaders()
        assert conn.getresponse().status == 413
        conn.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)


def test_dash_flag_errors(tmp_path):
    proc = run_cli("dash", "--store", f"sqlite:///{tmp_path / 's.db'}", "--auth", "nocolon")
    assert proc.returncode == 1 and "--auth must be USER:PASS" in proc.stderr
    proc = run_cli("dash", "--store", "redis://x", "--no-auth")
    assert proc.returncode == 1 and "--store" in proc.stderr and "Traceback" not in proc.stderr


def run_dash(
    tmp_path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "SHOPFLOOR_DASH_AUTH"}
    return subprocess.run(
        cli("dash", "--store", f"sqlite:///{tmp_path / 's.db'}", *args),
        capture_output=True, text=True, timeout=60, env={**environ, **(env or {})},
    )  # fmt: skip


def test_dash_refuses_to_start_without_credentials(tmp_path):
    for env in ({}, {"SHOPFLOOR_DASH_AUTH": ""}):
        proc = run_dash(tmp_path, env=env)
        assert proc.returncode == 1, proc.stderr
        assert "needs credentials" in proc.stderr and "SHOPFLOOR_DASH_AUTH" in proc.stderr
        assert "--no-auth" in proc.stderr and "Traceback" not in proc.stderr
    for bad in ("user:", ":pass"):
        proc = run_dash(tmp_path, env={"SHOPFLOOR_DASH_AUTH": bad})
        assert proc.returncode == 1 and "USER:PASS" in proc.stderr, proc.stderr
    proc = run_dash(tmp_path, "--auth", "a:b", "--no-auth")
    assert proc.returncode == 1 and "not allowed with" in proc.stderr


def test_no_auth_is_refused_on_an_address_others_reach(tmp_path):
    for host in ("0.0.0.0", "::", "192.0.2.10", "example.invalid"):
        proc = run_dash(tmp_path, "--no-auth", "--host", host)
        assert proc.returncode == 1, (host, proc.stderr)
        assert f"--no-auth is refused with --host {host}" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_loopback_means_every_address_is_loopback():
    from shopfloor.cli.dash_cmd import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("10.0.0.1")
