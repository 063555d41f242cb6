"""One replication of one scenario: the plant model without telemetry, measured after a warm-up.

An experiment needs the model's facts, not its messages: the plant runs with no sampler (power
and process samples were ~60% of the model's time, bench/README.md) and with emitters that
drop every message before it is made. Neither changes the model: samples read the state and
draw from their own noise stream, so a run here books exactly what the full model, telemetry
and all, books for the same config, seed, streams and span (tests/whatif/test_engine.py).
Each station's draws are split by purpose first (split_streams: common random numbers).
"""

from __future__ import annotations

import random
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import simpy

from shopfloor import kpi, tariff
from shopfloor.config.schema import PlantConfig
from shopfloor.config.semantics import shift_span_min
from shopfloor.report import MachineFacts, build_report
from simulator.plant import Plant
from simulator.sinks import JsonlSink, NullSink
from simulator.station import Station

QUARTER_S = 900.0  # energy is priced per quarter hour, as the dashboard prices it
HOURS_PER_SHIFT_24_7 = 8.0  # a plant without shifts counts 8-hour shifts


class _Silent:
    """An emitter that drops every message: what-if runs are judged on facts, not telemetry."""

    __slots__ = ()

    def emit(self, channel: str, body: dict[str, Any], ts_ms: int | None = None) -> None:
        pass

    def status(self, body: dict[str, Any]) -> None:
        pass


class QuietPlant(Plant):
    """The plant model with no telemetry sampler."""

    def sample(self) -> Generator[simpy.Event, Any, None]:
        return
        yield  # a generator that ends at once: SimPy needs a process, there is nothing to do


@dataclass(frozen=True)
class RunSpec:
    scenario: int
    replication: int
    seed: int
    start_ms: int
    warmup_s: float
    duration_s: float
    # Asked for (`--telemetry DIR`): the run's every message as JSON lines in this file, from
    # the full model (sampler included); the figures are the same either way.
    jsonl: str | None = None


@dataclass
class _Snap:
    durations_s: dict[str, float]
    total: int
    good: int
    scrap: int
    energy_kwh: float


def _snap(st: Station, now: float) -> _Snap:
    """A station's books at `now` without booking anything (the run goes on untouched)."""
    durations = dict(st.durations_s)
    if st.state is not None:
        durations[st.state] += now - st.since
    return _Snap(durations, st.total, st.good, st.scrap, st.meter_kwh())


def shift_hours(cfg: PlantConfig) -> float:
    """The planned hours of an average shift (its length less its breaks), weighted by the
    days it runs; 8 for a plant that runs around the clock."""
    if not cfg.shifts:
        return HOURS_PER_SHIFT_24_7
    num = 0.0
    count = 0
    for sh in cfg.shifts:
        start, end = shift_span_min(sh)
        planned = end - start - sum(b.minutes for b in sh.breaks)
        num += planned / 60.0 * len(sh.days)
        count += len(sh.days)
    return num / count


class _Pricer:
    """Each line's metered energy priced per quarter hour (aligned to the clock) at the tariff
    period of the quarter's start: the dashboard's pricing (shopfloor.tariff)."""

    def __init__(self, env: simpy.Environment, plant: Plant, cfg: PlantConfig, start_ms: int):
        assert cfg.energy.tariff is not None
        self.env = env
        self.tariff = cfg.energy.tariff
        self.tz = ZoneInfo(cfg.plant.timezone)
        self.start_ms = start_ms
        self.lines = list(plant.lines.items())
        self.cost = dict.fromkeys(plant.lines, 0.0)
        self.last = self._meters()
        self.since = env.now

    def _meters(self) -> dict[str, float]:
        return {lid: sum(st.meter_kwh() for st in sts) for lid, sts in self.lines}

    def settle(self) -> None:
        """Price the energy metered since the last settle, at the period where it began."""
        at_ms = self.start_ms + round(self.since * 1000)
        price = self.tariff.price_per_kwh[tariff.period_at(self.tariff, at_ms, self.tz)]
        now = self._meters()
        for lid, kwh in now.items():
            self.cost[lid] += (kwh - self.last[lid]) * price
        self.last = now
        self.since = self.env.now

    def run(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        origin_s = self.start_ms / 1000.0
        while True:
            t = origin_s + env.now
            nxt = (t // QUARTER_S + 1) * QUARTER_S
            yield env.timeout(nxt - t)
            self.settle()


def _facts(st: Station, a: _Snap, b: _Snap) -> MachineFacts:
    return MachineFacts(
        id=st.id,
        line=st.line_id,
        area=st.area,
        durations_s={k: b.durations_s[k] - a.durations_s[k] for k in kpi.STATES},
        total=b.total - a.total,
        good=b.good - a.good,
        scrap=b.scrap - a.scrap,
        ideal_cycle_s=st.spec.ideal_cycle_s,
        energy_kwh=b.energy_kwh - a.energy_kwh,
    )


def bottleneck(stations: list[MachineFacts]) -> str:
    """The station busiest in its own right: the largest share of planned time neither starved
    nor blocked (running, down, in setup or idle), the active-period method. Ties go to the
    first in flow order."""
    best, best_share = stations[0].id, -1.0
    for m in stations:
        planned = kpi.planned_s(m.durations_s)
        waiting = m.durations_s["starved"] + m.durations_s["blocked"]
        share = (planned - waiting) / planned if planned > 0 else 0.0
        if share > best_share + 1e-12:
            best, best_share = m.id, share
    return best


def _figures(e: dict[str, Any], planned_h: float) -> dict[str, float]:
    good = e["good_count"]
    return {
        "throughput_per_h": good / planned_h if planned_h > 0 else 0.0,
        "oee": e["oee"],
        "availability": e["availability"],
        "performance": e["performance"],
        "quality": e["quality"],
        "good_count": float(good),
        "energy_kwh": e["energy_kwh"],
        "kwh_per_good": kpi.kwh_per_good(e["energy_kwh"], good),
    }


def measure(
    cfg: PlantConfig,
    lines: dict[str, list[MachineFacts]],
    cost: dict[str, float] | None,
) -> dict[str, Any]:
    """The figures of one replication (docs/whatif.md, Figures): plant, each line, each station."""
    report = build_report(lines, {})
    # One calendar for the whole plant: every machine has the same planned time.
    first = next(iter(report["machines"].values()))
    planned_h = first["planned_s"] / 3600.0
    per_shift = shift_hours(cfg)
    co2 = cfg.energy.co2e_kg_per_kwh

    def extend(fig: dict[str, float], line_ids: list[str]) -> dict[str, float]:
        good = fig["good_count"]
        fig["good_per_shift"] = fig["throughput_per_h"] * per_shift
        if cost is not None:
            fig["cost_per_good"] = kpi.kwh_per_good(sum(cost[lid] for lid in line_ids), good)
        if co2 is not None:
            fig["co2e_kg_per_good"] = fig["kwh_per_good"] * co2
        return fig

    out: dict[str, Any] = {
        "plant": extend(_figures(report["plant"], planned_h), list(lines)),
        "lines": {},
        "stations": {},
    }
    for lid, facts in lines.items():
        fig = extend(_figures(report["lines"][lid], planned_h), [lid])
        out["lines"][lid] = {"figures": fig, "bottleneck": bottleneck(facts)}
    for sid, e in report["machines"].items():
        out["stations"][sid] = _figures(e, planned_h)
    return out


def split_streams(plant: Plant) -> None:
    """Give each station's cycles, setups, failures and scrap their own stream, each seeded
    from (seed, line, station, purpose), before the run starts.

    One stream per station already keeps one station's change from shifting another's luck.
    Inside a station, one shared stream lets a change desynchronise everything after it: a
    longer MTBF means fewer failures, so the draws that were the baseline's repair times
    become cycle times and scrap decisions, and the scenario's luck is no longer the
    baseline's. With a stream per purpose the k-th part, setup and failure of a station draw
    the same numbers in every scenario, and only what the scenario changed moves (exponential
    and lognormal draws scale with their mean). What-if runs are thereby a different sample
    than `shopfloor sim` with the same seed, an equally valid one."""
    for st in plant.stations:
        base = f"{plant.seed}/{st.line_id}/{st.id}"
        st.cycle.rng = random.Random(f"{base}/cycle")
        if st.setup is not None:
            st.setup.rng = random.Random(f"{base}/setup")
        st.fail_rng = random.Random(f"{base}/failures")
        st.scrap_rng = random.Random(f"{base}/scrap")
        st.ttf_s = st._draw_ttf()  # the first failure from the failure stream too
        if st.orders is not None:  # issue 12: products' cycles and changeovers alike
            st.orders.use_streams(st, st.cycle.rng, random.Random(f"{base}/setup"))


def simulate(cfg: PlantConfig, spec: RunSpec) -> dict[str, Any]:
    """Run one replication; its figures over [warmup, warmup + duration) (docs/whatif.md)."""
    if spec.jsonl is not None:
        with open(spec.jsonl, "wb") as f:
            sink = JsonlSink(f)
            figures = _simulate(cfg, spec, Plant, sink)
            sink.close()
            return figures
    return _simulate(cfg, spec, QuietPlant, None)


def _simulate(
    cfg: PlantConfig, spec: RunSpec, kind: type[Plant], sink: JsonlSink | None
) -> dict[str, Any]:
    env = simpy.Environment()
    plant = kind(env, cfg, sink or NullSink(), spec.start_ms, seed=spec.seed)
    split_streams(plant)
    if sink is None:
        for st in plant.stations:
            st.emitter = _Silent()  # type: ignore[assignment]
    if spec.warmup_s > 0:
        env.run(until=spec.warmup_s)
    before = {st.id: _snap(st, env.now) for st in plant.stations}
    pricer = None
    if cfg.energy.tariff is not None:
        pricer = _Pricer(env, plant, cfg, spec.start_ms)
        env.process(pricer.run())
    env.run(until=spec.warmup_s + spec.duration_s)
    for st in plant.stations:
        st.close_books()
    if pricer is not None:
        pricer.settle()  # the last, partial quarter
    if sink is not None:
        plant.close()  # final meter readings and the machines' death messages
    end = env.now
    lines = {
        lid: [_facts(st, before[st.id], _snap(st, end)) for st in sts]
        for lid, sts in plant.lines.items()
    }
    return measure(cfg, lines, None if pricer is None else pricer.cost)
