"""`shopfloor dash`: the live OEE and energy dashboard."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from shopfloor.cli.broker_cmd import _port
from shopfloor.cli.errors import UserError

log = logging.getLogger("shopfloor.dash")


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
    p.add_argument(
        "--auth", metavar="USER:PASS", help="basic auth on every route (or SHOPFLOOR_DASH_AUTH)"
    )
    p.add_argument(
        "--broker",
        metavar="URL",
        help="the simulator's broker: enables the Simulation page (mqtt://[user:pass@]host[:port])",
    )
    p.set_defaults(func=cmd_dash)


def cmd_dash(args: argparse.Namespace) -> int:
    from dashboard.app import create_app
    from shopfloor.cli.config_cmd import load_or_exit
    from shopfloor.settings import settings
    from shopfloor.store import StoreError, open_store

    cfg = load_or_exit(args.config) if args.config else None
    auth = args.auth
    if auth is None and settings().dash_auth is not None:
        auth = settings().dash_auth.get_secret_value()
    if auth is not None and ":" not in auth:
        raise UserError("--auth must be USER:PASS")
    try:
        store = open_store(args.store)
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
    app = create_app(store, cfg, auth=auth, commands=commands)
    print(f"dashboard ready: http://{args.host}:{args.port}/", flush=True)
    app.run(host=args.host, port=args.port, debug=False)
    return 0
