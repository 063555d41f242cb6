"""`shopfloor report`: the end-of-shift CSV equals the simulator's ground truth for the shift,
and the PDF is one page whose Vietnamese text reads back with its diacritics."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import orjson
import pytest

from collector.validate import validate
from shopfloor import clock, kpi, words
from shopfloor.config import load_config
from shopfloor.contract import parse_topic
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.kinds import KINDS
from simulator.run import run
from simulator.sinks import ListSink
from tests.pdftext import page_count, pdf_text
from tests.support import PLANT, ROOT, instant_s, run_cli

MONDAY_MS = 1_795_366_800_000  # Monday 2026-11-23 00:00 +07:00
HOUR_MS = 3_600_000
A0, A1 = MONDAY_MS + 6 * HOUR_MS, MONDAY_MS + 14 * HOUR_MS  # shift A, break included
CFG = load_config(PLANT)
LEGACY = {st.id for _, st in CFG.stations() if st.connectivity == "legacy"}
CFG_LINES = {line.id: [st.id for st in line.stations] for line in CFG.lines}
SNAKE = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b")
MODES = {mode for spec in KINDS.values() for mode, _ in spec.failure_modes}


def fill(cfg, db: Path, hours: float, start_ms: int = MONDAY_MS) -> list[tuple[str, dict]]:
    """The seeded plant from Monday 00:00 (or `start_ms`), validated and stored as the
    collector does."""
    sink = ListSink()
    run(cfg, sink, start_ms, hours * 3600)
    store = SqliteStore(db)
    records = [validate(t, orjson.dumps(p), MONDAY_MS + 86_400_000, 10**12, 10**6)
               for t, p, _ in sink.messages]  # fmt: skip
    store.write([r for r in records if isinstance(r, Record)])
    store.close()
    return [(t, p) for t, p, _ in sink.messages]


@pytest.fixture(scope="module", autouse=True)
def _after_the_data():
    """The clock of every `shopfloor report` here: the Tuesday after the stored Monday, so a
    shift counts as ended by the clock and 'so far' comes from the data alone, whenever
    the suite runs (a clock pinned before that Monday made shift A 'so far, until 06:00')."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(clock.ENV, clock.ticking_from(instant_s("2026-11-24T00:00:00+07:00")))
        yield


@pytest.fixture(scope="module")
def shift_a(tmp_path_factory):
    """A store holding Monday until 15:00, and the CLI's CSV and PDFs of shift A."""
    tmp = tmp_path_factory.mktemp("report")
    db = tmp / "s.db"
    messages = fill(CFG, db, 15)
    files = {}
    for lang in ("en", "vi"):
        pdf, out = tmp / f"a-{lang}.pdf", tmp / f"a-{lang}.csv"
        r = run_cli("report", "--store", f"sqlite:///{db}", "--config", str(PLANT),
                    "--shift", "2026-11-23/A", "--pdf", str(pdf), "--csv", str(out),
                    "--lang", lang)  # fmt: skip
        assert r.returncode == 0, r.stderr
        files[lang] = (pdf.read_bytes(), out.read_bytes())
    return db, messages, files


def csv_rows(raw: bytes) -> dict[tuple[str, str], dict[str, str]]:
    assert raw.startswith("\ufeff".encode())  # spreadsheets open it as UTF-8
    return {
        (r["level"], r["station"] or r["line"]): r
        for r in csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))
    }


def meter_instant(messages: list[tuple[str, dict]], machine: str, at_ms: int) -> int:
    """The simulator's newest meter reading of `machine` before `at_ms`: what the store's
    energy of a range starting or ending there is measured by."""
    return max(
        p["ts"]
        for t, p in messages
        if (parts := parse_topic(t)) and parts.machine == machine and parts.channel == "energy"
        and p["ts"] < at_ms
    )  # fmt: skip


def test_csv_equals_the_simulators_ground_truth_for_the_shift(shift_a):
    _, messages, files = shift_a
    rows = csv_rows(files["en"][1])
    before = run(CFG, ListSink(), MONDAY_MS, 6 * 3600).report
    upto = run(CFG, ListSink(), MONDAY_MS, 14 * 3600).report
    assert {k for k in rows if k[0] == "station"} == {("station", m) for m in upto["machines"]}
    checked = 0
    for mid, end in upto["machines"].items():
        if mid in LEGACY:  # its state is inferred from power by the collector, not stored here
            continue
        start, row = before["machines"][mid], rows[("station", mid)]
        assert row["date"] == "2026-11-23" and row["shift"] == "A"
        assert row["from"] == "2026-11-23T06:00:00+07:00"
        assert row["to"] == "2026-11-23T14:00:00+07:00"
        d = {k: end[k] - start[k] for k in ("good_count", "scrap_count", "total_count")}
        assert int(row["good"]) == d["good_count"], mid
        assert int(row["scrap"]) == d["scrap_count"], mid
        assert int(row["total"]) == d["total_count"], mid
        secs = {s: end[f"{s}_s"] - start[f"{s}_s"] for s in kpi.STATES}
        assert float(row["running_s"]) == pytest.approx(secs["running"], abs=1.0)
        planned = kpi.planned_s(secs)
        assert planned == pytest.approx(8 * 3600 - 1800, abs=1.0)  # 06:00-14:00 less the break
        want = kpi.oee(planned, secs["running"], end["ideal_cycle_s"], d["total_count"],
                       d["good_count"])  # fmt: skip
        for key in ("oee", "availability", "performance", "quality"):
            assert float(row[key]) == pytest.approx(getattr(want, key), abs=0.005), (mid, key)
        # planned time is stored to the millisecond: 26,999.99 s may give one part less
        assert abs(int(row["target"]) - planned // end["ideal_cycle_s"]) <= 1
        # The meters report once a minute: the store measures the shift between the readings
        # just before its start and its end, so the truth is taken at those two instants.
        e0, e1 = meter_instant(messages, mid, A0), meter_instant(messages, mid, A1)
        truth_kwh = (
            run(CFG, ListSink(), MONDAY_MS, (e1 - MONDAY_MS) / 1000).report["machines"][mid]["energy_kwh"]
            - run(CFG, ListSink(), MONDAY_MS, (e0 - MONDAY_MS) / 1000).report["machines"][mid]["energy_kwh"]
        ) if mid == "cnc-01" else None  # fmt: skip
        if truth_kwh is not None:
            assert float(row["energy_kwh"]) == pytest.approx(truth_kwh, abs=1e-3)
        # Theory: the energy is priced between the cheapest and the dearest period, and CO2e
        # is the grid factor times it.
        kwh = float(row["energy_kwh"])
        prices = CFG.energy.tariff.price_per_kwh.values()
        assert min(prices) * kwh - 0.01 <= float(row["cost"]) <= max(prices) * kwh + 0.01
        assert float(row["co2e_kg"]) == pytest.approx(kwh * CFG.energy.co2e_kg_per_kwh, abs=1e-3)
        assert row["currency"] == "VND"
        checked += 1
    assert checked == len(upto["machines"]) - len(LEGACY)
    for lid, line in upto["lines"].items():
        last = line["stations"][-1]
        want_good = upto["machines"][last]["good_count"] - before["machines"][last]["good_count"]
        assert int(rows[("line", lid)]["good"]) == want_good
        # A line's scrap is every station's (the overview's too), not its last station's.
        want_scrap = sum(
            upto["machines"][m]["scrap_count"] - before["machines"][m]["scrap_count"]
            for m in line["stations"]
            if m not in LEGACY
        )
        assert int(rows[("line", lid)]["scrap"]) == want_scrap
    plant_good = sum(int(rows[("line", lid)]["good"]) for lid in upto["lines"])
    assert int(rows[("plant", "")]["good"]) == plant_good


def test_pdf_is_one_page_in_vietnamese_with_its_diacritics(shift_a):
    _, _, files = shift_a
    rows = csv_rows(files["vi"][1])
    pdf = files["vi"][0]
    assert pdf.startswith(b"%PDF-")
    assert page_count(pdf) == 1
    text = pdf_text(pdf)
    good = int(rows[("plant", "")]["good"])
    oee = float(rows[("plant", "")]["oee"]) * 100
    for want in (
        "Báo cáo cuối ca — acme-vn / hcm",
        "Ca A · Thứ Hai 23/11/2026 · 06:00–14:00 (Asia/Ho_Chi_Minh)",
        "Chỉ số theo dây chuyền và trạm",
        "Tổn thất lớn nhất theo nguyên nhân",
        "Khung giờ giá",
        "cao điểm",
        # Vietnamese numbers: dot for thousands, comma for decimals.
        f"Đạt {good:,}".replace(",", "."),
        f"OEE {oee:.1f}%".replace(".", ","),
        "Dây chuyền machining-1",
    ):
        assert want in text, want
    assert "Helvetica" not in text and "?" not in text.replace("?lang", "")
    en = pdf_text(files["en"][0])
    assert page_count(files["en"][0]) == 1
    assert "End-of-shift report — acme-vn / hcm" in en
    assert "Shift A · Monday 23/11/2026 · 06:00–14:00" in en
    assert f"Good {good:,}" in en


def test_a_large_plant_still_fits_one_page(tmp_path):
    cfg = load_config(ROOT / "config" / "large.yaml")
    db = tmp_path / "large.db"
    fill(cfg, db, 0.1, start_ms=A0)  # the first 6 minutes of shift A, 225 stations
    pdf = tmp_path / "large.pdf"
    r = run_cli("report", "--store", f"sqlite:///{db}", "--config", str(ROOT / "config" / "large.yaml"),
                "--shift", "2026-11-23/A", "--pdf", str(pdf))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert page_count(pdf.read_bytes()) == 1
    text = pdf_text(pdf.read_bytes())
    stations = len(cfg.stations())
    assert "more stations, all in the CSV" in text
    assert f"{stations - (28 - 1 - len(cfg.lines))} more stations" in text


def test_user_errors_are_named(shift_a):
    db = shift_a[0]
    base = ("report", "--store", f"sqlite:///{db}", "--config", str(PLANT))
    r = run_cli(*base, "--shift", "2026-11-23/C", "--csv", "-")
    assert r.returncode == 1
    assert "no shift 'C' on 2026-11-23; shifts that day: A, B" in r.stderr
    r = run_cli(*base, "--shift", "2026-11-22/A", "--csv", "-")  # a Sunday: no shifts
    assert "shifts that day: none" in r.stderr
    r = run_cli(*base, "--shift", "monday", "--csv", "-")
    assert "give the shift as DATE/NAME, e.g. 2026-11-23/A" in r.stderr
    r = run_cli(*base, "--shift", "2026-11-23/A")
    assert r.returncode == 1 and "--pdf PATH and/or --csv PATH" in r.stderr
    r = run_cli(*base, "--shift", "2026-11-23/B", "--csv", "-")
    assert r.returncode == 0 and r.stdout.startswith("date,shift,from,to,level")
    assert "Traceback" not in r.stderr


def test_a_store_that_does_not_exist_is_refused_and_not_created(tmp_path):
    missing = tmp_path / "typo" / "plant.db"
    pdf, out = tmp_path / "r.pdf", tmp_path / "r.csv"
    r = run_cli(
        "report", "--store", f"sqlite:///{missing}", "--config", str(PLANT),
        "--shift", "2026-11-23/A", "--pdf", str(pdf), "--csv", str(out),
    )  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"shopfloor report: error: --store: {missing} does not exist"
    ]
    assert not (tmp_path / "typo").exists() and not pdf.exists() and not out.exists()


def test_the_demos_writer_waits_for_the_end_and_for_the_data(shift_a, tmp_path):
    from shopfloor.cli.demo_reports import ShiftReports

    db = shift_a[0]
    stored = {"until": A1 - 60_000}
    store = SqliteStore(db, read_only=True)
    writer = ShiftReports(CFG, store, tmp_path / "reports", MONDAY_MS, lambda: stored["until"])
    assert writer.due(A1 - 1) == []  # shift A has not ended
    assert writer.due(A1) == []  # ended, but its last minute is not stored yet
    stored["until"] = A1 + 10_000
    names = sorted(p.name for p in writer.due(A1 + 10_000))
    assert names == ["2026-11-23_A.csv", "2026-11-23_A.pdf", "2026-11-23_A.vi.pdf"]
    assert writer.due(A1 + 20_000) == []  # once
    assert writer.next_shift().key == "2026-11-23/B"
    # A restart whose backfill covered both ends reports B, and leaves A's files as they are.
    again = ShiftReports(CFG, store, tmp_path / "reports", MONDAY_MS, lambda: A1 + 9 * HOUR_MS)
    assert [p.name for p in again.due(A1 + 9 * HOUR_MS)][-1] == "2026-11-23_B.pdf"
    store.close()


def test_every_reason_a_day_writes_reads_in_vietnamese_words(shift_a):
    """Issue 10: every failure mode and every reason the simulated day writes, as the PDF words
    them (shopfloor.words, the dashboard's catalogue too), is Vietnamese, not English."""
    _, messages, _ = shift_a
    written = {p["reason"] for _, p in messages if p.get("reason")}
    states = {p["state"] for _, p in messages if p.get("state")}
    assert {"outside shift", "break", "changeover", "output buffer full"} <= written
    assert written & MODES, "the day had no breakdown"
    for reason in sorted(written | MODES | {"injected", "inferred from power"}):
        en, vi = words.reason(reason, "en"), words.reason(reason, "vi")
        assert not SNAKE.search(en) and not SNAKE.search(vi), reason
        assert vi != en, reason  # translated, not copied
    for state in states:
        assert words.state(state, "vi") != words.state(state, "en"), state


def test_the_vietnamese_pdf_names_breakdowns_in_vietnamese(tmp_path):
    """A plant that breaks down often, so its top losses are breakdowns: the Vietnamese PDF
    names each by its Vietnamese words, and no failure mode's English words are on it."""
    yaml = PLANT.read_text(encoding="utf-8")
    often = re.sub(r"mtbf_min: \d+", "mtbf_min: 20", yaml)
    often = re.sub(r"mttr_min: \d+", "mttr_min: 45", often)
    assert often != yaml
    plant = tmp_path / "plant.yaml"
    plant.write_text(often, encoding="utf-8")
    db = tmp_path / "s.db"
    messages = fill(load_config(plant), db, 8, start_ms=A0)
    downs = {p["reason"] for _, p in messages if p.get("state") == "down" and A0 <= p["ts"] < A1}
    assert len(downs & MODES) >= 3, downs
    pdf = tmp_path / "vi.pdf"
    r = run_cli("report", "--store", f"sqlite:///{db}", "--config", str(plant),
                "--shift", "2026-11-23/A", "--pdf", str(pdf), "--lang", "vi")  # fmt: skip
    assert r.returncode == 0, r.stderr
    text = pdf_text(pdf.read_bytes())
    # The losses section: from its title to the energy table's ("Điện năng" is in the KPI
    # table's header too, before it).
    losses = text.split("Tổn thất lớn nhất theo nguyên nhân")[1].split("Điện năng")[0]
    shown = [mode for mode in MODES if f"Hỏng: {words.reason(mode, 'vi')}" in losses]
    assert len(shown) >= 3, losses
    for mode in MODES:
        english = words.reason(mode, "en")
        assert english not in losses and mode not in losses, mode
    assert not SNAKE.search(losses), losses


# --- a report must not look whole when it is not ---------------------------------------------


def test_a_shift_with_no_stored_data_is_refused(shift_a, tmp_path):
    """The store holds Monday 00:00-15:00: a shift before it (Friday) or after it (Tuesday)
    would be an all-zero report that passes for an idle shift; refused, no file written."""
    db = shift_a[0]
    for spec in ("2026-11-20/A", "2026-11-24/A"):
        pdf, out = tmp_path / "r.pdf", tmp_path / "r.csv"
        r = run_cli("report", "--store", f"sqlite:///{db}", "--config", str(PLANT),
                    "--shift", spec, "--pdf", str(pdf), "--csv", str(out))  # fmt: skip
        assert r.returncode == 1
        [line] = r.stderr.strip().splitlines()
        assert line.startswith(f"shopfloor report: error: no data stored for shift {spec} "
                               "(the store holds 2026-11-2"), line  # fmt: skip
        assert line.endswith(" to 2026-11-23 15:00 Asia/Ho_Chi_Minh)"), line
        assert not pdf.exists() and not out.exists()


def test_a_shift_under_way_says_so(shift_a, tmp_path):
    """Shift B (14:00-22:00) with the store's data ending at 15:00: the CSV and both PDFs say
    it is reported up to 15:00; shift A, whole in the store, says nothing of the kind."""
    db, _, files = shift_a
    rows = csv_rows(files["en"][1])
    assert {(r["complete"], r["data_until"]) for r in rows.values()} == {("1", "")}
    base = ("report", "--store", f"sqlite:///{db}", "--config", str(PLANT),
            "--shift", "2026-11-23/B")  # fmt: skip
    for lang, words_ in (("en", "so far, until 15:00: the shift is not over"),
                         ("vi", "đến 15:00, ca chưa kết thúc")):  # fmt: skip
        pdf, out = tmp_path / f"b-{lang}.pdf", tmp_path / f"b-{lang}.csv"
        r = run_cli(*base, "--pdf", str(pdf), "--csv", str(out), "--lang", lang)
        assert r.returncode == 0, r.stderr
        assert words_ in pdf_text(pdf.read_bytes()).replace("\n", " ")
        assert page_count(pdf.read_bytes()) == 1
        b_rows = csv_rows(out.read_bytes())
        assert {(r["complete"], r["data_until"]) for r in b_rows.values()} == {
            ("0", "2026-11-23T15:00:00+07:00")
        }
    for lang in ("en", "vi"):
        text = pdf_text(files[lang][0])
        assert "so far" not in text and "chưa kết thúc" not in text


def test_legacy_machines_are_marked_inferred(shift_a):
    """The config's legacy (power-meter-only) machines: their CSV rows list the inferred
    columns, a line holding one has its all-stations scrap and yield marked, the rest none;
    the PDF marks them with * and says why, in both languages."""
    rows = csv_rows(shift_a[2]["en"][1])
    assert LEGACY
    legacy_lines = {lid for lid, line in CFG_LINES.items() if set(line) & LEGACY}
    for (level, name), row in rows.items():
        cols = row["inferred"].split()
        if level == "station":
            assert ("oee" in cols and "good" in cols) == (name in LEGACY), (name, cols)
            assert bool(cols) == (name in LEGACY), (name, cols)
        elif level == "line":
            assert {"scrap", "yield"} <= set(cols) if name in legacy_lines else not cols, name
    assert "scrap" in rows[("plant", "")]["inferred"].split()
    assert "yield" not in rows[("plant", "")]["inferred"].split()  # the plant has none
    en, vi = pdf_text(shift_a[2]["en"][0]), pdf_text(shift_a[2]["vi"][0])
    assert "* inferred: a legacy machine with a power meter only" in en.replace("\n", " ")
    assert "* suy luận: máy đời cũ chỉ có đồng hồ đo công suất" in vi.replace("\n", " ")
    assert re.search(r"\d%\*", en)


def test_estimated_energy_is_marked(shift_a, tmp_path):
    """A legacy machine's meter readings are the collector's estimates (integrated power): the
    kWh they add is in energy_estimated_kwh on its, its line's and the plant's rows, and
    the PDF marks it with † and says why."""
    import shutil

    db = tmp_path / "s.db"
    shutil.copy(shift_a[0], db)
    store = SqliteStore(db)
    info = next(m for m in store.machines() if m.machine in LEGACY)

    def mk(ts: int, kwh: float) -> Record:
        # As the collector stores them: at a power sample's ts and seq, marked inferred.
        return Record(info.enterprise, info.site, info.area, info.line, info.machine, "energy",
                      ts, 1, {"energy_kwh": kwh}, inferred=True)  # fmt: skip

    store.write([mk(A0 - 30_000, 100.0), mk(A0 + HOUR_MS, 112.5)])
    store.close()
    pdf, out = tmp_path / "r.pdf", tmp_path / "r.csv"
    r = run_cli("report", "--store", f"sqlite:///{db}", "--config", str(PLANT),
                "--shift", "2026-11-23/A", "--pdf", str(pdf), "--csv", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = csv_rows(out.read_bytes())
    for key in (("station", info.machine), ("line", info.line), ("plant", "")):
        assert float(rows[key]["energy_estimated_kwh"]) == pytest.approx(12.5), key
    assert float(rows[("station", "asm-01")]["energy_estimated_kwh"]) == 0
    text = pdf_text(pdf.read_bytes()).replace("\n", " ")
    assert "†" in text and "† kWh estimated in part from sampled power" in text


def test_line_rows_say_scrap_is_all_stations_and_give_the_yield(shift_a):
    """A line's row: scrap of every station (scrap_of), and its rolled throughput yield, the
    product of each station's good/total in the simulator's ground truth."""
    rows = csv_rows(shift_a[2]["en"][1])
    before = run(CFG, ListSink(), MONDAY_MS, 6 * 3600).report["machines"]
    upto = run(CFG, ListSink(), MONDAY_MS, 14 * 3600).report["machines"]
    checked = 0
    for lid, stations in CFG_LINES.items():
        row = rows[("line", lid)]
        assert row["scrap_of"] == "all stations"
        if set(stations) & LEGACY:
            continue  # its counts are inferred from power by the collector, not stored here
        want = 1.0
        for m in stations:
            good = upto[m]["good_count"] - before[m]["good_count"]
            total = upto[m]["total_count"] - before[m]["total_count"]
            want *= good / total if total else 1.0
        assert float(row["yield"]) == pytest.approx(want, abs=1e-5), lid
        checked += 1
    assert checked
    assert rows[("plant", "")]["scrap_of"] == "all stations"
    assert {r["scrap_of"] for k, r in rows.items() if k[0] == "station"} == {"this station"}
    assert {r["yield"] for k, r in rows.items() if k[0] != "line"} == {""}
    assert "Scrap, all stations" in pdf_text(shift_a[2]["en"][0])
    vi = pdf_text(shift_a[2]["vi"][0]).replace("\n", " ")
    assert "Phế phẩm, mọi trạm" in vi
    assert "Tỷlệđạt" in vi.replace(" ", "")  # a header cell that wraps


def test_the_demos_writer_skips_shifts_with_no_data(shift_a, tmp_path):
    """A writer started on Friday: Friday's shifts are not in the store, so no all-zero
    report of them; Monday's shift A is written."""
    from shopfloor.cli.demo_reports import ShiftReports

    store = SqliteStore(shift_a[0], read_only=True)
    friday = MONDAY_MS - 3 * 86_400_000
    writer = ShiftReports(CFG, store, tmp_path / "reports", friday, lambda: A1 + 10_000)
    names = sorted(p.name for p in writer.due(A1 + 10_000))
    store.close()
    assert names == ["2026-11-23_A.csv", "2026-11-23_A.pdf", "2026-11-23_A.vi.pdf"]
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == names
