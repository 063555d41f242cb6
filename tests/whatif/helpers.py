"""Small plants and one-call experiments for the what-if tests (the theory tests' helpers)."""

from __future__ import annotations

from typing import Any

from shopfloor.config import PlantConfig
from shopfloor.config.overrides import BASELINE, Scenario, expand
from simulator.whatif.experiment import Experiment, run_all, summarise

from ..simulator.helpers import START_MS, plant, station

__all__ = ["START_MS", "experiment", "plant", "run", "station"]


def experiment(
    base: PlantConfig,
    sets: list[dict[str, Any]],
    *,
    replications: int = 10,
    duration_s: float,
    warmup_s: float = 0.0,
    seed: int = 1,
    crn: bool = True,
) -> Experiment:
    scenarios: list[Scenario] = (
        expand(base, {"scenarios": [{"set": s} for s in sets]})
        if sets
        else [Scenario(BASELINE, base)]
    )
    return Experiment(
        scenarios, replications, START_MS, warmup_s, duration_s, seed, common_random_numbers=crn
    )


def run(exp: Experiment, workers: int = 1) -> dict[str, Any]:
    return summarise(exp, run_all(exp, workers), config="test", scenarios_file=None)
