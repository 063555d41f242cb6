"""`shopfloor dash`: the live OEE and energy dashboard.

Secure by default: it asks for credentials on every route (pages, assets and callbacks, so the
Simulation page's commands too) unless started with an explicit `--no-auth`, which only a
loopback `--host` may use. It serves through waitress, a production WSGI server, never through
Flask's development server.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import socket
from pathlib import Path
from typing import Any

from shopfloor.cli.broker_cmd import _port
from shopfloor.cli.errors import UserError

log = logging.getLogger("shopfloor.dash")

# Enough for a few browser tabs refreshing every page's callbacks at once; each waits on the
# store, not the CPU.
THREADS = 8
# The largest request body served (waitress answers 413 beyond it; its default is 1 GB). The
# biggest legitimate one is the What-if page's upload: 1 MiB of YAML, about 1.4 MiB as base64.
MAX_BODY_BYTES = 16 * 1024 * 1024


def register(sub: Any) -> None:
    p = sub.add_parser("dash", help="serve the live dashboard")
    p.add_argument(
        "--store",
        required=True,
        metavar="URL",
        help="the store to show: sqlite:///path.db, influxdb://host:8086/<bucket>?org=<org> "
        "or influxdb1://host:8086/<database>",
    )
    p.add_argument("--config", help="plant config (ideal cycles, shifts, time zone)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--port", type=_port, default=8050, help="TCP port (default 8050)")
    who = p.add_mutually_exclusive_group()
    who.add_argument(
        "--auth",
        metavar="USER:PASS",
        help="basic auth on every route (or SHOPFLOOR_DASH_AUTH, which keeps it out of `ps`); "
        "required unless --no-auth",
    )
    who.add_argument(
        "--no-auth",
        action="store_true",
        help="serve without credentials: anyone who reaches the port sees the plant and, with "
        "--broker, commands it; refused unless --host is a loopback address",
    )
    p.add_argument(
        "--broker",
        metavar="URL",
        help="the simulator's broker: enables the Simulation page (mqtt://[user:pass@]host[:port])",
    )
    p.set_defaults(func=cmd_dash)


def is_loopback(host: str) -> bool:
    """True when every address `host` names is a loopback one (127.0.0.0/8, ::1)."""
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    addrs = {info[4][0] for info in infos}
    try:
        return bool(addrs) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs)
    except ValueError:
        return False


def credentials(args: argparse.Namespace) -> str | None:
    """USER:PASS from --auth or SHOPFLOOR_DASH_AUTH; None only with --no-auth on loopback."""
    from shopfloor.settings import settings

    if args.no_auth:
        if not is_loopback(args.host):
            raise UserError(
                f"--no-auth is refused with --host {args.host}: that address is reachable "
                "from other machines, and anyone there could read the plant and command it. "
                "Give --auth USER:PASS (or set SHOPFLOOR_DASH_AUTH=USER:PASS)"
            )
        return None
    auth = args.auth
    if auth is None and settings().dash_auth is not None:
        auth = settings().dash_auth.get_secret_value() or None
    if auth is None:
        raise UserError(
            "the dashboard needs credentials: set SHOPFLOOR_DASH_AUTH=USER:PASS (or give "
            "--auth USER:PASS, which `ps` shows); --no-auth serves without them, on a "
            "loopback --host only"
        )
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise UserError("--auth must be USER:PASS (SHOPFLOOR_DASH_AUTH too), both non-empty")
    return auth


def _stop(signum: int, frame: object) -> None:
    # SIGTERM (docker stop, process managers) ends the server like Ctrl-C: exit 0.
    raise KeyboardInterrupt


def cmd_dash(args: argparse.Namespace) -> int:
    from shopfloor.cli.config_cmd import load_or_exit
    from shopfloor.store import StoreError, open_store, parse_store_url

    # SIGTERM from the start (SIGINT is a KeyboardInterrupt already, unless a background job
    # ignores it): a supervisor (shopfloor demo, docker) may stop it while it is still loading.
    signal.signal(signal.SIGTERM, _stop)
    auth = credentials(args)
    cfg = load_or_exit(args.config) if args.config else None
    try:
        scheme, rest = parse_store_url(args.store)
        # Not refused, unlike `shopfloor kpi`: a dashboard may start before its collector
        # (the file is then made here). But a mistyped path would show an empty plant quietly.
        if scheme == "sqlite" and not Path(rest).is_file():
            log.warning(
                "--store: %s does not exist yet: the dashboard shows nothing until a collector "
                "writes there (a mistyped path?)",
                rest,
            )
        store = open_store(args.store, read_only=True)
    except (ValueError, StoreError) as exc:
        raise UserError(f"--store: {exc}") from None
    commands = None
    if args.broker:
        from dashboard.commands import CommandClient
        from shopfloor.mqtt_url import parse_broker_url

        try:
            url = parse_broker_url(args.broker)
        except ValueError as exc:
            raise UserError(f"--broker: {exc}") from None
        if cfg is not None:
            enterprise, site = cfg.plant.enterprise, cfg.plant.site
        else:
            known = store.machines()
            if not known:
                raise UserError(
                    "--broker needs --config (or a store that has data) to know the plant"
                )
            enterprise, site = known[0].enterprise, known[0].site
        commands = CommandClient(url, enterprise, site)

    import waitress

    from dashboard.app import create_app

    app = create_app(store, cfg, auth=auth, commands=commands)
    try:
        server = waitress.create_server(
            app.server,
            host=args.host,
            port=args.port,
            threads=THREADS,
            max_request_body_size=MAX_BODY_BYTES,
        )
    except OSError as exc:
        raise UserError(f"cannot serve on {args.host}:{args.port}: {exc.strerror}") from None
    if auth is None:
        log.warning("serving without credentials (--no-auth): anyone on this machine may use it")
    host = f"[{args.host}]" if ":" in args.host else args.host  # an IPv6 address
    print(f"dashboard ready: http://{host}:{args.port}/", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
