"""An edge node whose NDEATH will connection drops while the simulator lives on: the broker
publishes that NDEATH (every host and our collector then take the line offline), so the node
publishes its births again once the will connection is back, instead of staying dead to every
host while its DDATA flows (simulator/wills.py's on_reconnect, simulator/sparkplug_sink.py)."""

from __future__ import annotations

import signal
import subprocess
import threading
from typing import Any

import paho.mqtt.client as mqtt
import pysparkplug as psp
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from shopfloor.config import load_config
from tests.sparkplug.test_publish import RawSubscriber, _decode_all
from tests.support import PLANT, cli, running_broker, wait_for

CLIENT_ID = "will-drop-test"


def takeover(port: int, client_id: str) -> tuple[mqtt.Client, threading.Event]:
    """A client under `client_id`, so that the broker closes the connection that had it, and
    an event set once it is connected. It never reconnects by itself: paho's would, a second
    after the simulator's own reconnect took the id back, and drop that connection again (more
    births, a new bdSeq) if this test were slow to disconnect it."""
    connected = threading.Event()
    thief = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    thief.on_connect = lambda *_: connected.set()
    thief.reconnect_delay_set(3600, 3600)
    thief.connect("127.0.0.1", port)
    thief.loop_start()
    return thief, connected


@pytest.fixture(autouse=True)
def _need_mosquitto() -> None:
    from shopfloor.broker import find_mosquitto

    if not find_mosquitto():
        pytest.skip("Mosquitto is not installed")


def test_a_dropped_will_connection_brings_the_nodes_births_again() -> None:
    cfg = load_config(PLANT)
    line = cfg.lines[0]  # the first will connection holds the first line's NDEATH
    node = f"{line.area}:{line.id}"
    with running_broker("mosquitto") as broker:
        sub = RawSubscriber(broker.port)
        sim = subprocess.Popen(
            cli("sim", "--config", str(PLANT), "--speed", "60", "--broker", broker.url,
                "--encoding", "sparkplug", "--client-id", CLIENT_ID),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        log: list[str] = []
        threading.Thread(target=lambda: log.extend(sim.stderr or ()), daemon=True).start()
        try:

            def mine() -> list[tuple[psp.Topic, Any]]:
                return [(t, p) for t, p in _decode_all(sub.snapshot()) if t.edge_node_id == node]

            wait_for(lambda: any("wills armed" in x for x in log), 60, "the NDEATH wills armed")
            # The node's first NBIRTH out before its will is taken: one still queued (the data
            # connection not up yet) would come after the NDEATH, with the old bdSeq.
            wait_for(
                lambda: any(t.message_type == psp.MessageType.NBIRTH for t, _ in mine()),
                30,
                "the node's NBIRTH",
            )
            # Another client under the will connection's id: the broker closes the will
            # connection and publishes its will, as when that connection alone is lost.
            thief, _ = takeover(broker.port, f"{CLIENT_ID}-spb-will-0")
            wait_for(
                lambda: any(t.message_type == psp.MessageType.NDEATH for t, _ in mine()),
                30,
                "the NDEATH will of the first line",
            )
            thief.disconnect()
            thief.loop_stop()

            def born_again() -> bool:
                kinds = [t.message_type for t, _ in mine()]
                death = kinds.index(psp.MessageType.NDEATH)
                return psp.MessageType.NBIRTH in kinds[death:]

            wait_for(born_again, 30, "the node's NBIRTH after its NDEATH")
            msgs = mine()
            death = [t.message_type for t, _ in msgs].index(psp.MessageType.NDEATH)
            after = msgs[death:]
            nbirths = [p for t, p in after if t.message_type == psp.MessageType.NBIRTH]
            ndeath = after[0][1]
            assert nbirths[0].seq == 0
            bd = {m.name: m.value for m in nbirths[0].metrics}["bdSeq"]
            # A new will session, a new bdSeq (one up, modulo 256): a host never takes the
            # old session's NDEATH for the new birth's.
            assert bd == (ndeath.bd_seq_metric.value + 1) % 256
            assert sim.poll() is None
        finally:
            sim.send_signal(signal.SIGTERM)
            sim.wait(30)
        # The clean stop's NDEATH is the new session's.
        deaths = wait_for(
            lambda: [p for t, p in mine() if t.message_type == psp.MessageType.NDEATH][1:],
            20,
            "the clean stop's NDEATH",
        )
        sub.close()
        assert deaths[-1].bd_seq_metric.value == bd


def test_a_dropped_data_connection_brings_births_once_with_the_same_bdseq() -> None:
    """Only the data connection drops: every will connection, and so every NDEATH with its
    bdSeq, stays registered. Each node publishes its births once again (its will answers the
    probe at once), with the bdSeq it had, and each device's DBIRTH before its DDATA."""
    cfg = load_config(PLANT)
    nodes = {f"{line.area}:{line.id}" for line in cfg.lines}
    with running_broker("mosquitto") as broker:
        sub = RawSubscriber(broker.port)
        sim = subprocess.Popen(
            cli("sim", "--config", str(PLANT), "--speed", "60", "--broker", broker.url,
                "--encoding", "sparkplug", "--client-id", CLIENT_ID),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        log: list[str] = []
        threading.Thread(target=lambda: log.extend(sim.stderr or ()), daemon=True).start()

        def births(n: str) -> list[Any]:
            return [
                p
                for t, p in _decode_all(sub.snapshot())
                if t.edge_node_id == n and t.message_type == psp.MessageType.NBIRTH
            ]

        try:
            wait_for(lambda: all(births(n) for n in nodes), 30, "NBIRTHs")
            wait_for(lambda: any("wills armed" in x for x in log), 60, "the NDEATH wills armed")
            # Another client under the data connection's id: the broker closes the data
            # connection alone; the simulator's reconnect then takes the id back.
            thief, connected = takeover(broker.port, CLIENT_ID)
            # Connected once (the simulator's reconnect may already have taken the id back).
            wait_for(connected.is_set, 10, "the other client connected")
            thief.disconnect()
            thief.loop_stop()
            wait_for(lambda: any("reconnected to" in x for x in log), 30, "the reconnect")
            wait_for(lambda: all(len(births(n)) >= 2 for n in nodes), 30, "the births again")
        finally:
            sim.send_signal(signal.SIGTERM)
            sim.wait(30)
        msgs = _decode_all(sub.snapshot())
        sub.close()
    assert not any("no sign of it" in x for x in log)  # the probe answered, no timeout
    for n in nodes:
        mine = [(t, p) for t, p in msgs if t.edge_node_id == n]
        at = [i for i, (t, _) in enumerate(mine) if t.message_type == psp.MessageType.NBIRTH]
        assert len(at) == 2, n  # once again, not once per connection that came back
        bds = {
            {m.name: m.value for m in p.metrics}["bdSeq"]
            if t.message_type == psp.MessageType.NBIRTH
            else p.bd_seq_metric.value
            for t, p in mine
            if t.message_type in (psp.MessageType.NBIRTH, psp.MessageType.NDEATH)
        }
        assert len(bds) == 1, (n, bds)  # the same will all along, and the clean stop's NDEATH
        session = [(t, p) for t, p in mine[at[1] :] if t.message_type.name != "NDEATH"]
        assert [p.seq for _, p in session] == [i % 256 for i in range(len(session))], n
        born: set[str] = set()
        for t, _p in session[1:]:
            if t.message_type == psp.MessageType.DBIRTH:
                born.add(t.device_id)
            elif t.message_type == psp.MessageType.DDATA:
                assert t.device_id in born, (n, t.device_id)
