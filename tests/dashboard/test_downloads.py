"""The end-of-shift report's downloads on the dashboard: behind the basic auth, the PDF and
the CSV of a shift, and the overview's links to the shifts of the chosen range."""

from __future__ import annotations

import base64
import csv
import io

import pytest

from dashboard import ids
from shopfloor.config import load_config
from simulator.run import run
from simulator.sinks import ListSink
from tests.cli.test_shift_report import MONDAY_MS, fill
from tests.pdftext import page_count, pdf_text
from tests.support import PLANT

AUTH = "plant:secret"
HEADERS = {"Authorization": "Basic " + base64.b64encode(AUTH.encode()).decode()}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from dashboard.app import create_app
    from shopfloor.store.sqlite import SqliteStore

    cfg = load_config(PLANT)
    db = tmp_path_factory.mktemp("downloads") / "s.db"
    fill(cfg, db, 15)
    app = create_app(SqliteStore(db, read_only=True), cfg, auth=AUTH)
    return app.server.test_client()


def test_a_download_asks_for_credentials(client):
    for path in ("/reports/2026-11-23/A.pdf", "/reports/2026-11-23/A.csv?lang=vi"):
        r = client.get(path)
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"] == 'Basic realm="shopfloor"'
        assert b"%PDF" not in r.data and b"oee" not in r.data


def test_the_pdf_and_csv_of_a_shift(client):
    r = client.get("/reports/2026-11-23/A.pdf?lang=vi", headers=HEADERS)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/pdf"
    assert 'filename="2026-11-23_A.vi.pdf"' in r.headers["Content-Disposition"]
    assert page_count(r.data) == 1
    assert "Báo cáo cuối ca" in pdf_text(r.data)
    r = client.get("/reports/2026-11-23/A.csv", headers=HEADERS)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.data.decode("utf-8-sig"))))
    before = run(load_config(PLANT), ListSink(), MONDAY_MS, 6 * 3600).report["lines"]
    upto = run(load_config(PLANT), ListSink(), MONDAY_MS, 14 * 3600).report["lines"]
    for row in (r for r in rows if r["level"] == "line"):
        lid = row["line"]
        assert int(row["good"]) == upto[lid]["good_count"] - before[lid]["good_count"]


def test_unknown_shifts_and_formats_are_named(client):
    r = client.get("/reports/2026-11-23/C.pdf", headers=HEADERS)
    assert r.status_code == 404
    assert "no shift 'C' on 2026-11-23; shifts that day: A, B" in r.data.decode()
    assert client.get("/reports/2026-11-23/A.xlsx", headers=HEADERS).status_code == 404
    assert client.get("/reports/2026-11-23/A.pdf?lang=fr", headers=HEADERS).status_code == 400


def test_the_overview_links_the_shifts_of_the_range(client, monkeypatch):
    from dashboard import downloads
    from shopfloor import clock

    # Monday 15:00: shift A done, shift B under way.
    monkeypatch.setenv(clock.ENV, "2026-11-23T15:00:00+07:00")
    section = downloads.overview_reports(1, "today", "vi")
    title, listing = section
    assert title.children == "Báo cáo cuối ca"
    items = listing.children
    assert [i.__dict__["data-shift"] for i in items] == ["2026-11-23/B", "2026-11-23/A"]
    label, pdf, csv_link = items[1].children
    assert label.children == "Ca A · Thứ 2 23/11/2026 · 06:00–14:00"
    assert pdf.href == "/reports/2026-11-23/A.pdf?lang=vi"
    assert csv_link.href == "/reports/2026-11-23/A.csv?lang=vi"
    assert items[0].children[0].children.endswith("(đến hiện tại)")
    # The link downloads what it names.
    assert client.get(pdf.href, headers=HEADERS).status_code == 200
    assert ids.OVERVIEW_REPORTS == "overview-reports"
    # A range with no shift (Sunday) has no section.
    monkeypatch.setenv(clock.ENV, "2026-11-22T23:30:00+07:00")
    assert downloads.overview_reports(1, "today", "en") == []


def test_a_shift_with_no_stored_data_has_no_report_nor_link(client, monkeypatch):
    """The store holds Monday until 15:00: Tuesday's and Friday's shifts have nothing stored,
    so no all-zero report that passes for an idle shift, and the overview links none."""
    from dashboard import downloads
    from shopfloor import clock

    for path in ("/reports/2026-11-24/A.pdf", "/reports/2026-11-20/B.csv?lang=vi"):
        r = client.get(path, headers=HEADERS)
        assert r.status_code == 404
        assert r.headers["Content-Type"].startswith("text/plain")
        key = path.split("/reports/")[1].split(".")[0]
        assert r.data.decode().strip() == f"no data stored for shift {key}"
    # Tuesday 10:00: shift A is under way by the clock, but nothing of it is stored.
    monkeypatch.setenv(clock.ENV, "2026-11-24T10:00:00+07:00")
    assert downloads.overview_reports(1, "today", "en") == []
    # Monday 15:00 still lists both of Monday's shifts (B has its first hour stored).
    monkeypatch.setenv(clock.ENV, "2026-11-23T15:00:00+07:00")
    _, listing = downloads.overview_reports(1, "today", "en")
    assert [i.__dict__["data-shift"] for i in listing.children] == ["2026-11-23/B", "2026-11-23/A"]


def test_a_download_of_a_shift_under_way_says_so(client, monkeypatch):
    """Monday 14:30 by the clock, the store holding data past it: shift B's CSV and PDF are
    up to 14:30, and say so."""
    from shopfloor import clock

    monkeypatch.setenv(clock.ENV, "2026-11-23T14:30:00+07:00")
    r = client.get("/reports/2026-11-23/B.csv", headers=HEADERS)
    rows = list(csv.DictReader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert {(x["complete"], x["data_until"]) for x in rows} == {("0", "2026-11-23T14:30:00+07:00")}
    r = client.get("/reports/2026-11-23/B.pdf?lang=vi", headers=HEADERS)
    assert "đến 14:30, ca chưa kết thúc" in pdf_text(r.data).replace("\n", " ")
