"""The emitted messages follow the telemetry contract (docs/architecture.md, The telemetry
contract) and agree with the ground truth."""

import itertools
import re
from collections import defaultdict
from pathlib import Path

import pytest

from shopfloor import kpi
from shopfloor.config import load_config
from shopfloor.contract import (
    CountPayload,
    EnergyPayload,
    StatePayload,
    TelemetryPayload,
    parse_topic,
)

from .helpers import START_MS, simulate_messages

ROOT = Path(__file__).resolve().parents[2]
TOPIC = re.compile(
    r"^shopfloor/v1/acme-vn/hcm/[a-z]+/[a-z0-9-]+/[a-z0-9-]+/(state|count|telemetry|energy|status)$"
)
DURATION_S = 26 * 3600.0


@pytest.fixture(scope="module")
def run():
    cfg = load_config(ROOT / "config" / "plant.yaml")
    result, messages = simulate_messages(cfg, DURATION_S)
    return cfg, result.report, messages


def test_topics_and_payloads_follow_the_contract(run):
    _, _, messages = run
    models = {
        "state": StatePayload,
        "count": CountPayload,
        "telemetry": TelemetryPayload,
        "energy": EnergyPayload,
    }
    for topic, payload, retain in messages:
        assert TOPIC.match(topic), topic
        channel = parse_topic(topic).channel
        assert retain == (channel in ("state", "status"))
        if channel in models:
            models[channel].model_validate(payload)
        assert START_MS <= payload["ts"] <= START_MS + DURATION_S * 1000


def test_seq_increases_by_one_per_machine_and_ts_never_goes_back(run):
    _, _, messages = run
    last_seq: dict[str, int] = {}
    last_ts: dict[str, int] = defaultdict(int)
    for topic, payload, _ in messages:
        machine = parse_topic(topic).machine
        if "seq" in payload:
            assert payload["seq"] == last_seq.get(machine, 0) + 1
            last_seq[machine] = payload["seq"]
        assert payload["ts"] >= last_ts[machine]
        last_ts[machine] = payload["ts"]


def test_birth_first_and_death_last(run):
    cfg, _, messages = run
    first: dict[str, dict] = {}
    last: dict[str, dict] = {}
    for topic, payload, _ in messages:
        m = parse_topic(topic).machine
        first.setdefault(m, (topic, payload))
        last[m] = (topic, payload)
    assert len(first) == len(cfg.stations())
    for m in first:
        assert first[m][0].endswith("/status") and first[m][1]["online"] is True
        assert last[m][0].endswith("/status") and last[m][1] == {
            "ts": START_MS + int(DURATION_S * 1000),
            "online": False,
        }


def test_state_messages_replay_to_the_ground_truth(run):
    cfg, report, messages = run
    intervals: dict[str, list[tuple[int, str]]] = defaultdict(list)
    counts: dict[str, dict] = {}
    energy: dict[str, float] = {}
    for topic, payload, _ in messages:
        t = parse_topic(topic)
        if t.channel == "state":
            intervals[t.machine].append((payload["ts"], payload["state"]))
        elif t.channel == "count":
            counts[t.machine] = payload
        elif t.channel == "energy":
            energy[t.machine] = payload["energy_kwh"]
    end_ms = START_MS + DURATION_S * 1000
    for _, st in cfg.stations():
        truth = report["machines"][st.id]
        if st.connectivity == "legacy":
            assert st.id not in intervals and st.id not in counts
            continue
        durations = dict.fromkeys(kpi.STATES, 0.0)
        changes = intervals[st.id]
        for (ts, state), (nxt, _) in zip(changes, [*changes[1:], (end_ms, "")], strict=True):
            durations[state] += (nxt - ts) / 1000
        for state in kpi.STATES:
            # ts is rounded to the millisecond at every change.
            assert durations[state] == pytest.approx(
                truth[f"{state}_s"], abs=0.001 * len(changes)
            ), (st.id, state)
        assert counts[st.id]["total"] == truth["total_count"]
        assert counts[st.id]["good"] == truth["good_count"]
        assert energy[st.id] == pytest.approx(truth["energy_kwh"], abs=1e-4)


def test_legacy_machine_publishes_only_power(run):
    cfg, _, messages = run
    legacy = {st.id for _, st in cfg.stations() if st.connectivity == "legacy"}
    assert legacy, "the demo plant shows a brownfield machine"
    seen = set()
    for topic, payload, _ in messages:
        t = parse_topic(topic)
        if t.machine in legacy:
            assert t.channel in ("status", "telemetry")
            if t.channel == "telemetry":
                assert set(payload) == {"ts", "seq", "power_kw"}
                seen.add(payload["power_kw"] > 0)
    assert seen == {True, False}  # it runs in shifts and is off at night


def test_samples_follow_the_interval_and_show_the_state(run):
    cfg, _, messages = run
    ts_by_machine: dict[str, list[int]] = defaultdict(list)
    running_power: list[float] = []
    state: dict[str, str] = {}
    for topic, payload, _ in messages:
        t = parse_topic(topic)
        if t.channel == "state":
            state[t.machine] = payload["state"]
        if t.channel == "telemetry" and t.machine == "cnc-01":
            ts_by_machine[t.machine].append(payload["ts"])
            if state.get("cnc-01") == "running":
                running_power.append(payload["power_kw"])
            if state.get("cnc-01") == "off":
                assert payload["power_kw"] == 0
    ts = ts_by_machine["cnc-01"]
    assert {b - a for a, b in itertools.pairwise(ts)} == {
        int(cfg.telemetry.sample_interval_s * 1000)
    }
    mean = sum(running_power) / len(running_power)
    assert mean == pytest.approx(15.0, rel=0.01)  # noise averages out around the configured power
    assert 0 < min(running_power) < 15 < max(running_power) < 16
