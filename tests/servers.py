"""Real servers for tests, on free ports in temp folders: InfluxDB 1.x and VictoriaMetrics."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shopfloor.broker import free_port
from tests.support import free_ports


def _wait_http(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status < 300:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer in {timeout_s:g} s")
        time.sleep(0.1)


def influxd_path() -> str | None:
    return shutil.which("influxd")


class Influxd:
    def __init__(self, folder: Path, extra: str = ""):
        """`extra`: more configuration, e.g. a [retention] section (issue 15)."""
        self.folder = folder
        self.extra = extra
        self.port, self.rpc = free_ports(2)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Influxd:
        conf = self.folder / "influxdb.conf"
        conf.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc}"
[meta]
  dir = "{self.folder}/meta"
[data]
  dir = "{self.folder}/data"
  wal-dir = "{self.folder}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
{self.extra}"""
        )
        log = open(self.folder / "influxd.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [influxd_path() or "influxd", "-config", str(conf)], stdout=log, stderr=log
        )
        _wait_http(f"http://127.0.0.1:{self.port}/ping")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(20)
            self.proc = None

    @property
    def url(self) -> str:
        return f"influxdb1://127.0.0.1:{self.port}/shopfloor"


@contextmanager
def influxd(folder: Path, extra: str = "") -> Iterator[Influxd]:
    server = Influxd(folder, extra).start()
    try:
        yield server
    finally:
        server.stop()


def victoria_path() -> str | None:
    return shutil.which("victoria-metrics") or shutil.which("victoria-metrics-prod")


class VictoriaMetrics:
    """A real server that accepts influxdb-client's /api/v2/write; read back with /api/v1/export."""

    def __init__(self, folder: Path, *flags: str):
        """`flags`: more command-line flags, e.g. "-influx.maxLineSize=1KB" (a longer line is
        then answered 400, the way InfluxDB refuses a write)."""
        self.folder = folder
        self.port = free_port()
        self.flags = list(flags)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> VictoriaMetrics:
        log = open(self.folder / "vm.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [victoria_path() or "victoria-metrics", f"-storageDataPath={self.folder / 'vm-data'}",
             f"-httpListenAddr=127.0.0.1:{self.port}", "-retentionPeriod=100y", "-search.disableCache",
             *self.flags],
            stdout=log, stderr=log,
        )  # fmt: skip
        _wait_http(f"http://127.0.0.1:{self.port}/health")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM
            self.proc.wait(30)
            self.proc = None

    def freeze(self) -> None:
        """SIGSTOP: the port still takes connections (the kernel queues them) but nothing
        answers, so requests time out instead of being refused."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def count(self, match: str) -> int:
        """How many samples of the series matching `match` are stored."""
        return sum(len(series["values"]) for series in self.export(match))

    @property
    def url(self) -> str:
        return f"influxdb://127.0.0.1:{self.port}/shopfloor?org=acme"

    def export(self, match: str) -> list[dict]:
        import json
        from urllib.parse import quote

        urllib.request.urlopen(
            f"http://127.0.0.1:{self.port}/internal/force_flush", timeout=10
        ).read()
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.port}/api/v1/export?match[]={quote(match)}", timeout=30
        ) as r:
            return [json.loads(line) for line in r.read().splitlines() if line.strip()]
