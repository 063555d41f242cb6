"""`shopfloor sim`: run the plant model, write JSONL telemetry and a ground-truth report."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

from shopfloor import clock
from shopfloor.cli.config_cmd import load_or_exit
from shopfloor.cli.errors import UserError
from shopfloor.timeparse import format_duration, parse_duration, parse_instant

log = logging.getLogger("shopfloor.sim")


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return v


def _count(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def _count0(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: Any) -> None:
    p = sub.add_parser("sim", help="run the plant simulator")
    p.add_argument("--config", required=True, help="plant config YAML")
    p.add_argument("--seed", type=int, help="random seed (default: the config's seed)")
    p.add_argument("--duration", type=_duration, help="how long to simulate: 30m, 8h, 7d ...")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--fast", action="store_true", help="as fast as possible (backfill)")
    pace.add_argument(
        "--speed", type=_positive, help="sim seconds per wall second (default: 1, real time)"
    )
    p.add_argument("--start", help="simulated start, ISO 8601 (default: now)")
    p.add_argument("--jsonl", metavar="PATH|-", help="write every message as a JSON line")
    p.add_argument("--report", metavar="PATH|-", help="write the ground truth as JSON at the end")
    # Issue 15: history at the speed of the store (shopfloor/cli/bulk.py, docs/history.md).
    p.add_argument(
        "--store",
        metavar="URL",
        help="with --fast: write the history straight into this store (sqlite:///..., "
        "influxdb1://..., influxdb://...), validated and rolled up as the collector would, "
        "without a broker",
    )
    p.add_argument(
        "--jobs",
        type=_count,
        metavar="N",
        help="with --fast --store sqlite:///...: simulate the plant's lines in N processes, each "
        "writing its own machines, the same history sooner (default: one per CPU core, at most "
        "4 and one per line; 1 with --report, --jsonl, --jsonl-dir, --modbus or --opcua, which "
        "need the whole plant in one process)",
    )
    # A part of a --jobs run writes what its parent sums up here (shopfloor/cli/sim_jobs.py).
    p.add_argument("--shard-summary", metavar="PATH", help=argparse.SUPPRESS)
    p.add_argument(
        "--jsonl-dir",
        metavar="DIR",
        help="with --fast: write the validated history as JSON lines partitioned by day and "
        "channel, DIR/day=YYYY-MM-DD/channel=<channel>/part-<n>.jsonl (docs/history.md)",
    )
    p.add_argument(
        "--backfill",
        type=_duration,
        metavar="DURATION",
        help="start this long before now, backfill, then run live (= --start <now - DURATION> --then-live)",
    )
    p.add_argument(
        "--then-live",
        action="store_true",
        help="backfill from --start to now, then run live at --speed (default 1)",
    )
    p.add_argument(
        "--resume",
        metavar="JSON",
        help="go on from an earlier run: a file or text {machine: {seq, total, good, scrap, "
        "energy_kwh}}, optionally ideal_s, orders, inventory and wear (simulator/resume.py; "
        "shopfloor demo passes what its store holds: no seq restart, no meter stepping back)",
    )
    p.add_argument(
        "--continue-from",
        metavar="STORE_URL",
        help="go on from what this store holds of the plant (read-only): start no earlier than "
        "just after its last stored message, each machine's seq and meters continued, so a "
        "restarted simulator (--backfill, --start) never rewrites stored history",
    )
    mq = p.add_argument_group("MQTT")
    mq.add_argument(
        "--broker", metavar="URL", help="publish to mqtt://[user:pass@]host[:port] or mqtts://"
    )
    mq.add_argument("--qos", type=int, choices=(0, 1), default=1, help="publish QoS (default 1)")
    mq.add_argument("--ca-file", help="CA certificate for mqtts:// (default: the system's)")
    mq.add_argument(
        "--queue-size",
        type=_count,
        default=100_000,
        help="messages held while the broker is slow or away (default 100000); when full, "
        "--fast waits and a live run drops the oldest (counted and logged)",
    )
    mq.add_argument(
        "--outbox",
        type=_count0,
        default=200_000,
        metavar="N",
        help="published messages kept in memory until the collector's watermark says they are "
        "stored, and sent again after a reconnect, so a broker crash loses nothing (default "
        "200000; beyond it the oldest are no longer kept, counted and logged; 0: none kept)",
    )
    mq.add_argument(
        "--client-id", help="MQTT client id (default shopfloor-sim-<enterprise>-<site>)"
    )
    mq.add_argument(
        "--encoding",
        choices=("json", "sparkplug"),
        default="json",
        help="json: our topics shopfloor/v1/... (default); sparkplug: Sparkplug B 3.0 on "
        "spBv1.0/<enterprise>:<site>/..., one edge node per line, one device per machine "
        "(docs/sparkplug.md)",
    )
    mq.add_argument(
        "--sparkplug-packml",
        action="store_true",
        help="with --encoding sparkplug: each machine's state also as its ISA-TR88 PackML "
        "state (PackML/StateCurrent, PackML/State, PackML/UnitModeCurrent)",
    )
    # Issue 15: scaling out (docs/scaling.md) and batched samples (shopfloor/batch.py).
    part = p.add_mutually_exclusive_group()
    part.add_argument(
        "--lines",
        type=lambda t: [x.strip() for x in t.split(",") if x.strip()],
        metavar="L1,L2",
        help="run only these lines of the plant (a shard: several processes run one large "
        "plant, each machine sends exactly what it sends in the whole plant's run)",
    )
    part.add_argument("--area", help="run only the lines of this area (a shard, as --lines)")
    mq.add_argument(
        "--batch-ms",
        type=_count0,
        default=0,
        metavar="N",
        help="send a machine's telemetry and energy samples within N ms of simulated time as "
        "one message (the contract's batch form, fewer messages for the broker and the "
        "collector; a sample waits up to N ms more). Default 0: one message per sample",
    )
    p.add_argument(
        "--modbus",
        metavar="HOST:PORT",
        help="also serve each legacy machine's clamp-on meter as a Modbus TCP device (Eastron "
        "SDM630 input registers, unit ids 1, 2, ... in config order; docs/modbus.md), for "
        "example 127.0.0.1:5020. Modbus has no security: keep it on loopback or a closed network",
    )
    ua = p.add_argument_group("OPC UA (docs/opcua.md)")
    ua.add_argument(
        "--opcua",
        metavar="URL",
        help="also serve the running plant as an OPC UA server, e.g. opc.tcp://127.0.0.1:4840; "
        "anonymous on a loopback address only, elsewhere SHOPFLOOR_OPCUA_USERNAME and "
        "SHOPFLOOR_OPCUA_PASSWORD with Basic256Sha256",
    )
    ua.add_argument(
        "--opcua-certs",
        metavar="DIR",
        default="shopfloor-data/opcua",
        help="where the server's self-signed certificate is made and kept (default "
        "./shopfloor-data/opcua)",
    )
    ua.add_argument(
        "--opcua-packml",
        action="store_true",
        help="also serve each machine's state as its ISA-TR88 PackML state and unit mode",
    )
    p.set_defaults(func=cmd_sim)


@contextlib.contextmanager
def _open_out(path: str | None, binary: bool) -> Iterator[IO[Any] | None]:
    if path is None:
        yield None
    elif path == "-":
        yield sys.stdout.buffer if binary else sys.stdout
    else:
        try:
            f = open(path, "wb" if binary else "w")  # noqa: SIM115
        except OSError as exc:
            raise UserError(f"cannot write {path}: {exc.strerror}") from None
        with f:
            yield f


class _Stopped(BaseException):
    """SIGTERM outside the run (the run's own handlers end it cleanly: simulator/run.py). Not
    an Exception: no `except Exception` on the way may take it for an error."""


def _stop(signum: int, frame: object) -> None:
    raise _Stopped


def _mqtt_sink(args: argparse.Namespace, cfg: Any, block: bool, inbox: Any, wake: Any) -> Any:
    from shopfloor.commands import cmd_topic, command_filters, reply_topic
    from shopfloor.contract import watermark_filter
    from shopfloor.mqtt_url import parse_broker_url
    from simulator.mqtt_sink import MqttSink

    try:
        url = parse_broker_url(args.broker)
    except ValueError as exc:
        raise UserError(f"--broker: {exc}") from None
    if args.ca_file is not None and not os.path.isfile(args.ca_file):
        raise UserError(f"--ca-file: {args.ca_file} does not exist")
    ent, site = cfg.plant.enterprise, cfg.plant.site
    status = [f"{t}/status" for t in _machine_prefixes(cfg)]

    sparkplug = args.encoding == "sparkplug"
    spb_sink: list[Any] = []  # the Sparkplug sink, once made: NCMDs go to it

    def on_command(topic: str, payload: bytes) -> None:
        if spb_sink and topic.startswith("spBv1.0/"):
            spb_sink[0].on_ncmd(topic, payload)
            return
        inbox.put((topic, payload))
        wake.set()

    client_id = args.client_id or f"shopfloor-sim-{ent}-{site}"
    commands = command_filters(ent, site)
    if sparkplug:
        from shopfloor import sparkplug as spb

        nodes = {(line.area, line.id) for line in cfg.lines}
        commands += [spb.topic(spb.group_id(ent, site), "NCMD", spb.node_id(*n)) for n in nodes]
    sink = MqttSink(
        url,
        client_id,
        qos=args.qos,
        queue_size=args.queue_size,
        block_when_full=block,
        # Sparkplug: a machine's death is its line's NDEATH (the Sparkplug sink's wills).
        will_topics=[] if sparkplug else status,
        command_topics=commands,
        on_command=on_command,
        ca_file=args.ca_file,
        own_loop=bool(args.fast),  # a pure backfill never sleeps: it drives the socket itself
        # Sparkplug data is resent by births, not by our outbox (docs/sparkplug.md, Limits).
        outbox=0 if sparkplug else args.outbox,
        watermark_filter=None if sparkplug else watermark_filter(ent, site),
        # The speed a paced run announces (retained) ends with it; a shard leaves it to the
        # others of its plant, which share the topic and run on; a --fast run announces none.
        clear_at_exit=None
        if args.fast or args.lines or args.area
        else reply_topic(cmd_topic(ent, site)),
    )
    if not sparkplug:
        return sink
    from simulator.sparkplug_sink import SparkplugSink

    lines = [(ent, site, line.area, line.id) for line in cfg.lines]
    made = SparkplugSink(
        sink, lines, url=url, client_id=client_id, ca_file=args.ca_file,
        packml=args.sparkplug_packml,
    )  # fmt: skip
    spb_sink.append(made)
    return spb_sink[0]


def _modbus_sink(listen: str, cfg: Any) -> Any:
    """--modbus: the legacy machines' meters served over Modbus TCP (simulator/modbus)."""
    from simulator.modbus import parse_listen
    from simulator.modbus.tee import ModbusTee

    try:
        host, port = parse_listen(listen)
        return ModbusTee(cfg, host, port).start()
    except (ValueError, OSError) as exc:
        raise UserError(f"--modbus: {exc}") from None


def _opcua_sink(args: argparse.Namespace, cfg: Any, inbox: Any, wake: Any) -> Any:
    """--opcua: the plant as an OPC UA server (simulator/opcua); its methods are commands."""
    from pathlib import Path

    from shopfloor.settings import SettingsError, settings
    from simulator.opcua.security import OpcUaConfigError
    from simulator.opcua.server import OpcUaSink

    def submit(topic: str, raw: bytes) -> bool:
        taken = inbox.put((topic, raw))  # False: the inbox is full, the command dropped
        wake.set()
        return taken

    try:
        s = settings()
        sink = OpcUaSink(
            cfg,
            args.opcua,
            certs_dir=Path(args.opcua_certs),
            username=s.opcua_username,
            password=s.opcua_password.get_secret_value() if s.opcua_password else None,
            packml_state=args.opcua_packml,
            submit=submit,
        )
        sink.start()
    except (OpcUaConfigError, SettingsError) as exc:
        raise UserError(str(exc)) from None
    return sink


def _bulk_sink(args: argparse.Namespace, cfg: Any) -> Any:
    """--store / --jsonl-dir: the bulk path (shopfloor/cli/bulk.py)."""
    from shopfloor.cli.bulk import StoreSink
    from shopfloor.shifts import ShiftCalendar
    from shopfloor.store import StoreError, open_store

    calendar = ShiftCalendar(cfg.shifts, cfg.plant.timezone)
    if args.jsonl_dir:
        from shopfloor.cli.history_export import JsonlDirStore

        if args.store:
            raise UserError("--store and --jsonl-dir: give one")
        try:
            out: Any = JsonlDirStore(args.jsonl_dir, cfg.plant.timezone)
        except OSError as exc:
            raise UserError(f"--jsonl-dir: cannot write {args.jsonl_dir}: {exc.strerror}") from None
        return StoreSink(out, calendar, seed_from_store=False, close_store=True)
    try:
        # No spool: a one-off run would leave it in the current directory, never replayed; a
        # bulk load to a store that does not take it fails instead, saying so.
        store = open_store(args.store, spool_dir=None)
        return StoreSink(store, calendar, close_store=True)
    except (ValueError, StoreError) as exc:
        raise UserError(f"--store: {exc}") from None


def _resume(text: str) -> dict[str, Any]:
    """--resume: JSON text or a file holding it; a clear error names what is wrong."""
    from pydantic import ValidationError

    from simulator.resume import RESUME

    raw = text
    if not text.lstrip().startswith("{"):
        try:
            with open(text) as f:
                raw = f.read()
        except OSError as exc:
            raise UserError(f"--resume: cannot read {text}: {exc.strerror}") from None
    try:
        return RESUME.validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise UserError(f"--resume: {where}: {first['msg']}") from None


def _continue_from(url: str, cfg: Any, start_ms: int) -> tuple[int, dict[str, Any]]:
    """--continue-from: the later of `start_ms` and just after the plant's last stored message,
    and each machine's seq and meters as stored (what `shopfloor demo` does on a second run)."""
    from shopfloor.cli.demo import plant_stored_until_ms
    from shopfloor.store import StoreError, open_store
    from simulator.resume import from_store

    try:
        store = open_store(url, read_only=True)
        try:
            stored_ms = plant_stored_until_ms(cfg, store)
            resume = from_store(store, {st.id for _, st in cfg.stations()}, cfg)
        finally:
            store.close()
    except (ValueError, StoreError) as exc:
        raise UserError(f"--continue-from: {exc}") from None
    if stored_ms >= start_ms:
        log.info("the store holds this plant up to %d ms: going on from there", stored_ms)
    return max(start_ms, stored_ms + 1), resume


def _warn_uneven_lines(url: str, cfg: Any) -> None:
    """One process goes on from the plant's latest stored message: lines whose history ends
    earlier (a stopped --jobs run leaves such) would keep a gap. Said, with the fix."""
    from shopfloor.cli.sim_jobs import UNEVEN_MS, line_ends_ms

    ends = line_ends_ms(url, cfg)
    latest = max(ends.values())
    behind = [line for line, t in ends.items() if latest - t >= UNEVEN_MS]
    if behind:
        log.warning(
            "lines %s are stored only up to earlier than the rest: going on from the latest "
            "leaves them a gap; a --fast --store run with --jobs 2 or more (or with --lines %s) "
            "and --continue-from goes on from where each line ends",
            ", ".join(behind),
            ",".join(behind),
        )


def ahead_warning(stored_ms: int, now_ms: int, tz: ZoneInfo) -> str:
    """What a restart says when the store holds the plant past the clock (an earlier run
    before live runs followed the clock, or a --fast run into the future)."""
    at = datetime.fromtimestamp(stored_ms / 1000, tz)
    return (
        f"the store already holds this plant up to {at:%Y-%m-%d %H:%M:%S %Z}, "
        f"{format_duration((stored_ms - now_ms) / 1000)} ahead of the clock: the simulator "
        "waits until the clock reaches it, then runs live (a live plant never runs ahead of "
        "the clock); the dashboard shows data up to the clock only. Start from an empty "
        "store (another data folder) to run now"
    )


def _machine_prefixes(cfg: Any) -> list[str]:
    from shopfloor.contract import machine_prefix

    p = cfg.plant
    return [
        machine_prefix(p.enterprise, p.site, line.area, line.id, st.id)
        for line, st in cfg.stations()
    ]


def _shard(args: argparse.Namespace, cfg: Any) -> Any:
    """--lines / --area: only that part of the plant (shopfloor/shard.py), under an MQTT
    client id of its own unless one is given."""
    from shopfloor.shard import ShardError, select, shard_name

    try:
        part = select(cfg, args.lines, args.area)
    except ShardError as exc:
        raise UserError(str(exc)) from None
    name = shard_name(args.lines, args.area)
    if name is not None and not args.client_id:
        args.client_id = f"shopfloor-sim-{cfg.plant.enterprise}-{cfg.plant.site}-{name}"
    return part


# --jobs by default: one process per core, at most this many (measured on 2 cores; the parts'
# writers take SQLite's one write lock in turn, so more cores gain less and less).
MAX_DEFAULT_JOBS = 4


def oee_scope(lines: int) -> str:
    """Whose OEE a shard's closing line gives."""
    return "1 line's" if lines == 1 else f"{lines} lines'"


def log_simulated(
    sim_s: float, wall_s: float, events: int, count: int, scope: str, plant: dict[str, Any]
) -> None:
    """A run's closing line (one process, or a --jobs run's parts summed)."""
    log.info(
        "simulated %s in %.2f s: %d events, %d messages; %s OEE %.1f%% (A %.1f%% P %.1f%% Q %.1f%%)",
        format_duration(sim_s),
        wall_s,
        events,
        count,
        scope,
        plant["oee"] * 100,
        plant["availability"] * 100,
        plant["performance"] * 100,
        plant["quality"] * 100,
    )


def _jobs(args: argparse.Namespace, cfg: Any) -> int:
    """--jobs: how many processes simulate a --fast --store run (shopfloor/cli/sim_jobs.py)."""
    from shopfloor.cli.sim_jobs import cores

    whole = [
        opt
        for opt, given in (
            ("--report", args.report),
            ("--jsonl", args.jsonl),
            ("--jsonl-dir", args.jsonl_dir),
            ("--modbus", args.modbus),
            ("--opcua", args.opcua),
        )
        if given
    ]
    sqlite = bool(args.store) and args.store.startswith("sqlite:")
    if args.jobs is None:
        if whole or not (args.fast and sqlite):
            return 1
        return min(cores(), MAX_DEFAULT_JOBS, len(cfg.lines))
    if args.jobs > 1:
        if not (args.fast and (args.store or args.jsonl_dir)):
            raise UserError("--jobs splits a history written with --fast --store: add them")
        if not sqlite and args.store:
            # Each part of an InfluxDB load would also rebuild the meter rollups of the other
            # part's machines on its first write: not tested split, so not offered.
            raise UserError("--jobs splits a load into SQLite only: drop --jobs for this store")
        if whole:
            raise UserError(
                f"--jobs {args.jobs} and {whole[0]}: {whole[0]} needs the whole plant in one "
                "process; drop one of them"
            )
    return min(args.jobs, len(cfg.lines))


def cmd_sim(args: argparse.Namespace) -> int:
    # SIGTERM is a stop from the first line on, not only once the run has begun: a stop while
    # the command is still starting (a --jobs part told to stop while importing, a compose
    # simulator stopped as it warns) ends it at once with exit 0, not killed by the signal.
    signal.signal(signal.SIGTERM, _stop)
    try:
        return _cmd_sim(args)
    except _Stopped:
        log.info("stopped")
        return 0


def _cmd_sim(args: argparse.Namespace) -> int:
    from simulator.commands import CommandInbox
    from simulator.run import run
    from simulator.sinks import FanoutSink, JsonlSink, NullSink

    cfg = load_or_exit(args.config)
    cfg = _shard(args, cfg)
    tz = ZoneInfo(cfg.plant.timezone)
    now_ms = clock.now_ms()
    if args.backfill is not None:
        if args.start is not None:
            raise UserError("--backfill and --start both set the start: give one")
        start_ms = now_ms - int(args.backfill * 1000)
        args.start = datetime.fromtimestamp(start_ms / 1000, tz).isoformat(timespec="seconds")
        args.then_live = True
    elif args.start is not None:
        try:
            start_ms = int(parse_instant(args.start, tz).timestamp() * 1000)
        except ValueError as exc:
            raise UserError(f"--start: {exc}") from None
    else:
        start_ms = now_ms
    resume = _resume(args.resume) if args.resume else None
    floor_ms = start_ms  # the start asked for, before --continue-from moves it past the store
    if args.continue_from:
        if resume is not None:
            raise UserError("--continue-from and --resume both say where machines go on: give one")
        start_ms, resume = _continue_from(args.continue_from, cfg, start_ms)
        args.start = datetime.fromtimestamp(start_ms / 1000, tz).isoformat(timespec="milliseconds")
    duration_s = args.duration
    if args.then_live:
        if args.fast:
            raise UserError("--then-live backfills as fast as possible by itself; drop --fast")
        if start_ms >= now_ms and resume is None:
            raise UserError("--then-live needs a --start in the past (the history to backfill)")
        if start_ms >= now_ms:
            # Going on from a store an earlier run filled past the clock: a live run never
            # passes the clock, so it waits for it (history is never rewritten).
            log.warning("%s", ahead_warning(start_ms, now_ms, tz))
    elif args.fast and duration_s is None:
        if start_ms >= now_ms:
            raise UserError(
                "--fast needs --duration (or a --start in the past to backfill up to now)"
            )
        duration_s = (now_ms - start_ms) / 1000.0
    if args.batch_ms and (not args.broker or args.encoding != "json"):
        raise UserError("--batch-ms batches what is published to a --broker with --encoding json")
    if args.encoding == "sparkplug" and not args.broker:
        raise UserError("--encoding sparkplug publishes to a broker: give --broker")
    if args.sparkplug_packml and args.encoding != "sparkplug":
        raise UserError("--sparkplug-packml needs --encoding sparkplug")
    if args.jsonl == "-" and args.report == "-":
        raise UserError("--jsonl and --report cannot both write to standard output")
    if (args.store or args.jsonl_dir) and not args.fast:
        raise UserError("--store and --jsonl-dir write history: add --fast (and --duration)")
    if (args.store or args.jsonl_dir) and args.broker:
        raise UserError(
            "--store writes without a broker: give --store or --broker (shopfloor demo "
            "backfills through --store, then publishes live to the broker)"
        )
    jobs = _jobs(args, cfg)
    if args.continue_from and jobs == 1 and len(cfg.lines) > 1:
        _warn_uneven_lines(args.continue_from, cfg)
    if jobs > 1:
        from shopfloor.cli.sim_jobs import run_jobs

        return run_jobs(args, cfg, start_ms, duration_s, resume, jobs, floor_ms=floor_ms)
    speed = None if args.fast else (args.speed or 1.0)
    live = speed is not None and not args.then_live
    # Bounded: a flood of commands is dropped and counted, not held (simulator/commands.py).
    inbox = CommandInbox()
    wake = threading.Event()

    with _open_out(args.jsonl, binary=True) as jf:
        sinks: list[Any] = []
        if jf is not None:
            sinks.append(JsonlSink(jf, flush_each=live))
        if args.broker:
            mqtt_sink = _mqtt_sink(args, cfg, not live, inbox, wake)
            if args.batch_ms:
                from simulator.batching import BatchingSink

                mqtt_sink = BatchingSink(mqtt_sink, args.batch_ms)
            sinks.append(mqtt_sink)
        if args.modbus:
            sinks.append(_modbus_sink(args.modbus, cfg))
        if args.opcua:
            sinks.append(_opcua_sink(args, cfg, inbox, wake))
        if args.store or args.jsonl_dir:
            sinks.append(_bulk_sink(args, cfg))
        sink = sinks[0] if len(sinks) == 1 else FanoutSink(*sinks) if sinks else NullSink()
        if args.then_live:
            log.info("backfilling from %s, then live at %gx; Ctrl-C stops", args.start, speed)
        elif speed is not None:
            log.info(
                "running at %gx real time%s; Ctrl-C stops",
                speed,
                f" for {format_duration(duration_s)}" if duration_s else "",
            )
        try:
            result = run(
                cfg, sink, start_ms, duration_s, speed=speed, seed=args.seed,
                then_live=args.then_live, inbox=inbox if args.broker or args.opcua else None,
                wake=wake, resume=resume,
            )  # fmt: skip
        except Exception as exc:
            from shopfloor.cli.bulk import BulkError

            if isinstance(exc, BulkError):
                raise UserError(str(exc)) from None
            raise
        finally:
            for s in sinks:
                if hasattr(s, "report_bulk"):
                    s.report_bulk()
    plant = result.report["plant"]
    count = sinks[0].count if sinks else sink.count
    # A shard (--lines, --area, a part of a --jobs run) knows its own lines only.
    scope = "plant" if not (args.lines or args.area) else oee_scope(len(cfg.lines))
    log_simulated(result.sim_s, result.wall_s, result.events, count, scope, plant)
    with _open_out(args.report, binary=False) as rf:
        if rf is not None:
            json.dump(result.report, rf, indent=2)
            rf.write("\n")
    if args.shard_summary:
        summary = {
            "messages": count,
            "events": result.events,
            "sim_s": result.sim_s,
            "interrupted": result.interrupted,
            "stored": sum(getattr(s, "stored", 0) for s in sinks if hasattr(s, "report_bulk")),
            "report": {k: result.report[k] for k in ("plant", "lines", "machines")},
        }
        with open(args.shard_summary, "w") as f:
            json.dump(summary, f)
    return 0
