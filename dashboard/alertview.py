"""Alerts on the dashboard: the active alerts judged from the store with the kernel's rules
(shopfloor.alerts.evaluate, the function the collector publishes from, so both say the same),
as sentences in the page's language, and the banner every page shows above its content."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from dash import Input, Output, callback, dcc, html

from dashboard import fmt, ids
from dashboard.context import DashContext, context
from dashboard.i18n import t
from shopfloor import alerts, clock
from shopfloor.store.base import StoreError


@dataclass
class ActiveAlerts:
    alerts: list[alerts.Alert] = field(default_factory=list)
    rules: bool = False  # the config sets any rule
    error: str | None = None
    now_ms: int = 0


# Every open tab asks every refresh (the banner on every page, the Alerts page again): one
# evaluation per clock bucket of this length serves them all. At most half a refresh period,
# so an alert that becomes active shows on the next refresh at the latest.
CACHE_MS = 2_500
_cache: tuple[Any, Any, int, ActiveAlerts] | None = None  # store, config, bucket, the answer
# Held while evaluating: callbacks arriving meanwhile wait for that evaluation, not run theirs.
_cache_lock = threading.Lock()


def _evaluate(ctx: DashContext, now: int) -> ActiveAlerts:
    if ctx.cfg is None or not alerts.enabled(ctx.cfg):
        return ActiveAlerts(now_ms=now)
    try:
        return ActiveAlerts(alerts.evaluate(ctx.store, ctx.cfg, now), True, None, now)
    except StoreError as exc:
        return ActiveAlerts([], True, str(exc), now)


def active(ctx: DashContext, now_ms: int | None = None) -> ActiveAlerts:
    """The alerts active now, evaluated once per clock bucket (CACHE_MS, at most half the
    refresh period) for every tab and page: `now_ms` of the result is when it was judged."""
    global _cache
    now = clock.now_ms() if now_ms is None else now_ms
    bucket_ms = max(1, min(CACHE_MS, int(ctx.refresh_s * 500)))
    bucket = now // bucket_ms
    with _cache_lock:
        # By identity, the objects held: another app's store (a test's) never hits.
        if (
            _cache is not None
            and _cache[0] is ctx.store
            and _cache[1] is ctx.cfg
            and _cache[2] == bucket
        ):
            return _cache[3]
        found = _evaluate(ctx, now)
        _cache = (ctx.store, ctx.cfg, bucket, found)
        return found


def value_text(a: alerts.Alert, lang: str) -> tuple[str, str]:
    """(value, threshold) as the page's language writes them."""
    if a.kind == "line_oee_low":
        return fmt.percent(a.value, lang), fmt.percent(a.threshold, lang)
    if a.kind == "machine_down":
        return fmt.number(a.value, lang, 0), fmt.number(a.threshold, lang, 0)
    return fmt.number(a.value, lang, 1), fmt.number(a.threshold, lang, 1)


def sentence(a: alerts.Alert, lang: str, tz: ZoneInfo) -> str:
    value, threshold = value_text(a, lang)
    return t(f"alerts.text.{a.kind}", lang).format(
        subject=a.subject,
        value=value,
        threshold=threshold,
        since=fmt.clock_time(a.since, tz, lang),
    )


def banner(found: ActiveAlerts, lang: str, tz: ZoneInfo) -> tuple[Any, dict[str, str]]:
    """The banner's children and style: hidden while nothing is active."""
    if not found.alerts:
        return None, {"display": "none"}
    n = len(found.alerts)
    title = t("alerts.banner_one", lang) if n == 1 else t("alerts.banner", lang).format(n=n)
    return [
        dcc.Link(f"⚠ {title}", href="/alerts", className="alert-banner-title"),
        *(
            html.Span(
                sentence(a, lang, tz),
                className="alert-banner-item",
                **{"data-alert": f"{a.kind}:{a.subject}"},
            )
            for a in found.alerts
        ),
    ], {}


@callback(
    Output(ids.ALERT_BANNER, "children"),
    Output(ids.ALERT_BANNER, "style"),
    Input(ids.REFRESH, "n_intervals"),
    Input(ids.LANG, "value"),
)
def refresh_banner(_n: int | None, lang: str | None) -> tuple[Any, dict[str, str]]:
    ctx = context()
    return banner(active(ctx), lang or "en", ctx.tz)
