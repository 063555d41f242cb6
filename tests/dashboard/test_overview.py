"""The overview page's fetch and callback on a store filled by a seeded simulation."""

from __future__ import annotations

import base64
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from collector.validate import validate
from shopfloor import clock, kpi
from shopfloor.config import load_config
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.run import run
from simulator.sinks import ListSink

ROOT = Path(__file__).resolve().parents[2]
START_MS = 1_795_366_800_000
END_MS = START_MS + 86_400_000


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    cfg = load_config(ROOT / "config" / "plant.yaml")
    sink = ListSink()
    truth = run(cfg, sink, START_MS, 86400).report
    store = SqliteStore(tmp_path_factory.mktemp("dash") / "s.db")
    records = [validate(t, orjson.dumps(p), END_MS, 10**12, 10**6) for t, p, _ in sink.messages]
    store.write([r for r in records if isinstance(r, Record)])
    from dashboard.app import create_app

    app = create_app(store, cfg, auth="plant:secret")
    return cfg, truth, store, app


def test_overview_numbers_equal_the_ground_truth(seeded):
    from dashboard.context import context
    from dashboard.data import overview

    _, truth, _, _ = seeded
    data = overview(context(), "last_24h", now_s=END_MS / 1000)
    assert data.error is None
    for lid, want in truth["lines"].items():
        assert data.report["lines"][lid]["good_count"] == want["good_count"]
        assert data.report["lines"][lid]["oee"] == pytest.approx(want["oee"], abs=0.005)
        target = kpi.target_count(want["planned_s"], want["ideal_cycle_s"])
        assert want["good_count"] / target == pytest.approx(want["oee"], abs=0.002)
    assert data.states["cnc-01"][0] in (
        "running",
        "off",
        "starved",
        "blocked",
        "down",
        "setup",
        "planned_stop",
    )


def test_callback_draws_table_status_and_bars_in_both_languages(seeded, monkeypatch):
    import dashboard.data as data_mod

    _, truth, _, _ = seeded
    real = data_mod.overview
    page = sys.modules["pages.overview"]
    monkeypatch.setattr(page, "overview", lambda ctx, kind: real(ctx, kind, now_s=END_MS / 1000))
    fig, status, table, message, updated, strip, plant_cards, line_cards = page.refresh(
        1, "last_24h", "vi"
    )
    assert updated.startswith("Cập nhật lúc ")
    assert strip[0].children == "Ca hiện tại B:"  # the last shift worked: Monday B
    assert message is None
    cells = {
        c.__dict__.get("data-kpi"): c.children
        for row in table.children[1].children
        for c in row.children
        if "data-kpi" in c.__dict__
    }
    # Vietnamese writes a decimal comma: 72,1%.
    assert cells["plant:Nhà máy:oee"] == f"{truth['plant']['oee'] * 100:.1f}%".replace(".", ",")
    assert cells[
        "machine:cnc-01:availability"
    ] == f"{truth['machines']['cnc-01']['availability'] * 100:.1f}%".replace(".", ",")
    assert plant_cards is not None and line_cards is not None
    assert len(status) == 11  # the legacy press has no states here: only the collector infers them
    assert {tr.name for tr in fig.data} >= {"Độ sẵn sàng"}


def test_empty_or_broken_store_shows_a_message(seeded, tmp_path, monkeypatch):
    from dashboard.context import DashContext
    from dashboard.data import overview

    cfg, _, _, _ = seeded
    from zoneinfo import ZoneInfo

    from shopfloor.shifts import ShiftCalendar

    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    empty = DashContext(SqliteStore(tmp_path / "empty.db"), cfg, tz, ShiftCalendar(cfg.shifts, tz))
    assert overview(empty, "today").error == "no data in the store for this range yet"
    from shopfloor.store.influx1 import Influx1Store

    down = DashContext(
        Influx1Store("influxdb1://127.0.0.1:1/x"), cfg, tz, ShiftCalendar(cfg.shifts, tz)
    )
    got = overview(down, "today")
    assert got.report is None and "127.0.0.1:1" in got.error


def test_every_route_asks_for_basic_auth(seeded):
    _, _, _, app = seeded
    client = app.server.test_client()
    assert client.get("/").status_code == 401
    assert client.get("/_dash-layout").status_code == 401
    ok = {"Authorization": "Basic " + base64.b64encode(b"plant:secret").decode()}
    assert client.get("/", headers=ok).status_code == 200
    assert client.get("/_dash-layout", headers=ok).status_code == 200
    bad = {"Authorization": "Basic " + base64.b64encode(b"plant:wrong").decode()}
    assert client.get("/", headers=bad).status_code == 401


def test_machine_page_draws_what_the_simulator_knows(seeded, monkeypatch):
    import dashboard.data as data_mod

    _, truth, _, _ = seeded
    page = sys.modules["pages.machine"]
    real = data_mod.machine_view
    monkeypatch.setattr(
        page, "machine_view", lambda ctx, m, kind: real(ctx, m, kind, now_s=END_MS / 1000)
    )
    out = page.refresh(1, "cnc-02", "last_24h", "en")
    counters, by_hour, by_shift, hour_title, shift_title, gantt, power, states, table, message = (
        out[:10]
    )
    assert message is None and out[10:] == ({}, {})  # every chart shown
    shown = {c.__dict__["data-counter"]: c.children for c in counters}
    assert shown["good"] == f"Good {truth['machines']['cnc-02']['good_count']}"
    assert (hour_title, shift_title) == ("OEE per hour", "OEE per shift")
    assert len(by_hour.data[0].x) == 24
    assert list(by_shift.data[0].x) == ["Mon 23/11 A", "Mon 23/11 B"]
    running = next(tr for tr in gantt.data if tr.name == "Running")
    assert sum(running.x) / 1000 == pytest.approx(truth["machines"]["cnc-02"]["running_s"], abs=2)
    assert 100 <= len(power.data[0].y) <= 601  # bucketed: never the 8,640 raw samples
    assert sum(states.data[0].y) == pytest.approx(24, abs=0.05)
    rows = table.children[1].children
    assert len(rows) == min(20, truth["machines"]["cnc-02"]["failures"])
    assert all(r.children[2].children for r in rows)  # each breakdown has its reason
    assert page.refresh(1, None, "last_24h", "vi")[-3] == "Chưa có máy nào"


def test_losses_page_pareto_waterfall_and_bottlenecks(seeded, monkeypatch):
    import dashboard.data as data_mod

    cfg, truth, _, _ = seeded
    page = sys.modules["pages.losses"]
    real = data_mod.losses
    monkeypatch.setattr(page, "losses", lambda ctx, kind: real(ctx, kind, now_s=END_MS / 1000))
    pareto, starvation, waterfall, table, message, style = page.refresh(1, "last_24h", "en")
    assert message is None and style == {}
    # Starvation by cause (issue 12): with no materials nor orders, every wait is for the
    # station upstream (the first station never waits), as long as the simulator's starved.
    upstream_h = sum(
        truth["machines"][st.id]["starved_s"]
        for _, st in cfg.stations()
        if st.connectivity != "legacy"
    )
    assert list(starvation.data[0].x) == ["Upstream station"]
    assert starvation.data[0].y[0] == pytest.approx(upstream_h / 3600, abs=0.01)
    hours = list(pareto.data[0].y)
    assert hours == sorted(hours, reverse=True)
    non_legacy = [st.id for _, st in cfg.stations() if st.connectivity != "legacy"]
    loss_h = (
        sum(
            sum(
                truth["machines"][m][f"{s}_s"]
                for s in ("idle", "starved", "blocked", "down", "setup")
            )
            for m in non_legacy
        )
        / 3600
    )
    assert sum(
        d[2]
        for d in real(
            __import__("dashboard.context", fromlist=["x"]).context(), "last_24h", END_MS / 1000
        ).pareto
    ) == pytest.approx(loss_h, abs=0.01)
    plant = truth["plant"]
    wf = waterfall.data[0]
    assert wf.y[-1] == pytest.approx(plant["ideal_cycle_s"] * plant["good_count"] / 3600, abs=0.01)
    assert wf.y[0] + wf.y[1] == pytest.approx(plant["planned_s"] / 3600, abs=0.01)
    shown = {
        r.children[1].__dict__["data-bottleneck"]: r.children[1].children
        for r in table.children[1].children
    }
    assert (
        shown["machining-1"] == "cnc-02"
    )  # the slowest machine of the line (50 s ideal, 53 s mean)


def test_energy_page_totals_and_states(seeded, monkeypatch):
    import dashboard.data as data_mod
    from dashboard.context import context

    cfg, truth, _, _ = seeded
    page = sys.modules["pages.energy"]
    real = data_mod.energy
    monkeypatch.setattr(page, "energy", lambda ctx, kind: real(ctx, kind, now_s=END_MS / 1000))
    # The page cuts its charts at the clock's "now" too (the unfinished quarter): the same
    # instant as the data's, whatever the hour this runs at (a Monday-10:00 clock drew only
    # the morning's quarters as finished; a Sunday one, none).
    monkeypatch.setenv(clock.ENV, datetime.fromtimestamp(END_MS / 1000, UTC).isoformat())
    out = page.refresh(1, "last_24h", "en")
    bars, by_state, demand, shifts, summary, table, message, style = out
    assert message is None and style == {}
    assert [tr.name for tr in bars.data] == ["Energy (kWh)", "kWh per good part"]
    assert "Running" in list(by_state.data[0].labels)
    metered = [st.id for _, st in cfg.stations() if st.connectivity != "legacy"]
    want_kwh = sum(truth["machines"][m]["energy_kwh"] for m in metered)
    items = {li.__dict__["data-energy"]: li.children for li in summary.children}
    assert items["total"] == f"Energy (kWh): {want_kwh:,.1f}"
    data = real(context(), "last_24h", END_MS / 1000)
    # Energy by state from durations x rated power equals the metered energy (the legacy
    # press has no stored states here: only the collector infers them).
    assert sum(data.by_state_kwh.values()) == pytest.approx(want_kwh, rel=1e-4)
    # 15-minute demand from the meter readings adds up to the metered energy.
    assert sum(demand.data[0].y) / 4 == pytest.approx(want_kwh, abs=0.05 * len(demand.data[0].y))
    assert 96 <= len(demand.data[0].y) <= 97  # 24 h, and the reading at the range's end
    # Cost: every quarter priced by its local tariff period; the periods add up to the total.
    tf = cfg.energy.tariff
    periods = {k: v for k, v in items.items() if k.startswith("period-")}
    kwh_by = {
        k[len("period-") :]: float(v.split(": ")[1].split(" kWh")[0].replace(",", ""))
        for k, v in periods.items()
    }
    assert sum(kwh_by.values()) == pytest.approx(want_kwh, abs=0.5)
    assert kwh_by["peak"] > 0 and kwh_by["off_peak"] >= 0
    want_cost = sum(kwh_by[p] * tf.price_per_kwh[p] for p in kwh_by)
    cost = float("".join(c for c in items["cost"].split(": ")[1] if c.isdigit() or c == "."))
    assert cost == pytest.approx(want_cost, rel=0.002)
    assert items["co2e"] == f"CO2e: {want_kwh * 0.6592:,.1f} kg"
    # One bar per shift worked on the simulated Monday (A and B).
    assert list(shifts.data[0].x) == ["Mon 23/11 A", "Mon 23/11 B"]
    # Machines draw (almost) nothing off shift: the shifts hold all but the meter's last minute.
    assert 0.995 * want_kwh <= sum(shifts.data[0].y) <= want_kwh + 0.1
    rows = table.children[1].children
    assert [r.__dict__["data-line"] for r in rows if "data-line" in r.__dict__] == list(
        data.report["lines"]
    )
    assert set(data.report["lines"]) == set(truth["lines"])
    stations = {r.__dict__["data-machine"]: r for r in rows if "data-machine" in r.__dict__}
    assert set(stations) == set(truth["machines"])
    cnc = truth["machines"]["cnc-01"]
    assert stations["cnc-01"].children[1].children == f"{cnc['energy_kwh']:.1f}"
    # Station costs add up to their line's (the same quarters, priced the same way).
    line_cost = float(
        next(r for r in rows if r.__dict__.get("data-line") == "machining-1")
        .children[3]
        .children.replace(",", "")
    )
    parts = [
        float(stations[m].children[3].children.replace(",", ""))
        for m in truth["lines"]["machining-1"]["stations"]
    ]
    assert sum(parts) == pytest.approx(line_cost, abs=len(parts))
    assert float(items["peak"].split(": ")[1].split()[0]) == pytest.approx(
        max(demand.data[0].y), abs=0.1
    )


def test_machine_oee_per_shift_equals_the_simulator_over_that_shift(seeded):
    """The simulator is deterministic: the run up to 14:00 minus the run up to 06:00 is what
    happened in shift A."""
    from dashboard.context import context
    from dashboard.data import machine_view

    cfg = seeded[0]
    upto = {
        h: run(cfg, ListSink(), START_MS, h * 3600).report["machines"]["cnc-02"] for h in (6, 14)
    }
    view = machine_view(context(), "cnc-02", "last_24h", now_s=END_MS / 1000)
    (name, start, shift_a), _ = view.by_shift
    assert (name, start) == ("A", START_MS + 6 * 3_600_000)
    for key in ("good_count", "scrap_count", "running_s", "down_s"):
        assert shift_a[key] == pytest.approx(upto[14][key] - upto[6][key], abs=1.0), key
    hours = dict(view.by_hour)
    ten = hours[START_MS + 10 * 3_600_000]  # the meal break 10:00-10:30
    assert ten["planned_stop_s"] == pytest.approx(1800, abs=1)


def test_custom_range_in_plant_time_and_its_errors(seeded):
    from dashboard.context import context
    from dashboard.data import overview, range_spec

    _, truth, _, _ = seeded
    # Local wall-clock times of the plant (Asia/Ho_Chi_Minh), not UTC.
    data = overview(context(), range_spec("custom", "2026-11-23T00:00", "2026-11-24T00:00"))
    assert (data.t0_ms, data.t1_ms) == (START_MS, END_MS)
    assert data.report["plant"]["good_count"] == truth["plant"]["good_count"]
    assert overview(context(), range_spec("custom", "2026-11-23T00:00", None)).error == (
        "custom range: set its end (local time, Asia/Ho_Chi_Minh)"
    )
    bad = overview(context(), range_spec("custom", "2026-11-23T08:00", "2026-11-23T07:00"))
    assert bad.error == "custom range: the end must be after the start"
    assert "not a date" in overview(context(), range_spec("custom", "soon", "later")).error
    page = sys.modules["pages.overview"]
    # The page says it as a notice in its language.
    (shown,) = page.refresh(1, "custom", "en", "x", "y")[3]
    assert shown.children.startswith("Custom range: ") and "not a date" in shown.children
    (shown,) = page.refresh(1, "custom", "vi", "x", "y")[3]
    assert "không phải là ngày giờ hợp lệ" in shown.children


def test_the_current_shift_stays_in_view_beside_another_range(seeded):
    from dashboard.context import context
    from dashboard.data import overview
    from shopfloor.store.report import report_from_store

    _, _, store, _ = seeded
    now_s = START_MS / 1000 + 17 * 3600  # Monday 17:00: shift B since 14:00
    data = overview(context(), "last_24h", now_s=now_s)
    name, shift = data.shift
    want = report_from_store(store, START_MS + 14 * 3_600_000, int(now_s * 1000) + 1, context().cfg)
    assert name == "B"
    assert shift["plant"]["oee"] == pytest.approx(want["plant"]["oee"])
    assert shift["plant"]["good_count"] == want["plant"]["good_count"] > 0
    assert overview(context(), "current_shift", now_s=now_s).shift is None
    strip = sys.modules["pages.overview"].shift_strip(data, "en")
    shown = {s.__dict__["data-kpi"]: s.children for s in strip[1:]}
    assert shown["shift:plant:Plant:oee"] == f"Plant OEE {want['plant']['oee'] * 100:.1f}%"


def test_sparkline_buckets_add_up_to_the_day_and_closed_ones_are_kept_a_minute(seeded, monkeypatch):
    import dashboard.data as data_mod
    from dashboard.context import context

    _, truth, _, _ = seeded
    first = data_mod.overview(context(), "last_24h", now_s=END_MS / 1000)
    # Back to back over the day: the buckets' good parts are the day's, line by line.
    assert first.trend[0][0] == START_MS and first.trend[-1][1] == END_MS + 1
    for lid, want in truth["lines"].items():
        assert sum(r["lines"][lid]["good_count"] for _, _, r in first.trend) == want["good_count"]
    # A refresh within the minute takes the closed buckets as they were, without reading them.
    reads: list[list[tuple[int, int]]] = []
    real = data_mod.report_windows

    def counted(store, windows, cfg=None, machine=None):
        reads.append(list(windows))
        return real(store, windows, cfg, machine)

    monkeypatch.setattr(data_mod, "report_windows", counted)
    again = data_mod.overview(context(), "last_24h", now_s=END_MS / 1000)
    assert [r for _, _, r in again.trend] == [r for _, _, r in first.trend]
    assert not set(reads[0]) & {(a, b) for a, b, _ in first.trend[:-1]}
    # Past the minute they are read again.
    monkeypatch.setattr(data_mod.ClosedBuckets, "TTL_S", 0.0)
    data_mod.overview(context(), "last_24h", now_s=END_MS / 1000)
    assert {(a, b) for a, b, _ in first.trend} <= set(reads[1])


def test_reads_that_ended_over_a_minute_ago_are_kept_a_minute(seeded, monkeypatch):
    import dashboard.data as data_mod
    from dashboard.context import context

    _, truth, store, _ = seeded
    monkeypatch.setattr(data_mod, "CLOSED_READS", data_mod.ClosedReads())
    monkeypatch.setattr(data_mod, "CLOSED_BUCKETS", data_mod.ClosedBuckets())
    settled = END_MS - data_mod.ClosedBuckets.SETTLED_MS
    reads: list[tuple[str, int]] = []  # (read, the end of the time it covers)
    ends = {
        "state_hours": lambda a: a[1],
        "states": lambda a: a[1],
        "counter_at": lambda a: a[1] + 1,
    }
    for name, end in ends.items():
        real = getattr(store, name)

        def counted(*a, _real=real, _name=name, _end=end):
            reads.append((_name, _end(a)))
            return _real(*a)

        monkeypatch.setattr(store, name, counted)
    data_mod.overview(context(), "last_24h", now_s=END_MS / 1000)
    assert any(end <= settled for _, end in reads), "the first refresh reads settled data"
    # Within the minute only what ends in the last minute is read again, and the day's
    # numbers are still the simulator's.
    reads.clear()
    again = data_mod.overview(context(), "last_24h", now_s=END_MS / 1000)
    assert reads and all(end > settled for _, end in reads)
    for lid, want in truth["lines"].items():
        assert again.report["lines"][lid]["good_count"] == want["good_count"]
    # Past the minute they are read again.
    monkeypatch.setattr(data_mod.ClosedReads, "TTL_S", 0.0)
    reads.clear()
    data_mod.overview(context(), "last_24h", now_s=END_MS / 1000)
    assert any(end <= settled for _, end in reads)
