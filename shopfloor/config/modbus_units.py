"""Which Modbus unit id serves each legacy machine's meter (issue 13, docs/modbus.md).

`stations[].modbus_unit` pins a legacy machine's unit id, so a gateway's configuration survives
adding a machine to the plant; a legacy machine without one takes the lowest id not pinned by
another, in config order. The config check (semantics.py) and the simulator's Modbus server
(simulator/modbus) both read this module, so what is validated is what is served.
"""

from __future__ import annotations

from shopfloor.config.schema import PlantConfig

Finding = tuple[str, str]


def unit_ids(cfg: PlantConfig) -> dict[str, int]:
    """Legacy station id -> its unit id (config order); empty with no legacy machine."""
    legacy = [st for _, st in cfg.stations() if st.connectivity == "legacy"]
    pinned = {st.modbus_unit for st in legacy if st.modbus_unit is not None}
    ids: dict[str, int] = {}
    nxt = 1
    for st in legacy:
        if st.modbus_unit is not None:
            ids[st.id] = st.modbus_unit
            continue
        while nxt in pinned:
            nxt += 1
        ids[st.id] = nxt
        nxt += 1
    return ids


def findings(cfg: PlantConfig) -> list[Finding]:
    """modbus_unit only on legacy machines, each unit id once, and no more than 247 meters."""
    found: list[Finding] = []
    owner: dict[int, str] = {}
    count = 0
    for li, line in enumerate(cfg.lines):
        for si, st in enumerate(line.stations):
            path = f"lines[{li}].stations[{si}].modbus_unit"
            if st.connectivity == "legacy":
                count += 1
            if st.modbus_unit is None:
                continue
            if st.connectivity != "legacy":
                found.append(
                    (path, "only for connectivity: legacy (Modbus serves clamp-on meters)")
                )
            elif st.modbus_unit in owner:
                found.append((path, f"unit id {st.modbus_unit} is also {owner[st.modbus_unit]}'s"))
            else:
                owner[st.modbus_unit] = st.id
    if count > 247:
        found.append(("lines", f"{count} legacy machines; Modbus has unit ids 1-247 only"))
    return found
