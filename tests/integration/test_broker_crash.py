"""A broker crash loses nothing end to end (issue 14, item 4): Mosquitto SIGKILLed mid-stream,
while it holds thousands of messages it acknowledged to the simulator but has not yet handed to
a lagging collector, and restarted on the same port, with its data folder (what it saved up to
5 s before) or with an empty one (its disk lost too: no sessions, no retained messages). The
simulator's outbox sends again what the collector's watermark does not cover; every
(machine, seq) the simulator made is stored exactly once, unaltered."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest

from collector.deadletter import DeadLetter
from collector.service import Collector
from shopfloor.mqtt_url import parse_broker_url
from shopfloor.store.sqlite import SqliteStore
from tests.support import (
    BROKER_KINDS,
    PLANT,
    SENT_ENERGY,
    cli,
    read_jsonl,
    running_broker,
    wait_for,
)

log = logging.getLogger(__name__)


class SlowStore(SqliteStore):
    """A store that takes about `rate` records a second: the collector lags behind the
    simulator, so the broker holds a growing queue for it."""

    def __init__(self, path: Path, rate: float):
        super().__init__(path)
        self.per_record_s = 1.0 / rate

    def write(self, records):
        time.sleep(self.per_record_s * len(records))
        super().write(records)


def stored_rows(db: Path) -> dict[tuple[str, int], list[dict]]:
    """Every stored row of a sequenced channel, as the payload it came from, by (machine, seq)."""
    con = sqlite3.connect(db)
    out: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for m, ts, seq, state, reason in con.execute(
        "SELECT machine, ts, seq, state, reason FROM states WHERE inferred = 0"
    ):
        out[m, seq].append({"ts": ts, "seq": seq, "state": state, "reason": reason})
    for m, ts, seq, total, good, scrap in con.execute(
        "SELECT machine, ts, seq, total, good, scrap FROM counts"
    ):
        out[m, seq].append({"ts": ts, "seq": seq, "total": total, "good": good, "scrap": scrap})
    for m, ts, seq, kwh in con.execute(
        f"SELECT machine, ts, seq, energy_kwh FROM energy WHERE {SENT_ENERGY}"
    ):
        out[m, seq].append({"ts": ts, "seq": seq, "energy_kwh": kwh})
    for m, ts, seq, kw, values in con.execute(
        'SELECT machine, ts, seq, power_kw, "values" FROM samples'
    ):
        out[m, seq].append({"ts": ts, "seq": seq, "power_kw": kw, **json.loads(values)})
    con.close()
    return out


def sent_payloads(path: Path) -> dict[tuple[str, int], dict]:
    out = {}
    for m in read_jsonl(path):
        p = m["payload"]
        if "seq" in p:
            machine = m["topic"].split("/")[6]
            assert (machine, p["seq"]) not in out
            out[machine, p["seq"]] = p
    return out


def max_seq(db: Path) -> dict[str, int]:
    con = sqlite3.connect(db)
    out: dict[str, int] = {}
    for table in ("states", "counts", "energy", "samples"):
        for m, s in con.execute(f"SELECT machine, max(seq) FROM {table} GROUP BY machine"):
            out[m] = max(out.get(m, 0), s)
    con.close()
    return out


def lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


@pytest.mark.slow
@pytest.mark.skipif("mosquitto" not in BROKER_KINDS, reason="needs mosquitto")
@pytest.mark.parametrize("disk", ["kept", "lost"])
def test_a_broker_sigkill_mid_stream_loses_nothing_end_to_end(tmp_path, disk):
    db = tmp_path / "s.db"
    jsonl = tmp_path / "run.jsonl"
    sim_err = tmp_path / "sim.err"
    with running_broker("mosquitto", data_dir=tmp_path / "mosq") as broker:
        col = Collector(
            parse_broker_url(broker.url),
            SlowStore(db, rate=2500),
            client_id="crash-collector",
            dead_letter=DeadLetter(tmp_path / "dead.jsonl"),
            batch_max=250,
            keepalive=5,
            on_fatal=pytest.fail,
            max_future_ms=3650 * 86_400_000,  # a fixed Monday, whatever "now" is pinned to
        ).start()
        wait_for(lambda: col.metrics.value("shopfloor_collector_subscribed") == 1, 10, "subscribed")
        with open(sim_err, "wb") as err:
            sim = subprocess.Popen(
                cli("sim", "--config", str(PLANT), "--fast", "--start", "2026-11-23T05:00+07:00",
                    "--duration", "1d", "--broker", broker.url, "--jsonl", str(jsonl)),
                stderr=err,
            )  # fmt: skip
        received = lambda: col.metrics.value("shopfloor_collector_received_total")  # noqa: E731
        # Mid-stream, with the collector well behind: the broker holds what it acknowledged to
        # the simulator but has not delivered yet (and saved at most 5 s ago).
        wait_for(
            lambda: lines(jsonl) > 40_000 and lines(jsonl) - received() > 15_000,
            120,
            "a run under way with the collector 15,000 messages behind",
        )
        assert sim.poll() is None, sim_err.read_text()
        behind = lines(jsonl) - received()
        broker.kill()
        if disk == "lost":
            broker.data_dir = tmp_path / "mosq-new"
        broker.start()
        assert sim.wait(240) == 0, sim_err.read_text()
        sent = sent_payloads(jsonl)
        per_machine: dict[str, int] = defaultdict(int)
        for m, s in sent:
            per_machine[m] = max(per_machine[m], s)

        def all_stored() -> bool:
            if col.metrics.value("shopfloor_collector_stored_total") < len(sent):
                return False  # cheap, before a look into the store
            have = max_seq(db)
            return all(have.get(m, 0) >= s for m, s in per_machine.items())

        wait_for(all_stored, 240, "the store to hold every machine's last seq")
        wait_for(lambda: not col._waiting and not col._buf, 30, "the collector idle")
        col.stop()
    stored = stored_rows(db)
    lost = [k for k in sent if k not in stored]
    duplicated = [k for k, rows in stored.items() if len(rows) > 1]
    altered = [k for k, rows in stored.items() if k in sent and rows[0] != sent[k]]
    extra = [k for k in stored if k not in sent]
    err = sim_err.read_text()
    resent = [ln for ln in err.splitlines() if "sending again" in ln]
    # What the run measured (pytest -s shows it).
    print(
        f"\nbroker SIGKILL (disk {disk}): sent {len(sent)}, stored {len(stored)}, lost {len(lost)}, "
        f"duplicated {len(duplicated)}, altered {len(altered)}; the collector was {behind:.0f} "
        f"messages behind at the kill; {resent[0].split(': ', 1)[-1] if resent else 'no resend'}; "
        f"duplicates the collector dropped: "
        f"{col.metrics.total('shopfloor_collector_duplicates'):.0f}"
    )
    assert "lost the broker" in err and "reconnected" in err, err
    assert resent, err  # the outbox did its part: a crash with nothing to resend proves nothing
    assert (len(lost), len(duplicated), len(altered), len(extra)) == (0, 0, 0, 0), (
        lost[:10], duplicated[:10], altered[:10], extra[:10],
    )  # fmt: skip
    assert col.failure() is None
    gaps = sum(col.seqs.gaps(m) for m in per_machine)
    assert gaps == 0  # every hole was filled, so no gap is left counted
