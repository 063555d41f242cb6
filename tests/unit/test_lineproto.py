"""The line-protocol encoder against influxdb-client's own Point as the oracle (issue 14,
found 3: a field name with a space, comma or `=` was written unescaped and InfluxDB answered
400, stalling the pipeline)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from influxdb_client import Point

from shopfloor.store import lineproto
from shopfloor.store.base import Record
from shopfloor.store.rollup import Hour

SPECIALS = [*" ,=\"'\\\n\t\r#é中", "\\\\", "\\ ", "\\,", "\\=", 'a"', "\U0001f600"]
texts = st.lists(
    st.sampled_from(SPECIALS) | st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12
).map("".join)
no_backslash = texts.filter(lambda s: "\\" not in s)

# How readers find where a name or tag value ends (see shopfloor/store/lineproto.py):
# "odd": a character is escaped when an odd run of backslashes comes before it (the documented
# syntax, VictoriaMetrics, InfluxDB's field keys); "previous": when the character before it is
# a backslash (InfluxDB 1.x/2.x tags).
RULES = ("odd", "previous")


def parse(line: str, rule: str = "odd") -> tuple[str, dict[str, str], dict[str, str], str]:
    """Splits one line into measurement, tags, fields and timestamp as a reader with `rule`
    does; names and tag values come back still escaped, string values with their quotes."""
    i = 0

    def escaped(j: int, rule: str = rule) -> bool:
        if rule == "previous":
            return j > 0 and line[j - 1] == "\\"
        run = 0
        while j - run - 1 >= 0 and line[j - run - 1] == "\\":
            run += 1
        return run % 2 == 1

    def token(stops: str) -> str:
        nonlocal i
        start = i
        while i < len(line) and not (line[i] in stops and not escaped(i)):
            i += 1
        return line[start:i]

    def quoted() -> str:
        nonlocal i
        start = i
        i += 1
        while line[i] != '"' or escaped(i, "odd"):  # every reader pairs escapes in strings
            i += 1
        i += 1
        return line[start:i]

    name = token(", ")
    tags: dict[str, str] = {}
    while line[i] == ",":
        i += 1
        k = token("=")
        assert line[i] == "=", line
        i += 1
        tags[k] = token(", ")
    assert line[i] == " ", line
    i += 1
    fields: dict[str, str] = {}
    while True:
        k = token("=")
        assert line[i] == "=", line
        i += 1
        fields[k] = quoted() if line[i] == '"' else token(", ")
        if line[i] == " ":
            break
        assert line[i] == ",", line
        i += 1
    ts = line[i + 1 :]
    assert ts.isdigit(), line
    return name, tags, fields, ts


def unescape(token: str) -> str:
    """A name or tag value without backslashes in the original: every backslash escapes."""
    return token.replace("\\,", ",").replace("\\=", "=").replace("\\ ", " ")


def unquote(token: str) -> str:
    assert token[0] == token[-1] == '"'
    out, i = [], 1
    while i < len(token) - 1:
        if token[i] == "\\" and token[i + 1] in '"\\':
            i += 1
        out.append(token[i])
        i += 1
    return "".join(out)


def lossy(v: str) -> str:
    """What line protocol can carry of a name: newline, tab and CR as two characters."""
    return v.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def point_part(p: Point, prefix: str, suffix: str) -> str:
    out = p.to_line_protocol()
    assert out.startswith(prefix) and out.endswith(suffix), out
    return out[len(prefix) : len(out) - len(suffix)]


@settings(max_examples=300, deadline=None)
@given(v=no_backslash)
@example(v="a b,c=d")
@example(v='q"\n\t\r é')
def test_names_and_tag_values_are_escaped_as_point_escapes_them(v):
    assert lineproto.tag(v) == point_part(Point("m").tag("k", v).field("f", 1.5), "m,k=", " f=1.5")
    assert lineproto.tag(v) == point_part(Point("m").tag(v, "x").field("f", 1.5), "m,", "=x f=1.5")
    assert lineproto.key(v) == point_part(Point("m").field(v, 1.5), "m ", "=1.5")
    assert lineproto.measurement(v) == point_part(Point(v).field("f", 1.5), "", " f=1.5")


@settings(max_examples=300, deadline=None)
@given(v=texts)
@example(v='say "hi" \\ \n bye')
def test_string_field_values_are_escaped_as_point_escapes_them(v):
    assert lineproto._str(v) == point_part(Point("m").field("f", v), "m f=", "")
    assert unquote(lineproto._str(v)) == v


@pytest.mark.parametrize("v", ["a\\,b", "a\\ b", "end\\\\", "a\\\\\\=b"])
def test_a_backslash_before_a_separator_stays_inside_its_tag_for_every_reader(v):
    # Point writes an even run of backslashes before the escaped character (or the end): an
    # odd-run reader (the documented syntax, VictoriaMetrics) takes the separator as real.
    theirs = Point("m").tag("k", v).field("f", 1.5).to_line_protocol() + " 1"
    with pytest.raises((AssertionError, IndexError)):
        assert parse(theirs, "odd")[1:3] == ({"k": lineproto.tag(v)}, {"f": "1.5"})
    ours = "m,k=" + lineproto.tag(v) + " f=1.5 1"
    for rule in RULES:
        assert parse(ours, rule) == ("m", {"k": lineproto.tag(v)}, {"f": "1.5"}, "1")


@pytest.mark.parametrize("v", ["end\\", "end\\\\", "\\", "a\\\\,b\\\\\\ c"])
def test_a_name_ending_in_backslashes_keeps_its_separator_for_every_reader(v):
    for rule in RULES:
        assert parse("m,k=" + lineproto.tag(v) + " f=1.5 1", rule)[1] == {"k": lineproto.tag(v)}
        assert parse("m " + lineproto.key(v) + "=1.5 1", rule)[2] == {lineproto.key(v): "1.5"}
        assert parse(lineproto.measurement(v) + " f=1.5 1", rule)[0] == lineproto.measurement(v)


def record(machine: str, channel: str, payload: dict, area: str = "a") -> Record:
    return Record("acme", "hcm", area, "l1", machine, channel, 1_000, 7, payload)


TAG_KEYS = ["enterprise", "site", "area", "line", "machine"]


@settings(max_examples=300, deadline=None)
@given(
    machine=texts, area=texts, name=texts, value=st.floats(allow_nan=False, allow_infinity=False)
)
@example(machine="cnc-01 ", area="a,b=c", name="spindle temp_c", value=1.0)
@example(machine="end\\", area="\\\\", name="x=\\", value=-0.0)
@example(machine="a\\,b", area="a\\ b", name="a\\=b\\\\", value=2.0)
def test_records_that_bypass_validation_keep_their_shape_for_every_reader(
    machine, area, name, value
):
    """Whatever a record carries (machine ids from topics, keys that were not validated), its
    line has exactly its five tags and three fields for every reader; without backslashes
    they read back exactly, as from Point's line."""
    payload = {"ts": 1_000, "seq": 7, "power_kw": 2.5, name: value}
    line = lineproto.line(record(machine, "telemetry", payload, area))
    tags = {"enterprise": "acme", "site": "hcm", "area": area, "line": "l1", "machine": machine}
    fields = {"power_kw": 2.5, name: value, "seq": 7.0}
    for rule in RULES:
        got = parse(line, rule)
        assert got[0] == "telemetry" and got[3] == "1000007"
        assert list(got[1]) == TAG_KEYS
        assert [float(v) for v in got[2].values()] == [2.5, value, 7.0]
        names = list(got[2])
        assert names[0] == "power_kw" and names[2] == "seq"
    if "\\" in machine + area + name:
        return
    read = {k: unescape(v) for k, v in got[1].items()}
    assert read == {k: lossy(v) for k, v in tags.items()}
    assert unescape(list(got[2])[1]) == lossy(name)
    oracle = Point("telemetry").time(1_000_007, "us")
    for k, v in tags.items():
        oracle.tag(k, v)
    for k, v in fields.items():
        oracle.field(k, float(v))
    want = parse(oracle.to_line_protocol("us"))
    assert got[1] == want[1]
    assert {k: float(v) for k, v in got[2].items()} == {k: float(v) for k, v in want[2].items()}


@settings(max_examples=200, deadline=None)
@given(machine=texts, reason=texts)
def test_state_reason_strings_read_back_exactly(machine, reason):
    line = lineproto.line(
        record(machine, "state", {"ts": 1_000, "seq": 7, "state": "down", "reason": reason})
    )
    for rule in RULES:
        _, tags, fields, _ = parse(line, rule)
        assert list(tags) == TAG_KEYS
        assert unquote(fields["reason"]) == reason and fields["state"] == '"down"'


def test_rollup_lines_escape_machine_and_reason():
    secs = Hour()
    secs.add("down", "jam, big=1", 3.0)
    [state, loss] = lineproto.rollup_lines([("m 1", 0, secs)])
    assert parse(state)[1] == {"machine": "m\\ 1"}
    assert parse(loss)[1] == {"machine": "m\\ 1", "reason": "jam\\,\\ big\\=1", "state": "down"}


def test_the_escape_caches_stay_bounded_and_right():
    n = lineproto._CACHE_MAX + 5
    out = lineproto.encode(
        [record(f"m {i}", "telemetry", {"power_kw": 1.0, f"v {i}": 2.0}) for i in range(n)]
    ).decode()
    assert len(lineproto._tag_sets) <= lineproto._CACHE_MAX
    assert len(lineproto._field_keys) <= lineproto._CACHE_MAX
    last = parse(out.splitlines()[-1])
    assert last[1]["machine"] == f"m\\ {n - 1}" and f"v\\ {n - 1}" in last[2]
