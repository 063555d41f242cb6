"""`shopfloor demo`: the embedded broker, the collector, the dashboard and the simulator, as
one supervised stack on this machine (no Docker).

Each service runs as its own `shopfloor` process, the same code a deployment runs; they are
started in their own sessions so a Ctrl-C reaches only this supervisor, which then stops them
in the order that loses nothing: the simulator first (it delivers what is in flight and
publishes its machines offline, last, on the connection that carried the rest), then, once
the store holds every machine offline, the collector (it drains its buffer), the dashboard,
and the broker last. At start the simulator waits until the collector's subscription is
confirmed (its `shopfloor_collector_subscribed` metric): the embedded amqtt keeps nothing for
a subscriber that is not there yet.

A second run on the same --data-dir continues: each machine's seq goes on after the last one
stored, and the backfill starts where the stored data ends (or at the start of the current
shift, whichever is later).

The dashboard asks for credentials: user `shopfloor` and a random password made on the first
start and kept in the data folder (`dashboard-password`, mode 0600), so the next start uses the
same one. It reaches the dashboard through its environment (SHOPFLOOR_DASH_AUTH), never its
command line, which `ps` shows to every user of the machine.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tqdm import tqdm

from shopfloor import clock
from shopfloor.broker import Broker, free_port
from shopfloor.config.schema import PlantConfig
from shopfloor.shifts import ShiftCalendar
from shopfloor.store.base import Store
from shopfloor.store.sqlite import SqliteStore
from shopfloor.timerange import current_shift_s
from simulator.resume import Resume, from_store

log = logging.getLogger("shopfloor.demo")


def shopfloor_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "shopfloor.cli.main", *args]


COLLECTOR_ID = "shopfloor-demo-collector"
# The simulator's publish queue: the backfill runs at most this far ahead of what the broker
# took (about half a second of it), so a stop delivers everything queued within the
# simulator's stop budget instead of skipping a backlog (the default 100,000 would hold a
# whole shift of the demo plant).
SIM_QUEUE = 5000
# Stop: the whole stop stays under 10 s (what `docker stop` and most process managers give)
# with room to spare; each service has its own bound within it, and only a service that
# overruns it is killed.
STOP_TOTAL_S = 9.0
# The simulator's: its sink's stop budget twice (simulator.mqtt_sink.STOP_BUDGET_S, when the
# broker lags) and its wait for the collector's watermark (CONFIRM_S); typically under 1 s.
SIM_STOP_S = 6.0
COLLECTOR_STOP_S = 2.0
DASHBOARD_STOP_S = 1.5
# Issue 15: history longer than this goes straight into the store (`sim --fast --store`),
# up to this long before now; the live run publishes the rest through the broker.
BULK_MIN_MS = 5 * 60_000
BULK_LEAVE_MS = 30_000
DASH_USER = "shopfloor"
PASSWORD_FILE = "dashboard-password"


def dashboard_password(data_dir: Path) -> str:
    """The dashboard's password: made on the first start (secrets.token_urlsafe), kept in the
    data folder readable by its owner only, and the same on every later start."""
    path = data_dir / PASSWORD_FILE
    try:
        password = path.read_text().strip()
    except FileNotFoundError:
        password = ""
    if password:
        path.chmod(0o600)  # a copy restored with looser rights is tightened again
        return password
    password = secrets.token_urlsafe(18)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    # Created 0600 from the start (no moment readable by others), then renamed into place.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    os.replace(tmp, path)
    return password


def backfill_start_ms(cfg: PlantConfig, store: SqliteStore, now_ms: int) -> int:
    """Where the history starts: the current (or last) shift's start, or later where the
    stored data of an earlier run ends."""
    from zoneinfo import ZoneInfo

    cal = ShiftCalendar(cfg.shifts, ZoneInfo(cfg.plant.timezone))
    shift_start, _, _ = current_shift_s(now_ms / 1000, cal)
    stored = max((m.last_ts for m in store.machines()), default=0)
    return max(int(shift_start * 1000), stored + 1)


def plant_stored_until_ms(cfg: PlantConfig, store: Store) -> int:
    """The ts of the last message the store holds of this plant's machines (0: none)."""
    return max(stored_until_by_line(cfg, store).values(), default=0)


def stored_until_by_line(cfg: PlantConfig, store: Store) -> dict[str, int]:
    """Per line of the plant: the ts of the last message the store holds of its machines (0:
    none), from one read of the store's machines."""
    line_of = {st.id: line.id for line, st in cfg.stations()}
    p = cfg.plant
    out = dict.fromkeys((line.id for line in cfg.lines), 0)
    for m in store.machines():
        line = line_of.get(m.machine)
        if line is not None and (m.enterprise, m.site) == (p.enterprise, p.site) and m.last_ts:
            out[line] = max(out[line], m.last_ts)
    return out


def continuing_line(cfg: PlantConfig, db: Path, stored_ms: int, start_ms: int) -> str:
    """What a second run on a data folder says first: that it goes on from the stored plant,
    and from when (a run stopped in an earlier shift leaves the time in between empty: the
    history covers the current shift only)."""
    tz = ZoneInfo(cfg.plant.timezone)
    at = datetime.fromtimestamp(stored_ms / 1000, tz)
    text = f"continuing: {db} holds this plant up to {at:%Y-%m-%d %H:%M:%S %Z}; "
    if start_ms <= stored_ms + 1:
        return text + "the simulator goes on from there (seq, counters and meters continued)"
    restart = datetime.fromtimestamp(start_ms / 1000, tz)
    return text + (
        f"the history goes on from the current shift's start, {restart:%Y-%m-%d %H:%M %Z} "
        "(seq, counters and meters continued; the time in between stays empty)"
    )


def continue_args(
    cfg: PlantConfig,
    store: Store,
    earliest_ms: int,
    now_ms: int,
    *,
    live: bool = False,
    resume_file: Path | None = None,
) -> list[str]:
    """`shopfloor sim` options that go on from what the store holds of this plant and never
    rewrite it: start at `earliest_ms` or just after the plant's last stored message,
    whichever is later (backfilling up to now, then live), each machine's seq and meters
    continued from the store (simulator.resume). What a restarted compose simulator runs.

    live: the run follows the clock even when the store holds the plant past it (it waits
    for the clock, as the demo's does); without it such a start gives a bounded run at its
    own pace (what a test wants, and a plain time-lapse would run ahead of the clock).

    resume_file: `--resume` written there and named (as the demo's Stack._resume_file does):
    a line's open orders, inventory and wear can outgrow the 128 KiB one command-line argument
    may hold on Linux (exec fails with E2BIG). Without it, the JSON goes inline."""
    start_ms = max(earliest_ms, plant_stored_until_ms(cfg, store) + 1)
    tz = ZoneInfo(cfg.plant.timezone)
    args = [
        "--start",
        datetime.fromtimestamp(start_ms / 1000, tz).isoformat(timespec="milliseconds"),
    ]
    resume = from_store(store, {st.id for _, st in cfg.stations()}, cfg)
    # `sim --then-live` takes a start at or after now only with --resume (going on from a store).
    if start_ms < now_ms or (live and resume):
        args.append("--then-live")
    if resume:
        text = json.dumps({m: r.model_dump() for m, r in sorted(resume.items())})
        if resume_file is not None:
            resume_file.write_text(text)
            text = str(resume_file)
        args += ["--resume", text]
    return args


@dataclass
class Stack:
    config: Path
    cfg: PlantConfig
    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    speed: float = 1.0
    broker_kind: str = "auto"
    # More `shopfloor sim` options, e.g. the protocols a user switches on (--modbus HOST:PORT).
    sim_args: list[str] = field(default_factory=list)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # The backfill straight into the store (issue 15), else through the broker like live data.
    bulk_history: bool = True
    metrics_port: int = 0
    store: SqliteStore | None = None  # the supervisor's own reads
    broker: Broker | None = None
    password: str = ""  # the dashboard's, for DASH_USER (set by start)
    # Set by start(): where an earlier run's data of this plant ends (0: a fresh folder), and
    # where the live run starts (after the bulk history, if any).
    stored_before_ms: int = 0
    live_start_ms: int = 0
    killed: list[str] = field(default_factory=list)  # services stop() had to kill
    _defer: int = 0
    _pending: bool = False
    _stopping: bool = False

    def on_signal(self, signum: int, frame: object) -> None:
        """The supervisor's SIGINT/SIGTERM handler: a KeyboardInterrupt that ends the demo, held
        back while a service is being started (raised there, it would leave that service
        running unrecorded) and ignored once stop() runs (a second Ctrl-C, or a SIGTERM after
        it, must not break off the orderly stop and leave services behind)."""
        if self._stopping:
            return
        if self._defer:
            self._pending = True
            return
        raise KeyboardInterrupt

    @contextmanager
    def _deferred(self) -> Iterator[None]:
        self._defer += 1
        try:
            yield
        finally:
            self._defer -= 1
        if not self._defer and self._pending:
            self._pending = False
            raise KeyboardInterrupt

    @property
    def db(self) -> Path:
        return self.data_dir / "shopfloor.db"

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def _free_port(self) -> int:
        """A free port for the broker or the metrics, never the dashboard's: a --port picked
        the same way by a caller (a test, a script) is free until the dashboard binds it, so
        the OS may hand it out again meanwhile (the dashboard then failed 'address in use')."""
        while (port := free_port()) == self.port:
            pass
        return port

    def _spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        # Its own session: a Ctrl-C in the terminal reaches only the supervisor, which stops
        # the services in order. Stopped with SIGTERM (stop()), never SIGINT: a demo started in
        # the background by a script has SIGINT ignored, and so would every service it starts.
        with self._deferred(), open(self.data_dir / f"{name}.log", "ab") as log_file:
            self.procs[name] = subprocess.Popen(
                shopfloor_cmd(*args),
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,
                env=None if env is None else {**os.environ, **env},
            )

    def start(self) -> int:
        """Everything up; returns the simulated start of the backfill (epoch ms)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.password = dashboard_password(self.data_dir)
        # One connection for the supervisor's reads, start to stop (each open of a store runs
        # its schema script; the backfill and stop loops poll several times a second).
        store = self.store = SqliteStore(self.db, read_only=True)
        now_ms = clock.now_ms()
        start_ms = backfill_start_ms(self.cfg, store, now_ms)
        self.stored_before_ms = plant_stored_until_ms(self.cfg, store)
        if 0 < self.stored_before_ms < now_ms:
            print(continuing_line(self.cfg, self.db, self.stored_before_ms, start_ms), flush=True)
        if self.bulk_history and now_ms - start_ms > BULK_MIN_MS:
            # The history goes straight into the store (issue 15, shopfloor/cli/bulk.py);
            # the live run below goes on from where it ends, through the broker.
            self.bulk_backfill(start_ms, now_ms - BULK_LEAVE_MS)
        resume = from_store(store, {st.id for _, st in self.cfg.stations()}, self.cfg)
        live_start_ms = self.live_start_ms = max(
            start_ms, plant_stored_until_ms(self.cfg, store) + 1
        )
        with self._deferred():
            self.broker = Broker(
                self._free_port(),
                data_dir=self.data_dir / "broker",
                kind=self.broker_kind,
                log_path=self.data_dir / "broker.log",
            ).start()
        url = self.broker.url
        store_url = f"sqlite:///{self.db}"
        self.metrics_port = self._free_port()
        self._spawn(
            "collector", "collect", "--broker", url, "--store", store_url,
            "--config", str(self.config), "--client-id", COLLECTOR_ID,
            "--metrics-port", str(self.metrics_port),
            "--max-future", "3650d",  # a store an older run filled past the clock goes on ahead
        )  # fmt: skip
        # Nothing is published before the collector listens: a broker that keeps no offline
        # session (the embedded amqtt) would otherwise drop the first messages.
        self.wait_collector_subscribed(30)
        self._spawn(
            "dashboard", "dash", "--store", store_url, "--config", str(self.config),
            "--host", self.host, "--port", str(self.port), "--broker", url,
            env={"SHOPFLOOR_DASH_AUTH": f"{DASH_USER}:{self.password}"},
        )  # fmt: skip
        sim = ["sim", "--config", str(self.config), "--broker", url, "--speed", f"{self.speed:g}"]
        sim += ["--queue-size", str(SIM_QUEUE)]
        start = datetime.fromtimestamp(live_start_ms / 1000, UTC).isoformat(timespec="milliseconds")
        # A start ahead of the clock (a store filled past it) makes the live run wait for the
        # clock: it never runs ahead of it (the warning is the demo's, shopfloor.cli.demo_cmd).
        sim += ["--start", start, "--then-live"]
        if resume:
            sim += ["--resume", self._resume_file("live", resume)]
        self._spawn("simulator", *sim, *self.sim_args)
        return start_ms

    def _resume_file(self, name: str, resume: dict[str, Resume]) -> str:
        """Where a run goes on from, in a file `--resume` reads: a line's open orders (issue
        12) can outgrow what one command-line argument may hold (128 KiB on Linux)."""
        path = self.data_dir / f"resume-{name}.json"
        path.write_text(json.dumps({m: r.model_dump() for m, r in resume.items()}))
        return str(path)

    def bulk_backfill(self, start_ms: int, end_ms: int) -> None:
        """`shopfloor sim --fast --store` over [start_ms, end_ms), seq and meters going on from
        the store: the history at the store's speed, before the collector starts (it then
        seeds its seq tracking and legacy inference from what this wrote)."""
        # One process: a stop of a run split over lines leaves its parts at different times,
        # and the live run goes on from the latest (shopfloor/cli/sim_jobs.py). A shift of
        # history takes seconds either way.
        sim = ["sim", "--config", str(self.config), "--fast", "--store", f"sqlite:///{self.db}"]
        sim += ["--jobs", "1"]
        sim += ["--start", datetime.fromtimestamp(start_ms / 1000, UTC).isoformat()]
        sim += ["--duration", f"{(end_ms - start_ms) / 1000:.3f}s"]
        resume = from_store(self._reads(), {st.id for _, st in self.cfg.stations()}, self.cfg)
        if resume:
            sim += ["--resume", self._resume_file("backfill", resume)]
        self._spawn("backfill", *sim)
        proc = self.procs["backfill"]
        total_min = max(1, -(-(end_ms - start_ms) // 60000))
        with tqdm(total=total_min, unit="min", desc="history", file=sys.stdout) as bar:
            while proc.poll() is None:
                stored = self.stored_until_ms()
                bar.update(min(total_min, max(0, (stored - start_ms) // 60000)) - bar.n)
                time.sleep(0.2)
            bar.update(total_min - bar.n)
        if proc.returncode != 0:
            raise RuntimeError(
                f"the history backfill stopped (exit {proc.returncode}); see {self.data_dir / 'backfill.log'}"
            )
        del self.procs["backfill"]

    def collector_subscribed(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.metrics_port}/metrics"
            with urllib.request.urlopen(url, timeout=1) as r:
                return b"shopfloor_collector_subscribed 1.0" in r.read()
        except OSError:
            return False

    def wait_collector_subscribed(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.collector_subscribed():
            self.check()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the collector did not subscribe in {timeout_s:g} s; see {self.data_dir / 'collector.log'}"
                )
            time.sleep(0.1)

    def stored_all_offline(self) -> bool:
        """The simulator's last messages are its machines' offline status, on the connection
        that carried everything else: once the store has them all, it has the rest too."""
        ours = {st.id for _, st in self.cfg.stations()}
        return all(not m.online for m in self._reads().machines() if m.machine in ours)

    def check(self) -> None:
        """A service that died is an error the user must see, with where its log is."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(
                    f"the {name} stopped (exit {proc.returncode}); see {self.data_dir / (name + '.log')}"
                )

    def dashboard_ready(self) -> bool:
        """The page answers 200 to the demo's credentials."""
        token = base64.b64encode(f"{DASH_USER}:{self.password}".encode()).decode()
        req = urllib.request.Request(
            self.dashboard_url, headers={"Authorization": f"Basic {token}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def _reads(self) -> SqliteStore:
        if self.store is None:
            raise RuntimeError("the demo stack is not started")
        return self.store

    def stored_until_ms(self) -> int:
        return max((m.last_ts for m in self._reads().machines()), default=0)

    def backfill(self, start_ms: int) -> None:
        """A progress bar of the history stored so far, until it reaches the wall clock (less
        the last sampling interval, which a live plant is always behind by)."""
        target_ms = clock.now_ms() - 30_000
        total_min = max(1, -(-(target_ms - start_ms) // 60000))
        with tqdm(total=total_min, unit="min", desc="backfill", file=sys.stdout) as bar:
            while True:
                self.check()
                stored = self.stored_until_ms()
                bar.update(min(total_min, max(0, (stored - start_ms) // 60000)) - bar.n)
                if stored >= target_ms:
                    bar.update(total_min - bar.n)
                    return
                time.sleep(0.5)

    def stop(self) -> float:
        """Every service down, in the order that loses nothing, each with SIGTERM (an ignored
        SIGINT cannot hold one up), all within STOP_TOTAL_S; one that overruns its own bound
        is killed and named in `killed` (the caller says so). Further stop signals are
        ignored meanwhile. Returns how long it took."""
        self._stopping = True
        t0 = time.monotonic()
        deadline = t0 + STOP_TOTAL_S

        def end(name: str, timeout_s: float) -> None:
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                return
            proc.send_signal(signal.SIGTERM)
            t = time.monotonic()
            timeout_s = max(0.1, min(timeout_s, deadline - t))
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("the %s did not stop in %.1f s: killed", name, timeout_s)
                self.killed.append(name)
                proc.kill()
                proc.wait()
            else:
                log.info(
                    "the %s stopped in %.1f s (exit %d)",
                    name,
                    time.monotonic() - t,
                    proc.returncode,
                )

        # A history backfill under way writes what it holds and stops (shopfloor/cli/bulk.py).
        end("backfill", SIM_STOP_S)
        # The simulator delivers what it queued (within its stop budget) and publishes its
        # machines offline, last, on the connection that carried the rest.
        end("simulator", SIM_STOP_S)
        # Let the collector store what the simulator delivered before it goes, leaving it the
        # time to drain and the dashboard its own.
        wait_until = deadline - COLLECTOR_STOP_S - DASHBOARD_STOP_S
        collector = self.procs.get("collector")
        t = time.monotonic()
        while collector is not None and collector.poll() is None:
            if self.stored_all_offline():
                log.info("the store holds every machine offline after %.1f s", time.monotonic() - t)
                break
            if time.monotonic() > wait_until:
                log.warning("the store does not hold every machine offline yet: stopping anyway")
                break
            time.sleep(0.05)
        end("collector", COLLECTOR_STOP_S)
        end("dashboard", DASHBOARD_STOP_S)
        if self.broker is not None:
            self.broker.close()
        if self.store is not None:
            self.store.close()
        return time.monotonic() - t0
