"""Work orders and products on a line (issue 12; docs/architecture.md, Orders and products).

A line with products gets a LineOrders book (Plant builds it when the config has `orders:`):
- Releases: planned orders (orders.plan, orders.csv) at their release time, generated ones
  (orders.demand: Poisson arrivals per product, from their own random stream) as they come.
  Released orders wait in a first-in-first-out queue.
- The first station's gate (`take`, called from Station._take before any material gate):
  it hands out the parts of the current order, each started (`begin`) once its material is
  drawn, so an order starts when it is released and its material is there; with none left
  and no released order it is `idle` (reason `no order`) until one is released. An order
  starts ceil(quantity / expected yield) parts (the product's scrap at every station: an
  MES's scrap allowance), so with no scrap it starts exactly its quantity.
- Idle propagates down the line as starvation does: a station that waits on an empty inbox is
  `idle` (no order) while the station before it is, `starved` otherwise.
- The part token passed down the buffers is the order's index in `orders`; a station changing
  order (`prepare`) changes over by the sequence (changeovers[], per product or family pair;
  else the station's setup_min between different products) and takes the product's cycle,
  scrap rate and ideal cycle.
- For other features: `Station.order_id` and `Station.product_id` are what the station works
  on now (the first station: the order it is drawing parts of); `LineOrders.product_of(part)`
  is the product id of a part token, `LineOrders.current` the order being started.
- Telemetry: `order` messages on the first station's topic (shopfloor.contract.OrderPayload);
  a `progress` one for each order in flight with its parts so far, every PROGRESS_EVERY_S
  (simulated) when they changed and as a run ends: a run that is killed (no end) leaves a
  restart at most that much of an order's parts to make again, and the Orders page shows how
  far an order in flight is.
- A restarted plant (simulator.resume, OrderBook): the orders an earlier run left open are
  queued first (those in flight first, by their start), keeping their ids, release, due,
  start, good and scrap; one in flight starts what its remaining quantity needs again (its
  parts that were in the line are lost with the restart). Planned orders the store knows are
  not released again, and generated ids go on after the highest stored.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import simpy

from shopfloor.config import production
from shopfloor.config.schema import Changeover, CycleTime, Line, PlantConfig, Product, WorkOrder
from shopfloor.orders import OrderFacts, orders_report
from simulator.station import Draw

if TYPE_CHECKING:
    from simulator.resume import OrderBook, Resume
    from simulator.station import Station

NO_ORDER = "no order"
PROGRESS_EVERY_S = 900.0  # an order in flight's parts so far, said this often when they changed


@dataclass(slots=True)
class Order:
    index: int
    id: str
    product: int
    quantity: int
    start_qty: int
    release_s: float
    due_s: float
    start_s: float | None = None
    finish_s: float | None = None
    started: int = 0  # parts drawn by the first station
    in_line: int = 0  # started, neither out of the last station nor scrapped
    good: int = 0
    scrap: int = 0
    announced: bool = False  # its `released` message is out
    said: int = 0  # good + scrap in its last `progress` message


class LineOrders:
    def __init__(
        self,
        env: simpy.Environment,
        cfg: PlantConfig,
        line: Line,
        stations: list[Station],
        start_ms: int,
        seed: int,
        resume: OrderBook | None = None,
    ):
        self.env = env
        self.line_id = line.id
        self.stations = stations
        self.start_ms = start_ms
        self.seed = seed
        self.emitter = stations[0].emitter
        self.products: list[Product] = [p for p in cfg.products if p.line == line.id]
        self.pindex = {p.id: i for i, p in enumerate(self.products)}
        self.orders: list[Order] = []
        self.queue: deque[Order] = deque()
        self.current: Order | None = None
        self._waiter: simpy.Event | None = None
        self.wip = 0  # parts started and not yet out or scrapped
        self._wip_area = 0.0
        self._wip_t = 0.0
        families = {p.id: p.family for p in self.products}
        # Per station position, per product: (cycle draw, scrap rate, ideal cycle).
        self.figures: list[list[tuple[Draw, float, float]]] = []
        self.setups: list[dict[tuple[int, int], Draw]] = []
        for pos, st in enumerate(stations):
            spec = st.spec
            figs = []
            for p in self.products:
                ps = p.stations.get(spec.id)
                ideal = ps.ideal_cycle_s if ps and ps.ideal_cycle_s else spec.ideal_cycle_s
                if ps and ps.cycle_s is not None:
                    cycle = ps.cycle_s
                elif ps and ps.ideal_cycle_s is not None:
                    cycle = CycleTime(mean=ps.ideal_cycle_s, cv=0.0)
                else:
                    cycle = spec.cycle
                scrap = ps.scrap_rate if ps and ps.scrap_rate is not None else spec.scrap_rate
                figs.append((Draw(cycle, 1.0, st.rng), scrap, ideal))
            self.figures.append(figs)
            self.setups.append(self._setup_matrix(cfg, st, families))
            st.orders = self
            st.order_pos = pos
            st.ideal_work_s = 0.0
        self.last = stations[-1]
        self._plan(cfg, line, resume)
        self._first_open = 0  # orders before it are all finished
        self.env.process(self.report_progress())

    # -- set-up ------------------------------------------------------------------------------

    def use_streams(self, st: Station, cycle: random.Random, setup: random.Random) -> None:
        """Draw this station's cycles (of every product) and changeovers from these streams
        (what-if runs give each purpose its own: simulator/whatif/engine.py split_streams)."""
        for draw, _, _ in self.figures[st.order_pos]:
            draw.rng = cycle
        for draw in self.setups[st.order_pos].values():
            draw.rng = setup

    def _setup_matrix(
        self, cfg: PlantConfig, st: Station, families: dict[str, str | None]
    ) -> dict[tuple[int, int], Draw]:
        """Setup draw per (from, to) product pair at this station; no entry: no changeover.
        Most specific first: this station's product pair, its family pair, then the same
        for entries without a station (only at stations that have setup_min), then the
        station's setup_min between different products."""
        ids = [p.id for p in self.products]
        sid = st.spec.id
        # (at this station only?, by family?) in the order they are tried.
        tiers = [(True, False), (True, True)]
        if st.spec.setup_min is not None:
            tiers += [(False, False), (False, True)]

        def matches(c: Changeover, a: int, b: int, by_family: bool) -> bool:
            if by_family:
                fa, fb = families[ids[a]], families[ids[b]]
                return fa is not None and fb is not None and (c.from_, c.to) == (fa, fb)
            return (c.from_, c.to) == (ids[a], ids[b])

        out: dict[tuple[int, int], Draw] = {}
        for a in range(len(ids)):
            for b in range(len(ids)):
                pick = None
                for here, by_family in tiers:
                    pick = next(
                        (
                            c.setup_min
                            for c in cfg.changeovers
                            if (c.station == sid if here else c.station is None)
                            and matches(c, a, b, by_family)
                        ),
                        None,
                    )
                    if pick is not None:
                        break
                if pick is None and a != b and st.spec.setup_min is not None:
                    pick = st.spec.setup_min
                if pick is not None and pick.mean > 0:
                    out[(a, b)] = Draw(pick, 60.0, st.rng)
        return out

    def _plan(self, cfg: PlantConfig, line: Line, resume: OrderBook | None) -> None:
        tz = ZoneInfo(cfg.plant.timezone)
        known: set[str] = set()
        self._complete: list[Order] = []
        if resume is not None:
            known = set(resume.finished) | {o.id for o in resume.open}
            self._reopen(resume)
        planned: list[tuple[float, float, WorkOrder]] = []
        for _, wo in production.plan(cfg):
            if wo.product not in self.pindex or wo.id in known:
                continue
            if wo.release is not None:
                rel = (production.local_ms(wo.release, tz) - self.start_ms) / 1000.0
            else:
                rel = (wo.release_h or 0.0) * 3600.0
            if wo.due is not None:
                due = (production.local_ms(wo.due, tz) - self.start_ms) / 1000.0
            else:
                due = (wo.due_h or 0.0) * 3600.0
            # Released before the start: it keeps its true release (lead time counts from
            # it) and is in the queue at the start, with those released then.
            planned.append((rel, due, wo))
        planned.sort(key=lambda t: (max(t[0], 0.0), t[1]))  # stable: plan order breaks ties
        # Orders released at (or before) the start are in the queue before the first station
        # looks (no instant of `idle` at the start); their messages go out when the clock runs.
        while planned and planned[0][0] <= 0.0:
            rel, due, wo = planned.pop(0)
            self.queue.append(self._new(wo.id, wo.product, wo.quantity, rel, due))
        if planned or self.queue or self._complete:
            self.env.process(self._release_plan(planned))
        demand = cfg.orders.demand if cfg.orders is not None else None
        if demand is not None:
            for pid, dp in demand.products.items():
                if pid in self.pindex:
                    n0 = resume.generated.get(pid, 0) if resume is not None else 0
                    seed = f"{self.seed}/orders/{demand.seed}/{line.id}/{pid}"
                    # A restart goes on with new arrivals, not the first run's again.
                    rng = random.Random(f"{seed}/{n0}" if n0 else seed)
                    self.env.process(
                        self._demand(pid, dp.orders_per_day, dp.quantity, dp.due_h, rng, n0)
                    )

    def _reopen(self, resume: OrderBook) -> None:
        """The orders an earlier run left open, in the queue before anything else: those in
        flight first (by their start), then the released ones (by release)."""
        for oo in sorted(
            (o for o in resume.open if o.product in self.pindex),
            key=lambda o: (o.start_ts is None, o.start_ts or 0, o.release_ts, o.id),
        ):
            o = self._new(
                oo.id,
                oo.product,
                oo.quantity,
                (oo.release_ts - self.start_ms) / 1000.0,
                (oo.due_ts - self.start_ms) / 1000.0,
            )
            o.announced = True  # its `released` message is in the store
            if oo.start_ts is not None:
                o.start_s = (oo.start_ts - self.start_ms) / 1000.0
                o.good, o.scrap = oo.good, oo.scrap
                # Its parts that were in the line are lost: it starts what its remaining
                # quantity needs at the expected yield (none if its good parts are enough).
                y = self._expected_yield(o.product)
                left = max(0, oo.quantity - oo.good)
                more = math.ceil(left / y - 1e-9) if y > 0 else left
                o.started = oo.good + oo.scrap
                o.start_qty = o.started + more
                if more == 0:
                    self._complete.append(o)  # finished by _release_plan at the start
                    continue
            self.queue.append(o)

    def _expected_yield(self, product: int) -> float:
        y = 1.0
        for figs in self.figures:
            y *= 1.0 - figs[product][1]
        return y

    def _new(self, oid: str, pid: str, quantity: int, release_s: float, due_s: float) -> Order:
        p = self.pindex[pid]
        y = self._expected_yield(p)
        start_qty = math.ceil(quantity / y - 1e-9) if y > 0 else quantity
        o = Order(len(self.orders), oid, p, quantity, start_qty, release_s, due_s)
        self.orders.append(o)
        return o

    def _release_plan(
        self, planned: list[tuple[float, float, WorkOrder]]
    ) -> Generator[simpy.Event, Any, None]:
        for o in self._complete:
            # Reopened with its good parts all made: it finishes now, once.
            o.finish_s = self.env.now
            self._emit(o, "finished")
        for o in list(self.queue):
            self._announce(o)
        for rel, due, wo in planned:
            if rel > self.env.now:
                yield self.env.timeout(rel - self.env.now)
            self._release(self._new(wo.id, wo.product, wo.quantity, rel, due))

    def _demand(
        self,
        pid: str,
        per_day: float,
        quantity: int,
        due_h: float,
        rng: random.Random,
        n: int = 0,
    ) -> Generator[simpy.Event, Any, None]:
        while True:
            yield self.env.timeout(rng.expovariate(per_day / 86400.0))
            n += 1
            now = self.env.now
            self._release(self._new(f"{pid}-{n:05d}", pid, quantity, now, now + due_h * 3600.0))

    def _announce(self, o: Order) -> None:
        if not o.announced:
            o.announced = True
            self._emit(o, "released")

    def _release(self, o: Order) -> None:
        self.queue.append(o)
        self._announce(o)
        if self._waiter is not None:
            ev, self._waiter = self._waiter, None
            ev.succeed()
            if self.stations[0].proc_state == "down":
                # Broken down (a command) while idle: the line waits for it from now on.
                self._active_down(0)

    # -- the line's flow ----------------------------------------------------------------------

    def product_of(self, part: int) -> str:
        return self.products[self.orders[part].product].id

    def take(self, st: Station) -> Generator[simpy.Event, Any, int]:
        """The first station's order gate: the next part's token, waiting idle for an order."""
        o = self.current
        if o is None or o.started >= o.start_qty:
            if not self.queue:
                st._set("idle", NO_ORDER)
                self._idle_down(0)
                while not self.queue:
                    ev = self._waiter = simpy.Event(self.env)
                    yield from st._wait(ev)
                self._active_down(0)
            o = self.current = self.queue.popleft()
            self._announce(o)
            st.order_id = o.id
            st.product_id = self.products[o.product].id
        # Counted as started by begin(), once the part's material is drawn; until then this
        # part is the next one to start (take is not asked again before begin).
        return o.index

    def begin(self) -> None:
        """The part handed out by `take` starts (its material is there): the order starts
        with its first part, and the part is in the line's WIP."""
        o = self.current
        assert o is not None
        if o.start_s is None:
            o.start_s = self.env.now
            self._emit(o, "started")
        o.started += 1
        o.in_line += 1
        self._wip_step(1)

    def wait_inbox(self, st: Station) -> Generator[simpy.Event, Any, Any]:
        """A station after the first waits for a part: idle while its upstream is idle for
        want of an order, starved otherwise."""
        assert st.inbox is not None
        pos = st.order_pos
        up = self.stations[pos - 1]
        if up.proc_state == "idle" and up.proc_reason == NO_ORDER:
            st._set("idle", NO_ORDER)
            self._idle_down(pos)
        else:
            st._set("starved", st.starved_reason)
        return (yield from st._wait(st.inbox.wait_take()))

    def _idle_down(self, pos: int) -> None:
        for st in self.stations[pos + 1 :]:
            # Still waiting (its taker not yet served): a part handed over this instant
            # would make it run at once, and it must not flicker to idle.
            if st.proc_state != "starved" or st.inbox is None or st.inbox._taker is None:
                break
            st._set("idle", NO_ORDER)

    def _active_down(self, pos: int) -> None:
        for st in self.stations[pos + 1 :]:
            if st.proc_state in ("down", "planned_stop"):
                # Broken down (a command) or maintained while waiting: not idle, so those
                # after it wait for it (starved); it comes back as the line is then (rewait).
                continue
            if st.proc_state != "idle" or st.proc_reason != NO_ORDER:
                break
            st._set("starved", st.starved_reason)

    def rewait(self, st: Station, state: str, reason: str) -> None:
        """Back from a breakdown that struck while `st` waited (in `state`, `reason`): the
        first station for an order or material, another for a part, idle or starved as its
        upstream is now, not as it was when the breakdown came."""
        if st.inbox is None:
            if reason == NO_ORDER and self.queue:
                return  # an order came meanwhile: it starts at once, no wait to show
            st._set(state, reason)
            return
        if st.inbox._taker is None:
            return  # its part came meanwhile: it runs at once, no wait to show
        pos = st.order_pos
        up = self.stations[pos - 1]
        if up.proc_state == "idle" and up.proc_reason == NO_ORDER:
            st._set("idle", NO_ORDER)
            self._idle_down(pos)
        else:
            st._set("starved", st.starved_reason)
            self._active_down(pos)

    def prepare(self, st: Station, part: int) -> Generator[simpy.Event, Any, None]:
        """Before working a part of another order: the changeover, then its product's figures."""
        o = self.orders[part]
        prev = st.batch
        if prev is not None:
            setup = self.setups[st.order_pos].get((self.orders[prev].product, o.product))
            if setup is not None:
                st._set("setup", "changeover")
                yield from st._spend(setup(), wear=False)
        st.batch = part
        st.cycle, st.scrap_rate, st.ideal_now = self.figures[st.order_pos][o.product]
        if st.order_pos > 0:
            st.order_id = o.id
            st.product_id = self.products[o.product].id

    def done(self, st: Station, part: int, good: bool) -> None:
        """A part finished at a station (its ideal cycle booked by Station._finish): good and
        passed on, or scrap."""
        if good and st is not self.last:
            return
        o = self.orders[part]
        o.in_line -= 1
        self._wip_step(-1)
        if good:
            o.good += 1
        else:
            o.scrap += 1
        if o.in_line == 0 and o.started >= o.start_qty:
            o.finish_s = self.env.now
            self._emit(o, "finished")

    def _wip_step(self, d: int) -> None:
        now = self.env.now
        self._wip_area += self.wip * (now - self._wip_t)
        self._wip_t = now
        self.wip += d

    # -- telemetry and truth ------------------------------------------------------------------

    def _ms(self, s: float) -> int:
        return self.start_ms + round(s * 1000.0)

    def _emit(self, o: Order, event: str) -> None:
        body: dict[str, Any] = {
            "order_id": o.id,
            "product": self.products[o.product].id,
            "event": event,
            "quantity": o.quantity,
            "release_ts": self._ms(o.release_s),
            "due_ts": max(self._ms(o.due_s), 0),
        }
        if o.start_s is not None:
            body["start_ts"] = self._ms(o.start_s)
        if o.finish_s is not None:
            body["finish_ts"] = self._ms(o.finish_s)
        body["good"] = o.good
        body["scrap"] = o.scrap
        self.emitter.emit("order", body)

    def report_progress(self) -> Generator[simpy.Event, Any, None]:
        """Every PROGRESS_EVERY_S: the orders in flight whose parts changed since they were
        last said."""
        while True:
            yield self.env.timeout(PROGRESS_EVERY_S)
            self.progress(changed_only=True)

    def progress(self, changed_only: bool = False) -> None:
        """Each order in flight's parts so far, for a restart to go on from (simulator.resume)
        and the Orders page; as the run ends, every one of them."""
        orders = self.orders
        while self._first_open < len(orders) and orders[self._first_open].finish_s is not None:
            self._first_open += 1
        for i in range(self._first_open, len(orders)):
            o = orders[i]
            if o.start_s is None or o.finish_s is not None:
                continue
            if changed_only and o.good + o.scrap == o.said:
                continue
            o.said = o.good + o.scrap
            self._emit(o, "progress")

    def facts(self) -> list[OrderFacts]:
        return [
            OrderFacts(
                id=o.id,
                line=self.line_id,
                product=self.products[o.product].id,
                quantity=o.quantity,
                release_ms=self._ms(o.release_s),
                due_ms=self._ms(o.due_s),
                start_ms=None if o.start_s is None else self._ms(o.start_s),
                finish_ms=None if o.finish_s is None else self._ms(o.finish_s),
                good=o.good,
                scrap=o.scrap,
            )
            for o in self.orders
        ]

    def wip_parts_avg(self) -> float:
        now = self.env.now
        area = self._wip_area + self.wip * (now - self._wip_t)
        return area / now if now > 0 else 0.0


def build(
    env: simpy.Environment,
    cfg: PlantConfig,
    lines: dict[str, list[Station]],
    start_ms: int,
    seed: int,
    resume: dict[str, Resume] | None = None,
) -> dict[str, LineOrders]:
    """An order book per line that makes a product, when the config has orders; else none
    (and every station keeps today's endless batches). `resume`: what an earlier run left,
    by machine (a line's book is its first station's)."""
    if cfg.orders is None:
        return {}
    made = {p.line for p in cfg.products}
    out = {}
    for line in cfg.lines:
        if line.id in made:
            first = (resume or {}).get(lines[line.id][0].id)
            book = first.orders if first is not None else None
            out[line.id] = LineOrders(env, cfg, line, lines[line.id], start_ms, seed, book)
    return out


def ideal_cycle_s(st: Station) -> float:
    """The ideal cycle the performance KPI takes: with products, the count-weighted mean of
    each part's own (P = sum ideal x count / run time), else the station's."""
    if getattr(st, "orders", None) is None or st.total == 0:
        return st.spec.ideal_cycle_s
    return st.ideal_work_s / st.total


def orders_truth(books: dict[str, LineOrders], start_ms: int, end_ms: int) -> dict[str, Any]:
    """The `orders` part of the ground truth (shopfloor.orders.orders_report over the run),
    with what only the simulator knows: the parts in each line's WIP (time-averaged, at the
    end)."""
    out = orders_report(
        [f for book in books.values() for f in book.facts()], start_ms, end_ms, list(books)
    )
    for lid, book in books.items():
        out["lines"][lid]["wip_parts_avg"] = book.wip_parts_avg()
        out["lines"][lid]["wip_parts_end"] = book.wip
    return out
