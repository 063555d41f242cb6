"""The command contract v1: what a client (the dashboard, a test, an operator's script) may ask
a running simulator, on which topics, and how the answer looks (docs/architecture.md, The
command contract).

    plant-wide   shopfloor/v1/<enterprise>/<site>/cmd                          set_speed, truth
    per machine  shopfloor/v1/<enterprise>/<site>/<area>/<line>/<machine>/cmd  breakdown, set
    the answer   <the command's topic>/reply

    {"action": "set_speed", "speed": 10}
    {"action": "breakdown", "reason": "operator_test", "repair_min": 5}
    {"action": "set", "values": {"mttr_min": 30, "cycle_s.mean": 50, "scrap_rate": 0.05}}
    {"action": "truth", "from_ms": 1795399200000, "to_ms": 1795402800000}
    {"action": "truth", "from_ms": 1795399200000, "lines": ["line-01", "line-02"]}

Every command may carry an "id" (at most 100 characters), echoed in its reply:
    {"id": ..., "ok": true, "action": ..., "result": {...}, "ts": ...}
    {"id": ..., "ok": false, "error": "...", "ts": ...}

The simulator validates with these models and answers with these shapes; the dashboard builds
its commands and subscribes to the replies with these helpers, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, TypedDict

from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, model_validator

from shopfloor.contract import plant_filter, plant_prefix

MAX_COMMAND_BYTES = 4096
# The largest answer a simulator sends. A broker with a packet limit (the compose Mosquitto's
# max_packet_size 65536) disconnects a client that publishes more, and a QoS 1 publisher sends
# the same packet again on every reconnect: one truth reply of a 225-station plant (~130 kB)
# cut the simulator off its broker for good. Room is left for the topic and the header.
MAX_REPLY_BYTES = 60 * 1024
# Station parameters a `set` command may change while the plant runs (config key paths).
LIVE_PARAMS: tuple[str, ...] = (
    "cycle_s.mean",
    "cycle_s.cv",
    "mtbf_min",
    "mttr_min",
    "scrap_rate",
    "setup_min.mean",
    "setup_min.cv",
)
PLANT_ACTIONS: tuple[str, ...] = ("set_speed", "truth")
MACHINE_ACTIONS: tuple[str, ...] = ("breakdown", "set")
ACTIONS: tuple[str, ...] = (*PLANT_ACTIONS, *MACHINE_ACTIONS)
REPLY_SUFFIX = "/reply"


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


class Truth(_Command):
    """The simulator's ground truth of [from_ms, to_ms) in the report shape
    (shopfloor.report); to_ms absent: up to now. Kept per quarter hour (simulator/truth.py):
    both ends snap down to a quarter, or to now, and the report says which range it covers.
    `lines`: only those lines (their machines and line entries; the plant entry sums them):
    a large plant's whole truth is larger than a reply may be (MAX_REPLY_BYTES), so a client
    asks for a few lines at a time and adds the answers up (shopfloor.report.merge_reports).
    Strict integers: JSON's `true` is not the instant 1."""

    action: Literal["truth"]
    from_ms: Annotated[StrictInt, Field(ge=0, le=2**53 - 1)]
    to_ms: Annotated[StrictInt, Field(ge=0, le=2**53 - 1)] | None = None
    lines: (
        Annotated[list[Annotated[str, Field(max_length=100)]], Field(min_length=1, max_length=500)]
        | None
    ) = None

    @model_validator(mode="after")
    def _ordered(self) -> Truth:
        if self.to_ms is not None and self.to_ms <= self.from_ms:
            raise ValueError("to_ms must be after from_ms")
        return self


Command = SetSpeed | Breakdown | SetParams | Truth


class CommandEnvelope(BaseModel):
    """The root model for validation (its errors read `command.<key>: reason`)."""

    command: Annotated[Command, Field(discriminator="action")]


_COMMAND = TypeAdapter(CommandEnvelope)


def parse_command(data: Any) -> Command:
    """A decoded JSON command as its model; raises pydantic's ValidationError (format it
    against CommandEnvelope)."""
    return _COMMAND.validate_python({"command": data}).command


# -- topics ------------------------------------------------------------------------------


def cmd_topic(enterprise: str, site: str, machine_path: str | None = None) -> str:
    """The plant's cmd topic, or a machine's (machine_path: <area>/<line>/<machine>)."""
    prefix = plant_prefix(enterprise, site)
    return f"{prefix}/{machine_path}/cmd" if machine_path else f"{prefix}/cmd"


def command_filters(enterprise: str, site: str) -> list[str]:
    """What a simulator subscribes to: the plant's cmd topic and every machine's."""
    return [cmd_topic(enterprise, site), plant_filter(enterprise, site, "cmd")]


def reply_topic(command_topic: str) -> str:
    return command_topic + REPLY_SUFFIX


def is_reply(topic: str) -> bool:
    return topic.endswith(REPLY_SUFFIX)


def reply_filters(enterprise: str, site: str) -> list[str]:
    """What a client subscribes to for the answers to its commands (plant and machines)."""
    return [reply_topic(f) for f in command_filters(enterprise, site)]


# -- building commands, answering them -------------------------------------------------------


def set_speed(speed: float) -> dict[str, Any]:
    return {"action": "set_speed", "speed": float(speed)}


def breakdown(reason: str = "injected", repair_min: float | None = None) -> dict[str, Any]:
    cmd: dict[str, Any] = {"action": "breakdown", "reason": reason}
    if repair_min is not None:
        cmd["repair_min"] = float(repair_min)
    return cmd


def truth(from_ms: int, to_ms: int | None = None, lines: list[str] | None = None) -> dict[str, Any]:
    cmd: dict[str, Any] = {"action": "truth", "from_ms": int(from_ms)}
    if to_ms is not None:
        cmd["to_ms"] = int(to_ms)
    if lines is not None:
        cmd["lines"] = list(lines)
    return cmd


def set_params(values: dict[str, float]) -> dict[str, Any]:
    return {"action": "set", "values": {k: float(v) for k, v in values.items()}}


class Reply(TypedDict):
    id: str | None
    ok: bool
    ts: int
    action: NotRequired[str]
    result: NotRequired[dict[str, Any]]
    error: NotRequired[str]


def ok_reply(cmd_id: str | None, action: str, result: dict[str, Any], ts: int) -> Reply:
    return {"id": cmd_id, "ok": True, "action": action, "result": result, "ts": ts}


def error_reply(cmd_id: str | None, error: str, ts: int) -> Reply:
    return {"id": cmd_id, "ok": False, "error": error, "ts": ts}
