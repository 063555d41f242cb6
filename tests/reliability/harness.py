"""Fault injection, counted message by message (issue 14, "Proof in the project").

The services run as a user runs them: a real broker (Mosquitto when installed), a real
`shopfloor collect` subprocess (`--config` the plant, `--dead-letter`, `--metrics-port`) into
SQLite or InfluxDB 1.x, and a seeded `shopfloor sim` subprocess whose `--jsonl` is the ground
truth of what was sent. A scenario injects one fault, waits until the store holds every
sequenced message sent (a condition polled on the store, never a fixed sleep), stops the
collector cleanly and then counts, per (machine, channel, seq) of every sequenced message sent:

- lost: sent, not stored;
- duplicated: stored more than once for one (machine, channel, seq);
- altered: stored with a payload that differs from the one sent (ts and the stored columns:
  states state, reason; counts total, good, scrap; energy energy_kwh; samples power_kw and the
  other values), or stored under a (machine, channel, seq) that was never sent (a forgery);
- recover_s: from the end of the fault (or the end of the stream, if later) until the store
  holds every message sent.

`sleep` appears only as the fault itself (a lock held, a process stopped for so long).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopfloor.broker import Broker, free_port
from shopfloor.config import load_config
from tests.servers import Influxd, influxd_path
from tests.support import (
    BROKER_KINDS,
    PLANT,
    SENT_ENERGY,
    Subscriber,
    cli,
    collector_subscribed,
    pinned_env,
    read_jsonl,
    running_broker,
    wait_for,
)

# A fixed Monday, plant time, at the start of shift A: the stream carries state changes and
# counts, not only the power samples of a plant that is off (00:00-06:00 has no shift).
START = "2026-11-23T06:00+07:00"
SEED = 7
SPEED = 300.0  # sim seconds per wall second: config/plant.yaml makes about 560 messages/s
TABLES = {"state": "states", "count": "counts", "energy": "energy", "telemetry": "samples"}
Key = tuple[str, str, int]  # (machine, channel, seq)
Value = tuple[Any, ...]


@dataclass
class Row:
    scenario: str
    sent: int
    stored: int
    lost: int
    duplicated: int
    altered: int
    recover_s: float | None
    notes: str = ""
    lost_keys: list[Key] = field(default_factory=list, repr=False)
    duplicated_keys: list[Key] = field(default_factory=list, repr=False)
    altered_keys: list[Key] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.sent > 0 and self.lost == self.duplicated == self.altered == 0

    def detail(self) -> str:
        """For an assertion message: the counts and the first keys of each kind."""
        return (
            f"{self.scenario}: sent {self.sent}, stored {self.stored}, lost {self.lost} "
            f"{self.lost_keys[:10]}, duplicated {self.duplicated} {self.duplicated_keys[:10]}, "
            f"altered {self.altered} {self.altered_keys[:10]}; {self.notes}"
        )


# -- what was sent, what is stored -----------------------------------------------------------


def sent_value(channel: str, p: dict[str, Any]) -> Value:
    """The stored columns of one sent payload, in the shape stored_rows() reads them."""
    if channel == "state":
        return (p["ts"], p["state"], p.get("reason", ""))
    if channel == "count":
        return (p["ts"], p["total"], p["good"], p["scrap"])
    if channel == "energy":
        return (p["ts"], float(p["energy_kwh"]))
    extra = {k: float(v) for k, v in p.items() if k not in ("ts", "seq", "power_kw")}
    return (p["ts"], float(p["power_kw"]), tuple(sorted(extra.items())))


def machine_of(topic: str) -> str:
    return topic.split("/")[6]


def channel_of(topic: str) -> str:
    return topic.split("/")[7]


def sent_messages(*paths: Path, upto: dict[str, int] | None = None) -> dict[Key, Value]:
    """Every sequenced message in these --jsonl files. `upto` (machine -> seq) keeps only the
    seqs a later, resumed run did not take over (see scenario_sim_sigkill_resume)."""
    out: dict[Key, Value] = {}
    for path in paths:
        for m in read_jsonl(path):
            p, topic = m["payload"], m["topic"]
            if "seq" not in p:
                continue
            key = (machine_of(topic), channel_of(topic), p["seq"])
            if upto is not None and key[2] > upto.get(key[0], 0):
                continue
            out[key] = sent_value(key[1], p)
    return out


def sqlite_rows(db: Path) -> dict[Key, list[Value]]:
    """Every stored row with a seq (inferred legacy states left out: they are the collector's
    own, not something sent)."""
    out: dict[Key, list[Value]] = defaultdict(list)
    if not db.exists():
        return out
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        for machine, seq, ts, state, reason in con.execute(
            "SELECT machine, seq, ts, state, reason FROM states WHERE inferred = 0"
        ):
            out[(machine, "state", seq)].append((ts, state, reason))
        for machine, seq, ts, total, good, scrap in con.execute(
            "SELECT machine, seq, ts, total, good, scrap FROM counts"
        ):
            out[(machine, "count", seq)].append((ts, total, good, scrap))
        for machine, seq, ts, kwh in con.execute(
            f"SELECT machine, seq, ts, energy_kwh FROM energy WHERE {SENT_ENERGY}"
        ):
            out[(machine, "energy", seq)].append((ts, float(kwh)))
        for machine, seq, ts, kw, values in con.execute(
            'SELECT machine, seq, ts, power_kw, "values" FROM samples'
        ):
            extra = {k: float(v) for k, v in json.loads(values).items()}
            out[(machine, "telemetry", seq)].append((ts, float(kw), tuple(sorted(extra.items()))))
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
    finally:
        con.close()
    return out


def sqlite_keys(db: Path) -> set[Key]:
    """What stored_rows() would key, cheaply (polled while waiting)."""
    out: set[Key] = set()
    if not db.exists():
        return out
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        for channel, table in TABLES.items():
            where = {"states": " WHERE inferred = 0", "energy": f" WHERE {SENT_ENERGY}"}
            out.update(
                (m, channel, s)
                for m, s in con.execute(f"SELECT machine, seq FROM {table}{where.get(table, '')}")
            )
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
    finally:
        con.close()
    return out


_TAGS = {"time", "enterprise", "site", "area", "line", "machine"}
FIELDS = {
    "state": ("seq", "state", "reason"),
    "count": ("seq", "total", "good", "scrap"),
    "energy": ("seq", "energy_kwh"),
    "telemetry": ("seq", "power_kw"),
}


def influx_rows(url: str, *, settled: bool = True) -> dict[Key, list[Value]]:
    """The same from InfluxDB 1.x through InfluxQL (as tests/integration/test_collector.py's
    influx_seqs reads seqs). A point is measurement + tags + timestamp, so a repeat of one
    message overwrites itself and a second point for one seq means a second timestamp.

    InfluxDB keeps each field apart, so a query during a write may see some fields of a point
    and not yet others: while polling (settled=False) such a point is left for the next look.
    Once the collector has stopped (settled=True) a missing field is kept as None, which no
    sent payload equals (counted as altered; a point without seq is keyed seq -1)."""
    from shopfloor.store.influx1 import Influx1Store

    def num(x: Any, kind: type) -> Any:
        return None if x is None else kind(x)

    store = Influx1Store(url)
    out: dict[Key, list[Value]] = defaultdict(list)
    try:
        # A legacy machine's meter readings are the collector's estimate, not something sent.
        legacy = {m.machine for m in store.machines() if m.connectivity == "legacy"}
        for channel in TABLES:
            where = ' WHERE "inferred" = 0' if channel == "state" else ""
            for result in store._query(f'SELECT * FROM "{channel}"{where} GROUP BY machine'):
                for s in result:
                    machine = s["tags"]["machine"]
                    if channel == "energy" and machine in legacy:
                        continue
                    cols = s["columns"]
                    for values in s["values"]:
                        r = dict(zip(cols, values, strict=True))
                        if not settled and any(r.get(k) is None for k in FIELDS[channel]):
                            continue
                        ts = int(r["time"]) // 1000
                        seq = -1 if r["seq"] is None else int(r["seq"])
                        if channel == "state":
                            v: Value = (ts, r["state"], r["reason"])
                        elif channel == "count":
                            v = (
                                ts,
                                num(r["total"], int),
                                num(r["good"], int),
                                num(r["scrap"], int),
                            )
                        elif channel == "energy":
                            v = (ts, num(r["energy_kwh"], float))
                        else:
                            extra = {
                                k: float(x)
                                for k, x in r.items()
                                if k not in _TAGS | {"power_kw", "seq"} and x is not None
                            }
                            v = (ts, num(r["power_kw"], float), tuple(sorted(extra.items())))
                        out[(machine, channel, seq)].append(v)
    finally:
        store.close()
    return out


def tally(
    scenario: str,
    sent: dict[Key, Value],
    stored: dict[Key, list[Value]],
    recover_s: float | None,
    notes: str = "",
) -> Row:
    lost = sorted(k for k in sent if k not in stored)
    dup = sorted(k for k, v in stored.items() if len(v) > 1)
    # Exact: SQLite REAL, InfluxDB floats and JSON all carry a float64 unchanged.
    altered = sorted(k for k, v in stored.items() if k not in sent or any(x != sent[k] for x in v))
    return Row(
        scenario, len(sent), sum(len(v) for v in stored.values()), len(lost), len(dup),
        len(altered), recover_s, notes, lost, dup, altered,
    )  # fmt: skip


# -- the running services ----------------------------------------------------------------------


def metric(port: int, name: str) -> float:
    """One unlabelled sample of a collector's /metrics (0 when absent or unreachable)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


class SimRun:
    """One `shopfloor sim` subprocess; `ended` is the monotonic time its exit was seen."""

    def __init__(self, cmd: list[str], env: dict[str, str], log: Path, jsonl: Path):
        self.jsonl = jsonl
        self.log = log
        self.ended: float | None = None
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=out)
        self._watch = threading.Thread(target=self._wait, daemon=True)
        self._watch.start()

    def _wait(self) -> None:
        self.proc.wait()
        self.ended = time.monotonic()

    def wait(self, timeout: float = 600) -> int:
        self._watch.join(timeout)
        if self.proc.returncode is None:
            raise AssertionError(f"the simulator did not end in {timeout:g} s")
        return self.proc.returncode

    def kill(self) -> None:
        self.proc.kill()
        self.wait(30)

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)


class Pipeline:
    """Broker + `shopfloor collect` (+ influxd for store="influxdb1") in `tmp`. Use as a
    context manager; everything started is stopped on exit."""

    def __init__(
        self,
        tmp: Path,
        *,
        store: str = "sqlite",
        broker_kind: str | None = None,
        plant: Path = PLANT,
        broker_data: bool = False,
    ):
        self.tmp = tmp
        self.plant = plant
        self.cfg = load_config(plant)
        self.store_kind = store
        self.broker_kind = broker_kind or BROKER_KINDS[0]
        self.broker_data = broker_data
        self.db = tmp / "s.db"
        self.dead_path = tmp / "dead-letter.jsonl"
        self.metrics_port = 0  # picked once the broker holds its port (__enter__)
        self.env = pinned_env(START)  # one ticking clock for every service started here
        self.collector: subprocess.Popen[bytes] | None = None
        self.influxd: Influxd | None = None
        self.broker: Broker
        self.runs: list[SimRun] = []
        self._stack = contextlib.ExitStack()
        self._pub: Subscriber | None = None

    # lifecycle
    def __enter__(self) -> Pipeline:
        try:
            if self.store_kind == "influxdb1":
                if not influxd_path():
                    raise RuntimeError("influxd is not installed")
                folder = self.tmp / "influxd"
                folder.mkdir()
                self.influxd = Influxd(folder).start()
                self._stack.callback(self.influxd.stop)
            data = self.tmp / "broker" if self.broker_data else None
            self.broker = self._stack.enter_context(running_broker(self.broker_kind, data))
            # After the broker binds its port: free_port() can no longer hand that one out.
            self.metrics_port = free_port()
            self.start_collector()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for run in self.runs:
            if run.proc.poll() is None:
                run.proc.kill()
                run.proc.wait()
        if self._pub is not None:
            self._pub.close()
        if self.collector is not None and self.collector.poll() is None:
            self.collector.kill()
            self.collector.wait()
        self._stack.close()

    @property
    def store_url(self) -> str:
        if self.influxd is not None:
            return self.influxd.url
        return f"sqlite:///{self.db}"

    def start_collector(self) -> None:
        cmd = cli(
            "collect", "--broker", self.broker.url, "--store", self.store_url,
            "--config", str(self.plant), "--dead-letter", str(self.dead_path),
            "--metrics-port", str(self.metrics_port), "--max-future", "3650d",
            "--client-id", "reliability-collector", "--spool-dir", str(self.tmp / "spool"),
        )  # fmt: skip
        with open(self.tmp / "collector.log", "ab") as out:
            self.collector = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=out)
        wait_for(lambda: collector_subscribed(self.metrics_port), 60, "the collector subscribed")

    def signal_collector(self, sig: int) -> None:
        assert self.collector is not None
        self.collector.send_signal(sig)

    def kill_collector(self) -> None:
        assert self.collector is not None
        self.collector.kill()
        self.collector.wait(30)

    def stop_collector(self) -> int:
        """SIGTERM: it stores what it holds and exits."""
        assert self.collector is not None
        self.collector.send_signal(signal.SIGTERM)
        return self.collector.wait(60)

    def metric(self, name: str) -> float:
        return metric(self.metrics_port, name)

    # the simulator
    def sim(
        self, name: str, duration: str, *, speed: float | None = SPEED, extra: tuple[str, ...] = ()
    ) -> SimRun:
        jsonl = self.tmp / f"{name}.jsonl"
        pace = ("--fast",) if speed is None else ("--speed", f"{speed:g}")
        start = () if "--start" in extra else ("--start", START)
        cmd = cli(
            "sim", "--config", str(self.plant), "--seed", str(SEED), *pace, *start,
            "--duration", duration, "--broker", self.broker.url, "--jsonl", str(jsonl), *extra,
        )  # fmt: skip
        run = SimRun(cmd, self.env, self.tmp / f"{name}.log", jsonl)
        self.runs.append(run)
        return run

    def preview(self, duration: str) -> list[dict[str, Any]]:
        """The stream a sim of `duration` will send (same config, seed and start: the same
        messages byte for byte), made at full speed without a broker."""
        out = self.tmp / f"preview-{duration}.jsonl"
        proc = subprocess.run(
            cli("sim", "--config", str(self.plant), "--seed", str(SEED), "--fast",
                "--start", START, "--duration", duration, "--jsonl", str(out)),
            capture_output=True, text=True, timeout=120, env=self.env,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return read_jsonl(out)

    # a client for injected messages
    @property
    def publisher(self) -> Subscriber:
        if self._pub is None:
            self._pub = Subscriber(self.broker.port, "reliability/nothing", client_id="injector")
        return self._pub

    def publish(self, topic: str, payload: bytes | str | dict[str, Any], wait: bool = True) -> Any:
        data = payload if isinstance(payload, bytes | str) else json.dumps(payload)
        info = self.publisher.client.publish(topic, data, qos=1)
        if wait:
            info.wait_for_publish(10)
        return info

    # the store
    def stored_keys(self) -> set[Key]:
        if self.influxd is not None:
            return set(influx_rows(self.influxd.url, settled=False))
        return sqlite_keys(self.db)

    def stored_rows(self) -> dict[Key, list[Value]]:
        if self.influxd is not None:
            return influx_rows(self.influxd.url)
        return sqlite_rows(self.db)

    def stored_count(self) -> int:
        return len(self.stored_keys())

    def wait_stored(self, n: int, timeout: float = 120) -> None:
        """Until the store holds at least n sequenced messages (a point mid-stream)."""
        wait_for(lambda: self.stored_count() >= n, timeout, f"{n} messages stored")

    def wait_all(
        self, sent: dict[Key, Value], timeout: float = 180, stuck_s: float = 30
    ) -> float | None:
        """Until the store holds every message sent: the monotonic time it did. None when it
        does not within `timeout`, or stores nothing more for `stuck_s` (what is missing
        then is not coming: the count will show it)."""
        want = set(sent)
        deadline = time.monotonic() + timeout
        have, progress = 0, time.monotonic()
        while True:
            keys = self.stored_keys()
            now = time.monotonic()
            if want <= keys:
                return now
            if len(keys) > have:
                have, progress = len(keys), now
            if now > deadline or now - progress > stuck_s:
                return None
            time.sleep(0.2)

    def quiesce(self, quiet_s: float = 1.0, timeout: float = 60) -> None:
        """Until the collector has taken in all the broker had for it: nothing received for
        `quiet_s` and nothing held (for a stream that is paused or over)."""
        last = [-1.0]

        def settled() -> bool:
            got = self.metric("shopfloor_collector_received_total")
            quiet = got == last[0] and self.metric("shopfloor_collector_buffered") == 0
            last[0] = got
            if not quiet:
                time.sleep(quiet_s)
            return quiet

        wait_for(settled, timeout, "the collector settled")

    def dead_letters(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for path in sorted(self.tmp.glob("dead-letter.jsonl*"), reverse=True):
            out += read_jsonl(path)
        return out

    def finish(
        self,
        scenario: str,
        sent: dict[Key, Value],
        fault_end: float,
        *,
        notes: list[str] | None = None,
        timeout: float = 180,
        end_metrics: dict[str, str] | None = None,
    ) -> Row:
        """Wait for every message sent, stop the collector cleanly, count. `end_metrics`
        (label -> metric): collector metrics read into the notes once all is stored."""
        for run in self.runs:
            run.wait()
        stream_end = max(r.ended or 0.0 for r in self.runs) if self.runs else fault_end
        done = self.wait_all(sent, timeout)
        recover = None if done is None else max(0.0, done - max(fault_end, stream_end))
        notes = list(notes or [])
        for label, name in (end_metrics or {}).items():
            notes.append(f"{label}: {self.metric(name):g}")
        if self.store_kind == "sqlite":
            notes += forged_births(self.db, self.cfg)
        rc = self.stop_collector()
        if rc != 0:
            notes.append(f"collector exit {rc}")
        rows = self.stored_rows()
        dead = self.dead_letters()
        if dead and not any(n.startswith("dead letters") for n in notes):
            reasons: dict[str, int] = defaultdict(int)
            for d in dead:
                reasons[d["reason"]] += 1
            notes.append(
                "dead letters: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()))
            )
        return tally(scenario, sent, rows, recover, "; ".join(notes))


def forged_births(db: Path, cfg: Any) -> list[str]:
    """A machine whose stored birth (kind, connectivity) is not its config's: a forged status
    was stored. Machines stored that are not in the config: the same."""
    want = {st.id: (st.kind, st.connectivity) for _, st in cfg.stations()}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        got = {
            m: (k, c) for m, k, c in con.execute("SELECT machine, kind, connectivity FROM machines")
        }
    finally:
        con.close()
    bad = [m for m, v in got.items() if m not in want or v != want[m]]
    return [f"FORGED status or machine stored: {sorted(bad)}"] if bad else []


# -- scenarios ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """How long the streams are: `full` for CI and the table, `quick` for a look."""

    stream: str = "2h"  # a stream at SPEED (2 h: about 13,000 messages in 24 s)
    short: str = "1h"  # the single-poison streams
    sigstop_s: float = 50.0  # > 1.5 x the collector's 30 s keepalive: the broker drops it
    outage_s: float = 15.0  # influxd down (SQLite: see sqlite_lock_s)
    sqlite_lock_s: float = 35.0  # > SQLite's 30 s busy timeout: writes fail and are retried


FULL = Profile()
QUICK = Profile(stream="1h", short="30m")


def _sent_of(p: Pipeline, *runs: SimRun) -> dict[Key, Value]:
    return sent_messages(*(r.jsonl for r in runs))


def scenario_collector_sigkill(tmp: Path, prof: Profile = FULL) -> Row:
    """The collector SIGKILLed three times mid-stream, restarted each time."""
    with Pipeline(tmp) as p:
        n = len([m for m in p.preview(prof.stream) if "seq" in m["payload"]])
        run = p.sim("run", prof.stream)
        for k in (1, 2, 3):
            p.wait_stored(n * k // 4)
            p.kill_collector()
            p.start_collector()
        end = time.monotonic()
        assert run.wait() == 0
        return p.finish("collector SIGKILL x3 mid-stream, restarted", _sent_of(p, run), end)


def scenario_collector_sigstop(tmp: Path, prof: Profile = FULL) -> Row:
    """The collector SIGSTOPped past its keepalive (30 s; the broker drops a client after 1.5 x
    that), then SIGCONT."""
    with Pipeline(tmp) as p:
        n = len([m for m in p.preview(prof.stream) if "seq" in m["payload"]])
        run = p.sim("run", prof.stream)
        p.wait_stored(n // 4)
        p.signal_collector(signal.SIGSTOP)
        time.sleep(prof.sigstop_s)  # the fault itself
        p.signal_collector(signal.SIGCONT)
        end = time.monotonic()
        assert run.wait() == 0
        return p.finish(
            f"collector SIGSTOP {prof.sigstop_s:g} s (keepalive 30 s), SIGCONT",
            _sent_of(p, run), end,
            end_metrics={"connection dropped by the broker (times)": "shopfloor_collector_disconnects_total"},
        )  # fmt: skip


def scenario_sqlite_locked(tmp: Path, prof: Profile = FULL) -> Row:
    """Another process holds SQLite's write lock (BEGIN EXCLUSIVE) mid-stream, for longer
    than the store's 30 s busy timeout: the collector's writes fail and are retried."""
    with Pipeline(tmp) as p:
        n = len([m for m in p.preview(prof.stream) if "seq" in m["payload"]])
        run = p.sim("run", prof.stream)
        p.wait_stored(n // 4)
        blocker = sqlite3.connect(p.db, timeout=10)
        blocker.execute("BEGIN EXCLUSIVE")
        time.sleep(prof.sqlite_lock_s)  # the fault itself
        retrying = p.metric("shopfloor_collector_store_retrying")
        blocker.rollback()
        blocker.close()
        end = time.monotonic()
        assert run.wait() == 0
        return p.finish(
            f"store outage: SQLite locked {prof.sqlite_lock_s:g} s",
            _sent_of(p, run), end, notes=[f"store_retrying during the lock: {retrying:g}"],
        )  # fmt: skip


def scenario_influxd_stopped(tmp: Path, prof: Profile = FULL) -> Row:
    """influxd stopped mid-stream and started again (InfluxDB 1.x store)."""
    with Pipeline(tmp, store="influxdb1") as p:
        assert p.influxd is not None
        n = len([m for m in p.preview(prof.stream) if "seq" in m["payload"]])
        run = p.sim("run", prof.stream)
        p.wait_stored(n // 4)
        p.influxd.stop()
        time.sleep(prof.outage_s)  # the fault itself
        retrying = p.metric("shopfloor_collector_store_retrying")
        p.influxd.start()
        end = time.monotonic()
        assert run.wait() == 0
        return p.finish(
            f"store outage: influxd stopped {prof.outage_s:g} s",
            _sent_of(p, run), end, notes=[f"store_retrying during the outage: {retrying:g}"],
        )  # fmt: skip


def poison_flood(plant_prefixes: list[str], unknown: str, n: int = 5000) -> list[tuple[str, bytes]]:
    """n malformed messages of many kinds, to the plant's topics (and its tree)."""
    big = b'{"ts": 1, "seq": 1, "power_kw": 1.0, "pad": "' + b"x" * 70_000 + b'"}'
    many = {f"v{i}_c": 1.0 for i in range(300)}
    kinds: list[Callable[[str, int], tuple[str, bytes]]] = [
        lambda m, i: (f"{m}/state", b"not json"),
        lambda m, i: (f"{m}/count", b"\xff\xfe\x00garbage"),
        lambda m, i: (f"{m}/energy", b""),
        lambda m, i: (f"{m}/telemetry", b"[1, 2, 3]"),
        lambda m, i: (f"{m}/state", b'"a string"'),
        lambda m, i: (f"{m}/count", b"null"),
        lambda m, i: (f"{m}/energy", b'{"ts": 1, "seq"'),
        lambda m, i: (f"{m}/state", json.dumps({"ts": 1}).encode()),
        lambda m, i: (f"{m}/state", json.dumps({"ts": "x", "seq": 5, "state": "running", "reason": ""}).encode()),
        lambda m, i: (f"{m}/state", json.dumps({"ts": 1, "seq": 5, "state": "exploding", "reason": ""}).encode()),
        lambda m, i: (f"{m}/count", json.dumps({"ts": 1, "seq": -1, "total": 1, "good": 1, "scrap": 0}).encode()),
        lambda m, i: (f"{m}/count", json.dumps({"ts": 1, "seq": 7, "total": 2**63, "good": 0, "scrap": 0}).encode()),
        lambda m, i: (f"{m}/count", json.dumps({"ts": 1, "seq": 7, "total": -5, "good": 0, "scrap": 0}).encode()),
        lambda m, i: (f"{m}/count", json.dumps({"ts": 1, "seq": 7, "total": 1, "good": 1, "scrap": 0, "hack": 1}).encode()),
        lambda m, i: (f"{m}/energy", b'{"ts": 1, "seq": 9, "energy_kwh": NaN}'),
        lambda m, i: (f"{m}/energy", b'{"ts": 1, "seq": 9, "energy_kwh": Infinity}'),
        lambda m, i: (f"{m}/energy", json.dumps({"ts": 10**15, "seq": 9, "energy_kwh": 1.0}).encode()),
        lambda m, i: (f"{m}/telemetry", json.dumps({"ts": 1, "seq": 3, "power_kw": 1.0, "bad key": 1.0, "a,b": 2.0, "c=d": 3.0}).encode()),
        lambda m, i: (f"{m}/telemetry", json.dumps({"ts": 1, "seq": 3, "power_kw": "high"}).encode()),
        lambda m, i: (f"{m}/telemetry", json.dumps({"ts": 1, "seq": 3, "power_kw": 1.0, **many}).encode()),
        lambda m, i: (f"{m}/telemetry", json.dumps({"ts": 1, "seq": 10**9 + i, "power_kw": 1.0}).encode()),
        lambda m, i: (f"{m}/telemetry", big),
        lambda m, i: (f"{m}/status", json.dumps({"online": True, "connectivity": "legacy", "power_kw": {"running": "x"}}).encode()),
        lambda m, i: (f"{m}/status", json.dumps({"ts": "x", "online": True}).encode()),
        lambda m, i: (f"{m}/status", json.dumps({"online": "false"}).encode()),
        lambda m, i: (f"{m}/hack", json.dumps({"ts": 1, "seq": 1}).encode()),
        lambda m, i: (f"{m}/state", json.dumps({"ts": 1, "seq": 5, "state": "idle", "reason": "\u0000\n"}).encode()),
        lambda m, i: (f"{unknown}/energy", json.dumps({"ts": 1, "seq": 1 + i, "energy_kwh": 1.0}).encode()),
        lambda m, i: (f"{unknown.rsplit('/', 1)[0]}/<script>/energy", json.dumps({"ts": 1, "seq": 1, "energy_kwh": 1.0}).encode()),
        lambda m, i: (f"{unknown.rsplit('/', 1)[0]}/cnc-01 /state", json.dumps({"ts": 1, "seq": 1, "state": "idle", "reason": ""}).encode()),
    ]  # fmt: skip
    return [kinds[i % len(kinds)](plant_prefixes[i % len(plant_prefixes)], i) for i in range(n)]


def scenario_poison_flood(tmp: Path, prof: Profile = FULL, n: int = 5000) -> Row:
    """n malformed messages of many kinds published mid-stream to the plant's topics."""
    from shopfloor.contract import machine_prefix

    with Pipeline(tmp) as p:
        c = p.cfg.plant
        prefixes = [
            machine_prefix(c.enterprise, c.site, line.area, line.id, st.id)
            for line, st in p.cfg.stations()
        ]
        line0 = p.cfg.lines[0]
        unknown = machine_prefix(c.enterprise, c.site, line0.area, line0.id, "ghost-01")
        total = len([m for m in p.preview(prof.stream) if "seq" in m["payload"]])
        run = p.sim("run", prof.stream)
        p.wait_stored(total // 4)
        # The flood goes in as one block between two of the stream's messages (the simulator
        # paused meanwhile): what the collector makes of it does not depend on how the two
        # interleave, so the row is the same on every run.
        run.pause()
        p.quiesce()
        infos = [p.publish(t, body, wait=False) for t, body in poison_flood(prefixes, unknown, n)]
        for info in infos:
            info.wait_for_publish(60)
        run.resume()
        end = time.monotonic()
        assert run.wait() == 0
        # Until the collector has judged every message: the stream's and the flood's.
        want = len(read_jsonl(run.jsonl)) + n
        wait_for(
            lambda: p.metric("shopfloor_collector_received_total") >= want, 120, f"{want} received"
        )
        row = p.finish(f"poison flood: {n:,} malformed messages mid-stream", _sent_of(p, run), end)
        dead = len(p.dead_letters())
        row.notes = f"dead-lettered {dead:,} of {n:,}; " + row.notes
        if dead != n:
            row.notes = "NOT ALL DEAD-LETTERED; " + row.notes
        return row


POISONS = (
    "count_2_63",
    "status_bad_fields",
    "telemetry_bad_field_name",
    "seq_10_9",
    "seq_run_10_9",
    "seq_jump_50k",
    "forged_birth",
)
POISON_TITLES = {
    "count_2_63": "poison: a count of 2**63",
    "status_bad_fields": 'poison: status {"online": true, "connectivity": "legacy", "power_kw": {"running": "x"}}',
    "telemetry_bad_field_name": "poison: telemetry field names with a space, comma, =",
    "seq_10_9": "poison: telemetry seq 10**9 for a real machine",
    "seq_run_10_9": "poison: a burst of 10 telemetry seqs 10**9+1..10**9+10 for a real machine",
    "seq_jump_50k": "poison: one telemetry seq 50,000 ahead of a real machine's, stamped with a later ts of the stream",
    "forged_birth": 'poison: forged "online" status, then old seqs with total 999999',
}  # fmt: skip


def scenario_poison(tmp: Path, prof: Profile = FULL, *, which: str) -> Row:
    """One poison message (or the forged birth and its followers) mid-stream. Where the
    poison carries a seq, it is one the real stream reaches later, with the real message's
    ts: were it stored, the real one would be dropped, and the count would show it."""
    with Pipeline(tmp) as p:
        preview = p.preview(prof.short)
        seqd = [m for m in preview if "seq" in m["payload"]]
        # A real machine's prefix: the one that makes the most parts.
        counts: dict[str, int] = defaultdict(int)
        for m in seqd:
            if m["topic"].endswith("/count"):
                counts[m["topic"].rsplit("/", 1)[0]] += 1
        first = max(counts, key=lambda k: counts[k])
        mine = [m for m in seqd if m["topic"].startswith(first + "/")]
        later = mine[-10]  # a message of that machine near the end of the stream
        run = p.sim("run", prof.short)
        p.wait_stored(len(seqd) // 3)
        notes: list[str] = []
        injected = 0

        def inject(topic: str, body: dict[str, Any]) -> None:
            nonlocal injected
            p.publish(topic, body)
            injected += 1

        expect_dead = 1
        if which == "count_2_63":
            later_count = [m for m in mine if m["topic"].endswith("/count")][-3]["payload"]
            inject(f"{first}/count", {**later_count, "total": 2**63})
        elif which == "status_bad_fields":
            inject(
                f"{first}/status",
                {"online": True, "connectivity": "legacy", "power_kw": {"running": "x"}},
            )
        elif which == "telemetry_bad_field_name":
            tel = [m for m in mine if m["topic"].endswith("/telemetry")][-3]["payload"]
            inject(f"{first}/telemetry", {**tel, "bad key": 1.0, "a,b": 2.0, "c=d": 3.0})
        elif which == "seq_10_9":
            tel = later["payload"]
            inject(f"{first}/telemetry", {"ts": tel["ts"], "seq": 10**9, "power_kw": 1.0})
        elif which == "seq_run_10_9":
            tel = later["payload"]
            # At once, as an attacker would, with no genuine message in between (the
            # simulator paused meanwhile, so every run is the same).
            run.pause()
            p.quiesce()
            burst = [
                p.publish(
                    f"{first}/telemetry",
                    {"ts": tel["ts"], "seq": 10**9 + k, "power_kw": 1.0},
                    wait=False,
                )
                for k in range(1, 11)
            ]
            for info in burst:
                info.wait_for_publish(10)
            run.resume()
            injected += len(burst)
            expect_dead = 10
        elif which == "seq_jump_50k":
            top = max(k[2] for k in p.stored_keys() if k[0] == machine_of(first + "/x"))
            tel = later["payload"]
            inject(f"{first}/telemetry", {"ts": tel["ts"], "seq": top + 50_000, "power_kw": 1.0})
            expect_dead = 1  # quarantined: its ts leaves no time for 50,000 seqs
        elif which == "forged_birth":
            birth = next(m for m in preview if m["topic"] == f"{first}/status")["payload"]
            inject(f"{first}/status", birth)
            old = [m for m in mine if m["topic"].endswith("/count")][:5]
            for m in old:
                body = {**m["payload"], "ts": m["payload"]["ts"] + 1, "total": 999999}
                inject(f"{first}/count", body)
            expect_dead = 0
            notes.append("forged counts sent for seqs " + str([m["payload"]["seq"] for m in old]))
        else:
            raise ValueError(which)
        end = time.monotonic()
        assert run.wait() == 0
        # Until the collector has judged every message: the stream's and the injected ones.
        want = len(read_jsonl(run.jsonl)) + injected
        wait_for(
            lambda: p.metric("shopfloor_collector_received_total") >= want, 60, f"{want} received"
        )
        row = p.finish(POISON_TITLES[which], _sent_of(p, run), end, notes=notes)
        dead = p.dead_letters()
        if len(dead) != expect_dead:
            row.notes = (
                f"UNEXPECTED: {len(dead)} dead letters, {expect_dead} expected; " + row.notes
            )
        return row


def scenario_sim_sigkill_resume(tmp: Path, prof: Profile = FULL) -> Row:
    """The simulator SIGKILLed mid-run; a new one resumes from the store (what the demo and
    the compose simulator do: shopfloor.cli.demo.continue_args). Both runs' messages counted.

    What the killed simulator had made (its --jsonl) but not yet published dies with it: the
    resumed run starts from the store's seq and makes those seqs anew. So the killed run's
    ground truth is its messages up to the seq the resumed run starts after; the others are
    named in the notes, not counted as sent."""
    from shopfloor.cli.demo import continue_args
    from shopfloor.store.sqlite import SqliteStore

    with Pipeline(tmp) as p:
        n = len([m for m in p.preview(prof.stream) if "seq" in m["payload"]])
        first = p.sim("run1", prof.stream)
        p.wait_stored(n // 2)
        first.kill()
        end = time.monotonic()
        p.quiesce()  # all the broker had of the killed run is in
        store = SqliteStore(p.db)
        try:
            args = continue_args(p.cfg, store, 0, 0)  # now=0: no --then-live, a bounded run
            upto = {m: r.seq for m, r in from_store_seqs(store).items()}
        finally:
            store.close()
        second = p.sim("run2", prof.short, extra=tuple(args))
        assert second.wait() == 0
        sent = sent_messages(first.jsonl, upto=upto)
        unpublished = sum(1 for _ in first_unpublished(first.jsonl, upto))
        sent.update(sent_messages(second.jsonl))
        return p.finish(
            "simulator SIGKILL mid-run, resumed from the store",
            sent, end,
            notes=[f"made but not published before the kill (reissued by the resumed run): "
                   f"{unpublished}"],
        )  # fmt: skip


def from_store_seqs(store: Any) -> dict[str, Any]:
    from simulator.resume import from_store

    return from_store(store)


def first_unpublished(path: Path, upto: dict[str, int]) -> Iterator[dict[str, Any]]:
    for m in read_jsonl(path):
        p = m["payload"]
        if "seq" in p and p["seq"] > upto.get(machine_of(m["topic"]), 0):
            yield m


def scenario_broker_sigkill(tmp: Path, prof: Profile = FULL) -> Row:
    """Mosquitto SIGKILLed mid-stream while it holds messages it acknowledged to the simulator
    but has not handed to the collector (the collector SIGSTOPped for 5 s first, so the broker
    queues for it), and restarted on its port and data folder. The simulator's outbox and the
    collector's watermark (tests/integration/test_broker_crash.py) are what must cover it."""
    with Pipeline(tmp, broker_kind="mosquitto", broker_data=True) as p:
        n = len([m for m in p.preview(prof.stream) if "seq" in m["payload"]])
        run = p.sim("run", prof.stream)
        p.wait_stored(n // 3)
        p.signal_collector(signal.SIGSTOP)
        time.sleep(5)  # the fault's set-up: the broker queues for a collector that lags
        p.broker.kill()
        p.broker.start()
        p.signal_collector(signal.SIGCONT)
        end = time.monotonic()
        assert run.wait() == 0
        resent = re.search(r"outbox: (\d+) sent again", run.log.read_text())
        return p.finish(
            "broker (Mosquitto) SIGKILL mid-stream with a lagging collector, restarted",
            _sent_of(p, run), end,
            notes=[f"the simulator's outbox sent {resent[1] if resent else '?'} again"],
        )  # fmt: skip


SCENARIOS: dict[str, Callable[[Path, Profile], Row]] = {
    "collector_sigkill": scenario_collector_sigkill,
    "collector_sigstop": scenario_collector_sigstop,
    "sqlite_locked": scenario_sqlite_locked,
    "influxd_stopped": scenario_influxd_stopped,
    "poison_flood": scenario_poison_flood,
    **{f"poison_{w}": functools.partial(scenario_poison, which=w) for w in POISONS},
    "sim_sigkill_resume": scenario_sim_sigkill_resume,
    "broker_sigkill": scenario_broker_sigkill,
}
