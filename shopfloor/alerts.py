"""Alerts: the config's `alerts:` rules judged against stored data at one instant.

One pure function of (store, config, now) so that the collector (which publishes the active
alerts to the plant's `alerts` topic, shopfloor.contract.alerts_topic) and the dashboard (its
banner and Alerts page, computed from the same store) can never disagree on what is active.

The rules, each off until its key is set (shopfloor.config.schema.Alerts):

- machine_down: a machine whose newest state is `down` and has been for longer than
  `machine_down_min` up to the newest message heard from it (a store being backfilled holds
  the past only up to its frontier); since = when it went down, value = minutes down so far. A break or the
  end of a shift overlays `down` with `planned_stop` or `off` (the repair pauses, no production
  is lost meanwhile), which clears the alert; a machine still down afterwards starts again.
- line_oee_low: a line whose OEE over the last hour is below `line_oee_below` (or its OEE
  target with `line_oee_below_target`); judged only when at least half of that hour was planned
  production time, so a shift's first minutes or a break do not raise it. since = the start of
  that hour, value = the OEE.
- demand_high: the plant's 15-minute demand (kWh metered in a quarter hour x 4) of the last
  completed quarter above `demand_limit_kw` (what a utility bills a contracted limit on);
  since = the quarter's start, value = its demand in kW. A quarter's kWh are the meter
  readings' increases inside it (the `energy` channel), and for a legacy machine without
  readings (it has no meter) its mean sampled power over the quarter x 15 minutes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import orjson

from shopfloor.config.schema import PlantConfig
from shopfloor.store.base import Store
from shopfloor.store.meter_rollup import QUARTER_MS, floor_quarter
from shopfloor.store.report import energy_by_quarter, report_from_store

Kind = Literal["machine_down", "line_oee_low", "demand_high"]
KINDS: tuple[str, ...] = ("machine_down", "line_oee_low", "demand_high")
OEE_WINDOW_MS = 3_600_000
# The share of the OEE window that must be planned production time for the rule to judge it.
OEE_MIN_PLANNED = 0.5


@dataclass(frozen=True)
class Alert:
    kind: str  # one of KINDS
    subject: str  # a machine id, a line id, or "plant"
    since: int  # epoch ms (see the module docstring per kind)
    value: float  # minutes down, OEE ratio, or kW
    threshold: float  # in the unit of value

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.subject)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def enabled(cfg: PlantConfig | None) -> bool:
    """Whether the config sets any rule at all."""
    if cfg is None:
        return False
    a = cfg.alerts
    return (
        a.machine_down_min is not None
        or a.line_oee_below is not None
        or a.line_oee_below_target
        or a.demand_limit_kw is not None
    )


def line_oee_threshold(cfg: PlantConfig, line: str) -> float | None:
    a = cfg.alerts
    if a.line_oee_below is not None:
        return a.line_oee_below
    if a.line_oee_below_target:
        from shopfloor.targets import targets_for

        return targets_for(cfg, line).get("oee")
    return None


def evaluate(store: Store, cfg: PlantConfig, now_ms: int) -> list[Alert]:
    """The alerts active at `now_ms`, in a stable order (kind, subject). Raises StoreError when
    the store cannot answer (the caller decides: the collector logs and retries, a page says
    so)."""
    rules = cfg.alerts
    known = {st.id for _, st in cfg.stations()}
    out: list[Alert] = []
    if rules.machine_down_min is not None:
        limit_ms = rules.machine_down_min * 60_000
        heard = {m.machine: m.last_ts for m in store.machines()}
        for machine, (ts, state, _) in store.last_changes(now_ms + 1).items():
            # Down as far as the data goes: while a backfill fills the store, a machine's
            # newest state says nothing of the time after its newest message.
            until = min(now_ms, heard.get(machine) or now_ms)
            if machine in known and state == "down" and until - ts > limit_ms:
                minutes = (until - ts) / 60_000
                out.append(Alert("machine_down", machine, ts, minutes, rules.machine_down_min))
    thresholds = {line.id: line_oee_threshold(cfg, line.id) for line in cfg.lines}
    if any(v is not None for v in thresholds.values()):
        t0 = now_ms + 1 - OEE_WINDOW_MS
        report = report_from_store(store, t0, now_ms + 1, cfg)
        for lid, e in report["lines"].items():
            below = thresholds.get(lid)
            if below is None or e["planned_s"] * 1000 < OEE_MIN_PLANNED * OEE_WINDOW_MS:
                continue
            if e["oee"] < below:
                out.append(Alert("line_oee_low", lid, t0, e["oee"], below))
    if rules.demand_limit_kw is not None:
        q1 = floor_quarter(now_ms)  # the last completed quarter is [q1 - 15 min, q1)
        q0 = q1 - QUARTER_MS
        per_machine = energy_by_quarter(store, q0, q1)
        kwh = sum(rows.get(q0, 0.0) for m, rows in per_machine.items() if m in known)
        for _, st in cfg.stations():
            if st.connectivity == "legacy" and q0 not in per_machine.get(st.id, {}):
                # No meter readings (a collector that estimates none): its mean sampled power.
                kwh += sum(kw for _, kw in store.samples(st.id, q0, q1, QUARTER_MS)) / 4
        kw = kwh * 3_600_000 / QUARTER_MS
        if kw > rules.demand_limit_kw:
            out.append(Alert("demand_high", "plant", q0, kw, rules.demand_limit_kw))
    return sorted(out, key=lambda a: (KINDS.index(a.kind), a.subject))


# The largest alerts message: the collector publishes it on its intake connection, and a
# broker's packet limit (the compose Mosquitto's max_packet_size 65536) disconnects a client
# that publishes more, after which QoS 1 sends the same packet again on every reconnect and
# intake stops. A plant of 225 machines in a power cut has ~550 alerts (~70 kB). Room is left
# for the topic and the header, as for a command's reply (shopfloor.commands.MAX_REPLY_BYTES).
MAX_PAYLOAD_BYTES = 60 * 1024
# Which alerts a capped message keeps first: the plant's, then the lines', then machines.
_KEEP_FIRST = {"demand_high": 0, "line_oee_low": 1, "machine_down": 2}


def payload(alerts: list[Alert], ts: int, max_bytes: int = MAX_PAYLOAD_BYTES) -> dict[str, Any]:
    """What the collector publishes (retained) on the alerts topic: {"ts", "alerts",
    "truncated"}. At most max_bytes of JSON: beyond that the plant's and lines' alerts are kept
    first, then the machines down longest (the oldest `since`), in the list's usual order;
    `truncated` says how many more are active (0: the list is complete)."""
    items = [(a, a.as_dict()) for a in alerts]
    size = len(orjson.dumps({"ts": ts, "alerts": [], "truncated": len(alerts)}))
    kept: set[int] = set()
    for i, (_, d) in sorted(
        enumerate(items), key=lambda x: (_KEEP_FIRST.get(x[1][0].kind, 3), x[1][0].since, x[0])
    ):
        need = len(orjson.dumps(d)) + 1  # and its comma
        if size + need > max_bytes:
            break
        size += need
        kept.add(i)
    return {
        "ts": ts,
        "alerts": [d for i, (_, d) in enumerate(items) if i in kept],
        "truncated": len(alerts) - len(kept),
    }
