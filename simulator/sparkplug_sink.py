"""Publishes the plant as Sparkplug B 3.0 (`shopfloor sim --encoding sparkplug`,
docs/sparkplug.md): one edge node per line, one device per machine.

A sink in front of the MQTT one: the plant emits our JSON messages as always (so a JSONL file
of the same run holds exactly what was published), and each machine message becomes its
Sparkplug counterpart: a birth a DBIRTH (after its line's NBIRTH), a sequenced message one
DDATA by alias, a death a DDEATH. Anything else (command replies) passes through as JSON.

- seq: per edge node, 0 on its NBIRTH, +1 on every DBIRTH, DDATA and DDEATH, wrapping at 256;
  assigned here, in the simulation thread, in the order the MQTT sink's queue keeps.
- bdSeq: per edge node and MQTT session, in the NBIRTH and in the NDEATH that is its MQTT
  will; one up each time the will connection connects again. MQTT allows one will per connection, so each line has a small connection that only
  holds its NDEATH (simulator/wills.py), as each machine's JSON will does. A node's births
  (at start, after a reconnect of the data connection) wait until its will connection proves
  its session at the broker reached now, so an NBIRTH carries the bdSeq of the NDEATH in force;
  its messages wait with them.
- Rebirth: an NCMD `Node Control/Rebirth` (from Ignition, Node-RED, the collector) makes the
  node publish its NBIRTH (seq 0, same bdSeq) and the DBIRTH of every device online, with
  their current values, in the simulation thread at its next step; births asked several ways
  at once (reconnect, will back, NCMD) go out once.
- Births name every metric with its datatype and alias: the fixed ones, the kind's process
  values, the birth's properties. A field seen for the first time later (a channel added to
  the contract) gets an alias and its device is born again before the DDATA that carries it.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from shopfloor import contract
from shopfloor import sparkplug as spb
from shopfloor.mqtt_url import BrokerUrl
from simulator.kinds import KINDS
from simulator.wills import WillKeepers

log = logging.getLogger("shopfloor.sim.sparkplug")
# A node's births go out again on an NCMD Rebirth at most this often: a flood of NCMDs would
# otherwise make the simulator publish every DBIRTH of the node once per message.
REBIRTH_MIN_INTERVAL_S = 1.0
# At start and after the data connection reconnects, a node's births wait for its will
# connection to prove its session (and so the bdSeq of its NDEATH) at the broker reached now:
# its answer to a probe, or its own reconnect. Past this, or this many messages of the node
# held meanwhile (a --fast run), the births go out with the bdSeq known: a broken will
# connection must not silence a node, and when it does come back its births follow with the
# new bdSeq.
WILL_WAIT_S = 15.0
HOLD_MAX = 10_000

# Fields every device may send, announced in its first DBIRTH (null until first sent).
_BASE = [(f.name, f.datatype) for f in spb.FIXED if f.channel != spb.DERIVED]
_PACKML = [(f.name, f.datatype) for f in spb.FIXED if f.channel == spb.DERIVED]


@dataclass
class _Device:
    slot: int
    aliases: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (alias, type)
    values: dict[str, Any] = field(default_factory=dict)  # name -> current value
    next_code: int = spb.DYNAMIC_FROM
    online: bool = False

    def add(self, name: str, datatype: int) -> None:
        fixed = spb.FIXED_BY_NAME.get(name)
        if fixed is not None:
            code = fixed.code
        else:
            code = self.next_code
            self.next_code += 1
            if code >= spb.SLOT:
                raise ValueError(f"more than {spb.SLOT - spb.DYNAMIC_FROM} metrics on a device")
        self.aliases[name] = (self.slot * spb.SLOT + code, datatype)


@dataclass
class _Node:
    group: str
    node: str
    bd_seq: int
    seq: int = 0
    born: bool = False
    ts: int = 0
    devices: dict[str, _Device] = field(default_factory=dict)
    # The plant's messages for this node while its births wait for its will (None: not
    # waiting); converted, with fresh seqs, right after the births.
    held: list[tuple[str, dict[str, Any], bool]] | None = None

    def next_seq(self) -> int:
        self.seq = (self.seq + 1) % spb.SEQ_MOD
        return self.seq


def ndeath(bd_seq: int, ts: int | None = None) -> bytes:
    p = spb.Payload()
    if ts is not None:
        p.timestamp = ts
    spb.set_value(p.metrics.add(name=spb.BD_SEQ), spb.UINT64, bd_seq)
    return p.SerializeToString()


class SparkplugSink:
    def __init__(
        self,
        inner: Any,
        lines: list[tuple[str, str, str, str]],
        *,
        url: BrokerUrl | None = None,
        client_id: str = "shopfloor-sim",
        ca_file: str | None = None,
        packml: bool = False,
        bd_seq: int = 0,
    ):
        """`inner`: the MQTT sink (needs emit_raw); `lines`: (enterprise, site, area, line) of
        every line, the edge nodes; `url`: the broker for the NDEATH wills (None: no wills)."""
        self.inner = inner
        self.packml = packml
        self.nodes: dict[tuple[str, str, str, str], _Node] = {}
        for ent, site, area, line in lines:
            self.nodes[(ent, site, area, line)] = _Node(
                spb.group_id(ent, site), spb.node_id(area, line), bd_seq % spb.SEQ_MOD
            )
        self._parts: dict[str, contract.TopicParts | None] = {}
        self._rebirths: deque[str] = deque()  # NCMD topics, from the network thread
        self.rebirths = 0
        self.rebirths_refused = 0  # NCMD Rebirths pending already or too soon after the last
        self._reborn_at: dict[str, float] = {}  # NCMD topic -> when its births last went out
        self._reconnects = 0  # the MQTT sink's reconnects already answered with births
        # Wills' thread -> simulation thread, in order: (i, bdSeq) when will connection i
        # registered a new NDEATH with that bdSeq, (i, None) when it answered a probe.
        self._events: deque[tuple[int, int | None]] = deque()
        self._waiting: dict[int, float] = {}  # will index -> when its node stops waiting
        self._by_will: list[_Node] = []
        self.wills = None
        if url is not None:
            self._by_will = list(self.nodes.values())
            # The wills' thread's own count, so only the simulation thread writes node.bd_seq.
            self._will_bd = [n.bd_seq for n in self._by_will]
            self.wills = WillKeepers(
                url,
                [spb.topic(n.group, "NDEATH", n.node) for n in self._by_will],
                f"{client_id}-spb",
                [ndeath(n.bd_seq) for n in self._by_will],
                ca_file,
                retain=False,
                on_reconnect=self._will_back,
                will_again=self._next_session,
                on_alive=self._will_alive,
            )
            # Nothing of a node before its NDEATH will is registered (Sparkplug: the will is in
            # the CONNECT before any NBIRTH): its first messages wait for the will's CONNACK.
            until = time.monotonic() + WILL_WAIT_S
            for i, node in enumerate(self._by_will):
                node.held = []
                self._waiting[i] = until
                self.wills.probe(i)

    # -- what the plant emits ----------------------------------------------------------------

    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        if (
            self._rebirths
            or self._events
            or self._waiting
            or self._reconnects != getattr(self.inner, "reconnects", 0)
        ):
            self._catch_up()
        parts = self._parts.get(topic, False)
        if parts is False:
            parts = self._parts[topic] = contract.parse_topic(topic)
        if parts is None or parts.channel not in (*contract.SEQ_CHANNELS, "status"):
            self.inner.emit(topic, payload, retain)
            return
        key = (parts.enterprise, parts.site, parts.area, parts.line)
        node = self.nodes.get(key)
        if node is None:  # a line not given at start: an edge node without a will
            node = self.nodes[key] = _Node(
                spb.group_id(parts.enterprise, parts.site), spb.node_id(parts.area, parts.line), 0
            )
        if node.held is not None:
            node.held.append((topic, payload, retain))
            if len(node.held) >= HOLD_MAX:
                self._stop_waiting(node, f"holds {len(node.held)} messages")
            return
        self._convert(node, parts, payload)

    def _convert(self, node: _Node, parts: contract.TopicParts, payload: dict[str, Any]) -> None:
        ts = payload.get("ts")
        if ts is not None:
            node.ts = ts
        if parts.channel == "status":
            if payload.get("online"):
                self._device_birth(node, parts.machine, payload)
            else:
                self._device_death(node, parts.machine)
            return
        self._data(node, parts.machine, parts.channel, payload)

    def _device(self, node: _Node, machine: str, status: dict[str, Any] | None) -> _Device:
        dev = node.devices.get(machine)
        if dev is None:
            position = (status or {}).get("position")
            slot = position + 1 if isinstance(position, int) else len(node.devices) + 1
            dev = node.devices[machine] = _Device(slot)
            for name, dt in _BASE + (_PACKML if self.packml else []):
                dev.add(name, dt)
            kind = KINDS.get((status or {}).get("kind", ""))
            for pv in kind.values if kind is not None else ():
                dev.add(spb.metric_name("telemetry", pv.name), spb.DOUBLE)
        return dev

    def _device_birth(self, node: _Node, machine: str, status: dict[str, Any]) -> None:
        if not node.born:
            self._node_birth(node)
        dev = self._device(node, machine, status)
        for path, value in spb.flatten(status, skip=("ts", "online")).items():
            name = spb.metric_name("status", path)
            if name not in dev.aliases:
                dev.add(name, spb.datatype_of(value))
            dev.values[name] = value
        dev.online = True
        self._publish_dbirth(node, machine, dev)

    def _node_birth(self, node: _Node) -> None:
        node.born = True
        node.seq = 0
        p = spb.Payload(timestamp=node.ts, seq=0)
        spb.set_value(p.metrics.add(name=spb.BD_SEQ, timestamp=node.ts), spb.UINT64, node.bd_seq)
        spb.set_value(p.metrics.add(name=spb.REBIRTH, timestamp=node.ts), spb.BOOLEAN, False)
        self.inner.emit_raw(
            spb.topic(node.group, "NBIRTH", node.node), p.SerializeToString(), False
        )

    def _publish_dbirth(self, node: _Node, machine: str, dev: _Device) -> None:
        p = spb.Payload(timestamp=node.ts, seq=node.next_seq())
        for name, (alias, dt) in dev.aliases.items():
            m = p.metrics.add(name=name, alias=alias, timestamp=node.ts)
            spb.set_value(m, dt, dev.values.get(name))
        self.inner.emit_raw(
            spb.topic(node.group, "DBIRTH", node.node, machine), p.SerializeToString(), False
        )

    def _device_death(self, node: _Node, machine: str) -> None:
        dev = node.devices.get(machine)
        if dev is None or not dev.online:
            return
        dev.online = False
        p = spb.Payload(timestamp=node.ts, seq=node.next_seq())
        self.inner.emit_raw(
            spb.topic(node.group, "DDEATH", node.node, machine), p.SerializeToString(), False
        )

    def _data(self, node: _Node, machine: str, channel: str, payload: dict[str, Any]) -> None:
        dev = node.devices.get(machine)
        if dev is None or not dev.online:
            # Data before a birth: born with what we know (nothing of its properties).
            self._device_birth(node, machine, {})
            dev = node.devices[machine]
        values = {spb.metric_name(channel, f): v for f, v in spb.flatten(payload).items()}
        if self.packml and channel == "state":
            values.update(spb.packml_fields(payload["state"], payload.get("reason", "")))
        values["Seq"] = payload["seq"]
        changed = False
        for name, value in values.items():
            have = dev.aliases.get(name)
            if have is None:
                dev.add(name, spb.datatype_of(value))
                changed = True
            elif have[1] == spb.INT64 and isinstance(value, float):
                dev.aliases[name] = (have[0], spb.DOUBLE)  # an integer-valued field turned real
                changed = True
        if changed:
            self._publish_dbirth(node, machine, dev)
        ts = payload["ts"]
        p = spb.Payload(timestamp=ts, seq=node.next_seq())
        aliases = dev.aliases
        for name, value in values.items():
            alias, dt = aliases[name]
            spb.set_value(p.metrics.add(alias=alias, timestamp=ts), dt, value, False)
        dev.values.update(values)
        self.inner.emit_raw(
            spb.topic(node.group, "DDATA", node.node, machine), p.SerializeToString(), False
        )

    # -- rebirth (NCMD) ------------------------------------------------------------------------

    def command_topics(self) -> list[str]:
        return [spb.topic(n.group, "NCMD", n.node) for n in self.nodes.values()]

    def on_ncmd(self, topic: str, payload: bytes) -> None:
        """Network thread: an NCMD arrived; a Rebirth is done in the simulation thread."""
        if spb.asks_rebirth(payload):
            # One pending rebirth per node, and not again within REBIRTH_MIN_INTERVAL_S of
            # its last: the births that answer this request are out already, or about to be.
            if (
                topic in self._rebirths
                or time.monotonic() - self._reborn_at.get(topic, -1e9) < REBIRTH_MIN_INTERVAL_S
            ):
                self.rebirths_refused += 1
                n = self.rebirths_refused
                while n >= 10 and n % 10 == 0:
                    n //= 10
                if n == 1:
                    log.warning(
                        "NCMD Rebirth on %s within %g s of the last (or pending): ignored "
                        "(%d so far)",
                        topic,
                        REBIRTH_MIN_INTERVAL_S,
                        self.rebirths_refused,
                    )
                return
            self._rebirths.append(topic)
            self._wake()

    def _next_session(self, i: int) -> bytes:
        """Wills' thread, before will connection i connects again: a new MQTT session, so a
        new bdSeq (Sparkplug 3.0: one up per session, modulo 256) in the new will and in the
        NBIRTH that follows, so a host never matches the old session's NDEATH to it."""
        self._will_bd[i] = (self._will_bd[i] + 1) % spb.SEQ_MOD
        return ndeath(self._will_bd[i])

    def _will_back(self, i: int) -> None:
        """Wills' thread: will connection i is acknowledged again after it was lost, so the
        broker published the node's NDEATH (or lost it with a restart) while the node lives
        on; its births again, with the new will's bdSeq, bring it back for every host, which
        would otherwise keep the line dead (Ignition blocks node commands, so it does not
        even ask for a rebirth by default)."""
        log.warning(
            "the NDEATH will of %s is registered again (its connection dropped): births again",
            self._by_will[i].node,
        )
        self._events.append((i, self._will_bd[i]))  # deque appends are atomic: no lock
        self._wake()

    def _will_alive(self, i: int) -> None:
        """Wills' thread: will connection i answered a probe; its NDEATH is in force."""
        self._events.append((i, None))
        self._wake()

    def _wake(self) -> None:
        waker = getattr(self.inner, "waker", None)
        if waker is not None:
            waker()

    def _catch_up(self) -> None:
        """Simulation thread: the births owed after a reconnect of the data connection, a will
        connection's news, NCMD Rebirths; each node born at most once per call."""
        owed: dict[int, _Node] = {}  # id(node) -> node: a node asked twice births once
        n = getattr(self.inner, "reconnects", 0)
        if n != self._reconnects:
            self._reconnects = n
            self._data_reconnected(owed)
        reconnecting = getattr(self.inner, "reconnecting", False)
        while self._events:
            i, bd = self._events.popleft()
            node = self._by_will[i]
            if bd is not None:
                node.bd_seq = bd  # the NDEATH registered now
            elif i not in self._waiting:
                continue  # a probe answered after its node stopped waiting
            self._waiting.pop(i, None)
            if node.held is not None or not reconnecting:
                # (A will back while the data connection is lost: that one's reconnect
                # probes the will and brings the births, once.)
                owed[id(node)] = node
        while self._rebirths:
            asked = self._rebirths.popleft()
            self._reborn_at[asked] = time.monotonic()
            t = spb.parse_topic(asked)
            if t is None:
                continue
            for node in self.nodes.values():
                # A node waiting for its will answers with the births it owes already.
                if node.group == t.group and node.node == t.node and node.held is None:
                    owed[id(node)] = node
        if self._waiting:
            now = time.monotonic()
            for i, until in list(self._waiting.items()):
                if now >= until:
                    self._stop_waiting(self._by_will[i], f"no sign of it for {WILL_WAIT_S:g} s")
        for node in owed.values():
            self._births(node)

    def _data_reconnected(self, owed: dict[int, _Node]) -> None:
        """A new MQTT session of the data connection: what a host missed meanwhile shows as a
        seq gap; the births again make every node's state whole without waiting for the
        host's Rebirth request. A broker restart also lost every will connection, which
        comes back with a new bdSeq: so each node's births wait until its will connection
        proves alive at this broker (a probe) or registers its new will, and its messages
        wait with them (no DDATA before its DBIRTH in the new session)."""
        until = time.monotonic() + WILL_WAIT_S
        for i, node in enumerate(self._by_will):
            if node.born and self.wills is not None:
                if node.held is None:
                    node.held = []
                self._waiting[i] = until
                self.wills.probe(i)
        for node in self.nodes.values():
            if node.born and node.held is None:
                owed[id(node)] = node  # an edge node without a will

    def _stop_waiting(self, node: _Node, why: str) -> None:
        self._waiting.pop(self._by_will.index(node), None)
        log.warning(
            "the NDEATH will connection of %s %s: births with bdSeq %d",
            node.node,
            why,
            node.bd_seq,
        )
        self._births(node)

    def _births(self, node: _Node) -> None:
        """The node's NBIRTH and every online device's DBIRTH, then what waited for them."""
        held, node.held = node.held, None
        if node.born:
            self.rebirths += 1
            log.info("edge node %s: publishing its births again", node.node)
            self._node_birth(node)
            for machine, dev in node.devices.items():
                if dev.online:
                    self._publish_dbirth(node, machine, dev)
        for topic, payload, _retain in held or ():
            parts = self._parts[topic]
            if parts is not None:  # always: only a machine's messages are held
                self._convert(node, parts, payload)

    # -- the MQTT sink's life cycle ----------------------------------------------------------

    def pump(self) -> None:
        if (
            self._rebirths
            or self._events
            or self._waiting
            or self._reconnects != getattr(self.inner, "reconnects", 0)
        ):
            self._catch_up()
        self.inner.pump()

    def close(self) -> None:
        self._catch_up()
        for node in self.nodes.values():
            if node.held is not None:  # still waiting for its will: what it held goes out
                self._births(node)
        for node in self.nodes.values():
            if node.born:
                # A clean stop says so itself; the will connections then leave cleanly, which
                # discards their NDEATH (the broker would otherwise send it a second time).
                self.inner.emit_raw(
                    spb.topic(node.group, "NDEATH", node.node), ndeath(node.bd_seq, node.ts), False
                )
        self.inner.close()
        if self.wills is not None:
            self.wills.close()

    def __getattr__(self, name: str) -> Any:  # count, stop_waiting, stats ... of the MQTT sink
        return getattr(self.inner, name)

    @property
    def waker(self) -> Any:
        return getattr(self.inner, "waker", None)

    @waker.setter
    def waker(self, fn: Any) -> None:
        self.inner.waker = fn
