"""The ground truth of any range of a running plant, for the `truth` command (the dashboard's
Truth page puts it beside what the store measured for the same range).

Every quarter hour (epoch-aligned, so whole local quarters in every time zone) the ledger marks
each station's cumulative books: seconds per state (the current state counted up to the mark),
parts total, good and scrap, and its energy. The truth of [a, b) is the difference of two
marks, the same facts `simulator.report` gives for a whole run, in the same report shape.

- A mark is taken half a millisecond before its quarter, so an event of the last millisecond
  (whose ts rounds to the quarter itself) falls after it, as the store's readings at `t - 1`
  put it: an end's counts match what the store counts.
- A range's ends snap down to a mark: `from_ms` to the latest mark at or before it (the run's
  start if earlier), `to_ms` to the latest mark at or before it, or to "now" (the books up to
  the present instant) if it is now or later. The report's `from_ms` and `to_ms` say which
  range it covers; `requested_from_ms` and `requested_to_ms` what was asked.
- `only` some lines: their machines and lines, the plant entry summing just those (a client
  asking a large plant a few lines at a time adds the answers up, shopfloor.report).
- Bounded memory: KEEP_QUARTERS marks (8 days), each one flat array of doubles (13 per
  station): about 18 MB for the 225 stations of config/large.yaml. A range that starts before
  the oldest mark kept starts there (and says so).
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from shopfloor.kpi import STATES
from shopfloor.report import MachineFacts, build_report

if TYPE_CHECKING:
    from simulator.plant import Plant
    from simulator.station import Station

QUARTER_MS = 900_000
KEEP_QUARTERS = 8 * 96
EARLY_S = 0.0005
_N = len(STATES) + 5  # seconds per state, total, good, scrap, kWh, ideal seconds (issue 12)


class TruthError(ValueError):
    pass


def _books(st: Station, now_s: float, out: array) -> None:
    d = st.durations_s
    partial = now_s - st.since if st.state is not None else 0.0
    for s in STATES:
        out.append(d[s] + partial if s == st.state else d[s])
    out.extend((st.total, st.good, st.scrap, st.meter_kwh(), st.ideal_work_s))


class TruthLedger:
    def __init__(self, plant: Plant, keep: int = KEEP_QUARTERS):
        self.plant = plant
        self.marks: deque[tuple[int, array]] = deque(maxlen=keep)
        self.marks.append((plant.start_ms, self._snapshot()))
        plant.env.process(self._mark_quarters())

    def _snapshot(self) -> array:
        now = self.plant.env.now
        out: array = array("d")
        for st in self.plant.stations:
            _books(st, now, out)
        return out

    def now_ms(self) -> int:
        return self.plant.start_ms + round(self.plant.env.now * 1000)

    def _mark_quarters(self) -> Generator[simpy.Event, Any, None]:
        env, start = self.plant.env, self.plant.start_ms
        while True:
            now_ms = start + env.now * 1000.0
            q = (int(now_ms + EARLY_S * 1000) // QUARTER_MS + 1) * QUARTER_MS
            yield env.timeout((q - start) / 1000.0 - EARLY_S - env.now)
            self.marks.append((q, self._snapshot()))

    def _mark_at(self, t_ms: int) -> tuple[int, array]:
        """The latest mark at or before t_ms (the oldest kept if none is)."""
        best = self.marks[0]
        for mark in self.marks:
            if mark[0] > t_ms:
                break
            best = mark
        return best

    def report(
        self, from_ms: int, to_ms: int | None = None, only: list[str] | None = None
    ) -> dict[str, Any]:
        """`only`: those lines' truth (a large plant's whole truth exceeds a reply)."""
        plant = self.plant
        if only is not None:
            known = {st.line_id for st in plant.stations}
            unknown = [lid for lid in only if lid not in known]
            if unknown:
                raise TruthError(f"no line {', '.join(unknown)} in this plant")
        now_ms = self.now_ms()
        if from_ms >= now_ms:
            raise TruthError(f"from_ms {from_ms} is not before the simulation's now ({now_ms})")
        if to_ms is not None and to_ms <= plant.start_ms:
            raise TruthError(f"to_ms {to_ms} is not after this run's start ({plant.start_ms})")
        a_ms, a = self._mark_at(from_ms)
        if to_ms is None or to_ms >= now_ms:
            b_ms, b = now_ms, self._snapshot()
        else:
            b_ms, b = self._mark_at(to_ms)
        if b_ms <= a_ms:
            raise TruthError(
                f"no whole quarter hour between {from_ms} and {to_ms}: the truth is kept per "
                "quarter hour"
            )
        lines: dict[str, list[MachineFacts]] = {}
        for i, st in enumerate(plant.stations):
            if only is not None and st.line_id not in only:
                continue
            o = i * _N
            diff = [b[o + k] - a[o + k] for k in range(_N)]
            lines.setdefault(st.line_id, []).append(
                MachineFacts(
                    id=st.id,
                    line=st.line_id,
                    area=st.area,
                    durations_s=dict(zip(STATES, diff[: len(STATES)], strict=True)),
                    total=round(diff[-5]),
                    good=round(diff[-4]),
                    scrap=round(diff[-3]),
                    # With products, each part's own ideal cycle (simulator/orders.py).
                    ideal_cycle_s=diff[-1] / diff[-5]
                    if st.orders is not None and diff[-5] > 0
                    else st.spec.ideal_cycle_s,
                    energy_kwh=diff[-2],
                    extra={"kind": st.spec.kind, "connectivity": st.spec.connectivity},
                )
            )
        meta = {
            "enterprise": plant.cfg.plant.enterprise,
            "site": plant.cfg.plant.site,
            "timezone": plant.cfg.plant.timezone,
            "start_ms": plant.start_ms,
            "from_ms": a_ms,
            "to_ms": b_ms,
            "requested_from_ms": from_ms,
            "requested_to_ms": to_ms,
            "seed": plant.seed,
        }
        return build_report(lines, meta)
