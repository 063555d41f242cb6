"""Scenarios x replications in parallel processes, and what they say with confidence intervals.

Determinism: every run is fixed by its config and seed alone, and results are kept in
(scenario, replication) order whatever order they finish in, so the summary is the same
bytes whatever `workers` is. Common random numbers: replication r of every scenario runs
with seed + r, and each station draws from its own stream seeded by (seed, line, station)
(simulator/plant.py), so a scenario meets the same luck as the baseline wherever it did not
change the plant, and differences are paired (docs/whatif.md, Statistics).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shopfloor.config.overrides import BASELINE, Scenario
from shopfloor.config.schema import PlantConfig
from shopfloor.stats import Interval, mean_ci
from simulator.whatif.engine import RunSpec, simulate

SCHEMA = "shopfloor-whatif/1"
CONFIDENCE = 0.95

Runner = Callable[[PlantConfig, RunSpec], dict[str, Any]]

# What each figure means (docs/whatif.md, Figures). `better` says which way is an improvement.
METRICS: dict[str, dict[str, Any]] = {
    "throughput_per_h": {
        "label": "Throughput",
        "unit": "good parts per planned production hour",
        "better": "higher",
        "levels": ["plant", "line", "station"],
    },
    "good_per_shift": {
        "label": "Good parts per shift",
        "unit": "good parts per shift (planned hours of an average shift)",
        "better": "higher",
        "levels": ["plant", "line"],
    },
    "oee": {
        "label": "OEE",
        "unit": "ratio",
        "better": "higher",
        "levels": ["plant", "line", "station"],
    },
    "availability": {
        "label": "Availability",
        "unit": "ratio",
        "better": "higher",
        "levels": ["plant", "line", "station"],
    },
    "performance": {
        "label": "Performance",
        "unit": "ratio",
        "better": "higher",
        "levels": ["plant", "line", "station"],
    },
    "quality": {
        "label": "Quality",
        "unit": "ratio",
        "better": "higher",
        "levels": ["plant", "line", "station"],
    },
    "good_count": {
        "label": "Good parts",
        "unit": "parts in the measured span",
        "better": "higher",
        "levels": ["plant", "line", "station"],
    },
    "energy_kwh": {
        "label": "Energy",
        "unit": "kWh in the measured span",
        "better": "lower",
        "levels": ["plant", "line", "station"],
    },
    "kwh_per_good": {
        "label": "Energy per good part",
        "unit": "kWh per good part",
        "better": "lower",
        "levels": ["plant", "line", "station"],
    },
    "cost_per_good": {
        "label": "Energy cost per good part",
        "unit": "currency per good part (time-of-use tariff)",
        "better": "lower",
        "levels": ["plant", "line"],
    },
    "co2e_kg_per_good": {
        "label": "CO2e per good part",
        "unit": "kg CO2e per good part",
        "better": "lower",
        "levels": ["plant", "line"],
    },
}


@dataclass(frozen=True)
class Experiment:
    scenarios: Sequence[Scenario]  # the first is the baseline
    replications: int
    start_ms: int
    warmup_s: float
    duration_s: float
    seed: int
    common_random_numbers: bool = True
    telemetry_dir: str | None = None  # each run's messages as JSON lines there (telemetry_file)

    def seed_of(self, scenario: int, replication: int) -> int:
        if self.common_random_numbers:
            return self.seed + replication
        # Independent streams for every run: only to measure what CRN buys (bench/).
        return self.seed + scenario * self.replications + replication

    def telemetry_file(self, scenario: int, replication: int) -> str | None:
        if self.telemetry_dir is None:
            return None
        return os.path.join(
            self.telemetry_dir, f"scenario-{scenario:03d}-rep-{replication:03d}.jsonl"
        )

    def specs(self) -> list[RunSpec]:
        return [
            RunSpec(
                s,
                r,
                self.seed_of(s, r),
                self.start_ms,
                self.warmup_s,
                self.duration_s,
                self.telemetry_file(s, r),
            )
            for s in range(len(self.scenarios))
            for r in range(self.replications)
        ]


@dataclass(frozen=True)
class Outcome:
    spec: RunSpec
    figures: dict[str, Any] | None
    error: str | None = None


# -- running ---------------------------------------------------------------------------------

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_configs: Sequence[PlantConfig] = ()
_runner: Runner = simulate


def _init_worker(configs: Sequence[PlantConfig], runner: Runner) -> None:
    # Ctrl-C at a terminal reaches the whole process group: the parent decides what stops,
    # and stops a worker with SIGTERM (a worker starts with the parent's note-taking
    # handlers: see run_all).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    global _configs, _runner
    _configs = configs
    _runner = runner


def _describe(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)
    at = f" (at {where[-1].filename.rsplit('/', 1)[-1]}:{where[-1].lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{at}"


def run_one(
    spec: RunSpec, configs: Sequence[PlantConfig] | None = None, runner: Runner | None = None
) -> Outcome:
    """One run; an exception becomes a failed outcome naming it (the others go on)."""
    cfgs = _configs if configs is None else configs
    try:
        return Outcome(spec, (runner or _runner)(cfgs[spec.scenario], spec))
    except Exception as exc:
        return Outcome(spec, None, _describe(exc))


def run_all(
    exp: Experiment,
    workers: int,
    progress: Callable[[Outcome], None] | None = None,
    runner: Runner | None = None,
) -> list[Outcome]:
    """Every run of the experiment, in (scenario, replication) order. `workers` 1 runs in this
    process; more use that many processes. KeyboardInterrupt stops the workers at once (a run
    has no side effects to finish) and propagates."""
    specs = exp.specs()
    configs = [sc.cfg for sc in exp.scenarios]
    runner = runner or simulate  # looked up now, so a test can put a failing one in its place
    if workers <= 1:
        out = []
        for spec in specs:
            o = run_one(spec, configs, runner)
            out.append(o)
            if progress is not None:
                progress(o)
        return out
    results: list[Outcome | None] = [None] * len(specs)
    pool: ProcessPoolExecutor | None = None
    try:
        # The workers are forked during the first submit, from this process as it is then:
        # one thread (the CLI turns tqdm's monitor thread off; the pool starts its own threads
        # after forking, for this reason), the configs already in memory, nothing to import.
        # Meanwhile a stop signal only takes note, here and in a worker not yet past its
        # initializer (it inherits these handlers): an exception there would leave a worker
        # half made, or print a worker's traceback. Noted, it stops everything just after.
        noted: list[int] = []
        handlers = _note_signals(noted)
        try:
            pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=_context(),
                initializer=_init_worker,
                initargs=(configs, runner),
            )
            pending: dict[Future[Outcome], int] = {
                pool.submit(run_one, spec): i for i, spec in enumerate(specs)
            }
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        if noted:
            raise KeyboardInterrupt
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                try:
                    o = fut.result()
                except BrokenProcessPool as exc:
                    o = Outcome(specs[i], None, f"the worker process died ({exc})")
                results[i] = o
                if progress is not None:
                    progress(o)
        pool.shutdown(wait=True)
    except BaseException:
        if pool is not None:
            _stop_pool(pool)
        raise
    return [o for o in results if o is not None]


def _context() -> multiprocessing.context.BaseContext:
    """fork where there is one (Linux: workers start at once, with no bootstrap during which
    a Ctrl-C could reach a half-started interpreter), spawn elsewhere."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _note_signals(noted: list[int]) -> dict[int, Any]:
    """Replace the stop signals' handlers by a note of their arrival (main thread only);
    returns the handlers to put back. An ignored signal stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    before: dict[int, Any] = {}
    for sig in _STOP_SIGNALS:
        current = signal.getsignal(sig)
        if current in (signal.SIG_IGN, None):
            continue
        before[sig] = current
        signal.signal(sig, lambda signum, frame: noted.append(signum))
    return before


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """End the workers now: cancel what has not started, terminate what runs (by their pids)."""
    procs = list(getattr(pool, "_processes", {}).values())  # the pool's own worker processes
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=2)
        if p.is_alive():  # it took SIGTERM before its initializer could hear it
            p.kill()
            p.join(timeout=5)


# -- summarising -----------------------------------------------------------------------------


def _ci(values: Sequence[float]) -> dict[str, Any]:
    iv: Interval = mean_ci(values, CONFIDENCE)
    return {
        "mean": iv.mean if iv.n else None,
        "ci_low": iv.low,
        "ci_high": iv.high,
        "n": iv.n,
    }


def _diff(values: Sequence[float]) -> dict[str, Any]:
    iv = mean_ci(values, CONFIDENCE)
    return {
        "mean": iv.mean if iv.n else None,
        "ci_low": iv.low,
        "ci_high": iv.high,
        "n": iv.n,
        "significant": iv.excludes_zero(),
    }


def _figures_of(run: dict[str, Any], level: str, ident: str | None) -> dict[str, float]:
    if level == "plant":
        return run["plant"]
    if level == "lines":
        return run["lines"][ident]["figures"]
    return run["stations"][ident]


def _group(
    runs: Sequence[dict[str, Any] | None], level: str, ident: str | None, values: bool = False
) -> dict[str, Any]:
    """Each figure's mean and interval over the replications that ran; with `values`, every
    replication's value too, in replication order (None where it failed): plant and lines,
    for a chart of the spread or a comparison of one's own (stations would multiply the
    document for little)."""
    ok = [r for r in runs if r is not None]
    if not ok:
        return {}
    out = {}
    for k in _figures_of(ok[0], level, ident):
        entry = _ci([_figures_of(r, level, ident)[k] for r in ok])
        if values:
            entry["values"] = [None if r is None else _figures_of(r, level, ident)[k] for r in runs]
        out[k] = entry
    return out


def _paired(
    runs: Sequence[dict[str, Any] | None],
    base: Sequence[dict[str, Any] | None],
    level: str,
    ident: str | None,
) -> dict[str, Any]:
    pairs = [(r, b) for r, b in zip(runs, base, strict=True) if r is not None and b is not None]
    if not pairs:
        return {}
    # Only the figures both sides have: a scenario may add what the baseline lacks (a
    # co2e factor or a tariff set by the scenario gives it a CO2e or cost per good part).
    have = _figures_of(pairs[0][1], level, ident)
    keys = [k for k in _figures_of(pairs[0][0], level, ident) if k in have]
    return {
        k: _diff(
            [_figures_of(r, level, ident)[k] - _figures_of(b, level, ident)[k] for r, b in pairs]
        )
        for k in keys
    }


def _bottleneck(
    runs: Sequence[dict[str, Any] | None], line_id: str, stations: list[str]
) -> dict[str, Any]:
    picks = [r["lines"][line_id]["bottleneck"] for r in runs if r is not None]
    if not picks:
        return {"station": None, "share": None, "shares": {}}
    shares = {sid: picks.count(sid) / len(picks) for sid in stations if sid in picks}
    top = max(stations, key=lambda sid: (shares.get(sid, 0.0), -stations.index(sid)))
    return {"station": top, "share": shares[top], "shares": shares}


def summarise(
    exp: Experiment,
    outcomes: Sequence[Outcome],
    *,
    config: str,
    scenarios_file: str | None,
    sensitivity_percent: float | None = None,
) -> dict[str, Any]:
    """The experiment as a JSON-ready document (docs/whatif.md, JSON output)."""
    base_cfg = exp.scenarios[0].cfg
    n = exp.replications
    runs_of: list[list[dict[str, Any] | None]] = [[None] * n for _ in exp.scenarios]
    failures = []
    for o in outcomes:
        runs_of[o.spec.scenario][o.spec.replication] = o.figures
        if o.error is not None:
            failures.append(
                {
                    "scenario": exp.scenarios[o.spec.scenario].name,
                    "replication": o.spec.replication,
                    "seed": o.spec.seed,
                    "error": o.error,
                }
            )
    tz = ZoneInfo(base_cfg.plant.timezone)
    present = set()
    for runs in runs_of:
        for r in runs:
            if r is not None:
                present.update(r["plant"])
    metrics = [{"key": k, **v} for k, v in METRICS.items() if k in present or not present]
    doc_scenarios = []
    for s, sc in enumerate(exp.scenarios):
        runs = runs_of[s]
        live, not_live = sc.live()
        entry: dict[str, Any] = {
            "index": s,
            "name": sc.name,
            "baseline": s == 0,
            "overrides": [
                {"path": o.path, "key_path": o.where, "value": o.value} for o in sc.overrides
            ],
            "live": {
                "all_live": not not_live,
                "set": [
                    {
                        "line": p.line,
                        "area": p.area,
                        "station": p.station,
                        "parameter": p.parameter,
                        "value": p.value,
                    }
                    for p in live
                ],
                "not_live": not_live,
            },
            "sensitivity": dict(sc.meta) if sc.meta else None,
            "runs": {
                "ok": sum(r is not None for r in runs),
                "failed": sum(r is None for r in runs),
            },
            "seeds": [exp.seed_of(s, r) for r in range(n)],
            "plant": {"figures": _group(runs, "plant", None, values=True)},
            "lines": {
                line.id: {
                    "figures": _group(runs, "lines", line.id, values=True),
                    "bottleneck": _bottleneck(runs, line.id, [st.id for st in line.stations]),
                }
                for line in sc.cfg.lines
            },
            "stations": {
                st.id: {"figures": _group(runs, "stations", st.id)} for _, st in sc.cfg.stations()
            },
            "vs_baseline": None,
        }
        if s > 0:
            base = runs_of[0]
            entry["vs_baseline"] = {
                "plant": {"figures": _paired(runs, base, "plant", None)},
                "lines": {
                    line.id: {"figures": _paired(runs, base, "lines", line.id)}
                    for line in sc.cfg.lines
                },
                "stations": {
                    st.id: {"figures": _paired(runs, base, "stations", st.id)}
                    for _, st in sc.cfg.stations()
                },
            }
        doc_scenarios.append(entry)
    tariff = base_cfg.energy.tariff
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "kind": "sensitivity" if sensitivity_percent is not None else "scenarios",
        "experiment": {
            "config": config,
            "scenarios_file": scenarios_file,
            "start": datetime.fromtimestamp(exp.start_ms / 1000, tz).isoformat(),
            "start_ms": exp.start_ms,
            "warmup_s": exp.warmup_s,
            "duration_s": exp.duration_s,
            "replications": n,
            "seed": exp.seed,
            "common_random_numbers": exp.common_random_numbers,
            "confidence": CONFIDENCE,
            "interval": "Student t, n - 1 degrees of freedom",
        },
        "plant": {
            "enterprise": base_cfg.plant.enterprise,
            "site": base_cfg.plant.site,
            "timezone": base_cfg.plant.timezone,
            "currency": tariff.currency if tariff is not None else None,
            "lines": [
                {"id": line.id, "area": line.area, "stations": [st.id for st in line.stations]}
                for line in base_cfg.lines
            ],
        },
        "metrics": metrics,
        "baseline": BASELINE,
        "scenarios": doc_scenarios,
        "sensitivity": None,
        "failures": failures,
    }
    if sensitivity_percent is not None:
        doc["sensitivity"] = rank_sensitivity(doc_scenarios, sensitivity_percent)
    return doc


def _effect(entry: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    if entry is None or entry["vs_baseline"] is None:
        return None
    return entry["vs_baseline"]["plant"]["figures"].get(key)


def rank_sensitivity(scenarios: list[dict[str, Any]], percent: float) -> dict[str, Any]:
    """Tornado data: per (station, parameter) the plant's paired change in throughput and in kWh
    per good part at the low and the high value, ranked by the swing between them."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for sc in scenarios:
        meta = sc.get("sensitivity")
        if not meta:
            continue
        g = groups.setdefault(
            (meta["station"], meta["parameter"]),
            {
                "line": meta["line"],
                "station": meta["station"],
                "parameter": meta["parameter"],
                "base": meta["base"],
                "low": None,
                "high": None,
            },
        )
        g[meta["direction"]] = sc
    rows = []
    for (station, param), g in groups.items():
        row: dict[str, Any] = {
            "line": g["line"],
            "station": station,
            "parameter": param,
            "base": g["base"],
        }
        for key in ("throughput_per_h", "kwh_per_good"):
            lo, hi = _effect(g["low"], key), _effect(g["high"], key)
            lo_m = lo["mean"] if lo and lo["mean"] is not None else 0.0
            hi_m = hi["mean"] if hi and hi["mean"] is not None else 0.0
            row[key] = {"low": lo, "high": hi, "swing": abs(hi_m - lo_m)}
        for side in ("low", "high"):
            sc = g[side]
            row[side] = (
                None
                if sc is None
                else {
                    "scenario": sc["name"],
                    "value": sc["sensitivity"]["value"],
                    "change": sc["sensitivity"]["change"],
                }
            )
        rows.append(row)
    order = list(range(len(rows)))
    by_tp = sorted(order, key=lambda i: (-rows[i]["throughput_per_h"]["swing"], i))
    by_kwh = sorted(order, key=lambda i: (-rows[i]["kwh_per_good"]["swing"], i))
    for rank, i in enumerate(by_kwh, 1):
        rows[i]["rank_kwh_per_good"] = rank
    ranked = [rows[i] for i in by_tp]
    for rank, row in enumerate(ranked, 1):
        row["rank_throughput"] = rank
    return {"percent": percent, "ranking": ranked}
