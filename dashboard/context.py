"""What every page needs: the store, the plant config and its calendar (set once at start)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dashboard.commands import CommandClient
from shopfloor.config.schema import PlantConfig
from shopfloor.shifts import ShiftCalendar
from shopfloor.store.base import Store


@dataclass
class DashContext:
    store: Store
    cfg: PlantConfig | None
    tz: ZoneInfo
    calendar: ShiftCalendar
    refresh_s: float = 5.0
    commands: CommandClient | None = None  # the simulator's cmd topic (--broker)


_CTX: DashContext | None = None


def set_context(ctx: DashContext) -> None:
    global _CTX
    _CTX = ctx


def context() -> DashContext:
    if _CTX is None:
        raise RuntimeError("the dashboard has no store: create it with dashboard.app.create_app")
    return _CTX
