"""Maintenance and wear of a station (issue 12; keys in shopfloor/config/maintenance.py).

A station with `maintenance:` or `tool_wear:` gets a `Wear` (station.wear); any other station
keeps `wear = None`, and every hook in simulator/station.py is then one attribute test, so
existing configs draw the same numbers and send the same bytes.

- Wear-dependent failures (`weibull_shape` k): the time to failure is Weibull with scale
  lam = MTBF / Gamma(1 + 1/k), so `mtbf_min` stays the mean life of a renewed machine. It is
  drawn given the running age a since the last renewal, exactly, by inverse transform:
  S(a + t) / S(a) = U gives t = lam * ((a / lam)^k - ln U)^(1/k) - a. With k = 1 that is
  -lam ln U, the exponential of a station without the key. A repaired failure renews the
  machine (its age starts again from 0), as preventive maintenance does; an injected breakdown
  (a command) does not: its repair leaves the wear where it was.
- Preventive maintenance (`every_running_h`, `at`): due when the running hours since the last
  one reach the interval, or at each calendar time; it starts at the next part boundary (a
  part in work is finished first) as `planned_stop` "preventive maintenance" for
  `duration_min` of production time, and renews the machine; one that came due during a
  repair starts as the repair ends (the machine is stopped anyway). A station that waits (idle,
  starved, blocked) at its calendar time is at a part boundary: it is interrupted as an
  injected breakdown would interrupt it, maintained at once, then waits again as its line
  now is (LineOrders.rewait).
- Precursors: when the coming failure's mode has one, its process value drifts (linearly, to
  `drift` at the failure) over the last `lead_min` of running time before it. The failure's
  mode is then chosen when its time is drawn, from this module's stream. The ground truth
  lists each failure with the start of its precursor (`maintenance.failures` in the report),
  and every drift that showed (`maintenance.precursor_drifts`: start, end, mode, and whether
  it `ended` in its "failure", was cut by "maintenance" that renewed the machine first, was
  "redrawn" by a live MTBF change, or was still under way at the "run end").
- Tool wear: the value drifts by `drift * n / N` after n of N = `change_every_parts` parts,
  scrap rises from scrap_rate to scrap_rate_worn with (n / N)^2, and after N parts the tool is
  changed (`setup` "tool change", `change_min`).

Drifts show while the machine runs (what a condition monitor or an in-process gauge sees).
All randomness comes from the station's own `wear` stream (seeded like the others), which
exists only when the station has one of the keys.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import simpy

from shopfloor.config.maintenance import PM_REASON, TOOL_CHANGE_REASON
from shopfloor.config.schema import WEEKDAYS
from simulator.station import PM_DUE, PM_WAITS, WAITING

if TYPE_CHECKING:
    from simulator.plant import Plant
    from simulator.station import Station


def weibull_scale(mtbf_s: float, shape: float) -> float:
    return mtbf_s / math.gamma(1.0 + 1.0 / shape)


def weibull_remaining(age_s: float, scale_s: float, shape: float, u: float) -> float:
    """The remaining life of a Weibull(shape, scale) unit that survived to `age_s`, for a
    uniform u in (0, 1]: inverse transform of S(age + t) / S(age) = u."""
    z = (age_s / scale_s) ** shape - math.log(u)
    return scale_s * z ** (1.0 / shape) - age_s


class Wear:
    def __init__(self, st: Station, rng: random.Random, tz: ZoneInfo, start_ms: int):
        self.st = st
        self.env = st.env
        self.rng = rng
        m = st.spec.maintenance
        self.shape = m.weibull_shape if m is not None else None
        self.pm_every_s = (
            m.every_running_h * 3600.0 if m is not None and m.every_running_h else math.inf
        )
        self.pm_s = (m.duration_min or 0.0) * 60.0 if m is not None else 0.0
        self.precursors = dict(m.precursors) if m is not None else {}
        names = [pv.name for pv in st.kind.values]
        self.tool = st.spec.tool_wear
        self.tool_index = names.index(self.tool.value) if self.tool is not None else -1
        self.parts = 0  # since the last tool change

        self.renewed_run_s = 0.0  # running time at the last renewal (repair or maintenance)
        self.last_pm_run_s = 0.0
        self.pm_pending = False
        self.next_reason: str | None = None
        self.pre_name: str | None = None  # the armed precursor's process value
        self.pre_drift = 0.0
        self.pre_start_s: float | None = None
        self.pre_ttf_s = 0.0  # remaining time to failure when the precursor started

        # Ground truth: the precursor's start of each failure the model drew, by its start
        # (station.failures has them all, injected ones too); maintenance windows.
        self.precursor_of: dict[float, float | None] = {}
        self.pm_windows: list[tuple[float, float]] = []
        # Every drift that showed: (start, end, failure mode, how it ended: "failure",
        # "maintenance", "redrawn" by a live MTBF change; open ones end with the run).
        self.drifts: list[tuple[float, float, str, str]] = []
        self._cut_by = "redrawn"
        self._cut_at = 0.0
        self.tool_changes = 0

        st.wear = self
        st.wear_h = 0.0
        resumed = st.resume.wear
        if resumed is not None:
            # A restarted plant (simulator.resume): the machine is as worn as the earlier run
            # left it, not renewed; these clocks count back from the new run's start.
            self.renewed_run_s = -resumed.age_s
            self.last_pm_run_s = -resumed.since_pm_s
            self.parts = resumed.tool_parts
            st.wear_h = resumed.age_s / 3600.0
        st.ttf_s = self.draw_ttf()
        if m is not None and m.at:
            self.env.process(self._calendar(tz, start_ms))

    # -- clocks ---------------------------------------------------------------------------

    def running_s(self) -> float:
        """Running time so far: the books plus the running state under way."""
        st = self.st
        run = st.durations_s["running"]
        if st.state == "running":
            run += self.env.now - st.since
        return run

    def age_s(self) -> float:
        return max(0.0, self.running_s() - self.renewed_run_s)

    def _renew(self) -> None:
        self.renewed_run_s = self.running_s()
        self.st.wear_h = 0.0

    # -- failures -------------------------------------------------------------------------

    def draw_ttf(self) -> float:
        """Running time to the next failure (station._draw_ttf): Weibull given the age, or the
        station's own exponential; arms the coming failure's precursor if it has one."""
        st = self.st
        if st.mtbf_s == math.inf:
            ttf = math.inf
        elif self.shape is None:
            ttf = st.fail_rng.expovariate(1.0 / st.mtbf_s)
        else:
            u = 1.0 - self.rng.random()  # (0, 1]: log(u) is finite
            ttf = weibull_remaining(
                self.age_s(), weibull_scale(st.mtbf_s, self.shape), self.shape, u
            )
        self._arm(ttf)
        return ttf

    def _arm(self, ttf: float) -> None:
        st = self.st
        if self.pre_start_s is not None and self.next_reason is not None:
            end = self._cut_at if self._cut_by == "maintenance" else self.env.now
            self.drifts.append((self.pre_start_s, end, self.next_reason, self._cut_by))
        st.precursor_s = -math.inf
        self.pre_name = None
        self.pre_start_s = None
        self.next_reason = None
        if not self.precursors or ttf == math.inf:
            return
        reasons, weights = zip(*st.kind.failure_modes, strict=True)
        reason = self.rng.choices(reasons, weights)[0]
        self.next_reason = reason
        pre = self.precursors.get(reason)
        if pre is None:
            return
        self.pre_name = pre.value
        self.pre_drift = pre.drift
        lead_s = pre.lead_min * 60.0
        if ttf <= lead_s:  # it starts now: drifting the whole way to the failure
            self.pre_start_s = self.env.now
            self.pre_ttf_s = ttf
        else:
            st.precursor_s = lead_s  # station._spend calls precursor_started when crossed

    def precursor_started(self) -> None:
        """Called by station._spend at the end of the running stretch in which the remaining
        time to failure fell below the lead: the crossing lies that far back in it."""
        st = self.st
        lead_s = st.precursor_s
        self.pre_start_s = self.env.now - (lead_s - st.ttf_s)
        self.pre_ttf_s = lead_s
        st.precursor_s = -math.inf

    def failure_reason(self) -> str:
        """The failure mode of a failure the model drew (station.break_down); renews."""
        st = self.st
        reason = self.next_reason
        if reason is None:
            reasons, weights = zip(*st.kind.failure_modes, strict=True)
            reason = st.fail_rng.choices(reasons, weights)[0]
        self.precursor_of[self.env.now] = self.pre_start_s
        if self.pre_start_s is not None:
            self.drifts.append((self.pre_start_s, self.env.now, reason, "failure"))
        self.pre_name = None
        self.pre_start_s = None
        self.next_reason = None
        self._renew()
        return reason

    # -- planned work between parts -------------------------------------------------------

    def due(self) -> bool:
        """Asked before every part: the cheap tests first."""
        if self.pm_pending:
            return True
        tool = self.tool
        if tool is not None and self.parts >= tool.change_every_parts:
            return True
        every = self.pm_every_s
        return every != math.inf and self.running_s() - self.last_pm_run_s >= every

    def stop(self) -> Generator[simpy.Event, Any, None]:
        """Change the tool and/or maintain the machine, whichever is due."""
        st = self.st
        tool = self.tool
        if tool is not None and self.parts >= tool.change_every_parts:
            st._set("setup", TOOL_CHANGE_REASON)
            yield from st._spend(tool.change_min * 60.0, wear=False)
            self.parts = 0
            self.tool_changes += 1
        if self.pm_pending or self.running_s() - self.last_pm_run_s >= self.pm_every_s:
            yield from self._maintain()

    def _maintain(self) -> Generator[simpy.Event, Any, None]:
        st = self.st
        start = self.env.now
        st._set("planned_stop", PM_REASON)
        yield from st._spend(self.pm_s, wear=False)
        self.pm_pending = False
        self.last_pm_run_s = self.running_s()
        self.pm_windows.append((start, self.env.now))
        self._renew()
        # A drift under way ended as the maintenance began (it shows only while running).
        self._cut_by, self._cut_at = "maintenance", start
        st.ttf_s = self.draw_ttf()
        self._cut_by = "redrawn"

    def after_repair(self) -> Generator[simpy.Event, Any, None]:
        """Maintenance that came due during a repair (station.break_down): done as the repair
        ends, while the machine is stopped anyway, not after the part the breakdown cut
        into; a waiting station then waits again as its line now is. Draws the next time to
        failure in place of the repair's draw."""
        yield from self._maintain()

    def serve_waiting(self) -> Generator[simpy.Event, Any, None]:
        """Calendar maintenance that came while the station waited (station._serve): done
        now, then the station waits again as its line now is (as after a breakdown)."""
        st = self.st
        back_to, back_reason = st.proc_state, st.proc_reason
        yield from self._maintain()
        if st.orders is not None and back_to in WAITING:
            st.orders.rewait(st, back_to, back_reason)
        else:
            st._set(back_to, back_reason)

    def _calendar(self, tz: ZoneInfo, start_ms: int) -> Generator[simpy.Event, Any, None]:
        m = self.st.spec.maintenance
        assert m is not None
        origin_s = start_ms / 1000.0
        day = datetime.fromtimestamp(origin_s, tz).date()
        while True:
            times = sorted(
                {
                    datetime.combine(
                        day, datetime.strptime(w.start, "%H:%M").time(), tz
                    ).timestamp()
                    for w in m.at
                    if WEEKDAYS[day.weekday()] in w.days
                }  # one stop for windows starting together (and one interrupt)
            )
            for t in times:
                wait = t - origin_s - self.env.now
                if wait < 0:
                    continue
                yield self.env.timeout(wait)
                self.pm_pending = True
                st = self.st
                # A station waiting for work (a part, an order, material, room downstream)
                # is at a part boundary: the maintenance starts now, not with its next part.
                # A pending injected breakdown goes first (station._serve then does this).
                if st.proc_state in PM_WAITS and st.state is not None and not st._injected:
                    st.process.interrupt(PM_DUE)
            day += timedelta(days=1)

    # -- tool wear and process values -----------------------------------------------------

    def tool_scrap(self) -> bool:
        """Whether the part just finished is scrap (station._finish, with tool_wear)."""
        tool = self.tool
        assert tool is not None
        w = self.parts / tool.change_every_parts
        self.parts += 1
        base = self.st.scrap_rate  # the station's, or its product's with orders
        p = base + (tool.scrap_rate_worn - base) * w * w
        return p > 0 and self.rng.random() < p

    def drift(self, body: dict[str, Any]) -> None:
        """Add the precursor's and the tool's drifts to a telemetry sample (station.sample)."""
        st = self.st
        st.wear_h = self.age_s() / 3600.0
        if st.state != "running":
            return
        if self.pre_name is not None and self.pre_start_s is not None and self.pre_ttf_s > 0:
            progress = min(1.0, max(0.0, 1.0 - st.ttf_s / self.pre_ttf_s))
            v = body[self.pre_name] + self.pre_drift * progress
            body[self.pre_name] = round(max(0.0, v), 2)
        tool = self.tool
        if tool is not None:
            name = st.kind.values[self.tool_index].name
            v = body[name] + tool.drift * min(1.0, self.parts / tool.change_every_parts)
            body[name] = round(max(0.0, v), 2)

    # -- ground truth ---------------------------------------------------------------------

    def truth(self, start_ms: int) -> dict[str, Any]:
        def ms(s: float) -> int:
            return start_ms + round(s * 1000.0)

        def pre_ms(t: float) -> int | None:
            pre = self.precursor_of.get(t)
            return None if pre is None else ms(pre)

        drifts = list(self.drifts)
        if self.pre_start_s is not None and self.next_reason is not None:
            drifts.append((self.pre_start_s, self.env.now, self.next_reason, "run end"))
        return {
            # injected: a breakdown by command (no precursor, and it renews nothing).
            "failures": [
                {
                    "start_ms": ms(t),
                    "repair_s": repair_s,
                    "reason": reason,
                    "injected": t not in self.precursor_of,
                    "precursor_start_ms": pre_ms(t),
                }
                for t, repair_s, reason in self.st.failures
            ],
            "preventive_maintenance": [
                {"start_ms": ms(a), "end_ms": ms(b)} for a, b in self.pm_windows
            ],
            # Every precursor drift the stream showed, those cut short by maintenance too:
            # an alarm inside one saw a real anomaly (shopfloor/pdm.py).
            "precursor_drifts": [
                {"start_ms": ms(a), "end_ms": ms(b), "reason": reason, "ended": ended}
                for a, b, reason, ended in sorted(drifts)
            ],
            "tool_changes": self.tool_changes,
            "wear_h": self.age_s() / 3600.0,
        }


def attach(plant: Plant) -> None:
    """Give each station with `maintenance:` or `tool_wear:` its Wear and its own stream."""
    for stations in plant.lines.values():
        for st in stations:
            if st.spec.maintenance is None and st.spec.tool_wear is None:
                continue
            rng = random.Random(f"{st.stream}/wear")
            Wear(st, rng, plant.tz, plant.start_ms)
