"""Scenario files: key paths, sweeps, and every error named with its key path before any run."""

from __future__ import annotations

import pytest

from shopfloor.config import ConfigError, load_config, parse_config
from shopfloor.config.overrides import BASELINE, apply, expand, load_scenarios, sensitivity
from tests.support import PLANT, ROOT


@pytest.fixture(scope="module")
def demo():
    return load_config(PLANT)


def errors_of(base, data) -> list[str]:
    with pytest.raises(ConfigError) as info:
        expand(base, data, "whatif.yaml")
    return info.value.errors


def test_key_paths_by_id_index_and_station_shorthand_land_on_the_same_key(demo):
    for path in (
        "lines.machining-1.stations.cnc-02.mttr_min",
        "lines[0].stations[1].mttr_min",
        "lines.machining-1.stations[1].mttr_min",
        "stations.cnc-02.mttr_min",
    ):
        cfg, (ov,) = apply(demo, {path: 20})
        assert ov.where == "lines[0].stations[1].mttr_min"
        assert cfg.lines[0].stations[1].mttr_min == 20
        assert demo.lines[0].stations[1].mttr_min == 25  # the base is untouched


def test_a_scalar_cycle_can_have_its_mean_set_and_an_id_may_contain_dots():
    base = parse_config(
        {
            "plant": {"enterprise": "e", "site": "s"},
            "lines": [
                {
                    "id": "l.1",
                    "area": "a",
                    "stations": [
                        {
                            "id": "m.1",
                            "ideal_cycle_s": 30,
                            "cycle_s": 40,
                            "power_kw": {"idle": 1, "running": 2},
                        }
                    ],
                }
            ],
        }
    )
    cfg, _ = apply(base, {"lines.l.1.stations.m.1.cycle_s.mean": 35})
    assert (cfg.lines[0].stations[0].cycle.mean, cfg.lines[0].stations[0].cycle.cv) == (35, 0)
    # A station without cycle_s runs at its ideal cycle: a cv alone keeps that mean.
    bare = base.model_copy(deep=True)
    data = bare.model_dump(mode="json", exclude_unset=True)
    del data["lines"][0]["stations"][0]["cycle_s"]
    cfg, _ = apply(parse_config(data), {"stations.m.1.cycle_s.cv": 0.1})
    assert (cfg.lines[0].stations[0].cycle.mean, cfg.lines[0].stations[0].cycle.cv) == (30, 0.1)


def test_sweeps_expand_to_one_scenario_each_and_combine(demo):
    scs = expand(
        demo,
        {
            "scenarios": [
                {"name": "buffers", "set": {"stations.cnc-01.buffer": [2, 4, 8, 16]}},
                {
                    "set": {
                        "stations.cnc-02.mttr_min": [10, 20],
                        "stations.cnc-02.mtbf_min": [200, 400],
                    }
                },
                {"set": {"shifts.A.days": ["mon", "tue"]}},  # a list key takes the list itself
            ]
        },
    )
    names = [s.name for s in scs]
    assert names[0] == BASELINE
    assert names[1:5] == [f"buffers (cnc-01.buffer={b})" for b in (2, 4, 8, 16)]
    assert [s.cfg.lines[0].stations[0].buffer for s in scs[1:5]] == [2, 4, 8, 16]
    combos = {
        (s.cfg.lines[0].stations[1].mttr_min, s.cfg.lines[0].stations[1].mtbf_min) for s in scs[5:9]
    }
    assert combos == {(10, 200), (10, 400), (20, 200), (20, 400)}
    assert scs[9].cfg.shifts[0].days == ["mon", "tue"]
    assert len(scs) == 10


def test_live_parameters_are_those_of_the_set_command(demo):
    (_, sc) = expand(
        demo,
        {
            "scenarios": [
                {
                    "set": {
                        "stations.cnc-02.mttr_min": 15,
                        "stations.cnc-02.cycle_s.mean": 51,
                        "stations.cnc-01.buffer": 4,
                    }
                }
            ]
        },
    )
    live, not_live = sc.live()
    assert [(p.station, p.parameter, p.value) for p in live] == [
        ("cnc-02", "mttr_min", 15.0),
        ("cnc-02", "cycle_s.mean", 51.0),
    ]
    assert live[0].line == "machining-1" and live[0].area == "machining"
    assert not_live == ["lines[0].stations[0].buffer"]


def test_every_error_of_every_scenario_is_named_with_its_key_path(demo):
    errors = errors_of(
        demo,
        {
            "scenarios": [
                {"set": {"lines.machining-9.stations.cnc-02.mttr_min": 20}},
                {"set": {"stations.cnc-02.mttr_min": -5}},
                {"set": {"stations.cnc-02.mtr_min": 5}},
                {"set": {"stations.nope.mttr_min": 5}},
                {"set": {"stations.cnc-02.cycle_s.mean": [30, 60]}},
                {"set": {"seed": 7}},
                {"set": {"stations.cnc-02.id": "x"}},
                {"name": "baseline", "set": {"stations.cnc-02.mttr_min": 5}},
            ]
        },
    )
    assert errors == [
        "scenarios[0].set.lines.machining-9.stations.cnc-02.mttr_min: lines: no item 'machining-9' "
        "(lines: machining-1, molding-1, assembly-1)",
        "scenarios[1]: lines[0].stations[1].mttr_min: must be > 0, got -5",
        "scenarios[2]: lines[0].stations[1].mtr_min: unknown key (did you mean 'mttr_min'?)",
        "scenarios[3].set.stations.nope.mttr_min: no station 'nope' (stations: cnc-01, cnc-02, "
        "leak-test-01, pack-01, imm-01, trim-01, pack-02, press-01, asm-01, weld-01, eol-test-01, "
        "pack-03)",
        "scenarios[4] (stations.cnc-02.cycle_s.mean=30): lines[0].stations[1].cycle_s.mean: must be "
        ">= ideal_cycle_s (50), got 30 (the ideal cycle is the fastest the machine can run)",
        "scenarios[5]: seed: set by the experiment (replication r runs with seed + r), not by a scenario",
        "scenarios[6]: stations.cnc-02.id: a scenario changes parameters, not the plant's structure "
        "(lines and stations are compared with the baseline's by id)",
        "scenarios[7].name: 'baseline' is already the name of the base config",
    ]


def test_the_file_itself_is_checked(demo, tmp_path):
    assert errors_of(demo, {"scenario": []}) == [
        "scenarios: required key is missing",
        "scenario: unknown key (did you mean 'scenarios'?)",
    ]
    assert errors_of(demo, {"scenarios": [{"set": {}}]}) == ["scenarios[0].set: must not be empty"]
    bad = tmp_path / "w.yaml"
    bad.write_text("scenarios: [\n")
    with pytest.raises(ConfigError, match="YAML syntax error"):
        load_scenarios(bad, demo)
    with pytest.raises(ConfigError, match="file not found"):
        load_scenarios(tmp_path / "none.yaml", demo)


def test_the_shipped_scenarios_are_valid_for_the_demo_plant(demo):
    scs = load_scenarios(ROOT / "config" / "whatif.yaml", demo)
    assert len(scs) == 9
    assert scs[0].name == BASELINE


def test_sensitivity_moves_one_parameter_at_a_time_within_the_config_rules(demo):
    scs = sensitivity(demo, 10)
    assert scs[0].name == BASELINE
    moved = {(s.meta["station"], s.meta["parameter"], s.meta["direction"]): s for s in scs[1:]}
    # cnc-01: mean cycle 48, ideal 45: 10 % down would be 43.2, so the ideal cycle is the floor.
    low = moved[("cnc-01", "cycle_s.mean", "low")]
    assert low.cfg.lines[0].stations[0].cycle.mean == 45
    assert moved[("cnc-01", "cycle_s.mean", "high")].cfg.lines[0].stations[
        0
    ].cycle.mean == pytest.approx(52.8)
    assert moved[("cnc-02", "mttr_min", "low")].cfg.lines[0].stations[1].mttr_min == pytest.approx(
        22.5
    )
    # Buffers move by whole places (8 * 0.9 = 7.2 -> 7); the last station of a line has none.
    assert moved[("cnc-02", "buffer", "low")].cfg.lines[0].stations[1].buffer == 7
    assert ("pack-01", "buffer", "low") not in moved
    for s in scs[1:]:
        changed = [o.where for o in s.overrides]
        assert len(changed) == 1, s.name
    with pytest.raises(ValueError):
        sensitivity(demo, 0)


def test_sensitivity_values_are_the_decimal_ones_a_user_reads(demo):
    """48 min x 1.1 is named and run as 52.8, not 52.800000000000004 (binary floating point
    leaked into 24 of the demo plant's scenario names)."""
    import re

    for sc in sensitivity(demo, 10)[1:]:
        assert not re.search(r"\d\.\d{7,}", sc.name), sc.name
