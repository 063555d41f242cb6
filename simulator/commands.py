"""Commands to a running simulator over the `cmd` topic, each answered on `<topic>/reply`.

Plant-wide:  shopfloor/v1/<enterprise>/<site>/cmd
    {"action": "set_speed", "speed": 10}
Per machine: shopfloor/v1/<enterprise>/<site>/<area>/<line>/<machine>/cmd
    {"action": "breakdown", "reason": "operator_test", "repair_min": 5}
    {"action": "set", "values": {"mttr_min": 30, "cycle_s.mean": 50, "scrap_rate": 0.05}}
Every command may carry an "id", echoed in the reply:
    {"id": ..., "ok": true, "action": ..., "result": {...}}  or  {"id": ..., "ok": false, "error": "..."}
A bad command gets an error reply and changes nothing; it never stops the simulator.
"""

from __future__ import annotations

import logging
import queue
from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from shopfloor.config.schema import Station as StationSpec
from shopfloor.config.semantics import station_findings
from shopfloor.contract import ROOT, VERSION, parse_topic
from shopfloor.validation import format_errors

if TYPE_CHECKING:
    from simulator.plant import Plant

log = logging.getLogger("shopfloor.sim.cmd")

MAX_COMMAND_BYTES = 4096
LIVE_PARAMS = (
    "cycle_s.mean",
    "cycle_s.cv",
    "mtbf_min",
    "mttr_min",
    "scrap_rate",
    "setup_min.mean",
    "setup_min.cv",
)


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, Field(max_length=100)] | None = None


class SetSpeed(_Command):
    action: Literal["set_speed"]
    speed: Annotated[float, Field(gt=0, le=100_000, allow_inf_nan=False)]


class Breakdown(_Command):
    action: Literal["breakdown"]
    reason: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = "injected"
    repair_min: Annotated[float, Field(gt=0, le=7 * 24 * 60, allow_inf_nan=False)] | None = None


class SetParams(_Command):
    action: Literal["set"]
    values: Annotated[dict[Literal[LIVE_PARAMS], float], Field(min_length=1)]  # type: ignore[valid-type]


class _Envelope(BaseModel):
    command: Annotated[SetSpeed | Breakdown | SetParams, Field(discriminator="action")]


_COMMAND = TypeAdapter(_Envelope)


class CommandError(Exception):
    pass


def plant_cmd_topic(enterprise: str, site: str) -> str:
    return f"{ROOT}/{VERSION}/{enterprise}/{site}/cmd"


class Commander:
    """Applies commands in the simulation thread; `inbox` is filled by the MQTT thread."""

    def __init__(self, plant: Plant, inbox: queue.SimpleQueue[tuple[str, bytes]]):
        self.plant = plant
        self.inbox = inbox
        self.by_id = {st.id: st for st in plant.stations}
        self.plant_topic = plant_cmd_topic(plant.cfg.plant.enterprise, plant.cfg.plant.site)
        self.handled = 0
        self.rejected = 0

    def drain(self) -> None:
        while True:
            try:
                topic, raw = self.inbox.get_nowait()
            except queue.Empty:
                return
            reply = self.handle(topic, raw)
            self.plant.sink.emit(f"{topic}/reply", reply, False)

    def handle(self, topic: str, raw: bytes) -> dict[str, Any]:
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
                cmd = _COMMAND.validate_python({"command": data}).command
            except ValidationError as exc:
                raise CommandError(
                    "; ".join(e.removeprefix("command.") for e in format_errors(exc, _Envelope))
                ) from None
            result = self._apply(topic, cmd)
        except CommandError as exc:
            self.rejected += 1
            log.warning("rejected command on %s: %s", topic, exc)
            return {"id": cmd_id, "ok": False, "error": str(exc), "ts": self._ts()}
        self.handled += 1
        log.info("command on %s: %s -> %s", topic, cmd.action, result)
        return {"id": cmd.id, "ok": True, "action": cmd.action, "result": result, "ts": self._ts()}

    def _ts(self) -> int:
        return self.plant.start_ms + round(self.plant.env.now * 1000)

    def _apply(self, topic: str, cmd: SetSpeed | Breakdown | SetParams) -> dict[str, Any]:
        if isinstance(cmd, SetSpeed):
            if topic != self.plant_topic:
                raise CommandError(f"set_speed is a plant command: send it to {self.plant_topic}")
            env = self.plant.env
            set_speed = getattr(env, "set_speed", None)
            if set_speed is None:
                raise CommandError("this run cannot change its speed")
            set_speed(cmd.speed)
            return {"speed": cmd.speed}
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
