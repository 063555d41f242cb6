"""The embedded broker for `shopfloor broker` and `shopfloor demo`: a local Mosquitto when one
is installed (fast, and what production runs), else amqtt in-process (pure Python, no install).

Mosquitto gets an explicit config: its default `max_queued_messages 1000` silently drops QoS 1
messages to a subscriber that falls behind (measured: hundreds per 200k burst), so queues are
raised to a large bound (not 0, which has known bugs).

With a data folder it keeps sessions and retained messages on disk, saved every
AUTOSAVE_INTERVAL_S seconds (Mosquitto's default is 30 min; its autosave is all there is,
since it saves nothing per message). A broker killed between two saves still loses what it
held in memory: what it had acknowledged but not yet delivered. That is not made up for here
but end to end, by the simulator's outbox and the collector's watermarks (simulator/outbox.py,
collector/watermark.py); the short interval only makes the loss they repair smaller.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger("shopfloor.broker")
AUTOSAVE_INTERVAL_S = 5

MOSQUITTO_PATHS = ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def find_mosquitto() -> str | None:
    for name in MOSQUITTO_PATHS:
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_listening(host: str, port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no broker listening on {host}:{port} after {timeout_s:g} s"
                ) from None
            time.sleep(0.05)


def mosquitto_conf(port: int, host: str, data_dir: Path | None) -> str:
    lines = [
        # Started as root, mosquitto would switch to user "mosquitto" and lose access to our
        # data folder; stay the user that started it.
        f"user {getpass.getuser()}",
        f"listener {port} {host}",
        "allow_anonymous true",
        # Bursts from a --fast backfill must queue, not drop (see module doc).
        "max_queued_messages 1000000",
        "max_queued_bytes 0",
        "max_inflight_messages 100",
        "set_tcp_nodelay true",
        "log_type error",
        "log_type warning",
        "log_dest stderr",
    ]
    if data_dir is not None:
        lines += [
            "persistence true",
            f"persistence_location {data_dir}/",
            f"autosave_interval {AUTOSAVE_INTERVAL_S}",
        ]
    return "\n".join(lines) + "\n"


class Broker:
    """A broker on host:port; `start()` returns once it accepts connections."""

    def __init__(
        self,
        port: int = 1883,
        host: str = "127.0.0.1",
        data_dir: str | Path | None = None,
        kind: str = "auto",
        log_path: str | Path | None = None,
    ):
        self.log_path = Path(log_path) if log_path else None
        self.port = port
        self.host = host
        self.data_dir = Path(data_dir) if data_dir else None
        mosq = find_mosquitto()
        if kind == "auto":
            kind = "mosquitto" if mosq else "amqtt"
        if kind == "mosquitto" and not mosq:
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
        self.kind = kind
        self._mosquitto = mosq
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self, timeout_s: float = 15.0) -> Broker:
        if self.kind == "mosquitto":
            self._start_mosquitto()
        else:
            self._start_amqtt()
        wait_listening(self.host, self.port, timeout_s)
        log.info("%s broker listening on %s", self.kind, self.url)
        return self

    def _start_mosquitto(self) -> None:
        self._tmp = self._tmp or tempfile.TemporaryDirectory(prefix="shopfloor-mosquitto-")
        conf = Path(self._tmp.name) / "mosquitto.conf"
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        conf.write_text(mosquitto_conf(self.port, self.host, self.data_dir))
        assert self._mosquitto is not None
        out = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 (mosquitto keeps it)
        # Its own session: a Ctrl-C in the terminal reaches us, and we stop it last, after the
        # clients that still have messages to deliver.
        self._proc = subprocess.Popen(
            [self._mosquitto, "-c", str(conf)], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            start_new_session=True,
        )  # fmt: skip

    def _start_amqtt(self) -> None:
        ready = threading.Event()
        errors: list[BaseException] = []

        async def serve() -> None:
            from amqtt.broker import Broker as AmqttBroker

            config = {
                "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                "plugins": {
                    "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
                },
            }
            broker = AmqttBroker(config)
            self._stop = asyncio.Event()
            try:
                await broker.start()
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                return
            ready.set()
            await self._stop.wait()
            await broker.shutdown()

        def main() -> None:
            for noisy in ("amqtt", "transitions"):
                logging.getLogger(noisy).setLevel(logging.WARNING)
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(serve())
            self._loop.close()

        self._thread = threading.Thread(target=main, name="amqtt-broker", daemon=True)
        self._thread.start()
        ready.wait(15)
        if errors:
            raise RuntimeError(
                f"amqtt broker failed to start on {self.host}:{self.port}: {errors[0]}"
            )

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._thread is not None and self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
            self._thread = None

    def kill(self) -> None:
        """SIGKILL a Mosquitto broker (a crash: nothing saved since the last autosave); start()
        brings it back on the same port and data folder. For fault injection."""
        if self._proc is None:
            raise RuntimeError("kill() is for a running mosquitto broker")
        self._proc.kill()
        self._proc.wait()
        self._proc = None

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def wait(self) -> None:
        """Block until the broker exits (mosquitto) or forever (amqtt)."""
        if self._proc is not None:
            self._proc.wait()
        elif self._thread is not None:
            self._thread.join()

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
