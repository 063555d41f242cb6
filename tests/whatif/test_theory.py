"""What-if statistics against independent truth: reliability and queueing theory, and the
coverage a 95 % confidence interval promises."""

from __future__ import annotations

import pytest

from shopfloor.config import load_config
from shopfloor.config.overrides import load_scenarios
from shopfloor.stats import variance
from simulator.whatif.experiment import Experiment
from tests.support import PLANT, ROOT

from .helpers import START_MS, experiment, plant, run, station

MTBF = 60.0


def _availability(sc):
    return sc["stations"]["m"]["figures"]["availability"]


def test_an_mttr_sweep_brackets_mtbf_over_mtbf_plus_mttr():
    # A lone station never starves nor blocks: its availability is MTBF / (MTBF + MTTR).
    # Each interval misses with probability 5 %; the seeds are fixed, so this run is one fixed
    # draw (the next test checks the coverage rate itself over 100 experiments).
    base = plant([station("m", ideal_cycle_s=600, mtbf_min=MTBF, mttr_min=15)])
    doc = run(
        experiment(
            base, [{"stations.m.mttr_min": [5, 10, 30]}], duration_s=300 * 3600, warmup_s=3 * 3600
        )
    )
    mttrs = [15, 5, 10, 30]
    assert [sc["name"] for sc in doc["scenarios"]] == ["baseline"] + [
        f"m.mttr_min={t}" for t in mttrs[1:]
    ]
    for sc, mttr in zip(doc["scenarios"], mttrs, strict=True):
        a = _availability(sc)
        assert a["n"] == 10
        assert a["ci_low"] <= MTBF / (MTBF + mttr) <= a["ci_high"], (mttr, a)
    # Every paired difference is significant: down for longer repairs, up for shorter ones.
    for sc, mttr in zip(doc["scenarios"][1:], mttrs[1:], strict=True):
        d = sc["vs_baseline"]["stations"]["m"]["figures"]["availability"]
        assert d["significant"] and (d["mean"] < 0) is (mttr > 15)


@pytest.mark.slow  # 1,000 runs: ten seconds on an idle core
def test_95_percent_intervals_cover_the_true_availability_about_95_times_in_100():
    base = plant([station("m", ideal_cycle_s=600, mtbf_min=MTBF, mttr_min=15)])
    covered = 0
    for k in range(100):
        exp = experiment(base, [], duration_s=100 * 3600, warmup_s=3 * 3600, seed=10 * k)
        a = _availability(run(exp)["scenarios"][0])
        covered += a["ci_low"] <= 0.8 <= a["ci_high"]
    # Binomial(100, 0.95): 88..99 holds with probability 0.99.
    assert 88 <= covered <= 99, covered


def _line(cv: float):
    # s1 is the bottleneck: 60 s against 30 s on either side.
    return plant(
        [
            station(f"s{i}", ideal_cycle_s=20, cycle_s={"mean": c, "cv": cv}, buffer=5)
            for i, c in enumerate([30, 60, 30])
        ]
    )


def test_speeding_up_a_non_bottleneck_changes_nothing_and_the_bottleneck_what_its_rate_says():
    doc = run(
        experiment(
            _line(0.3),
            [
                {"stations.s0.cycle_s.mean": 25},
                {"stations.s2.cycle_s.mean": 25},
                {"stations.s1.cycle_s.mean": 45},
            ],
            duration_s=86400,
            warmup_s=3600,
        )
    )
    base, up, down, bottleneck = doc["scenarios"]
    assert base["lines"]["l1"]["bottleneck"]["station"] == "s1"
    assert base["plant"]["figures"]["throughput_per_h"]["mean"] == pytest.approx(60, rel=0.01)
    for sc in (up, down):
        d = sc["vs_baseline"]["plant"]["figures"]["throughput_per_h"]
        assert d["ci_low"] <= 0 <= d["ci_high"] and not d["significant"], (sc["name"], d)
    gain = bottleneck["vs_baseline"]["plant"]["figures"]["throughput_per_h"]
    assert gain["significant"]
    assert gain["mean"] == pytest.approx(3600 / 45 - 3600 / 60, rel=0.02)  # 20 parts an hour


def test_common_random_numbers_shrink_the_variance_of_paired_differences():
    base = plant(
        [
            station(
                "a",
                ideal_cycle_s=50,
                cycle_s={"mean": 55, "cv": 0.2},
                mtbf_min=120,
                mttr_min=15,
                buffer=4,
            ),
            station(
                "b",
                ideal_cycle_s=50,
                cycle_s={"mean": 58, "cv": 0.2},
                mtbf_min=150,
                mttr_min=20,
                buffer=4,
            ),
            station(
                "c", ideal_cycle_s=50, cycle_s={"mean": 52, "cv": 0.2}, mtbf_min=200, mttr_min=10
            ),
        ]
    )
    # A repair time, a failure rate and a cycle of the bottleneck station b: each changes the
    # station's own draws, which its per-purpose streams keep in step with the baseline's.
    changes = [
        {"stations.b.mttr_min": 12},
        {"stations.b.mtbf_min": 300},
        {"stations.b.cycle_s.mean": 54},
    ]
    var: dict[bool, list[float]] = {}
    for crn in (True, False):
        doc = run(experiment(base, changes, duration_s=2 * 86400, warmup_s=3600, crn=crn))
        b, *scs = (sc["plant"]["figures"]["throughput_per_h"]["values"] for sc in doc["scenarios"])
        var[crn] = [variance([x - y for x, y in zip(s, b, strict=True)]) for s in scs]
        seeds = [sc["seeds"] for sc in doc["scenarios"]]
        assert (seeds[0] == seeds[1]) is crn
    ratios = [c / i for c, i in zip(var[True], var[False], strict=True)]
    assert all(r < 0.5 for r in ratios), ratios


def test_common_random_numbers_shrink_the_variance_of_differences_on_the_demo_plant():
    # Issue 11 on the plant it is about: config/plant.yaml and three of config/whatif.yaml's
    # scenarios (a repair time and a cycle of the bottleneck, a failure rate elsewhere). Ten
    # one-day replications: ratios 0.016, 0.005 and 0.15 with seed 1, at most 0.27 over
    # seeds 1-8, so the bound 0.5 is not luck.
    base = load_config(PLANT)
    wanted = ("cnc-02 repairs in 15 min", "cnc-02 cycle 50 s", "imm-01 PM")
    every = load_scenarios(ROOT / "config" / "whatif.yaml", base)
    scenarios = [every[0], *(sc for sc in every if sc.name in wanted)]
    assert [sc.name for sc in scenarios[1:]] == list(wanted)
    var: dict[bool, list[float]] = {}
    for crn in (True, False):
        exp = Experiment(scenarios, 10, START_MS, 0.0, 86400.0, 1, common_random_numbers=crn)
        doc = run(exp)
        b, *scs = (sc["plant"]["figures"]["throughput_per_h"]["values"] for sc in doc["scenarios"])
        var[crn] = [variance([x - y for x, y in zip(s, b, strict=True)]) for s in scs]
        assert all(v > 0 for v in var[crn]), var  # every change moved the throughput
    ratios = [c / i for c, i in zip(var[True], var[False], strict=True)]
    assert all(r < 0.5 for r in ratios), dict(zip(wanted, ratios, strict=True))
