from __future__ import annotations

from typing import Any

from shopfloor.config import PlantConfig, parse_config
from simulator.run import RunResult, run
from simulator.sinks import ListSink, NullSink, Sink

START_MS = 1_795_366_800_000  # 2026-11-23 00:00 Asia/Ho_Chi_Minh, a Monday


def station(sid: str, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": sid,
        "kind": "generic",
        "ideal_cycle_s": 60,
        "power_kw": {"idle": 2.0, "running": 10.0},
    }
    base.update(kw)
    return base


# Long theory runs sample rarely: telemetry is not what they check, and it dominates run time.
RARE_SAMPLES = {"sample_interval_s": 86400, "energy_interval_s": 86400}


def plant(stations: list[dict[str, Any]], **kw: Any) -> PlantConfig:
    data: dict[str, Any] = {
        "plant": {"enterprise": "acme", "site": "hcm"},
        "seed": 3,
        "telemetry": RARE_SAMPLES,
        "lines": [{"id": "l1", "area": "a", "stations": stations}],
    }
    data.update(kw)
    return parse_config(data)


def simulate(
    cfg: PlantConfig, duration_s: float, sink: Sink | None = None, seed: int | None = None
) -> RunResult:
    return run(cfg, sink or NullSink(), START_MS, duration_s, speed=None, seed=seed)


def simulate_messages(
    cfg: PlantConfig, duration_s: float
) -> tuple[RunResult, list[tuple[str, dict[str, Any], bool]]]:
    sink = ListSink()
    result = simulate(cfg, duration_s, sink)
    return result, sink.messages
