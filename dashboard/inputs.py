"""The shared header's inputs that every page's refresh callback listens to, in this order:
the live interval, the time range, the language, a custom range's start and end."""

from __future__ import annotations

from dash import Input

from dashboard import ids


def header_inputs() -> list[Input]:
    return [
        Input(ids.REFRESH, "n_intervals"),
        Input(ids.RANGE, "value"),
        Input(ids.LANG, "value"),
        Input(ids.CUSTOM_START, "value"),
        Input(ids.CUSTOM_END, "value"),
    ]
