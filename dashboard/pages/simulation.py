"""Simulation: change the speed, inject a breakdown, tune a station, and watch the effect
arrive (the command's reply, then the machine's state changes in the store)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html
from dash import ctx as dash_ctx

from dashboard import ids
from dashboard.context import context
from dashboard.data import machine_paths
from dashboard.i18n import t
from shopfloor.commands import LIVE_PARAMS, breakdown, set_params, set_speed
from shopfloor.store.base import StoreError
from shopfloor.store.rollup import END_OF_TIME_MS

dash.register_page(__name__, path="/simulation", name="Simulation", order=4)


def layout(**_: Any) -> html.Div:
    ctx = context()
    if ctx.commands is None:
        return html.Div(t("sim.no_broker", "en"), className="message")
    machines = list(machine_paths(ctx))
    return html.Div(
        [
            html.Div(f"{t('sim.broker', 'en')}: {ctx.commands.url}", id=ids.SIM_BROKER),
            html.Div(
                [
                    html.Label(t("sim.speed", "en"), id=ids.SIM_SPEED + "-label"),
                    dcc.Input(id=ids.SIM_SPEED, type="number", min=0.1, value=60, step="any"),
                    html.Button(t("sim.apply", "en"), id=ids.SIM_SPEED_GO),
                ],
                className="sim-row",
            ),
            dcc.Dropdown(
                id=ids.SIM_MACHINE,
                options=machines,
                value=machines[0] if machines else None,
                clearable=False,
            ),
            html.Div(
                [
                    html.Label(t("sim.repair_min", "en"), id=ids.SIM_REPAIR + "-label"),
                    dcc.Input(id=ids.SIM_REPAIR, type="number", min=0.1, value=10, step="any"),
                    html.Button(t("sim.breakdown", "en"), id=ids.SIM_BREAKDOWN_GO),
                ],
                className="sim-row",
            ),
            html.Div(
                [
                    dcc.Dropdown(
                        id=ids.SIM_PARAM,
                        options=list(LIVE_PARAMS),
                        value="mttr_min",
                        clearable=False,
                        style={"width": "16em", "display": "inline-block"},
                    ),
                    dcc.Input(id=ids.SIM_VALUE, type="number", step="any"),
                    html.Button(t("sim.apply", "en"), id=ids.SIM_PARAM_GO),
                ],
                className="sim-row",
            ),
            html.Div(id=ids.SIM_RESULT, className="message"),
            html.H4(t("sim.recent_states", "en"), id=ids.SIM_STATES + "-title"),
            html.Div(id=ids.SIM_STATES),
            html.H4(t("sim.replies", "en"), id=ids.SIM_REPLIES + "-title"),
            html.Div(id=ids.SIM_REPLIES),
        ]
    )


def command_for(
    trigger: str | None,
    speed: float | None,
    repair_min: float | None,
    param: str | None,
    value: float | None,
) -> tuple[bool, dict[str, Any] | str]:
    """(plant-wide?, the command) for the button pressed, or an error text."""
    if trigger == ids.SIM_SPEED_GO:
        if not speed or speed <= 0:
            return True, "speed must be a number above 0"
        return True, set_speed(speed)
    if trigger == ids.SIM_BREAKDOWN_GO:
        return False, breakdown("dashboard", repair_min or None)
    if trigger == ids.SIM_PARAM_GO:
        if value is None or param is None:
            return False, "pick a parameter and give it a value"
        return False, set_params({param: value})
    return True, "nothing pressed"


@callback(
    Output(ids.SIM_RESULT, "children"),
    Input(ids.SIM_SPEED_GO, "n_clicks"),
    Input(ids.SIM_BREAKDOWN_GO, "n_clicks"),
    Input(ids.SIM_PARAM_GO, "n_clicks"),
    State(ids.SIM_SPEED, "value"),
    State(ids.SIM_MACHINE, "value"),
    State(ids.SIM_REPAIR, "value"),
    State(ids.SIM_PARAM, "value"),
    State(ids.SIM_VALUE, "value"),
    prevent_initial_call=True,
)
def send(
    _a: Any,
    _b: Any,
    _c: Any,
    speed: Any,
    machine: str | None,
    repair: Any,
    param: str | None,
    value: Any,
) -> str:
    ctx = context()
    if ctx.commands is None:
        return t("sim.no_broker", "en")
    plant_wide, cmd = command_for(dash_ctx.triggered_id, speed, repair, param, value)
    if isinstance(cmd, str):
        return cmd
    path = None if plant_wide else machine_paths(ctx).get(machine or "")
    if not plant_wide and path is None:
        return "pick a machine"
    reply = ctx.commands.send(ctx.commands.topic(path), cmd)
    if reply is None:
        return "no reply within 3 s: is the simulator running with this broker?"
    p = reply.payload
    return (
        f"{cmd['action']}: ok {p.get('result')}"
        if p.get("ok")
        else f"{cmd['action']}: {p.get('error')}"
    )


@callback(
    Output(ids.SIM_SPEED + "-label", "children"),
    Output(ids.SIM_SPEED_GO, "children"),
    Output(ids.SIM_REPAIR + "-label", "children"),
    Output(ids.SIM_BREAKDOWN_GO, "children"),
    Output(ids.SIM_PARAM_GO, "children"),
    Output(ids.SIM_STATES + "-title", "children"),
    Output(ids.SIM_REPLIES + "-title", "children"),
    Input(ids.LANG, "value"),
)
def labels(lang: str | None) -> tuple[str, ...]:
    keys = ("sim.speed", "sim.apply", "sim.repair_min", "sim.breakdown", "sim.apply",
            "sim.recent_states", "sim.replies")  # fmt: skip
    return tuple(t(k, lang or "en") for k in keys)


@callback(
    Output(ids.SIM_STATES, "children"),
    Output(ids.SIM_REPLIES, "children"),
    Input(ids.REFRESH, "n_intervals"),
    Input(ids.SIM_MACHINE, "value"),
    Input(ids.LANG, "value"),
)
def watch(_n: Any, machine: str | None, lang: str | None) -> tuple[Any, Any]:
    lang = lang or "en"
    ctx = context()
    replies = html.Ul(
        [
            html.Li(
                f"{r.topic.removeprefix(ctx.commands.prefix + '/')}: {r.payload}", className="reply"
            )
            for r in list(ctx.commands.replies)[:10]
        ]
        if ctx.commands
        else []
    )
    if not machine:
        return None, replies
    try:
        newest = ctx.store.last_changes(END_OF_TIME_MS, machine).get(machine)
        rows = (
            ctx.store.states(newest[0] - 3_600_000, newest[0] + 1, machine).get(machine, [])
            if newest
            else []
        )
    except StoreError as exc:
        return str(exc), replies
    # Text from telemetry (reasons) stays text: Dash escapes children.
    items = [
        html.Li(
            f"{datetime.fromtimestamp(ts / 1000, ctx.tz):%H:%M:%S} {t('state.' + state, lang)} {reason}",
            **{"data-state": state},
        )
        for ts, state, reason in reversed(rows[-10:])
    ]
    return html.Ul(items, className="recent-states"), replies
