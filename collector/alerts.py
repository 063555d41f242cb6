"""The collector's alert publisher: every few seconds, the config's alert rules judged against
the store (shopfloor.alerts.evaluate, the function the dashboard uses too), and the active
alerts published retained at QoS 1 on `shopfloor/v1/<enterprise>/<site>/alerts` whenever they
change (shopfloor.contract.alerts_topic).

Crash-only like the rest of the collector: an exception of one evaluation (a store that cannot
answer, a bug) is counted (shopfloor_collector_alert_errors_total), its traceback logged once
per place it was raised from, and the next evaluation goes on; nothing here can stop intake or
storage, which run in their own threads. The thread is a daemon and holds no lock of theirs.

Published when the set of active alerts (kind and subject) changes, when an alert's values
moved and a minute has passed since the last publish (the retained copy stays current for a
late subscriber without a message every few seconds), and again after every reconnect (a
broker that crashed may have lost the retained copy).
"""

from __future__ import annotations

import logging
import threading
import traceback
from typing import TYPE_CHECKING

import orjson

from shopfloor import alerts, clock
from shopfloor.config.schema import PlantConfig
from shopfloor.contract import alerts_topic

if TYPE_CHECKING:
    from collector.service import Collector

log = logging.getLogger("shopfloor.collect")
REFRESH_S = 60.0  # values that moved are published again at most this often


class AlertPublisher:
    def __init__(self, collector: Collector, cfg: PlantConfig, every_s: float = 5.0):
        self.collector = collector
        self.cfg = cfg
        self.every_s = every_s
        self.topic = alerts_topic(cfg.plant.enterprise, cfg.plant.site)
        self.published: list[alerts.Alert] | None = None
        self._published_at = float("-inf")
        self._published_conn = -1
        self._logged: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="collector-alerts", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        """No more evaluations; waits (bounded) for one under way, so the store is not closed
        beneath it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _main(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.tick()
            except Exception as exc:
                self._error(exc)

    def tick(self, now_ms: int | None = None) -> bool:
        """One evaluation; True if it published."""
        c = self.collector
        if c.metrics.value("shopfloor_collector_subscribed") != 1:
            return False  # not connected: publish once the broker is back
        now = clock.now_ms() if now_ms is None else now_ms
        active = alerts.evaluate(c.store, self.cfg, now)
        conn = c._conn
        keys = [a.key for a in active]
        before = self.published
        changed = before is None or keys != [a.key for a in before]
        moved = before is not None and active != before
        stale = now / 1000.0 - self._published_at >= REFRESH_S
        if not (changed or conn != self._published_conn or (moved and stale)):
            return False
        body = orjson.dumps(alerts.payload(active, now))
        info = c.client.publish(self.topic, body, qos=1, retain=True)
        if info.rc != 0:
            return False  # not connected after all: tried again on the next evaluation
        if changed:
            log.info(
                "alerts: %s",
                ", ".join(f"{a.kind} {a.subject}" for a in active) or "none active",
            )
        self.published = active
        self._published_at = now / 1000.0
        self._published_conn = conn
        c.metrics.alerts_active.set(len(active))
        return True

    def _error(self, exc: Exception) -> None:
        try:
            self.collector.metrics.alert_errors.inc()
            tb = traceback.extract_tb(exc.__traceback__)
            where = f"{type(exc).__name__}@{tb[-1].filename}:{tb[-1].lineno}" if tb else repr(exc)
            if where not in self._logged:
                self._logged.add(where)
                log.error(
                    "evaluating the alert rules raised (counted; the next evaluation goes on, "
                    "further errors from the same place are not logged):",
                    exc_info=exc,
                )
        except Exception:
            log.critical("the alert error handler failed", exc_info=True)
