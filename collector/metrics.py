"""The collector's counters in Prometheus text format (prometheus_client: the reference
implementation, with a registry per collector so tests can run several in one process), and
the small HTTP server that serves them at /metrics beside the collector's /health.

Per-machine labels (duplicates, gaps) come from topics, which anyone allowed to publish can
make up: only the plant's configured machines get their own label (or, without a config, the
first MAX_MACHINE_LABELS machines seen); every other machine is counted under "other", so
untrusted topics cannot grow the label set without bound.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = logging.getLogger("shopfloor.collect")

MAX_MACHINE_LABELS = 500  # without a plant config: machines with their own label
OTHER = "other"  # the label of every machine beyond those

HealthCheck = Callable[[], tuple[bool, str]]


class Metrics:
    def __init__(self, machines: Collection[str] | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "shopfloor_collector_received", "Messages received from the broker", registry=r
        )
        self.stored = Counter(
            "shopfloor_collector_stored", "Records written to the store", registry=r
        )
        self.ignored = Counter(
            "shopfloor_collector_ignored",
            "Messages that are not telemetry (commands, their replies, collectors' watermarks, "
            "Sparkplug node messages): neither stored nor rejected",
            registry=r,
        )
        self.rejected = Counter(
            "shopfloor_collector_rejected",
            "Messages (or records the store refused) sent to the dead-letter file",
            ["reason"],
            registry=r,
        )
        self.duplicates = Counter(
            "shopfloor_collector_duplicates", "Duplicate messages dropped", ["machine"], registry=r
        )
        # Sparkplug's bounded memory (collector/sparkplug_in.py): "device", "node", "rebirth".
        self.sparkplug_dropped = Counter(
            "shopfloor_collector_sparkplug_dropped",
            "Sparkplug devices and edge nodes not remembered (a bound was reached), rebirth "
            "requests not sent (the rate limit)",
            ["what"],
            registry=r,
        )
        self.gaps = Gauge(
            "shopfloor_collector_seq_gaps",
            "Messages missing upstream (seq gaps)",
            ["machine"],
            registry=r,
        )
        self.subscribed = Gauge(
            "shopfloor_collector_subscribed",
            "1 while the broker has confirmed the subscription (a ready collector)",
            registry=r,
        )
        self.buffered = Gauge(
            "shopfloor_collector_buffered", "Messages received but not yet stored", registry=r
        )
        self.buffered_peak = Gauge(
            "shopfloor_collector_buffered_peak",
            "The most records ever held at once (bounded by --buffer)",
            registry=r,
        )
        self.waiting = Gauge(
            "shopfloor_collector_waiting",
            "Messages received but held unhandled (and unacknowledged) while the buffer is full",
            registry=r,
        )
        self.paused = Gauge(
            "shopfloor_collector_paused",
            "1 while intake is paused because the buffer is full (the broker keeps the rest)",
            registry=r,
        )
        self.write_errors = Counter(
            "shopfloor_collector_write_errors",
            "Failed store writes of a transient kind (retried with backoff)",
            registry=r,
        )
        self.store_retrying = Gauge(
            "shopfloor_collector_store_retrying",
            "1 while the store fails with transient errors and the writer retries",
            registry=r,
        )
        self.internal_errors = Counter(
            "shopfloor_collector_internal_errors",
            "Unexpected exceptions while handling one message (dead-lettered as 'internal')",
            registry=r,
        )
        self.disconnects = Counter(
            "shopfloor_collector_disconnects",
            "Connections to the broker lost (not counting the collector's own pauses and stop)",
            registry=r,
        )
        self.write_seconds = Histogram(
            "shopfloor_collector_write_seconds", "Store write latency per batch", registry=r
        )
        # Alerts (collector/alerts.py): an evaluation that raised is counted, never fatal.
        self.alert_errors = Counter(
            "shopfloor_collector_alert_errors",
            "Evaluations of the alert rules that raised (logged once per place; the next goes on)",
            registry=r,
        )
        self.alerts_active = Gauge(
            "shopfloor_collector_alerts_active",
            "Alerts active at the last publish on the plant's alerts topic",
            registry=r,
        )
        self.health_check: HealthCheck = lambda: (False, "starting")
        self._machines = frozenset(machines) if machines is not None else None
        self._labelled: set[str] = set()
        self._label_lock = threading.Lock()
        self._other_gaps: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None

    # -- bounded machine labels -----------------------------------------------------------

    def machine_label(self, machine: str) -> str:
        """The label `machine` is counted under: its own, or OTHER."""
        if self._machines is not None:
            return machine if machine in self._machines else OTHER
        with self._label_lock:
            if machine in self._labelled:
                return machine
            if len(self._labelled) < MAX_MACHINE_LABELS:
                self._labelled.add(machine)
                return machine
        return OTHER

    def duplicate(self, machine: str) -> None:
        self.duplicates.labels(self.machine_label(machine)).inc()

    def set_gaps(self, machine: str, gaps: int) -> None:
        label = self.machine_label(machine)
        if label != OTHER:
            self.gaps.labels(label).set(gaps)
            return
        with self._label_lock:
            self._other_gaps[machine] = gaps
            total = sum(self._other_gaps.values())
        self.gaps.labels(OTHER).set(total)

    # -- serving --------------------------------------------------------------------------

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """/metrics (Prometheus text) and /health (200 or 503, a one-line reason) on host:port,
        in a daemon thread; returns the port (useful with 0)."""
        metrics = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    body, status, ctype = (
                        generate_latest(metrics.registry),
                        200,
                        CONTENT_TYPE_LATEST,
                    )
                elif path == "/health":
                    try:
                        ok, why = metrics.health_check()
                    except Exception as exc:  # a health check must answer, not crash
                        ok, why = False, f"health check failed: {exc!r}"
                    body = f"{'ok' if ok else 'unhealthy'}: {why}\n".encode()
                    status, ctype = (200 if ok else 503), "text/plain; charset=utf-8"
                else:
                    body, status, ctype = b"not found: /metrics, /health\n", 404, "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # a scrape every few seconds is not news

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, name="collector-metrics", daemon=True).start()
        port = server.server_address[1]
        log.info("metrics on http://%s:%d/metrics, health on /health", host, port)
        return port

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- reading --------------------------------------------------------------------------

    def value(self, name: str, **labels: str) -> float:
        v = self.registry.get_sample_value(name, labels or None)
        return float(v or 0.0)

    def total(self, family: str) -> float:
        """The sum over every label set of a metric family (a counter's _total samples)."""
        return sum(
            s.value
            for m in self.registry.collect()
            if m.name == family
            for s in m.samples
            if s.name in (family, f"{family}_total")
        )

    def summary(self) -> str:
        rejected = self.total("shopfloor_collector_rejected")
        dups = self.total("shopfloor_collector_duplicates")
        gaps = self.total("shopfloor_collector_seq_gaps")
        return (
            f"received={self.value('shopfloor_collector_received_total'):.0f} "
            f"stored={self.value('shopfloor_collector_stored_total'):.0f} "
            f"ignored={self.value('shopfloor_collector_ignored_total'):.0f} (not telemetry: commands, watermarks, Sparkplug node messages) "
            f"rejected={rejected:.0f} "
            f"duplicates={dups:.0f} gaps={gaps:.0f} buffered={self.value('shopfloor_collector_buffered'):.0f} "
            f"write_errors={self.value('shopfloor_collector_write_errors_total'):.0f}"
        )
