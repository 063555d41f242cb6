"""Retention on InfluxDB 1.x (issue 15), on a real influxd 1.6.7: raw records in the default
retention policy, rollups, births and bookkeeping in the `rollups` policy, kept longer.

influxd refuses a point older than its policy's duration and drops expired shard groups by
its own (real) clock, so this test cannot pin the clock: two hours of config/plant.yaml
simulated from a fixed Monday 06:00 (shift A) are moved, whole hours, to the two hours that
ended two hours before the real clock's current hour, and the store's raw policy starts at one
day (shard groups of an hour). The range read is those hours and the next (the run's closing
readings are at its end instant). The figures compared are the simulator's ground truth for those
two hours and the same reads before the expiry, so the hour of the day it runs at does not
matter. Then:

- every write under the two policies succeeds (the bookkeeping points once sat at time 0,
  which any policy refused: every write failed);
- the raw policy is cut to one hour (`apply_retention`, as `shopfloor collect --retention 1h`
  does on start); influxd, checking every second, drops both hours' raw shard groups: the
  raw reads over them are empty;
- the overview's report, the overview and energy pages' data over those two hours equal
  what they were before, and the ground truth (good parts per line, each talking station's
  parts and kWh, whole-hour state seconds);
- a machine's next state change, written after its previous one expired, closes that open
  interval in the hour rollup (its `_latest` point stands in for the expired raw change);
- a store written before the policies (bookkeeping at time 0, everything in `autogen`) is
  migrated by the first write of this version: its rollups, births and bookkeeping read the
  same afterwards.
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
import pytest
import urllib3

from collector.validate import validate
from dashboard import data
from dashboard.context import DashContext
from shopfloor.config import load_config
from shopfloor.shifts import ShiftCalendar
from shopfloor.store import lineproto
from shopfloor.store.base import Record, StoreError
from shopfloor.store.influx1 import Influx1Store
from shopfloor.store.influxql import ROLLUP_MEASUREMENTS, InfluxQLReader
from shopfloor.store.report import report_from_store
from simulator.run import run
from simulator.sinks import ListSink
from tests.integration.test_retention import assert_same
from tests.servers import influxd, influxd_path
from tests.support import PLANT, cli, running_broker, wait_for

HOUR_MS = 3_600_000
SIM_START_MS = 1_795_366_800_000 + 6 * HOUR_MS  # Monday 2026-11-23 06:00 +07:00, shift A
HOURS = 2
FAST_RETENTION = '[retention]\n  enabled = true\n  check-interval = "1s"\n'
pytestmark = pytest.mark.skipif(
    not influxd_path(), reason="needs influxd (apt influxdb; .ci/run installs it)"
)


@pytest.fixture(scope="module")
def sim():
    """(config, ground truth, records moved to [start, end), start, end)."""
    cfg = load_config(PLANT)
    sink = ListSink()
    truth = run(cfg, sink, SIM_START_MS, HOURS * 3600).report
    now_h = int(time.time() * 1000) // HOUR_MS * HOUR_MS
    start = now_h - (HOURS + 2) * HOUR_MS
    shift = start - SIM_START_MS
    end_sim = SIM_START_MS + HOURS * HOUR_MS
    recs = [validate(t, orjson.dumps(p), end_sim, 10**12, 10**6) for t, p, _ in sink.messages]
    moved = [dataclasses.replace(r, ts=r.ts + shift) for r in recs if isinstance(r, Record)]
    # The range read: the run's hours and the next one (the run's closing readings are at its
    # end instant), all in shard groups that a one-hour policy drops now.
    return cfg, truth, moved, start, start + (HOURS + 1) * HOUR_MS


def pages(url: str, cfg, t0: int, t1: int) -> tuple[data.Overview, data.Energy]:
    tz = ZoneInfo(cfg.plant.timezone)
    store = Influx1Store(url)  # a new object: the pages' caches are per store
    ctx = DashContext(store, cfg, tz, ShiftCalendar(cfg.shifts, tz))

    def local(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%dT%H:%M")

    spec = data.range_spec("custom", local(t0), local(t1))
    try:
        return data.overview(ctx, spec, time.time()), data.energy(ctx, spec, time.time())
    finally:
        store.close()


def influxql(server, q: str) -> list:
    resp = urllib3.request(
        "POST",
        f"http://127.0.0.1:{server.port}/query",
        fields={"db": "shopfloor", "q": q, "epoch": "ms"},
    )
    assert resp.status == 200, resp.data
    out = orjson.loads(resp.data)["results"]
    assert all("error" not in r for r in out), out
    return [s for r in out for s in r.get("series", [])]


def raw_left(server) -> int:
    """How many raw points are left in the default policy."""
    series = influxql(
        server, 'SELECT count("seq") FROM "autogen"./^(state|count|energy|telemetry)$/'
    )
    return sum(int(s["values"][0][1]) for s in series)


def test_old_ranges_read_the_same_after_the_raw_records_expired(sim, tmp_path):
    cfg, truth, recs, t0, t1 = sim
    legacy = {st.id for _, st in cfg.stations() if st.connectivity == "legacy"}
    with influxd(tmp_path, FAST_RETENTION) as server:
        writer = Influx1Store(server.url)
        writer.apply_retention(86400.0, 400 * 86400.0)
        for i in range(0, len(recs), 2000):
            writer.write(recs[i : i + 2000])  # raises if influxd refused a point
        writer.close()
        assert policies(server) == {"autogen": "24h0m0s", "rollups": "9600h0m0s"}
        # No bookkeeping point at time 0 (a retention policy refuses those).
        assert not influxql(server, 'SELECT * FROM "rollups"./.*/ WHERE time < 1h')
        assert raw_left(server) > 10_000
        # What old ranges read is all in `rollups`, none of it in the raw policy.
        for name in ROLLUP_MEASUREMENTS:
            assert not influxql(server, f'SELECT * FROM "autogen"."{name}" LIMIT 1'), name
        kept = {s["name"] for s in influxql(server, 'SELECT count(*) FROM "rollups"./.*/')}
        assert kept == set(ROLLUP_MEASUREMENTS), set(ROLLUP_MEASUREMENTS) ^ kept

        before = report_from_store(Influx1Store(server.url), t0, t1, cfg)
        ov_a, en_a = pages(server.url, cfg, t0, t1)
        assert ov_a.error is None and en_a.error is None
        assert before["plant"]["good_count"] > 0

        # `shopfloor collect --retention 1h` on start: both hours' shard groups expire.
        Influx1Store(server.url).apply_retention(3600.0, 400 * 86400.0)
        wait_for(lambda: raw_left(server) == 0, 60, "influxd dropping the expired shard groups")

        store = Influx1Store(server.url)
        some = next(m for m in truth["machines"] if m not in legacy)
        assert store.samples(some, t0, t1) == []
        assert store.reader.states(t0, t1) == {}
        assert store.reader.counter_at("count", t1 - 1) == {}
        after = report_from_store(store, t0, t1, cfg)
        assert_same(after, before)
        ov_b, en_b = pages(server.url, cfg, t0, t1)
        assert ov_b.error is None and en_b.error is None
        assert_same(ov_b.report, ov_a.report)
        assert_same([r for *_, r in ov_b.trend], [r for *_, r in ov_a.trend])
        assert en_a.demand_kw and sum(kw for _, kw in en_a.demand_kw) > 0
        for field in ("report", "by_state_kwh", "demand_kw", "line_kwh", "machine_kwh"):
            assert_same(getattr(en_b, field), getattr(en_a, field))

        # The ground truth, from the rollups alone.
        for lid, line in truth["lines"].items():
            assert after["lines"][lid]["good_count"] == line["good_count"], lid
        checked = 0
        for mid, want in truth["machines"].items():
            if mid in legacy:
                continue
            have = after["machines"][mid]
            assert have["good_count"] == want["good_count"], mid
            assert have["energy_kwh"] == pytest.approx(want["energy_kwh"], abs=0.01), mid
            # Each machine's last seconds after its newest message are not in the store.
            assert have["running_s"] == pytest.approx(want["running_s"], abs=5), mid
            checked += 1
        assert checked >= 5

        # A machine's next change, now: its previous one expired; the hour rollup closes
        # that interval from the machine's `_latest` point, through every hour since.
        (_, state, _) = store.last_changes(t1 + 10 * HOUR_MS)[some]
        mine = [r for r in recs if r.machine == some and r.channel == "state"]
        now_ms = int(time.time() * 1000)
        nxt = dataclasses.replace(
            mine[-1], ts=now_ms, seq=(mine[-1].seq or 0) + 10_000,
            payload={**mine[-1].payload, "state": "down" if state != "down" else "running"},
        )  # fmt: skip
        go_on = Influx1Store(server.url)
        go_on.write([nxt])
        hours = go_on.state_hours(t1, now_ms // HOUR_MS * HOUR_MS)[some]
        gap = (now_ms // HOUR_MS * HOUR_MS - t1) / 1000
        assert hours[state] == pytest.approx(gap)
        assert sum(hours.values()) == pytest.approx(gap)
        go_on.close()


def _write_old_layout(server, recs) -> None:
    """The layout before issue 15: everything in `autogen`, bookkeeping at time 0."""
    http = urllib3.PoolManager()
    base = f"http://127.0.0.1:{server.port}"
    http.request("POST", f"{base}/query", fields={"q": "CREATE DATABASE shopfloor"})
    old = Influx1Store(server.url)
    old._layout_ready = True  # never makes the rollups policy
    old.reader.layout = lambda: None
    for i in range(0, len(recs), 2000):
        batch = recs[i : i + 2000]
        lines = [lineproto.line(r) for r in batch]
        derived = [_at_zero(ln) for ln in old.derived_lines(batch)]
        derived = [ln for ln in derived if not ln.startswith("restamped ")]  # new
        for body in (lines, derived):
            got = http.request(
                "POST", f"{base}/write?db=shopfloor&precision=u", body="\n".join(body).encode()
            )
            assert got.status == 204, got.data


@pytest.mark.parametrize("fails_at", ["SELECT * INTO", "rp=rollups", "migrated done"])
def test_a_migration_cut_short_is_done_again(sim, tmp_path, fails_at):
    """The move to the rollups policy fails after the policy was made (the copy timed out
    on a big store, influxd went away before the bookkeeping or the `migrated` point): the
    next write does it again, and every machine and old range reads as before."""
    cfg, _, recs, t0, t1 = sim
    with influxd(tmp_path) as server:
        _write_old_layout(server, recs)
        want = report_from_store(Influx1Store(server.url), t0, t1, cfg)
        machines = {m.machine for m in Influx1Store(server.url).machines()}
        assert len(machines) == len({r.machine for r in recs})

        cut = Influx1Store(server.url)
        request = cut._request

        def failing(method, path, params, body=None, timeout=None):
            sent = " ".join(params.values()) + (body or b"").decode()
            if fails_at in sent or (fails_at == "rp=rollups" and params.get("rp") == "rollups"):
                raise StoreError("influxd went away")
            return request(method, path, params, body, *([timeout] if timeout else []))

        cut._request = failing  # type: ignore[method-assign]
        with pytest.raises(StoreError):
            cut.write(recs[-1:])
        assert "rollups" in policies(server)  # the policy was made before the failure

        # The collector retries the batch (here after a restart: a new store object).
        again = Influx1Store(server.url)
        again.write(recs[-1:])
        assert influxql(server, 'SELECT last("done") FROM "rollups"."migrated"')
        fresh = Influx1Store(server.url)
        assert {m.machine for m in fresh.machines()} == machines
        assert_same(report_from_store(fresh, t0, t1, cfg), want)


def test_a_store_written_before_the_policies_is_migrated(sim, tmp_path):
    cfg, _, recs, t0, t1 = sim
    with influxd(tmp_path) as server:
        _write_old_layout(server, recs)
        assert influxql(server, 'SELECT count("last_ts") FROM heard WHERE time < 1s')
        want = report_from_store(Influx1Store(server.url), t0, t1, cfg)
        assert want["plant"]["good_count"] > 0

        # This version's first write (a repeated record) moves what old ranges need.
        new = Influx1Store(server.url)
        new.write(recs[-1:])
        assert new.reader.r == '"rollups".'
        assert new.reader.latest_complete() and new.reader.meter_rollup_complete()
        assert_same(report_from_store(Influx1Store(server.url), t0, t1, cfg), want)
        fresh = Influx1Store(server.url)
        assert len(fresh.machines()) == len(Influx1Store(server.url).reader.machines())
        assert {m.machine for m in fresh.machines()} == {r.machine for r in recs}
        new.close()


def _at_zero(line: str) -> str:
    """A bookkeeping point as the stores wrote it before issue 15: at time 0 (they wrote no
    `restamped` points, left out by the caller)."""
    name = line.split(",", 1)[0].split(" ", 1)[0]
    if name in ("heard", "latest_complete", "meter_rollup") or name.endswith("_latest"):
        return line.rsplit(" ", 1)[0] + " 0"
    return line


def test_the_collector_sets_the_policies(tmp_path):
    """`shopfloor collect --retention 1h --rollup-retention 30d` on an InfluxDB 1.x store
    sets both policies on start (a real broker; nothing needs to be collected)."""
    with influxd(tmp_path) as server, running_broker() as broker:
        proc = subprocess.Popen(
            cli("collect", "--broker", broker.url, "--store", server.url,
                "--metrics-port", "0", "--dead-letter", str(tmp_path / "dead.jsonl"),
                "--retention", "1h", "--rollup-retention", "30d"),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            wait_for(
                lambda: policies(server) == {"autogen": "1h0m0s", "rollups": "720h0m0s"},
                60,
                "the retention policies set",
            )
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "keeps raw points 0.0416667 days, rollups 30 days" in err


def _collect_until(tmp_path, server, broker, want: dict[str, str], *flags: str) -> None:
    proc = subprocess.Popen(
        cli("collect", "--broker", broker.url, "--store", server.url,
            "--metrics-port", "0", "--dead-letter", str(tmp_path / "dead.jsonl"), *flags),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: policies(server) == want, 60, f"the retention policies {want}")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert policies(server) == want  # once the collector is gone: nothing else altered


def test_one_retention_given_leaves_the_other_policy_alone(tmp_path):
    """`--rollup-retention` alone must not shorten the raw policy (it kept everything: a
    30-day default there would have influxd drop every raw point older than a month), and
    `--retention` alone must not touch the rollups policy."""
    with influxd(tmp_path) as server, running_broker() as broker:
        _collect_until(
            tmp_path, server, broker, {"autogen": "0s", "rollups": "720h0m0s"},
            "--rollup-retention", "30d",
        )  # fmt: skip
        _collect_until(
            tmp_path, server, broker, {"autogen": "48h0m0s", "rollups": "720h0m0s"},
            "--retention", "2d",
        )  # fmt: skip
        # 'forever' is asked, and unlike a side not given it is set.
        _collect_until(
            tmp_path, server, broker, {"autogen": "0s", "rollups": "720h0m0s"},
            "--retention", "forever",
        )  # fmt: skip


def policies(server) -> dict[str, str]:
    try:
        series = influxql(server, "SHOW RETENTION POLICIES")
    except AssertionError:  # no database yet
        return {}
    return {s[0]: s[1] for s in series[0]["values"]} if series else {}


def test_a_new_anchor_writes_every_machines_bookkeeping_again(sim, tmp_path):
    """Bookkeeping points are written at the real clock's day (`anchor`) and read over the
    last two days only; a machine silent for days keeps its points in that window because
    each writer writes all of them again at each new anchor. Two days ago here, for all but
    one machine."""
    cfg, _, recs, t0, t1 = sim
    with influxd(tmp_path) as server:
        first = Influx1Store(server.url)
        at, period = first.anchor_us()
        first.anchor_us = lambda: (at - 2 * period, period)  # type: ignore[method-assign]
        first.write(recs)
        first.close()
        # Today: one machine's record only.
        last = next(r for r in reversed(recs) if r.channel == "count")
        second = Influx1Store(server.url)
        second.write([last])
        second.close()

        reader = Influx1Store(server.url)
        assert reader.bookkeeping_since() == at - period  # the window: yesterday on
        unbounded = Influx1Store(server.url)
        unbounded.bookkeeping_since = lambda: None  # type: ignore[method-assign]
        machines = {m.machine: m.last_ts for m in reader.machines()}
        assert machines == {m.machine: m.last_ts for m in unbounded.machines()}
        assert len(machines) == len({r.machine for r in recs})
        for ch in ("state", "count", "energy"):
            got = reader.reader.latest(ch, since_us=reader.bookkeeping_since())
            assert got == unbounded.reader.latest(ch)
            assert got, ch
        # Nothing of two days ago in the window: all of it was written again today.
        old = influxql(
            server, f'SELECT count("us") FROM "rollups"."state_latest" WHERE time >= {at - period}u'
        )
        assert old and old[0]["values"][0][1] == len(reader.reader.latest("state"))
        assert_same(
            report_from_store(reader, t0, t1, cfg), report_from_store(unbounded, t0, t1, cfg)
        )


def test_a_restamp_never_puts_back_an_older_value(sim, tmp_path):
    """Two writers on one store (compose's sharded collectors, the reconcile collector beside
    the production one) at a new anchor: one reads every machine's bookkeeping to write it
    again, the other writes a newer state of a machine meanwhile, then the first writes what
    it read. The newer state and `heard` stay (they went back to the old ones, same series
    and time: a machine down over a weekend showed its old state)."""
    _, _, recs, _, _ = sim
    with influxd(tmp_path) as server:
        first = Influx1Store(server.url)
        at, period = first.anchor_us()
        first.anchor_us = lambda: (at - period, period)  # type: ignore[method-assign]
        first.write(recs)
        first.close()
        last = next(r for r in reversed(recs) if r.channel == "state")
        newer = dataclasses.replace(
            last,
            ts=last.ts + 60_000,
            seq=(last.seq or 0) + 1,
            payload={
                **last.payload,
                "state": "idle" if last.payload["state"] != "idle" else "starved",
            },
        )
        other = next(
            r for r in reversed(recs) if r.machine != last.machine and r.channel == "count"
        )

        b = Influx1Store(server.url)
        a = Influx1Store(server.url)
        write_rollups = a._write_rollups
        between: list[bool] = []

        def b_writes_first(lines: list[str]) -> None:
            # a has read every machine's points to write them again; b writes before a does
            if not between and any(ln.startswith("restamped ") for ln in lines):
                between.append(True)
                b.write([newer])
            write_rollups(lines)

        a._write_rollups = b_writes_first  # type: ignore[method-assign]
        a.write([other])
        assert between

        reader = Influx1Store(server.url)
        state = reader.reader.latest("state", last.machine, reader.bookkeeping_since())
        assert state[last.machine][2]["state"] == newer.payload["state"]
        heard = {m.machine: m.last_ts for m in reader.machines()}
        assert heard[last.machine] == newer.ts
        a.close()
        b.close()


def test_births_from_before_the_rollup_bucket_still_list_the_machines(sim, tmp_path):
    """InfluxDB 2.x: a store written before its rollup bucket keeps its births in the raw
    bucket once the bucket appears (no SELECT INTO to move them), and the rollups are then
    read through the empty `rollups` mapping: every machine vanished from the machine list
    until its next birth. The 2.x reads are these InfluxQL ones (no 2.x server here), so the
    flip is made on influxd 1.6.7: births in `autogen`, an empty `rollups` policy, the
    reader as Influx2Store sets it up then."""
    _, _, recs, _, _ = sim
    with influxd(tmp_path) as server:
        _write_old_layout(server, recs)
        query = Influx1Store(server.url)._run
        before = InfluxQLReader(query).machines()
        assert len(before) == len({r.machine for r in recs})
        influxql(
            server, 'CREATE RETENTION POLICY "rollups" ON "shopfloor" DURATION INF REPLICATION 1'
        )
        after = InfluxQLReader(query)
        after.r = '"rollups".'
        after.births_too = True
        assert after.machines() == before
        # A newer point in the rollup bucket wins over the old ones: the machine went offline.
        birth = next(r for r in reversed(recs) if r.channel == "status")
        gone = dataclasses.replace(
            birth, ts=birth.ts + 60_000, payload={**birth.payload, "online": False}
        )
        got = urllib3.request(
            "POST",
            f"http://127.0.0.1:{server.port}/write?db=shopfloor&rp=rollups&precision=u",
            body=lineproto.line(gone).encode(),
        )
        assert got.status == 204, got.data
        now = {m.machine: m for m in after.machines()}
        assert not now[birth.machine].online
        assert [m for m in before if m.machine != birth.machine] == [
            now[m.machine] for m in before if m.machine != birth.machine
        ]
