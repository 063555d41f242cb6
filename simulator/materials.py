"""Raw material in front of a line's first station, its reorder policy and its suppliers
(issue 12; docs/architecture.md, Materials and the supply chain).

Each line that uses a material keeps its own `Inventory` of it. The first station draws what a
part uses before it starts the part (`LineSupply.draw`, called from Station._take); an
inventory short of it leaves the station `starved` with reason `no material: <id>` until a
delivery brings enough. Orders follow the material's policy:

- (s, Q), continuous review: whenever the inventory position (on hand plus on order) is at or
  below `reorder_point` (s), `reorder_qty` (Q) is ordered, as often as needed to lift it above;
- a fixed schedule: `qty` every `every_h` hours, whatever the stock.

A supplier delivers each order after a lead time drawn from its distribution; a share of its
deliveries comes late (an exponential extra delay of mean `late_h`) and a share short (only
`short_fraction` of the quantity; the rest never comes, so the position drops and (s, Q)
orders again). Each delivery is a message on the first station's `material` channel.

Randomness: one stream per line and material (`random.Random(f"{seed}/{line}/material/{id}")`),
made only when the line uses materials, so a config without them draws exactly what it drew
before (tests/simulator/test_golden.py) and editing one line's supply leaves the others' luck
alone. Every draw of an order (lead time, outcome, delay) is made when it is placed. A
restart draws from streams of its own (simulator.resume.restart_stream).
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

from shopfloor.config.schema import LeadTime, Line, Material, PlantConfig
from shopfloor.config.schema import Supplier as SupplierSpec
from shopfloor.contract import MATERIAL_CHANNEL
from simulator.resume import restart_stream

if TYPE_CHECKING:
    from simulator.station import Station

NO_MATERIAL = "no material: {}"


def no_material(material: str) -> str:
    """The starved reason of a line waiting for `material` (shopfloor/words.py words it)."""
    return NO_MATERIAL.format(material)


class LeadTimeDraw:
    """Lead times in seconds from a supplier's `lead_time_h`."""

    __slots__ = ("dist", "mean_s", "mu", "rng", "sigma")

    def __init__(self, spec: LeadTime, rng: random.Random):
        self.rng = rng
        self.dist = spec.dist
        self.mean_s = spec.mean * 3600.0
        self.sigma = self.mu = 0.0
        if spec.dist == "lognormal":
            cv = spec.cv or 1.0
            self.sigma = math.sqrt(math.log1p(cv * cv))
            self.mu = math.log(self.mean_s) - self.sigma * self.sigma / 2.0

    def __call__(self) -> float:
        if self.dist == "exponential":
            return self.rng.expovariate(1.0 / self.mean_s)
        if self.dist == "lognormal":
            return self.rng.lognormvariate(self.mu, self.sigma)
        return self.mean_s


@dataclass
class Delivery:
    """One order and how it came: the ground truth of the `material` messages."""

    ordered_s: float
    qty: int
    lead_time_s: float
    late: bool
    short: bool
    delivered: int
    arrived_s: float | None = None
    level: int = 0  # on hand once it is in
    found_waiting: bool = False  # the line was starved for this material when it came


@dataclass
class Inventory:
    """Units of one material on hand in front of a line's first station."""

    env: simpy.Environment
    spec: Material
    supplier: SupplierSpec
    station: Station
    rng: random.Random
    level: int = 0
    on_order: int = 0
    resumed: int | None = None  # units on hand an earlier run left (simulator.resume)
    deliveries: list[Delivery] = field(default_factory=list)
    stockouts: int = 0  # times the line found too little and started waiting
    waiting: bool = False
    _arrived: simpy.Event | None = None

    def __post_init__(self) -> None:
        self.id = self.spec.id
        self.level = self.spec.initial if self.resumed is None else self.resumed
        self.lead_time = LeadTimeDraw(self.supplier.lead_time_h, self.rng)
        self.reason = no_material(self.id)
        if self.spec.schedule is not None:
            self.env.process(self.scheduled())
        else:
            self.review()

    @property
    def position(self) -> int:
        return self.level + self.on_order

    # -- the line's side -------------------------------------------------------------------

    def take(self, qty: int) -> bool:
        """Take `qty` units if they are on hand (then review the policy); False if not."""
        if self.level < qty:
            return False
        self.level -= qty
        if self.spec.schedule is None:
            self.review()
        return True

    def arrival(self) -> simpy.Event:
        """An event that fires at the next delivery."""
        if self._arrived is None:
            self._arrived = self.env.event()
        return self._arrived

    # -- ordering --------------------------------------------------------------------------

    def review(self) -> None:
        """(s, Q): order Q as often as it takes to lift the position above s."""
        s, q = self.spec.reorder_point, self.spec.reorder_qty
        if s is None or q is None:
            return
        while self.position <= s:
            self.order(q)

    def short_of(self, qty: int) -> None:
        """(s, Q) with a part needing more than s + 1 units: on hand can sit above s and below
        what a part needs, with nothing on order; order Q until enough is coming."""
        q = self.spec.reorder_qty
        if q is None:
            return  # a fixed schedule delivers again anyway
        while self.position < qty:
            self.order(q)

    def scheduled(self) -> Generator[simpy.Event, Any, None]:
        sched = self.spec.schedule
        assert sched is not None
        yield self.env.timeout(sched.first_h * 3600.0)
        while True:
            self.order(sched.qty)
            yield self.env.timeout(sched.every_h * 3600.0)

    def order(self, qty: int) -> None:
        sup = self.supplier
        lead_s = self.lead_time()
        u = self.rng.random()
        late = u < sup.late_share
        short = not late and u < sup.late_share + sup.short_share
        if late:
            assert sup.late_h is not None
            lead_s += self.rng.expovariate(1.0 / (sup.late_h * 3600.0))
        delivered = int(qty * sup.short_fraction) if short else qty
        d = Delivery(self.env.now, qty, lead_s, late, short, delivered)
        self.on_order += qty
        self.deliveries.append(d)
        self.env.process(self.deliver(d))

    def deliver(self, d: Delivery) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(d.lead_time_s)
        self.on_order -= d.qty
        self.level += d.delivered
        d.arrived_s = self.env.now
        d.level = self.level
        d.found_waiting = self.waiting
        self.station.emitter.emit(
            MATERIAL_CHANNEL,
            {
                "material": self.id,
                "supplier": self.supplier.id,
                "ordered": d.qty,
                "delivered": d.delivered,
                "late": d.late,
                "short": d.short,
                "level": self.level,
                "lead_time_s": round(d.lead_time_s, 3),
            },
        )
        ev, self._arrived = self._arrived, None
        if ev is not None:
            ev.succeed()
        if self.spec.schedule is None:
            self.review()  # a short delivery leaves the position lower than was ordered for


class LineSupply:
    """The inventories of one line and what each of its parts uses."""

    def __init__(
        self,
        env: simpy.Environment,
        cfg: PlantConfig,
        line: Line,
        station: Station,
        seed: int,
        levels: dict[str, int] | None = None,
        resumed_seq: int = 0,
    ):
        self.line_id = line.id
        # A line's `materials:` is what each part uses; a product's own `materials:` replaces
        # it for that product's parts (issue 12, orders: the first station's product_id is the
        # product of the part it draws, set by the order gate before this one).
        self.bill: dict[str, int] = dict(line.materials or {})
        self.bills: dict[str | None, dict[str, int]] = {
            p.id: dict(p.materials) for p in cfg.products if p.line == line.id and p.materials
        }
        materials = {m.id: m for m in cfg.materials}
        suppliers = {s.id: s for s in cfg.suppliers}
        self.inventories: dict[str, Inventory] = {}
        for mid in sorted(self._used(cfg, line)):
            spec = materials[mid]
            self.inventories[mid] = Inventory(
                env,
                spec,
                suppliers[spec.supplier],
                station,
                random.Random(restart_stream(f"{seed}/{line.id}/material/{mid}", resumed_seq)),
                resumed=(levels or {}).get(mid),
            )

    @staticmethod
    def _used(cfg: PlantConfig, line: Line) -> set[str]:
        used = set(line.materials or {})
        for p in cfg.products:
            if p.line == line.id:
                used |= set(p.materials or {})
        return used

    def draw(self, station: Station) -> Generator[simpy.Event, Any, None]:
        """Take what one part uses, waiting (starved) for whatever is short."""
        product = getattr(station, "product_id", None)
        for mid, qty in self.bills.get(product, self.bill).items():
            inv = self.inventories[mid]
            while not inv.take(qty):
                inv.short_of(qty)
                inv.stockouts += 1
                inv.waiting = True
                station._set("starved", inv.reason)
                try:
                    yield from station._wait(inv.arrival())
                finally:
                    inv.waiting = False


def line_supply(
    env: simpy.Environment,
    cfg: PlantConfig,
    line: Line,
    station: Station,
    seed: int,
    levels: dict[str, int] | None = None,
    resumed_seq: int = 0,
) -> LineSupply | None:
    """The supply of a line whose parts use material, else None (nothing is built, drawn or
    sent: today's behaviour). `levels`: units on hand per material an earlier run left (a
    restart, simulator.resume; open purchase orders are not carried over); `resumed_seq`:
    the first station's stored seq there, which names the restart's streams."""
    if not LineSupply._used(cfg, line):
        return None
    return LineSupply(env, cfg, line, station, seed, levels, resumed_seq)


def supply_facts(st: Station) -> dict[str, Any]:
    """The ground truth a station adds to its report entry when its plant uses materials:
    `loss_reasons_s` ({state: {reason: seconds}}, every state but running) and, for a first
    station with a supply, `deliveries` (those that came, as the `material` messages say)."""
    out: dict[str, Any] = {}
    if st.loss_s is not None:
        by: dict[str, dict[str, float]] = {}
        for (state, reason), secs in st.loss_s.items():
            if state != "running" and secs > 0:
                by.setdefault(state, {})[reason] = by.get(state, {}).get(reason, 0.0) + secs
        out["loss_reasons_s"] = by
    if st.supply is not None:
        start_ms = st.emitter.start_ms
        out["deliveries"] = [
            {
                "ts": start_ms + round(d.arrived_s * 1000.0),
                "material": inv.id,
                "supplier": inv.supplier.id,
                "ordered": d.qty,
                "delivered": d.delivered,
                "late": d.late,
                "short": d.short,
                "level": d.level,
            }
            for inv in st.supply.inventories.values()
            for d in inv.deliveries
            if d.arrived_s is not None
        ]
        out["deliveries"].sort(key=lambda d: d["ts"])
    return out
