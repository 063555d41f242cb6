"""A Mosquitto with the compose file's packet limit (max_packet_size 65536): a client that
publishes a larger packet is disconnected, as in production (docker-compose.yml)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shopfloor.broker import free_port, mosquitto_conf
from tests.support import wait_for

COMPOSE_MAX_PACKET = 65536


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def limited_broker(tmp: Path) -> Iterator[tuple[str, Path]]:
    """(its mqtt:// url, its log file: 'oversize packet' disconnects are written there)."""
    port = free_port()
    log = tmp / "mosquitto.log"
    conf = tmp / "mosquitto.conf"
    conf.write_text(
        mosquitto_conf(port, "127.0.0.1", None).replace("log_dest stderr", f"log_dest file {log}")
        + f"log_type notice\nconnection_messages true\nmax_packet_size {COMPOSE_MAX_PACKET}\n"
    )
    proc = subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: _accepts(port), 10, "mosquitto listening")
        yield f"mqtt://127.0.0.1:{port}", log
    finally:
        proc.terminate()
        proc.wait(10)
