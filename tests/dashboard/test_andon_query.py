"""The andon's query string as Dash hands it to the page's layout (dash._pages parses it with
parse_qs): whatever a TV's URL says, the page lays out, naming an unusable ?every=."""

from __future__ import annotations

import sys

import pytest
from dash._pages import _parse_query_string

from shopfloor.config import load_config
from shopfloor.store.sqlite import SqliteStore
from tests.support import PLANT


@pytest.fixture(scope="module")
def andon(tmp_path_factory):
    from dashboard.app import create_app

    store = SqliteStore(tmp_path_factory.mktemp("andon") / "s.db")
    create_app(store, load_config(PLANT), auth="plant:secret")
    yield sys.modules["pages.andon"]
    store.close()


def every_of(layout) -> dict:
    """The andon's ?every= as its layout keeps it: seconds used, and the text it names."""
    return next(c.data for c in layout.children if "seconds" in (getattr(c, "data", None) or {}))


@pytest.mark.parametrize(
    "query, seconds, bad",
    [
        ("?every=30", 30, None),
        ("", 10, None),
        ("?every=soon", 10, "soon"),
        ("?every=2", 10, "2"),
        # Repeated: Dash passes a list, which int() refused with a TypeError (a blank TV).
        ("?every=3&every=4", 10, "3&every=4"),
        ("?every=5&lang=vi&lang=en", 5, None),
    ],
)
def test_every_from_the_query_string(andon, query, seconds, bad):
    got = every_of(andon.layout(**_parse_query_string(query)))
    assert got == {"seconds": seconds, "bad": bad}
