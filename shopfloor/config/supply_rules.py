"""Rules that relate the supply keys (issue 12): suppliers, materials and what parts use.

Each finding is (key path, reason), like shopfloor.config.semantics, which calls `findings`.
"""

from __future__ import annotations

from shopfloor.config.schema import PlantConfig

Finding = tuple[str, str]


def _known(ids: list[str]) -> str:
    return ", ".join(sorted(ids)) or "none declared"


def findings(cfg: PlantConfig) -> list[Finding]:
    found: list[Finding] = []
    suppliers: dict[str, int] = {}
    for i, sup in enumerate(cfg.suppliers):
        path = f"suppliers[{i}]"
        if sup.id in suppliers:
            found.append((f"{path}.id", f"duplicate supplier id {sup.id!r}"))
        suppliers.setdefault(sup.id, i)
        lt = sup.lead_time_h
        if lt.dist == "lognormal" and lt.cv is None:
            found.append((f"{path}.lead_time_h.cv", "required when dist is lognormal"))
        if lt.dist != "lognormal" and lt.cv is not None:
            found.append(
                (f"{path}.lead_time_h.cv", f"only a lognormal lead time has a cv ({lt.dist})")
            )
        if sup.late_share > 0 and sup.late_h is None:
            found.append((f"{path}.late_h", "required when late_share is above 0"))
        if sup.late_share + sup.short_share > 1:
            found.append(
                (
                    f"{path}.short_share",
                    f"late_share + short_share is {sup.late_share + sup.short_share:g}, "
                    "at most 1 (a delivery is on time, late or short)",
                )
            )
    materials: dict[str, int] = {}
    for i, mat in enumerate(cfg.materials):
        path = f"materials[{i}]"
        if mat.id in materials:
            found.append((f"{path}.id", f"duplicate material id {mat.id!r}"))
        materials.setdefault(mat.id, i)
        if mat.supplier not in suppliers:
            found.append(
                (
                    f"{path}.supplier",
                    f"unknown supplier {mat.supplier!r} (suppliers: {_known(list(suppliers))})",
                )
            )
        sq = (mat.reorder_point is not None, mat.reorder_qty is not None)
        if mat.schedule is not None:
            if any(sq):
                found.append(
                    (
                        f"{path}.schedule",
                        "give a schedule or reorder_point and reorder_qty, not both",
                    )
                )
        elif sq == (False, False):
            found.append(
                (f"{path}", "needs a reorder policy: reorder_point and reorder_qty, or schedule")
            )
        elif not sq[0]:
            found.append((f"{path}.reorder_point", "required with reorder_qty"))
        elif not sq[1]:
            found.append((f"{path}.reorder_qty", "required with reorder_point"))
    for li, line in enumerate(cfg.lines):
        for mid in line.materials or {}:
            if mid not in materials:
                found.append(
                    (
                        f"lines[{li}].materials.{mid}",
                        f"unknown material {mid!r} (materials: {_known(list(materials))})",
                    )
                )
    for pi, prod in enumerate(cfg.products):
        for mid in prod.materials or {}:
            if mid not in materials:
                found.append(
                    (
                        f"products[{pi}].materials.{mid}",
                        f"unknown material {mid!r} (materials: {_known(list(materials))})",
                    )
                )
    # A material nothing uses would be ordered, stocked and reported for no part: refused,
    # like other config that does nothing (most likely a part's `materials` was forgotten).
    used = {mid for line in cfg.lines for mid in line.materials or {}}
    used |= {mid for prod in cfg.products for mid in prod.materials or {}}
    for mid, i in materials.items():
        if mid not in used:
            found.append(
                (
                    f"materials[{i}]",
                    f"material {mid!r} is used by no line or product (give it in a line's or "
                    "a product's materials, or remove it)",
                )
            )
    return found
