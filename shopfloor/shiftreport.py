"""The end-of-shift report: a one-page PDF and a CSV per shift, from a store.

What a plant manager pins up after each shift: KPIs per line and station (OEE, A, P, Q, good,
scrap, target), the top losses by reason, energy, its cost by tariff period and CO2e. The CLI
(`shopfloor report`), the demo (at each shift end) and the dashboard's download links all
call `collect` then `csv_bytes` / `pdf_bytes`, so the three can never disagree.

Pure given a store, a config, a shift and a language: nothing here reads the clock. The PDF is
drawn with ReportLab (pure Python; WeasyPrint would need Pango) in DejaVu Sans, shipped in
shopfloor/fonts (its licence beside it), because ReportLab's built-in Helvetica has no
Vietnamese diacritics. Numbers, money and dates go through shopfloor.fmt (Babel, as the
dashboard). The CSV is data for a spreadsheet or a script: plain numbers with a dot and
English column names whatever the language (a Vietnamese decimal comma would clash with the
delimiter); the words are the PDF's.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from shopfloor import fmt, kpi, tariff, words
from shopfloor.config.schema import PlantConfig
from shopfloor.shifts import ShiftCalendar
from shopfloor.store.base import Store
from shopfloor.store.report import energy_by_quarter, loss_durations, report_from_store
from shopfloor.timerange import shift_windows

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"
# The KPI table's rows on the page (plant, lines, stations); a larger plant shows its lines and
# its lowest-OEE stations, and says that the CSV has them all.
MAX_TABLE_ROWS = 28
TOP_LOSSES = 8

# The report's own labels. States, reasons, failure modes and tariff periods come from the
# kernel's catalogue (shopfloor.words), the one the dashboard reads too.
TEXT: dict[str, dict[str, str]] = {
    "title": {"en": "End-of-shift report", "vi": "Báo cáo cuối ca"},
    "shift": {"en": "Shift", "vi": "Ca"},
    "plant": {"en": "Plant", "vi": "Nhà máy"},
    "line": {"en": "Line", "vi": "Dây chuyền"},
    "station": {"en": "Station", "vi": "Trạm"},
    "oee": {"en": "OEE", "vi": "OEE"},
    "availability": {"en": "A", "vi": "SS"},
    "performance": {"en": "P", "vi": "HS"},
    "quality": {"en": "Q", "vi": "CL"},
    "good": {"en": "Good", "vi": "Đạt"},
    "scrap": {"en": "Scrap", "vi": "Phế phẩm"},
    "target": {"en": "Target", "vi": "Mục tiêu"},
    "kwh": {"en": "kWh", "vi": "kWh"},
    "kwh_per_good": {"en": "kWh/good", "vi": "kWh/SP đạt"},
    "cost": {"en": "Energy cost", "vi": "Chi phí điện"},
    "co2e": {"en": "CO2e", "vi": "Phát thải CO2e"},
    "kpis": {"en": "KPIs per line and station", "vi": "Chỉ số theo dây chuyền và trạm"},
    "legend": {
        "en": "A availability, P performance, Q quality (ISO 22400); target = planned time / ideal cycle",
        "vi": "SS độ sẵn sàng, HS hiệu suất, CL chất lượng (ISO 22400); mục tiêu = thời gian kế hoạch / chu kỳ lý tưởng",
    },
    "more_stations": {
        "en": "{n} more stations, all in the CSV; shown: the {k} with the lowest OEE",
        "vi": "còn {n} trạm khác, đầy đủ trong tệp CSV; hiển thị {k} trạm có OEE thấp nhất",
    },
    "losses": {"en": "Top losses by reason", "vi": "Tổn thất lớn nhất theo nguyên nhân"},
    "loss_hours": {"en": "Machine hours lost", "vi": "Giờ máy tổn thất"},
    "state": {"en": "State", "vi": "Trạng thái"},
    "reason": {"en": "Reason", "vi": "Nguyên nhân"},
    "hours": {"en": "Hours", "vi": "Giờ"},
    "no_losses": {"en": "No losses recorded.", "vi": "Không ghi nhận tổn thất."},
    "energy": {"en": "Energy", "vi": "Điện năng"},
    "period": {"en": "Tariff period", "vi": "Khung giờ giá"},
    "total": {"en": "Total", "vi": "Tổng"},
    "no_tariff": {
        "en": "No tariff in the config: energy in kWh only.",
        "vi": "Cấu hình không có biểu giá: chỉ hiển thị kWh.",
    },
    "source": {"en": "Source: {store}", "vi": "Nguồn dữ liệu: {store}"},
    "no_data": {
        "en": "No data in the store for this shift.",
        "vi": "Kho dữ liệu chưa có số liệu của ca này.",
    },
    "so_far": {
        "en": "so far, until {time}: the shift is not over",
        "vi": "đến {time}, ca chưa kết thúc",
    },
    "yield": {"en": "Yield", "vi": "Tỷ lệ đạt"},
    "scrap_all": {"en": "Scrap, all stations", "vi": "Phế phẩm, mọi trạm"},
    "rows_note": {
        "en": "Line and plant rows: good, Q and OEE of each line's last station, scrap of all "
        "stations; yield = rolled throughput yield (product of each station's good/total)",
        "vi": "Dòng dây chuyền và nhà máy: đạt, CL và OEE của trạm cuối mỗi dây chuyền, phế "
        "phẩm của mọi trạm; tỷ lệ đạt = tích tỷ lệ đạt/tổng của từng trạm (RTY)",
    },
    "inferred_note": {
        "en": "* inferred: a legacy machine with a power meter only (its running time is "
        "measured, its performance and quality assumed: ideal cycle, no scrap)",
        "vi": "* suy luận: máy đời cũ chỉ có đồng hồ đo công suất (thời gian chạy được đo, "
        "hiệu suất và chất lượng là giả định: chu kỳ lý tưởng, không phế phẩm)",
    },
    "estimated_note": {
        "en": "† kWh estimated in part from sampled power, not read from an energy meter",
        "vi": "† kWh ước tính một phần từ công suất lấy mẫu, không đọc từ công tơ điện",
    },
}


def text(key: str, lang: str) -> str:
    entry = TEXT[key]
    return entry.get(lang, entry["en"])


# --- which shift ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ShiftWindow:
    """One worked shift, breaks included: [t0_ms, t1_ms), named by its local start date."""

    name: str
    day: date
    t0_ms: int
    t1_ms: int

    @property
    def key(self) -> str:
        """2026-11-23/A, as the CLI's --shift and the download route take it."""
        return f"{self.day.isoformat()}/{self.name}"

    @property
    def stem(self) -> str:
        """A file name for it: 2026-11-23_A (a shift name is the config's free text)."""
        return f"{self.day.isoformat()}_{re.sub(r'[^A-Za-z0-9._-]+', '-', self.name)}"


def calendar(cfg: PlantConfig) -> ShiftCalendar:
    return ShiftCalendar(cfg.shifts, ZoneInfo(cfg.plant.timezone))


def shifts_overlapping(cfg: PlantConfig, t0_ms: int, t1_ms: int) -> list[ShiftWindow]:
    """Every whole shift that overlaps [t0_ms, t1_ms), oldest first (a 24/7 plant: its days)."""
    cal = calendar(cfg)
    margin_s = 2 * 86400  # no shift is longer: the windows found are never clipped
    out = []
    for name, a, b in shift_windows(t0_ms / 1000 - margin_s, t1_ms / 1000 + margin_s, cal):
        w = ShiftWindow(
            name or "day",
            datetime.fromtimestamp(a, cal.tz).date(),
            round(a * 1000),
            round(b * 1000),
        )
        if w.t1_ms > t0_ms and w.t0_ms < t1_ms:
            out.append(w)
    return out


def shifts_ended(cfg: PlantConfig, after_ms: int, upto_ms: int) -> list[ShiftWindow]:
    """The shifts whose end falls in (after_ms, upto_ms], oldest first."""
    return [
        w
        for w in shifts_overlapping(cfg, after_ms - 1, upto_ms + 1)
        if after_ms < w.t1_ms <= upto_ms
    ]


def find_shift(cfg: PlantConfig, day: date, name: str) -> ShiftWindow:
    """The shift `name` that starts on the local date `day`; ValueError naming what exists."""
    tz = ZoneInfo(cfg.plant.timezone)
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    t0 = int(start.timestamp() * 1000)
    t1 = int((start + timedelta(days=1)).timestamp() * 1000)
    that_day = [w for w in shifts_overlapping(cfg, t0, t1) if w.day == day]
    for w in that_day:
        if w.name == name:
            return w
    have = ", ".join(w.name for w in that_day) or "none (no shift that day)"
    raise ValueError(f"no shift {name!r} on {day.isoformat()}; shifts that day: {have}")


def parse_shift(cfg: PlantConfig, spec: str) -> ShiftWindow:
    """`2026-11-23/A`: the local date the shift starts on, and its name in the config."""
    day_text, sep, name = spec.partition("/")
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        day = None
    if not sep or not name or day is None:
        raise ValueError(f"{spec!r}: give the shift as DATE/NAME, e.g. 2026-11-23/A")
    return find_shift(cfg, day, name)


# --- is it stored ---------------------------------------------------------------------------


def _stored_before(store: Store, t: int) -> bool:
    """Whether the store holds any reading or state change with ts < t."""
    return bool(
        store.counter_at("energy", t - 1)
        or store.counter_at("count", t - 1)
        or store.last_changes(t)
    )


def has_data(store: Store, window: ShiftWindow) -> bool:
    """Whether the store holds anything of the shift: a reading or a state change in it. A
    shift before the store's first data or after its newest has none (its report would be
    all zeros that look like a real, idle shift)."""
    newest = max((m.last_ts for m in store.machines()), default=0)
    if newest < window.t0_ms or not _stored_before(store, window.t1_ms):
        return False
    return any(
        ts >= window.t0_ms
        for q in (
            store.counter_at("energy", window.t1_ms - 1),
            store.counter_at("count", window.t1_ms - 1),
            store.last_changes(window.t1_ms),
        )
        for ts, *_ in q.values()
    )


def stored_span(store: Store) -> tuple[int, int] | None:
    """(first, newest) ts the store holds, to the second; None when it is empty. The first is
    found by bisection on "anything before t" (the Store protocol has no "oldest" query; 30-odd
    index seeks)."""
    newest = max((m.last_ts for m in store.machines()), default=0)
    if newest <= 0 or not _stored_before(store, newest + 1):
        return None
    lo, hi = 0, newest + 1  # nothing before lo, something before hi
    while hi - lo > 1000:
        mid = (lo + hi) // 2
        if _stored_before(store, mid):
            hi = mid
        else:
            lo = mid
    return lo, newest


# --- the numbers ----------------------------------------------------------------------------


@dataclass
class ShiftData:
    cfg: PlantConfig
    window: ShiftWindow
    report: dict[str, Any]
    losses: list[tuple[str, str, float]]  # (state, reason, seconds), largest first
    kwh_by_period: dict[str, float]  # the whole plant's metered kWh per tariff period
    machine_cost: dict[str, float]  # each machine's energy priced by the period of each quarter
    store_url: str
    # The shift is under way: the store's data (or the clock) ends here, before the shift does.
    until_ms: int | None = None

    @property
    def currency(self) -> str | None:
        e = self.cfg.energy
        return e.tariff.currency if e is not None and e.tariff is not None else None

    def cost_of(self, machines: list[str]) -> float | None:
        if self.currency is None:
            return None
        return sum(self.machine_cost.get(m, 0.0) for m in machines)

    def co2e_of(self, kwh: float) -> float | None:
        return None if self.cfg.energy is None else tariff.co2e_kg(kwh, self.cfg.energy)


# The meters report once a minute: a store whose newest data is within this of the shift's end
# holds the whole shift.
WHOLE_SHIFT_SLACK_MS = 60_000


def collect(
    store: Store, cfg: PlantConfig, window: ShiftWindow, now_ms: int | None = None
) -> ShiftData:
    """The shift's report, losses by reason and metered energy, from the store (StoreError
    when it cannot be read). `now_ms` (the caller's clock): a shift ending after it, or after
    the store's newest data, is reported as under way (`until_ms`)."""
    t0, t1 = window.t0_ms, window.t1_ms
    newest = max((m.last_ts for m in store.machines()), default=0)
    until = newest if now_ms is None else min(newest, now_ms)
    until_ms = max(until, t0) if until < t1 - WHOLE_SHIFT_SLACK_MS else None
    report = report_from_store(store, t0, t1, cfg)
    ends = {
        m.machine: min(t1, m.last_ts + 1) if m.last_ts else t1
        for m in store.machines()
        if m.machine in report["machines"]
    }
    by_reason = loss_durations(store, t0, t1, ends)
    losses = sorted(
        ((s, r, secs) for (s, r), secs in by_reason.items() if secs > 0), key=lambda x: -x[2]
    )
    quarters = {
        m: rows for m, rows in energy_by_quarter(store, t0, t1).items() if m in report["machines"]
    }
    tz = ZoneInfo(cfg.plant.timezone)
    tar = cfg.energy.tariff if cfg.energy is not None else None
    by_period: dict[str, float] = {}
    machine_cost: dict[str, float] = {}
    if tar is not None:
        by_period = dict.fromkeys(tar.price_per_kwh, 0.0)
        for m, rows in quarters.items():
            mine = tariff.kwh_by_period(rows.items(), tar, tz)
            machine_cost[m] = tariff.cost(mine, tar)
            for p, kwh in mine.items():
                by_period[p] += kwh
    return ShiftData(cfg, window, report, losses, by_period, machine_cost, store.url, until_ms)


def rows(data: ShiftData) -> list[tuple[str, str, str, dict[str, Any], list[str]]]:
    """(level, line, station, report entry, the machines whose energy it holds) for the plant,
    each line and each station in flow order."""
    rep = data.report
    out = [("plant", "", "", rep["plant"], list(rep["machines"]))]
    for lid, line in rep["lines"].items():
        out.append(("line", lid, "", line, list(line["stations"])))
        out += [("station", lid, m, rep["machines"][m], [m]) for m in line["stations"]]
    return out


def scrap_of(e: dict[str, Any]) -> int:
    """A line's or the plant's scrap is every station's, as the overview shows it (what the
    last station alone scraps hides the rest); a station's is its own."""
    return int(e.get("scrap_all_stations", e["scrap_count"]))


# The report's keys that a legacy machine's power meter cannot measure (report.INFERRED_FIELDS,
# LINE_WIDE_FIELDS), as the CSV's columns; scrap is a line's all-stations scrap on its rows.
_INFERRED_COLUMNS = {
    "states": ("planned_s", "running_s"), "availability": ("availability",),
    "performance": ("performance",), "quality": ("quality",), "oee": ("oee",),
    "total_count": ("total",), "good_count": ("good", "kwh_per_good"),
    "scrap_count": ("scrap",), "scrap_all_stations": ("scrap",), "yield": ("yield",),
}  # fmt: skip


def inferred_columns(level: str, e: dict[str, Any]) -> list[str]:
    """The CSV columns of this row that are inferred, not measured, in CSV_COLUMNS' order."""
    fields = set(e.get("inferred_fields", []))
    if level != "station":
        fields.discard("scrap_count")  # the row's scrap is every station's
    if yield_of(level, e) is None:
        fields.discard("yield")  # no yield on this row
    cols = {c for f in fields for c in _INFERRED_COLUMNS.get(f, ())}
    return [c for c in CSV_COLUMNS if c in cols]


def yield_of(level: str, e: dict[str, Any]) -> float | None:
    """A line's rolled throughput yield; none for a station (its Q) or the plant."""
    return e.get("yield") if level == "line" else None


CSV_COLUMNS = (
    "date", "shift", "from", "to", "level", "line", "station", "oee", "availability",
    "performance", "quality", "good", "scrap", "total", "target", "planned_s", "running_s",
    "energy_kwh", "kwh_per_good", "cost", "currency", "co2e_kg",
    # Added after the first release (issue: a report that looks whole when it is not):
    "scrap_of", "yield", "inferred", "energy_estimated_kwh", "complete", "data_until",
)  # fmt: skip


def csv_bytes(data: ShiftData) -> bytes:
    """One row per plant, line and station; UTF-8 with a BOM so a spreadsheet opens it in the
    right encoding (station names may carry diacritics). `scrap_of`: "all stations" on a line's
    and the plant's rows; `inferred`: the row's columns a legacy machine's power meter only
    infers, space-separated; `complete` 0 with `data_until` for a shift still under way."""
    tz = ZoneInfo(data.cfg.plant.timezone)
    w = data.window
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(CSV_COLUMNS)
    frm = fmt.local(w.t0_ms, tz).isoformat()
    to = fmt.local(w.t1_ms, tz).isoformat()
    until = "" if data.until_ms is None else fmt.local(data.until_ms, tz).isoformat()

    def num(x: float | None, digits: int = 6) -> str:
        return "" if x is None else f"{round(x, digits):.{digits}f}".rstrip("0").rstrip(".")

    for level, line, station, e, machines in rows(data):
        kwh = e["energy_kwh"]
        cost = data.cost_of(machines)
        out.writerow([
            w.day.isoformat(), w.name, frm, to, level, line, station,
            num(e["oee"]), num(e["availability"]), num(e["performance"]), num(e["quality"]),
            e["good_count"], scrap_of(e), e["total_count"],
            kpi.target_count(e["planned_s"], e["ideal_cycle_s"]),
            num(e["planned_s"], 3), num(e["running_s"], 3), num(kwh),
            num(kpi.kwh_per_good(kwh, e["good_count"])), num(cost, 2),
            data.currency or "", num(data.co2e_of(kwh)),
            "this station" if level == "station" else "all stations",
            num(yield_of(level, e)), " ".join(inferred_columns(level, e)),
            num(e.get("energy_estimated_kwh", 0.0)), 0 if until else 1, until,
        ])  # fmt: skip
    return ("\ufeff" + buf.getvalue()).encode()


# --- the page -------------------------------------------------------------------------------

_fonts_ready = False


def _register_fonts() -> None:
    global _fonts_ready
    if _fonts_ready:
        return
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont(FONT, str(FONT_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf")))
    _fonts_ready = True


def _table_rows(
    data: ShiftData,
) -> tuple[list[tuple[str, str, str, dict[str, Any], list[str]]], int]:
    """The KPI rows that fit the page, and how many stations were left out."""
    all_rows = rows(data)
    if len(all_rows) <= MAX_TABLE_ROWS:
        return all_rows, 0
    fixed = [r for r in all_rows if r[0] != "station"]
    stations = [r for r in all_rows if r[0] == "station"]
    room = max(0, MAX_TABLE_ROWS - len(fixed))
    worst = {id(r) for r in sorted(stations, key=lambda r: r[3]["oee"])[:room]}
    return [r for r in all_rows if r[0] != "station" or id(r) in worst], len(stations) - room


def pdf_bytes(data: ShiftData, lang: str = "en") -> bytes:
    """The one-page PDF (A4 portrait) in `lang` ("en" or "vi")."""
    from reportlab.graphics.charts.barcharts import HorizontalBarChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        KeepInFrame,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    _register_fonts()
    cfg, w, rep = data.cfg, data.window, data.report
    margin = 12 * mm
    doc_width = A4[0] - 2 * margin
    tz = ZoneInfo(cfg.plant.timezone)
    h1 = ParagraphStyle("h1", fontName=FONT_BOLD, fontSize=15, leading=19)
    h2 = ParagraphStyle("h2", fontName=FONT_BOLD, fontSize=10.5, leading=14, spaceBefore=6)
    body = ParagraphStyle("body", fontName=FONT, fontSize=8.5, leading=11)
    small = ParagraphStyle("small", fontName=FONT, fontSize=7, leading=9, textColor=colors.grey)
    pct = lambda x: fmt.percent(x, lang)  # noqa: E731
    num = lambda x, d=1: fmt.number(x, lang, d)  # noqa: E731
    money = lambda x: "" if x is None else fmt.money(x, data.currency or "", lang)  # noqa: E731

    site = f"{cfg.plant.enterprise} / {cfg.plant.site}"
    when = (
        f"{text('shift', lang)} {w.name} · {fmt.weekday(w.t0_ms, tz, lang, short=False)} "
        f"{fmt.date(w.t0_ms, tz, lang)} · {fmt.clock_time(w.t0_ms, tz, lang)}–"
        f"{fmt.clock_time(w.t1_ms, tz, lang)} ({tz.key})"
    )
    if data.until_ms is not None:
        # A shift under way must not pass for a finished one: said in bold, in the heading.
        so_far = text("so_far", lang).format(time=fmt.clock_time(data.until_ms, tz, lang))
        when += f" · <b>{so_far}</b>"
    story: list[Any] = [
        Paragraph(f"{text('title', lang)} — {site}", h1),
        Paragraph(when, body),
        Spacer(1, 3 * mm),
    ]
    plant = rep["plant"]
    if not rep["machines"]:
        story.append(Paragraph(text("no_data", lang), body))
    else:
        kwh = plant["energy_kwh"]
        co2 = data.co2e_of(kwh)
        cost = data.cost_of(list(rep["machines"]))
        headline = [
            f"<b>{text('oee', lang)}</b> {pct(plant['oee'])}",
            f"<b>{text('good', lang)}</b> {fmt.integer(plant['good_count'], lang)}",
            f"<b>{text('scrap_all', lang)}</b> {fmt.integer(scrap_of(plant), lang)}",
            f"<b>{text('energy', lang)}</b> {num(kwh)} kWh",
        ]
        if cost is not None:
            headline.append(f"<b>{text('cost', lang)}</b> {money(cost)}")
        if co2 is not None:
            headline.append(f"<b>{text('co2e', lang)}</b> {num(co2)} kg")
        story.append(Paragraph(" · ".join(headline), body))

        # KPIs per line and station
        story.append(Paragraph(text("kpis", lang), h2))
        head = [
            text("line", lang) + " / " + text("station", lang), text("oee", lang),
            text("availability", lang), text("performance", lang), text("quality", lang),
            text("good", lang), text("scrap", lang), text("yield", lang), text("target", lang),
            text("kwh", lang),
            text("kwh_per_good", lang), text("cost", lang),
        ]  # fmt: skip
        shown, left_out = _table_rows(data)
        marked = {"inferred": False, "estimated": False}

        def mark(level: str, e: dict[str, Any], column: str, value: str) -> str:
            if column in inferred_columns(level, e):
                marked["inferred"] = True
                return value + "*"
            return value

        # Header cells wrap (the Vietnamese words are longer than the numbers under them).
        th = ParagraphStyle("th", fontName=FONT_BOLD, fontSize=7.5, leading=9, alignment=2)
        th_left = ParagraphStyle("th_left", parent=th, alignment=0)
        table: list[list[Any]] = [
            [Paragraph(h, th_left if i == 0 else th) for i, h in enumerate(head)]
        ]
        styles: list[tuple[Any, ...]] = [
            ("FONT", (0, 0), (-1, -1), FONT, 7.5),
            ("FONT", (0, 0), (-1, 0), FONT_BOLD, 7.5),
            ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ]
        for level, line, station, e, machines in shown:
            name = {
                "plant": text("plant", lang),
                "line": f"{text('line', lang)} {line}",
                "station": f"   {station}",
            }[level]
            line_yield = yield_of(level, e)
            kwh_text = num(e["energy_kwh"])
            if e.get("energy_estimated_kwh", 0.0) > 0:
                marked["estimated"] = True
                kwh_text += "†"
            table.append([
                name, mark(level, e, "oee", pct(e["oee"])),
                mark(level, e, "availability", pct(e["availability"])),
                mark(level, e, "performance", pct(e["performance"])),
                mark(level, e, "quality", pct(e["quality"])),
                mark(level, e, "good", fmt.integer(e["good_count"], lang)),
                mark(level, e, "scrap", fmt.integer(scrap_of(e), lang)),
                "" if line_yield is None else mark(level, e, "yield", pct(line_yield)),
                fmt.integer(kpi.target_count(e["planned_s"], e["ideal_cycle_s"]), lang),
                kwh_text,
                mark(level, e, "kwh_per_good",
                     num(kpi.kwh_per_good(e["energy_kwh"], e["good_count"]), 3)),
                money(data.cost_of(machines)),
            ])  # fmt: skip
            if level != "station":
                r = len(table) - 1
                styles.append(("FONT", (0, r), (-1, r), FONT_BOLD, 7.5))
                styles.append(("BACKGROUND", (0, r), (-1, r), colors.Color(0.93, 0.95, 0.98)))
        # Fits the A4 frame (186 mm): the name column takes what the number columns leave.
        widths = [w_ * mm for w_ in (12, 12, 12, 12, 12, 14, 12, 11, 12, 14, 21)]
        kpi_table = Table(
            table, colWidths=[doc_width - sum(widths), *widths], repeatRows=1, hAlign="LEFT"
        )
        kpi_table.setStyle(TableStyle(styles))
        story.append(kpi_table)
        legend = text("legend", lang) + ". " + text("rows_note", lang)
        if left_out:
            room = len([r for r in shown if r[0] == "station"])
            legend += "; " + text("more_stations", lang).format(
                n=fmt.integer(left_out, lang), k=fmt.integer(room, lang)
            )
        story.append(Paragraph(legend, small))
        for key, used in (("inferred_note", "inferred"), ("estimated_note", "estimated")):
            if marked[used]:
                story.append(Paragraph(text(key, lang), small))

        # Top losses: table and bars side by side
        story.append(Paragraph(text("losses", lang), h2))
        top = data.losses[:TOP_LOSSES]
        if not top:
            story.append(Paragraph(text("no_losses", lang), body))
        else:
            labels = [f"{words.state(s, lang)}: {words.reason(r, lang)}"[:44] for s, r, _ in top]
            loss_rows = [[text("state", lang) + ": " + text("reason", lang), text("hours", lang)]]
            loss_rows += [
                [lab, num(secs / 3600, 2)] for lab, (_, _, secs) in zip(labels, top, strict=True)
            ]
            # Numbered rows tie each bar (1 = the largest) to its reason in the table.
            for i, row in enumerate(loss_rows[1:], start=1):
                row[0] = f"{i}. {row[0]}"
            lt = Table(loss_rows, hAlign="LEFT")
            lt.setStyle(
                TableStyle([
                    ("FONT", (0, 0), (-1, -1), FONT, 7.5),
                    ("FONT", (0, 0), (-1, 0), FONT_BOLD, 7.5),
                    ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2),
                    ("TOPPADDING", (0, 0), (-1, -1), 1.2),
                ])
            )  # fmt: skip
            chart_w, chart_h = 80 * mm, 12 * mm + 5.5 * mm * len(top)
            drawing = Drawing(chart_w, chart_h)
            bars = HorizontalBarChart()
            bars.x, bars.y = 4 * mm, 8 * mm
            bars.width, bars.height = chart_w - 8 * mm, chart_h - 11 * mm
            hours = [secs / 3600 for _, _, secs in top]
            bars.data = [list(reversed(hours))]  # the largest on top
            bars.categoryAxis.categoryNames = [str(i) for i in range(len(top), 0, -1)]
            bars.categoryAxis.labels.fontName = FONT
            bars.categoryAxis.labels.fontSize = 6.5
            bars.valueAxis.valueMin = 0
            bars.valueAxis.labels.fontName = FONT
            bars.valueAxis.labels.fontSize = 6.5
            tick_digits = 1 if max(hours) >= 2 else 2  # short shifts lose minutes, not hours
            bars.valueAxis.labelTextFormat = lambda v: num(v, tick_digits)
            bars.bars[0].fillColor = colors.Color(0.84, 0.27, 0.25)
            bars.barLabels.fontName = FONT
            drawing.add(bars)
            from reportlab.graphics.shapes import String

            drawing.add(String(chart_w / 2, 0, text("loss_hours", lang), fontName=FONT,
                               fontSize=6.5, textAnchor="middle"))  # fmt: skip
            side = Table([[lt, drawing]], hAlign="LEFT", colWidths=[95 * mm, chart_w])
            side.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
            story.append(side)

        # Energy, cost by tariff period, CO2e
        story.append(Paragraph(text("energy", lang), h2))
        if data.currency is None:
            story.append(Paragraph(f"{num(kwh)} kWh. {text('no_tariff', lang)}", body))
        else:
            tar = cfg.energy.tariff if cfg.energy is not None else None
            assert tar is not None
            erows = [[text("period", lang), "kWh", text("cost", lang)]]
            for p, pk in data.kwh_by_period.items():
                erows.append([words.words(p, lang), num(pk), money(pk * tar.price_per_kwh[p])])
            total_kwh = sum(data.kwh_by_period.values())
            erows.append(
                [text("total", lang), num(total_kwh), money(tariff.cost(data.kwh_by_period, tar))]
            )
            if co2 is not None:
                erows.append([text("co2e", lang), f"{num(co2)} kg", ""])
            et = Table(erows, hAlign="LEFT")
            et.setStyle(
                TableStyle([
                    ("FONT", (0, 0), (-1, -1), FONT, 7.5),
                    ("FONT", (0, 0), (-1, 0), FONT_BOLD, 7.5),
                    ("FONT", (0, len(erows) - (2 if co2 is not None else 1)), (-1, -1), FONT_BOLD, 7.5),
                    ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2),
                    ("TOPPADDING", (0, 0), (-1, -1), 1.2),
                ])
            )  # fmt: skip
            story.append(et)
    story.append(Spacer(1, 2 * mm))
    story.append(Paragraph(text("source", lang).format(store=data.store_url), small))

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=margin,
        bottomMargin=margin, title=f"{text('title', lang)} {w.key}", author="shopfloor",
    )  # fmt: skip
    # One page whatever the plant: the whole report shrinks to the page's frame if it must.
    frame = KeepInFrame(doc.width, doc.height - 1, story, mode="shrink")
    doc.build([frame])
    return buf.getvalue()
