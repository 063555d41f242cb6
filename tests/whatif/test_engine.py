"""One what-if run against the simulator's own ground truth and against arithmetic."""

from __future__ import annotations

import json

import pytest
import simpy

from shopfloor.config import parse_config
from simulator.plant import Plant
from simulator.sinks import NullSink
from simulator.whatif.engine import RunSpec, simulate, split_streams
from simulator.whatif.experiment import run_all

from .helpers import START_MS, experiment, plant, station

LINE = [
    station(
        "a",
        ideal_cycle_s=50,
        cycle_s={"mean": 55, "cv": 0.2},
        mtbf_min=120,
        mttr_min=15,
        scrap_rate=0.03,
        buffer=4,
    ),
    station(
        "b", ideal_cycle_s=50, cycle_s={"mean": 58, "cv": 0.2}, mtbf_min=150, mttr_min=20, buffer=4
    ),
    station("c", ideal_cycle_s=50, cycle_s={"mean": 52, "cv": 0.2}, mtbf_min=200, mttr_min=10),
]


def truth(cfg, duration_s, seed):
    """The full model's ground truth, telemetry sampler and messages included, with the
    what-if runs' streams (split_streams)."""
    env = simpy.Environment()
    sink = NullSink()
    p = Plant(env, cfg, sink, START_MS, seed=seed)
    split_streams(p)
    env.run(until=duration_s)
    p.close()
    assert sink.count > 0
    return p.report()


def test_a_run_books_what_the_full_model_books():
    # A what-if run drops the telemetry (no sampler, no messages): the model must not notice.
    cfg = plant(LINE)
    got = simulate(cfg, RunSpec(0, 0, 9, START_MS, 0.0, 2 * 86400))
    want = truth(cfg, 2 * 86400, 9)
    for sid in ("a", "b", "c"):
        m = want["machines"][sid]
        g = got["stations"][sid]
        assert g["good_count"] == m["good_count"]
        assert g["availability"] == pytest.approx(m["availability"], rel=1e-9)
        assert g["oee"] == pytest.approx(m["oee"], rel=1e-9)
        assert g["energy_kwh"] == pytest.approx(m["energy_kwh"], rel=1e-9)
    line = want["lines"]["l1"]
    assert got["lines"]["l1"]["figures"]["good_count"] == line["good_count"]
    assert got["plant"]["throughput_per_h"] == pytest.approx(line["good_count"] / 48)


def test_the_warmup_is_left_out():
    # The same seed replays the same history: what a run measures after its warm-up is what
    # the simulator counts over the whole span less what it counted by the warm-up's end.
    cfg = plant(LINE)
    got = simulate(cfg, RunSpec(0, 0, 4, START_MS, 6 * 3600, 86400))
    whole, early = truth(cfg, 6 * 3600 + 86400, 4), truth(cfg, 6 * 3600, 4)
    for sid in ("a", "b", "c"):
        good = whole["machines"][sid]["good_count"] - early["machines"][sid]["good_count"]
        kwh = whole["machines"][sid]["energy_kwh"] - early["machines"][sid]["energy_kwh"]
        assert got["stations"][sid]["good_count"] == good
        assert got["stations"][sid]["energy_kwh"] == pytest.approx(kwh, rel=1e-9)


def test_energy_cost_follows_the_time_of_use_tariff():
    # One machine running all day at 10 kW: 5 peak hours at 3000, 6 off-peak at 1000 and 13
    # normal at 2000 cost 10 x (15000 + 6000 + 26000), per good part.
    cfg = parse_config(
        {
            "plant": {"enterprise": "e", "site": "s"},
            "telemetry": {"sample_interval_s": 86400, "energy_interval_s": 86400},
            "energy": {
                "co2e_kg_per_kwh": 0.5,
                "tariff": {
                    "price_per_kwh": {"peak": 3000, "normal": 2000, "off_peak": 1000},
                    "default_period": "normal",
                    "windows": [
                        {"period": "peak", "start": "09:30", "end": "11:30"},
                        {"period": "peak", "start": "17:00", "end": "20:00"},
                        {"period": "off_peak", "start": "22:00", "end": "04:00"},
                    ],
                },
            },
            "lines": [
                {
                    "id": "l1",
                    "area": "a",
                    "stations": [station("m", power_kw={"idle": 1, "running": 10})],
                }
            ],
        }
    )
    got = simulate(cfg, RunSpec(0, 0, 1, START_MS, 0.0, 86400))["plant"]
    good = got["good_count"]
    assert good in (1439, 1440)  # the last part ends on the span's very end
    assert got["cost_per_good"] * good == pytest.approx(10 * (15000 + 6000 + 26000), rel=1e-9)
    assert got["kwh_per_good"] * good == pytest.approx(240, rel=1e-9)
    assert got["co2e_kg_per_good"] * good == pytest.approx(0.5 * 240, rel=1e-9)


def test_good_parts_per_shift_over_two_shifts_with_breaks():
    # Two 8-hour shifts with a 30-minute break each: 7.5 planned hours, 60 parts an hour.
    cfg = plant(
        [station("m")],
        shifts=[
            {
                "name": "A",
                "start": "06:00",
                "end": "14:00",
                "breaks": [{"start": "10:00", "minutes": 30}],
            },
            {
                "name": "B",
                "start": "14:00",
                "end": "22:00",
                "breaks": [{"start": "18:00", "minutes": 30}],
            },
        ],
    )
    got = simulate(cfg, RunSpec(0, 0, 1, START_MS, 0.0, 3 * 86400))["plant"]
    assert got["throughput_per_h"] == pytest.approx(60, rel=0.002)
    assert got["good_per_shift"] == pytest.approx(450, rel=0.002)


def test_a_change_to_one_station_leaves_the_others_draws_alone():
    # Common random numbers: each station draws from its own stream, so a scenario that edits
    # line l2 replays line l1 exactly, and one that edits b leaves a's history untouched as
    # long as a never waits for b (a buffer it cannot fill).
    lines = [
        {"id": "l1", "area": "a", "stations": [dict(s) for s in LINE]},
        {
            "id": "l2",
            "area": "a",
            "stations": [station("d", cycle_s={"mean": 70, "cv": 0.3}, mtbf_min=90, mttr_min=30)],
        },
    ]
    lines[0]["stations"][0]["buffer"] = 100_000
    cfg = parse_config({"plant": {"enterprise": "e", "site": "s"}, "lines": lines, "seed": 3})
    exp = experiment(
        cfg,
        [{"stations.d.mttr_min": 5}, {"stations.b.mttr_min": 60}],
        replications=3,
        duration_s=86400,
    )
    runs = run_all(exp, 1)
    by = {(o.spec.scenario, o.spec.replication): o.figures for o in runs}
    for r in range(3):
        base, other_line, same_line = by[(0, r)], by[(1, r)], by[(2, r)]
        assert other_line["lines"]["l1"] == base["lines"]["l1"]
        assert other_line["lines"]["l2"] != base["lines"]["l2"]
        assert same_line["stations"]["a"] == base["stations"]["a"]
        assert same_line["stations"]["b"] != base["stations"]["b"]


def test_telemetry_when_asked_changes_no_figure(tmp_path):
    cfg = plant(LINE)
    quiet = simulate(cfg, RunSpec(0, 0, 4, START_MS, 3600.0, 86400))
    path = tmp_path / "run.jsonl"
    loud = simulate(cfg, RunSpec(0, 0, 4, START_MS, 3600.0, 86400, str(path)))
    assert loud == quiet
    channels = {
        json.loads(line)["topic"].rsplit("/", 1)[1] for line in path.read_bytes().splitlines()
    }
    assert channels == {"status", "state", "count", "telemetry", "energy"}
