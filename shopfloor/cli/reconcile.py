"""End-to-end reconciliation: publish a seeded run through a real broker, let the running
collector store it, and compare the store's KPIs with the simulator's ground truth.

The same tolerances as the test suite and the dashboard's Truth page (shopfloor/tolerance.py):
counts exact, state durations within 1 s (millisecond rounding of each ts), OEE within 0.5
percentage points, energy within 1e-3 kWh; a legacy machine's running time (inferred from power
samples) within 2% or one sample interval.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from shopfloor import kpi, tolerance
from shopfloor.config.schema import PlantConfig
from shopfloor.contract import parse_topic
from shopfloor.store.base import Store
from shopfloor.store.report import report_from_store
from simulator.resume import Resume, from_store

log = logging.getLogger("shopfloor.reconcile")


def compare(truth: dict[str, Any], got: dict[str, Any], cfg: PlantConfig) -> list[str]:
    """Every difference beyond the tolerances, as `where: what` lines (empty: reconciled)."""
    out: list[str] = []
    interval = cfg.telemetry.sample_interval_s
    legacy = {st.id for _, st in cfg.stations() if st.connectivity == "legacy"}

    def near(where: str, have: float, want: float, tol: float) -> None:
        if abs(have - want) > tol:
            out.append(f"{where}: store {have:.6g}, simulator {want:.6g} (tolerance {tol:g})")

    for mid, want in truth["machines"].items():
        have = got["machines"].get(mid)
        if have is None:
            out.append(f"{mid}: not in the store")
            continue
        if mid in legacy:
            near(
                f"{mid}.running_s",
                have["running_s"],
                want["running_s"],
                tolerance.legacy_running_s(want["running_s"], interval),
            )
            continue
        for key in ("total_count", "good_count", "scrap_count"):
            if have[key] != want[key]:
                out.append(f"{mid}.{key}: store {have[key]}, simulator {want[key]}")
        for state in kpi.STATES:
            near(f"{mid}.{state}_s", have[f"{state}_s"], want[f"{state}_s"], tolerance.STATE_S)
        near(f"{mid}.oee", have["oee"], want["oee"], tolerance.RATIO)
        near(f"{mid}.energy_kwh", have["energy_kwh"], want["energy_kwh"], tolerance.ENERGY_KWH)
    for lid, want in truth["lines"].items():
        have = got["lines"].get(lid)
        if have is None:
            out.append(f"line {lid}: not in the store")
            continue
        if have["good_count"] != want["good_count"]:
            out.append(
                f"line {lid}.good_count: store {have['good_count']}, simulator {want['good_count']}"
            )
        near(f"line {lid}.oee", have["oee"], want["oee"], tolerance.RATIO)
    return out


def publish_run(
    cfg: PlantConfig,
    broker_url: str,
    start_ms: int,
    duration_s: float,
    resume: dict[str, Resume],
    encoding: str = "json",
) -> tuple[dict[str, Any], dict[str, int]]:
    """The seeded run through the broker at QoS 1, as our JSON or as Sparkplug B; (ground
    truth, last seq per machine)."""
    from shopfloor.mqtt_url import parse_broker_url
    from simulator.mqtt_sink import MqttSink
    from simulator.run import run

    url = parse_broker_url(broker_url)
    sink = MqttSink(url, f"shopfloor-reconcile-{cfg.plant.site}", qos=1, queue_size=100_000,
                    block_when_full=True, will_topics=[], command_topics=[],
                    on_command=lambda t, p: None, own_loop=True)  # fmt: skip
    if encoding == "sparkplug":
        from simulator.sparkplug_sink import SparkplugSink

        ent, site = cfg.plant.enterprise, cfg.plant.site
        lines = [(ent, site, line.area, line.id) for line in cfg.lines]
        sink = SparkplugSink(sink, lines, url=url, client_id=f"shopfloor-reconcile-{site}")
    counting = _LastSeq(sink)
    result = run(cfg, counting, start_ms, duration_s, resume=resume)
    return result.report, counting.last


class _LastSeq:
    """A sink in front of the MQTT one that remembers each machine's last seq."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.last: dict[str, int] = {}
        self.count = 0

    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        parts = parse_topic(topic)
        if parts is not None and "seq" in payload:
            self.last[parts.machine] = payload["seq"]
        self.inner.emit(topic, payload, retain)

    def __getattr__(self, name: str) -> Any:  # pump, waker, close ... of the MQTT sink
        return getattr(self.inner, name)


def wait_stored(store: Store, last: dict[str, int], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        have = store.max_seq()
        behind = {m: s for m, s in last.items() if have.get(m, 0) < s}
        if not behind:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the store did not get everything in {timeout_s:g} s: still missing the end of "
                + ", ".join(
                    f"{m} (stored up to seq {have.get(m, 0)} of {s})"
                    for m, s in sorted(behind.items())
                )
            )
        time.sleep(0.5)


def reconcile(
    cfg: PlantConfig,
    broker_url: str,
    store: Store,
    start_ms: int,
    duration_s: float,
    timeout_s: float,
    encoding: str = "json",
) -> tuple[list[str], dict[str, Any]]:
    machines = {st.id for _, st in cfg.stations()}
    resume = from_store(store, machines)
    truth, last = publish_run(cfg, broker_url, start_ms, duration_s, resume, encoding)
    wait_stored(store, last, timeout_s)
    end_ms = start_ms + int(duration_s * 1000)
    got = report_from_store(store, start_ms, end_ms + 1, cfg)
    return compare(truth, got, cfg), got
