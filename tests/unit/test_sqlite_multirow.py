"""SQLite's insert of a batch in multi-row INSERTs (shopfloor/store/sqlite.py, _insert_many)
stores exactly what binding each row (executemany) stores: same values, same SQLite types,
floats to the bit, the same errors; across the statements' boundaries too."""

from __future__ import annotations

import math
import sqlite3
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopfloor.store.sqlite import SCHEMA, _insert_many

ints = st.integers(-(2**63), 2**63 - 1) | st.sampled_from([0, 1, -1, 2**53 - 1, 2**63 - 1])
floats = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([0.0, -0.0, 5e-324])
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
rows = st.lists(
    st.tuples(texts, ints, ints, floats | ints, texts | st.sampled_from(['{"a_c":1.5}'])),
    max_size=40,
) | st.lists(
    st.tuples(st.just("m"), st.integers(0, 3000), ints, floats, st.just("{}")),
    min_size=1990,
    max_size=2010,
)


def stored(rows_in: list[tuple[object, ...]], how: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(SCHEMA)
    cur = db.cursor()
    if how == "many":
        _insert_many(cur, "samples", 5, rows_in)
    else:
        cur.executemany("INSERT OR IGNORE INTO samples VALUES (?,?,?,?,?)", rows_in)
    got = db.execute(
        'SELECT machine, ts, seq, power_kw, "values", typeof(power_kw) FROM samples '
        "ORDER BY machine, ts, seq"
    ).fetchall()
    db.close()
    # Floats compared by their bits: 0.0 == -0.0 and 1 == 1.0 would hide a difference.
    return [
        (*r[:3], struct.pack("<d", r[3]) if isinstance(r[3], float) else r[3], *r[4:]) for r in got
    ]


@settings(max_examples=300, deadline=None)
@given(rows)
def test_multi_row_inserts_store_what_binding_stores(rows_in):
    assert stored(rows_in, "many") == stored(rows_in, "bind")


@pytest.mark.parametrize(("bad", "kept"), [(2**63, None), (math.inf, 2), (None, 1), ("12", 2)])
def test_odd_values_as_binding_has_them(bad, kept):
    """An int beyond int64 is OverflowError as when binding; an infinity is stored as one, a
    None refused by NOT NULL (OR IGNORE: the row is left out), a numeric string kept."""
    rows_in = [("m1", 1, 1, 1.0, "{}"), ("m1", 2, 2, bad, "{}")]
    if kept is None:
        with pytest.raises(OverflowError):
            stored(rows_in, "many")
        return
    assert stored(rows_in, "many") == stored(rows_in, "bind")
    assert len(stored(rows_in, "many")) == kept
