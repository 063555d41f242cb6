"""An independent OPC UA client (asyncua's Client), run as its own process by the tests: it
knows the server only through OPC UA (browse, subscribe, read, call), never through the
simulator's Python objects.

    python tests/opcua/client.py URL OUT.json [--actions MACHINE_PATH] [--user U --password P
        --cert DIR] [--probe]

It browses Objects > enterprise > site > area > line > machine, subscribes to every machine's
StateText, Reason and Online (every write reported: DataChangeTrigger StatusValueTimestamp),
prints "subscribed", optionally calls methods, and waits until every machine is offline (the
run ended) before writing what it saw to OUT.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from asyncua import Client, ua

NAMESPACE = "urn:shopfloor:plant"
WATCHED = ("StateText", "Reason", "Online", "CurrentOrder")


def ms(dt: Any) -> int | None:
    return None if dt is None else round(dt.timestamp() * 1000)


class Recorder:
    def __init__(self, names: dict[Any, tuple[str, str]]):
        self.names = names
        self.seen: list[dict[str, Any]] = []
        self.offline: set[str] = set()

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        machine, name = self.names[node.nodeid]
        dv = data.monitored_item.Value
        if isinstance(val, ua.LocalizedText):
            val = val.Text
        self.seen.append(
            {"machine": machine, "name": name, "value": val, "ts": ms(dv.SourceTimestamp)}
        )
        if name == "Online" and val is False:
            self.offline.add(machine)


async def browse(client: Client) -> dict[str, dict[str, Any]]:
    """{"area/line/machine": {"node": Node, "children": [browse names]}}"""
    ns = await client.get_namespace_index(NAMESPACE)
    machines: dict[str, dict[str, Any]] = {}
    for ent in await client.nodes.objects.get_children():
        if (await ent.read_browse_name()).NamespaceIndex != ns:
            continue
        if (await ent.read_browse_name()).Name == "StateMachines":
            continue
        for site in await ent.get_children():
            for area in await site.get_children():
                if await area.read_node_class() != ua.NodeClass.Object:
                    continue
                a = (await area.read_browse_name()).Name
                for line in await area.get_children():
                    li = (await line.read_browse_name()).Name
                    for m in await line.get_children():
                        name = (await m.read_browse_name()).Name
                        kids = [(await c.read_browse_name()).Name for c in await m.get_children()]
                        machines[f"{a}/{li}/{name}"] = {"node": m, "children": kids}
    return machines


async def call(obj: Any, method: str, *args: Any) -> dict[str, Any]:
    """A method call read as the raw CallMethodResult: the status code and the output
    arguments, which carry the error text of a failed call."""
    ns = obj.nodeid.NamespaceIndex
    m = await obj.get_child(f"{ns}:{method}")
    req = ua.CallMethodRequest()
    req.ObjectId = obj.nodeid
    req.MethodId = m.nodeid
    req.InputArguments = list(args)
    (res,) = await obj.session.call([req])
    return {
        "status": res.StatusCode.name,
        "good": res.StatusCode.is_good(),
        "out": [v.Value for v in res.OutputArguments or []],
    }


async def wait_value(node: Any, want: Any, timeout_s: float = 20.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if await node.read_value() == want:
            return True
        await asyncio.sleep(0.1)
    return False


async def actions(machines: dict[str, dict[str, Any]], path: str, out: dict[str, Any]) -> None:
    obj = machines[path]["node"]
    ns = obj.nodeid.NamespaceIndex
    site = await (await obj.get_parent()).get_parent()
    site = await site.get_parent()
    state = await obj.get_child(f"{ns}:StateText")
    params = await obj.get_child(f"{ns}:Parameters")
    mttr = await params.get_child(f"{ns}:mttr_min")
    d = ua.VariantType.Double
    s = ua.VariantType.String
    out["bad_param"] = await call(
        obj, "SetParameter", ua.Variant("scrap_rate", s), ua.Variant(2.0, d)
    )
    out["unknown_param"] = await call(
        obj, "SetParameter", ua.Variant("colour", s), ua.Variant(1.0, d)
    )
    out["bad_speed"] = await call(site, "SetSpeed", ua.Variant(0.0, d))
    out["missing_args"] = await call(obj, "Breakdown", ua.Variant("x", s))
    out["set_mttr"] = await call(
        obj, "SetParameter", ua.Variant("mttr_min", s), ua.Variant(30.0, d)
    )
    out["mttr_read"] = await wait_value(mttr, 30.0)
    out["breakdown"] = await call(obj, "Breakdown", ua.Variant("opcua_test", s), ua.Variant(3.0, d))
    out["down_read"] = await wait_value(state, "down")


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("out")
    ap.add_argument("--actions")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--cert", help="folder for this client's own certificate (Basic256Sha256)")
    ap.add_argument("--probe", action="store_true", help="connect, read one value, exit")
    ap.add_argument("--read", help="read these variables of every machine (comma-separated), exit")
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args()
    client = Client(args.url, timeout=10)
    security = None
    if args.user:
        client.set_user(args.user)
        client.set_password(args.password)
    if args.cert:
        from asyncua.crypto.cert_gen import setup_self_signed_certificate
        from cryptography.x509.oid import ExtendedKeyUsageOID

        folder = Path(args.cert)
        folder.mkdir(parents=True, exist_ok=True)
        key, cert = folder / "client-key.pem", folder / "client-cert.der"
        uri = "urn:shopfloor:test:client"
        await setup_self_signed_certificate(
            key, cert, uri, "localhost", [ExtendedKeyUsageOID.CLIENT_AUTH], {"commonName": "test"}
        )
        client.application_uri = uri
        security = f"Basic256Sha256,SignAndEncrypt,{cert},{key}"
    out: dict[str, Any] = {}
    # The server may still be starting: a refused socket is tried again, any other error is
    # the answer (a refused identity, a missing endpoint).
    end = time.monotonic() + 30.0
    while True:
        try:
            if security is not None:  # asks the server for its endpoints (and certificate)
                await client.set_security_string(security)
            await client.connect()
            break
        except (ConnectionRefusedError, OSError) as exc:
            if time.monotonic() > end or not isinstance(exc, ConnectionRefusedError):
                out["connect_error"] = f"{type(exc).__name__}: {exc}"
                Path(args.out).write_text(json.dumps(out))
                return 0
            await asyncio.sleep(0.2)
        except Exception as exc:  # the test reads why
            out["connect_error"] = f"{type(exc).__name__}: {exc}"
            Path(args.out).write_text(json.dumps(out))
            return 0
    try:
        machines = await browse(client)
        out["tree"] = {p: m["children"] for p, m in machines.items()}
        if args.probe:
            return 0
        if args.read:
            out["values"] = {}
            for path, m in machines.items():
                ns = m["node"].nodeid.NamespaceIndex
                for name in args.read.split(","):
                    dv = await (await m["node"].get_child(f"{ns}:{name}")).read_data_value()
                    value = dv.Value.Value if dv.Value is not None else None
                    out["values"][f"{path}.{name}"] = [value, ms(dv.SourceTimestamp)]
            return 0
        names: dict[Any, tuple[str, str]] = {}
        nodes = []
        for path, m in machines.items():
            ns = m["node"].nodeid.NamespaceIndex
            for name in WATCHED:
                node = await m["node"].get_child(f"{ns}:{name}")
                names[node.nodeid] = (path, name)
                nodes.append(node)
            # Found by browse path, as a client of the Machinery building blocks would.
            item = await m["node"].get_child(
                [f"{ns}:MachineryBuildingBlocks", f"{ns}:MachineryItemState", "0:CurrentState"]
            )
            names[item.nodeid] = (path, "MachineryItemState")
            nodes.append(item)
            if "PackMLState" in m["children"]:
                node = await m["node"].get_child(f"{ns}:PackMLState")
                names[node.nodeid] = (path, "PackMLState")
                nodes.append(node)
        rec = Recorder(names)
        sub = await client.create_subscription(50, rec)
        flt = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp)
        # asyncua's public subscribe_data_change takes no filter; _subscribe is what it calls.
        await sub._subscribe(nodes, mfilter=flt, queuesize=10_000)
        print("subscribed", flush=True)
        if args.actions:
            await actions(machines, args.actions, out)
        end = time.monotonic() + args.timeout
        while rec.offline != set(machines) and time.monotonic() < end:
            await asyncio.sleep(0.1)
        out["seen"] = rec.seen
        out["all_offline"] = rec.offline == set(machines)
    finally:
        Path(args.out).write_text(json.dumps(out, default=str))
        with contextlib.suppress(Exception):  # the server may be gone already: the run ended
            await client.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
