"""Found by the cold review of issue 11: sweeps are counted before they are made, and a
scenario may carry a figure the baseline has not."""

from __future__ import annotations

import pytest

from shopfloor.config import ConfigError
from shopfloor.config.overrides import MAX_SCENARIOS, TooManyScenarios, expand

from .helpers import experiment, plant, run, station


def _sweeps(keys: int, values: int) -> dict:
    paths = ["stations.m.mttr_min", "stations.m.mtbf_min", "stations.m.scrap_rate",
             "stations.m.cycle_s.cv"][:keys]  # fmt: skip
    return {"scenarios": [{"set": {p: [0.01 * (v + 1) for v in range(values)] for p in paths}}]}


def test_sweeps_that_multiply_past_the_bound_are_refused_by_their_count():
    base = plant([station("m", mtbf_min=60, mttr_min=5)])
    # Four keys of twenty values: 160,000 scenarios. Before the bound they were all made and
    # validated one by one (six keys of ten took 2 GB and did not end in a minute).
    with pytest.raises(TooManyScenarios) as exc:
        expand(base, _sweeps(4, 20))
    assert (exc.value.count, exc.value.limit) == (20**4 + 1, MAX_SCENARIOS)
    assert "160,001 scenarios" in exc.value.errors[0]
    assert isinstance(exc.value, ConfigError)  # the CLI prints it as any scenario error
    # The bound counts the baseline: 2 x 2 sweeps and the baseline are 5.
    assert len(expand(base, _sweeps(2, 2), max_scenarios=5)) == 5
    with pytest.raises(TooManyScenarios):
        expand(base, _sweeps(2, 2), max_scenarios=4)


def test_a_scenario_may_add_a_figure_the_baseline_has_not():
    # The base has no CO2e factor, the scenario sets one: before, summarising raised a
    # KeyError after every run had finished, and the whole experiment was lost.
    base = plant([station("m", mtbf_min=60, mttr_min=5)])
    doc = run(
        experiment(
            base,
            [{"energy.co2e_kg_per_kwh": 0.5, "stations.m.mttr_min": 1}],
            replications=2,
            duration_s=6 * 3600,
        )
    )
    baseline, scenario = doc["scenarios"]
    assert "co2e_kg_per_good" not in baseline["plant"]["figures"]
    co2 = scenario["plant"]["figures"]["co2e_kg_per_good"]["mean"]
    kwh = scenario["plant"]["figures"]["kwh_per_good"]["mean"]
    assert co2 == pytest.approx(0.5 * kwh)
    diffs = scenario["vs_baseline"]["plant"]["figures"]
    assert "co2e_kg_per_good" not in diffs
    assert diffs["availability"]["mean"] > 0  # shorter repairs: the comparison is still made


def test_sensitivity_is_counted_as_it_is_made():
    # The page refuses a large plant's sensitivity run by this count (1,751 scenarios of the
    # 225-station plant took ~25 s to make only to be refused).
    from shopfloor.config import load_config
    from shopfloor.config.overrides import sensitivity, sensitivity_count
    from tests.support import ROOT

    for path in ("config/plant.yaml", "tests/golden/small.yaml"):
        cfg = load_config(ROOT / path)
        for pct in (10, 50, 99):
            assert sensitivity_count(cfg, pct) == len(sensitivity(cfg, pct)), (path, pct)
    with pytest.raises(ValueError):
        sensitivity_count(cfg, 100)


def _scrap_flags(path) -> list[int]:
    """Each finished part's scrap (1) or good (0), in order, from the run's count messages."""
    import json

    flags, scrap = [], 0
    for line in path.read_bytes().splitlines():
        msg = json.loads(line)
        if msg["topic"].endswith("/count") and msg["payload"]["total"] > 0:
            flags.append(msg["payload"]["scrap"] - scrap)
            scrap = msg["payload"]["scrap"]
    return flags


@pytest.mark.parametrize("change", [{"mtbf_min": 240}, {"cycle_s.mean": 55}])
def test_the_k_th_part_meets_the_same_luck_whatever_else_the_scenario_changed(tmp_path, change):
    # Per-purpose streams (engine.split_streams): a longer MTBF means fewer failures, a faster
    # cycle means failures fall on other parts; with one stream per station either shifts
    # every later scrap decision, and the pairing of scenario and baseline is lost. The
    # tests of the variance of paired differences pass without the split; this one does not.
    from simulator.whatif.engine import RunSpec, simulate

    from .helpers import START_MS

    spec = {"cycle_s": {"mean": 70, "cv": 0.3}, "mtbf_min": 60, "mttr_min": 10, "scrap_rate": 0.2}
    flags = []
    for name, params in (("base", spec), ("scenario", {**spec, **_nested(change)})):
        cfg = plant([station("m", ideal_cycle_s=50, **params)])
        path = tmp_path / f"{name}.jsonl"
        simulate(cfg, RunSpec(0, 0, 5, START_MS, 0.0, 8 * 3600, str(path)))
        flags.append(_scrap_flags(path))
    base, scenario = flags
    n = min(len(base), len(scenario))
    assert n > 300 and 0 < sum(base[:n]) < n  # hundreds of parts, scrap and good among them
    assert scenario[:n] == base[:n]


def _nested(change: dict) -> dict:
    ((key, value),) = change.items()
    if key == "cycle_s.mean":
        return {"cycle_s": {"mean": value, "cv": 0.3}}
    return {key: value}


def test_a_whole_line_or_station_set_at_once_keeps_the_structure():
    # Before, these passed the key checks, every run ran, and summarising raised KeyError on
    # the station the baseline had not (a traceback after the whole experiment).
    a = station("a", mtbf_min=60, mttr_min=5, buffer=4)
    b = station("b", mtbf_min=60, mttr_min=5)
    base = plant([a, b])
    other = {**b, "id": "z"}
    refused = {
        "lines[0].stations[1]": other,
        "lines.l1.stations.b": other,
        "lines[0]": {"id": "l1", "area": "a", "stations": [b, {**a, "buffer": 4}]},  # reordered
    }
    for path, value in refused.items():
        with pytest.raises(ConfigError) as exc:
            expand(base, {"scenarios": [{"set": {path: value}}]})
        assert exc.value.errors == [
            f"scenarios[0]: {path}: a scenario changes parameters, not the plant's structure "
            "(its lines and stations, by id and in order, stay the baseline's)"
        ], path
    # The same station set whole with other parameters is a parameter change.
    (_, sc) = expand(base, {"scenarios": [{"set": {"lines[0].stations[1]": {**b, "mttr_min": 2}}}]})
    assert sc.cfg.lines[0].stations[1].mttr_min == 2


def test_unwritable_outputs_are_named_before_anything_runs(tmp_path):
    from tests.support import GOLDEN, run_cli

    (tmp_path / "out.json").mkdir()
    common = ("whatif", "--config", str(GOLDEN), "--sensitivity", "--duration", "1h",
              "--warmup", "0", "--replications", "2", "--workers", "1", "--no-progress")  # fmt: skip
    for args, needle in (
        # Before: a traceback (FileNotFoundError) before the first run...
        (["--progress-jsonl", str(tmp_path / "no" / "p.jsonl")], "--progress-jsonl: cannot write"),
        # ...and a folder named by --json was found out after the last.
        (["--json", str(tmp_path / "out.json")], "it is a folder"),
    ):
        r = run_cli(*common, *args)
        assert r.returncode == 1 and needle in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and "replications of" not in r.stdout


def test_the_warmup_leaves_out_state_durations_too():
    # tests/whatif/test_engine.py checks counts and energy; availability is running time over
    # planned time, and a state under way at the warm-up's end (not on a round time) must be
    # split there, not booked whole on either side.
    from simulator.whatif.engine import RunSpec, simulate

    from .helpers import START_MS
    from .test_engine import LINE, truth

    cfg = plant(LINE)
    warm = 6 * 3600 + 1234.5
    got = simulate(cfg, RunSpec(0, 0, 4, START_MS, warm, 86400))
    whole, early = truth(cfg, warm + 86400, 4), truth(cfg, warm, 4)
    for sid in ("a", "b", "c"):
        w, e = whole["machines"][sid], early["machines"][sid]
        running, planned = w["running_s"] - e["running_s"], w["planned_s"] - e["planned_s"]
        assert planned == pytest.approx(86400, rel=1e-12)
        assert got["stations"][sid]["availability"] == pytest.approx(running / planned, rel=1e-9)
