"""`shopfloor demo`: a live factory on this machine in one command (no Docker)."""

from __future__ import annotations

import argparse
import logging
import signal
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from shopfloor import clock, examples
from shopfloor.cli.broker_cmd import _port
from shopfloor.cli.errors import UserError
from shopfloor.cli.sim_cmd import _positive, ahead_warning

log = logging.getLogger("shopfloor.demo")
# The demo plant shipped in the package (config/plant.yaml in the repository), so the demo runs
# from any folder; None only in an install that lost it.
DEFAULT_CONFIG = examples.path(examples.DEMO)


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="the broker, simulator, collector and dashboard together, live")
    p.add_argument(
        "--config",
        default=str(DEFAULT_CONFIG) if DEFAULT_CONFIG else None,
        help="plant config (default: config/plant.yaml, the demo plant)",
    )
    p.add_argument("--port", type=_port, default=8050, help="dashboard port (default 8050)")
    p.add_argument("--host", default="127.0.0.1", help="dashboard address (default 127.0.0.1)")
    p.add_argument(
        "--data-dir",
        default="shopfloor-data",
        help="the store, broker state and logs (default ./shopfloor-data)",
    )
    p.add_argument(
        "--speed",
        type=_positive,
        default=1.0,
        help="pace of the live plant, x real time (default 1): below 1 it falls behind the "
        "clock; above 1 it catches up, never passing the clock",
    )
    p.add_argument(
        "--broker-kind",
        choices=("auto", "mosquitto", "amqtt"),
        default="auto",
        help="the embedded broker (default: mosquitto if installed, else amqtt in-process)",
    )
    p.add_argument(
        "--modbus",
        metavar="HOST:PORT",
        help="also serve the legacy machines' clamp-on meters over Modbus TCP (SDM630 "
        "registers, docs/modbus.md), for example 127.0.0.1:5020",
    )
    p.add_argument(
        "--opcua",
        metavar="URL",
        help="also serve the running plant over OPC UA (docs/opcua.md), for example "
        "opc.tcp://127.0.0.1:4840; off loopback SHOPFLOOR_OPCUA_USERNAME and "
        "SHOPFLOOR_OPCUA_PASSWORD are needed",
    )
    p.add_argument(
        "--encoding",
        choices=("json", "sparkplug"),
        default="json",
        help="how the simulator publishes: our JSON topics (default) or Sparkplug B 3.0 "
        "(docs/sparkplug.md); the collector reads both",
    )
    p.add_argument(
        "--batch-ms",
        type=int,
        default=0,
        metavar="N",
        help="the live simulator sends a machine's samples within N ms as one message "
        "(shopfloor sim --batch-ms; issue 15). Default 0: one message per sample",
    )
    # Issue 15: the history goes straight into the store unless asked otherwise.
    p.add_argument(
        "--history-via-broker",
        action="store_true",
        help="publish the backfill (the shift so far) through the broker as well, for other "
        "MQTT subscribers, instead of writing it straight into the store (much faster)",
    )
    p.set_defaults(func=cmd_demo)


def _modbus_listen(text: str, cfg: Any) -> str:
    """--modbus checked before anything starts (the simulator would only log its error)."""
    from shopfloor.config.modbus_units import unit_ids
    from simulator.modbus import parse_listen

    try:
        parse_listen(text)
    except ValueError as exc:
        raise UserError(f"--modbus: {exc}") from None
    if not unit_ids(cfg):
        raise UserError("--modbus: the plant has no `connectivity: legacy` station to serve")
    return text


def _opcua_url(text: str) -> str:
    """--opcua checked before anything starts (the simulator would only log its error)."""
    from shopfloor.settings import settings
    from simulator.opcua.security import OpcUaConfigError, credentials, parse_endpoint

    try:
        s = settings()
        password = s.opcua_password.get_secret_value() if s.opcua_password else None
        credentials(s.opcua_username, password, parse_endpoint(text))
    except OpcUaConfigError as exc:
        raise UserError(str(exc)) from None
    return text


def cmd_demo(args: argparse.Namespace) -> int:
    from shopfloor.broker import free_port
    from shopfloor.cli.config_cmd import load_or_exit
    from shopfloor.cli.demo import DASH_USER, Stack
    from shopfloor.cli.demo_reports import ShiftReports
    from shopfloor.config.modbus_units import unit_ids
    from shopfloor.store.base import StoreError

    if args.config is None:
        raise UserError("no config/plant.yaml here: give --config PATH (a plant config)")
    cfg = load_or_exit(args.config)
    probe = free_port(args.host) if args.port == 0 else args.port
    stack = Stack(
        Path(args.config), cfg, Path(args.data_dir), probe, args.host, args.speed, args.broker_kind
    )
    stack.bulk_history = not args.history_via_broker
    if args.modbus:
        stack.sim_args += ["--modbus", _modbus_listen(args.modbus, cfg)]
    if args.encoding != "json":
        stack.sim_args += ["--encoding", args.encoding]
    if args.batch_ms:
        if args.batch_ms < 0 or args.encoding != "json":
            raise UserError("--batch-ms: a number of ms >= 0, with --encoding json")
        stack.sim_args += ["--batch-ms", str(args.batch_ms)]
    if args.opcua:
        certs = str(Path(args.data_dir) / "opcua")
        stack.sim_args += ["--opcua", _opcua_url(args.opcua), "--opcua-certs", certs]
    # SIGTERM (docker, process managers) stops like Ctrl-C; an ignored SIGINT (a demo started
    # in the background by a script) stays ignored, and SIGTERM alone is enough.
    signal.signal(signal.SIGTERM, stack.on_signal)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, stack.on_signal)
    try:
        try:
            start_ms = stack.start()
        except (StoreError, RuntimeError, TimeoutError, OSError) as exc:
            raise UserError(str(exc)) from None
        print(
            f"shopfloor demo: broker {stack.broker.url if stack.broker else '?'}, data in {stack.data_dir}",
            flush=True,
        )
        now_ms = clock.now_ms()
        if stack.live_start_ms < now_ms:
            # What the live run catches up through the broker (the bulk history, if any, had
            # its own bar): counted from where it starts, not from the backfill's start.
            stack.backfill(stack.live_start_ms)
        else:
            tz = ZoneInfo(cfg.plant.timezone)
            print(f"warning: {ahead_warning(start_ms, now_ms, tz)}", flush=True)
        deadline = time.monotonic() + 60
        while not stack.dashboard_ready():
            stack.check()
            if time.monotonic() > deadline:
                raise UserError(
                    f"the dashboard did not answer in 60 s; see {stack.data_dir / 'dashboard.log'}"
                )
            time.sleep(0.2)
        # As Jupyter prints its token: the one place the user learns the password (it is also
        # in the data folder's dashboard-password file).
        print(
            f"dashboard ready: {stack.dashboard_url} (user {DASH_USER}, password "
            f"{stack.password}; live at {args.speed:g}x; Ctrl-C stops)",
            flush=True,
        )
        if args.modbus:
            units = ", ".join(f"{m} unit {u}" for m, u in unit_ids(cfg).items())
            print(f"Modbus TCP meters (SDM630): {args.modbus}, {units}", flush=True)
        if args.opcua:
            print(f"OPC UA server: {args.opcua} (docs/opcua.md)", flush=True)
        if args.encoding == "sparkplug":
            print(
                f"Sparkplug B: spBv1.0/{cfg.plant.enterprise}:{cfg.plant.site}/# on "
                f"{stack.broker.url if stack.broker else '?'} (docs/sparkplug.md)",
                flush=True,
            )
        # End-of-shift report (issue 10): each shift's PDF and CSV into <data>/reports/ as it
        # ends, from the backfill's start on (shopfloor/cli/demo_reports.py).
        reports = ShiftReports(
            cfg, stack._reads(), stack.data_dir / "reports", start_ms, stack.stored_until_ms
        )
        while True:
            stack.check()
            for path in reports.due(clock.now_ms()):
                print(f"end-of-shift report: {path}", flush=True)
            time.sleep(0.5)
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        print("stopping: simulator, collector, dashboard, broker ...", flush=True)
    finally:
        took = stack.stop()
        if stack.killed:
            print(
                f"stopped in {took:.1f} s; killed after their stop timeout: "
                f"{', '.join(stack.killed)} (see their logs in {stack.data_dir})",
                flush=True,
            )
    if not stack.killed:
        print(f"stopped in {took:.1f} s; nothing acknowledged was lost", flush=True)
    return 0
