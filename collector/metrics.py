"""The collector's counters, in Prometheus text format (prometheus_client: the reference
implementation, with a registry per collector so tests can run several in one process)."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

log = logging.getLogger("shopfloor.collect")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "shopfloor_collector_received", "Messages received from the broker", registry=r
        )
        self.stored = Counter(
            "shopfloor_collector_stored", "Records written to the store", registry=r
        )
        self.rejected = Counter(
            "shopfloor_collector_rejected",
            "Messages sent to the dead-letter file",
            ["reason"],
            registry=r,
        )
        self.duplicates = Counter(
            "shopfloor_collector_duplicates", "Duplicate messages dropped", ["machine"], registry=r
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
        self.write_errors = Counter(
            "shopfloor_collector_write_errors", "Failed store writes (retried)", registry=r
        )
        self.write_seconds = Histogram(
            "shopfloor_collector_write_seconds", "Store write latency per batch", registry=r
        )

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        start_http_server(port, addr=host, registry=self.registry)
        log.info("metrics on http://%s:%d/metrics", host, port)

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
            f"stored={self.value('shopfloor_collector_stored_total'):.0f} rejected={rejected:.0f} "
            f"duplicates={dups:.0f} gaps={gaps:.0f} buffered={self.value('shopfloor_collector_buffered'):.0f} "
            f"write_errors={self.value('shopfloor_collector_write_errors_total'):.0f}"
        )
