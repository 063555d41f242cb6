"""The plant config schema. Key names are a public interface (docs/architecture.md, The plant
config); units are in names.

Structural rules (types, ranges, unknown keys) live here; rules that relate several keys
(unique ids, breaks inside their shift, actual cycle not faster than ideal) live in
`semantics.py` so each error can name its own key path.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from shopfloor.config.maintenance import Maintenance, ToolWear  # issue 12, maintenance

# Ids become MQTT topic levels and store tags, so they must not contain '/', '+', '#' or spaces.
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]

# Machine kinds with their own process values and failure modes (simulator/kinds.py).
Kind = Literal[
    "cnc",
    "press",
    "injection_molding",
    "assembly",
    "test",
    "packaging",
    "welding",
    "paint",
    "generic",
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlantInfo(Strict):
    enterprise: Id
    site: Id
    timezone: str = "Asia/Ho_Chi_Minh"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {v!r} (use an IANA name such as Asia/Ho_Chi_Minh)"
            ) from None
        return v


class Break(Strict):
    start: ClockTime
    minutes: PositiveFloat


class Shift(Strict):
    name: Id
    start: ClockTime
    end: ClockTime  # an end at or before the start means the shift runs past midnight
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)
    breaks: list[Break] = Field(default_factory=list)


class Telemetry(Strict):
    sample_interval_s: PositiveFloat = 10.0  # power and process values
    energy_interval_s: PositiveFloat = 60.0  # the cumulative energy meter reading


class CycleTime(Strict):
    mean: PositiveFloat
    cv: Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)] = 0.0


class PowerKw(Strict):
    """Electrical power drawn in each state. Unset states fall back to `idle` (a starved,
    blocked or on-break machine stays powered), except `off`, which defaults to 0."""

    running: NonNegFloat
    idle: NonNegFloat
    off: NonNegFloat = 0.0
    down: NonNegFloat | None = None
    setup: NonNegFloat | None = None
    starved: NonNegFloat | None = None
    blocked: NonNegFloat | None = None
    planned_stop: NonNegFloat | None = None

    def by_state(self) -> dict[str, float]:
        def pick(v: float | None) -> float:
            return self.idle if v is None else v

        return {
            "running": self.running,
            "idle": self.idle,
            "starved": pick(self.starved),
            "blocked": pick(self.blocked),
            "down": pick(self.down),
            "setup": pick(self.setup),
            "planned_stop": pick(self.planned_stop),
            "off": self.off,
        }


# Issue 12, brownfield cycle counting (simulator/meter.py, collector/cycles.py).
class Meter(Strict):
    """A legacy machine's clamp-on meter that sees each press stroke: every cycle starts with
    a stroke drawing `stroke_kw` for `stroke_s` on top of the running base load
    (power_kw.running), and the meter reports its mean power over each `sample_s` window."""

    sample_s: PositiveFloat | None = None  # None: telemetry.sample_interval_s
    stroke_kw: PositiveFloat  # power drawn during the stroke (the peak, not the rise)
    stroke_s: PositiveFloat


class Station(Strict):
    id: Id
    kind: Kind = "generic"
    ideal_cycle_s: PositiveFloat
    cycle_s: CycleTime | None = None  # None: runs at exactly the ideal cycle
    mtbf_min: PositiveFloat | None = None  # mean operating time between failures
    mttr_min: PositiveFloat | None = None
    scrap_rate: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.0
    buffer: Annotated[int, Field(ge=1)] = 10
    setup_min: CycleTime | None = (
        None  # changeover time when a new order arrives (number or mean/cv)
    )
    power_kw: PowerKw
    # legacy: a retrofitted clamp-on power meter is all this machine has (power_kw samples only)
    connectivity: Literal["full", "legacy"] = "full"
    meter: Meter | None = None  # legacy only: the power waveform shows each cycle (issue 12)
    # Issue 13: legacy only, its meter's Modbus unit id (shopfloor/config/modbus_units.py);
    # None: the lowest id no other legacy machine pins, in config order.
    modbus_unit: Annotated[int, Field(ge=1, le=247)] | None = None
    # Issue 12, maintenance and wear (shopfloor/config/maintenance.py, simulator/maintenance.py)
    maintenance: Maintenance | None = None
    tool_wear: ToolWear | None = None

    @field_validator("cycle_s", "setup_min", mode="before")
    @classmethod
    def _number_is_deterministic(cls, v: Any) -> Any:
        if isinstance(v, int | float) and not isinstance(v, bool):
            return {"mean": v, "cv": 0.0}
        return v

    @property
    def cycle(self) -> CycleTime:
        return self.cycle_s or CycleTime(mean=self.ideal_cycle_s, cv=0.0)


# KPI targets (issue 10, KPI cards): what the dashboard's cards compare against.
Ratio = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]


class Targets(Strict):
    """Targets of the dashboard's KPI cards; an unset key inherits (a line's from the plant's,
    the plant's from shopfloor.targets.DEFAULTS). OEE, A, P and Q are ratios (0.85 = 85%)."""

    oee: Ratio | None = None
    availability: Ratio | None = None
    performance: Ratio | None = None
    quality: Ratio | None = None
    kwh_per_good_part: PositiveFloat | None = None  # lower is better; none: no colour
    # A KPI short of its target by less than this fraction of the target reads "near".
    near_fraction: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] | None = None


# Materials and the supply chain (issue 12): suppliers, raw materials with their reorder
# policy, and what a part uses (simulator/materials.py; docs/architecture.md, Materials).
class LeadTime(Strict):
    """A supplier's lead time in hours: exponential (memoryless, cv 1), lognormal with `cv`,
    or constant. A bare number is a constant lead time."""

    mean: PositiveFloat
    dist: Literal["exponential", "lognormal", "constant"] = "exponential"
    cv: Annotated[float, Field(gt=0, le=2, allow_inf_nan=False)] | None = None  # lognormal only


class Supplier(Strict):
    id: Id
    lead_time_h: LeadTime
    late_share: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.0  # deliveries late
    late_h: PositiveFloat | None = None  # mean extra delay of a late delivery (exponential)
    short_share: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.0  # delivered short
    # The share of the ordered quantity a short delivery brings (the rest never comes).
    short_fraction: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] = 0.5

    @field_validator("lead_time_h", mode="before")
    @classmethod
    def _number_is_constant(cls, v: Any) -> Any:
        if isinstance(v, int | float) and not isinstance(v, bool):
            return {"mean": v, "dist": "constant"}
        return v


class DeliverySchedule(Strict):
    """A fixed schedule: `qty` ordered every `every_h` hours, the first `first_h` after the start."""

    every_h: PositiveFloat
    qty: Annotated[int, Field(ge=1)]
    first_h: NonNegFloat = 0.0


class Material(Strict):
    """A raw material; each line that uses it keeps its own inventory in front of its first
    station, with this policy: (s, Q), ordering `reorder_qty` whenever the stock on hand plus
    on order falls to `reorder_point`, or a fixed `schedule`."""

    id: Id
    supplier: Id
    initial: Annotated[int, Field(ge=0)] = 0  # on hand at the start, per line
    reorder_point: Annotated[int, Field(ge=0)] | None = None
    reorder_qty: Annotated[int, Field(ge=1)] | None = None
    schedule: DeliverySchedule | None = None


PerPart = dict[Id, Annotated[int, Field(ge=1)]]  # material id -> units one part uses


class Line(Strict):
    id: Id
    area: Id
    batch_size: Annotated[int, Field(ge=1)] | None = None  # parts per order; None: no changeovers
    targets: Targets | None = None  # overrides the plant's targets for this line
    # Raw material each part uses (issue 12), for a line without products.
    materials: PerPart | None = None
    stations: list[Station] = Field(min_length=1)


# Products, changeovers and work orders (issue 12; simulator/orders.py, shopfloor/orders.py,
# rules in shopfloor/config/production.py; docs/architecture.md, Orders and products).
class ProductStation(Strict):
    """A product's own figures at one station; what it leaves out is the station's. A product
    that sets ideal_cycle_s and no cycle_s runs at exactly its ideal cycle there."""

    ideal_cycle_s: PositiveFloat | None = None
    cycle_s: CycleTime | None = None
    scrap_rate: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = None

    @field_validator("cycle_s", mode="before")
    @classmethod
    def _number_is_deterministic(cls, v: Any) -> Any:
        if isinstance(v, int | float) and not isinstance(v, bool):
            return {"mean": v, "cv": 0.0}
        return v


class Product(Strict):
    id: Id
    line: Id  # the line that makes it
    family: Id | None = None  # changeovers may be given per family pair
    stations: dict[Id, ProductStation] = Field(default_factory=dict)  # station id -> figures
    materials: PerPart | None = None  # raw material one part uses (issue 12, materials)


class Changeover(Strict):
    """Sequence-dependent setup: going `from` one product (or family) `to` another takes
    `setup_min` at `station` (or at every station of the line that has setup_min)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: Id = Field(alias="from")
    to: Id
    setup_min: CycleTime
    station: Id | None = None

    @field_validator("setup_min", mode="before")
    @classmethod
    def _number_is_deterministic(cls, v: Any) -> Any:
        if isinstance(v, int | float) and not isinstance(v, bool):
            return {"mean": v, "cv": 0.0}
        return v


LocalDateTime = Annotated[
    str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}[T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")
]


class WorkOrder(Strict):
    """A work order: `quantity` good parts of `product`. Release and due are either local
    date-times in the plant's time zone (`release`, `due`) or hours after the run's start
    (`release_h`, `due_h`); no release means released at the start."""

    id: Id
    product: Id
    quantity: Annotated[int, Field(ge=1)]
    release: LocalDateTime | None = None
    due: LocalDateTime | None = None
    release_h: NonNegFloat | None = None
    due_h: PositiveFloat | None = None


class DemandProduct(Strict):
    orders_per_day: PositiveFloat  # Poisson arrivals, around the clock
    quantity: Annotated[int, Field(ge=1)]  # good parts per order
    due_h: PositiveFloat = 24.0  # due this long after release


class Demand(Strict):
    """Generated orders: for each product, orders arrive (and are released) as a Poisson
    process; `seed` gives the demand its own random stream."""

    seed: int = 0
    products: dict[Id, DemandProduct] = Field(min_length=1)


class Orders(Strict):
    plan: list[WorkOrder] = Field(default_factory=list)
    # A CSV of work orders (columns: WorkOrder's keys), relative to the config file's folder.
    csv: str | None = None
    demand: Demand | None = None


class TariffWindow(Strict):
    period: Id
    start: ClockTime
    end: ClockTime  # at or before the start: runs past midnight into the next day
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)


class Tariff(Strict):
    """A time-of-use electricity tariff in the plant's local time; the first window that
    covers a moment names its period, and `default_period` covers the rest."""

    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "VND"
    price_per_kwh: dict[Id, NonNegFloat] = Field(min_length=1)
    default_period: Id
    windows: list[TariffWindow] = Field(default_factory=list)


class Energy(Strict):
    co2e_kg_per_kwh: NonNegFloat | None = None  # grid emission factor
    tariff: Tariff | None = None


# Alert rules (issue 10, alerts): evaluated by shopfloor/alerts.py in the collector and the
# dashboard; every rule is off until its key is set.
class Alerts(Strict):
    machine_down_min: PositiveFloat | None = None  # a machine down longer than this
    # A line's OEE over the last hour below this ratio (0.6 = 60%), or below its own OEE target
    # (`targets:`) with `line_oee_below: target`: every rule's key holds its threshold.
    line_oee_below: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = None
    # Set by `line_oee_below: target`. Written as a key of its own it is deprecated (a boolean
    # among thresholds), still read, with a warning naming the new spelling.
    line_oee_below_target: bool = False
    demand_limit_kw: PositiveFloat | None = None  # the plant's contracted 15-minute demand

    @model_validator(mode="before")
    @classmethod
    def _target_spelling(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "line_oee_below_target" in data:
            logging.getLogger("shopfloor.config").warning(
                "alerts.line_oee_below_target is deprecated: write `line_oee_below: target` "
                "(or a ratio such as `line_oee_below: 0.6`) instead"
            )
        below = data.get("line_oee_below")
        if isinstance(below, str) and below != "target":
            raise ValueError(
                f"line_oee_below: a ratio above 0 and at most 1 (0.6 = 60%), or target (each "
                f"line's targets.oee), got {below!r}"
            )
        if below == "target":
            if data.get("line_oee_below_target") is False:
                raise ValueError("line_oee_below: target contradicts line_oee_below_target: false")
            data = {**data, "line_oee_below_target": True}
            del data["line_oee_below"]
        return data

    @model_validator(mode="after")
    def _one_oee_threshold(self) -> Alerts:
        if self.line_oee_below is not None and self.line_oee_below_target:
            raise ValueError("set line_oee_below or line_oee_below_target, not both")
        return self


class PlantConfig(Strict):
    plant: PlantInfo
    seed: int = 0
    shifts: list[Shift] | None = None  # None: production 24/7
    telemetry: Telemetry = Field(default_factory=Telemetry)
    energy: Energy = Field(default_factory=Energy)
    targets: Targets = Field(default_factory=Targets)  # the KPI cards' targets (issue 10)
    alerts: Alerts = Field(default_factory=Alerts)  # alert rules (issue 10)
    lines: list[Line] = Field(min_length=1)
    suppliers: list[Supplier] = Field(default_factory=list)  # issue 12, materials
    materials: list[Material] = Field(default_factory=list)  # issue 12, materials
    products: list[Product] = Field(default_factory=list)  # issue 12, orders
    changeovers: list[Changeover] = Field(default_factory=list)  # issue 12, orders
    orders: Orders | None = None  # issue 12, orders: None runs today's endless batches

    def stations(self) -> list[tuple[Line, Station]]:
        return [(line, st) for line in self.lines for st in line.stations]
