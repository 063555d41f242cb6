from pathlib import Path

import pytest
import yaml

from shopfloor.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]


def errors_of(data) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    return exc.value.errors


@pytest.mark.parametrize("name", ["plant.yaml", "large.yaml"])
def test_example_configs_are_valid(name):
    cfg = load_config(ROOT / "config" / name)
    assert cfg.lines


def test_demo_plant_matches_the_issue():
    cfg = load_config(ROOT / "config" / "plant.yaml")
    stations = cfg.stations()
    assert 2 <= len(cfg.lines) <= 3
    assert len({line.area for line in cfg.lines}) >= 2
    assert 8 <= len(stations) <= 15
    kinds = {st.kind for _, st in stations}
    assert {"cnc", "press", "injection_molding", "assembly", "test", "packaging"} <= kinds
    assert cfg.shifts is not None and len(cfg.shifts) == 2
    assert all(s.breaks for s in cfg.shifts)


def test_large_plant_has_200_stations():
    assert len(load_config(ROOT / "config" / "large.yaml").stations()) >= 200


def test_valid_minimal(base_config):
    cfg = parse_config(base_config)
    st = cfg.lines[0].stations[0]
    assert st.power_kw.by_state()["starved"] == 2.5  # unset states draw idle power
    assert cfg.telemetry.sample_interval_s == 10


def test_missing_key(base_config):
    del base_config["lines"][0]["stations"][0]["ideal_cycle_s"]
    assert errors_of(base_config) == ["lines[0].stations[0].ideal_cycle_s: required key is missing"]


def test_unknown_key_suggests_the_right_one(base_config):
    base_config["lines"][0]["stations"][0]["mtbf"] = 100
    (err,) = errors_of(base_config)
    assert err.startswith("lines[0].stations[0].mtbf: unknown key")
    assert "mtbf_min" in err


@pytest.mark.parametrize("key", ["mttr_min", "mtbf_min", "ideal_cycle_s"])
@pytest.mark.parametrize("value", [0, -5])
def test_times_must_be_positive(base_config, key, value):
    base_config["lines"][0]["stations"][0][key] = value
    errs = errors_of(base_config)
    assert f"lines[0].stations[0].{key}: must be > 0, got {value}" in errs


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_scrap_rate_in_unit_interval(base_config, value):
    base_config["lines"][0]["stations"][0]["scrap_rate"] = value
    (err,) = errors_of(base_config)
    assert err.startswith("lines[0].stations[0].scrap_rate: must be")
    assert str(value) in err


def test_duplicate_station_ids_across_lines(base_config):
    line2 = {"id": "l2", "area": "a", "stations": [dict(base_config["lines"][0]["stations"][0])]}
    base_config["lines"].append(line2)
    (err,) = errors_of(base_config)
    assert err.startswith("lines[1].stations[0].id: duplicate station id 'm1'")


def test_duplicate_line_ids(base_config):
    line2 = {
        "id": "l1",
        "area": "a",
        "stations": [{**base_config["lines"][0]["stations"][0], "id": "m2"}],
    }
    base_config["lines"].append(line2)
    assert errors_of(base_config) == ["lines[1].id: duplicate line id 'l1'"]


def test_unknown_time_zone(base_config):
    base_config["plant"]["timezone"] = "Asia/Saigonn"
    (err,) = errors_of(base_config)
    assert err.startswith("plant.timezone: unknown time zone 'Asia/Saigonn'")


def test_line_without_stations(base_config):
    base_config["lines"][0]["stations"] = []
    assert errors_of(base_config) == ["lines[0].stations: must not be empty"]


def test_every_error_is_reported_at_once(base_config):
    st = base_config["lines"][0]["stations"][0]
    st["mttr_min"] = -1
    st["scrap_rate"] = 2
    st["kind"] = "laser"
    base_config["plant"]["site"] = "hcm/1"
    errs = errors_of(base_config)
    assert len(errs) == 4
    assert any(e.startswith("lines[0].stations[0].kind: must be one of") for e in errs)
    assert any(e.startswith("plant.site: must be letters") for e in errs)


def test_cross_key_rules(base_config):
    st = base_config["lines"][0]["stations"][0]
    del st["mttr_min"]
    st["cycle_s"] = {"mean": 40}
    st["setup_min"] = 10
    errs = errors_of(base_config)
    assert "lines[0].stations[0].mttr_min: required when mtbf_min is set" in errs
    assert any(
        e.startswith("lines[0].stations[0].cycle_s.mean: must be >= ideal_cycle_s (45)")
        for e in errs
    )
    assert (
        "lines[0].stations[0].setup_min: needs lines[0].batch_size (changeovers happen per order)"
        in errs
    )


def test_shift_rules(base_config):
    base_config["shifts"] = [
        {
            "name": "A",
            "start": "06:00",
            "end": "14:00",
            "breaks": [{"start": "13:45", "minutes": 30}],
        },
        {"name": "B", "start": "13:00", "end": "25:00"},
    ]
    errs = errors_of(base_config)
    assert errs == ["shifts[1].end: must be a 24-hour clock time HH:MM, got '25:00'"]
    base_config["shifts"][1]["end"] = "21:00"
    errs = errors_of(base_config)
    assert "shifts[0].breaks[0]: break 13:45+30 min is not inside shift 06:00-14:00" in errs
    assert "shifts[1]: overlaps shifts[0]" in errs


def test_number_cycle_is_deterministic(base_config):
    base_config["lines"][0]["stations"][0]["cycle_s"] = 50
    cycle = parse_config(base_config).lines[0].stations[0].cycle
    assert (cycle.mean, cycle.cv) == (50, 0)


def test_off_key_is_not_a_yaml_boolean(tmp_path, base_config):
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump(base_config).replace("'off'", "off"))
    assert "off: 0.0" in p.read_text()
    assert load_config(p).lines[0].stations[0].power_kw.off == 0.0


def test_yaml_syntax_error_names_the_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("plant:\n  enterprise: [a\n")
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert "line 3" in exc.value.errors[0] or "line 2" in exc.value.errors[0]
    assert "YAML syntax error" in exc.value.errors[0]


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")


def test_top_level_must_be_a_mapping():
    assert errors_of([1, 2]) == ["(top level): must be a mapping of keys"]
