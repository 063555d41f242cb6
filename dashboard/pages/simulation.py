"""Simulation: change the speed, inject a breakdown, tune a station, and watch the effect
arrive (the command's reply, then the machine's state changes in the store)."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html
from dash import ctx as dash_ctx

from dashboard import fmt, ids, notices, replies
from dashboard.context import DashContext, context
from dashboard.data import machine_paths
from dashboard.i18n import t
from dashboard.notices import store_error
from shopfloor import clock
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
                    # The speed in use (announced by the simulator), not a made-up default.
                    dcc.Input(
                        id=ids.SIM_SPEED,
                        type="number",
                        min=0.1,
                        value=current_speed(ctx) or 1,
                        step="any",
                    ),
                    html.Button(t("sim.apply", "en"), id=ids.SIM_SPEED_GO),
                ],
                className="sim-row",
            ),
            html.Div(id=ids.SIM_CLOCK, className="message sim-clock"),
            html.Div(t("sim.speed_note", "en"), id=ids.SIM_NOTE, className="sim-note"),
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
                        options=[{"label": fmt.param(p, "en"), "value": p} for p in LIVE_PARAMS],
                        value="mttr_min",
                        clearable=False,
                        # Wide enough for the longest parameter in Vietnamese ("Thời gian
                        # trung bình giữa hai lần hỏng (phút)"); style.css keeps it from shrinking.
                        style={"width": "28em", "display": "inline-block"},
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


# The plant is "at the clock" when its newest stored message is this close to it: a live
# plant is always behind by up to a sampling interval and the collector's batching.
AT_CLOCK_MS = 60_000


def current_speed(ctx: DashContext) -> float | None:
    """The simulator's speed in use: the newest set_speed reply on the plant's reply topic
    (each change is announced there, retained, so it is known from the page's start)."""
    if ctx.commands is None:
        return None
    return ctx.commands.speed()


def clock_status(ctx: DashContext, lang: str, now_ms: int | None = None) -> list[html.P]:
    """Where the plant's clock stands against the wall clock (the pages cut at the wall
    clock), from the store's newest message, and the speed in use."""
    now = clock.now_ms() if now_ms is None else now_ms
    speed = current_speed(ctx)
    lines = [
        t("sim.speed_in_use", lang).format(speed=fmt.decimal(speed, lang))
        if speed is not None
        else t("sim.speed_unknown", lang)
    ]
    try:
        newest = max((m.last_ts for m in ctx.store.machines() if m.last_ts), default=None)
    except StoreError as exc:
        return [html.P(line) for line in [*lines, notices.plain(store_error(exc), lang)]]
    if newest is None:
        lines.append(t("sim.no_data", lang))
    else:
        when = f"{fmt.date(newest, ctx.tz, lang)} {fmt.clock_time(newest, ctx.tz, lang, True)}"
        if newest > now + AT_CLOCK_MS:
            lines.append(t("sim.ahead", lang).format(newest=when))
        elif now - newest > AT_CLOCK_MS:
            minutes = fmt.number((now - newest) / 60_000, lang, 1)
            lines.append(t("sim.behind", lang).format(minutes=minutes, newest=when))
        else:
            lines.append(t("sim.at_clock", lang).format(newest=when))
    return [html.P(line, **{"data-sim-clock": str(i)}) for i, line in enumerate(lines)]


def command_for(
    trigger: str | None,
    speed: float | None,
    repair_min: float | None,
    param: str | None,
    value: float | None,
) -> tuple[bool, dict[str, Any] | str]:
    """(plant-wide?, the command) for the button pressed, or an error's catalogue key."""
    if trigger == ids.SIM_SPEED_GO:
        if not speed or speed <= 0:
            return True, "sim.err.speed"
        return True, set_speed(speed)
    if trigger == ids.SIM_BREAKDOWN_GO:
        return False, breakdown("dashboard", repair_min or None)
    if trigger == ids.SIM_PARAM_GO:
        if value is None or param is None:
            return False, "sim.err.param"
        return False, set_params({param: value})
    return True, "sim.err.nothing"


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
    State(ids.LANG, "value"),
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
    lang: str | None = None,
) -> str:
    lang = lang or "en"
    ctx = context()
    if ctx.commands is None:
        return t("sim.no_broker", lang)
    plant_wide, cmd = command_for(dash_ctx.triggered_id, speed, repair, param, value)
    if isinstance(cmd, str):
        return t(cmd, lang)
    path = None if plant_wide else machine_paths(ctx).get(machine or "")
    if not plant_wide and path is None:
        return t("sim.err.machine", lang)
    reply = ctx.commands.send(ctx.commands.topic(path), cmd)
    if reply is None:
        return t("sim.no_reply", lang)
    # The reply is English on the wire: rebuilt in the page's language from its structure.
    return replies.describe(reply.topic, reply.payload, ctx.commands.prefix, ctx.tz, lang)


@callback(Output(ids.SIM_PARAM, "options"), Input(ids.LANG, "value"))
def param_options(lang: str | None) -> list[dict[str, str]]:
    """The live parameters by their names, never their config keys."""
    return [{"label": fmt.param(p, lang or "en"), "value": p} for p in LIVE_PARAMS]


@callback(
    Output(ids.SIM_SPEED + "-label", "children"),
    Output(ids.SIM_SPEED_GO, "children"),
    Output(ids.SIM_REPAIR + "-label", "children"),
    Output(ids.SIM_BREAKDOWN_GO, "children"),
    Output(ids.SIM_PARAM_GO, "children"),
    Output(ids.SIM_STATES + "-title", "children"),
    Output(ids.SIM_REPLIES + "-title", "children"),
    Output(ids.SIM_NOTE, "children"),
    Input(ids.LANG, "value"),
)
def labels(lang: str | None) -> tuple[str, ...]:
    keys = ("sim.speed", "sim.apply", "sim.repair_min", "sim.breakdown", "sim.apply",
            "sim.recent_states", "sim.replies", "sim.speed_note")  # fmt: skip
    return tuple(t(k, lang or "en") for k in keys)


@callback(
    Output(ids.SIM_CLOCK, "children"),
    Input(ids.REFRESH, "n_intervals"),
    Input(ids.LANG, "value"),
    Input(ids.SIM_RESULT, "children"),
)
def clock_line(_n: Any, lang: str | None, _result: Any) -> list[html.P]:
    return clock_status(context(), lang or "en")


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
    answers = html.Ul(
        [
            html.Li(
                replies.describe(r.topic, r.payload, ctx.commands.prefix, ctx.tz, lang),
                className="reply",
            )
            for r in list(ctx.commands.replies)[:10]
        ]
        if ctx.commands
        else []
    )
    if not machine:
        return None, answers
    try:
        newest = ctx.store.last_changes(END_OF_TIME_MS, machine).get(machine)
        rows = (
            ctx.store.states(newest[0] - 3_600_000, newest[0] + 1, machine).get(machine, [])
            if newest
            else []
        )
    except StoreError as exc:
        return notices.plain(store_error(exc), lang), answers
    # Text from telemetry (reasons) stays text: Dash escapes children.
    items = [
        html.Li(
            f"{fmt.clock_time(ts, ctx.tz, lang, seconds=True)} {t('state.' + state, lang)} "
            f"{fmt.reason(reason, lang)}",
            **{"data-state": state},
        )
        for ts, state, reason in reversed(rows[-10:])
    ]
    return html.Ul(items, className="recent-states"), answers
