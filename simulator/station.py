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
from typing import TYPE_CHECKING, Any

import simpy

from shopfloor.config.schema import CycleTime
from shopfloor.config.schema import Station as StationSpec
from shopfloor.kpi import STATES
from shopfloor.shifts import OFF, PLANNED_STOP, PRODUCTION
from simulator.buffer import EMPTY, Buffer
from simulator.calendar import EPS_S, SimCalendar
from simulator.emitter import MachineEmitter
from simulator.kinds import KINDS
from simulator.materials import LineSupply
from simulator.meter import StrokeMeter
from simulator.resume import Resume, carried_values

if TYPE_CHECKING:
    from simulator.maintenance import Wear
    from simulator.orders import LineOrders

CALENDAR_REASON = {OFF: "outside shift", PLANNED_STOP: "break"}
# What a station is while it waits (for an order, material or a part) on a line with orders.
WAITING = ("idle", "starved")
# Where calendar maintenance interrupts a station (simulator/maintenance.py): it waits, so it
# is between parts; PM_DUE is that interrupt's cause (an injected breakdown's is a tuple).
PM_WAITS = ("idle", "starved", "blocked")
PM_DUE = "preventive maintenance due"


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
        # A legacy meter that sees each stroke (issue 12): set by the plant for `meter:`.
        self.meter: StrokeMeter | None = None
        # Work orders (issue 12, simulator/orders.py): the line's order book when it makes
        # products; what this station works on now (the first: the order it starts).
        self.orders: LineOrders | None = None
        self.order_id: str | None = None
        self.product_id: str | None = None
        self.order_pos = 0
        self.ideal_work_s = 0.0  # sum of each finished part's ideal cycle
        self.ideal_now = spec.ideal_cycle_s
        self.scrap_rate = spec.scrap_rate  # the product's, with orders
        # Raw material in front of a first station (issue 12, simulator/materials.py): set by
        # the plant for a line with `materials:`.
        self.supply: LineSupply | None = None
        # Seconds per (state, reason), kept when the plant asks (issue 12: starvation by
        # cause in the ground truth); None costs one test per state change.
        self.loss_s: dict[tuple[str, str], float] | None = None
        self.reason = ""
        self.power_kw = spec.power_kw.by_state()
        self.kind = KINDS[spec.kind]

        self.cycle = Draw(spec.cycle, 1.0, rng)
        self.setup = Draw(spec.setup_min, 60.0, rng) if spec.setup_min else None
        self.mtbf_s = spec.mtbf_min * 60.0 if spec.mtbf_min else math.inf
        self.mttr_s = spec.mttr_min * 60.0 if spec.mttr_min else 0.0
        # Maintenance and wear (issue 12, simulator/maintenance.py): set by the plant for
        # `maintenance:`/`tool_wear:`; None keeps every hook below to one test.
        self.wear: Wear | None = None
        self.wear_h = 0.0  # running hours since the last maintenance or repaired failure
        self.precursor_s = -math.inf  # remaining ttf at which the armed precursor starts
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
        # Process values lag toward their state's target from where they are: cold, or where
        # an earlier run's last sample left them, cooled over the time since (a restart).
        self.values = carried_values(self.resume, self.kind, emitter.start_ms)
        self.stream = ""  # the name of its random stream, set by the plant (maintenance's)
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
        if state == self.state and reason == self.reason:
            return
        self._accrue()
        self.state = state
        self.reason = reason
        if not self.legacy:
            self.emitter.emit("state", {"state": state, "reason": reason})

    def _accrue(self) -> None:
        now = self.env.now
        if self.state is not None:
            dt = now - self.since
            self.durations_s[self.state] += dt
            self.energy_kwh += self.power_kw[self.state] * dt / 3600.0
            if self.loss_s is not None:
                key = (self.state, self.reason)
                self.loss_s[key] = self.loss_s.get(key, 0.0) + dt
        self.since = now

    def close_books(self) -> None:
        self._accrue()

    def meter_kwh(self) -> float:
        """The energy meter reading now: booked energy plus the current state so far."""
        if self.meter is not None:
            return self._metered_kwh()
        if self.state is None:
            return self.energy_kwh
        return self.energy_kwh + self.power_kw[self.state] * (self.env.now - self.since) / 3600.0

    def _metered_kwh(self) -> float:
        """meter_kwh with the strokes' extra energy (simulator/meter.py)."""
        assert self.meter is not None
        kwh = self.energy_kwh + self.meter.extra_kwh(self.env.now)
        if self.state is not None:
            kwh += self.power_kw[self.state] * (self.env.now - self.since) / 3600.0
        return kwh

    # -- processes -----------------------------------------------------------------------

    def work(self) -> Generator[simpy.Event, Any, None]:
        while True:
            if self.wear is not None and self.wear.due():
                yield from self.wear.stop()  # tool change, preventive maintenance
            part = yield from self._take()
            if self.orders is not None:
                if part != self.batch:
                    yield from self.orders.prepare(self, part)  # changeover by sequence
            elif self.setup is not None and part != self.batch:
                if self.batch is not None:
                    self._set("setup", "changeover")
                    yield from self._spend(self.setup(), wear=False)
                self.batch = part
            self._set("running")
            if self.meter is not None:
                self.meter.stroke(self.env.now)
            yield from self._spend(self.cycle(), wear=True)
            good = self._finish()
            if self.orders is not None:
                self.orders.done(self, part, good)
            if good and self.outbox is not None and not self.outbox.give(part):
                self._set("blocked", "output buffer full")
                yield from self._wait(self.outbox.wait_give(part))

    def _take(self) -> Generator[simpy.Event, Any, int]:
        if self.inbox is None:
            if self.orders is not None:
                # The order gate comes first (idle: no order), then the material gate; the
                # part, and the order with its first part, starts once its material is there.
                part = yield from self.orders.take(self)
                self.released += 1
                if self.supply is not None:
                    yield from self.supply.draw(self)
                self.orders.begin()
            else:
                part = self.released // self.batch_size if self.batch_size else 0
                self.released += 1
                if self.supply is not None:
                    yield from self.supply.draw(self)
        else:
            got = self.inbox.take()
            if got is EMPTY:
                if self.orders is not None:
                    got = yield from self.orders.wait_inbox(self)  # idle or starved
                else:
                    self._set("starved", self.starved_reason)
                    got = yield from self._wait(self.inbox.wait_take())
            part = int(got)  # type: ignore[call-overload]
        self.received += 1
        return part

    def _finish(self) -> bool:
        self.total += 1
        if self.orders is not None:
            self.ideal_work_s += self.ideal_now  # this part's own ideal cycle (its product's)
        if self.wear is not None and self.wear.tool is not None:
            scrap = self.wear.tool_scrap()
        else:
            scrap = self.scrap_rate > 0 and self.scrap_rng.random() < self.scrap_rate
        if scrap:
            self.scrap += 1
        else:
            self.good += 1
        if not self.legacy:
            r = self.resume
            body = {
                "total": r.total + self.total,
                "good": r.good + self.good,
                "scrap": r.scrap + self.scrap,
            }
            if self.orders is not None:
                body["ideal_s"] = round(r.ideal_s + self.ideal_work_s, 3)
            self.emitter.emit("count", body)
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
                    if self.ttf_s < self.precursor_s:
                        self.wear.precursor_started()  # type: ignore[union-attr]
                yield from self._serve(irq)
                continue
            remaining -= dt
            if wear:
                self.ttf_s -= dt
                if self.ttf_s < self.precursor_s:
                    self.wear.precursor_started()  # type: ignore[union-attr]
            if fails:
                yield from self.break_down()

    def _serve(self, irq: simpy.Interrupt) -> Generator[simpy.Event, Any, None]:
        if irq.cause == PM_DUE:
            yield from self.wear.serve_waiting()  # type: ignore[union-attr]
            return
        reason, repair_s = irq.cause
        self._injected = False
        yield from self.break_down(reason, repair_s)

    def break_down(
        self, reason: str | None = None, repair_s: float | None = None
    ) -> Generator[simpy.Event, Any, None]:
        if reason is None:
            if self.wear is not None:
                reason = self.wear.failure_reason()
            else:
                reasons, weights = zip(*self.kind.failure_modes, strict=True)
                reason = self.fail_rng.choices(reasons, weights)[0]
        back_to, back_reason = self.proc_state, self.proc_reason
        self._set("down", reason)
        if repair_s is None:
            repair_s = self.fail_rng.expovariate(1.0 / self.mttr_s) if self.mttr_s > 0 else 0.0
        self.failures.append((self.env.now, repair_s, reason))
        yield from self.repair(repair_s)
        wear = self.wear
        if wear is not None and wear.pm_pending:
            yield from wear.after_repair()  # due during the repair; draws the ttf
        else:
            self.ttf_s = self._draw_ttf()
        if self.orders is not None and back_to in WAITING:
            self.orders.rewait(self, back_to, back_reason)  # the line may have changed
        else:
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
        if self.orders is None:  # with orders, the product's figures come with its next order
            self.scrap_rate = spec.scrap_rate
        mtbf_s = spec.mtbf_min * 60.0 if spec.mtbf_min else math.inf
        if mtbf_s != self.mtbf_s:
            self.mtbf_s = mtbf_s
            # Exponential time to failure is memoryless: redrawing is exact (a Weibull one is
            # redrawn given the running age, exact too: simulator/maintenance.py).
            self.ttf_s = self._draw_ttf()
        self.mttr_s = spec.mttr_min * 60.0 if spec.mttr_min else 0.0

    def _draw_ttf(self) -> float:
        if self.wear is not None:
            return self.wear.draw_ttf()  # Weibull given the age; a precursor's arming
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
            if self.wear is not None:
                self.wear.drift(body)
        self.emitter.emit("telemetry", body, ts_ms)

    def sample_energy(self, ts_ms: int) -> None:
        if not self.legacy:
            self.emitter.emit("energy", {"energy_kwh": self.meter_reading_kwh()}, ts_ms)

    def meter_reading_kwh(self) -> float:
        """What the cumulative meter shows: this run's energy on top of an earlier run's."""
        return round(self.resume.energy_kwh + self.meter_kwh(), 4)
