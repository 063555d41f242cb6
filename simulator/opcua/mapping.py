"""Our machine states as OPC 40001-1 (OPC UA for Machinery) states and modes (docs/opcua.md,
The OPC 40001-1 mapping).

MachineryItemState says whether a machine could and does work; MachineryOperationMode says what
it is set up to do. A machine waiting on its neighbours (starved, blocked) or with no order
(idle) is functional but not executing; a breakdown makes it OutOfService (its repair is
maintenance work); a calendar stop is a deliberate NotExecuting, except preventive maintenance
(OutOfService, Maintenance); outside the shifts it is switched off: NotAvailable.
"""

from __future__ import annotations

from typing import Final

from shopfloor.kpi import STATES

# State numbers of the MachineryItemState_StateMachineType and
# MachineryOperationModeStateMachineType (OPC 40001-1, sections 8.2 and 8.3).
ITEM_STATES: Final[dict[str, int]] = {
    "NotAvailable": 0,
    "OutOfService": 1,
    "NotExecuting": 2,
    "Executing": 3,
}
OPERATION_MODES: Final[dict[str, int]] = {
    "None": 0,
    "Maintenance": 1,
    "Setup": 2,
    "Processing": 3,
}

ITEM_STATE_OF: Final[dict[str, str]] = {
    "running": "Executing",
    "idle": "NotExecuting",
    "starved": "NotExecuting",
    "blocked": "NotExecuting",
    "setup": "NotExecuting",
    "down": "OutOfService",
    "planned_stop": "NotExecuting",
    "off": "NotAvailable",
}
MODE_OF: Final[dict[str, str]] = {
    "running": "Processing",
    "idle": "Processing",
    "starved": "Processing",
    "blocked": "Processing",
    "setup": "Setup",
    "down": "Maintenance",
    "planned_stop": "None",
    "off": "None",
}
assert set(ITEM_STATE_OF) == set(STATES) == set(MODE_OF), "every state is mapped"

MAINTENANCE_REASON = "preventive maintenance"


def item_state(state: str, reason: str = "") -> str:
    """The MachineryItemState of one of our states (preventive maintenance: OutOfService)."""
    if state == "planned_stop" and reason == MAINTENANCE_REASON:
        return "OutOfService"
    return ITEM_STATE_OF[state]


def operation_mode(state: str, reason: str = "") -> str:
    """The MachineryOperationMode of one of our states (preventive maintenance: Maintenance)."""
    if state == "planned_stop" and reason == MAINTENANCE_REASON:
        return "Maintenance"
    return MODE_OF[state]
