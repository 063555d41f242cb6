"""Records as InfluxDB line protocol (f-strings: ~8x faster than influxdb_client's Point).

Point identity in InfluxDB is measurement + tags + timestamp, so a re-written message lands on
the same point (idempotent). Two messages of one machine and channel can share a millisecond
(a zero-length state), so the timestamp is written in microseconds with the message's
seq % 1000 as the sub-millisecond part: distinct messages stay distinct, a repeat still
overwrites itself. Numeric fields are always floats: an int/float type conflict makes
InfluxDB reject the whole batch.
"""

from __future__ import annotations

import json
import re

from shopfloor.contract import STATE_CODE
from shopfloor.kpi import STATES
from shopfloor.store.base import Record
from shopfloor.store.rollup import Change, HourRow

# Escapes as InfluxDB line protocol requires and influxdb-client's Point writes them
# (influxdb_client/client/write/point.py):
# - tag keys, tag values and field keys: comma, `=` and space get a backslash; newline, tab and
#   CR become `\n`, `\t`, `\r` (line protocol cannot carry them: they read back as those two
#   characters);
# - measurements: the same, without `=`;
# - string field values: double quote and backslash get a backslash.
# Backslashes are where readers disagree. InfluxDB 1.x/2.x takes a tag's comma, `=` or space
# as escaped when the character before it is a backslash; its field keys, VictoriaMetrics and
# the documented syntax when an odd number of backslashes comes before it. So a run of
# backslashes before an escaped character is made odd (Point writes `a\\,b` for `a\,b`: a
# separator for the second kind of reader), and a name ending in backslashes, which would
# escape the separator after it, gets an escaped space (Point does so for tag values only, and
# not always with an odd run). Such a name is safe in every reader but may read back with a
# backslash more or a space: validated records carry no backslash (collector.validate: config
# ids, snake_case process values); this is for whatever bypasses validation.
_CONTROL = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
_KEY_ESCAPES = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ ", **_CONTROL})
_MEASUREMENT_ESCAPES = str.maketrans({",": "\\,", " ": "\\ ", **_CONTROL})
_STR_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})
_EVEN_RUN = re.compile(r"(?<!\\)((?:\\\\)+)(?=[,= ]|\Z)")


def _odd_runs(out: str) -> str:
    """`out` escaped, with every run of backslashes before an escaped character (or the end)
    made odd, and an escaped space after a trailing run."""
    out = _EVEN_RUN.sub(lambda m: m.group(1) + "\\", out)
    return out + " " if out.endswith("\\") else out


def tag(v: str) -> str:
    """A tag key or value, or a field key."""
    out = v.translate(_KEY_ESCAPES)
    return _odd_runs(out) if "\\" in v else out


key = tag


# Escaped once per machine and per process value name: the hot path looks them up (bounded, as
# names from records that bypassed validation are unbounded).
_CACHE_MAX = 10_000
_tag_sets: dict[tuple[str, str, str, str, str], str] = {}
_field_keys: dict[str, str] = {}


def _tags(r: Record) -> str:
    k = (r.enterprise, r.site, r.area, r.line, r.machine)
    got = _tag_sets.get(k)
    if got is None:
        if len(_tag_sets) >= _CACHE_MAX:
            _tag_sets.clear()
        got = _tag_sets[k] = (
            f"enterprise={tag(r.enterprise)},site={tag(r.site)},area={tag(r.area)},"
            f"line={tag(r.line)},machine={tag(r.machine)}"
        )
    return got


def _field_key(k: str) -> str:
    got = _field_keys.get(k)
    if got is None:
        if len(_field_keys) >= _CACHE_MAX:
            _field_keys.clear()
        got = _field_keys[k] = key(k)
    return got


def measurement(v: str) -> str:
    out = v.translate(_MEASUREMENT_ESCAPES)
    return _odd_runs(out) if "\\" in v else out


def _str(v: str) -> str:
    return '"' + v.translate(_STR_ESCAPES) + '"'


def _num(v: float | int | bool) -> str:
    return repr(float(v))


def ts_us(r: Record) -> int:
    return r.ts * 1000 + ((r.seq or 0) % 1000)


def line(r: Record) -> str:
    tags = _tags(r)
    p = r.payload
    seq = _num(r.seq or 0)
    ch = r.channel
    if ch == "state":
        fields = (
            f"state={_str(p['state'])},code={_num(STATE_CODE[p['state']])},reason={_str(p.get('reason', ''))},"
            f"inferred={_num(r.inferred)},seq={seq}"
        )
    elif ch == "count":
        fields = (
            f"total={_num(p['total'])},good={_num(p['good'])},scrap={_num(p['scrap'])},seq={seq}"
        )
        if "ideal_s" in p:  # issue 12: a station of a line with products
            fields += f",ideal_s={_num(p['ideal_s'])}"
    elif ch == "energy":
        fields = f"energy_kwh={_num(p['energy_kwh'])},seq={seq}"
    elif ch == "telemetry":
        extra = "".join(
            f",{_field_key(k)}={_num(v)}"
            for k, v in p.items()
            if k not in ("ts", "seq", "power_kw")
        )
        fields = f"power_kw={_num(p['power_kw'])}{extra},seq={seq}"
    elif ch == "material":  # issue 12: a delivery of raw material
        fields = (
            f"material={_str(p['material'])},supplier={_str(p['supplier'])},"
            f"ordered={_num(p['ordered'])},delivered={_num(p['delivered'])},"
            f"late={_num(p['late'])},short={_num(p['short'])},level={_num(p['level'])},"
            f"lead_time_s={_num(p['lead_time_s'])},seq={seq}"
        )
    elif ch == "order":  # issue 12: a work order released, started or finished
        times = "".join(
            f",{k}={_num(p[k])}" for k in ("start_ts", "finish_ts") if p.get(k) is not None
        )
        fields = (
            f"order_id={_str(p['order_id'])},product={_str(p['product'])},"
            f"event={_str(p['event'])},quantity={_num(p['quantity'])},"
            f"release_ts={_num(p['release_ts'])},due_ts={_num(p['due_ts'])}{times},"
            f"good={_num(p.get('good', 0))},scrap={_num(p.get('scrap', 0))},seq={seq}"
        )
    elif ch == "status":
        if p.get("online"):
            fields = (
                f"online=1.0,kind={_str(str(p.get('kind', 'generic')))},position={_num(p.get('position', 0))},"
                f"line_length={_num(p.get('line_length', 1))},ideal_cycle_s={_num(p.get('ideal_cycle_s', 0.0))},"
                f"connectivity={_str(str(p.get('connectivity', 'full')))},power_kw={_str(json.dumps(p.get('power_kw') or {}))}"
            )
        else:
            fields = "online=0.0"
    else:
        raise ValueError(f"unknown channel {ch}")
    return f"{measurement(ch)},{tags} {fields} {ts_us(r)}"


def encode(records: list[Record]) -> bytes:
    return "\n".join(line(r) for r in records).encode()


def rollup_lines(rows: list[HourRow]) -> list[str]:
    """One state_hours point per machine and hour (a rewrite overwrites every field), and one
    loss_hours point per machine, hour, loss state and reason (an empty reason is `-`: a tag
    value cannot be empty)."""
    out = []
    for m, hour, secs in rows:
        out.append(
            f"state_hours,machine={tag(m)} "
            + ",".join(f"{s}={_num(secs.states[s])}" for s in STATES)
            + f" {hour * 1000}"
        )
        out += [
            f"loss_hours,machine={tag(m)},reason={tag(r or '-')},state={tag(st)} "
            f"seconds={_num(v)} {hour * 1000}"
            for (st, r), v in secs.losses.items()
        ]
    return out


def new_changes(records: list[Record]) -> dict[str, list[Change]]:
    out: dict[str, list[Change]] = {}
    for r in records:
        if r.channel == "state":
            out.setdefault(r.machine, []).append(
                (r.ts, r.seq or 0, r.payload["state"], r.payload.get("reason", ""))
            )
    return out
