"""What `--encoding sparkplug` publishes, decoded by an independent Sparkplug B library
(pysparkplug: its own generated protobuf module and datatype codecs) and checked against the
JSONL of the same seeded run: every birth, data message and death, seq and bdSeq as Sparkplug
B 3.0 defines them (docs/sparkplug.md)."""

from __future__ import annotations

import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pysparkplug as psp
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from shopfloor import packml
from shopfloor.config import load_config
from tests.support import PLANT, cli, read_jsonl, run_cli, running_broker, wait_for

START = "2026-11-23T05:30:00+07:00"


class RawSubscriber:
    """Records (topic, bytes) of every Sparkplug message, in arrival order."""

    def __init__(self, port: int, topic: str = "spBv1.0/#", persistent: bool = False):
        """`persistent`: a session the broker keeps (clean_session false), so a broker with
        persistence queues what is published while this client reconnects after a restart."""
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"spb-test-{id(self)}",
            clean_session=not persistent,
        )
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda c, u, m, r, p: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_for(self.ready.is_set, 10, "subscribed")

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def snapshot(self) -> list[tuple[str, bytes]]:
        with self.lock:
            return list(self.messages)

    def publish(self, topic: str, data: bytes) -> None:
        self.client.publish(topic, data, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _decode_all(messages: list[tuple[str, bytes]]) -> list[tuple[psp.Topic, Any]]:
    """Every message through pysparkplug, DDATA with the DBIRTH in force for its device."""
    births: dict[tuple[str, str, str], psp.DBirth] = {}
    out: list[tuple[psp.Topic, Any]] = []
    kinds = {
        psp.MessageType.NBIRTH: psp.NBirth,
        psp.MessageType.DBIRTH: psp.DBirth,
        psp.MessageType.DDATA: psp.DData,
        psp.MessageType.DDEATH: psp.DDeath,
        psp.MessageType.NDEATH: psp.NDeath,
    }
    for text, raw in messages:
        t = psp.Topic.from_str(text)
        if t.message_type == psp.MessageType.NCMD:
            continue  # the test's own command
        key = (t.group_id, t.edge_node_id, t.device_id)
        decoded = kinds[t.message_type].decode(raw, birth=births.get(key))
        if t.message_type == psp.MessageType.DBIRTH:
            births[key] = decoded
        out.append((t, decoded))
    return out


def _values(payload: Any) -> dict[str, Any]:
    return {m.name: m.value for m in payload.metrics}


def test_births_data_and_deaths_match_the_jsonl_of_the_same_run(tmp_path: Path) -> None:
    cfg = load_config(PLANT)
    ent, site = cfg.plant.enterprise, cfg.plant.site
    jsonl = tmp_path / "run.jsonl"
    with running_broker("mosquitto") as broker:
        sub = RawSubscriber(broker.port)
        try:
            done = run_cli("sim", "--config", str(PLANT), "--start", START, "--duration", "2h",
                           "--fast", "--broker", broker.url, "--encoding", "sparkplug",
                           "--sparkplug-packml", "--jsonl", str(jsonl), timeout=120)  # fmt: skip
            assert done.returncode == 0, done.stderr
            sent = read_jsonl(jsonl)
            machine_msgs = [m for m in sent if m["topic"].split("/")[-1] != "cmd"]
            # One Sparkplug message per JSON one, plus an NBIRTH and an NDEATH per line (and a
            # device reborn if a field appeared after its birth: none on this plant).
            want = len(machine_msgs) + 2 * len(cfg.lines)
            wait_for(lambda: len(sub.snapshot()) >= want, 30, f"{want} Sparkplug messages")
            got = _decode_all(sub.snapshot())
        finally:
            sub.close()
    assert len(got) == want
    group = f"{ent}:{site}"
    assert {t.group_id for t, _ in got} == {group}
    nodes = {f"{line.area}:{line.id}" for line in cfg.lines}
    assert {t.edge_node_id for t, _ in got} == nodes

    # Per edge node: NBIRTH first with seq 0 and bdSeq, then seq +1 per message modulo 256,
    # NDEATH last with the NBIRTH's bdSeq.
    for node in nodes:
        mine = [(t, p) for t, p in got if t.edge_node_id == node]
        t0, nbirth = mine[0]
        assert t0.message_type == psp.MessageType.NBIRTH and nbirth.seq == 0
        bd = _values(nbirth)["bdSeq"]
        assert _values(nbirth)["Node Control/Rebirth"] is False
        tl, ndeath = mine[-1]
        assert tl.message_type == psp.MessageType.NDEATH
        assert ndeath.bd_seq_metric.value == bd
        seqs = [p.seq for t, p in mine[1:-1]]
        assert seqs == [(i + 1) % 256 for i in range(len(seqs))]
        assert len(seqs) > 256  # the wrap was exercised

    # Per device: DBIRTH with every metric's name, datatype and alias, the JSON birth's
    # properties; then one DDATA per JSON message, same values, by alias only; DDEATH last.
    by_device: dict[str, list[tuple[psp.Topic, Any]]] = {}
    for t, p in got:
        if t.device_id is not None:
            by_device.setdefault(t.device_id, []).append((t, p))
    json_by_machine: dict[str, list[dict[str, Any]]] = {}
    for m in machine_msgs:
        json_by_machine.setdefault(m["topic"].split("/")[6], []).append(m)
    assert set(by_device) == {st.id for _, st in cfg.stations()}
    fixed = {"State": "String", "State/Reason": "String", "Count/Total": "UINT64",
             "Seq": "UINT64", "Power/kW": "DOUBLE", "Energy/kWh": "DOUBLE"}  # fmt: skip
    for machine, msgs in by_device.items():
        want_msgs = json_by_machine[machine]
        assert len(msgs) == len(want_msgs)
        (t_birth, dbirth), *data, (t_death, ddeath) = msgs
        assert t_birth.message_type == psp.MessageType.DBIRTH
        assert t_death.message_type == psp.MessageType.DDEATH
        birth = want_msgs[0]["payload"]
        assert birth["online"] is True
        props = _values(dbirth)
        assert props["Properties/kind"] == birth["kind"]
        assert props["Properties/position"] == birth["position"]
        assert props["Properties/ideal_cycle_s"] == birth["ideal_cycle_s"]
        assert props["Properties/connectivity"] == birth["connectivity"]
        for state, kw in birth["power_kw"].items():
            assert props[f"Properties/power_kw/{state}"] == kw
        aliases = [m.alias for m in dbirth.metrics]
        assert None not in aliases and len(set(aliases)) == len(aliases)
        for m in dbirth.metrics:
            assert m.name and m.datatype != psp.DataType.UNKNOWN
            if m.name in fixed:
                assert m.datatype.name.upper() == fixed[m.name].upper(), m.name
        assert dbirth.timestamp == birth["ts"]
        assert ddeath.timestamp == want_msgs[-1]["payload"]["ts"]
        for (t, p), j in zip(data, want_msgs[1:-1], strict=True):
            assert t.message_type == psp.MessageType.DDATA
            jp, channel = j["payload"], j["topic"].split("/")[-1]
            assert all(m.alias is not None for m in p.metrics)
            assert p.timestamp == jp["ts"]
            assert {m.timestamp for m in p.metrics} == {jp["ts"]}
            v = _values(p)
            assert v.pop("Seq") == jp["seq"]
            expect = {k: x for k, x in jp.items() if k not in ("ts", "seq")}
            if channel == "state":
                assert v.pop("State") == expect.pop("state")
                assert v.pop("State/Reason") == expect.pop("reason", "")
                assert v.pop("PackML/StateCurrent") == packml.state_code(jp["state"])
                assert v.pop("PackML/State") == packml.state(jp["state"])
                assert v.pop("PackML/UnitModeCurrent") in packml.UNIT_MODE_CODES.values()
            elif channel == "count":
                for f in ("total", "good", "scrap"):
                    assert v.pop(f"Count/{f.title()}") == expect.pop(f)
                if "ideal_s" in expect:
                    assert v.pop("Count/IdealTime_s") == expect.pop("ideal_s")
            elif channel == "telemetry":
                assert v.pop("Power/kW") == expect.pop("power_kw")
                for name in list(expect):
                    assert v.pop(f"Process/{name}") == expect.pop(name)
            elif channel == "energy":
                assert v.pop("Energy/kWh") == expect.pop("energy_kwh")
            else:  # a channel added since: named by the rule, <Channel>/<field>
                for name in list(expect):
                    assert v.pop(f"{channel[:1].upper()}{channel[1:]}/{name}") == expect.pop(name)
            assert v == {} and expect == {}, (channel, v, expect)


def test_rebirth_on_ncmd_and_ndeath_as_the_will(tmp_path: Path) -> None:
    """A live run: an NCMD `Node Control/Rebirth` brings the NBIRTH (seq 0, the same bdSeq)
    and every device's DBIRTH again; SIGKILL leaves the NDEATH of every line, the MQTT will,
    with the bdSeq of its NBIRTH."""
    cfg = load_config(PLANT)
    group = f"{cfg.plant.enterprise}:{cfg.plant.site}"
    line = cfg.lines[0]
    node = f"{line.area}:{line.id}"
    with running_broker("mosquitto") as broker:
        sub = RawSubscriber(broker.port)
        sim = subprocess.Popen(
            cli("sim", "--config", str(PLANT), "--speed", "60", "--broker", broker.url,
                "--encoding", "sparkplug"),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        log: list[str] = []
        threading.Thread(target=lambda: log.extend(sim.stderr or ()), daemon=True).start()
        try:

            def of(kind: str, n: str = node) -> list[tuple[psp.Topic, Any]]:
                return [
                    (t, p)
                    for t, p in _decode_all(sub.snapshot())
                    if t.message_type.name == kind and t.edge_node_id == n
                ]

            devices = {st.id for ln, st in cfg.stations() if ln.id == line.id}
            wait_for(lambda: {t.device_id for t, _ in of("DBIRTH")} == devices, 30, "the DBIRTHs")
            wait_for(lambda: any("wills armed" in x for x in log), 60, "the NDEATH wills armed")
            (_, nbirth0), = of("NBIRTH")  # fmt: skip
            bd = _values(nbirth0)["bdSeq"]
            before = len(devices)
            cmd = psp.NCmd(
                timestamp=0,
                metrics=(psp.Metric(timestamp=0, name="Node Control/Rebirth",
                                    datatype=psp.DataType.BOOLEAN, value=True),),
            )  # fmt: skip
            sub.publish(f"spBv1.0/{group}/NCMD/{node}", cmd.encode(include_dtypes=True))
            wait_for(lambda: len(of("NBIRTH")) == 2, 30, "the NBIRTH again")
            wait_for(lambda: len(of("DBIRTH")) == 2 * before, 30, "every DBIRTH again")
            nbirths = of("NBIRTH")
            assert nbirths[1][1].seq == 0 and _values(nbirths[1][1])["bdSeq"] == bd
            # Only the node asked was reborn.
            other = f"{cfg.lines[1].area}:{cfg.lines[1].id}"
            assert len(of("NBIRTH", other)) == 1
            # The reborn DBIRTH carries the current values: the latest state sent before it.
            mine = [(t, p) for t, p in _decode_all(sub.snapshot()) if t.edge_node_id == node]
            idx = [i for i, (t, _) in enumerate(mine) if t.message_type.name == "NBIRTH"][1]
            reborn = {t.device_id: p for t, p in mine[idx:] if t.message_type.name == "DBIRTH"}
            for dev, p in reborn.items():
                states = [
                    _values(q)["State"]
                    for t, q in mine[:idx]
                    if t.device_id == dev and t.message_type.name == "DDATA"
                    and "State" in _values(q)
                ]  # fmt: skip
                if states:
                    assert _values(p)["State"] == states[-1]
            sim.send_signal(signal.SIGKILL)
            sim.wait(10)
            wait_for(lambda: of("NDEATH"), 30, "the NDEATH will")
            for ln in cfg.lines:
                n = f"{ln.area}:{ln.id}"
                deaths = of("NDEATH", n)
                assert len(deaths) == 1, n
                assert deaths[0][1].bd_seq_metric.value == bd
        finally:
            if sim.poll() is None:
                sim.kill()
                sim.wait(10)
            sub.close()


def test_sparkplug_needs_a_broker() -> None:
    out = run_cli("sim", "--config", str(PLANT), "--duration", "1m", "--fast",
                  "--encoding", "sparkplug")  # fmt: skip
    assert out.returncode != 0
    assert "--encoding sparkplug publishes to a broker: give --broker" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.fixture(autouse=True)
def _need_mosquitto() -> None:
    from shopfloor.broker import find_mosquitto

    if not find_mosquitto():
        pytest.skip("Mosquitto is not installed")


def test_births_again_after_the_broker_comes_back(tmp_path: Path) -> None:
    """A broker restart ends every MQTT session: the data connection's and each node's will
    connection, which comes back with a new bdSeq (Sparkplug 3.0: one up per session). Every
    node then publishes its NBIRTH (seq 0) with the bdSeq of the NDEATH will registered now,
    and no NBIRTH with another (tck-id-payloads-nbirth-bdseq-repeat), then each device's
    DBIRTH before any DDATA of it (tck-id-payloads-ddata-order); so when the node dies (SIGKILL,
    no clean disconnect) the broker's NDEATH carries the bdSeq of its last NBIRTH."""
    cfg = load_config(PLANT)
    nodes = {f"{line.area}:{line.id}" for line in cfg.lines}
    devices = {n: {st.id for ln, st in cfg.stations() if f"{ln.area}:{ln.id}" == n} for n in nodes}
    with running_broker("mosquitto", data_dir=tmp_path / "mosq") as broker:
        # A kept session: what the simulator publishes while this client reconnects to the
        # restarted broker is queued for it, not lost (the births come right then).
        sub = RawSubscriber(broker.port, persistent=True)
        sim = subprocess.Popen(
            cli("sim", "--config", str(PLANT), "--speed", "60", "--broker", broker.url,
                "--encoding", "sparkplug"),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        log: list[str] = []
        threading.Thread(target=lambda: log.extend(sim.stderr or ()), daemon=True).start()
        try:

            def mine(n: str, since: int = 0) -> list[tuple[psp.Topic, Any]]:
                # Decoded from the start (a DDATA needs its DBIRTH); no NCMD here, so the
                # decoded list and the raw one have the same indices.
                got = _decode_all(sub.snapshot())[since:]
                return [(t, p) for t, p in got if t.edge_node_id == n]

            def kinds(msgs: list[tuple[psp.Topic, Any]], kind: str) -> list[int]:
                return [i for i, (t, _) in enumerate(msgs) if t.message_type.name == kind]

            wait_for(lambda: all(kinds(mine(n), "NBIRTH") for n in nodes), 30, "NBIRTHs")
            wait_for(lambda: any("wills armed" in x for x in log), 60, "the NDEATH wills armed")
            first = {n: _values(mine(n)[kinds(mine(n), "NBIRTH")[0]][1])["bdSeq"] for n in nodes}
            broker.stop()
            mark = len(sub.snapshot())  # what arrived before the restart
            broker.start()

            def whole(n: str) -> bool:
                """The node's newest NBIRTH since the restart, then every device's DBIRTH."""
                msgs = mine(n, mark)
                births = kinds(msgs, "NBIRTH")
                return bool(births) and devices[n] <= {
                    t.device_id for t, _ in msgs[births[-1] :] if t.message_type.name == "DBIRTH"
                }

            wait_for(lambda: all(whole(n) for n in nodes), 60, "every node's births again")
            # Some DDATA after those births, so their order is exercised.
            wait_for(
                lambda: all(
                    kinds(mine(n, mark)[kinds(mine(n, mark), "NBIRTH")[-1] :], "DDATA")
                    for n in nodes
                ),
                60,
                "DDATA after the births",
            )
            for n in nodes:
                msgs = mine(n, mark)
                births = kinds(msgs, "NBIRTH")
                # Each session from its NBIRTH (seq 0): seq one up per message, each device's
                # DBIRTH before its DDATA; nothing of the old session among them.
                for k, at in enumerate(births):
                    session = [
                        (t, p)
                        for t, p in msgs[at : births[k + 1] if k + 1 < len(births) else None]
                        if t.message_type.name != "NDEATH"  # no seq; checked below
                    ]
                    seqs = [p.seq for _, p in session]
                    assert seqs == [i % 256 for i in range(len(seqs))], (n, seqs[:20])
                    born: set[str] = set()
                    for t, _p in session[1:]:
                        if t.message_type.name == "DBIRTH":
                            born.add(t.device_id)
                        elif t.message_type.name == "DDATA":
                            assert t.device_id in born, (n, t.device_id)
            # The node dies without a word: the broker publishes each will, whose bdSeq must be
            # the one of the node's last NBIRTH for a host to match the death to the birth.
            end = len(sub.snapshot())
            sim.send_signal(signal.SIGKILL)
            sim.wait(10)
            wait_for(
                lambda: all(kinds(mine(n, end), "NDEATH") for n in nodes), 30, "the NDEATH wills"
            )
            for n in nodes:
                msgs = mine(n, mark)
                bds = [_values(msgs[i][1])["bdSeq"] for i in kinds(msgs, "NBIRTH")]
                # A new will session: a new bdSeq, the same in every NBIRTH since the restart
                # (no birth went out with a bdSeq whose will was no longer registered).
                assert bds[-1] != first[n], n
                assert set(bds) == {bds[-1]}, (n, bds)
                last_birth = kinds(msgs, "NBIRTH")[-1]
                deaths = [p for t, p in msgs[last_birth:] if t.message_type.name == "NDEATH"]
                assert [d.bd_seq_metric.value for d in deaths] == [bds[-1]], n
        finally:
            if sim.poll() is None:
                sim.kill()
                sim.wait(10)
            sub.close()


def test_our_copy_of_the_definition_is_the_one_pysparkplug_ships() -> None:
    """shopfloor/tahu/sparkplug_b.desc is Tahu's sparkplug_b.proto byte for byte, as the other
    library's generated module has it (the Sparkplug 3.0 definition, with its DataType enum)."""
    from importlib import resources

    from pysparkplug._protobuf import sparkplug_b_pb2

    ours = resources.files("shopfloor").joinpath("tahu/sparkplug_b.desc").read_bytes()
    assert ours == sparkplug_b_pb2.DESCRIPTOR.serialized_pb
    assert sparkplug_b_pb2.DESCRIPTOR.package == "org.eclipse.tahu.protobuf"
    assert "DataType" in sparkplug_b_pb2.DESCRIPTOR.enum_types_by_name
