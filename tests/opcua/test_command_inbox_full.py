"""An OPC UA method call while the simulator's command inbox is full (a flood of commands, or
a run busy for a while): the command is dropped and counted like any other, and the method
answers at once with BadTooManyOperations and the reason, instead of waiting out its timeout
for a reply that never comes. A real asyncua client against the real server."""

from __future__ import annotations

import asyncio
from pathlib import Path

from asyncua import Client, ua

from shopfloor.broker import free_port
from shopfloor.config.load import load_config
from simulator.commands import CommandInbox
from simulator.opcua.server import METHOD_TIMEOUT_S, OpcUaSink
from tests.opcua.client import NAMESPACE, call
from tests.support import PLANT


async def set_speed(url: str, enterprise: str, site: str) -> dict:
    async with Client(url, timeout=10) as client:
        ns = await client.get_namespace_index(NAMESPACE)
        node = await client.nodes.objects.get_child([f"{ns}:{enterprise}", f"{ns}:{site}"])
        return await asyncio.wait_for(
            call(node, "SetSpeed", ua.Variant(2.0, ua.VariantType.Double)), METHOD_TIMEOUT_S / 2
        )


def test_a_method_call_on_a_full_inbox_is_refused_at_once(tmp_path: Path):
    cfg = load_config(PLANT)
    inbox = CommandInbox(limit=1)
    assert inbox.put(("earlier", b"{}"))  # the run has not applied it yet: the inbox is full
    url = f"opc.tcp://127.0.0.1:{free_port()}"
    server = OpcUaSink(
        cfg, url, certs_dir=tmp_path / "certs", submit=lambda t, raw: inbox.put((t, raw))
    )
    server.start()
    try:
        # Half the method's own timeout: a call that waited for a reply would fail here.
        got = asyncio.run(set_speed(url, cfg.plant.enterprise, cfg.plant.site))
    finally:
        server.close()
    assert got["status"] == "BadTooManyOperations", got
    assert "inbox is full" in got["out"][0]
    assert inbox.dropped == 1 and inbox.qsize() == 1
