"""A live plant never runs ahead of the wall clock (docs/architecture.md, Time): a speed above
1 is a fast-forward that applies only while the run is behind the clock, and a restart from a
store that holds the plant past the clock says so and waits for it.

Real Mosquitto (or amqtt), the real `shopfloor sim` process, a clock pinned inside Monday's
shift A and ticking (SHOPFLOOR_NOW=ISO@epoch), shared by the test and the simulator.
"""

from __future__ import annotations

import os
import subprocess
import time

import orjson

from collector.validate import validate
from shopfloor import clock
from shopfloor.config import load_config
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.run import run
from simulator.sinks import ListSink
from tests.support import MONDAY_1100, PLANT, Subscriber, cli, instant_s, running_broker, wait_for

PLANT_CMD = "shopfloor/v1/acme-vn/hcm/cmd"


def _ticking() -> tuple[dict[str, str], clock.Pin]:
    value = clock.ticking_from(instant_s(MONDAY_1100))
    return {**os.environ, clock.ENV: value}, clock.parse(value)


def _newest_ts(sub: Subscriber) -> int:
    return max(
        (p["ts"] for t, p, _ in sub.snapshot() if isinstance(p, dict) and "seq" in p), default=0
    )


def _reply(sub: Subscriber, cmd_id: str) -> dict | None:
    for t, p, _ in sub.snapshot():
        if t == PLANT_CMD + "/reply" and isinstance(p, dict) and p.get("id") == cmd_id:
            return p
    return None


def _speed(sub: Subscriber, cmd_id: str, speed: float) -> dict:
    sub.publish(PLANT_CMD, {"id": cmd_id, "action": "set_speed", "speed": speed})
    return wait_for(lambda: _reply(sub, cmd_id), 15, f"the reply to {cmd_id}")


def test_speed_above_one_never_passes_the_clock_and_catches_up_after_slow_motion():
    env, pin = _ticking()
    with running_broker() as broker:
        sub = Subscriber(broker.port)
        proc = subprocess.Popen(
            cli("sim", "--config", str(PLANT), "--backfill", "10m", "--speed", "60",
                "--broker", broker.url),
            stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        try:
            # The announcement of the live pace (retained; a live subscriber gets it as it is
            # sent, without the retain flag): 60x asked, following the clock.
            announced = wait_for(
                lambda: next(
                    (
                        p
                        for t, p, _ in sub.snapshot()
                        if t == PLANT_CMD + "/reply" and p.get("id") is None
                    ),
                    None,
                ),
                60,
                "the retained speed announcement",
            )
            assert announced["result"]["speed"] == 60
            assert announced["result"]["follows_clock"] is True
            # The backfill reached the clock; at 60x a plant would run a minute of plant time
            # per wall second past it. Watch until it has sent 3 s of live readings (a
            # condition, not a time window: a stalled run proves nothing): never past the clock.
            wait_for(lambda: _newest_ts(sub) >= (pin.now_s(time.time()) - 15) * 1000, 60, "live")
            watch_from = _newest_ts(sub)
            worst_ahead_ms = -(10**9)

            def watched_3s_live() -> bool:
                nonlocal worst_ahead_ms
                now_ms = pin.now_s(time.time()) * 1000
                newest = _newest_ts(sub)
                worst_ahead_ms = max(worst_ahead_ms, newest - now_ms)
                return newest >= watch_from + 3000

            wait_for(watched_3s_live, 30, "3 s of live readings")
            assert worst_ahead_ms <= 250, f"{worst_ahead_ms} ms ahead of the clock"
            # Slow motion puts it behind the clock (about 0.95 s per wall second); 60x then
            # catches up and stops at the clock.
            _speed(sub, "slow", 0.05)
            wait_for(
                lambda: _speed(sub, f"slow-{time.monotonic()}", 0.05)["result"]["behind_s"] > 2,
                30,
                "over 2 s behind the clock at 0.05x",
            )
            behind = _speed(sub, "fast", 60)["result"]["behind_s"]
            assert behind > 2, behind
            caught_up = wait_for(
                lambda: (
                    (r := _speed(sub, f"ping-{time.monotonic()}", 60))["result"]["behind_s"] < 0.5
                    and r
                ),
                30,
                "caught up with the clock",
            )
            assert caught_up["result"]["follows_clock"] is True
            # The retained announcement now holds the speed in use, for a client that
            # subscribes later (the Simulation page).
            late = Subscriber(broker.port, PLANT_CMD + "/reply")
            got = wait_for(lambda: late.snapshot(), 10, "the retained reply")
            late.close()
            assert got[0][2] is True and got[0][1]["result"]["speed"] == 60
            assert _newest_ts(sub) <= pin.now_s(time.time()) * 1000 + 250
        finally:
            proc.terminate()
            proc.wait(20)
            sub.close()


def test_restart_from_a_store_ahead_of_the_clock_warns_and_waits(tmp_path):
    env, pin = _ticking()
    now_ms = int(pin.now_s(time.time()) * 1000)
    # An earlier run (before live runs followed the clock) left the plant 20 min ahead of it.
    sink = ListSink()
    run(load_config(PLANT), sink, now_ms - 600_000, 1800)
    store = SqliteStore(tmp_path / "s.db")
    recs = [validate(t, orjson.dumps(p), now_ms, 10**12, 10**6) for t, p, _ in sink.messages]
    store.write([r for r in recs if isinstance(r, Record)])
    stored_until = max(m.last_ts for m in store.machines())
    store.close()
    assert stored_until > now_ms + 19 * 60_000
    with running_broker() as broker:
        sub = Subscriber(broker.port)
        proc = subprocess.Popen(
            cli("sim", "--config", str(PLANT), "--backfill", "1h", "--speed", "60",
                "--continue-from", f"sqlite:///{tmp_path / 's.db'}", "--broker", broker.url),
            stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        try:
            wait_for(lambda: _newest_ts(sub), 30, "the resumed readings")
            # Proof that it waits, not that it is slow: the live run answers a command (it is
            # stepping) at the sim time where the store ends, although at 60x any wall time
            # since the resumed readings would have moved it on. The reply is also a marker:
            # every reading it sent before answering is in by then.
            where = _speed(sub, "where", 60)
            sent = [p["ts"] for t, p, _ in sub.snapshot() if isinstance(p, dict) and "seq" in p]
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=20)
            sub.close()
    assert "ahead of the clock" in err and "waits until the clock reaches it" in err, err
    # Nothing over stored history, and nothing past where the store ends: it waits there.
    assert min(sent) > stored_until
    assert max(sent) <= stored_until + 1
    assert where["ts"] <= stored_until + 1, (where, stored_until)
    assert where["result"]["behind_s"] == 0  # ahead of the clock, not behind it
