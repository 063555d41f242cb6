"""The store interface and the records that cross it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class StoreError(Exception):
    """The store cannot take or give data now (down, locked, full, a timeout, a 5xx): a
    transient error, so the caller retries the same batch later."""


class PermanentStoreError(StoreError):
    """The store will never take this batch as it is: one of its records is wrong for it (a
    number too large for SQLite, a constraint, InfluxDB's 400 "partial write", 413, 422).
    Retrying the same batch fails the same way; the caller splits it to find the record(s),
    dead-letters those and stores the rest. Nothing of the batch is kept (SQLite), or some of
    its points are (InfluxDB's partial write): either way writes are idempotent, so writing
    the good records again is harmless."""


class ReadOnlyStoreError(RuntimeError):
    """A write on a store opened read-only: a bug of the caller, not a condition of the store
    (so not a StoreError, which callers retry)."""


@dataclass(slots=True)
class Record:
    """One validated telemetry message, flattened."""

    enterprise: str
    site: str
    area: str
    line: str
    machine: str
    channel: str  # state | count | telemetry | energy | status | material | order
    ts: int  # epoch ms, sim clock
    seq: int | None
    payload: dict[str, Any]
    inferred: bool = False  # a state the collector inferred (legacy machines)


@dataclass
class MachineInfo:
    machine: str
    enterprise: str
    site: str
    area: str
    line: str
    kind: str = "generic"
    position: int = 0
    line_length: int = 1
    ideal_cycle_s: float = 0.0
    connectivity: str = "full"
    power_kw: dict[str, float] | None = None
    online: bool = False
    last_ts: int = 0
    # The ts of its newest birth: when the publisher's current run began (a restarted
    # simulator starts its buffers empty there; the dashboard's line view counts from it).
    birth_ts: int = 0


class Store(Protocol):
    url: str

    def write(self, records: list[Record]) -> None:
        """Store a batch durably and idempotently (a record written twice is stored once).
        Raises StoreError when the store is unavailable (nothing of the batch is then kept), or
        PermanentStoreError when a record of the batch can never be stored (see there)."""

    def machines(self) -> list[MachineInfo]: ...

    def states(
        self, t0: int, t1: int, machine: str | None = None
    ) -> dict[str, list[tuple[int, str, str]]]:
        """Per machine (or just `machine`), (ts, state, reason) changes in [t0, t1) preceded
        by the last change before t0 if there is one, ordered by time."""

    def last_changes(self, t: int, machine: str | None = None) -> dict[str, tuple[int, str, str]]:
        """Per machine (or just `machine`), the newest (ts, state, reason) change with ts < t."""

    def state_hours(self, h0: int, h1: int) -> dict[str, dict[str, float]]:
        """Per machine, seconds per state summed over the hour rollup rows in [h0, h1) (hour
        starts in epoch ms): closed intervals only, see shopfloor.store.rollup."""

    def loss_hours(self, h0: int, h1: int) -> dict[tuple[str, str], float]:
        """Plant-wide seconds per (loss state, reason) summed over the hour rollup in [h0, h1):
        closed intervals only (the downtime Pareto's whole hours)."""

    def counter_at(
        self, channel: str, t: int, machine: str | None = None
    ) -> dict[str, tuple[int, dict[str, float]]]:
        """Per machine, the newest cumulative reading (count or energy) with ts <= t."""

    def samples(self, machine: str, t0: int, t1: int, every_ms: int = 0) -> list[tuple[int, float]]:
        """(ts, power_kw) of one machine; with every_ms, averaged per bucket."""

    def process_values(self, machine: str, name: str, t0: int, t1: int) -> list[tuple[int, float]]:
        """(ts, value) of one process value of one machine in [t0, t1), in time order: the
        Machine page's SPC chart (issue 12). `name` must match contract.PROCESS_VALUE_NAME."""

    def energy_buckets(self, t0: int, t1: int, every_ms: int) -> dict[str, list[tuple[int, float]]]:
        """Per machine, (bucket start, newest cumulative energy_kwh reading in the bucket) for
        the buckets of [t0, t1) that hold a reading, in time order."""

    def energy_quarters(self, q0: int, q1: int) -> dict[str, list[tuple[int, float]]]:
        """Per machine, (quarter start, kWh metered in it) for the quarters in [q0, q1) that
        have readings: each reading's increase over the one before (see meter_rollup)."""

    def energy_quarter_sums(self, q0: int, q1: int, machines: list[str]) -> dict[int, float]:
        """kWh per quarter in [q0, q1) summed over `machines` (the plant's demand curve):
        energy_quarters' numbers, added up by the store."""

    def max_seq(self) -> dict[str, int]:
        """Per machine, the highest seq stored (inferred states excluded)."""

    def deliveries(self, t0: int, t1: int, machine: str | None = None) -> list[dict[str, Any]]:
        """Material deliveries (issue 12) with ts in [t0, t1), in time order: each its
        `material` payload (shopfloor.contract.MaterialPayload) with `machine`."""

    def order_events(self, t1: int, line: str | None = None) -> list[dict[str, Any]]:
        """Work-order events (issue 12) with ts before t1, in time order: each its `order`
        payload (shopfloor.contract.OrderPayload) with `machine` and `line`."""

    def close(self) -> None: ...
