"""PackML mapping: every state maps, codes are ISA-TR88's, and waiting is told from faults."""

from __future__ import annotations

import pytest

from shopfloor import packml
from shopfloor.kpi import STATES


@pytest.mark.parametrize("s", STATES)
def test_every_state_has_a_packml_state_and_code(s):
    assert packml.state(s) in packml.STATE_CODES
    assert packml.state_code(s) == packml.STATE_CODES[packml.state(s)]


def test_codes_follow_packtags():
    # PackTags StateCurrent: Stopped 2, Idle 4, Suspended 5, Execute 6, Aborted 9, Held 11.
    assert [packml.state_code(s) for s in ("off", "idle", "starved", "running", "down", "setup")] == [
        2, 4, 5, 6, 9, 11,
    ]  # fmt: skip


def test_external_waits_are_suspended_internal_stops_held_faults_aborted():
    assert packml.state("starved") == packml.state("blocked") == "Suspended"
    assert packml.state("setup") == "Held"
    assert packml.state("down") == "Aborted"


def test_preventive_maintenance_is_maintenance_mode():
    assert packml.unit_mode("planned_stop", "preventive maintenance") == "Maintenance"
    assert packml.unit_mode("planned_stop", "break") == "Production"
    assert packml.unit_mode("running") == "Production"


def test_unknown_state_is_refused():
    with pytest.raises(KeyError):
        packml.state("exploded")
