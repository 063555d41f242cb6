"""`shopfloor whatif`: scenarios of the plant side by side, with confidence intervals
(docs/whatif.md)."""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
import os
import signal
import sys
from typing import Any
from zoneinfo import ZoneInfo

from shopfloor.cli.config_cmd import load_or_exit
from shopfloor.cli.errors import UserError
from shopfloor.cli.sim_cmd import _count, _open_out
from shopfloor.timeparse import parse_duration, parse_instant

log = logging.getLogger("shopfloor.whatif")

# A fixed start keeps the same command the same experiment: a Monday at local midnight, so
# shifts, breaks and tariff quarters line up the same way every time.
DEFAULT_START = "2024-01-01T00:00:00"
EXIT_RUNS_FAILED = 70  # some runs raised; every other run is still reported


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _duration0(text: str) -> float:
    if text.strip() in ("0", "0s", "0m", "0h", "0d"):
        return 0.0
    return _duration(text)


def _replications(text: str) -> int:
    v = _count(text)
    if v < 2:
        raise argparse.ArgumentTypeError(f"must be >= 2 (a confidence interval needs two), got {v}")
    return v


def _percent(text: str) -> float:
    try:
        v = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a percentage, got {text!r}") from None
    if not 0 < v < 100:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100, got {text!r}")
    return v


def register(sub: Any) -> None:
    p = sub.add_parser(
        "whatif",
        help="compare what-if scenarios of a plant with confidence intervals",
        description="Run the plant and scenarios of it (key paths set to other values) several "
        "times each with common random numbers, and report every figure's mean with its 95 % "
        "confidence interval and each scenario's paired difference against the baseline "
        "(docs/whatif.md).",
    )
    p.add_argument("--config", required=True, help="the base plant config YAML")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--scenarios", metavar="PATH", help="scenario file YAML (example: config/whatif.yaml)"
    )
    what.add_argument(
        "--sensitivity",
        type=_percent,
        nargs="?",
        const=10.0,
        metavar="PCT",
        help="instead of scenarios: move each station's MTBF, MTTR, mean cycle and buffer down "
        "and up by PCT %% (default 10) one at a time, and rank them by their effect on "
        "throughput and on kWh per good part",
    )
    p.add_argument(
        "--duration",
        type=_duration,
        default=30 * 86400.0,
        help="measured span of each run (default 30d)",
    )
    p.add_argument(
        "--replications",
        type=_replications,
        default=10,
        metavar="N",
        help="runs per scenario, replication r with seed + r in every scenario (default 10)",
    )
    p.add_argument(
        "--warmup",
        type=_duration0,
        default=86400.0,
        help="simulated before measuring, so buffers start filled (default 1d; 0 for none)",
    )
    p.add_argument(
        "--start",
        default=DEFAULT_START,
        help=f"simulated start, ISO 8601, plant time if no offset (default {DEFAULT_START}, a Monday)",
    )
    p.add_argument("--seed", type=int, help="seed of replication 0 (default: the config's seed)")
    p.add_argument(
        "--workers",
        type=_count,
        default=os.cpu_count() or 1,
        metavar="N",
        help="parallel processes (default: the CPU count); the results do not depend on it",
    )
    p.add_argument("--json", metavar="PATH|-", help="write the full results as JSON")
    p.add_argument("--csv", metavar="PATH|-", help="write every figure as a CSV row")
    p.add_argument(
        "--independent-seeds",
        action="store_true",
        help="give every run its own seed instead of common random numbers (only to measure "
        "what they buy: paired differences get wider)",
    )
    p.add_argument(
        "--telemetry",
        metavar="DIR",
        help="also write each run's telemetry, every message as a JSON line, to "
        "DIR/scenario-SSS-rep-RRR.jsonl (slower: runs discard it unless asked; the figures are "
        "the same)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    # For the dashboard's What-if page (a subprocess it polls): machine-readable progress.
    p.add_argument(
        "--progress-jsonl",
        metavar="PATH",
        help='append one JSON line per finished run ({"done", "total", "failed"}, and one with '
        '"done": 0 before the first) to PATH, for a program watching the experiment',
    )
    p.set_defaults(func=cmd_whatif)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# -- the terminal table ------------------------------------------------------------------------


def span(seconds: float) -> str:
    """30d, 1d 12h, 45m: a span as the options take it."""
    left = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return " ".join(parts) or "0s"


def _num(v: float | None, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:,.{digits}f}"


def _pm(fig: dict[str, Any] | None, digits: int = 1, pct: bool = False) -> str:
    if not fig or fig.get("mean") is None:
        return "-"
    k = 100.0 if pct else 1.0
    mean = _num(fig["mean"] * k, digits)
    if fig.get("ci_high") is None:
        return mean
    return f"{mean} ± {_num((fig['ci_high'] - fig['mean']) * k, digits)}"


def _delta(fig: dict[str, Any] | None, digits: int = 1) -> str:
    if not fig or fig.get("mean") is None:
        return ""
    if fig.get("ci_low") is None:
        return f"{fig['mean']:+,.{digits}f}"
    mark = " *" if fig["significant"] else "  "
    return f"{fig['mean']:+,.{digits}f} [{fig['ci_low']:+,.{digits}f}, {fig['ci_high']:+,.{digits}f}]{mark}"


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([fmt(headers), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)])


def render(doc: dict[str, Any]) -> str:
    """The experiment as the terminal shows it: one row per scenario (plant figures), each
    line's throughput and bottleneck, then the sensitivity ranking if there is one."""
    exp = doc["experiment"]
    currency = doc["plant"]["currency"]
    out: list[str] = []
    headers = ["scenario", "throughput/h", "Δ vs baseline", "OEE %", "kWh/good", "Δ kWh/good"]
    has_cost = any(m["key"] == "cost_per_good" for m in doc["metrics"])
    if has_cost:
        headers.append(f"{currency}/good")
    rows = []
    for sc in doc["scenarios"]:
        f = sc["plant"]["figures"]
        d = (sc["vs_baseline"] or {}).get("plant", {}).get("figures", {})
        row = [
            sc["name"],
            _pm(f.get("throughput_per_h")),
            _delta(d.get("throughput_per_h")),
            _pm(f.get("oee"), 1, pct=True),
            _pm(f.get("kwh_per_good"), 4),
            _delta(d.get("kwh_per_good"), 4),
        ]
        if has_cost:
            row.append(_pm(f.get("cost_per_good"), 0))
        rows.append(row)
    out.append(_table(headers, rows, set(range(1, len(headers)))))
    out.append("")
    line_ids = [line["id"] for line in doc["plant"]["lines"]]
    headers = ["scenario", *(f"{lid} /h" for lid in line_ids), "bottlenecks"]
    rows = []
    for sc in doc["scenarios"]:
        d = (sc["vs_baseline"] or {}).get("lines", {})
        cells = [sc["name"]]
        for lid in line_ids:
            cell = _pm(sc["lines"][lid]["figures"].get("throughput_per_h"))
            diff = d.get(lid, {}).get("figures", {}).get("throughput_per_h")
            if diff and diff.get("significant"):
                cell += f" ({diff['mean']:+,.1f}*)"
            cells.append(cell)
        bns = []
        for lid in line_ids:
            bn = sc["lines"][lid]["bottleneck"]
            if bn["station"] is not None:
                share = "" if bn["share"] == 1 else f" {bn['share']:.0%}"
                bns.append(f"{bn['station']}{share}")
        cells.append(", ".join(bns))
        rows.append(cells)
    out.append(_table(headers, rows, set(range(1, len(line_ids) + 1))))
    sens = doc.get("sensitivity")
    if sens:
        out.append("")
        out.append(
            f"Sensitivity: each parameter moved by ±{sens['percent']:g} % alone; Δ is the plant's "
            "paired change against the baseline"
        )
        headers = [
            "#",
            "station",
            "parameter",
            "low → high",
            "Δ throughput/h low",
            "high",
            "Δ kWh/good low",
            "high",
        ]
        rows = []
        for r in sens["ranking"]:
            lo, hi = r["low"], r["high"]
            values = (
                f"{_num(lo['value'], 1) if lo else '-'} → {_num(hi['value'], 1) if hi else '-'}"
            )
            tp, kw = r["throughput_per_h"], r["kwh_per_good"]
            rows.append(
                [
                    str(r["rank_throughput"]),
                    r["station"],
                    r["parameter"],
                    values,
                    _delta(tp["low"]),
                    _delta(tp["high"]),
                    _delta(kw["low"], 4),
                    _delta(kw["high"], 4),
                ]
            )
        out.append(_table(headers, rows, {0, 3, 4, 5, 6, 7}))
    out.append("")
    n = exp["replications"]
    out.append(
        f"{n} replications of {span(exp['duration_s'])} after a "
        f"{span(exp['warmup_s'])} warm-up, from {exp['start']}; ± is the half-width "
        f"of the 95 % confidence interval (t, {n - 1} df); [a, b] the 95 % interval of the paired "
        "difference against the baseline, * where it excludes 0."
    )
    if doc["failures"]:
        out.append(f"{len(doc['failures'])} run(s) FAILED (left out of the figures):")
        for f in doc["failures"]:
            out.append(
                f"  scenario {f['scenario']!r}, replication {f['replication']}, seed {f['seed']}: {f['error']}"
            )
    return "\n".join(out) + "\n"


# -- CSV ----------------------------------------------------------------------------------------

CSV_COLUMNS = [
    "scenario",
    "level",
    "id",
    "metric",
    "unit",
    "mean",
    "ci_low",
    "ci_high",
    "n",
    "diff_mean",
    "diff_ci_low",
    "diff_ci_high",
    "diff_significant",
]


def to_csv(doc: dict[str, Any]) -> str:
    """One row per scenario, level (plant, line, station), id and figure."""
    units = {m["key"]: m["unit"] for m in doc["metrics"]}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)

    def cell(v: Any) -> Any:
        return "" if v is None else repr(v) if isinstance(v, float) else v

    for sc in doc["scenarios"]:
        vs = sc["vs_baseline"] or {}
        groups: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
            ("plant", "", sc["plant"]["figures"], vs.get("plant", {}).get("figures", {}))
        ]
        for lid, e in sc["lines"].items():
            groups.append(
                ("line", lid, e["figures"], vs.get("lines", {}).get(lid, {}).get("figures", {}))
            )
        for sid, e in sc["stations"].items():
            groups.append(
                (
                    "station",
                    sid,
                    e["figures"],
                    vs.get("stations", {}).get(sid, {}).get("figures", {}),
                )
            )
        for level, ident, figs, diffs in groups:
            for key, f in figs.items():
                d = diffs.get(key) or {}
                w.writerow(
                    [
                        sc["name"],
                        level,
                        ident,
                        key,
                        units.get(key, ""),
                        cell(f["mean"]),
                        cell(f["ci_low"]),
                        cell(f["ci_high"]),
                        f["n"],
                        cell(d.get("mean")),
                        cell(d.get("ci_low")),
                        cell(d.get("ci_high")),
                        "" if not d else str(d["significant"]).lower(),
                    ]
                )
    return buf.getvalue()


# -- the command --------------------------------------------------------------------------------


def cmd_whatif(args: argparse.Namespace) -> int:
    from shopfloor.config import ConfigError
    from shopfloor.config.overrides import load_scenarios, sensitivity
    from simulator.whatif.experiment import Experiment, run_all, summarise

    cfg = load_or_exit(args.config)
    tz = ZoneInfo(cfg.plant.timezone)
    try:
        start_ms = int(parse_instant(args.start, tz).timestamp() * 1000)
    except ValueError as exc:
        raise UserError(f"--start: {exc}") from None
    if args.json == "-" and args.csv == "-":
        raise UserError("--json and --csv cannot both write to standard output")
    for flag, path in (("--json", args.json), ("--csv", args.csv)):
        # Named now, not after an hour of runs.
        folder = os.path.dirname(os.path.abspath(path)) if path not in (None, "-") else None
        if folder is not None and not os.path.isdir(folder):
            raise UserError(f"{flag}: cannot write {path}: no folder {folder}")
        if folder is not None and not os.access(folder, os.W_OK):
            raise UserError(f"{flag}: cannot write {path}: the folder is not writable")
        if folder is not None and os.path.isdir(path):
            raise UserError(f"{flag}: cannot write {path}: it is a folder")
    if args.scenarios is not None:
        try:
            scenarios = load_scenarios(args.scenarios, cfg)
        except ConfigError as exc:
            print(exc.render(), file=sys.stderr)
            return 1
    else:
        scenarios = sensitivity(cfg, args.sensitivity)
    if args.telemetry is not None:
        try:
            os.makedirs(args.telemetry, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--telemetry: cannot make {args.telemetry}: {exc.strerror}") from None
    exp = Experiment(
        telemetry_dir=args.telemetry,
        scenarios=scenarios,
        replications=args.replications,
        start_ms=start_ms,
        warmup_s=args.warmup,
        duration_s=args.duration,
        seed=cfg.seed if args.seed is None else args.seed,
        common_random_numbers=not args.independent_seeds,
    )
    total = len(scenarios) * args.replications
    workers = min(args.workers, total)
    log.info(
        "%d scenarios x %d replications = %d runs of %s (+ %s warm-up) on %d worker%s; Ctrl-C stops",
        len(scenarios),
        args.replications,
        total,
        span(args.duration),
        span(args.warmup),
        workers,
        "s" if workers != 1 else "",
    )
    from tqdm import tqdm

    # No monitor thread: the workers are forked from this process, which must then have one.
    tqdm.monitor_interval = 0
    signal.signal(signal.SIGTERM, _stop)
    bar = tqdm(
        total=total, unit="run", file=sys.stderr, disable=args.no_progress, dynamic_ncols=True
    )
    failed = 0
    # --progress-jsonl (the dashboard's What-if page): one flushed line per finished run, so a
    # reader polling the file never needs to parse the bar. Counted here: a disabled bar
    # (--no-progress) does not count.
    progress_file = None
    if args.progress_jsonl:
        try:
            progress_file = open(args.progress_jsonl, "a", encoding="utf-8")  # noqa: SIM115 (closed at exit)
        except OSError as exc:
            bar.close()
            raise UserError(
                f"--progress-jsonl: cannot write {args.progress_jsonl}: {exc.strerror}"
            ) from None
    done = 0

    def report_progress() -> None:
        if progress_file is not None:
            progress_file.write(json.dumps({"done": done, "total": total, "failed": failed}) + "\n")
            progress_file.flush()

    report_progress()

    def progress(o: Any) -> None:
        nonlocal failed, done
        if o.error is not None:
            failed += 1
            bar.write(
                f"run failed: scenario {scenarios[o.spec.scenario].name!r}, replication "
                f"{o.spec.replication}, seed {o.spec.seed}: {o.error}",
                file=sys.stderr,
            )
        bar.update(1)
        done += 1
        report_progress()

    try:
        outcomes = run_all(exp, workers, progress)
    except KeyboardInterrupt:
        bar.close()
        print(
            f"shopfloor whatif: stopped after {done} of {total} runs; nothing written",
            file=sys.stderr,
        )
        return 130
    bar.close()
    doc = summarise(
        exp,
        outcomes,
        config=args.config,
        scenarios_file=args.scenarios,
        sensitivity_percent=args.sensitivity,
    )
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    to_stdout = "-" in (args.json, args.csv)
    table = render(doc)
    (sys.stderr if to_stdout else sys.stdout).write(table)
    with _open_out(args.json, binary=False) as jf:
        if jf is not None:
            jf.write(text)
    with _open_out(args.csv, binary=False) as cf:
        if cf is not None:
            cf.write(to_csv(doc))
    if failed:
        print(
            f"shopfloor whatif: {failed} of {total} runs failed (named above and in the JSON's "
            "`failures`); the others are reported",
            file=sys.stderr,
        )
        return EXIT_RUNS_FAILED
    return 0
