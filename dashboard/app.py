"""The Dash app: a shared header (language, range, live refresh) and one module per page."""

from __future__ import annotations

import base64
import hmac
from typing import Any
from zoneinfo import ZoneInfo

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Dash, Input, Output, callback, dcc, html

from dashboard import alertview, downloads, ids
from dashboard.commands import CommandClient
from dashboard.context import DashContext, set_context
from dashboard.i18n import t
from shopfloor.config.schema import PlantConfig
from shopfloor.shifts import ShiftCalendar
from shopfloor.store.base import Store
from shopfloor.timerange import RANGES

# Registers the alert banner's callback (the banner is in the shell below).
_ = alertview


def create_app(
    store: Store,
    cfg: PlantConfig | None = None,
    auth: str | None = None,
    refresh_s: float = 5.0,
    commands: CommandClient | None = None,
) -> Dash:
    tz = ZoneInfo(cfg.plant.timezone if cfg else "Asia/Ho_Chi_Minh")
    calendar = ShiftCalendar(cfg.shifts if cfg else None, tz)
    set_context(DashContext(store, cfg, tz, calendar, refresh_s, commands))
    app = Dash(__name__, use_pages=True, pages_folder="pages", title="shopfloor")
    app.layout = html.Div(
        [
            # The app shell (issue 10): brand, pages, and the controls every page listens to.
            html.Header(
                dbc.Container(
                    [
                        html.A("shopfloor", href="/", className="navbar-brand brand"),
                        html.Nav(
                            nav_links("en", commands is not None), id=ids.NAV, className="nav"
                        ),
                        html.Div(
                            [
                                dcc.Dropdown(
                                    id=ids.RANGE,
                                    options=[
                                        {"label": t(f"range.{r}", "en"), "value": r} for r in RANGES
                                    ],
                                    value="current_shift",
                                    clearable=False,
                                    searchable=False,
                                ),
                                html.Span(
                                    [
                                        # Local wall-clock time of the plant (the browser's
                                        # zone is ignored).
                                        dcc.Input(
                                            id=ids.CUSTOM_START,
                                            type="datetime-local",
                                            debounce=True,
                                            className="form-control form-control-sm",
                                        ),
                                        html.Span("–"),
                                        dcc.Input(
                                            id=ids.CUSTOM_END,
                                            type="datetime-local",
                                            debounce=True,
                                            className="form-control form-control-sm",
                                        ),
                                        html.Span(tz.key.replace("_", " "), className="tz-note"),
                                    ],
                                    id=ids.CUSTOM_BOX,
                                    className="custom-box",
                                    style={"display": "none"},
                                ),
                                dcc.RadioItems(
                                    id=ids.LANG,
                                    options=[
                                        {"label": "English", "value": "en"},
                                        {"label": "Tiếng Việt", "value": "vi"},
                                    ],
                                    value="en",
                                    # The language chosen survives a reload and a new tab: kept
                                    # in the browser's localStorage by Dash's persistence.
                                    persistence=True,
                                    persistence_type="local",
                                    inline=True,
                                    className="lang-switch",
                                    inputClassName="form-check-input",
                                    labelClassName="form-check-label",
                                ),
                            ],
                            className="controls ms-lg-auto",
                        ),
                    ],
                    fluid=True,
                    # One line where it fits, else the controls wrap to a second line
                    # (dashboard/assets/style.css, header review fix).
                    class_name="d-flex flex-wrap align-items-center gap-3 gap-xl-2",
                ),
                className="header app-header",
            ),
            dcc.Interval(id=ids.REFRESH, interval=int(refresh_s * 1000)),
            # Alerts (issue 10): the active alerts above every page, filled by
            # dashboard/alertview.py's callback; hidden while none is active.
            dbc.Container(
                html.Div(id=ids.ALERT_BANNER, className="alert-banner", style={"display": "none"}),
                fluid=True,
            ),
            dbc.Container(dash.page_container, fluid=True, class_name="page"),
        ]
    )
    if auth:
        _basic_auth(app.server, auth)
    # End-of-shift report (issue 10): /reports/<date>/<shift>.pdf|csv behind the same auth
    # (a before_request hook covers every route of the server).
    downloads.register(app.server)
    return app


# Pages that talk to the simulator over MQTT: shown only when the dashboard has --broker.
BROKER_PAGES = frozenset({"/simulation", "/truth"})


def nav_links(lang: str, simulation: bool) -> list[dcc.Link]:
    return [
        dcc.Link(t(f"page.{page['name']}", lang), href=page["relative_path"], className="nav-link")
        for page in dash.page_registry.values()
        if simulation or page["path"] not in BROKER_PAGES
    ]


@callback(Output(ids.NAV, "children"), Input(ids.LANG, "value"))
def nav(lang: str | None) -> list[dcc.Link]:
    from dashboard.context import context

    return nav_links(lang or "en", context().commands is not None)


@callback(
    Output(ids.CUSTOM_BOX, "style"),
    Output(ids.RANGE, "options"),
    Input(ids.RANGE, "value"),
    Input(ids.LANG, "value"),
)
def header_range(range_kind: str | None, lang: str | None) -> tuple[dict[str, str], list[Any]]:
    """The custom range's inputs show only when it is picked; range names follow the language."""
    options = [{"label": t(f"range.{r}", lang or "en"), "value": r} for r in RANGES]
    return {"display": "flex" if range_kind == "custom" else "none"}, options


def _basic_auth(server: flask.Flask, auth: str) -> None:
    """Every route, assets and callbacks included, asks for user:pass."""
    expected = "Basic " + base64.b64encode(auth.encode()).decode()

    @server.before_request
    def check() -> flask.Response | None:
        given = flask.request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), expected.encode()):
            return None
        return flask.Response(
            "login required", 401, {"WWW-Authenticate": 'Basic realm="shopfloor"'}
        )
