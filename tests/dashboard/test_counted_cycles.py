"""The dashboard says why a legacy machine's figures are inferred (issue 12): its cycles
counted from its power peaks (a stroke meter) or its ideal cycle assumed, in both languages."""

from __future__ import annotations

from typing import Any

import pytest

from dashboard import cards
from dashboard.i18n import t
from shopfloor.report import INFERRED_FIELDS, entry
from shopfloor.targets import DEFAULTS


def badges(node: Any) -> list[Any]:
    found = []
    if "inferred-mark" in (getattr(node, "className", None) or ""):
        found.append(node)
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found += badges(child)
    return found


def legacy(counted: bool) -> dict[str, Any]:
    e = entry({"running": 3600.0}, 76, 76, 0, 45.0, 20.0)  # performance 0.95
    e.update(inferred=True, inferred_fields=list(INFERRED_FIELDS))
    if counted:
        e["cycles_counted"] = True
    return e


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_counted_cycles_are_said_counted(lang):
    (badge,) = badges(cards.kpi_item("performance", "m:perf", legacy(True), DEFAULTS, lang))
    assert badge.title == t("inferred.counted.title", lang)
    assert badge.title != t("inferred.title", lang)
    (badge,) = badges(cards.kpi_item("performance", "m:perf", legacy(False), DEFAULTS, lang))
    assert badge.title == t("inferred.title", lang)


def test_the_vietnamese_text_is_vietnamese():
    vi = t("inferred.counted.title", "vi")
    assert vi != t("inferred.counted.title", "en") and "đếm" in vi and "công suất" in vi
