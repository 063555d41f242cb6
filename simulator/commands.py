"""The simulator's side of the command contract (shopfloor.commands): apply each command
that arrives on a `cmd` topic and answer it on `<topic>/reply`.

A bad command gets an error reply and changes nothing; it never stops the simulator.
"""

from __future__ import annotations

import logging
import queue
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError

from shopfloor.commands import (
    MAX_COMMAND_BYTES,
    MAX_REPLY_BYTES,
    Breakdown,
    Command,
    CommandEnvelope,
    Reply,
    SetSpeed,
    Truth,
    cmd_topic,
    error_reply,
    ok_reply,
    parse_command,
    reply_topic,
)
from shopfloor.config.schema import Station as StationSpec
from shopfloor.config.semantics import station_findings
from shopfloor.contract import parse_topic
from shopfloor.validation import format_errors
from simulator.truth import TruthError

if TYPE_CHECKING:
    from simulator.plant import Plant

log = logging.getLogger("shopfloor.sim.cmd")

# Commands received and not yet applied, at most: a client flooding the cmd topic (or a run
# busy for a while) must not grow the simulator's memory without bound. A command is at most
# MAX_COMMAND_BYTES, so the inbox holds a few MB at worst.
MAX_PENDING_COMMANDS = 1000


class CommandInbox:
    """The commands waiting for the simulation thread, filled by the MQTT (or OPC UA) thread.
    A command that arrives while `limit` wait is dropped (it gets no reply), counted in
    `dropped` and logged at the 1st, 10th, 100th... drop, so a flood cannot flood the log
    either. The SimpleQueue interface the Commander uses."""

    def __init__(self, limit: int = MAX_PENDING_COMMANDS):
        self.limit = max(1, limit)
        self.dropped = 0
        self._queue: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()

    def put(self, item: tuple[str, bytes]) -> bool:
        """False when the command was dropped (the inbox was full)."""
        if self._queue.qsize() >= self.limit:
            self.dropped += 1
            if _power_of_ten(self.dropped):
                log.warning(
                    "command inbox full (%d commands not yet applied): dropped a command on %s "
                    "(%d dropped so far)",
                    self.limit,
                    item[0][:200],
                    self.dropped,
                )
            return False
        self._queue.put(item)
        return True

    def get_nowait(self) -> tuple[str, bytes]:
        return self._queue.get_nowait()

    def empty(self) -> bool:
        return self._queue.empty()

    def qsize(self) -> int:
        return self._queue.qsize()


def _power_of_ten(n: int) -> bool:
    while n >= 10 and n % 10 == 0:
        n //= 10
    return n == 1


class CommandError(Exception):
    pass


class Commander:
    """Applies commands in the simulation thread; `inbox` is filled by the MQTT thread."""

    def __init__(self, plant: Plant, inbox: CommandInbox | queue.SimpleQueue[tuple[str, bytes]]):
        self.plant = plant
        self.inbox = inbox
        self.by_id = {st.id: st for st in plant.stations}
        self.plant_topic = cmd_topic(plant.cfg.plant.enterprise, plant.cfg.plant.site)
        self.handled = 0
        self.rejected = 0
        if hasattr(plant.env, "on_speed"):
            plant.env.on_speed = self.announce_speed

    def speed_state(self) -> dict[str, Any]:
        """The run's pace: the speed asked, and for a run that follows the wall clock how far
        behind it is (a speed above 1 applies only while behind; at the clock it is 1x)."""
        env = self.plant.env
        state: dict[str, Any] = {"speed": env.speed}
        behind = getattr(env, "behind_s", lambda: None)()
        if behind is not None:
            state["follows_clock"] = True
            state["behind_s"] = round(behind, 3)
        return state

    def announce_speed(self) -> None:
        """The current speed, retained on the plant's reply topic as a set_speed reply with
        no id: a client that subscribes later (the Simulation page) learns the speed in use."""
        reply = ok_reply(None, "set_speed", self.speed_state(), self._ts())
        self.plant.sink.emit(reply_topic(self.plant_topic), dict(reply), True)

    def drain(self) -> None:
        while True:
            try:
                topic, raw = self.inbox.get_nowait()
            except queue.Empty:
                return
            reply = self.handle(topic, raw)
            self.plant.sink.emit(reply_topic(topic), dict(reply), False)

    def handle(self, topic: str, raw: bytes) -> Reply:
        cmd_id: Any = None
        try:
            if len(raw) > MAX_COMMAND_BYTES:
                raise CommandError(f"command larger than {MAX_COMMAND_BYTES} bytes")
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise CommandError(f"not JSON: {exc}") from None
            if isinstance(data, dict):
                cmd_id = data.get("id") if isinstance(data.get("id"), str) else None
            try:
                cmd = parse_command(data)
            except ValidationError as exc:
                raise CommandError(
                    "; ".join(
                        e.removeprefix("command.") for e in format_errors(exc, CommandEnvelope)
                    )
                ) from None
            result = self._apply(topic, cmd)
            reply = ok_reply(cmd.id, cmd.action, result, self._ts())
            size = len(orjson.dumps(reply))
            if size > MAX_REPLY_BYTES:
                raise CommandError(
                    f"the answer is {size} bytes, above the {MAX_REPLY_BYTES} bytes a reply may "
                    "be (a broker's packet limit would cut the simulator off)"
                )
        except CommandError as exc:
            self.rejected += 1
            log.warning("rejected command on %s: %s", topic, exc)
            return error_reply(cmd_id, str(exc), self._ts())
        self.handled += 1
        # A truth's result is a whole report (kB per station): its size is enough for a log.
        said: Any = f"{size} bytes" if cmd.action == "truth" else result
        log.info("command on %s: %s -> %s", topic, cmd.action, said)
        return reply

    def _ts(self) -> int:
        return self.plant.start_ms + round(self.plant.env.now * 1000)

    def _apply(self, topic: str, cmd: Command) -> dict[str, Any]:
        if isinstance(cmd, SetSpeed):
            if topic != self.plant_topic:
                raise CommandError(f"set_speed is a plant command: send it to {self.plant_topic}")
            env = self.plant.env
            set_speed = getattr(env, "set_speed", None)
            if set_speed is None:
                raise CommandError("this run cannot change its speed")
            set_speed(cmd.speed)
            return self.speed_state()
        if isinstance(cmd, Truth):
            if topic != self.plant_topic:
                raise CommandError(f"truth is a plant command: send it to {self.plant_topic}")
            try:
                return self.plant.truth.report(cmd.from_ms, cmd.to_ms, cmd.lines)
            except TruthError as exc:
                raise CommandError(str(exc)) from None
        parts = parse_topic(topic)
        st = self.by_id.get(parts.machine) if parts else None
        if parts is None or st is None or (st.area, st.line_id) != (parts.area, parts.line):
            raise CommandError(f"{cmd.action} needs the cmd topic of a machine of this plant")
        if isinstance(cmd, Breakdown):
            repair_min = cmd.repair_min or (st.mttr_s / 60.0 if st.mttr_s > 0 else 10.0)
            try:
                st.inject_breakdown(cmd.reason, repair_min * 60.0)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            return {"machine": st.id, "reason": cmd.reason, "repair_min": repair_min}
        return {"machine": st.id, **self._set(st, cmd.values)}

    def _set(self, st: Any, values: dict[str, float]) -> dict[str, Any]:
        data = st.spec.model_dump()
        if data["cycle_s"] is None:
            data["cycle_s"] = {"mean": st.spec.ideal_cycle_s, "cv": 0.0}
        for key, value in values.items():
            if "." in key:
                outer, inner = key.split(".")
                if data[outer] is None:
                    data[outer] = {"mean": value, "cv": 0.0}
                data[outer][inner] = value
            else:
                data[key] = value
        try:
            spec = StationSpec.model_validate(data)
        except ValidationError as exc:
            raise CommandError("; ".join(format_errors(exc, StationSpec))) from None
        batch = next(line.batch_size for line in self.plant.cfg.lines if line.id == st.line_id)
        findings = station_findings(spec, st.id, batch, "the line's batch_size")
        if findings:
            raise CommandError(
                "; ".join(f"{p.removeprefix(st.id + '.')}: {r}" for p, r in findings)
            )
        st.apply_spec(spec)
        return {"values": values}
