"""Rules that relate several keys. Each finding is (key path, reason)."""

from __future__ import annotations

from shopfloor.config import maintenance, modbus_units, production, supply_rules
from shopfloor.config.schema import PlantConfig, Shift, Station

Finding = tuple[str, str]


def _minutes(clock: str) -> int:
    h, m = clock.split(":")
    return int(h) * 60 + int(m)


def shift_span_min(shift: Shift) -> tuple[int, int]:
    """(start, end) in minutes after the shift day's midnight; end > start (overnight > 1440)."""
    start = _minutes(shift.start)
    end = _minutes(shift.end)
    if end <= start:
        end += 24 * 60
    return start, end


def _break_offset_min(shift: Shift, clock: str) -> int:
    start, _ = shift_span_min(shift)
    t = _minutes(clock)
    return t - start if t >= start else t + 24 * 60 - start


def station_findings(
    st: Station, path: str, batch_size: int | None, batch_path: str
) -> list[Finding]:
    found: list[Finding] = []
    if st.mtbf_min is not None and st.mttr_min is None:
        found.append((f"{path}.mttr_min", "required when mtbf_min is set"))
    if st.mttr_min is not None and st.mtbf_min is None:
        found.append((f"{path}.mtbf_min", "required when mttr_min is set"))
    if st.cycle_s is not None and st.cycle_s.mean < st.ideal_cycle_s:
        found.append(
            (
                f"{path}.cycle_s.mean",
                f"must be >= ideal_cycle_s ({st.ideal_cycle_s:g}), got {st.cycle_s.mean:g}"
                " (the ideal cycle is the fastest the machine can run)",
            )
        )
    if st.setup_min is not None and batch_size is None:
        found.append((f"{path}.setup_min", f"needs {batch_path} (changeovers happen per order)"))
    found += _meter_findings(st, path)
    found += maintenance.findings(st.kind, st.mtbf_min, st.maintenance, st.tool_wear, path)
    return found


def _meter_findings(st: Station, path: str) -> list[Finding]:
    """A stroke meter (issue 12) belongs to a legacy machine, and its strokes must stand out
    from the running load and end before the next cycle starts."""
    meter = st.meter
    if meter is None:
        return []
    found: list[Finding] = []
    if st.connectivity != "legacy":
        found.append(
            (f"{path}.meter", "only for connectivity: legacy (a full machine sends its counts)")
        )
    if meter.stroke_kw <= st.power_kw.running:
        found.append(
            (
                f"{path}.meter.stroke_kw",
                f"must be above power_kw.running ({st.power_kw.running:g}), got "
                f"{meter.stroke_kw:g} (the stroke is a peak on the running load)",
            )
        )
    if meter.stroke_s >= st.ideal_cycle_s:
        found.append(
            (
                f"{path}.meter.stroke_s",
                f"must be shorter than ideal_cycle_s ({st.ideal_cycle_s:g}), got "
                f"{meter.stroke_s:g} (one stroke per cycle)",
            )
        )
    return found


def tariff_findings(cfg: PlantConfig) -> list[Finding]:
    tariff = cfg.energy.tariff
    if tariff is None:
        return []
    known = ", ".join(sorted(tariff.price_per_kwh))
    found: list[Finding] = []
    if tariff.default_period not in tariff.price_per_kwh:
        found.append(
            (
                "energy.tariff.default_period",
                f"{tariff.default_period!r} has no price (priced: {known})",
            )
        )
    for i, w in enumerate(tariff.windows):
        if w.period not in tariff.price_per_kwh:
            found.append(
                (
                    f"energy.tariff.windows[{i}].period",
                    f"{w.period!r} has no price (priced: {known})",
                )
            )
        if w.start == w.end:
            found.append((f"energy.tariff.windows[{i}].end", "must differ from start"))
    return found


def check(cfg: PlantConfig) -> list[Finding]:
    found: list[Finding] = []
    seen_lines: dict[str, int] = {}
    seen_stations: dict[str, str] = {}
    for li, line in enumerate(cfg.lines):
        if line.id in seen_lines:
            found.append((f"lines[{li}].id", f"duplicate line id {line.id!r}"))
        seen_lines.setdefault(line.id, li)
        for si, st in enumerate(line.stations):
            path = f"lines[{li}].stations[{si}]"
            if st.id in seen_stations:
                found.append(
                    (
                        f"{path}.id",
                        f"duplicate station id {st.id!r} (first at {seen_stations[st.id]})",
                    )
                )
            seen_stations.setdefault(st.id, path)
            # A line that makes products changes over between its orders (issue 12).
            batch = 1 if production.makes_products(cfg, line.id) else line.batch_size
            found.extend(station_findings(st, path, batch, f"lines[{li}].batch_size"))
    seen_shifts: set[str] = set()
    for hi, shift in enumerate(cfg.shifts or []):
        if shift.name in seen_shifts:
            found.append((f"shifts[{hi}].name", f"duplicate shift name {shift.name!r}"))
        seen_shifts.add(shift.name)
        start, end = shift_span_min(shift)
        length = end - start
        spans: list[tuple[float, float]] = []
        for bi, brk in enumerate(shift.breaks):
            off = _break_offset_min(shift, brk.start)
            if off + brk.minutes > length:
                found.append(
                    (
                        f"shifts[{hi}].breaks[{bi}]",
                        f"break {brk.start}+{brk.minutes:g} min is not inside shift "
                        f"{shift.start}-{shift.end}",
                    )
                )
            for a, b in spans:
                if off < b and a < off + brk.minutes:
                    found.append((f"shifts[{hi}].breaks[{bi}]", "overlaps an earlier break"))
            spans.append((off, off + brk.minutes))
    found.extend(_shift_overlaps(cfg))
    found.extend(supply_rules.findings(cfg))  # issue 12, materials
    found.extend(production.findings(cfg))  # issue 12, products and orders
    found.extend(modbus_units.findings(cfg))  # issue 13, Modbus meters
    return found


def _shift_overlaps(cfg: PlantConfig) -> list[Finding]:
    """Two shifts may not cover the same minute of the week."""
    from shopfloor.config.schema import WEEKDAYS

    week = 7 * 24 * 60
    owner: dict[int, int] = {}
    found: list[Finding] = []
    for hi, shift in enumerate(cfg.shifts or []):
        start, end = shift_span_min(shift)
        clash = None
        for day in shift.days:
            base = WEEKDAYS.index(day) * 24 * 60
            # Sample at each minute boundary of the shift; shifts are whole minutes.
            for m in range(start, end):
                key = (base + m) % week
                other = owner.get(key)
                if other is not None and other != hi and clash is None:
                    clash = other
                owner[key] = hi
        if clash is not None:
            found.append((f"shifts[{hi}]", f"overlaps shifts[{clash}]"))
    return found + tariff_findings(cfg)
