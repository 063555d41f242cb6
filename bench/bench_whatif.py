"""What-if experiments: wall time, parallel speed-up, cost per simulated day, and what common
random numbers buy.

    python bench/bench_whatif.py [--scenarios 8] [--replications 10] [--duration 30d]
                                 [--warmup 1d] [--runs 3] [--workers 2]

Measures, on config/plant.yaml with the first scenarios of config/whatif.yaml (the baseline
counts as one of --scenarios):
- the whole experiment through the real command (`shopfloor whatif ... --no-progress`, a
  fresh process, JSON written to a temp file): wall time with --workers 1 and with --workers N,
  and the speed-up (target >= 1.7x on 2 cores); the two JSON files must be byte-identical;
- the cost per simulated day of one what-if run (simulator/whatif/engine.py: no telemetry)
  against a plain `shopfloor sim --fast` of the same config, seed and span (simulator.run with
  the discarding sink it uses when given no --jsonl or --broker), in this process, interleaved,
  medians of --runs (target <= 1.1x);
- common random numbers: the variance of each scenario's paired difference in plant
  throughput against the baseline with CRN (replication r: seed + r everywhere) divided by
  the same with independent seeds (expect well below 1), per scenario and their median.

Run it on an idle machine: the figures are wall times. `--quick` is a smoke test of the script
(tiny sizes; its figures mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shopfloor.config import load_config  # noqa: E402
from shopfloor.config.overrides import expand  # noqa: E402
from shopfloor.stats import variance  # noqa: E402
from shopfloor.timeparse import parse_duration  # noqa: E402
from simulator.run import run  # noqa: E402
from simulator.sinks import NullSink  # noqa: E402
from simulator.whatif.engine import RunSpec, simulate  # noqa: E402
from simulator.whatif.experiment import Experiment, run_all, summarise  # noqa: E402

PLANT = ROOT / "config" / "plant.yaml"
SCENARIOS = ROOT / "config" / "whatif.yaml"
START = "2024-01-01T00:00:00"
START_MS = 1_704_042_000_000  # 2024-01-01 00:00 in Ho Chi Minh City, a Monday (the default)


def scenario_file(n: int, folder: Path) -> Path:
    """The first n - 1 scenarios of config/whatif.yaml (sweeps expanded), plus the baseline."""
    cfg = load_config(PLANT)
    data = yaml.safe_load(SCENARIOS.read_text(encoding="utf-8"))
    scs = expand(cfg, data)[1:n]
    if len(scs) < n - 1:
        raise SystemExit(f"config/whatif.yaml has only {len(scs) + 1} scenarios with the baseline")
    out = {
        "scenarios": [
            {"name": sc.name, "set": {o.path: o.value for o in sc.overrides}} for sc in scs
        ]
    }
    path = folder / "bench-whatif.yaml"
    path.write_text(yaml.safe_dump(out, sort_keys=False), encoding="utf-8")
    return path


def whole(args: argparse.Namespace, scenarios: Path, workers: int, out: Path) -> float:
    cmd = [
        sys.executable, "-m", "shopfloor.cli.main", "whatif",
        "--config", str(PLANT), "--scenarios", str(scenarios),
        "--duration", args.duration, "--warmup", args.warmup,
        "--replications", str(args.replications), "--workers", str(workers),
        "--json", str(out), "--no-progress",
    ]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"shopfloor whatif failed ({proc.returncode}):\n{proc.stderr}")
    return wall


def per_day(args: argparse.Namespace) -> tuple[float, float]:
    """Median seconds per simulated day: a plain --fast run, and a what-if run."""
    cfg = load_config(PLANT)
    span = parse_duration(args.duration) + parse_duration(args.warmup)
    days = span / 86400
    sim_t, whatif_t = [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        run(cfg, NullSink(), START_MS, span, speed=None)
        sim_t.append((time.perf_counter() - t0) / days)
        t0 = time.perf_counter()
        simulate(
            cfg,
            RunSpec(
                0, 0, cfg.seed, START_MS, parse_duration(args.warmup), parse_duration(args.duration)
            ),
        )
        whatif_t.append((time.perf_counter() - t0) / days)
    return statistics.median(sim_t), statistics.median(whatif_t)


def crn_ratio(args: argparse.Namespace, scenarios: Path, workers: int) -> list[tuple[str, float]]:
    cfg = load_config(PLANT)
    from shopfloor.config.overrides import load_scenarios

    scs = load_scenarios(scenarios, cfg)
    var: dict[bool, list[float]] = {}
    for crn in (True, False):
        exp = Experiment(
            scs,
            args.replications,
            START_MS,
            parse_duration(args.warmup),
            parse_duration(args.duration),
            cfg.seed,
            common_random_numbers=crn,
        )
        doc = summarise(exp, run_all(exp, workers), config=str(PLANT), scenarios_file=None)
        base = doc["scenarios"][0]["plant"]["figures"]["throughput_per_h"]["values"]
        var[crn] = [
            variance(
                [
                    x - y
                    for x, y in zip(
                        sc["plant"]["figures"]["throughput_per_h"]["values"], base, strict=True
                    )
                ]
            )
            for sc in doc["scenarios"][1:]
        ]
    return [
        (sc.name, c / i if i > 0 else float("nan"))
        for sc, c, i in zip(scs[1:], var[True], var[False], strict=True)
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenarios", type=int, default=8, help="scenarios, the baseline included")
    p.add_argument("--replications", type=int, default=10)
    p.add_argument("--duration", default="30d")
    p.add_argument("--warmup", default="1d")
    p.add_argument("--runs", type=int, default=3, help="repeats of the per-day timing")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    p.add_argument("--no-crn", action="store_true", help="skip the CRN variance ratio")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test of this script")
    args = p.parse_args()
    if args.quick:
        args.scenarios, args.replications, args.duration, args.warmup, args.runs = (
            3,
            2,
            "6h",
            "1h",
            1,
        )
    runs = args.scenarios * args.replications
    print(
        f"config/plant.yaml, {args.scenarios} scenarios x {args.replications} replications x "
        f"{args.duration} (+ {args.warmup} warm-up) = {runs} runs; {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        scenarios = scenario_file(args.scenarios, folder)
        walls = {}
        for w in (1, args.workers):
            walls[w] = whole(args, scenarios, w, folder / f"w{w}.json")
            print(f"  --workers {w}: {walls[w]:.1f} s wall")
        same = (folder / "w1.json").read_bytes() == (folder / f"w{args.workers}.json").read_bytes()
        doc = json.loads((folder / "w1.json").read_text())
        print(
            f"  speed-up --workers {args.workers} / --workers 1: {walls[1] / walls[args.workers]:.2f}x "
            f"(target >= 1.7x); JSON byte-identical: {same}"
        )
        sim_d, whatif_d = per_day(args)
        print(
            f"  per simulated day: sim --fast (discarding sink) {sim_d * 1000:.1f} ms, what-if run "
            f"{whatif_d * 1000:.1f} ms: {whatif_d / sim_d:.2f}x (target <= 1.1x)"
        )
        days = runs * (parse_duration(args.duration) + parse_duration(args.warmup)) / 86400
        print(
            f"  whole experiment, --workers 1: {walls[1] / days * 1000:.1f} ms per simulated day "
            f"({days:g} days), {walls[1] / days / sim_d:.2f}x sim --fast"
        )
        if not args.no_crn:
            ratios = crn_ratio(args, scenarios, args.workers)
            for name, r in ratios:
                print(f"  CRN variance ratio, {name}: {r:.3f}")
            finite = [r for _, r in ratios if r == r]
            if finite:
                print(
                    f"  CRN variance ratio of paired plant-throughput differences (CRN / independent "
                    f"seeds), median of {len(finite)} scenarios: {statistics.median(finite):.3f}"
                )
        base = doc["scenarios"][0]["plant"]["figures"]["throughput_per_h"]
        print(
            f"  baseline plant throughput: {base['mean']:.2f} [{base['ci_low']:.2f}, {base['ci_high']:.2f}] /h"
        )


if __name__ == "__main__":
    main()
