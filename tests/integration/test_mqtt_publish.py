"""The simulator publishing to real brokers (Mosquitto, and the embedded amqtt)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import defaultdict
from datetime import UTC, datetime

import pytest

from shopfloor import clock
from tests.support import (
    BROKER_KINDS,
    GOLDEN,
    MONDAY_1100,
    PLANT,
    Subscriber,
    cli,
    pinned_env,
    read_jsonl,
    run_cli,
    running_broker,
    seqs_by_machine,
    wait_for,
)


def printed(path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


SEEDED = ["--fast", "--start", "2026-11-23T05:00+07:00", "--duration", "10h"]


@pytest.mark.parametrize("kind", BROKER_KINDS)
def test_subscriber_gets_every_message_equal_to_the_jsonl(tmp_path, kind):
    with running_broker(kind) as broker:
        sub = Subscriber(broker.port)
        out = tmp_path / "run.jsonl"
        proc = run_cli(
            "sim", "--config", str(GOLDEN), *SEEDED, "--broker", broker.url, "--jsonl", str(out)
        )
        assert proc.returncode == 0, proc.stderr
        expected = read_jsonl(out)
        wait_for(lambda: sub.count() >= len(expected), 60, f"{len(expected)} messages")
        # A marker through the same broker after the simulator has exited: once it is here,
        # anything extra the run sent (a duplicate) is here too, with no settling time.
        sub.publish("shopfloor/v1/test/marker", {"marker": True})
        wait_for(lambda: any("marker" in t for t, _, _ in sub.snapshot()), 20, "the marker")
        got = [m for m in sub.snapshot() if "marker" not in m[0]]
        sub.close()
    assert len(got) == len(expected)
    # Per topic, the same payloads in the same order (topics interleave across connections).
    by_topic_got: dict[str, list] = defaultdict(list)
    by_topic_want: dict[str, list] = defaultdict(list)
    for topic, payload, _ in got:
        by_topic_got[topic].append(payload)
    for m in expected:
        by_topic_want[m["topic"]].append(m["payload"])
    assert by_topic_got == by_topic_want
    for machine, seqs in seqs_by_machine(got).items():
        assert seqs == list(range(1, len(seqs) + 1)), machine


def test_state_and_status_are_retained_for_late_subscribers():
    with running_broker() as broker:
        proc = run_cli(
            "sim", "--config", str(PLANT), "--fast", "--duration", "2h", "--broker", broker.url
        )
        assert proc.returncode == 0, proc.stderr
        late = Subscriber(broker.port, "shopfloor/v1/+/+/+/+/+/+")
        wait_for(lambda: late.count() >= 23, 10, "retained state of 11 machines and status of 12")
        got = late.snapshot()
        late.close()
    channels = defaultdict(set)
    for topic, _payload, retain in got:
        assert retain
        channels[topic.split("/")[-1]].add(topic.split("/")[6])
    assert set(channels) == {"state", "status"}
    assert len(channels["state"]) == 11  # the legacy press publishes power only
    assert len(channels["status"]) == 12
    statuses = [p for t, p, _ in got if t.endswith("/status")]
    assert all(p == {"ts": statuses[0]["ts"], "online": False} for p in statuses)  # clean stop


@pytest.mark.slow
def test_broker_restart_mid_run_loses_nothing(tmp_path):
    pytest.importorskip("paho")
    if "mosquitto" not in BROKER_KINDS:
        pytest.skip("needs mosquitto (apt-get install mosquitto; .ci/run installs it)")
    data = tmp_path / "mosq"
    with running_broker("mosquitto", data_dir=data) as broker:
        sub = Subscriber(broker.port, client_id="restart-sub", clean=False)
        proc = subprocess.Popen(
            cli("sim", "--config", str(PLANT), "--fast", "--start", "2026-11-23T05:00+07:00", "--duration", "2d",
                "--broker", broker.url, "--report", str(tmp_path / "r.json"), "--jsonl", str(tmp_path / "run.jsonl")),
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_for(lambda: sub.count() > 20_000, 60, "the run under way")
        broker.stop()  # SIGTERM: mosquitto saves its sessions
        time.sleep(2.0)
        broker.start()
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        assert "lost the broker" in err and "reconnected" in err
        expected = read_jsonl(tmp_path / "run.jsonl")
        want = defaultdict(int)
        for m in expected:
            if "seq" in m["payload"]:
                want[m["topic"].split("/")[6]] += 1

        def distinct() -> int:
            # Resends after the restart repeat some messages: count each seq once.
            return sum(len(set(v)) for v in seqs_by_machine(sub.snapshot()).values())

        wait_for(lambda: distinct() >= sum(want.values()), 60, "every message once at least")
        got = seqs_by_machine(sub.snapshot())
        sub.close()
    for machine, n in want.items():
        # QoS 1 is at-least-once: a resend after the restart may repeat, never skip.
        assert sorted(set(got[machine])) == list(range(1, n + 1)), machine


def test_sigkill_fires_every_machines_last_will(tmp_path):
    err = tmp_path / "sim.err"
    with running_broker() as broker:
        sub = Subscriber(broker.port, "shopfloor/v1/+/+/+/+/+/status")
        with open(err, "wb") as f:
            proc = subprocess.Popen(
                cli("sim", "--config", str(PLANT), "--broker", broker.url), stderr=f
            )
        try:
            wait_for(
                lambda: sum(1 for _, p, _ in sub.snapshot() if p.get("online")) >= 12,
                20,
                "12 births",
            )
            wait_for(lambda: "last wills armed for 12 machines" in printed(err), 20, "wills armed")
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)

            def offline() -> set[str]:
                return {t.split("/")[6] for t, p, _ in sub.snapshot() if p == {"online": False}}

            machines = wait_for(lambda: len(offline()) == 12 and offline(), 20, "12 wills")
        finally:
            proc.kill()
            sub.close()
    assert len(machines) == 12


def test_a_lost_will_connection_says_its_machine_is_online_again(tmp_path):
    """A machine's will connection lost on its own (here: another client takes its client id)
    makes the broker publish that machine offline, retained, while it runs on; once the will
    connection is back the simulator says the machine is online again, so a late subscriber
    (the dashboard, a collector restarting) is not told a running machine is offline."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    err = tmp_path / "sim.err"
    with running_broker() as broker:
        sub = Subscriber(broker.port, "shopfloor/v1/+/+/+/+/+/status")
        with open(err, "wb") as f:
            proc = subprocess.Popen(
                cli("sim", "--config", str(PLANT), "--speed", "60", "--broker", broker.url,
                    "--client-id", "willdrop"),
                stderr=f,
            )  # fmt: skip
        try:
            wait_for(lambda: "last wills armed for 12 machines" in printed(err), 30, "wills armed")
            thief = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="willdrop-will-0")
            thief.connect(broker.host, broker.port)
            thief.loop_start()
            statuses = lambda: [(t, p) for t, p, _ in sub.snapshot()]  # noqa: E731
            topic = wait_for(
                lambda: next((t for t, p in statuses() if p == {"online": False}), None),
                20,
                "the will of the first machine",
            )
            thief.disconnect()
            thief.loop_stop()

            def online_again() -> bool:
                mine = [p.get("online") for t, p in statuses() if t == topic]
                return False in mine and mine[-1] is True

            wait_for(online_again, 30, "its status online again")
            late = Subscriber(broker.port, topic)
            retained = wait_for(lambda: late.snapshot(), 10, "the retained status")
            late.close()
            assert retained[-1][1].get("online") is True and retained[-1][2] is True
            assert proc.poll() is None
        finally:
            proc.terminate()
            proc.wait(20)
            sub.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_clean_stop_delivers_and_marks_offline(sig):
    with running_broker() as broker:
        sub = Subscriber(broker.port)
        proc = subprocess.Popen(
            cli("sim", "--config", str(PLANT), "--speed", "60", "--broker", broker.url),
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: sub.count() > 100, 20, "messages flowing")
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err

        def offline() -> set[str]:
            return {
                t.split("/")[6]
                for t, p, _ in sub.snapshot()
                if t.endswith("/status") and p.get("online") is False
            }

        # The offline statuses are the last messages on the connection that carried the rest:
        # once all twelve are here, everything before them is too (a loaded machine may take
        # longer than any fixed pause to deliver them).
        wait_for(lambda: len(offline()) == 12, 20, "every machine offline")
        got = sub.snapshot()
        sub.close()
    for machine, seqs in seqs_by_machine(got).items():
        assert seqs == list(range(1, len(seqs) + 1)), machine


def ping_until_answered(sub: Subscriber, topic: str, timeout_s: float = 30) -> None:
    """The simulator's command subscriptions are in place once a harmless command (its
    current speed again) is answered; each try has its own id."""
    deadline = time.monotonic() + timeout_s
    n = 0
    while True:
        n += 1
        sub.publish(topic, {"id": f"ping-{n}", "action": "set_speed", "speed": 1})
        try:
            wait_for(
                lambda n=n: any(
                    isinstance(p, dict) and p.get("id") == f"ping-{n}" for _, p, _ in sub.snapshot()
                ),
                0.5,
                "a reply",
            )
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


@pytest.mark.slow
def test_breakdown_command_shows_at_once_and_bad_commands_get_errors():
    # A plant clock pinned inside Monday's shift A: a breakdown does nothing while the plant
    # is off (at night, on Sundays), so the test must not depend on when it runs.
    with running_broker() as broker:
        sub = Subscriber(broker.port)
        proc = subprocess.Popen(
            cli("sim", "--config", str(PLANT), "--speed", "1", "--broker", broker.url),
            stderr=subprocess.PIPE,
            text=True,
            env=pinned_env(MONDAY_1100),
        )
        try:
            base = "shopfloor/v1/acme-vn/hcm/machining/machining-1/cnc-01"
            wait_for(
                lambda: any(t == f"{base}/state" for t, _, _ in sub.snapshot()), 20, "cnc-01 state"
            )
            ping_until_answered(sub, "shopfloor/v1/acme-vn/hcm/cmd")
            t0 = time.monotonic()
            sub.publish(
                f"{base}/cmd",
                {"id": "c1", "action": "breakdown", "reason": "test_fault", "repair_min": 30},
            )

            def down():
                return any(
                    t == f"{base}/state" and p["state"] == "down" and p["reason"] == "test_fault"
                    for t, p, _ in sub.snapshot()
                )

            wait_for(down, 30, "cnc-01 down")
            # At once, not at the model's next event; a generous bound for a loaded shared
            # machine (bench/bench_command.py measures the latency itself: 87.5 ms).
            assert time.monotonic() - t0 < 15.0

            def reply_to(cmd_id: str) -> list[dict]:
                return [
                    p
                    for t, p, _ in sub.snapshot()
                    if t.endswith("/cmd/reply") and isinstance(p, dict) and p.get("id") == cmd_id
                ]

            reply = wait_for(lambda: reply_to("c1"), 5, "reply")
            assert reply[0]["ok"] is True

            bad = [
                (f"{base}/cmd", b"{not json", "not JSON"),
                (f"{base}/cmd", {"id": "c2", "action": "explode"}, "action"),
                (
                    f"{base}/cmd",
                    {"id": "c3", "action": "set", "values": {"scrap_rate": 3}},
                    "scrap_rate: must be <= 1",
                ),
                (
                    f"{base}/cmd",
                    {"id": "c4", "action": "set", "values": {"cycle_s.mean": 10}},
                    "cycle_s.mean: must be >= ideal_cycle_s",
                ),
                (f"{base}/cmd", {"id": "c5", "action": "breakdown"}, "already down"),
                (
                    "shopfloor/v1/acme-vn/hcm/cmd",
                    {"id": "c6", "action": "set_speed", "speed": -1},
                    "speed: must be > 0",
                ),
                (
                    "shopfloor/v1/acme-vn/hcm/x/y/nope/cmd",
                    {"id": "c7", "action": "breakdown"},
                    "machine of this plant",
                ),
            ]
            for topic, payload, _ in bad:
                sub.publish(topic, payload)
            # Not JSON has no id to echo: its reply is the one on cnc-01's topic without one.
            no_id = wait_for(
                lambda: [
                    p
                    for t, p, _ in sub.snapshot()
                    if t == f"{base}/cmd/reply" and isinstance(p, dict) and p.get("id") is None
                ],
                10,
                "the reply to not-JSON",
            )
            assert no_id[0]["ok"] is False and "not JSON" in no_id[0]["error"], no_id
            for _, payload, needle in bad[1:]:
                got = wait_for(lambda p=payload: reply_to(p["id"]), 10, f"reply to {payload['id']}")
                assert got[0]["ok"] is False
                assert needle in got[0]["error"], got
            sub.publish(
                f"{base}/cmd",
                {"id": "c8", "action": "set", "values": {"mttr_min": 5, "scrap_rate": 0.5}},
            )
            ok = wait_for(lambda: reply_to("c8"), 5, "c8 reply")
            assert ok[0]["ok"] is True
            n = sub.count()
            wait_for(lambda: sub.count() > n + 6, 25, "still publishing after bad commands")
            assert proc.poll() is None
        finally:
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=20)
            sub.close()
    assert proc.returncode == 0
    assert "Traceback" not in err


def test_set_speed_command_changes_the_pace():
    """The sim clock's pace against the wall clock, before and after set_speed (the samples'
    own timestamps against their arrival): from 10x to about 200x, with bounds generous
    enough for a loaded machine (a --fast run would be thousands of times faster)."""
    topic = "shopfloor/v1/acme-vn/hcm/machining/machining-1/cnc-01/telemetry"
    arrivals: list[tuple[float, int]] = []  # (monotonic arrival, sample ts ms)
    with running_broker() as broker:
        sub = Subscriber(broker.port, topic)
        sub.client.on_message = lambda c, u, msg: arrivals.append(
            (time.monotonic(), json.loads(msg.payload)["ts"])
        )
        proc = subprocess.Popen(
            cli("sim", "--config", str(PLANT), "--speed", "10", "--broker", broker.url),
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: len(arrivals) >= 3, 20, "samples at 10x")
            slow = list(arrivals)
            sub.publish("shopfloor/v1/acme-vn/hcm/cmd", {"action": "set_speed", "speed": 200})
            n0 = len(arrivals)
            wait_for(lambda: len(arrivals) >= n0 + 40, 30, "samples at 200x")
            fast = arrivals[n0 + 5 :]  # past the switch
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(20)
            sub.close()

    def pace(rows: list[tuple[float, int]]) -> float:
        (w0, s0), (w1, s1) = rows[0], rows[-1]
        return (s1 - s0) / 1000 / max(w1 - w0, 1e-3)

    # Relative, not absolute: a loaded machine slows both paces (it never speeds them up).
    assert pace(slow) < 40
    assert 3 * pace(slow) < pace(fast) < 2000


def test_broker_absent_at_start_is_retried_and_everything_arrives(tmp_path):
    from shopfloor.broker import Broker, free_port

    port = free_port()
    out = tmp_path / "run.jsonl"
    err_file = tmp_path / "sim.err"
    with open(err_file, "wb") as f:
        proc = subprocess.Popen(
            cli("sim", "--config", str(GOLDEN), *SEEDED, "--broker", f"mqtt://127.0.0.1:{port}", "--jsonl", str(out)),
            stderr=f,
        )  # fmt: skip
    wait_for(lambda: "unreachable; retrying" in printed(err_file), 30, "a failed connect")
    assert proc.poll() is None  # still trying, not crashed
    broker = Broker(port).start()
    try:
        sub = Subscriber(port)
        proc.wait(60)
        err = printed(err_file)
        assert proc.returncode == 0, err
        expected = read_jsonl(out)
        wait_for(lambda: sub.count() >= len(expected), 30, "every message")
        assert seqs_by_machine(sub.snapshot()) == seqs_by_machine(
            [(m["topic"], m["payload"], False) for m in expected]
        )
        sub.close()
    finally:
        broker.close()


@pytest.mark.slow
def test_live_run_with_a_full_queue_drops_oldest_and_says_so():
    from shopfloor.broker import free_port

    proc = run_cli("sim", "--config", str(PLANT), "--speed", "600", "--duration", "10m", "--queue-size", "50",
                   "--broker", f"mqtt://127.0.0.1:{free_port()}", timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "dropping the oldest" in proc.stderr
    assert "not delivered" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--broker", "http://x"], "--broker: 'http://x': the scheme must be mqtt:// or mqtts://"),
        (["--broker", "mqtt://host:99999"], "--broker"),
        (["--qos", "2"], "--qos"),
        (["--queue-size", "0"], "--queue-size"),
        (["--broker", "mqtts://localhost", "--ca-file", "/nope.pem"], "--ca-file"),
        (["--then-live"], "--then-live needs a --start in the past"),
    ],
)
def test_mqtt_flag_errors(args, needle):
    proc = run_cli("sim", "--config", str(PLANT), *args)
    assert proc.returncode == 1
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_then_live_backfills_then_paces(tmp_path):
    env = pinned_env(MONDAY_1100)
    pin = clock.parse(env[clock.ENV])
    start = datetime.fromtimestamp(pin.now_s(time.time()) - 3 * 3600, UTC).isoformat()
    out = tmp_path / "run.jsonl"
    proc = subprocess.Popen(
        cli("sim", "--config", str(PLANT), "--start", start, "--then-live", "--jsonl", str(out)),
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:

        def newest_ts() -> int:
            text = out.read_text() if out.exists() else ""
            lines = text.splitlines()
            return json.loads(lines[-2])["payload"]["ts"] if len(lines) > 2 else 0

        def behind_s() -> float:
            return abs(newest_ts() / 1000 - pin.now_s(time.time()))

        # Caught up with the (pinned) clock, then it stays there: it keeps publishing live.
        wait_for(lambda: behind_s() < 15, 60, "backfill caught up")
        caught = newest_ts()
        wait_for(lambda: newest_ts() >= caught + 10_000, 30, "live messages after the backfill")
        assert behind_s() < 15
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    assert proc.returncode == 0
