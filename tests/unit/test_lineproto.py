"""The line-protocol encoder against influxdb-client's own Point as the oracle (issue 14,
found 3: a field name with a space, comma or `=` was written unescaped and InfluxDB answered
400, stalling the pipeline)."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from influxdb_client import Point

from shopfloor.store import lineproto
from shopfloor.store.base import Record
from shopfloor.store.rollup import Hour

SPECIALS = [*" ,=\"'\\\n\t\r#é中", "\\ ", "\\,", "\\=", 'a"', "\U0001f600"]
texts = st.lists(
    st.sampled_from(SPECIALS) | st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12
).map("".join)
no_backslash = texts.filter(lambda s: "\\" not in s)


def parse(line: str) -> tuple[str, dict[str, str], dict[str, str], str]:
    """Reads one line of line protocol as the spec says (docs.influxdata.com, line protocol,
    special characters): outside quoted strings a backslash escapes `,`, `=`, space and itself
    and is literal before anything else; a quoted string unescapes `\\"` and `\\\\`."""
    i = 0

    def token(stops: str) -> str:
        nonlocal i
        out = []
        while i < len(line) and line[i] not in stops:
            if line[i] == "\\" and i + 1 < len(line):
                nxt = line[i + 1]
                out.append(nxt if nxt in ',= \\"' else "\\" + nxt)
                i += 2
            else:
                out.append(line[i])
                i += 1
        return "".join(out)

    def quoted() -> str:
        nonlocal i
        assert line[i] == '"'
        i += 1
        out = []
        while line[i] != '"':
            if line[i] == "\\" and line[i + 1] in '"\\':
                out.append(line[i + 1])
                i += 2
            else:
                out.append(line[i])
                i += 1
        i += 1
        return '"' + "".join(out) + '"'

    name = token(", ")
    tags: dict[str, str] = {}
    while line[i] == ",":
        i += 1
        k = token("=")
        assert line[i] == "="
        i += 1
        tags[k] = token(", ")
    assert line[i] == " "
    i += 1
    fields: dict[str, str] = {}
    while True:
        k = token("=")
        assert line[i] == "=", line
        i += 1
        fields[k] = quoted() if line[i] == '"' else token(", ")
        if line[i] == " ":
            break
        assert line[i] == ","
        i += 1
    ts = line[i + 1 :]
    assert ts.isdigit(), line
    return name, tags, fields, ts


def lossy(v: str) -> str:
    """What line protocol can carry of a tag or key: newline, tab and CR as two characters."""
    return v.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def point_part(p: Point, prefix: str, suffix: str) -> str:
    out = p.to_line_protocol()
    assert out.startswith(prefix) and out.endswith(suffix), out
    return out[len(prefix) : len(out) - len(suffix)]


@settings(max_examples=300, deadline=None)
@given(v=no_backslash)
@example(v="a b,c=d")
@example(v='q"\n\t\r é')
def test_tag_values_and_keys_are_escaped_as_point_escapes_them(v):
    assert lineproto.tag(v) == point_part(Point("m").tag("k", v).field("f", 1.5), "m,k=", " f=1.5")
    assert lineproto.tag(v) == point_part(Point("m").tag(v, "x").field("f", 1.5), "m,", "=x f=1.5")
    assert lineproto.key(v) == point_part(Point("m").field(v, 1.5), "m ", "=1.5")
    assert lineproto.measurement(v) == point_part(Point(v).field("f", 1.5), "", " f=1.5")


@settings(max_examples=300, deadline=None)
@given(v=texts)
@example(v='say "hi" \\ \n bye')
def test_string_field_values_are_escaped_as_point_escapes_them(v):
    assert lineproto._str(v) == point_part(Point("m").field("f", v), "m f=", "")


def test_a_backslash_is_escaped_where_point_breaks_the_line():
    # Point leaves the backslash alone, so `a\ b` reads as the tag `a\` and a broken field set.
    broken = Point("m").tag("k", "a\\ b").field("f", 1.5).to_line_protocol()
    assert broken == "m,k=a\\\\ b f=1.5"
    assert parse(broken + " 1")[1] == {"k": "a\\"}  # the tag is cut at the space it meant to keep
    ours = "m,k=" + lineproto.tag("a\\ b") + " f=1.5 1"
    assert parse(ours) == ("m", {"k": "a\\ b"}, {"f": "1.5"}, "1")


def record(machine: str, channel: str, payload: dict, area: str = "a") -> Record:
    return Record("acme", "hcm", area, "l1", machine, channel, 1_000, 7, payload)


@settings(max_examples=300, deadline=None)
@given(
    machine=texts, area=texts, name=texts, value=st.floats(allow_nan=False, allow_infinity=False)
)
@example(machine="cnc-01 ", area="a,b=c", name="spindle temp_c", value=1.0)
@example(machine="end\\", area="\\", name="x=\\", value=-0.0)
def test_records_that_bypass_validation_read_back_exactly(machine, area, name, value):
    """Whatever a record carries (machine ids from topics, keys that were not validated), its
    line reads back to exactly its tags and fields, as Point's line does when Point is right."""
    payload = {"ts": 1_000, "seq": 7, "power_kw": 2.5, name: value}
    line = lineproto.line(record(machine, "telemetry", payload, area))
    tags = {"enterprise": "acme", "site": "hcm", "area": area, "line": "l1", "machine": machine}
    fields = {"power_kw": 2.5, name: value, "seq": 7.0}
    got = parse(line)
    assert got[0] == "telemetry" and got[3] == "1000007"
    assert got[1] == {lossy(k): lossy(v) for k, v in tags.items()}
    assert {k: float(v) for k, v in got[2].items()} == {lossy(k): v for k, v in fields.items()}
    if "\\" not in machine + area + name:
        oracle = Point("telemetry").time(1_000_007, "us")
        for k, v in tags.items():
            oracle.tag(k, v)
        for k, v in fields.items():
            oracle.field(k, float(v))
        want = parse(oracle.to_line_protocol("us"))
        assert (got[1], {k: float(v) for k, v in got[2].items()}) == (
            want[1],
            {k: float(v) for k, v in want[2].items()},
        )


@settings(max_examples=200, deadline=None)
@given(machine=texts, reason=texts)
def test_state_reason_strings_read_back_exactly(machine, reason):
    line = lineproto.line(
        record(machine, "state", {"ts": 1_000, "seq": 7, "state": "down", "reason": reason})
    )
    _, tags, fields, _ = parse(line)
    assert tags["machine"] == lossy(machine)
    assert fields["reason"] == f'"{reason}"' and fields["state"] == '"down"'


def test_rollup_lines_escape_machine_and_reason():
    secs = Hour()
    secs.add("down", "jam, big=1", 3.0)
    [state, loss] = lineproto.rollup_lines([("m 1", 0, secs)])
    assert parse(state)[1] == {"machine": "m 1"}
    assert parse(loss)[1] == {"machine": "m 1", "reason": "jam, big=1", "state": "down"}


def test_the_escape_caches_stay_bounded_and_right():
    n = lineproto._CACHE_MAX + 5
    out = lineproto.encode(
        [record(f"m {i}", "telemetry", {"power_kw": 1.0, f"v {i}": 2.0}) for i in range(n)]
    ).decode()
    assert len(lineproto._tag_sets) <= lineproto._CACHE_MAX
    assert len(lineproto._field_keys) <= lineproto._CACHE_MAX
    last = parse(out.splitlines()[-1])
    assert last[1]["machine"] == f"m {n - 1}" and f"v {n - 1}" in last[2]
