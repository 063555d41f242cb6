"""A machine on a serial line: takes a part, may change over, works it, may fail, passes it on.

States come from the flow (starved, blocked), the machine (running, down, setup) and the
calendar (off, planned_stop overlay everything else while they last). Time to failure is
spent only while running; setups, work and repairs all pause outside production time, so
every availability loss shows up inside planned time.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator
from typing import Any

import simpy

from shopfloor.config.schema import CycleTime
from shopfloor.config.schema import Station as StationSpec
from shopfloor.kpi import STATES
from shopfloor.shifts import OFF, PLANNED_STOP, PRODUCTION
from simulator.buffer import EMPTY, Buffer
from simulator.calendar import EPS_S, SimCalendar
from simulator.emitter import MachineEmitter
from simulator.kinds import KINDS
from simulator.resume import Resume

CALENDAR_REASON = {OFF: "outside shift", PLANNED_STOP: "break"}


class Draw:
    """A positive duration with a given mean and coefficient of variation (lognormal)."""

    __slots__ = ("mean", "mu", "rng", "sigma")

    def __init__(self, dist: CycleTime, scale: float, rng: random.Random):
        self.mean = dist.mean * scale
        self.rng = rng
        if dist.cv > 0:
            self.sigma = math.sqrt(math.log1p(dist.cv * dist.cv))
            self.mu = math.log(self.mean) - self.sigma * self.sigma / 2.0
        else:
            self.sigma = 0.0
            self.mu = 0.0

    def __call__(self) -> float:
        if self.sigma == 0.0:
            return self.mean
        return self.rng.lognormvariate(self.mu, self.sigma)


class Station:
    def __init__(
        self,
        env: simpy.Environment,
        spec: StationSpec,
        *,
        line_id: str,
        area: str,
        calendar: SimCalendar,
        emitter: MachineEmitter,
        rng: random.Random,
        noise_rng: random.Random,
        inbox: Buffer | None,
        outbox: Buffer | None,
        upstream_id: str | None,
        batch_size: int | None,
        resume: Resume | None = None,
    ):
        # What an earlier run of this plant already sent: the meters go on from there.
        self.resume = resume or Resume()
        self.env = env
        self.spec = spec
        self.id = spec.id
        self.line_id = line_id
        self.area = area
        self.calendar = calendar
        self.emitter = emitter
        self.rng = rng
        # Failures (time to failure, reason, repair) and scrap draw from `rng` too unless a
        # what-if run gives each its own stream (simulator/whatif/engine.py, split_streams):
        # then the k-th failure of a station meets the same luck in every scenario.
        self.fail_rng = rng
        self.scrap_rng = rng
        self.noise_rng = noise_rng
        self.inbox = inbox
        self.outbox = outbox
        self.batch_size = batch_size
        self.legacy = spec.connectivity == "legacy"
        self.power_kw = spec.power_kw.by_state()
        self.kind = KINDS[spec.kind]

        self.cycle = Draw(spec.cycle, 1.0, rng)
        self.setup = Draw(spec.setup_min, 60.0, rng) if spec.setup_min else None
        self.mtbf_s = spec.mtbf_min * 60.0 if spec.mtbf_min else math.inf
        self.mttr_s = spec.mttr_min * 60.0 if spec.mttr_min else 0.0
        self.ttf_s = self._draw_ttf()
        self.starved_reason = (
            f"waiting for {upstream_id}" if upstream_id else "waiting for material"
        )

        # Ground truth.
        self.durations_s: dict[str, float] = dict.fromkeys(STATES, 0.0)
        self.energy_kwh = 0.0
        self.received = 0
        self.total = 0
        self.good = 0
        self.scrap = 0
        self.released = 0  # parts drawn from the unlimited source (first station only)
        self.batch: int | None = None
        self.failures: list[tuple[float, float, str]] = []  # (start_s, repair_s, reason)

        self.proc_state = "starved" if inbox is not None else "running"
        self.proc_reason = ""
        self.state: str | None = None
        self.since = 0.0
        self.values = [v.off for v in self.kind.values]
        self._injected = False
        self.process = env.process(self.work())

    # -- state and books ---------------------------------------------------------------

    def _set(self, state: str, reason: str = "") -> None:
        self.proc_state = state
        self.proc_reason = reason
        self.refresh()

    def refresh(self) -> None:
        """Recompute the visible state (the calendar overlays the machine's own state)."""
        seg = self.calendar.current(self.env.now)
        if seg.kind == PRODUCTION:
            state, reason = self.proc_state, self.proc_reason
        else:
            state, reason = seg.kind, CALENDAR_REASON[seg.kind]
        if state == self.state:
            return
        self._accrue()
        self.state = state
        if not self.legacy:
            self.emitter.emit("state", {"state": state, "reason": reason})

    def _accrue(self) -> None:
        now = self.env.now
        if self.state is not None:
            dt = now - self.since
            self.durations_s[self.state] += dt
            self.energy_kwh += self.power_kw[self.state] * dt / 3600.0
        self.since = now

    def close_books(self) -> None:
        self._accrue()

    def meter_kwh(self) -> float:
        """The energy meter reading now: booked energy plus the current state so far."""
        if self.state is None:
            return self.energy_kwh
        return self.energy_kwh + self.power_kw[self.state] * (self.env.now - self.since) / 3600.0

    # -- processes -----------------------------------------------------------------------

    def work(self) -> Generator[simpy.Event, Any, None]:
        while True:
            part = yield from self._take()
            if self.setup is not None and part != self.batch:
                if self.batch is not None:
                    self._set("setup", "changeover")
                    yield from self._spend(self.setup(), wear=False)
                self.batch = part
            self._set("running")
            yield from self._spend(self.cycle(), wear=True)
            good = self._finish()
            if good and self.outbox is not None and not self.outbox.give(part):
                self._set("blocked", "output buffer full")
                yield from self._wait(self.outbox.wait_give(part))

    def _take(self) -> Generator[simpy.Event, Any, int]:
        if self.inbox is None:
            part = self.released // self.batch_size if self.batch_size else 0
            self.released += 1
        else:
            got = self.inbox.take()
            if got is EMPTY:
                self._set("starved", self.starved_reason)
                got = yield from self._wait(self.inbox.wait_take())
            part = int(got)  # type: ignore[call-overload]
        self.received += 1
        return part

    def _finish(self) -> bool:
        self.total += 1
        scrap = self.spec.scrap_rate > 0 and self.scrap_rng.random() < self.spec.scrap_rate
        if scrap:
            self.scrap += 1
        else:
            self.good += 1
        if not self.legacy:
            r = self.resume
            self.emitter.emit(
                "count",
                {
                    "total": r.total + self.total,
                    "good": r.good + self.good,
                    "scrap": r.scrap + self.scrap,
                },
            )
        return not scrap

    def _wait(self, ev: simpy.Event) -> Generator[simpy.Event, Any, Any]:
        """Wait for a flow event; an injected breakdown is served, then the wait goes on."""
        while True:
            try:
                return (yield ev)
            except simpy.Interrupt as irq:
                yield from self._serve(irq)

    def _spend(self, duration_s: float, wear: bool) -> Generator[simpy.Event, Any, None]:
        """Spend `duration_s` of production time; with `wear`, the machine may break meanwhile."""
        env = self.env
        remaining = duration_s
        while remaining > EPS_S:
            seg = self.calendar.current(env.now)
            if seg.kind != PRODUCTION:
                try:
                    yield env.timeout(seg.end_s - env.now)
                except simpy.Interrupt as irq:
                    yield from self._serve(irq)
                continue
            dt = min(remaining, seg.end_s - env.now)
            fails = wear and self.ttf_s <= dt
            if fails:
                dt = self.ttf_s
            t0 = env.now
            try:
                yield env.timeout(dt)
            except simpy.Interrupt as irq:
                done = env.now - t0
                remaining -= done
                if wear:
                    self.ttf_s -= done
                yield from self._serve(irq)
                continue
            remaining -= dt
            if wear:
                self.ttf_s -= dt
            if fails:
                yield from self.break_down()

    def _serve(self, irq: simpy.Interrupt) -> Generator[simpy.Event, Any, None]:
        reason, repair_s = irq.cause
        self._injected = False
        yield from self.break_down(reason, repair_s)

    def break_down(
        self, reason: str | None = None, repair_s: float | None = None
    ) -> Generator[simpy.Event, Any, None]:
        if reason is None:
            reasons, weights = zip(*self.kind.failure_modes, strict=True)
            reason = self.fail_rng.choices(reasons, weights)[0]
        back_to, back_reason = self.proc_state, self.proc_reason
        self._set("down", reason)
        if repair_s is None:
            repair_s = self.fail_rng.expovariate(1.0 / self.mttr_s) if self.mttr_s > 0 else 0.0
        self.failures.append((self.env.now, repair_s, reason))
        yield from self.repair(repair_s)
        self.ttf_s = self._draw_ttf()
        self._set(back_to, back_reason)

    def repair(self, repair_s: float) -> Generator[simpy.Event, Any, None]:
        yield from self._spend(repair_s, wear=False)

    # -- live changes (commands) ------------------------------------------------------------

    def inject_breakdown(self, reason: str, repair_s: float) -> None:
        """Break down now, whatever the machine is doing (a running part resumes afterwards)."""
        if self.proc_state == "down" or self._injected:
            raise ValueError(f"{self.id} is already down")
        self._injected = True
        self.process.interrupt((reason, repair_s))

    def apply_spec(self, spec: StationSpec) -> None:
        """Take new parameters from now on (validated by the caller)."""
        self.spec = spec
        self.cycle = Draw(spec.cycle, 1.0, self.rng)
        self.setup = Draw(spec.setup_min, 60.0, self.rng) if spec.setup_min else None
        mtbf_s = spec.mtbf_min * 60.0 if spec.mtbf_min else math.inf
        if mtbf_s != self.mtbf_s:
            self.mtbf_s = mtbf_s
            # Exponential time to failure is memoryless: redrawing is exact.
            self.ttf_s = self._draw_ttf()
        self.mttr_s = spec.mttr_min * 60.0 if spec.mttr_min else 0.0

    def _draw_ttf(self) -> float:
        return self.fail_rng.expovariate(1.0 / self.mtbf_s) if self.mtbf_s < math.inf else math.inf

    # -- telemetry -------------------------------------------------------------------------

    def sample(self, alphas: list[float], ts_ms: int) -> None:
        """Emit power and process values; `alphas` are the lag factors for one interval."""
        state = self.state or "off"
        power = self.power_kw[state]
        rnd = self.noise_rng.random
        if power > 0:
            # Irwin-Hall(3) noise: bell-shaped, unit sd, a quarter of the cost of gauss().
            power *= 1.0 + 0.04 * (rnd() + rnd() + rnd() - 1.5)
        body: dict[str, Any] = {"power_kw": round(power, 3)}
        if not self.legacy:
            values = self.values
            cls = 0 if state == "running" else 2 if state == "off" else 1
            for i, pv in enumerate(self.kind.values):
                target = pv.running if cls == 0 else pv.off if cls == 2 else pv.powered
                v = values[i] + (target - values[i]) * alphas[i]
                values[i] = v
                if cls != 2 or target != 0.0:
                    v += pv.noise_sd * 2.0 * (rnd() + rnd() + rnd() - 1.5)
                    if v < 0.0:
                        v = 0.0
                body[pv.name] = round(v, 2)
        self.emitter.emit("telemetry", body, ts_ms)

    def sample_energy(self, ts_ms: int) -> None:
        if not self.legacy:
            self.emitter.emit("energy", {"energy_kwh": self.meter_reading_kwh()}, ts_ms)

    def meter_reading_kwh(self) -> float:
        """What the cumulative meter shows: this run's energy on top of an earlier run's."""
        return round(self.resume.energy_kwh + self.meter_kwh(), 4)
