"""A shortcut through validation for payloads already exactly of the contract's shape (issue 15).

The pydantic models (shopfloor.contract) cost about 8 µs a message with the finiteness walk
and the dump, twice the simulator's cost of making the message: too much for the bulk path
(shopfloor/cli/bulk.py) and a good part of the collector's. Most messages are the four
high-rate channels in their plainest form: a plain dict whose every value already has the
exact type the model would give it (an int for ts and seq, a float for a float field, no
bool, no subclass). For those, each function below checks the model's constraints directly
and returns the dict the model's `model_dump(exclude_none=True)` would, keys in the same
order. Anything else (an int where a float is due, a missing or extra key, a non-ASCII
reason, any doubt) gets None, and the model decides, so rejections and their details are the
model's own. tests/unit/test_fastcheck.py compares both ways on random payloads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, get_args

from shopfloor.contract import MAX_INT, MAX_PROCESS_VALUES, PROCESS_VALUE_NAME, StatePayload

_INF = math.inf
_STATES = frozenset(get_args(StatePayload.model_fields["state"].annotation))
# The contract's Text (at most 200 characters, none a control character), for ASCII only: a
# reason with any other character goes to the model.
_REASON = re.compile(r"[\x20-\x7e]{0,200}").fullmatch
_PV_NAME = PROCESS_VALUE_NAME.fullmatch
_CORE = frozenset(("ts", "seq", "power_kw"))
_names_ok: set[str] = set()  # process value names already matched (a plant has a few dozen)


# Key tuples already found to be a telemetry payload's in the model's own order (ts, seq,
# power_kw, then valid process value names): a machine sends the same keys every time, so
# for those only the values are checked, with C-level calls instead of a loop per key.
_shapes: set[tuple[str, ...]] = set()
_FLOAT: frozenset[type] = frozenset((float,))


def telemetry_fields(d: Any) -> tuple[int, int, float] | None:
    """(ts, seq, power_kw) of a telemetry payload of a shape already seen whose every value
    passes, which is then its own model dump (key order included); None: ask fast_payload.
    The bulk path (shopfloor/cli/bulk.py) builds its rows from these without a dump."""
    if type(d) is not dict or tuple(d) not in _shapes:
        return None
    v = tuple(d.values())
    ts = v[0]
    seq = v[1]
    p = v[2]
    # power_kw and every process value a float, and their sum finite: then each is (a NaN or
    # an infinity makes the sum one; a sum that overflows is checked value by value by
    # _telemetry_keys).
    if (
        type(ts) is int
        and type(seq) is int
        and 0 <= ts <= MAX_INT
        and 0 <= seq <= MAX_INT
        and set(map(type, v[2:])) == _FLOAT
        and p >= 0.0
        and -_INF < sum(v[2:]) < _INF
    ):
        return ts, seq, p
    return None


# The same shapes, each to itself (one object the bulk path sends with every sample of that
# shape: marshal writes a reference to it) and the type of each of its values (ts and seq
# int, every other value float): one tuple comparison checks them all.
_shape_types: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[type, ...]]] = {}


def telemetry_values(d: Any) -> tuple[tuple[str, ...], tuple[Any, ...]] | None:
    """(keys, values) of a telemetry payload of a shape already seen whose every value passes
    (telemetry_fields' checks): the payload is then its own model dump, `dict(zip(keys,
    values))`. The bulk path (shopfloor/cli/bulk.py) sends these to its writer process, which
    builds the JSON of the process values there."""
    if type(d) is not dict:
        return None
    shape = _shape_types.get(tuple(d))
    if shape is None:
        return None
    v = tuple(d.values())
    if (
        tuple(map(type, v)) == shape[1]
        and 0 <= v[0] <= MAX_INT
        and 0 <= v[1] <= MAX_INT
        and v[2] >= 0.0
        and -_INF < sum(v) < _INF
    ):
        return shape[0], v
    return None


def _telemetry(d: dict[str, Any]) -> dict[str, Any] | None:
    if len(d) > 3 + MAX_PROCESS_VALUES:
        return None
    if tuple(d) in _shapes:
        if telemetry_fields(d) is not None:
            return dict(d)
        return _telemetry_keys(d)
    out = _telemetry_keys(d)
    if out is not None and list(d) == list(out) and len(_shapes) < 10_000:
        keys = tuple(d)
        _shapes.add(keys)
        _shape_types[keys] = (keys, (int, int, *(float,) * (len(keys) - 2)))
    return out


def _telemetry_keys(d: dict[str, Any]) -> dict[str, Any] | None:
    ts = d.get("ts")
    seq = d.get("seq")
    p = d.get("power_kw")
    if type(ts) is not int or type(seq) is not int or type(p) is not float:
        return None
    if not (0 <= ts <= MAX_INT and 0 <= seq <= MAX_INT and 0.0 <= p < _INF):
        return None
    out = {"ts": ts, "seq": seq, "power_kw": p}
    for k, v in d.items():
        if type(k) is not str:
            return None
        if k in _CORE:
            continue
        if type(v) is not float or not -_INF < v < _INF:
            return None
        if k not in _names_ok:
            if not _PV_NAME(k):
                return None
            if len(_names_ok) < 10_000:
                _names_ok.add(k)
        out[k] = v
    return out


def _energy(d: dict[str, Any]) -> dict[str, Any] | None:
    if len(d) != 3:
        return None
    ts = d.get("ts")
    seq = d.get("seq")
    e = d.get("energy_kwh")
    if type(ts) is not int or type(seq) is not int or type(e) is not float:
        return None
    if not (0 <= ts <= MAX_INT and 0 <= seq <= MAX_INT and 0.0 <= e < _INF):
        return None
    return {"ts": ts, "seq": seq, "energy_kwh": e}


def _count(d: dict[str, Any]) -> dict[str, Any] | None:
    n = len(d)
    ideal = d.get("ideal_s")
    if n != (5 if ideal is None else 6):
        return None
    ts = d.get("ts")
    seq = d.get("seq")
    total = d.get("total")
    good = d.get("good")
    scrap = d.get("scrap")
    if (
        type(ts) is not int
        or type(seq) is not int
        or type(total) is not int
        or type(good) is not int
        or type(scrap) is not int
    ):
        return None
    if not (
        0 <= ts <= MAX_INT
        and 0 <= seq <= MAX_INT
        and 0 <= total <= MAX_INT
        and 0 <= good <= MAX_INT
        and 0 <= scrap <= MAX_INT
    ):
        return None
    out = {"ts": ts, "seq": seq, "total": total, "good": good, "scrap": scrap}
    if ideal is not None:
        if type(ideal) is not float or not 0.0 <= ideal < _INF:
            return None
        out["ideal_s"] = ideal
    return out


def _state(d: dict[str, Any]) -> dict[str, Any] | None:
    reason = d.get("reason", "")
    if len(d) != (3 if "reason" not in d else 4):
        return None
    ts = d.get("ts")
    seq = d.get("seq")
    state = d.get("state")
    if type(ts) is not int or type(seq) is not int or type(state) is not str:
        return None
    if not (0 <= ts <= MAX_INT and 0 <= seq <= MAX_INT) or state not in _STATES:
        return None
    if type(reason) is not str or not _REASON(reason):
        return None
    return {"ts": ts, "seq": seq, "state": state, "reason": reason}


FAST: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
    "telemetry": _telemetry,
    "energy": _energy,
    "count": _count,
    "state": _state,
}


def fast_payload(channel: str, data: Any) -> dict[str, Any] | None:
    """The model's dump of `data` for `channel`, or None: the model must decide."""
    fn = FAST.get(channel)
    if fn is None or type(data) is not dict:
        return None
    return fn(data)
