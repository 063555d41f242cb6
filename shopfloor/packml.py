"""Our machine states as ISA-TR88.00.02 (PackML) states and unit modes (docs/protocols.md, PackML).

PackML distinguishes a machine waiting on something outside itself (Suspended: starved of
parts, blocked by a full buffer) from one stopped by something inside it (Held: a changeover
on this machine) and from a fault (Aborted). A calendar stop is a deliberate Stopped; with no
work order to run the machine is Idle, ready to start. The OPC UA server and the Sparkplug B
publisher both read these tables, so every protocol reports the same PackML state.
"""

from __future__ import annotations

from typing import Final

from shopfloor.kpi import STATES

# PackTags StateCurrent codes (ISA-TR88.00.02-2022, table of states).
STATE_CODES: Final[dict[str, int]] = {
    "Undefined": 0,
    "Clearing": 1,
    "Stopped": 2,
    "Starting": 3,
    "Idle": 4,
    "Suspended": 5,
    "Execute": 6,
    "Stopping": 7,
    "Aborting": 8,
    "Aborted": 9,
    "Holding": 10,
    "Held": 11,
    "Unholding": 12,
    "Suspending": 13,
    "Unsuspending": 14,
    "Resetting": 15,
    "Completing": 16,
    "Complete": 17,
}

# PackTags UnitModeCurrent codes.
UNIT_MODE_CODES: Final[dict[str, int]] = {"Production": 1, "Maintenance": 2, "Manual": 3}

STATE_OF: Final[dict[str, str]] = {
    "running": "Execute",
    "idle": "Idle",  # no released work order: ready, waiting for a start
    "starved": "Suspended",  # external: no part or material from upstream
    "blocked": "Suspended",  # external: downstream buffer full
    "setup": "Held",  # internal: this machine's changeover
    "down": "Aborted",  # a fault; repair is the Clearing/Resetting the model does not split out
    "planned_stop": "Stopped",
    "off": "Stopped",
}
assert set(STATE_OF) == set(STATES), "every state has a PackML state"


def state(our_state: str) -> str:
    """The PackML state name of one of our states (KeyError for an unknown state)."""
    return STATE_OF[our_state]


def state_code(our_state: str) -> int:
    """The PackTags StateCurrent code of one of our states."""
    return STATE_CODES[STATE_OF[our_state]]


def unit_mode(our_state: str, reason: str = "") -> str:
    """Maintenance while preventive maintenance runs, Production otherwise."""
    if our_state == "planned_stop" and reason == "preventive maintenance":
        return "Maintenance"
    return "Production"
