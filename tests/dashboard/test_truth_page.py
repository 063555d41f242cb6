"""The Truth page against a real broker, a live simulator, a collector and SQLite on a pinned
ticking clock: the truth it shows equals the simulator's own report of a seeded run over the
same range, and what the store measured agrees with it within the reconcile tolerances."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from collector.service import Collector
from dashboard.commands import CommandClient
from shopfloor import clock, kpi
from shopfloor.config import load_config
from shopfloor.mqtt_url import parse_broker_url
from shopfloor.store.sqlite import SqliteStore
from simulator.run import run
from simulator.sinks import NullSink
from tests.support import MONDAY_1100, cli, instant_s, pinned_env, running_broker, wait_for

HOUR_MS = 3_600_000
# Two lines, breakdowns, scrap and setups: every figure of the table moves.
PLANT: dict[str, Any] = {
    "plant": {"enterprise": "acme", "site": "truth"},
    "seed": 5,
    "shifts": [{"name": "A", "start": "06:00", "end": "14:00",
                "breaks": [{"start": "10:00", "minutes": 30}]}],
    "telemetry": {"sample_interval_s": 10, "energy_interval_s": 30},
    "lines": [
        {"id": "l1", "area": "a1", "batch_size": 60, "stations": [
            {"id": "cnc-1", "kind": "cnc", "ideal_cycle_s": 30, "cycle_s": {"mean": 33, "cv": 0.1},
             "mtbf_min": 45, "mttr_min": 8, "scrap_rate": 0.03, "setup_min": 6,
             "power_kw": {"running": 18, "idle": 4, "down": 1}},
            {"id": "pack-1", "kind": "packaging", "ideal_cycle_s": 25,
             "cycle_s": {"mean": 27, "cv": 0.05}, "mtbf_min": 120, "mttr_min": 5,
             "power_kw": {"running": 6, "idle": 2}},
        ]},
        {"id": "l2", "area": "a1", "stations": [
            {"id": "press-1", "kind": "press", "ideal_cycle_s": 20,
             "cycle_s": {"mean": 22, "cv": 0.08}, "mtbf_min": 60, "mttr_min": 10,
             "scrap_rate": 0.01, "power_kw": {"running": 30, "idle": 5, "down": 2}},
        ]},
    ],
}  # fmt: skip


def cells_attr(tree: Any, name: str) -> dict[str, str]:
    """data-truth tag -> another attribute of that cell, from a component's JSON tree."""
    out: dict[str, str] = {}

    def walk(c: Any) -> None:
        if isinstance(c, list | tuple):
            for x in c:
                walk(x)
        elif isinstance(c, dict):
            props = c.get("props", {})
            if "data-truth" in props and name in props:
                out[props["data-truth"]] = props[name]
            walk(props.get("children"))
        elif hasattr(c, "to_plotly_json"):
            walk(c.to_plotly_json())

    walk(tree)
    return out


def cells(component: Any) -> dict[str, str]:
    """data-truth tag -> the text shown, from the page's rendered table."""
    out: dict[str, str] = {}

    def walk(c: Any) -> None:
        if isinstance(c, list | tuple):
            for x in c:
                walk(x)
            return
        if not hasattr(c, "to_plotly_json"):
            return
        props = c.to_plotly_json()["props"]
        if "data-truth" in props:
            out[props["data-truth"]] = props["children"]
        walk(props.get("children"))

    walk(component)
    return out


@pytest.mark.slow
def test_truth_page_shows_the_simulators_truth_and_the_store_agrees(tmp_path, monkeypatch):
    from dashboard.app import create_app
    from dashboard.context import context
    from dashboard.truthdata import TruthView, compare, truth_vs_store
    from shopfloor.store.report import report_from_store

    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(PLANT))
    cfg = load_config(path)
    env = pinned_env(MONDAY_1100)
    monkeypatch.setenv(clock.ENV, env[clock.ENV])
    with running_broker() as broker:
        store = SqliteStore(tmp_path / "s.db")
        col = Collector(parse_broker_url(broker.url), store, client_id="truth-test").start()
        wait_for(lambda: col.metrics.value("shopfloor_collector_subscribed") == 1, 10, "sub")
        sim = subprocess.Popen(
            cli("sim", "--config", str(path), "--broker", broker.url, "--backfill", "3h"),
            stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        commands = CommandClient(parse_broker_url(broker.url), "acme", "truth")
        try:
            create_app(store, cfg, commands=commands)
            from dashboard.pages import truth as page  # registers itself in a Dash app

            ctx = context()
            now = instant_s(MONDAY_1100) * 1000
            # Backfilled to now and stored: the simulator answers, the store holds 10:59.
            wait_for(
                lambda: truth_vs_store(ctx, "last_hour", timeout_s=1).error is None,
                60, "the simulator's truth",
            )  # fmt: skip
            wait_for(
                lambda: all(m.last_ts >= now - 60_000 for m in store.machines())
                and len(store.machines()) == 3,
                60, "the backfill stored",
            )  # fmt: skip
            # A custom range of whole quarters, 08:15-10:45 local: the truth covers exactly it.
            start, end = "2026-11-23T08:15", "2026-11-23T10:45"
            view = truth_vs_store(ctx, f"custom|{start}|{end}")
            assert view.error is None and not view.rounded
            t0 = int(instant_s(start + ":00+07:00") * 1000)
            t1 = int(instant_s(end + ":00+07:00") * 1000)
            assert (view.from_ms, view.to_ms) == (t0, t1)
            # The simulator's own report of the same seeded run: up to t1 less up to t0.
            reply = commands.send(commands.topic(None), {"action": "truth", "from_ms": t0})
            sim_start = reply.payload["result"]["plant"]["start_ms"]
            a = run(cfg, NullSink(), sim_start, (t0 - sim_start) / 1000).report
            b = run(cfg, NullSink(), sim_start, (t1 - sim_start) / 1000).report
            shown = page.render(view, "en", ctx.tz)
            table = cells(shown[3])
            by_name = {(r.kind, r.name): r for r in view.rows}
            for mid in b["machines"]:
                row = by_name[("machine", mid)]
                for key in ("good_count", "scrap_count"):
                    want = b["machines"][mid][key] - a["machines"][mid][key]
                    assert row.cells[key].truth == want, (mid, key)
                    assert table[f"machine:{mid}:{key}:truth"] == f"{want:,}"
                kwh = b["machines"][mid]["energy_kwh"] - a["machines"][mid]["energy_kwh"]
                assert row.cells["energy_kwh"].truth == pytest.approx(kwh, abs=1e-4)
            for lid in b["lines"]:
                # A line is what leaves it: its OEE from its last station's time and parts.
                last = b["lines"][lid]["stations"][-1]
                good = b["machines"][last]["good_count"] - a["machines"][last]["good_count"]
                total = b["machines"][last]["total_count"] - a["machines"][last]["total_count"]
                run_s = b["machines"][last]["running_s"] - a["machines"][last]["running_s"]
                planned = sum(
                    b["machines"][last][f"{s}_s"] - a["machines"][last][f"{s}_s"]
                    for s in kpi.STATES
                    if s not in ("planned_stop", "off")
                )
                ideal = cfg.lines[[ln.id for ln in cfg.lines].index(lid)].stations[-1].ideal_cycle_s
                want = kpi.oee(planned, run_s, ideal, total, good)
                cell = by_name[("line", lid)].cells["oee"]
                assert cell.truth == pytest.approx(want.oee, abs=1e-6)
                assert table[f"line:{lid}:oee:truth"] == f"{want.oee * 100:.1f}%"
            assert any(
                by_name[("machine", m)].cells["scrap_count"].truth > 0 for m in b["machines"]
            )
            # Measured from the store, against the truth: every figure within tolerance.
            off = [(r.name, k, c) for r in view.rows for k, c in r.cells.items() if c.off]
            assert not off
            judged = len(view.judged)
            assert judged == 7 * (1 + 2 + 3)
            summary = shown[2][0].to_plotly_json()["props"]
            assert summary["data-truth-ok"] == summary["data-truth-n"] == str(judged)
            # One part less in the store for cnc-1: exactly that figure is flagged, and drawn so.
            truth_report = commands.send(
                commands.topic(None), {"action": "truth", "from_ms": t0, "to_ms": t1}
            ).payload["result"]
            measured = report_from_store(store, t0, t1, cfg)
            measured["machines"]["cnc-1"]["good_count"] -= 1
            flagged = [
                (r.kind, r.name, k)
                for r in compare(measured, truth_report, ctx)
                for k, c in r.cells.items()
                if c.off
            ]
            assert flagged == [("machine", "cnc-1", "good_count")]
            bad = TruthView(compare(measured, truth_report, ctx), None, t0, t1)
            drawn = page.table(bad, "en").to_plotly_json()
            offs = [k for k, v in cells_attr(drawn, "data-off").items() if v == "1"]
            assert offs == ["machine:cnc-1:good_count:diff"]
            # In Vietnamese: the same numbers as Vietnamese writes them.
            vi = cells(page.render(view, "vi", ctx.tz)[3])
            good = by_name[("plant", "plant")].cells["good_count"].truth
            assert vi["plant:plant:good_count:truth"] == f"{good:,.0f}".replace(",", ".")
        finally:
            sim.terminate()
            sim.wait(20)
            commands.close()
            col.stop()
            store.close()


def _context(store: SqliteStore, cfg: Any, commands: CommandClient) -> Any:
    from zoneinfo import ZoneInfo

    from dashboard.context import DashContext
    from shopfloor.shifts import ShiftCalendar

    tz = ZoneInfo(cfg.plant.timezone)
    return DashContext(store, cfg, tz, ShiftCalendar(cfg.shifts, tz), 5.0, commands)


@pytest.mark.slow
def test_a_large_plants_truth_behind_the_compose_packet_limit(tmp_path, monkeypatch):
    """225 stations: the whole truth (~130 kB) is more than the compose Mosquitto lets through
    (max_packet_size 65536). The page asks a few lines at a time and merges the answers: its
    truth equals the simulator's own report, and the simulator keeps publishing telemetry."""
    from dashboard.truthdata import truth_vs_store
    from tests.limited_broker import limited_broker
    from tests.support import PLANT as DEFAULT_PLANT
    from tests.support import Subscriber

    large = DEFAULT_PLANT.parent / "large.yaml"
    cfg = load_config(large)
    env = pinned_env(MONDAY_1100)
    monkeypatch.setenv(clock.ENV, env[clock.ENV])
    with limited_broker(tmp_path) as (url, log):
        port = int(url.rsplit(":", 1)[1])
        prefix = f"shopfloor/v1/{cfg.plant.enterprise}/{cfg.plant.site}"
        watch = Subscriber(port, f"{prefix}/+/+/+/telemetry")
        store = SqliteStore(tmp_path / "s.db")  # empty: the truth is what is checked here
        sim = subprocess.Popen(
            cli("sim", "--config", str(large), "--broker", url, "--backfill", "40m"),
            stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        commands = CommandClient(parse_broker_url(url), cfg.plant.enterprise, cfg.plant.site)
        try:
            ctx = _context(store, cfg, commands)
            start, end = "2026-11-23T10:30", "2026-11-23T10:45"
            view = wait_for(
                lambda: (v := truth_vs_store(ctx, f"custom|{start}|{end}", timeout_s=5)).error
                is None and v,
                120, "the large plant's truth",
            )  # fmt: skip
            t0 = int(instant_s(start + ":00+07:00") * 1000)
            t1 = int(instant_s(end + ":00+07:00") * 1000)
            assert (view.from_ms, view.to_ms) == (t0, t1)
            reply = commands.send(commands.topic(None), {"action": "truth", "from_ms": t0,
                                                         "lines": [cfg.lines[0].id]})  # fmt: skip
            sim_start = reply.payload["result"]["plant"]["start_ms"]
            a = run(cfg, NullSink(), sim_start, (t0 - sim_start) / 1000).report
            b = run(cfg, NullSink(), sim_start, (t1 - sim_start) / 1000).report
            by_name = {(r.kind, r.name): r for r in view.rows}
            assert len([r for r in view.rows if r.kind == "machine"]) == 225
            for mid in b["machines"]:
                for key in ("good_count", "scrap_count"):
                    want = b["machines"][mid][key] - a["machines"][mid][key]
                    assert by_name[("machine", mid)].cells[key].truth == want, (mid, key)
            plant = by_name[("plant", "plant")].cells
            # The plant's entry sums what leaves each line, and the energy of all of it.
            good = sum(
                b["machines"][e["stations"][-1]]["good_count"]
                - a["machines"][e["stations"][-1]]["good_count"]
                for e in b["lines"].values()
            )
            assert plant["good_count"].truth == good > 0
            kwh = b["plant"]["energy_kwh"] - a["plant"]["energy_kwh"]
            assert plant["energy_kwh"].truth == pytest.approx(kwh, abs=1e-3)
            # Telemetry goes on flowing: the simulator was not cut off its broker.
            seen = watch.count()
            wait_for(lambda: watch.count() > seen + 200, 60, "telemetry after the truth")
            assert sim.poll() is None
            assert "oversize" not in log.read_text()
        finally:
            sim.terminate()
            sim.wait(20)
            commands.close()
            watch.close()
            store.close()


@pytest.mark.slow
def test_a_range_ending_now_compares_both_up_to_what_the_store_holds(tmp_path, monkeypatch):
    """The store ends each machine at its last message (up to a sample interval ago), the
    simulator counts to its own now: a "last hour" view compares both up to the latest whole
    quarter hour the store has from every machine, says so, and flags nothing, refresh after
    refresh. The page's requests stay out of the Simulation page's list of replies."""
    from dashboard.app import create_app
    from dashboard.truthdata import store_frontier, truth_vs_store
    from tests.support import PLANT as EXAMPLE

    # The example plant (12 machines, legacy ones too): with the truth counted to the
    # simulator's now, 4 of 10 such views flagged performance 0.5 to 0.7 points off.
    path = EXAMPLE
    cfg = load_config(path)
    env = pinned_env(MONDAY_1100)
    monkeypatch.setenv(clock.ENV, env[clock.ENV])
    with running_broker() as broker:
        store = SqliteStore(tmp_path / "s.db")
        col = Collector(parse_broker_url(broker.url), store, client_id="truth-lag").start()
        wait_for(lambda: col.metrics.value("shopfloor_collector_subscribed") == 1, 10, "sub")
        sim = subprocess.Popen(
            cli("sim", "--config", str(path), "--broker", broker.url, "--backfill", "20m"),
            stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        commands = CommandClient(parse_broker_url(broker.url), cfg.plant.enterprise, cfg.plant.site)
        try:
            create_app(store, cfg, commands=commands)
            from dashboard.pages import truth as page  # registers itself in a Dash app

            ctx = _context(store, cfg, commands)
            now_ms = int(instant_s(MONDAY_1100) * 1000)
            wait_for(
                lambda: (f := store_frontier(ctx)) is not None and f >= now_ms, 60, "stored to now"
            )  # fmt: skip
            frontiers: set[int] = set()

            def lagging(seen: set[int]) -> int | None:
                """The store's frontier once it is most of a sample interval (10 s) behind
                the clock and newer than any refresh so far: the moment a view counted to
                the simulator's now flagged the store."""
                f = store_frontier(ctx)
                return (
                    f if f is not None and f not in seen and clock.now_ms() - f >= 8_500 else None
                )

            for _ in range(4):
                before = wait_for(lambda: lagging(frontiers), 60, "the store a sample behind")
                view = truth_vs_store(ctx, "last_hour", timeout_s=5)
                assert view.error is None, view.error
                off = [(r.name, k, c.diff) for r in view.rows for k, c in r.cells.items() if c.off]
                assert not off
                # Both up to 11:00, the latest quarter stored from every machine.
                assert view.cut_ms == view.to_ms == now_ms <= before
                assert view.rows[0].cells["good_count"].truth > 0
                frontiers.add(before)
            assert len(frontiers) == 4
            cut = page.render(view, "en", ctx.tz)[1].children[2]
            assert cut.to_plotly_json()["props"]["data-truth-cut"] == str(now_ms)
            assert "compared up to" in cut.children and "11:00" in cut.children
            # A refused truth (no action in it) of the page's own: not in the replies' list.
            listed_before = len(commands.replies)
            future = commands.send(
                commands.topic(None), {"action": "truth", "from_ms": now_ms + 10 * HOUR_MS},
                listed=False,
            )  # fmt: skip
            assert future is not None and future.payload["ok"] is False
            assert all(r.payload.get("id") != future.payload["id"] for r in commands.replies)
            # The same request from the Simulation page is listed (the list works).
            shown = commands.send(
                commands.topic(None), {"action": "truth", "from_ms": now_ms + 10 * HOUR_MS}
            )
            assert shown is not None and shown.payload["ok"] is False
            assert commands.replies[0].payload["id"] == shown.payload["id"]
            assert len(commands.replies) == listed_before + 1
        finally:
            sim.terminate()
            sim.wait(20)
            commands.close()
            col.stop()
            store.close()
