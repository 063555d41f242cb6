"""Real servers for tests, on free ports in temp folders: InfluxDB 1.x and VictoriaMetrics."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shopfloor.broker import free_port


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
    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.rpc = free_port()
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
"""
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
def influxd(folder: Path) -> Iterator[Influxd]:
    server = Influxd(folder).start()
    try:
        yield server
    finally:
        server.stop()
