"""Shared helpers for tests that run real brokers and the CLI as a user would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from shopfloor import clock
from shopfloor.broker import Broker, find_mosquitto, free_port

ROOT = Path(__file__).resolve().parents[1]
PLANT = ROOT / "config" / "plant.yaml"
GOLDEN = ROOT / "tests" / "golden" / "small.yaml"
BROKER_KINDS = ["mosquitto", "amqtt"] if find_mosquitto() else ["amqtt"]

# Pinned clocks (plant time, Asia/Ho_Chi_Minh): a weekday morning inside shift A of the demo
# and golden plants (06:00-14:00, break 10:00-10:30), and a Sunday night with no shift at all.
MONDAY_1100 = "2026-11-23T11:00:00+07:00"
SUNDAY_2330 = "2026-11-22T23:30:00+07:00"


# The collector's own rows, not something sent: a legacy machine's meter readings, which it
# estimates from the power samples (collector/legacy.py; its inferred states are flagged).
SENT_ENERGY = "machine NOT IN (SELECT machine FROM machines WHERE connectivity = 'legacy')"


def instant_s(iso: str) -> float:
    return clock.parse(iso).at_s


def pinned_env(iso: str, *, frozen: bool = False) -> dict[str, str]:
    """The environment for a service whose clock reads `iso` now: frozen there, or ticking on
    from it (one shared clock for every service a test starts with the same env)."""
    value = iso if frozen else clock.ticking_from(instant_s(iso))
    return {**os.environ, clock.ENV: value}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "shopfloor.cli.main", *args]


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(cli(*args), capture_output=True, text=True, timeout=timeout)


@contextmanager
def running_broker(kind: str = "auto", data_dir: Path | None = None) -> Iterator[Broker]:
    broker = Broker(free_port(), kind=kind, data_dir=data_dir).start()
    try:
        yield broker
    finally:
        broker.close()


def free_ports(n: int) -> list[int]:
    """n distinct free ports for servers that bind them later: each socket is held until all
    are picked (two free_port() calls in a row hand out the same port about once in 10,000,
    and the second server then cannot bind it)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_for(cond: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


class Subscriber:
    """A real paho subscriber that records (topic, payload dict, retain) in arrival order."""

    def __init__(
        self,
        port: int,
        topic: str = "shopfloor/v1/#",
        client_id: str | None = None,
        clean: bool = True,
    ):
        self.messages: list[tuple[str, Any, bool]] = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.topic = topic
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-sub-{port}-{id(self)}",
            clean_session=clean,
            protocol=mqtt.MQTTv311,
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1)
        self.client.max_inflight_messages_set(100)
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        wait_for(self.connected.is_set, 10, "subscriber connected")

    def _on_connect(self, client, userdata, flags, reason, props):
        client.subscribe(self.topic, qos=1)
        self.connected.set()

    def _on_message(self, client, userdata, msg):
        try:
            payload = json.loads(msg.payload)
        except ValueError:
            payload = msg.payload
        with self.lock:
            self.messages.append((msg.topic, payload, bool(msg.retain)))

    def snapshot(self) -> list[tuple[str, Any, bool]]:
        with self.lock:
            return list(self.messages)

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def publish(self, topic: str, payload: Any) -> None:
        data = payload if isinstance(payload, bytes | str) else json.dumps(payload)
        self.client.publish(topic, data, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def complete_lines(path: Path) -> list[str]:
    """The lines a running process has finished writing to `path`, [] before it exists.

    A writer's buffer can end mid-line at any moment, so a poll that parsed the last line
    would fail now and then (CI did, once); the part after the last newline is left out.
    """
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return text.split("\n")[:-1]


def seqs_by_machine(messages: list[tuple[str, Any, bool]]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for topic, payload, _ in messages:
        parts = topic.split("/")
        if len(parts) == 8 and isinstance(payload, dict) and "seq" in payload:
            out.setdefault(parts[6], []).append(payload["seq"])
    return out


def collector_subscribed(metrics_port: int) -> bool:
    """A collector's readiness: the broker confirmed its subscription (its metrics say so)."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=1) as r:
            return b"shopfloor_collector_subscribed 1.0" in r.read()
    except OSError:
        return False
