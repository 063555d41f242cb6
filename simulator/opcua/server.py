"""The OPC UA server of a running plant: a sink that serves what the simulator emits
(docs/opcua.md).

The simulation thread hands each message to `emit`, which only appends it to a queue; the
server runs in its own thread with its own asyncio loop (asyncua) and writes the queued messages
into the address space in order, each value stamped with its message's sim-clock `ts` as the
source timestamp. While the server keeps up (a live run) every message is written, so a
subscribed client sees every change; when the simulation runs far ahead of it (a `--fast`
backfill) the queue is cut down to each topic's newest message, so a client sees the plant jump
to the latest values instead of a replay hours late.

Method calls become commands of the command contract, put into the simulator's command inbox
like a message on a `cmd` topic; the simulator validates and applies them and emits its reply,
which comes back through `emit`: the method answers with that reply, or with a Bad status code
and the reply's error text.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from shopfloor import packml
from shopfloor.commands import LIVE_PARAMS, cmd_topic, is_reply
from shopfloor.config.schema import PlantConfig
from shopfloor.contract import STATE_CODE, parse_topic
from shopfloor.kpi import STATES
from simulator.kinds import KINDS
from simulator.opcua import mapping
from simulator.opcua.security import (
    APP_URI,
    Credentials,
    OpcUaConfigError,
    PasswordUserManager,
    credentials,
    parse_endpoint,
)

log = logging.getLogger("shopfloor.sim.opcua")

NAMESPACE = "urn:shopfloor:plant"
# Queued messages beyond which the queue keeps only each topic's newest (a backfill outruns
# the server; a live plant of hundreds of machines at 1 s samples stays far below it).
MAX_BACKLOG = 50_000
METHOD_TIMEOUT_S = 10.0
CLOSE_DRAIN_S = 10.0
CLOSE_PUBLISH_S = 3.0
MANUFACTURER = "shopfloor simulator"
# A batch this long means the server is behind the simulation (a backfill): only each topic's
# newest message is written. A live plant's batches are a few messages (one drain per wake).
BEHIND_BATCH = 5_000
YIELD_EVERY = 100  # messages written between two turns of the event loop
ORDER_SUFFIX = "/order"


def _ts(ms: int | None) -> datetime:
    if ms is None:
        return datetime.now(UTC)
    return datetime.fromtimestamp(ms / 1000.0, UTC)


@dataclass
class _Machine:
    path: str  # <area>/<line>/<machine>
    machine_id: str
    nodes: dict[str, Any] = field(default_factory=dict)  # name -> NodeId
    pv: dict[str, Any] = field(default_factory=dict)  # process value -> NodeId
    params: dict[str, Any] = field(default_factory=dict)  # config key path -> NodeId
    object_id: Any = None
    order: str | None = None  # the current order (first station of a line with orders)
    folder_pv: Any = None


class OpcUaSink:
    """A sink (simulator/sinks.py) that serves the plant over OPC UA; see the module docstring.

    `submit(topic, raw)`: how a method call reaches the simulator's command inbox (None: the run
    takes no commands, and methods answer BadNotSupported); it returns False when the inbox is
    full (simulator/commands.py), and the method answers BadTooManyOperations at once."""

    def __init__(
        self,
        cfg: PlantConfig,
        url: str,
        *,
        certs_dir: Path,
        username: str | None = None,
        password: str | None = None,
        packml_state: bool = False,
        submit: Callable[[str, bytes], bool | None] | None = None,
    ):
        self.cfg = cfg
        self.endpoint = parse_endpoint(url)
        self.creds: Credentials | None = credentials(username, password, self.endpoint)
        self.certs_dir = certs_dir
        self.packml = packml_state
        self.submit = submit
        self.count = 0
        self.written = 0  # messages written into the address space
        self.coalesced = 0  # messages dropped by a backlog cut (backfill)
        self._q: deque[tuple[str, dict[str, Any]]] = deque()
        self._lock = threading.Lock()
        self._kicked = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._server: Any = None
        self._machines: dict[str, _Machine] = {}  # path -> machine
        self._by_id: dict[str, _Machine] = {}
        self._site: dict[str, Any] = {}
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._idle = threading.Event()
        self._idle.set()
        self._state_nodes: dict[tuple[str, str], Any] = {}
        self.ns = 0
        self._enum: Any = None
        self._tasks: set[asyncio.Future[None]] = set()
        self._serving: asyncio.AbstractEventLoop | None = None  # set once the server listens

    # -- the simulation thread's side ---------------------------------------------------

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the server thread and wait until it listens; raises OpcUaConfigError (a clear
        message) if it cannot."""
        self._thread = threading.Thread(target=self._thread_main, name="opcua", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise OpcUaConfigError(f"the OPC UA server did not start in {timeout_s:g} s")
        if self._error is not None:
            err = self._error
            if isinstance(err, OpcUaConfigError):
                raise err
            if isinstance(err, OSError):
                raise OpcUaConfigError(
                    f"--opcua {self.endpoint.url}: cannot listen on {self.endpoint.host}:"
                    f"{self.endpoint.port}: {err.strerror or err}"
                ) from None
            raise OpcUaConfigError(f"--opcua {self.endpoint.url}: {err}") from None
        log.info("OPC UA server at %s", self.endpoint.url)

    def emit(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        self.count += 1
        with self._lock:
            q = self._q
            q.append((topic, payload))
            if len(q) > MAX_BACKLOG:
                self._cut_backlog()
            if self._kicked:
                return
            self._kicked = True
            self._idle.clear()
        loop = self._serving
        if loop is not None:
            loop.call_soon_threadsafe(self._kick)

    def _cut_backlog(self) -> None:
        self._q = self._newest(self._q)

    def _newest(
        self, queue: deque[tuple[str, dict[str, Any]]]
    ) -> deque[tuple[str, dict[str, Any]]]:
        """Each topic's newest message (every topic's payload is a whole snapshot of what it
        carries), every reply (a method call waits for its own) and every order event (an
        order's start and finish are events, not a value), in order."""
        newest: dict[str, int] = {}
        items = list(queue)
        for i, (topic, _) in enumerate(items):
            newest[topic] = i
        kept = [
            m
            for i, m in enumerate(items)
            if newest[m[0]] == i or is_reply(m[0]) or m[0].endswith(ORDER_SUFFIX)
        ]
        self.coalesced += len(items) - len(kept)
        return deque(kept)

    def flush(self, timeout_s: float = CLOSE_DRAIN_S) -> bool:
        """Wait until every queued message is in the address space; False on timeout."""
        return self._idle.wait(timeout_s)

    def close(self) -> None:
        """Serve what is queued and let subscriptions publish it, then stop the server."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._idle.wait(CLOSE_DRAIN_S)
        if self._stop is not None and thread.is_alive():
            loop.call_soon_threadsafe(self._stop.set)
        thread.join(CLOSE_DRAIN_S + CLOSE_PUBLISH_S + 5.0)
        if self.coalesced:
            log.info(
                "OPC UA: %d messages served, %d older values skipped while the run was ahead "
                "of the server (backfill)",
                self.written,
                self.coalesced,
            )

    # -- the server thread ---------------------------------------------------------------

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(), or logged
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
            else:
                log.exception("the OPC UA server stopped")
        finally:
            self._idle.set()
            with contextlib.suppress(Exception):
                loop.close()

    async def _serve(self) -> None:
        from asyncua import Server, ua

        # asyncua logs every request and its own warnings at INFO/WARNING: too loud for a run log.
        logging.getLogger("asyncua").setLevel(logging.ERROR)
        self._stop = asyncio.Event()
        self._drain_lock = asyncio.Lock()
        anonymous = self.endpoint.loopback
        server = Server(user_manager=PasswordUserManager(self.creds, anonymous))
        await server.init()
        server.set_endpoint(self.endpoint.url)
        p = self.cfg.plant
        server.set_server_name(f"shopfloor {p.enterprise}/{p.site}")
        await server.set_application_uri(APP_URI)
        policies = []
        tokens: list[type] = []
        if anonymous:
            policies.append(ua.SecurityPolicyType.NoSecurity)
            tokens.append(ua.AnonymousIdentityToken)
        if self.creds is not None:
            from simulator.opcua.security import ensure_certificate

            key, cert = await ensure_certificate(self.certs_dir, self.endpoint.host)
            await server.load_certificate(str(cert))
            await server.load_private_key(str(key))
            policies.append(ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt)
            tokens.append(ua.UserNameIdentityToken)
        server.set_security_policy(policies)
        server.set_identity_tokens(tokens)
        self._server = server
        await self._build(server)
        await server.start()
        try:
            self._serving = asyncio.get_running_loop()
            self._ready.set()
            self._kick()
            await self._stop.wait()
            await self._drain()
            await self._wait_published(server)
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.cancel()
            await server.stop()

    async def _wait_published(self, server: Any) -> None:
        """Give subscribed clients the changes written last (they are sent at each publishing
        interval, on the client's publish requests)."""
        deadline = time.monotonic() + CLOSE_PUBLISH_S
        subs = server.iserver.subscription_service.subscriptions
        while time.monotonic() < deadline:
            if not any(s.has_published_results() for s in list(subs.values())):
                return
            await asyncio.sleep(0.05)

    def _kick(self) -> None:
        task = asyncio.ensure_future(self._drain())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        # One drain at a time: two interleaving at their awaits would write out of order.
        async with self._drain_lock:
            await self._drain_queue()

    async def _drain_queue(self) -> None:
        while True:
            with self._lock:
                if not self._q:
                    self._kicked = False
                    self._idle.set()
                    return
                batch = self._q
                self._q = deque()
                if len(batch) > BEHIND_BATCH:
                    batch = self._newest(batch)
            for i, (topic, payload) in enumerate(batch, 1):
                try:
                    await self._apply(topic, payload)
                except Exception:
                    log.exception("OPC UA: could not serve %s", topic)
                self.written += 1
                if i % YIELD_EVERY == 0:
                    # A write never waits on I/O, so a long batch (every machine's birth at
                    # once) would hold the loop for seconds: clients' publish and read
                    # requests would wait, and a client's watchdog would drop the connection.
                    await asyncio.sleep(0)

    # -- the address space ---------------------------------------------------------------

    async def _build(self, server: Any) -> None:
        from asyncua import ua
        from asyncua.common.structures104 import new_enum

        idx = self.ns = await server.register_namespace(NAMESPACE)
        p = self.cfg.plant
        enum_id = await new_enum(server, idx, "MachineStateEnum", list(STATES))
        self._enum = enum_id.nodeid
        objects = server.nodes.objects
        await self._state_machine_types(server, idx)
        ent = await objects.add_folder(
            ua.NodeId(p.enterprise, idx), ua.QualifiedName(p.enterprise, idx)
        )
        site_path = f"{p.enterprise}/{p.site}"
        site = await ent.add_object(ua.NodeId(site_path, idx), ua.QualifiedName(p.site, idx))
        self._site["Speed"] = await self._var(site, f"{site_path}.Speed", "Speed", None, "Double")
        set_speed = await site.add_method(
            ua.NodeId(f"{site_path}.SetSpeed", idx),
            ua.QualifiedName("SetSpeed", idx),
            self._set_speed,
            [_arg("Speed", ua.VariantType.Double, "sim seconds per wall second")],
            [_arg("Reply", ua.VariantType.String, "the command reply (JSON)")],
        )
        del set_speed
        areas: dict[str, Any] = {}
        for line in self.cfg.lines:
            area = areas.get(line.area)
            if area is None:
                area = areas[line.area] = await site.add_folder(
                    ua.NodeId(f"{site_path}/{line.area}", idx), ua.QualifiedName(line.area, idx)
                )
            line_path = f"{site_path}/{line.area}/{line.id}"
            line_node = await area.add_folder(
                ua.NodeId(line_path, idx), ua.QualifiedName(line.id, idx)
            )
            for spec in line.stations:
                await self._machine(server, idx, line_node, line, spec)

    async def _state_machine_types(self, server: Any, idx: int) -> None:
        """The states of MachineryItemState and MachineryOperationMode as StateType objects
        (their numbers as OPC 40001-1 gives them), so CurrentState.Id points at a node."""
        from asyncua import ua

        types = await server.nodes.objects.add_folder(
            ua.NodeId("StateMachines", idx), ua.QualifiedName("StateMachines", idx)
        )
        for machine_name, states in (
            ("MachineryItemState", mapping.ITEM_STATES),
            ("MachineryOperationMode", mapping.OPERATION_MODES),
        ):
            folder = await types.add_folder(
                ua.NodeId(f"StateMachines/{machine_name}", idx), ua.QualifiedName(machine_name, idx)
            )
            for name, number in states.items():
                node = await folder.add_object(
                    ua.NodeId(f"StateMachines/{machine_name}/{name}", idx),
                    ua.QualifiedName(name, idx),
                    objecttype=ua.ObjectIds.StateType,
                )
                num = await node.get_child("0:StateNumber")
                await num.write_value(ua.Variant(number, ua.VariantType.UInt32))
                self._state_nodes[(machine_name, name)] = node.nodeid

    async def _var(
        self, parent: Any, nodeid: str, name: str, value: Any, vtype: str, prop: bool = False
    ) -> Any:
        from asyncua import ua

        vt = getattr(ua.VariantType, vtype)
        nid = ua.NodeId(nodeid, self.ns)
        qn = ua.QualifiedName(name, self.ns)
        # No value before the first message: a null of the variable's data type.
        variant = ua.Variant(None, ua.VariantType.Null) if value is None else ua.Variant(value, vt)
        add = parent.add_property if prop else parent.add_variable
        node = await add(nid, qn, variant, datatype=ua.NodeId(vt.value))
        return node.nodeid

    async def _machine(self, server: Any, idx: int, parent: Any, line: Any, spec: Any) -> None:
        from asyncua import ua

        p = self.cfg.plant
        path = f"{line.area}/{line.id}/{spec.id}"
        base = f"{p.enterprise}/{p.site}/{path}"
        m = _Machine(path, spec.id)
        obj = await parent.add_object(ua.NodeId(base, idx), ua.QualifiedName(spec.id, idx))
        m.object_id = obj.nodeid
        ident = await obj.add_object(
            ua.NodeId(f"{base}.Identification", idx), ua.QualifiedName("Identification", idx)
        )
        # Config keys a realism helper may add (manufacturer, model, serial) win over defaults.
        manufacturer = getattr(spec, "manufacturer", None) or MANUFACTURER
        model = getattr(spec, "model", None) or spec.kind
        serial = getattr(spec, "serial_number", None) or f"{p.site}-{line.id}-{spec.id}"
        for name, value, vt in (
            ("Manufacturer", ua.LocalizedText(manufacturer), "LocalizedText"),
            ("Model", ua.LocalizedText(model), "LocalizedText"),
            ("SerialNumber", serial, "String"),
            ("ProductInstanceUri", f"urn:shopfloor:{p.enterprise}:{p.site}:{path}", "String"),
        ):
            await self._var(ident, f"{base}.Identification.{name}", name, value, vt, prop=True)
        blocks = await obj.add_folder(
            ua.NodeId(f"{base}.MachineryBuildingBlocks", idx),
            ua.QualifiedName("MachineryBuildingBlocks", idx),
        )
        for sm in ("MachineryItemState", "MachineryOperationMode"):
            # The shape of a FiniteStateMachineType instance (abstract in namespace 0, and the
            # Machinery nodeset is not loaded): CurrentState with its Id and Number.
            sm_node = await blocks.add_object(
                ua.NodeId(f"{base}.{sm}", idx), ua.QualifiedName(sm, idx)
            )
            current = await sm_node.add_variable(
                ua.NodeId(f"{base}.{sm}.CurrentState", idx),
                ua.QualifiedName("CurrentState", 0),
                ua.Variant(None, ua.VariantType.Null),
                datatype=ua.NodeId(ua.ObjectIds.LocalizedText),
            )
            m.nodes[f"{sm}.CurrentState"] = current.nodeid
            for name, vt in (("Id", ua.VariantType.NodeId), ("Number", ua.VariantType.UInt32)):
                prop = await current.add_property(
                    ua.NodeId(f"{base}.{sm}.CurrentState.{name}", idx),
                    ua.QualifiedName(name, 0),
                    ua.Variant(None, ua.VariantType.Null),
                    datatype=ua.NodeId(vt.value),
                )
                m.nodes[f"{sm}.{name}"] = prop.nodeid
        nodes = m.nodes
        state = await obj.add_variable(
            ua.NodeId(f"{base}.State", idx),
            ua.QualifiedName("State", idx),
            ua.Variant(0, ua.VariantType.Int32),
            datatype=self._enum,
        )
        nodes["State"] = state.nodeid
        for name, vt in (
            ("StateText", "String"),
            ("Reason", "String"),
            ("Online", "Boolean"),
            ("TotalCount", "UInt64"),
            ("GoodCount", "UInt64"),
            ("ScrapCount", "UInt64"),
            ("PowerKw", "Double"),
            ("EnergyKwh", "Double"),
            ("CurrentOrder", "String"),
        ):
            nodes[name] = await self._var(obj, f"{base}.{name}", name, None, vt)
        if self.packml:
            for name, vt in (
                ("PackMLState", "String"),
                ("PackMLStateCode", "Int32"),
                ("PackMLUnitMode", "String"),
                ("PackMLUnitModeCode", "Int32"),
            ):
                nodes[name] = await self._var(obj, f"{base}.{name}", name, None, vt)
        m.folder_pv = await obj.add_folder(
            ua.NodeId(f"{base}.ProcessValues", idx), ua.QualifiedName("ProcessValues", idx)
        )
        for pv in KINDS[spec.kind].values:
            m.pv[pv.name] = await self._var(
                m.folder_pv, f"{base}.ProcessValues.{pv.name}", pv.name, None, "Double"
            )
        params = await obj.add_folder(
            ua.NodeId(f"{base}.Parameters", idx), ua.QualifiedName("Parameters", idx)
        )
        values = _params(spec, line)
        for key, value in values.items():
            vt = "String" if isinstance(value, str) else "Double"
            m.params[key] = await self._var(params, f"{base}.Parameters.{key}", key, value, vt)
        await obj.add_method(
            ua.NodeId(f"{base}.Breakdown", idx),
            ua.QualifiedName("Breakdown", idx),
            self._breakdown,
            [
                _arg("Reason", ua.VariantType.String, "failure reason; empty: injected"),
                _arg("RepairMin", ua.VariantType.Double, "repair minutes; 0: the machine's MTTR"),
            ],
            [_arg("Reply", ua.VariantType.String, "the command reply (JSON)")],
        )
        await obj.add_method(
            ua.NodeId(f"{base}.SetParameter", idx),
            ua.QualifiedName("SetParameter", idx),
            self._set_parameter,
            [
                _arg("Name", ua.VariantType.String, "a live parameter: " + ", ".join(LIVE_PARAMS)),
                _arg("Value", ua.VariantType.Double, "its new value"),
            ],
            [_arg("Reply", ua.VariantType.String, "the command reply (JSON)")],
        )
        self._machines[path] = m
        self._by_id[spec.id] = m

    # -- messages into the address space --------------------------------------------------

    async def _write(self, nodeid: Any, value: Any, vtype: Any, ts: datetime) -> None:
        from asyncua import ua

        dv = ua.DataValue(
            ua.Variant(value, vtype), SourceTimestamp=ts, ServerTimestamp=datetime.now(UTC)
        )
        status = await self._server.write_attribute_value(nodeid, dv)
        if status is not None and not status.is_good():
            log.warning("OPC UA: writing %s to %s: %s", value, nodeid, status.name)

    async def _apply(self, topic: str, payload: dict[str, Any]) -> None:
        from asyncua import ua

        VT = ua.VariantType
        if is_reply(topic):
            await self._reply(topic, payload)
            return
        parts = parse_topic(topic)
        if parts is None:
            return
        m = self._machines.get(f"{parts.area}/{parts.line}/{parts.machine}")
        if m is None:
            return
        ts = _ts(payload.get("ts"))
        n = m.nodes
        ch = parts.channel
        if ch == "state":
            state, reason = payload["state"], payload.get("reason", "")
            await self._write(n["State"], STATE_CODE[state], VT.Int32, ts)
            await self._write(n["StateText"], state, VT.String, ts)
            await self._write(n["Reason"], reason, VT.String, ts)
            await self._machinery(
                m, mapping.item_state(state, reason), mapping.operation_mode(state, reason), ts
            )
            if self.packml:
                mode = packml.unit_mode(state, reason)
                await self._write(n["PackMLState"], packml.state(state), VT.String, ts)
                await self._write(n["PackMLStateCode"], packml.state_code(state), VT.Int32, ts)
                await self._write(n["PackMLUnitMode"], mode, VT.String, ts)
                await self._write(
                    n["PackMLUnitModeCode"], packml.UNIT_MODE_CODES[mode], VT.Int32, ts
                )
        elif ch == "count":
            await self._write(n["TotalCount"], payload["total"], VT.UInt64, ts)
            await self._write(n["GoodCount"], payload["good"], VT.UInt64, ts)
            await self._write(n["ScrapCount"], payload["scrap"], VT.UInt64, ts)
        elif ch == "telemetry":
            for key, value in payload.items():
                if key in ("ts", "seq"):
                    continue
                if key == "power_kw":
                    await self._write(n["PowerKw"], float(value), VT.Double, ts)
                elif isinstance(value, int | float) and not isinstance(value, bool):
                    nid = m.pv.get(key)
                    if nid is None:
                        nid = await self._new_pv(m, key)
                    await self._write(nid, float(value), VT.Double, ts)
        elif ch == "energy":
            await self._write(n["EnergyKwh"], float(payload["energy_kwh"]), VT.Double, ts)
        elif ch == "status":
            online = bool(payload.get("online"))
            await self._write(n["Online"], online, VT.Boolean, ts)
            if not online:
                await self._machinery(m, "NotAvailable", "None", ts)
        elif ch == "order":
            await self._order(m, payload, ts)

    async def _order(self, m: _Machine, payload: dict[str, Any], ts: datetime) -> None:
        """Orders enter a line at its first station (the `order` channel's topic): its current
        order is the last one started there, until that one finishes."""
        from asyncua import ua

        order_id, event = payload.get("order_id"), payload.get("event")
        if event == "started":
            m.order = order_id
        elif event == "finished" and m.order == order_id:
            m.order = ""
        else:
            return
        await self._write(m.nodes["CurrentOrder"], m.order, ua.VariantType.String, ts)

    async def _new_pv(self, m: _Machine, key: str) -> Any:
        p = self.cfg.plant
        base = f"{p.enterprise}/{p.site}/{m.path}"
        nid = await self._var(m.folder_pv, f"{base}.ProcessValues.{key}", key, None, "Double")
        m.pv[key] = nid
        return nid

    async def _machinery(self, m: _Machine, item: str, mode: str, ts: datetime) -> None:
        from asyncua import ua

        for sm, name in (("MachineryItemState", item), ("MachineryOperationMode", mode)):
            await self._write(
                m.nodes[f"{sm}.CurrentState"],
                ua.LocalizedText(name, "en"),
                ua.VariantType.LocalizedText,
                ts,
            )
            await self._write(
                m.nodes[f"{sm}.Id"], self._state_nodes[(sm, name)], ua.VariantType.NodeId, ts
            )
            number = (
                mapping.ITEM_STATES if sm == "MachineryItemState" else mapping.OPERATION_MODES
            )[name]
            await self._write(m.nodes[f"{sm}.Number"], number, ua.VariantType.UInt32, ts)

    async def _reply(self, topic: str, payload: dict[str, Any]) -> None:
        from asyncua import ua

        cmd_id = payload.get("id")
        fut = self._pending.pop(cmd_id, None) if isinstance(cmd_id, str) else None
        if fut is not None and not fut.done():
            fut.set_result(payload)
        if not payload.get("ok"):
            return
        ts = _ts(payload.get("ts"))
        result = payload.get("result") or {}
        if payload.get("action") == "set_speed" and isinstance(result.get("speed"), int | float):
            await self._write(
                self._site["Speed"], float(result["speed"]), ua.VariantType.Double, ts
            )
        elif payload.get("action") == "set":
            m = self._by_id.get(result.get("machine", ""))
            if m is not None:
                for key, value in (result.get("values") or {}).items():
                    nid = m.params.get(key)
                    if nid is not None:
                        await self._write(nid, float(value), ua.VariantType.Double, ts)

    # -- methods: commands of the command contract ----------------------------------------

    async def _command(self, topic: str, cmd: dict[str, Any]) -> Any:
        from asyncua import ua

        if self.submit is None:
            return _bad(ua.StatusCodes.BadNotSupported, "this run takes no commands")
        cmd_id = f"opcua-{next(self._ids)}"
        cmd["id"] = cmd_id
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[cmd_id] = fut
        if self.submit(topic, orjson.dumps(cmd)) is False:
            self._pending.pop(cmd_id, None)
            return _bad(
                ua.StatusCodes.BadTooManyOperations,
                "the simulator's command inbox is full: the command was dropped, try again",
            )
        try:
            reply = await asyncio.wait_for(fut, METHOD_TIMEOUT_S)
        except (TimeoutError, asyncio.CancelledError):
            self._pending.pop(cmd_id, None)
            return _bad(
                ua.StatusCodes.BadTimeout, f"no reply from the simulator in {METHOD_TIMEOUT_S:g} s"
            )
        if not reply.get("ok"):
            return _bad(ua.StatusCodes.BadInvalidArgument, str(reply.get("error", "")))
        return [ua.Variant(orjson.dumps(reply).decode(), ua.VariantType.String)]

    def _machine_topic(self, parent: Any) -> str | None:
        p = self.cfg.plant
        prefix = f"{p.enterprise}/{p.site}/"
        ident = parent.Identifier if isinstance(parent.Identifier, str) else ""
        path = ident.removeprefix(prefix)
        if path not in self._machines:
            return None
        return cmd_topic(p.enterprise, p.site, path)

    async def _set_speed(self, parent: Any, *args: Any) -> Any:
        from asyncua import ua

        if len(args) != 1:
            return _bad(ua.StatusCodes.BadArgumentsMissing, "SetSpeed takes one argument: Speed")
        p = self.cfg.plant
        return await self._command(
            cmd_topic(p.enterprise, p.site), {"action": "set_speed", "speed": _value(args[0])}
        )

    async def _breakdown(self, parent: Any, *args: Any) -> Any:
        from asyncua import ua

        topic = self._machine_topic(parent)
        if topic is None:
            return _bad(ua.StatusCodes.BadNodeIdInvalid, "Breakdown is a method of a machine")
        if len(args) != 2:
            return _bad(
                ua.StatusCodes.BadArgumentsMissing,
                "Breakdown takes two arguments: Reason, RepairMin",
            )
        reason, repair = _value(args[0]), _value(args[1])
        cmd: dict[str, Any] = {"action": "breakdown"}
        if reason not in (None, ""):
            cmd["reason"] = reason
        if repair not in (None, 0, 0.0):
            cmd["repair_min"] = repair
        return await self._command(topic, cmd)

    async def _set_parameter(self, parent: Any, *args: Any) -> Any:
        from asyncua import ua

        topic = self._machine_topic(parent)
        if topic is None:
            return _bad(ua.StatusCodes.BadNodeIdInvalid, "SetParameter is a method of a machine")
        if len(args) != 2:
            return _bad(
                ua.StatusCodes.BadArgumentsMissing, "SetParameter takes two arguments: Name, Value"
            )
        name, value = _value(args[0]), _value(args[1])
        if not isinstance(name, str):
            return _bad(ua.StatusCodes.BadInvalidArgument, "Name must be a string")
        return await self._command(topic, {"action": "set", "values": {name: value}})


def _value(v: Any) -> Any:
    return getattr(v, "Value", v)


def _bad(code: int, message: str) -> Any:
    """A failed call: the Bad status code, and the reason as the one output argument (asyncua's
    Client raises on the status alone; a client reading the CallMethodResult gets the text)."""
    from asyncua import ua

    log.info("OPC UA method refused: %s", message)
    res = ua.CallMethodResult()
    res.StatusCode = ua.StatusCode(code)
    res.OutputArguments = [ua.Variant(message, ua.VariantType.String)]
    return res


def _arg(name: str, vtype: Any, description: str) -> Any:
    from asyncua import ua

    a = ua.Argument()
    a.Name = name
    a.DataType = ua.NodeId(vtype.value)
    a.ValueRank = -1
    a.Description = ua.LocalizedText(description)
    return a


def _params(spec: Any, line: Any) -> dict[str, Any]:
    """The machine's configured parameters by config key path (what `set` may change, and the
    fixed ones a client wants to see)."""
    out: dict[str, Any] = {"kind": spec.kind, "ideal_cycle_s": float(spec.ideal_cycle_s)}
    cycle = spec.cycle_s
    out["cycle_s.mean"] = float(cycle.mean if cycle else spec.ideal_cycle_s)
    out["cycle_s.cv"] = float(cycle.cv if cycle else 0.0)
    for key in ("mtbf_min", "mttr_min"):
        v = getattr(spec, key)
        out[key] = float(v) if v is not None else float("nan")
    out["scrap_rate"] = float(spec.scrap_rate)
    setup = spec.setup_min
    out["setup_min.mean"] = float(setup.mean) if setup else float("nan")
    out["setup_min.cv"] = float(setup.cv) if setup else float("nan")
    out["buffer"] = float(spec.buffer)
    out["batch_size"] = float(line.batch_size) if line.batch_size else float("nan")
    out["connectivity"] = spec.connectivity
    return out
