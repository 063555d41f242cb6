"""`shopfloor collect`: MQTT -> validation -> dedup -> store."""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopfloor.cli.broker_cmd import _port
from shopfloor.cli.errors import UserError
from shopfloor.cli.sim_cmd import _count, _duration
from shopfloor.store.retention import RAW_DEFAULT, ROLLUP_DEFAULT

if TYPE_CHECKING:
    from shopfloor.config.schema import PlantConfig

log = logging.getLogger("shopfloor.collect")


def register(sub: Any) -> None:
    p = sub.add_parser("collect", help="store the plant's telemetry from MQTT")
    p.add_argument(
        "--broker", required=True, metavar="URL", help="mqtt://[user:pass@]host[:port] or mqtts://"
    )
    p.add_argument(
        "--store",
        default="sqlite:///data/shopfloor.db",
        metavar="URL",
        help="default sqlite:///data/shopfloor.db",
    )
    p.add_argument(
        "--config",
        help="plant config: subscribe to this plant only; messages of machines not in it are "
        "dead-lettered (unknown_machine); its shifts tell legacy machines' off and break time",
    )
    p.add_argument(
        "--client-id", default="shopfloor-collector", help="fixed, so the broker keeps our session"
    )
    p.add_argument(
        "--shared-group",
        metavar="NAME",
        help="split the load with other collectors ($share/NAME/...)",
    )
    p.add_argument(
        "--dead-letter",
        metavar="PATH",
        help="bad messages, one JSON line each (default: beside the store)",
    )
    p.add_argument(
        "--metrics-port",
        type=lambda t: 0 if t == "0" else _port(t),
        default=9108,
        help="Prometheus /metrics and /health (0: off)",
    )
    p.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address /metrics binds (default 127.0.0.1: this machine only)",
    )
    p.add_argument(
        "--max-future",
        type=_duration,
        default=86400.0,
        help="reject ts further ahead than this (default 1d)",
    )
    p.add_argument(
        "--max-bytes", type=_count, default=65536, help="reject larger payloads (default 65536)"
    )
    p.add_argument(
        "--buffer",
        type=_count,
        default=50_000,
        help="records held while the store is down (default 50000)",
    )
    # Sparkplug's bounded memory (collector/sparkplug_in.py): any client may invent names.
    p.add_argument(
        "--spb-max-devices",
        type=_count,
        help="Sparkplug devices remembered (aliases, NDEATH members) over all edge nodes; "
        "beyond it devices are stored but not remembered (default 10000, or the --config "
        "plant's machines if more)",
    )
    p.add_argument(
        "--spb-max-nodes",
        type=_count,
        help="Sparkplug edge nodes (a node is a line) remembered, with their devices and "
        "bdSeq; a device of a node beyond it is stored but not remembered (default 1000, or "
        "the --config plant's lines if more)",
    )
    p.add_argument(
        "--spb-rebirths-per-min",
        type=_count,
        default=60,
        help="Sparkplug rebirth requests sent a minute at most, over all edge nodes (default 60)",
    )
    p.add_argument(
        "--stall-after",
        type=_duration,
        default=60.0,
        help="/health answers 503 when records wait but nothing was stored for this long "
        "(default 60s)",
    )
    p.add_argument("--ca-file", help="CA certificate for mqtts://")
    p.add_argument(
        "--spool-dir",
        default="data/influx-spool",
        help="InfluxDB batches whose retries ran out wait here for replay (default data/influx-spool)",
    )
    p.add_argument(
        "--alerts-every",
        type=float,
        default=5.0,
        metavar="S",
        help="with --config: evaluate its alert rules every S seconds and publish the active "
        "alerts, retained, on shopfloor/v1/<enterprise>/<site>/alerts (default 5)",
    )
    # Issue 15, retention: SQLite prunes in the background (shopfloor/store/retention.py);
    # InfluxDB expires points by its retention policies or buckets, which the collector sets
    # on start (shopfloor/store/influx1.py, influx2.py; docs/scaling.md).
    p.add_argument(
        "--retention",
        default=None,
        metavar="AGE",
        help="SQLite: prune raw rows (samples, state changes; counters thinned to one reading "
        "per quarter hour) older than this, in the background; InfluxDB, when given (or the "
        "env): the raw retention policy's (2.x: the bucket's) duration, set on start, "
        "left as it is when not given "
        f"(SQLite default {RAW_DEFAULT}, env SHOPFLOOR_RETENTION; 'forever': never)",
    )
    p.add_argument(
        "--rollup-retention",
        default=None,
        metavar="AGE",
        help="keep the hour and quarter-hour rollups that old ranges read this long (InfluxDB, "
        "when given: the rollups retention policy, 2.x: the rollup bucket; left as it is "
        f"when not given) (SQLite default {ROLLUP_DEFAULT}, env SHOPFLOOR_ROLLUP_RETENTION; "
        "'forever': never prune)",
    )
    p.add_argument(
        "--prune-every",
        type=_duration,
        default=600.0,
        help="SQLite: how often the background pruning runs (default 10m; the first pass "
        "after this long too)",
    )
    p.set_defaults(func=cmd_collect)


def _influx_retention(
    store: Any, keep: tuple[float | None, float | None], done: threading.Event
) -> None:
    """Set an InfluxDB store's retention policies (2.x: buckets), retried every 30 s while
    the server is away; a server that refuses for good (a token without the right) is logged
    once: the policies or buckets then keep what compose or an admin set. `keep`: (raw,
    rollups) seconds, math.inf for forever, None for a side not asked (left alone)."""
    from shopfloor.store import StoreError
    from shopfloor.store.base import PermanentStoreError
    from shopfloor.store.retention import days

    while not done.is_set():
        try:
            store.apply_retention(*keep)
        except PermanentStoreError as exc:
            log.warning("retention not set on %s: %s", store.url, exc)
            return
        except StoreError as exc:
            log.info("retention on %s: %s (trying again in 30 s)", store.url, exc)
            done.wait(30.0)
            continue
        said = [
            f"{what} {'as they were' if s is None else days(None if s == math.inf else s)}"
            for what, s in zip(("raw points", "rollups"), keep, strict=True)
        ]
        log.info("%s keeps %s", store.url, ", ".join(said))
        return


def cmd_collect(args: argparse.Namespace) -> int:
    # A stop from the first line on: SIGTERM while the collector is still starting (importing,
    # its retention, pruner or metrics threads up, the subscription not yet) ends it cleanly
    # once started, exit 0, instead of killing it with the signal (-15).
    done = threading.Event()

    def stop(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    from collector.deadletter import DeadLetter
    from collector.metrics import Metrics
    from collector.service import ALL_PLANTS, FATAL_EXIT, Collector
    from shopfloor.cli.config_cmd import load_or_exit
    from shopfloor.contract import plant_filter
    from shopfloor.mqtt_url import parse_broker_url
    from shopfloor.shifts import ShiftCalendar
    from shopfloor.store import StoreError, open_store, parse_store_url
    from shopfloor.store.retention import Pruner, Retention, days

    try:
        url = parse_broker_url(args.broker)
    except ValueError as exc:
        raise UserError(f"--broker: {exc}") from None
    # InfluxDB expires points by the server's clock and refuses older ones, so its policies
    # change only when asked (an option or the environment; compose sets both): a default
    # there would refuse a backfill or a test's fixed dates once they are a month old.
    raw_text = args.retention or os.environ.get("SHOPFLOOR_RETENTION")
    rollup_text = args.rollup_retention or os.environ.get("SHOPFLOOR_ROLLUP_RETENTION")
    retention_asked = bool(raw_text or rollup_text)
    # On InfluxDB a side not asked is left as it is (None): a default there would shorten a
    # raw policy that kept everything when only the rollups' was given, and influxd would
    # drop every raw point older than a month. Checked against "forever", not the default.
    on_influx = not args.store.startswith("sqlite:")
    try:
        retention = Retention.parse(
            raw_text or ("forever" if on_influx else RAW_DEFAULT),
            rollup_text or ("forever" if on_influx else ROLLUP_DEFAULT),
            "--retention (or SHOPFLOOR_RETENTION)",
            "--rollup-retention (or SHOPFLOOR_ROLLUP_RETENTION)",
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    influx_keep = (  # None: leave that policy alone; math.inf: forever
        None if not raw_text else math.inf if retention.raw_s is None else retention.raw_s,
        None if not rollup_text else math.inf if retention.rollup_s is None else retention.rollup_s,
    )
    try:
        scheme, rest = parse_store_url(args.store)
        store = open_store(args.store, spool_dir=args.spool_dir)
    except (ValueError, StoreError) as exc:
        raise UserError(f"--store: {exc}") from None
    if not args.alerts_every > 0:
        raise UserError(f"--alerts-every: must be above 0 seconds, got {args.alerts_every:g}")
    from shopfloor import sparkplug as spb

    topic = ALL_PLANTS
    spb_topic = spb.ALL_GROUPS  # Sparkplug B too, told apart by its namespace spBv1.0/
    machines: set[tuple[str, str, str]] | None = None
    cfg = None
    if args.config:
        cfg = load_or_exit(args.config)
        topic = plant_filter(cfg.plant.enterprise, cfg.plant.site)
        spb_topic = spb.plant_filter(cfg.plant.enterprise, cfg.plant.site)
        machines = {(line.area, line.id, st.id) for line, st in cfg.stations()}
    spb_max_devices, spb_max_nodes = spb_bounds(args.spb_max_devices, args.spb_max_nodes, cfg)
    dead_path = args.dead_letter or (
        str(Path(rest).with_name("dead-letter.jsonl"))
        if scheme == "sqlite"
        else "dead-letter.jsonl"
    )
    metrics = Metrics({m for _, _, m in machines} if machines is not None else None)
    if args.metrics_port:
        try:
            metrics.serve(args.metrics_port, args.metrics_host)
        except OSError as exc:
            raise UserError(f"--metrics-port {args.metrics_port}: {exc.strerror}") from None
    died: list[str] = []

    def on_fatal(exc: BaseException) -> None:  # in the dying thread: the main loop exits 70
        died.append(f"the writer thread died: {exc!r}")
        done.set()

    collector = Collector(
        url,
        store,
        client_id=args.client_id,
        topic_filter=topic,
        sparkplug_filter=spb_topic,
        shared_group=args.shared_group,
        dead_letter=DeadLetter(dead_path),
        metrics=metrics,
        machines=machines,
        max_future_ms=int(args.max_future * 1000),
        max_bytes=args.max_bytes,
        buffer_limit=args.buffer,
        spb_max_devices=spb_max_devices,
        spb_max_nodes=spb_max_nodes,
        spb_rebirths_per_min=args.spb_rebirths_per_min,
        stall_after_s=args.stall_after,
        ca_file=args.ca_file,
        on_fatal=on_fatal,
        alerts=cfg,  # the config's alert rules, published on the plant's alerts topic
        alerts_every_s=args.alerts_every,
        # Legacy machines' off and break time from the shifts, not from their power.
        calendar=ShiftCalendar(cfg.shifts, cfg.plant.timezone) if cfg is not None else None,
    ).start()
    log.info("collecting from %s into %s; bad messages to %s", url, store.url, dead_path)
    pruner = None
    if scheme == "sqlite" and retention.raw_s is not None:
        pruner = Pruner(rest, retention, every_s=args.prune_every).start()
        log.info("raw rows kept %s, rollups %s", days(retention.raw_s), days(retention.rollup_s))
    elif retention_asked and hasattr(store, "apply_retention"):
        threading.Thread(
            target=_influx_retention, args=(store, influx_keep, done), name="retention", daemon=True
        ).start()

    while not done.wait(1.0):
        why = collector.failure()
        if why:
            died.append(why)
            break
    if died:
        # Crash-only: a supervisor (the demo, compose, systemd) restarts us; what was not
        # acknowledged the broker sends again.
        log.critical("%s: exiting with %d so that the collector is restarted", died[0], FATAL_EXIT)
        if pruner is not None:
            pruner.stop()
        collector.abort()
        return FATAL_EXIT
    if pruner is not None:
        pruner.stop()
    if collector.stop():
        store.close()
    metrics.close()
    return 0


def spb_bounds(devices: int | None, nodes: int | None, cfg: PlantConfig | None) -> tuple[int, int]:
    """The Sparkplug intake's memory bounds: as given, else the defaults or, with a plant
    config, room for every machine and line of it (a node is a line), whichever is more."""
    from collector.sparkplug_in import MAX_DEVICES, MAX_NODES

    n_machines = 0 if cfg is None else sum(1 for _ in cfg.stations())
    n_lines = 0 if cfg is None else len(cfg.lines)
    return (
        max(MAX_DEVICES, n_machines) if devices is None else devices,
        max(MAX_NODES, n_lines) if nodes is None else nodes,
    )
