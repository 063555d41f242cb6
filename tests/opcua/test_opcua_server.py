"""`shopfloor sim --opcua` against an independent OPC UA client in its own process
(tests/opcua/client.py, asyncua's Client): what it browses, every state change it receives
compared with the JSONL of the same seeded run, its method calls and their errors, and who may
connect (docs/opcua.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shopfloor.broker import free_port
from shopfloor.commands import is_reply
from shopfloor.config.load import load_config
from shopfloor.contract import parse_topic
from tests.support import GOLDEN, PLANT, cli, instant_s

CLIENT = Path(__file__).with_name("client.py")
ORDERS = Path(__file__).with_name("orders.yaml")  # the golden plant run by work orders
START = "2026-11-23T10:40:00+07:00"  # inside shift A of the golden plant, after its break
MACHINE = "machining/line-1/cnc-01"
VARIABLES = {
    "Identification",
    "MachineryBuildingBlocks",
    "State",
    "StateText",
    "Reason",
    "Online",
    "TotalCount",
    "GoodCount",
    "ScrapCount",
    "PowerKw",
    "EnergyKwh",
    "ProcessValues",
    "Parameters",
    "Breakdown",
    "SetParameter",
}

# OPC 40001-1 MachineryItemState and ISA-TR88 PackML state of each of our states (docs/opcua.md).
ITEM_STATE = {
    "running": "Executing",
    "idle": "NotExecuting",
    "starved": "NotExecuting",
    "blocked": "NotExecuting",
    "setup": "NotExecuting",
    "down": "OutOfService",
    "off": "NotAvailable",
}
PACKML = {
    "running": "Execute",
    "idle": "Idle",
    "starved": "Suspended",
    "blocked": "Suspended",
    "setup": "Held",
    "down": "Aborted",
    "planned_stop": "Stopped",
    "off": "Stopped",
}


def client(*args: str, env: dict[str, str] | None = None, timeout: float = 150) -> dict[str, Any]:
    out = Path(args[1])
    subprocess.run(
        [sys.executable, str(CLIENT), *args],
        check=True,
        timeout=timeout,
        env=env,
        cwd=CLIENT.parents[2],
    )
    return json.loads(out.read_text())


def jsonl_states(path: Path) -> tuple[dict[str, list[tuple[str, int]]], list[dict[str, Any]]]:
    """Each machine's state messages in emission order, and every command reply, from the
    run's own JSONL (the ground truth of what the simulator emitted)."""
    states: dict[str, list[tuple[str, int]]] = {}
    replies = []
    for line in path.read_text().splitlines():
        msg = json.loads(line)
        if is_reply(msg["topic"]):
            replies.append(msg["payload"])
            continue
        parts = parse_topic(msg["topic"])
        if parts is not None and parts.channel == "order":
            key = f"{parts.area}/{parts.line}/{parts.machine}"
            states.setdefault("order:" + key, []).append(
                (msg["payload"]["event"] + ":" + msg["payload"]["order_id"], msg["payload"]["ts"])
            )
        if parts is not None and parts.channel == "state":
            key = f"{parts.area}/{parts.line}/{parts.machine}"
            states.setdefault(key, []).append((msg["payload"]["state"], msg["payload"]["ts"]))
    return states, replies


def test_client_browses_subscribes_and_calls(tmp_path: Path) -> None:
    cfg = load_config(ORDERS)
    url = f"opc.tcp://127.0.0.1:{free_port()}"
    jsonl = tmp_path / "run.jsonl"
    with open(tmp_path / "sim.log", "wb") as log:
        sim = subprocess.Popen(
            cli(
                "sim", "--config", str(ORDERS), "--start", START, "--speed", "120",
                "--duration", "60m", "--jsonl", str(jsonl), "--opcua", url,
                "--opcua-certs", str(tmp_path / "certs"), "--opcua-packml",
            ),
            stderr=log,
        )  # fmt: skip
        try:
            seen = client(url, str(tmp_path / "client.json"), "--actions", MACHINE)
            assert sim.wait(timeout=60) == 0
        finally:
            if sim.poll() is None:
                sim.kill()
    log_text = (tmp_path / "sim.log").read_text()
    assert "Traceback" not in log_text, log_text

    # The tree: Enterprise > Site > Area > Line > Machine, every configured machine with its
    # variables, methods and building blocks.
    want = {f"{line.area}/{line.id}/{st.id}" for line, st in cfg.stations()}
    assert set(seen["tree"]) == want
    for path, children in seen["tree"].items():
        assert set(children) >= VARIABLES, (path, VARIABLES - set(children))

    # Every state change the simulator made while the client was subscribed, in order, with
    # its sim-time source timestamp: the first notification is the value at subscription
    # (or null before the machine's first state), then exactly what the JSONL holds after it.
    assert seen["all_offline"], "the client saw every machine go offline at the end of the run"
    states, replies = jsonl_states(jsonl)
    compared = 0
    for path in want:
        got = [
            (s["value"], s["ts"])
            for s in seen["seen"]
            if s["machine"] == path and s["name"] == "StateText"
        ]
        sent = states.get(path, [])
        if not sent:  # a legacy machine sends no state (power only): the server has none either
            assert all(v is None for v, _ in got), (path, got)
            continue
        first = got[0]
        i = -1 if first[0] is None else sent.index(first)
        assert got[1:] == sent[i + 1 :], path
        compared += len(got) - 1
    assert compared >= 10, f"only {compared} state changes compared: the run is too quiet"

    # The same changes as OPC 40001-1 MachineryItemState and ISA-TR88 PackML states, one
    # write per state message (the tables of docs/opcua.md and docs/protocols.md).
    for path in want:
        texts = [
            s["value"] for s in seen["seen"] if s["machine"] == path and s["name"] == "StateText"
        ]
        items = [
            s["value"]
            for s in seen["seen"]
            if s["machine"] == path and s["name"] == "MachineryItemState"
        ]
        packs = [
            s["value"] for s in seen["seen"] if s["machine"] == path and s["name"] == "PackMLState"
        ]
        # ... and NotAvailable last, when the machine went offline at the end of the run.
        assert items[-1] == "NotAvailable" and len(items) == len(texts) + 1 == len(packs) + 1, path
        for text, item, pack in zip(texts[1:], items[1:-1], packs[1:], strict=True):
            if text != "planned_stop":  # that one depends on its reason
                assert item == ITEM_STATE[text], (path, text, item)
            assert pack == PACKML[text], (path, text, pack)

    # The current order of the line's first station: the order last started there, "" once
    # that one finished (docs/opcua.md), from the order events of the JSONL.
    current, expected = None, []
    for event, ts in states["order:" + MACHINE]:
        kind, order = event.split(":")
        if kind == "started" or (kind == "finished" and order == current):
            current = order if kind == "started" else ""
            expected.append((current, ts))
    got = [
        (s["value"], s["ts"])
        for s in seen["seen"]
        if s["machine"] == MACHINE and s["name"] == "CurrentOrder"
    ]
    i = -1 if got[0][0] is None else expected.index(got[0])
    assert got[1:] == expected[i + 1 :] and len(got) >= 2, (got, expected)

    # A method call changed the plant: the breakdown is in the run's JSONL, and the client's
    # subscription delivered it.
    assert seen["breakdown"]["good"] and seen["down_read"]
    reply = json.loads(seen["breakdown"]["out"][0])
    assert reply["ok"] and reply["result"] == {
        "machine": "cnc-01",
        "reason": "opcua_test",
        "repair_min": 3.0,
    }
    down = [ts for s, ts in states[MACHINE] if s == "down"]
    assert any(ts >= reply["ts"] for ts in down)
    assert seen["set_mttr"]["good"] and seen["mttr_read"]

    # Bad arguments: a Bad status code and the message the cmd topic answers with (the same
    # error replies are in the JSONL, sent by the simulator's one command path).
    errors = {r["error"] for r in replies if r.get("ok") is False}
    for key, code, words in (
        ("bad_param", "BadInvalidArgument", "scrap_rate"),
        ("unknown_param", "BadInvalidArgument", "colour"),
        ("bad_speed", "BadInvalidArgument", "speed"),
    ):
        res = seen[key]
        assert res["status"] == code and not res["good"], res
        assert words in res["out"][0] and res["out"][0] in errors, (res, errors)
    assert seen["missing_args"]["status"] == "BadArgumentsMissing"


def test_remote_endpoint_needs_credentials(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOOR_OPCUA_")}
    res = subprocess.run(
        cli(
            "sim", "--config", str(GOLDEN), "--fast", "--duration", "1m",
            "--opcua", f"opc.tcp://0.0.0.0:{free_port()}", "--opcua-certs", str(tmp_path / "c"),
        ),
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert res.returncode == 1
    assert "SHOPFLOOR_OPCUA_USERNAME" in res.stderr and "loopback" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("bad_url", ["http://127.0.0.1:4840", "opc.tcp://:4840"])
def test_bad_endpoint_url(bad_url: str, tmp_path: Path) -> None:
    res = subprocess.run(
        cli("sim", "--config", str(GOLDEN), "--fast", "--duration", "1m", "--opcua", bad_url),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 1 and "--opcua" in res.stderr and "Traceback" not in res.stderr


def test_password_and_basic256sha256_off_loopback(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SHOPFLOOR_OPCUA_USERNAME": "operator",
        "SHOPFLOOR_OPCUA_PASSWORD": "s3cret-pw",
    }
    certs = tmp_path / "certs"
    with open(tmp_path / "sim.log", "wb") as log:
        sim = subprocess.Popen(
            cli(
                "sim", "--config", str(GOLDEN), "--start", START, "--speed", "1",
                "--duration", "10m", "--opcua", f"opc.tcp://0.0.0.0:{port}",
                "--opcua-certs", str(certs),
            ),
            stderr=log, env=env,
        )  # fmt: skip
        try:
            url = f"opc.tcp://127.0.0.1:{port}"
            ok = client(
                url, str(tmp_path / "ok.json"), "--probe", "--user", "operator",
                "--password", "s3cret-pw", "--cert", str(tmp_path / "client"),
            )  # fmt: skip
            wrong = client(
                url, str(tmp_path / "wrong.json"), "--probe", "--user", "operator",
                "--password", "guess", "--cert", str(tmp_path / "client"),
            )  # fmt: skip
            anonymous = client(url, str(tmp_path / "anon.json"), "--probe")
        finally:
            sim.send_signal(signal.SIGTERM)
            sim.wait(timeout=30)
    assert "connect_error" not in ok, ok
    assert set(ok["tree"]) == {
        f"{line.area}/{line.id}/{st.id}" for line, st in load_config(GOLDEN).stations()
    }
    assert "BadUserAccessDenied" in wrong.get("connect_error", ""), wrong
    assert "connect_error" in anonymous, anonymous  # no unsecured endpoint, no anonymous token
    # The certificate was made at run time in the folder given, its key readable by us only.
    assert (certs / "server-cert.der").is_file()
    assert (certs / "server-key.pem").stat().st_mode & 0o077 == 0


def test_demo_checks_the_opcua_endpoint_before_starting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOOR_OPCUA_")}
    res = subprocess.run(
        cli(
            "demo", "--data-dir", str(tmp_path / "data"), "--port", str(free_port()),
            "--opcua", f"opc.tcp://0.0.0.0:{free_port()}",
        ),
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert res.returncode == 1, res.stderr
    assert "SHOPFLOOR_OPCUA_PASSWORD" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "data").exists(), "nothing started: no data folder made"


def test_after_a_backfill_a_client_reads_each_variables_newest_value(tmp_path: Path) -> None:
    """After a --fast backfill a client reads each variable's newest value with its sim-time
    source timestamp, whether the server kept up or skipped older values to catch up (which
    of the two happens depends on the machine's speed, so neither is asserted; the skipping
    itself is `_newest`, docs/opcua.md)."""
    from simulator.opcua.server import OpcUaSink
    from simulator.run import run
    from simulator.sinks import FanoutSink, ListSink

    class KeepServing(FanoutSink):
        def close(self) -> None:  # the run ends; the server stays up for the client
            self.sinks[0].close()

    cfg = load_config(PLANT)
    url = f"opc.tcp://127.0.0.1:{free_port()}"
    server = OpcUaSink(cfg, url, certs_dir=tmp_path / "certs")
    server.start()
    try:
        mem = ListSink()
        start_ms = round(instant_s(START) * 1000)
        run(cfg, KeepServing(mem, server), start_ms, 8 * 3600.0)
        assert server.flush(60)
        seen = client(url, str(tmp_path / "read.json"), "--read", "StateText,EnergyKwh,TotalCount")
    finally:
        server.close()
    last: dict[str, list[Any]] = {}
    for topic, payload, _ in mem.messages:
        parts = parse_topic(topic)
        if parts is None:
            continue
        path = f"{parts.area}/{parts.line}/{parts.machine}"
        for channel, key, name in (
            ("state", "state", "StateText"),
            ("energy", "energy_kwh", "EnergyKwh"),
            ("count", "total", "TotalCount"),
        ):
            if parts.channel == channel:
                last[f"{path}.{name}"] = [payload[key], payload["ts"]]
    assert last and seen["values"], seen
    for key, value in last.items():
        assert seen["values"][key] == value, key
