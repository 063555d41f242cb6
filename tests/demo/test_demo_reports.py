"""The demo writes each shift's end-of-shift report into <data folder>/reports/ as the shift
ends: a clock pinned ticking just before shift A's end (Monday 14:00) makes it end live."""

from __future__ import annotations

import csv
import io

from shopfloor.broker import free_port
from shopfloor.config import load_config
from tests.demo.test_demo import printed, run_demo, stop
from tests.pdftext import page_count, pdf_text
from tests.support import BROKER_KINDS, PLANT, pinned_env, wait_for


def test_the_demo_writes_the_report_at_a_shift_end(tmp_path):
    cfg = load_config(PLANT)
    reports = tmp_path / "data" / "reports"
    # 45 s before shift A ends: the backfill is shift A so far, then the end comes live (or,
    # on a slow machine, inside the backfill: reported all the same once stored).
    proc, out = run_demo(
        tmp_path, free_port(), BROKER_KINDS[0], pinned_env("2026-11-23T13:59:15+07:00")
    )
    said_pdf = f"end-of-shift report: {reports / '2026-11-23_A.pdf'}"
    try:
        # The line is printed after all three files are in place (the PDF appears a moment
        # before it): waiting on the file and then reading the output raced the print.
        def announced() -> bool:
            assert proc.poll() is None, printed(out)  # a demo that stopped announces nothing
            return said_pdf in printed(out)

        wait_for(announced, 240, "shift A's report announced")
    finally:
        stop(proc, out)
    assert sorted(p.name for p in reports.iterdir()) == [
        "2026-11-23_A.csv", "2026-11-23_A.pdf", "2026-11-23_A.vi.pdf",
    ]  # fmt: skip
    pdf = (reports / "2026-11-23_A.vi.pdf").read_bytes()
    assert page_count(pdf) == 1
    assert "Ca A · Thứ Hai 23/11/2026 · 06:00–14:00" in pdf_text(pdf)
    rows = list(csv.DictReader(io.StringIO((reports / "2026-11-23_A.csv").read_text("utf-8-sig"))))
    assert {r["station"] for r in rows if r["level"] == "station"} == {
        st.id for _, st in cfg.stations()
    }
    # A whole shift was stored: every line made parts in it (the demo ran it from 06:00).
    assert all(int(r["good"]) > 100 for r in rows if r["level"] == "line"), rows
    # Shift B has not ended: no report of it yet.
    assert not (reports / "2026-11-23_B.pdf").exists()
