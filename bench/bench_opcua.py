"""How many machines one OPC UA server (`shopfloor sim --opcua`) serves at 1 s samples with a
client subscribed to them, and its CPU share.

    python bench/bench_opcua.py [--stations 100 250 500 1000] [--seconds 20]

For each size: the plant of bench_mqtt.scaled_plant (config/large.yaml's lines repeated, 1 s
samples, no shifts: every machine working), run live at --speed 1 in this process with the
OPC UA sink only; an independent asyncua client in its own process subscribes to every
machine's PowerKw, StateText and TotalCount (publishing interval 500 ms) and reports the
notifications it received and their lag (receipt wall time minus the sim-time source timestamp,
which at --speed 1 from now is the wall time of the emission). The same plant with a NullSink
gives the simulation's own CPU, so the difference is the server's.

A size is served when the server keeps up: nothing skipped (no backlog cut), the p95 lag under
2 s and the notifications the client received near what was emitted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_mqtt import scaled_plant  # noqa: E402
from shopfloor.broker import free_port  # noqa: E402

WATCH = ("PowerKw", "StateText", "TotalCount")


async def client_main(url: str, seconds: float, out: str) -> None:
    from asyncua import Client, ua

    client = Client(url, timeout=120)
    for _ in range(300):
        try:
            await client.connect()
            break
        except OSError:
            await asyncio.sleep(0.2)
    ns = await client.get_namespace_index("urn:shopfloor:plant")
    nodes = []
    for ent in await client.nodes.objects.get_children():
        if (await ent.read_browse_name()).Name == "StateMachines":
            continue
        if (await ent.read_browse_name()).NamespaceIndex != ns:
            continue
        for site in await ent.get_children():
            for area in await site.get_children():
                if await area.read_node_class() != ua.NodeClass.Object:
                    continue
                for line in await area.get_children():
                    for m in await line.get_children():
                        base = m.nodeid.Identifier
                        nodes += [client.get_node(ua.NodeId(f"{base}.{w}", ns)) for w in WATCH]
    lags: list[float] = []
    counting = {"on": False, "n": 0}

    class Handler:
        def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
            if not counting["on"]:
                return
            counting["n"] += 1
            ts = data.monitored_item.Value.SourceTimestamp
            if ts is not None:
                lags.append(time.time() - ts.timestamp())

    sub = await client.create_subscription(500, Handler())
    for i in range(0, len(nodes), 250):
        await sub.subscribe_data_change(nodes[i : i + 250], queuesize=100)
    print("subscribed", len(nodes), flush=True)
    sys.stdin.readline()  # the run starts
    await asyncio.sleep(3.0)  # past the start: its births and first values
    counting["on"] = True
    t0, c0 = time.monotonic(), time.process_time()
    await asyncio.sleep(seconds)
    counting["on"] = False
    took = time.monotonic() - t0
    client_cpu = (time.process_time() - c0) / took
    lags.sort()
    Path(out).write_text(
        json.dumps(
            {
                "items": len(nodes),
                "client_cpu": client_cpu,
                "per_s": counting["n"] / took,
                "p50": lags[len(lags) // 2] if lags else None,
                "p95": lags[int(len(lags) * 0.95)] if lags else None,
            }
        )
    )
    await client.disconnect()


def run_live(cfg: Any, sink: Any, seconds: float) -> tuple[float, int]:
    """CPU share of one core over `seconds` of a live run at --speed 1, and messages emitted."""
    from simulator.paced_env import PacedEnvironment
    from simulator.plant import Plant

    env = PacedEnvironment(1.0)
    Plant(env, cfg, sink, int(time.time() * 1000))
    n0 = sink.count
    c0, t0 = time.process_time(), time.perf_counter()
    env.run(until=seconds)
    c1, t1 = time.process_time(), time.perf_counter()
    return (c1 - c0) / (t1 - t0), sink.count - n0


def measure(stations: int, seconds: float) -> dict[str, Any]:
    from simulator.opcua.server import OpcUaSink
    from simulator.sinks import NullSink

    cfg = scaled_plant(stations)
    url = f"opc.tcp://127.0.0.1:{free_port()}"
    t = time.perf_counter()
    sink = OpcUaSink(cfg, url, certs_dir=Path(tempfile.mkdtemp()))
    sink.start(timeout_s=600)
    built = time.perf_counter() - t
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        client = subprocess.Popen(
            [sys.executable, __file__, "--client", url, str(seconds - 6), out.name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert client.stdout is not None and client.stdin is not None
        client.stdout.readline()  # subscribed
        client.stdin.write("go\n")
        client.stdin.flush()
        cpu, emitted = run_live(cfg, sink, seconds)
        client.wait(timeout=120)
        got = json.loads(Path(out.name).read_text())
    sink.close()
    # After, not before: a client subscribing to a server in a process that ran a plant
    # before was disconnected above 500 stations (not understood; see bench/README.md).
    base_cpu, _ = run_live(cfg, NullSink(), seconds)
    return {
        "stations": stations,
        "build_s": built,
        "cpu": cpu,
        "base_cpu": base_cpu,
        "emitted_per_s": emitted / seconds,
        "coalesced": sink.coalesced,
        **got,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stations", type=int, nargs="+", default=[100, 250, 500, 1000])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--client", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        url, seconds, out = args.client
        asyncio.run(client_main(url, float(seconds), out))
        return
    print(f"OPC UA server, live at --speed 1, 1 s samples, {args.seconds:g} s per size")
    for n in args.stations:
        r = measure(n, args.seconds)
        ok = r["coalesced"] == 0 and r["p95"] is not None and r["p95"] < 2.0
        if r["p95"] is None:  # the client lost its connection: no lags measured
            r["p50"] = r["p95"] = float("nan")
        print(
            f"  {n:5d} stations: address space built in {r['build_s']:.1f} s; "
            f"{r['emitted_per_s']:.0f} msg/s emitted; CPU {r['cpu'] * 100:.1f}% of one core "
            f"(simulation alone {r['base_cpu'] * 100:.1f}%); client: {r['items']} items, "
            f"{r['per_s']:.0f} notifications/s (client CPU {r['client_cpu'] * 100:.0f}%), lag p50 {r['p50']:.2f} s p95 {r['p95']:.2f} s; "
            f"{'served' if ok else 'NOT kept up'}"
            + (f" ({r['coalesced']} values skipped)" if r["coalesced"] else ""),
            flush=True,
        )


if __name__ == "__main__":
    main()
