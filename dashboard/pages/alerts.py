"""Alerts: the rules the config sets and the alerts active now, judged from the store with the
same function the collector publishes from (shopfloor.alerts)."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, html

from dashboard import fmt, ids
from dashboard.alertview import ActiveAlerts, active, value_text
from dashboard.context import context
from dashboard.i18n import t
from shopfloor.config.schema import PlantConfig

dash.register_page(__name__, path="/alerts", name="Alerts", order=8)


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            html.Div(id=ids.ALERTS_MESSAGE, className="message"),
            html.Div(id=ids.ALERTS_UPDATED, className="updated"),
            html.Div(id=ids.ALERTS_LIST),
            html.Div(id=ids.ALERTS_RULES),
        ]
    )


def rules_list(cfg: PlantConfig | None, lang: str) -> list[Any]:
    if cfg is None:
        return []
    a = cfg.alerts
    items = []
    if a.machine_down_min is not None:
        value = fmt.number(a.machine_down_min, lang, 0)
        items.append(t("alerts.rule.machine_down", lang).format(value=value))
    if a.line_oee_below is not None:
        value = fmt.percent(a.line_oee_below, lang)
        items.append(t("alerts.rule.line_oee_low", lang).format(value=value))
    if a.line_oee_below_target:
        items.append(t("alerts.rule.line_oee_target", lang))
    if a.demand_limit_kw is not None:
        value = fmt.number(a.demand_limit_kw, lang, 1)
        items.append(t("alerts.rule.demand_high", lang).format(value=value))
    if not items:
        return []
    return [html.H4(t("alerts.rules", lang)), html.Ul([html.Li(x) for x in items])]


def alerts_table(found: ActiveAlerts, lang: str, tz: Any) -> Any:
    if not found.alerts:
        return html.Div(t("alerts.none", lang), className="alerts-none")
    head = html.Tr(
        [
            html.Th(t(k, lang))
            for k in (
                "alerts.kind",
                "alerts.subject",
                "alerts.since",
                "alerts.value",
                "alerts.threshold",
            )
        ]
    )
    rows = []
    for a in found.alerts:
        value, threshold = value_text(a, lang)
        unit = {"machine_down": f" {t('min', lang)}", "demand_high": " kW"}.get(a.kind, "")
        subject = a.subject if a.kind != "demand_high" else t("plant", lang)
        rows.append(
            html.Tr(
                [
                    html.Td(t(f"alerts.kind.{a.kind}", lang)),
                    html.Td(subject),
                    html.Td(fmt.date_time(a.since, tz, lang)),
                    html.Td(value + unit),
                    html.Td(threshold + unit),
                ],
                className="alert-row",
                **{"data-alert": f"{a.kind}:{a.subject}"},
            )
        )
    return [
        html.H4(t("alerts.active", lang)),
        html.Table([html.Thead(head), html.Tbody(rows)], className="kpi-table alerts-table"),
    ]


@callback(
    Output(ids.ALERTS_LIST, "children"),
    Output(ids.ALERTS_RULES, "children"),
    Output(ids.ALERTS_MESSAGE, "children"),
    Output(ids.ALERTS_UPDATED, "children"),
    Input(ids.REFRESH, "n_intervals"),
    Input(ids.LANG, "value"),
)
def refresh(_n: int | None, lang: str | None) -> tuple[Any, ...]:
    lang = lang or "en"
    ctx = context()
    found = active(ctx)
    updated = f"{t('updated', lang)} {fmt.clock_time(found.now_ms, ctx.tz, lang, seconds=True)}"
    if not found.rules:
        return None, None, t("alerts.no_rules", lang), updated
    message = t("alerts.store_error", lang).format(detail=found.error) if found.error else None
    return alerts_table(found, lang, ctx.tz), rules_list(ctx.cfg, lang), message, updated
