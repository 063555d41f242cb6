"""`shopfloor broker`: the embedded MQTT broker (local mosquitto if installed, else amqtt)."""

from __future__ import annotations

import argparse
import logging
import signal
from typing import Any

from shopfloor.cli.errors import UserError

log = logging.getLogger("shopfloor.broker")


def _port(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 1 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 1 to 65535, got {v}")
    return v


def register(sub: Any) -> None:
    p = sub.add_parser("broker", help="run the embedded MQTT broker")
    p.add_argument("--port", type=_port, default=1883, help="TCP port (default 1883)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--kind",
        choices=("auto", "mosquitto", "amqtt"),
        default="auto",
        help="default: mosquitto if installed",
    )
    p.add_argument(
        "--data-dir", help="keep sessions and retained messages here across restarts (mosquitto)"
    )
    p.set_defaults(func=cmd_broker)


def cmd_broker(args: argparse.Namespace) -> int:
    from shopfloor.broker import Broker

    try:
        broker = Broker(args.port, args.host, args.data_dir, kind=args.kind)
        broker.start()
    except (RuntimeError, TimeoutError) as exc:
        raise UserError(str(exc)) from None
    print(f"broker ready: {broker.url} ({broker.kind}); Ctrl-C stops", flush=True)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        broker.wait()
    except KeyboardInterrupt:
        pass
    finally:
        broker.close()
    return 0
