"""How well a legacy press's cycles are counted from its power waveform, by meter sample rate
(issue 12, brownfield cycles; simulator/meter.py, collector/cycles.py).

    python bench/bench_cycles.py [--seeds 8] [--rates 1,2,5,10,20,30]

For each rate: config/plant.yaml with a stroke meter on the legacy press (stroke 60 kW for
1.5 s on its 22 kW running load, as the commented example in the config), shift A of a
Monday simulated once per seed; the press's samples are counted with the collector's counter
and compared with the parts the simulator made. Prints a Markdown table (bench/README.md).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collector.cycles import count_cycles, thresholds  # noqa: E402
from shopfloor.config import parse_config  # noqa: E402
from shopfloor.config.load import read_yaml  # noqa: E402
from simulator.run import run  # noqa: E402
from simulator.sinks import ListSink  # noqa: E402

SHIFT_A_MS = 1_795_388_400_000  # Monday 2026-11-23 06:00 in Ho Chi Minh City
PRESS = "press-01"
METER = {"stroke_kw": 60.0, "stroke_s": 1.5}


def one_shift(sample_s: float, seed: int) -> tuple[int, int]:
    """(counted, made) for the press over shift A."""
    data = copy.deepcopy(read_yaml(ROOT / "config" / "plant.yaml"))
    data["seed"] = seed
    (st,) = [st for line in data["lines"] for st in line["stations"] if st["id"] == PRESS]
    st["meter"] = {**METER, "sample_s": sample_s}
    sink = ListSink()
    res = run(parse_config(data), sink, SHIFT_A_MS, 8 * 3600)
    kws = [p["power_kw"] for t, p, _ in sink.messages if t.endswith(f"/{PRESS}/telemetry")]
    high, low = thresholds(
        st["power_kw"]["running"], METER["stroke_kw"], METER["stroke_s"], sample_s
    )
    return count_cycles(kws, high, low), res.report["machines"][PRESS]["total_count"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--rates", default="1,2,5,10,20,30")
    args = ap.parse_args()
    print("| sample every | counted / made (mean) | worst shift | shifts within 1% |")
    print("|---:|---:|---:|---:|")
    for rate in [float(r) for r in args.rates.split(",")]:
        ratios = []
        for seed in range(1, args.seeds + 1):
            counted, made = one_shift(rate, seed)
            ratios.append(counted / made)
        worst = max(ratios, key=lambda r: abs(r - 1.0))
        within = sum(abs(r - 1.0) <= 0.01 for r in ratios)
        print(
            f"| {rate:g} s | {statistics.fmean(ratios):.1%} | {worst:.1%} | "
            f"{within} of {len(ratios)} |"
        )


if __name__ == "__main__":
    main()
