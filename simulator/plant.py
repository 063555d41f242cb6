"""The plant: lines of stations with buffers, one shift calendar, one telemetry sampler."""

from __future__ import annotations

import math
import random
from collections.abc import Generator
from typing import Any
from zoneinfo import ZoneInfo

import simpy

from shopfloor.config.schema import PlantConfig
from shopfloor.contract import machine_prefix
from shopfloor.shifts import ShiftCalendar
from simulator import orders
from simulator.buffer import Buffer
from simulator.calendar import SimCalendar
from simulator.emitter import MachineEmitter
from simulator.maintenance import attach as attach_wear
from simulator.materials import LineSupply, line_supply
from simulator.meter import attach_meter, meter_birth
from simulator.report import ground_truth
from simulator.resume import Resume, restart_stream
from simulator.sinks import Sink
from simulator.station import Station
from simulator.truth import TruthLedger


class Plant:
    def __init__(
        self,
        env: simpy.Environment,
        cfg: PlantConfig,
        sink: Sink,
        start_ms: int,
        seed: int | None = None,
        resume: dict[str, Resume] | None = None,
    ):
        self.env = env
        self.cfg = cfg
        self.sink = sink
        self.start_ms = start_ms
        self.seed = cfg.seed if seed is None else seed
        self.tz = ZoneInfo(cfg.plant.timezone)
        self.calendar = SimCalendar(ShiftCalendar(cfg.shifts, self.tz), start_ms / 1000.0)
        self.stations: list[Station] = []
        self.lines: dict[str, list[Station]] = {}
        self.supplies: dict[str, LineSupply] = {}  # issue 12, materials: by line
        for line in cfg.lines:
            built: list[Station] = []
            inbox: Buffer | None = None
            for i, spec in enumerate(line.stations):
                last = i == len(line.stations) - 1
                outbox = None if last else Buffer(env, spec.buffer)
                prefix = machine_prefix(
                    cfg.plant.enterprise, cfg.plant.site, line.area, line.id, spec.id
                )
                # A restarted plant continues each machine's seq and meters (simulator.resume).
                start = (resume or {}).get(spec.id, Resume())
                emitter = MachineEmitter(env, sink, prefix, start_ms, start.seq)
                # One stream per station (string seeds hash with SHA-512, stable across runs),
                # so editing one station does not reshuffle every other station's luck.
                stream = restart_stream(f"{self.seed}/{line.id}/{spec.id}", start.seq)
                st = Station(
                    env,
                    spec,
                    line_id=line.id,
                    area=line.area,
                    calendar=self.calendar,
                    emitter=emitter,
                    rng=random.Random(stream),
                    noise_rng=random.Random(f"{stream}/noise"),
                    inbox=inbox,
                    outbox=outbox,
                    upstream_id=built[-1].id if built else None,
                    batch_size=line.batch_size,
                    resume=start,
                )
                st.stream = stream
                if spec.meter is not None:
                    attach_meter(st, spec.meter, cfg, f"{stream}/meter")
                built.append(st)
                self.stations.append(st)
                inbox = outbox
            self.lines[line.id] = built
            # Raw material in front of the first station (issue 12, simulator/materials.py).
            # A restarted plant starts with the units on hand the store implies (resume).
            levels = built[0].resume.inventory
            supply = line_supply(env, cfg, line, built[0], self.seed, levels, built[0].resume.seq)
            if supply is not None:
                built[0].supply = self.supplies[line.id] = supply
        if self.supplies:
            for st in self.stations:
                st.loss_s = {}  # starvation by cause in the ground truth
        # Work orders and products (issue 12, simulator/orders.py): lines that make products.
        self.order_books = orders.build(env, cfg, self.lines, start_ms, self.seed, resume)
        for st in self.stations:
            st.emitter.status(self._birth(st))
            if not st.legacy:
                # The meters' readings at the start (zero, or where an earlier run left them).
                r = st.resume
                count = {"total": r.total, "good": r.good, "scrap": r.scrap}
                if st.orders is not None:  # issue 12: parts' own ideal cycles (contract)
                    count["ideal_s"] = r.ideal_s
                st.emitter.emit("count", count)
                st.emitter.emit("energy", {"energy_kwh": st.meter_reading_kwh()})
        # Stroke meters sample at their own rate (simulator/meter.py), not with the plant.
        self.sampled = [st for st in self.stations if st.meter is None]
        attach_wear(self)  # maintenance and wear (issue 12): stations that configure it
        env.process(self.follow_calendar())
        env.process(self.sample())
        for st in self.stations:
            if st.meter is not None:
                env.process(st.meter.run())
        # The ground truth per quarter hour, for the `truth` command (simulator/truth.py).
        self.truth = TruthLedger(self)

    def _birth(self, st: Station) -> dict[str, Any]:
        spec = st.spec
        line = self.lines[st.line_id]
        return {
            "online": True,
            "kind": spec.kind,
            "position": line.index(st),  # flow order: the last one is what leaves the line
            "line_length": len(line),
            "connectivity": spec.connectivity,
            "ideal_cycle_s": spec.ideal_cycle_s,
            "power_kw": st.power_kw,
            "sample_interval_s": self.cfg.telemetry.sample_interval_s,
            **(meter_birth(st.meter) if st.meter is not None else {}),
        }

    def follow_calendar(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        while True:
            seg = self.calendar.current(env.now)
            yield env.timeout(seg.end_s - env.now)
            for st in self.stations:
                st.refresh()

    def sample(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        tel = self.cfg.telemetry
        every = tel.sample_interval_s
        per_energy = max(1, round(tel.energy_interval_s / every))
        alpha_cache: dict[str, list[float]] = {}
        n = 0
        while True:
            ts_ms = self.start_ms + round(env.now * 1000.0)
            for st in self.sampled:
                alphas = alpha_cache.get(st.spec.kind)
                if alphas is None:
                    alphas = alpha_cache[st.spec.kind] = [
                        1.0 if v.tau_s == 0 else 1.0 - math.exp(-every / v.tau_s)
                        for v in st.kind.values
                    ]
                st.sample(alphas, ts_ms)
            n += 1
            if n % per_energy == 0:
                for st in self.stations:
                    st.sample_energy(ts_ms)
            yield env.timeout(every)

    def close(self, clean: bool = True) -> None:
        """Book every station up to now and publish final meter readings and death."""
        for book in self.order_books.values():
            book.progress()  # orders in flight: their parts so far, for a restart
        for st in self.stations:
            st.close_books()
            if not st.legacy:
                st.emitter.emit("energy", {"energy_kwh": st.meter_reading_kwh()})
            if clean:
                st.emitter.status({"online": False})

    def report(self) -> dict[str, Any]:
        return ground_truth(self)

    def buffer_levels(self) -> dict[str, int]:
        """Parts waiting in each buffer now, keyed by the station that fills it: the truth the
        dashboard's line view derives from counts and states (no message carries it)."""
        return {st.id: len(st.outbox) for st in self.stations if st.outbox is not None}
