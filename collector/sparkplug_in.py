"""Sparkplug B in (docs/sparkplug.md, The collector): a message on `spBv1.0/...` back into
our channels, then through the same validation as JSON (collector.validate.check), so the
dead letters, dedup and gap rules are the same.

- DBIRTH: the device's properties are its `status` birth; its aliases are learnt (per group,
  edge node and device), and the device is remembered as one of the node's.
- DDATA: each metric by name, or by alias from the birth, or, for the fixed metrics, by
  `alias % 1000` (shopfloor/sparkplug.py), so a collector that missed the birth still decodes
  states, counts, power and energy. `Seq` is our per-machine counter: dedup and gaps go by it
  and the metric timestamps, never by Sparkplug's seq, which wraps at 256 and counts the whole
  node. An alias nobody named is dead-lettered (`unknown_alias`) and the node is asked for its
  births again (NCMD Node Control/Rebirth, at most every REBIRTH_EVERY_S per node).
- DDEATH: the device offline. NDEATH: every device of the node offline, unless its bdSeq is
  not that of the node's NBIRTH (a will left by an earlier session: the spec says ignore it).
- NBIRTH, NDATA, NCMD, DCMD and STATE carry nothing to store.

What it remembers is bounded, since any client may invent group, node and device names: at
most `max_devices` devices (their aliases and their node's NDEATH membership) and `max_nodes`
edge nodes (their bdSeq and last rebirth request); a device or node beyond that is still
decoded and stored but not remembered (counted in `dropped`, through `on_drop`, and logged at
the 1st, 10th, 100th... time). Rebirth requests go out at most `rebirths_per_min` a minute over
all nodes, the rest are counted as suppressed: unknown aliases from many invented nodes cannot
make the collector flood the broker.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError

from collector.validate import _LEVEL, IGNORE, Ignore, Reject, check
from shopfloor import sparkplug as spb
from shopfloor.contract import TopicParts
from shopfloor.store.base import Record

REBIRTH_EVERY_S = 10.0
MAX_DEVICES = 10_000  # devices remembered over all edge nodes (225 make config/large.yaml)
MAX_NODES = 1_000  # edge nodes remembered (a node is a line)
REBIRTHS_PER_MIN = 60  # rebirth requests sent a minute at most, over all nodes

log = logging.getLogger("shopfloor.collect.sparkplug")

Key = tuple[str, str]  # (group id, edge node id)


class SparkplugIntake:
    def __init__(
        self,
        request_rebirth: Callable[[str, str], None] | None = None,
        *,
        max_devices: int = MAX_DEVICES,
        max_nodes: int = MAX_NODES,
        rebirths_per_min: int = REBIRTHS_PER_MIN,
        on_drop: Callable[[str], None] | None = None,
    ):
        """`on_drop(what)`: something not remembered or not sent, `what` one of "device",
        "node", "rebirth" (the collector's metrics count them)."""
        self.aliases: dict[tuple[str, str, str], dict[int, tuple[str, int]]] = {}
        self.devices: dict[Key, set[str]] = {}
        self.bd_seq: dict[Key, int] = {}
        self.request_rebirth = request_rebirth
        self._asked: dict[Key, float] = {}
        self.max_devices = max(0, max_devices)
        self.max_nodes = max(0, max_nodes)
        self.rebirths_per_min = max(0, rebirths_per_min)
        self.on_drop = on_drop
        self.dropped: Counter[str] = Counter()
        self._n_devices = 0
        self._sent: deque[float] = deque()  # when the rebirth requests of the last minute went

    def _drop(self, what: str, detail: str) -> None:
        self.dropped[what] += 1
        n = self.dropped[what]
        if self.on_drop is not None:
            self.on_drop(what)
        while n >= 10 and n % 10 == 0:
            n //= 10
        if n == 1:
            log.warning("Sparkplug intake: %s (%d times so far)", detail, self.dropped[what])

    def _node_room(self, key: Key, known: dict[Key, Any]) -> bool:
        if key in known or len(known) < self.max_nodes:
            return True
        self._drop("node", f"edge node {key[0]}/{key[1]} not remembered: {self.max_nodes} are")
        return False

    def _remember(self, key: Key, machine: str) -> bool:
        """The device as one of its node's; False when it cannot be (a bound is reached)."""
        devs = self.devices.get(key)
        if devs is not None and machine in devs:
            return True
        if devs is None and not self._node_room(key, self.devices):
            return False
        if self._n_devices >= self.max_devices:
            self._drop(
                "device",
                f"device {key[0]}/{key[1]}/{machine} not remembered: {self.max_devices} are",
            )
            return False
        self.devices.setdefault(key, set()).add(machine)
        self._n_devices += 1
        return True

    def validate(
        self, topic: str, raw: bytes, now_ms: int, max_future_ms: int, max_bytes: int
    ) -> list[Record] | Reject | Ignore:
        if len(raw) > max_bytes:
            return Reject("oversized", f"{len(raw)} bytes > {max_bytes}")
        if spb.is_host_state(topic):
            return IGNORE  # a primary host's STATE (Ignition publishes it retained)
        t = spb.parse_topic(topic)
        if t is None:
            return Reject(
                "bad_topic",
                f"not spBv1.0/<group>/<message type>/<edge node>[/<device>]: {topic[:200]!r}",
            )
        if t.msg_type in ("NCMD", "DCMD", "NDATA"):
            return IGNORE
        plant, line = spb.split_id(t.group), spb.split_id(t.node)
        if plant is None or line is None:
            return Reject(
                "bad_topic",
                f"group {t.group[:80]!r} is not <enterprise>:<site> or edge node "
                f"{t.node[:80]!r} is not <area>:<line>",
            )
        levels = (*plant, *line, *((t.device,) if t.device is not None else ()))
        names = ("enterprise", "site", "area", "line", "machine")
        for name, level in zip(names, levels, strict=False):
            if not _LEVEL.fullmatch(level):
                return Reject(
                    "bad_topic",
                    f"{name} {level[:80]!r} is not an id (A-Z, a-z, 0-9, _ . -; at most 64)",
                )
        try:
            p = spb.decode(raw)
        except DecodeError as exc:
            return Reject("not_protobuf", f"not a Sparkplug B payload: {str(exc)[:200]}")
        key = (t.group, t.node)
        if t.msg_type == "NBIRTH":
            bd = _bd_seq(p)
            if bd is not None and self._node_room(key, self.bd_seq):
                self.bd_seq[key] = bd
            return IGNORE
        if t.msg_type == "NDEATH":
            bd = _bd_seq(p)
            if key in self.bd_seq and bd is not None and bd != self.bd_seq[key]:
                return IGNORE  # the will of an earlier session of the node
            out: list[Record] = []
            for machine in sorted(self.devices.get(key, ())):
                data: dict[str, Any] = {"online": False}
                if p.HasField("timestamp"):
                    data["ts"] = p.timestamp
                got = check(
                    TopicParts(*plant, *line, machine, "status"), data, now_ms, max_future_ms
                )
                if isinstance(got, Reject):
                    return got
                out.append(got)
            return out or IGNORE
        assert t.device is not None
        dev = (t.group, t.node, t.device)
        if t.msg_type == "DDEATH":
            data = {"online": False}
            if p.HasField("timestamp"):
                data["ts"] = p.timestamp
            got = check(TopicParts(*plant, *line, t.device, "status"), data, now_ms, max_future_ms)
            return [got] if isinstance(got, Record) else got
        if t.msg_type == "DBIRTH":
            return self._birth(p, plant, line, t.device, dev, key, now_ms, max_future_ms)
        return self._data(p, plant, line, t.device, dev, key, now_ms, max_future_ms)

    def _birth(
        self, p: Any, plant: Key, line: Key, machine: str, dev: tuple[str, str, str], key: Key,
        now_ms: int, max_future_ms: int,
    ) -> list[Record] | Reject:  # fmt: skip
        aliases: dict[int, tuple[str, int]] = {}
        props: dict[str, Any] = {}
        for m in p.metrics:
            if not m.name or not m.HasField("datatype"):
                return Reject("schema", "a DBIRTH metric without its name or datatype")
            if m.HasField("alias"):
                aliases[m.alias] = (m.name, m.datatype)
            try:
                channel, path = spb.field_of(m.name)
                value = spb.get_value(m)
            except ValueError as exc:
                return Reject("schema", str(exc)[:300])
            if channel == "status" and value is not None:
                props[path] = value
        try:
            data = {"online": True, **spb.unflatten(props)}
        except ValueError as exc:
            return Reject("schema", str(exc)[:300])
        if p.HasField("timestamp"):
            data["ts"] = p.timestamp
        got = check(TopicParts(*plant, *line, machine, "status"), data, now_ms, max_future_ms)
        if isinstance(got, Reject):
            return got
        if self._remember(key, machine):
            self.aliases[dev] = aliases
        return [got]

    def _data(
        self, p: Any, plant: Key, line: Key, machine: str, dev: tuple[str, str, str], key: Key,
        now_ms: int, max_future_ms: int,
    ) -> list[Record] | Reject:  # fmt: skip
        known = self.aliases.get(dev, {})
        channels: set[str] = set()
        fields: dict[str, Any] = {}
        seq = None
        stamps: set[int] = set()
        for m in p.metrics:
            name, dt = m.name or None, None
            if m.HasField("alias"):
                named = known.get(m.alias)
                if named is not None:
                    name, dt = name or named[0], named[1]
                else:
                    fixed = spb.FIXED_BY_CODE.get(m.alias % spb.SLOT)
                    if fixed is not None and name in (None, fixed.name):
                        name, dt = fixed.name, fixed.datatype
            if name is None and not m.HasField("alias"):
                return Reject("schema", "a DDATA metric with neither a name nor an alias")
            if name is None:
                self._ask(key)
                return Reject(
                    "unknown_alias",
                    f"alias {m.alias} of {machine} is in no DBIRTH seen (rebirth asked)",
                )
            if dt is None:
                fixed = spb.FIXED_BY_NAME.get(name)
                dt = fixed.datatype if fixed is not None else None
            try:
                channel, path = spb.field_of(name)
                value = spb.get_value(m, dt)
            except ValueError as exc:
                return Reject("schema", f"{name[:80]}: {str(exc)[:200]}")
            if m.HasField("timestamp"):
                stamps.add(m.timestamp)
            if channel == spb.DERIVED:
                continue  # PackML: the state says it
            if channel is None:
                seq = value
                continue
            channels.add(channel)
            fields[path] = value
        if len(channels) != 1:
            return Reject(
                "schema",
                f"a DDATA carries the fields of exactly one channel, not {sorted(channels)}",
            )
        if len(stamps) > 1:
            return Reject("schema", "the metrics of one DDATA have different timestamps")
        try:
            data = spb.unflatten(fields)
        except ValueError as exc:
            return Reject("schema", str(exc)[:300])
        ts = p.timestamp if p.HasField("timestamp") else next(iter(stamps), None)
        data.update({"ts": ts, "seq": seq})
        (channel,) = channels
        got = check(TopicParts(*plant, *line, machine, channel), data, now_ms, max_future_ms)
        if isinstance(got, Reject):
            return got
        self._remember(key, machine)
        return [got]

    def _ask(self, key: Key) -> None:
        now = time.monotonic()
        if self.request_rebirth is None or now - self._asked.get(key, -1e9) < REBIRTH_EVERY_S:
            return
        while self._sent and now - self._sent[0] >= 60.0:
            self._sent.popleft()
        if len(self._sent) >= self.rebirths_per_min:
            self._drop(
                "rebirth",
                f"no rebirth request to {key[0]}/{key[1]}: {self.rebirths_per_min} went out "
                "in the last minute",
            )
            return
        if len(self._asked) >= self.max_nodes:
            # Only the last REBIRTH_EVERY_S matter, and at most rebirths_per_min went out.
            self._asked = {k: t for k, t in self._asked.items() if now - t < REBIRTH_EVERY_S}
        self._asked[key] = now
        self._sent.append(now)
        self.request_rebirth(*key)


def _bd_seq(p: Any) -> int | None:
    for m in p.metrics:
        if m.name == spb.BD_SEQ:
            try:
                v = spb.get_value(m)
            except ValueError:
                return None
            return v if isinstance(v, int) else None
    return None
