"""Alerts (shopfloor/alerts.py) judged against the simulator's ground truth: its own list of
breakdowns, its per-quarter energy and per-hour OEE (simulator/truth.py); then the collector
publishing them on the plant's alerts topic through a real broker."""

from __future__ import annotations

import copy
import itertools
import logging
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from collector.validate import validate
from shopfloor import alerts
from shopfloor.config import load_config
from shopfloor.config.load import ConfigError, parse_config
from shopfloor.contract import alerts_topic
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.paced_env import PacedEnvironment
from simulator.plant import Plant
from simulator.sinks import ListSink
from tests.support import (
    MONDAY_1100,
    PLANT,
    Subscriber,
    cli,
    pinned_env,
    running_broker,
    wait_for,
)

START_MS = 1_795_366_800_000  # Monday 2026-11-23 00:00 +07:00
MIN_MS = 60_000
QUARTER_MS = 900_000

# A 24/7 plant (no shift or break overlays a breakdown) whose machines break often, some
# repairs shorter and some longer than the rule's 10 minutes.
BREAKY: dict[str, Any] = {
    "plant": {"enterprise": "acme", "site": "alerts"},
    "seed": 11,
    "telemetry": {"sample_interval_s": 10, "energy_interval_s": 15},
    "lines": [
        {
            "id": "l1",
            "area": "a1",
            "stations": [
                {
                    "id": f"m{i}",
                    "kind": "cnc",
                    "ideal_cycle_s": 40,
                    "cycle_s": {"mean": 42, "cv": 0.05},
                    "mtbf_min": 90,
                    "mttr_min": 12,
                    "power_kw": {"running": 20, "idle": 4, "down": 1},
                }
                for i in (1, 2, 3)
            ],
        }
    ],
}


def simulate(
    cfg: Any, hours: float, tmp_path: Path, frontier_ms: int | None = None
) -> tuple[Plant, SqliteStore]:
    """A seeded run stored through the collector's own validation into SQLite; the Plant
    object is kept for its ground truth (failures, the quarter-hour ledger). frontier_ms: store
    only the messages before it (a backfill that has got so far)."""
    sink = ListSink()
    env = PacedEnvironment(None)
    plant = Plant(env, cfg, sink, START_MS)
    env.run(until=hours * 3600)
    end_ms = START_MS + int(hours * 3600_000)
    store = SqliteStore(tmp_path / "alerts.db")
    recs = [validate(t, orjson.dumps(p), end_ms, 10**12, 10**6) for t, p, _ in sink.messages]
    keep = [r for r in recs if isinstance(r, Record)]
    store.write([r for r in keep if frontier_ms is None or r.ts < frontier_ms])
    return plant, store


def plant_data() -> dict[str, Any]:
    """The example plant as plain data, without its alert rules (each test sets its own)."""
    return load_config(PLANT).model_dump(mode="json", exclude={"alerts"})


def with_alerts(data: dict[str, Any], **rules: Any) -> Any:
    data = copy.deepcopy(data)
    data["alerts"] = rules
    return parse_config(data)


def test_a_machine_down_longer_than_n_minutes_raises_its_alert_exactly_while_it_is(tmp_path):
    n_min = 10
    cfg = with_alerts(BREAKY, machine_down_min=n_min)
    plant, store = simulate(cfg, 12, tmp_path)
    # Truth: each breakdown's [start, end) in epoch ms, per machine.
    downs = {
        st.id: [
            (START_MS + start_s * 1000, START_MS + (start_s + repair_s) * 1000)
            for start_s, repair_s, _ in st.failures
        ]
        for st in plant.stations
    }
    long_ones = [(m, a, b) for m, ds in downs.items() for a, b in ds if b - a > n_min * MIN_MS]
    short_ones = [(m, a, b) for m, ds in downs.items() for a, b in ds if b - a < n_min * MIN_MS]
    assert len(long_ones) >= 3 and len(short_ones) >= 3, "the run must hold both kinds"

    def expected(now: float) -> set[str]:
        return {m for m, ds in downs.items() for a, b in ds if a + n_min * MIN_MS < now < b}

    def near_an_edge(now: float) -> bool:  # within 1 s of a truth boundary: ms rounding
        return any(
            abs(now - x) < 1000
            for ds in downs.values()
            for a, b in ds
            for x in (a + n_min * MIN_MS, b)
        )

    probes = [START_MS + k * 20_000 for k in range(12 * 180)]  # every 20 s of the 12 hours
    checked = 0
    for now in probes:
        if near_an_edge(now):
            continue
        got = alerts.evaluate(store, cfg, now)
        assert {a.subject for a in got if a.kind == "machine_down"} == expected(now), now
        checked += 1
        for a in got:
            start = next(s for s, e in downs[a.subject] if s <= now < e)
            assert abs(a.since - start) <= 1, "since = when the machine went down"
            assert a.value == pytest.approx((now - a.since) / MIN_MS)
            assert a.threshold == n_min
    assert checked > 2000
    # Each long breakdown: raised just after N minutes, not just before; cleared after repair.
    for m, a, b in long_ones:
        subjects = lambda t: {x.subject for x in alerts.evaluate(store, cfg, int(t))}  # noqa: E731
        assert m not in subjects(a + n_min * MIN_MS - 1500)
        assert m in subjects(a + n_min * MIN_MS + 1500)
        assert m in subjects(b - 1500)
        assert m not in subjects(b + 1500)
    for m, _, b in short_ones:
        assert m not in {x.subject for x in alerts.evaluate(store, cfg, int(b) - 1500)}
    # A store still being backfilled: a machine down at its frontier is judged up to the
    # frontier, not up to the wall clock hours later.
    m, a, b = long_ones[0]
    for frontier, raised in ((a + (n_min - 2) * MIN_MS, False), (a + (n_min + 2) * MIN_MS, True)):
        _, partial = simulate(cfg, 12, tmp_path / f"frontier-{raised}", int(frontier))
        later = int(b) + 3 * 3_600_000  # the wall clock, far past the frontier
        got = {
            x.subject: x for x in alerts.evaluate(partial, cfg, later) if x.kind == "machine_down"
        }
        assert (m in got) is raised
        if raised:
            assert got[m].value == pytest.approx((n_min + 2), abs=0.2)


def meter_margin_kw(cfg: Any) -> float:
    """How far the measured demand of a quarter can be from the truth. A meter is read every
    energy_interval_s, so a quarter's metered kWh are those of a window shifted by up to one
    interval: at most a machine's full power over one interval at each end. A legacy machine
    (no meter) is its sampled power: the samples' noise (at most 6%, simulator/station.py)
    plus a few state changes each off by up to a sample interval."""
    tel = cfg.telemetry
    out = 0.0
    for _, st in cfg.stations():
        full_kw = max(st.power_kw.by_state().values())
        if st.connectivity == "legacy":
            out += full_kw * (0.06 + 4 * tel.sample_interval_s / 900)
        else:
            out += full_kw * 2 * tel.energy_interval_s / 900
    return out


def test_demand_above_the_contracted_limit_raises_for_the_quarters_the_truth_exceeded(tmp_path):
    data = plant_data()
    data["telemetry"] = {"sample_interval_s": 10, "energy_interval_s": 15}
    probe_cfg = parse_config(data)
    plant, _ = simulate(probe_cfg, 24, tmp_path / "probe")
    # The truth's demand per quarter, from the simulator's own ledger.
    truth_kw = {}
    for q in range(START_MS, START_MS + 24 * 3_600_000, QUARTER_MS):
        e = plant.truth.report(q, q + QUARTER_MS)["plant"]["energy_kwh"]
        truth_kw[q] = e * 4
    # A limit in the widest gap between quarters' demands, below the peak.
    levels = sorted(set(round(v, 6) for v in truth_kw.values()))
    gap, limit = max((b - a, (a + b) / 2) for a, b in itertools.pairwise(levels))
    margin = meter_margin_kw(probe_cfg)
    assert gap > 2 * margin, "the limit must be clear of every quarter by the meter's margin"
    assert limit < max(truth_kw.values())
    cfg = parse_config({**data, "alerts": {"demand_limit_kw": limit}})
    _, store = simulate(cfg, 24, tmp_path)
    raised = set()
    for q in truth_kw:
        got = alerts.evaluate(store, cfg, q + QUARTER_MS + 1)  # just after the quarter ends
        for a in got:
            assert a.kind == "demand_high" and a.subject == "plant" and a.threshold == limit
            assert a.since == q
            assert a.value == pytest.approx(truth_kw[q], abs=margin)
            raised.add(q)
    over = {q for q, kw in truth_kw.items() if kw > limit}
    assert over and raised == over
    assert len(over) < len(truth_kw)


def test_line_oee_below_its_threshold_over_the_last_hour_as_the_truth_says(tmp_path):
    cfg = parse_config({**plant_data(), "alerts": {"line_oee_below": 0.7}})
    plant, store = simulate(cfg, 24, tmp_path)
    # The same rule against each line's OEE target: the plant's 0.7, one line's own 0.95.
    data = plant_data()
    data["targets"] = {"oee": 0.7}
    data["lines"][1]["targets"] = {"oee": 0.95}
    by_target = parse_config({**data, "alerts": {"line_oee_below": "target"}})
    below = {ln.id: 0.95 if i == 1 else 0.7 for i, ln in enumerate(cfg.lines)}
    checked = 0
    for now in range(START_MS + 3_600_000, START_MS + 24 * 3_600_000, QUARTER_MS):
        truth = plant.truth.report(now - 3_600_000, now)
        for rules, threshold in ((cfg, dict.fromkeys(below, 0.7)), (by_target, below)):
            got = {a.subject: a for a in alerts.evaluate(store, rules, now)}
            for lid, e in truth["lines"].items():
                if abs(e["planned_s"] - 1800) < 2 or abs(e["oee"] - threshold[lid]) < 0.01:
                    continue  # on an edge: a millisecond of rounding decides
                if e["planned_s"] < 1800:  # less than half the hour planned: not judged
                    assert lid not in got
                    continue
                assert (lid in got) == (e["oee"] < threshold[lid]), (now, lid, e["oee"])
                if lid in got:
                    assert got[lid].value == pytest.approx(e["oee"], abs=0.005)
                    assert got[lid].kind == "line_oee_low"
                    assert got[lid].threshold == threshold[lid]
                checked += 1
    assert checked > 200


def test_a_bad_rule_is_named_by_its_key_path(base_config):
    for rules, needle in [
        ({"machine_down_min": -5}, "alerts.machine_down_min: must be > 0, got -5"),
        ({"line_oee_below": 1.5}, "alerts.line_oee_below: must be <= 1, got 1.5"),
        (
            {"demand_limt_kw": 300},
            "alerts.demand_limt_kw: unknown key (did you mean 'demand_limit_kw'?)",
        ),
        (
            {"line_oee_below": 0.6, "line_oee_below_target": True},
            "alerts: set line_oee_below or line_oee_below_target, not both",
        ),
        (
            {"line_oee_below": "targets"},
            "line_oee_below: a ratio above 0 and at most 1 (0.6 = 60%), or target",
        ),
    ]:
        with pytest.raises(ConfigError) as err:
            parse_config({**base_config, "alerts": rules})
        assert needle in err.value.render()


def test_the_example_plant_carries_the_alert_rules():
    cfg = load_config(PLANT)
    assert alerts.enabled(cfg)


# -- the collector publishes them -----------------------------------------------------------

LIVE: dict[str, Any] = {
    "plant": {"enterprise": "acme", "site": "alive"},
    "seed": 3,
    "telemetry": {"sample_interval_s": 1, "energy_interval_s": 5},
    "lines": [
        {
            "id": "l1",
            "area": "a1",
            "stations": [
                {"id": f"m{i}", "kind": "cnc", "ideal_cycle_s": 5, "buffer": 5,
                 "power_kw": {"running": 10, "idle": 2, "down": 1}}
                for i in (1, 2)
            ],
        }
    ],
    # Seconds, so the test runs at the plant's own pace.
    "alerts": {"machine_down_min": 0.05},
}  # fmt: skip


@pytest.mark.slow
def test_the_collector_publishes_an_injected_breakdown_on_the_alerts_topic(tmp_path, monkeypatch):
    from collector.service import Collector
    from shopfloor.mqtt_url import parse_broker_url

    config_path = tmp_path / "live.yaml"
    config_path.write_text(yaml.safe_dump(LIVE))
    cfg = load_config(config_path)
    env = pinned_env(MONDAY_1100)
    monkeypatch.setenv("SHOPFLOOR_NOW", env["SHOPFLOOR_NOW"])  # the collector's clock too
    topic = alerts_topic("acme", "alive")
    with running_broker() as broker:
        store = SqliteStore(tmp_path / "live.db")
        col = Collector(
            parse_broker_url(broker.url), store, client_id="alerts-test",
            alerts=cfg, alerts_every_s=0.3,
        ).start()  # fmt: skip
        sub = Subscriber(broker.port, topic="shopfloor/v1/acme/alive/#")
        proc = subprocess.Popen(
            cli("sim", "--config", str(config_path), "--speed", "1", "--broker", broker.url),
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            base = "shopfloor/v1/acme/alive/a1/l1/m2"

            def published() -> list[dict[str, Any]]:
                return [p for t, p, _ in sub.snapshot() if t == topic]

            wait_for(lambda: published(), 20, "a first alerts message (none active)")
            assert published()[0]["alerts"] == []
            wait_for(lambda: store.last_changes(2**53).get("m2"), 20, "m2 stored")
            sub.publish(f"{base}/cmd", {"id": "b1", "action": "breakdown", "repair_min": 0.25})
            down = wait_for(
                lambda: (lc := store.last_changes(2**53).get("m2")) and lc[1] == "down" and lc,
                20,
                "m2 down in the store",
            )

            def active() -> list[dict[str, Any]]:
                return published()[-1]["alerts"]

            wait_for(lambda: active(), 20, "the alert")
            msg = published()[-1]
            assert [(a["kind"], a["subject"]) for a in msg["alerts"]] == [("machine_down", "m2")]
            a = msg["alerts"][0]
            assert a["since"] == down[0] and a["threshold"] == 0.05
            # Raised no earlier than N minutes after the machine went down (plant time).
            assert msg["ts"] - down[0] > 0.05 * MIN_MS
            # Minutes down up to the newest message heard (one every second here).
            assert a["value"] == pytest.approx((msg["ts"] - down[0]) / MIN_MS, abs=1.5 / 60)
            wait_for(lambda: not active(), 30, "the alert cleared after the repair")
            back = store.last_changes(2**53)["m2"]
            assert back[1] != "down" and published()[-1]["ts"] >= back[0]
            # Retained: a late subscriber learns what is active at once.
            late = Subscriber(broker.port, topic=topic)
            got = wait_for(lambda: late.snapshot(), 10, "the retained alerts")
            assert got[-1][2] is True and got[-1][1]["alerts"] == []
            late.close()
            assert col.metrics.value("shopfloor_collector_alert_errors_total") == 0
        finally:
            proc.terminate()
            proc.wait(20)
            sub.close()
            col.stop()
            store.close()


def test_an_evaluation_that_raises_is_counted_and_never_stops_the_collector(
    tmp_path, monkeypatch, caplog
):
    from collector.service import Collector
    from shopfloor.mqtt_url import parse_broker_url

    calls: list[int] = []

    def broken(store: Any, cfg: Any, now_ms: int) -> list:
        calls.append(now_ms)
        raise RuntimeError("alert rule bug")

    monkeypatch.setattr(alerts, "evaluate", broken)
    cfg = parse_config(LIVE)
    with running_broker() as broker:
        store = SqliteStore(tmp_path / "s.db")
        col = Collector(
            parse_broker_url(broker.url), store, client_id="alerts-fault",
            alerts=cfg, alerts_every_s=0.05, on_fatal=pytest.fail,
        ).start()  # fmt: skip
        try:
            wait_for(lambda: col.metrics.value("shopfloor_collector_subscribed") == 1, 10, "sub")
            wait_for(lambda: len(calls) >= 5, 10, "five evaluations")
            pub = Subscriber(broker.port, "nothing/#")
            topic = "shopfloor/v1/acme/alive/a1/l1/m1/energy"
            for seq in range(1, 21):
                pub.publish(topic, {"ts": START_MS + seq * 1000, "seq": seq, "energy_kwh": 1.0})
            wait_for(lambda: store.max_seq().get("m1") == 20, 10, "every message stored")
            pub.close()
            errors = col.metrics.value("shopfloor_collector_alert_errors_total")
            assert errors >= 5 and col.health()[0] and col.failure() is None
            # The traceback once, however often it raises.
            assert (
                sum("evaluating the alert rules raised" in r.message for r in caplog.records) == 1
            )
        finally:
            col.stop()
            store.close()


def test_collect_names_a_bad_alerts_interval(tmp_path):
    from tests.support import run_cli

    got = run_cli(
        "collect", "--broker", "mqtt://127.0.0.1:1", "--store", f"sqlite:///{tmp_path / 's.db'}",
        "--alerts-every", "0",
    )  # fmt: skip
    assert got.returncode != 0
    assert "--alerts-every: must be above 0 seconds, got 0" in got.stderr
    assert "Traceback" not in got.stderr


@pytest.mark.slow
def test_a_power_cut_of_a_large_plant_fits_one_alerts_message_and_intake_goes_on(
    tmp_path, monkeypatch
):
    """~550 machines down (a 225-station plant's power cut, with its lines) is ~70 kB of
    alerts: more than the compose Mosquitto takes in a packet (max_packet_size 65536), which
    would disconnect the collector that shares the connection with its intake. The message is
    capped (the plant's and lines' alerts first, then the machines down longest) and says how
    many are left out; the collector goes on storing."""
    from collector.service import Collector
    from shopfloor.mqtt_url import parse_broker_url
    from tests.limited_broker import COMPOSE_MAX_PACKET, limited_broker

    now = START_MS + 10 * 3_600_000
    many = [alerts.Alert("machine_down", f"l{i // 9:02d}-s{i % 9}-injection-molding",
                         now - 600_000 - i * 1000, 10.0 + i / 60, 5.0)
            for i in range(600)]  # fmt: skip
    many += [alerts.Alert("line_oee_low", f"line-{i:02d}", now - 3_600_000, 0.0, 0.6)
             for i in range(25)]  # fmt: skip
    many.append(alerts.Alert("demand_high", "plant", now - 900_000, 5000.0, 4000.0))
    many.sort(key=lambda a: (alerts.KINDS.index(a.kind), a.subject))
    assert len(orjson.dumps(alerts.payload(many, now, max_bytes=10**9))) > COMPOSE_MAX_PACKET
    monkeypatch.setattr(alerts, "evaluate", lambda store, cfg, now_ms: list(many))
    cfg = parse_config(LIVE)
    topic = alerts_topic("acme", "alive")
    with limited_broker(tmp_path) as (url, log):
        port = int(url.rsplit(":", 1)[1])
        store = SqliteStore(tmp_path / "s.db")
        col = Collector(
            parse_broker_url(url), store, client_id="alerts-big",
            alerts=cfg, alerts_every_s=0.2, on_fatal=pytest.fail,
        ).start()  # fmt: skip
        sub = Subscriber(port, topic)
        pub = Subscriber(port, "nothing/#")
        try:
            got = wait_for(lambda: sub.snapshot(), 20, "the alerts message")
            msg = got[-1][1]
            assert isinstance(msg, dict), "not JSON"
            assert len(orjson.dumps(msg)) <= alerts.MAX_PAYLOAD_BYTES
            kinds = [a["kind"] for a in msg["alerts"]]
            assert kinds.count("demand_high") == 1 and kinds.count("line_oee_low") == 25
            downs = [a for a in msg["alerts"] if a["kind"] == "machine_down"]
            assert msg["truncated"] == len(many) - len(msg["alerts"]) > 0
            # The machines down longest are the ones kept, listed in the usual order.
            longest = sorted((a for a in many if a.kind == "machine_down"), key=lambda a: a.since)
            assert {a["subject"] for a in downs} == {a.subject for a in longest[: len(downs)]}
            assert [a["subject"] for a in downs] == sorted(a["subject"] for a in downs)
            # Intake goes on: the collector was not disconnected for an oversize packet.
            machine = "shopfloor/v1/acme/alive/a1/l1/m1/energy"
            for seq in range(1, 31):
                pub.publish(machine, {"ts": START_MS + seq * 1000, "seq": seq, "energy_kwh": 1.0})
            wait_for(lambda: store.max_seq().get("m1") == 30, 20, "every message stored")
            assert "oversize" not in log.read_text()
            assert col.metrics.value("shopfloor_collector_alert_errors_total") == 0
        finally:
            pub.close()
            sub.close()
            col.stop()
            store.close()


def test_the_oee_rule_against_the_targets_is_a_threshold_and_the_old_key_still_works(
    base_config, caplog
):
    """Every rule's key holds its threshold: `line_oee_below: target`. The boolean
    `line_oee_below_target` of older configs still means the same, with a warning naming the
    new spelling; the new spelling gives none."""
    data = {**base_config, "targets": {"oee": 0.7}}
    with caplog.at_level(logging.WARNING, logger="shopfloor.config"):
        new = parse_config({**data, "alerts": {"line_oee_below": "target"}})
    assert not [r for r in caplog.records if "deprecated" in r.getMessage()]
    with caplog.at_level(logging.WARNING, logger="shopfloor.config"):
        old = parse_config({**data, "alerts": {"line_oee_below_target": True}})
    said = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert said and "line_oee_below: target" in said[0]
    for cfg in (new, old):
        assert alerts.enabled(cfg)
        assert alerts.line_oee_threshold(cfg, cfg.lines[0].id) == 0.7
    fixed = parse_config({**data, "alerts": {"line_oee_below": 0.5}})
    assert alerts.line_oee_threshold(fixed, fixed.lines[0].id) == 0.5
