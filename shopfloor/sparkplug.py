"""Sparkplug B 3.0 for the plant (docs/sparkplug.md): topics, metric names, datatypes and
aliases, and the payload codec, shared by the simulator's publisher and the collector.

The payload is Eclipse Tahu's `sparkplug_b.proto` (Tahu 1.0.11, the Sparkplug 3.0 definition,
EPL-2.0: `shopfloor/tahu/`), kept as its compiled descriptor and read by Google's protobuf
runtime into a private descriptor pool: no generated module of our own, no clash with any
other copy of the same definition another library registers in protobuf's default pool.

Mapping (one edge node per line, one device per machine):

    spBv1.0/<enterprise>:<site>/<NBIRTH|NDEATH|NCMD>/<area>:<line>
    spBv1.0/<enterprise>:<site>/<DBIRTH|DDATA|DDEATH>/<area>:<line>/<machine>

`:` never occurs in a config id, so a topic maps back to our hierarchy without a config. One
DDATA carries one of our messages: its channel's fields as metrics plus `Seq` (our per-machine
counter), each metric stamped with the message's ts. The metrics are table-driven: the fixed
ones below have fixed alias codes (decodable without a birth); any other field of a channel
becomes `<Prefix>/<field>` (telemetry's process values `Process/<name>`, a new channel
`order`'s fields `Order/<field>`) with a code assigned at first sight and announced in a
DBIRTH. An alias is `slot * 1000 + code`, slot being the machine's position in its line + 1,
so aliases are unique across the edge node and `alias % 1000` names a fixed metric anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any, NamedTuple

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

NAMESPACE = "spBv1.0"
SEP = ":"  # joins two of our levels into one Sparkplug id; never part of a config id
NODE_TYPES = ("NBIRTH", "NDEATH", "NDATA", "NCMD")
DEVICE_TYPES = ("DBIRTH", "DDEATH", "DDATA", "DCMD")
BD_SEQ = "bdSeq"
REBIRTH = "Node Control/Rebirth"
SLOT = 1000  # alias = slot * SLOT + code
DYNAMIC_FROM = 100  # codes below are the fixed table's
SEQ_MOD = 256  # Sparkplug's seq and bdSeq wrap here

# Sparkplug B DataType codes (the spec's table; the same numbers as Tahu's DataType enum).
INT8, INT16, INT32, INT64 = 1, 2, 3, 4
UINT8, UINT16, UINT32, UINT64 = 5, 6, 7, 8
FLOAT, DOUBLE, BOOLEAN, STRING = 9, 10, 11, 12
DATATYPE_NAMES = {
    INT8: "Int8", INT16: "Int16", INT32: "Int32", INT64: "Int64", UINT8: "UInt8",
    UINT16: "UInt16", UINT32: "UInt32", UINT64: "UInt64", FLOAT: "Float", DOUBLE: "Double",
    BOOLEAN: "Boolean", STRING: "String",
}  # fmt: skip
_INT32_TYPES = (INT8, INT16, INT32, UINT8, UINT16, UINT32)
_INT64_TYPES = (INT64, UINT64)
_SIGNED = {INT8: 8, INT16: 16, INT32: 32, INT64: 64}


def _load_payload_class() -> Any:
    raw = resources.files("shopfloor").joinpath("tahu/sparkplug_b.desc").read_bytes()
    pool = descriptor_pool.DescriptorPool()
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(raw))
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("org.eclipse.tahu.protobuf.Payload")
    )


Payload = _load_payload_class()

DERIVED = "derived"  # a metric computed from another one (PackML): published, never stored
SEQ_FIELD = "seq"


@dataclass(frozen=True, slots=True)
class Fixed:
    code: int
    name: str
    channel: str | None  # None: on every DDATA (Seq); DERIVED: PackML
    field: str
    datatype: int


# Every channel of the contract has its fields here or under the naming rule (`_prefix`): add a
# line to give a field a name and alias of its own.
FIXED: tuple[Fixed, ...] = (
    Fixed(1, "Seq", None, SEQ_FIELD, UINT64),
    Fixed(10, "State", "state", "state", STRING),
    Fixed(11, "State/Reason", "state", "reason", STRING),
    Fixed(20, "Count/Total", "count", "total", UINT64),
    Fixed(21, "Count/Good", "count", "good", UINT64),
    Fixed(22, "Count/Scrap", "count", "scrap", UINT64),
    # A station of a line with products: the cumulative ideal time of the parts made (issue 12).
    Fixed(23, "Count/IdealTime_s", "count", "ideal_s", DOUBLE),
    Fixed(30, "Power/kW", "telemetry", "power_kw", DOUBLE),
    Fixed(40, "Energy/kWh", "energy", "energy_kwh", DOUBLE),
    # ISA-TR88 PackML of the state (shopfloor/packml.py), with --packml only.
    Fixed(50, "PackML/StateCurrent", DERIVED, "state_code", INT32),
    Fixed(51, "PackML/State", DERIVED, "state", STRING),
    Fixed(52, "PackML/UnitModeCurrent", DERIVED, "unit_mode_code", INT32),
)
FIXED_BY_CODE = {f.code: f for f in FIXED}
FIXED_BY_NAME = {f.name: f for f in FIXED}
_FIXED_BY_FIELD = {(f.channel, f.field): f for f in FIXED if f.channel not in (None, DERIVED)}
# A channel's dynamic metrics are named `<prefix>/<field>`; the default prefix is the channel
# capitalised (a new channel `order` gives `Order/<field>`). The birth is `Properties/...`.
CHANNEL_PREFIX = {"telemetry": "Process", "status": "Properties"}
_CHANNEL_OF_PREFIX = {v: k for k, v in CHANNEL_PREFIX.items()}


def _prefix(channel: str) -> str:
    return CHANNEL_PREFIX.get(channel, channel[:1].upper() + channel[1:])


def metric_name(channel: str, field: str) -> str:
    """The Sparkplug metric name of one field of a channel (`field` may be a `a/b` path)."""
    fixed = _FIXED_BY_FIELD.get((channel, field))
    return fixed.name if fixed is not None else f"{_prefix(channel)}/{field}"


def field_of(name: str) -> tuple[str | None, str]:
    """(channel, field path) of a metric name; channel None for `Seq`, DERIVED for PackML."""
    fixed = FIXED_BY_NAME.get(name)
    if fixed is not None:
        return fixed.channel, fixed.field
    head, _, rest = name.partition("/")
    if not rest:
        raise ValueError(f"metric {name[:80]!r} is not <Channel>/<field>")
    return _CHANNEL_OF_PREFIX.get(head, head[:1].lower() + head[1:]), rest


def datatype_of(value: Any) -> int:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INT64
    if isinstance(value, float):
        return DOUBLE
    if isinstance(value, str):
        return STRING
    raise TypeError(f"no Sparkplug datatype for {type(value).__name__}")


def flatten(payload: dict[str, Any], skip: tuple[str, ...] = ("ts", "seq")) -> dict[str, Any]:
    """Our payload's fields as `a/b` paths (nested objects such as a birth's power_kw)."""
    out: dict[str, Any] = {}

    def walk(prefix: str, obj: dict[str, Any]) -> None:
        for k, v in obj.items():
            if not prefix and k in skip:
                continue
            path = f"{prefix}{k}"
            if isinstance(v, dict):
                walk(path + "/", v)
            elif v is not None:
                out[path] = v

    walk("", payload)
    return out


def unflatten(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, v in fields.items():
        *parents, leaf = path.split("/")
        node = out
        for p in parents:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise ValueError(f"field {path[:80]!r} is both a value and an object")
            node = nxt
        if leaf in node:
            raise ValueError(f"field {path[:80]!r} given twice")
        node[leaf] = v
    return out


# -- topics ------------------------------------------------------------------------------------


class SpbTopic(NamedTuple):
    group: str
    msg_type: str
    node: str
    device: str | None


def group_id(enterprise: str, site: str) -> str:
    return f"{enterprise}{SEP}{site}"


def node_id(area: str, line: str) -> str:
    return f"{area}{SEP}{line}"


def topic(group: str, msg_type: str, node: str, device: str | None = None) -> str:
    t = f"{NAMESPACE}/{group}/{msg_type}/{node}"
    return t if device is None else f"{t}/{device}"


def plant_filter(enterprise: str, site: str) -> str:
    return f"{NAMESPACE}/{group_id(enterprise, site)}/#"


ALL_GROUPS = f"{NAMESPACE}/#"


def parse_topic(text: str) -> SpbTopic | None:
    parts = text.split("/")
    if len(parts) < 4 or parts[0] != NAMESPACE or any(not p for p in parts):
        return None
    msg_type = parts[2]
    if len(parts) == 4 and msg_type in NODE_TYPES:
        return SpbTopic(parts[1], msg_type, parts[3], None)
    if len(parts) == 5 and msg_type in DEVICE_TYPES:
        return SpbTopic(parts[1], msg_type, parts[3], parts[4])
    return None


def is_host_state(text: str) -> bool:
    """`spBv1.0/STATE/<host id>`: a primary host application's birth and death (Sparkplug 3.0),
    the one topic of the namespace outside the group/message type/edge node structure."""
    parts = text.split("/")
    return len(parts) == 3 and parts[0] == NAMESPACE and parts[1] == "STATE" and bool(parts[2])


def split_id(text: str) -> tuple[str, str] | None:
    a, sep, b = text.partition(SEP)
    return (a, b) if sep and SEP not in b else None


# -- payloads ----------------------------------------------------------------------------------


def set_value(metric: Any, datatype: int, value: Any, with_type: bool = True) -> None:
    """One metric's value in the field its datatype uses (the spec's value table); integers
    as two's complement in the unsigned field, as Tahu's encoders write them. `with_type`:
    False in a DDATA, whose metrics the birth has typed."""
    if with_type:
        metric.datatype = datatype
    if value is None:
        metric.is_null = True
    elif datatype in _INT32_TYPES:
        metric.int_value = int(value) & 0xFFFFFFFF
    elif datatype in _INT64_TYPES:
        metric.long_value = int(value) & 0xFFFFFFFFFFFFFFFF
    elif datatype == FLOAT:
        metric.float_value = float(value)
    elif datatype == DOUBLE:
        metric.double_value = float(value)
    elif datatype == BOOLEAN:
        metric.boolean_value = bool(value)
    elif datatype == STRING:
        metric.string_value = str(value)
    else:
        raise ValueError(f"datatype {datatype} is not one we publish")


def get_value(metric: Any, datatype: int | None = None) -> Any:
    """A metric's value as Python (int, float, bool, str or None). `datatype`: the one the
    birth announced, for a DDATA metric that carries an alias only."""
    dt = metric.datatype if metric.HasField("datatype") else datatype
    if metric.is_null:
        return None
    if dt in _INT32_TYPES or dt in _INT64_TYPES:
        field = "int_value" if dt in _INT32_TYPES else "long_value"
        if not metric.HasField(field):
            raise ValueError(f"a {DATATYPE_NAMES[dt]} metric without its {field}")
        v = getattr(metric, field)
        bits = _SIGNED.get(dt)
        if bits is not None and v >= 1 << (bits - 1):
            v -= 1 << (32 if dt in _INT32_TYPES else 64)
        return v
    fields = {FLOAT: "float_value", DOUBLE: "double_value", BOOLEAN: "boolean_value",
              STRING: "string_value"}  # fmt: skip
    field = fields.get(dt)  # type: ignore[arg-type]
    if field is None:
        raise ValueError(f"datatype {dt} is not one of ours")
    if not metric.HasField(field):
        raise ValueError(f"a {DATATYPE_NAMES[dt]} metric without its {field}")  # type: ignore[index]
    return getattr(metric, field)


def packml_fields(state: str, reason: str) -> dict[str, Any]:
    """The PackML metrics of one of our states (shopfloor/packml.py)."""
    from shopfloor import packml

    mode = packml.unit_mode(state, reason)
    return {
        "PackML/StateCurrent": packml.state_code(state),
        "PackML/State": packml.state(state),
        "PackML/UnitModeCurrent": packml.UNIT_MODE_CODES[mode],
    }


def decode(raw: bytes) -> Any:
    """The Payload message of `raw` (protobuf's DecodeError for bytes that are not one)."""
    p = Payload.FromString(raw)
    # Protobuf's runtime parses a proto2 string that is not UTF-8 and hands it over as bytes,
    # which no caller expects (a metric name as bytes raised TypeError in the collector).
    for m in p.metrics:
        if isinstance(m.name, bytes) or (
            m.HasField("string_value") and isinstance(m.string_value, bytes)
        ):
            raise DecodeError("a metric name or String value is not UTF-8")
    return p


def rebirth_request(ts_ms: int) -> bytes:
    """An NCMD asking an edge node to publish its births again (what a host sends)."""
    p = Payload(timestamp=ts_ms)
    m = p.metrics.add(name=REBIRTH, timestamp=ts_ms)
    set_value(m, BOOLEAN, True)
    return p.SerializeToString()


def asks_rebirth(raw: bytes) -> bool:
    try:
        p = decode(raw)
    except Exception:
        return False
    return any(m.name == REBIRTH and m.boolean_value for m in p.metrics)
