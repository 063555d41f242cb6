"""PacedEnvironment at the extremes of the speeds a set_speed command may ask (shopfloor.commands:
above 0, at most 100,000), through the simulator's own run() and Commander, in process."""

from __future__ import annotations

import queue
import threading
from typing import Any

import orjson

from shopfloor.config import load_config
from simulator.run import RunResult, run
from simulator.sinks import ListSink
from tests.support import MONDAY_1100, PLANT, instant_s, wait_for

PLANT_CMD = "shopfloor/v1/acme-vn/hcm/cmd"


class PumpedSink(ListSink):
    """A sink with the MQTT sink's pump hook, which the run calls just before it sleeps."""

    def __init__(self) -> None:
        super().__init__()
        self.pumped_at: list[int] = []  # how many messages were out at each pump

    def pump(self) -> None:
        self.pumped_at.append(len(self.messages))


def _reply(sink: ListSink, cmd_id: str) -> dict[str, Any] | None:
    for topic, payload, _ in list(sink.messages):
        if topic == PLANT_CMD + "/reply" and payload.get("id") == cmd_id:
            return payload
    return None


def test_a_tiny_speed_sleeps_instead_of_crashing_the_run():
    """speed 1e-9 puts the next event ~1e10 s of wall time away: the run used to die with
    OverflowError (threading's wait refuses such a timeout), so one valid command ended a
    live plant. It must sleep, answer the next command, and finish the run."""
    cfg = load_config(PLANT)
    sink, inbox, wake = PumpedSink(), queue.SimpleQueue(), threading.Event()
    done: dict[str, Any] = {}

    def go() -> None:
        try:
            done["result"] = run(
                cfg, sink, int(instant_s(MONDAY_1100) * 1000), 600.0, speed=1.0,
                inbox=inbox, wake=wake,
            )  # fmt: skip
        except BaseException as exc:  # the failure this test looks for
            done["error"] = exc

    def command(cmd_id: str, speed: float) -> None:
        inbox.put((PLANT_CMD, orjson.dumps({"id": cmd_id, "action": "set_speed", "speed": speed})))
        wake.set()

    sim = threading.Thread(target=go, daemon=True)
    sim.start()
    command("tiny", 1e-9)
    assert wait_for(lambda: _reply(sink, "tiny"), 30, "the reply to speed 1e-9")["ok"] is True
    # The run has gone to sleep at that speed (the pump runs just before each sleep, here
    # after the reply was out), or died.
    out = next(i for i, m in enumerate(sink.messages) if m[1].get("id") == "tiny") + 1
    wait_for(lambda: max(sink.pumped_at, default=0) >= out or not sim.is_alive(), 30, "asleep")
    command("fast", 100_000)
    sim.join(60)
    assert "error" not in done, repr(done.get("error"))
    assert not sim.is_alive()
    assert _reply(sink, "fast")["ok"] is True
    result: RunResult = done["result"]
    assert result.sim_s == 600.0 and not result.interrupted
