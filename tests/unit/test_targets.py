"""KPI targets: the config's `targets:` sections, their errors, and below/near/above."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shopfloor.config.load import ConfigError, _Loader, parse_config
from shopfloor.targets import DEFAULTS, status, targets_for

PLANT = Path(__file__).resolve().parents[2] / "config" / "plant.yaml"


def plant_data() -> dict:
    return yaml.load(PLANT.read_text(encoding="utf-8"), Loader=_Loader)


def test_line_targets_override_the_plants_key_by_key():
    data = plant_data()
    data["targets"] = {"oee": 0.7, "kwh_per_good_part": 0.5}
    data["lines"][1]["targets"] = {"oee": 0.6, "near_fraction": 0.1}
    cfg = parse_config(data)
    line = data["lines"][1]["id"]
    assert targets_for(cfg)["oee"] == 0.7
    assert targets_for(cfg)["availability"] == DEFAULTS["availability"]
    got = targets_for(cfg, line)
    assert (got["oee"], got["near_fraction"], got["kwh_per_good_part"]) == (0.6, 0.1, 0.5)
    assert targets_for(None) == DEFAULTS


def test_bad_targets_name_their_key_path():
    data = plant_data()
    data["targets"] = {"oee": 85, "oee_pct": 1}
    data["lines"][2]["targets"] = {"quality": 0}
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert "targets.oee: must be <= 1, got 85" in err.value.errors
    assert any(e.startswith("targets.oee_pct: unknown key") for e in err.value.errors)
    assert "lines[2].targets.quality: must be > 0, got 0" in err.value.errors


@pytest.mark.parametrize(
    ("key", "value", "want"),
    [
        ("oee", 0.85, "above"),
        ("oee", 0.90, "above"),
        ("oee", 0.8076, "near"),  # 85% less 5% of it is 80.75%
        ("oee", 0.8074, "below"),
        ("kwh_per_good_part", 1.0, "above"),
        ("kwh_per_good_part", 1.049, "near"),
        ("kwh_per_good_part", 1.051, "below"),
        ("availability", None, "none"),
    ],
)
def test_status_against_a_target(key, value, want):
    targets = dict(DEFAULTS, kwh_per_good_part=1.0)
    assert status(key, value, targets) == want


def test_no_target_no_colour():
    assert status("kwh_per_good_part", 0.1, DEFAULTS) == "none"
