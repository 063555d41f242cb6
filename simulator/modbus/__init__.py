"""Legacy machines' clamp-on meters as Modbus TCP devices (SDM630 input registers, issue 13).

`shopfloor sim --modbus HOST:PORT` serves each `connectivity: legacy` station as an Eastron
SDM630 energy meter, one unit id each, so a brownfield gateway (Node-RED, Telegraf, UMH) polls
it as it would the real meter. docs/modbus.md has the register map and what a client sees.
"""

from __future__ import annotations


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT (an IPv6 host in brackets, [::1]:5020) -> (host, port); ValueError says why."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected HOST:PORT (for example 127.0.0.1:5020), got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"the port must be a number, got {port_text!r}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"the port must be 1-65535, got {port}")
    return host, port
