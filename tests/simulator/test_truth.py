"""The `truth` command (simulator/truth.py): the ground truth of a range of a running plant,
equal to what a run of the same config and seed reports for exactly that range."""

from __future__ import annotations

import queue

import orjson
import pytest

from shopfloor import commands, kpi
from shopfloor.config import load_config
from simulator.commands import Commander
from simulator.paced_env import PacedEnvironment
from simulator.plant import Plant
from simulator.run import run
from simulator.sinks import NullSink
from tests.support import PLANT

START_MS = 1_795_366_800_000  # Monday 00:00 +07:00
HOUR_MS = 3_600_000
PLANT_CMD = commands.cmd_topic("acme-vn", "hcm")
LARGE = PLANT.parent / "large.yaml"  # 225 stations


def difference(later: dict, earlier: dict) -> dict:
    """The facts of [a, b) from two whole-run reports of [start, b) and [start, a)."""
    out = {}
    for m, e in later["machines"].items():
        d = {f"{s}_s": e[f"{s}_s"] - earlier["machines"][m][f"{s}_s"] for s in kpi.STATES}
        for k in ("total_count", "good_count", "scrap_count", "energy_kwh"):
            d[k] = e[k] - earlier["machines"][m][k]
        out[m] = d
    return out


def live_plant(hours: float) -> tuple[Plant, Commander]:
    cfg = load_config(PLANT)
    env = PacedEnvironment(None)
    plant = Plant(env, cfg, NullSink(), START_MS)
    env.run(until=hours * 3600 + 123.4)
    return plant, Commander(plant, queue.SimpleQueue())


def ask(commander: Commander, cmd: dict, topic: str = PLANT_CMD) -> dict:
    return commander.handle(topic, orjson.dumps({**cmd, "id": "t"}))


def test_the_truth_of_a_range_equals_a_run_of_the_same_seed_over_it():
    cfg = load_config(PLANT)
    plant, commander = live_plant(10)
    until_6 = run(cfg, NullSink(), START_MS, 6 * 3600).report
    until_9 = run(cfg, NullSink(), START_MS, 9 * 3600).report
    want = difference(until_9, until_6)
    reply = ask(commander, commands.truth(START_MS + 6 * HOUR_MS, START_MS + 9 * HOUR_MS))
    assert reply["ok"] and reply["action"] == "truth"
    got = reply["result"]
    assert got["plant"]["from_ms"] == START_MS + 6 * HOUR_MS
    assert got["plant"]["to_ms"] == START_MS + 9 * HOUR_MS
    assert any(w["good_count"] > 100 for w in want.values())
    for m, w in want.items():
        g = got["machines"][m]
        for k in ("total_count", "good_count", "scrap_count"):
            assert g[k] == w[k], (m, k)
        for s in kpi.STATES:
            # The mark is taken half a millisecond before its quarter.
            assert abs(g[f"{s}_s"] - w[f"{s}_s"]) <= 0.001, (m, s)
        assert abs(g["energy_kwh"] - w["energy_kwh"]) < 1e-4
    # Up to now: the whole run's books so far, ends snapped to what the ledger holds.
    now = START_MS + round(plant.env.now * 1000)
    reply = ask(commander, commands.truth(START_MS + 6 * HOUR_MS + 5 * 60_000))
    got = reply["result"]
    assert got["plant"]["from_ms"] == START_MS + 6 * HOUR_MS  # snapped down to the quarter
    assert got["plant"]["to_ms"] == now
    assert got["plant"]["requested_from_ms"] == START_MS + 6 * HOUR_MS + 5 * 60_000
    assert got["plant"]["requested_to_ms"] is None
    for m, e in got["machines"].items():
        assert sum(e[f"{s}_s"] for s in kpi.STATES) == pytest.approx(
            (now - got["plant"]["from_ms"]) / 1000, abs=0.002
        ), m


def test_bad_truth_requests_get_error_replies():
    _, commander = live_plant(1)
    machine = commands.cmd_topic("acme-vn", "hcm", "machining/machining-1/cnc-01")
    for topic, cmd, needle in [
        (machine, commands.truth(START_MS), "plant command"),
        (PLANT_CMD, {"action": "truth", "from_ms": START_MS, "to_ms": START_MS}, "after from_ms"),
        (PLANT_CMD, commands.truth(START_MS + 5 * HOUR_MS), "not before the simulation's now"),
        (PLANT_CMD, commands.truth(START_MS - 2 * HOUR_MS, START_MS - HOUR_MS), "not after"),
        (PLANT_CMD, commands.truth(START_MS + 60_000, START_MS + 120_000), "quarter hour"),
    ]:
        reply = ask(commander, cmd, topic)
        assert reply["ok"] is False and needle in reply["error"], reply


def test_a_truth_too_large_for_a_reply_is_refused_and_the_plant_goes_on():
    """A reply above MAX_REPLY_BYTES would be refused by a broker with a 64 KiB packet limit
    (the compose Mosquitto), which disconnects the simulator; QoS 1 sends it again on every
    reconnect, so the simulator never delivered again. 225 stations: ~130 kB of truth."""
    cfg = load_config(LARGE)
    env = PacedEnvironment(None)
    plant = Plant(env, cfg, NullSink(), START_MS)
    env.run(until=3600 + 12.3)
    commander = Commander(plant, queue.SimpleQueue())
    topic = commands.cmd_topic(cfg.plant.enterprise, cfg.plant.site)
    # Worth checking: this plant's truth is larger than a reply may be.
    assert len(orjson.dumps(plant.truth.report(START_MS))) > commands.MAX_REPLY_BYTES
    reply = ask(commander, commands.truth(START_MS), topic)
    assert reply["ok"] is False and reply["id"] == "t"
    assert f"above the {commands.MAX_REPLY_BYTES} bytes" in reply["error"]
    assert len(orjson.dumps(reply)) <= commands.MAX_REPLY_BYTES
    # The plant goes on, and answers what fits.
    env.run(until=2 * 3600)
    machine = plant.stations[0]
    path = f"{machine.area}/{machine.line_id}/{machine.id}"
    reply = ask(commander, commands.breakdown("probe", 1), commands.cmd_topic(
        cfg.plant.enterprise, cfg.plant.site, path))  # fmt: skip
    assert reply["ok"] is True and reply["result"]["machine"] == machine.id


def test_a_large_plants_truth_asked_a_few_lines_at_a_time_adds_up_to_the_whole():
    """Each answer of a few lines fits in a reply; merged (plant entry recomputed from the
    lines by shopfloor.report) they are the whole plant's truth, which alone would not fit."""
    from shopfloor.report import merge_reports

    cfg = load_config(LARGE)
    env = PacedEnvironment(None)
    plant = Plant(env, cfg, NullSink(), START_MS)
    env.run(until=8 * 3600 + 12.3)
    commander = Commander(plant, queue.SimpleQueue())
    topic = commands.cmd_topic(cfg.plant.enterprise, cfg.plant.site)
    t0, t1 = START_MS + 6 * HOUR_MS + 15 * 60_000, START_MS + 8 * HOUR_MS
    whole = plant.truth.report(t0, t1)
    assert len(orjson.dumps(whole)) > commands.MAX_REPLY_BYTES
    ids = [line.id for line in cfg.lines]
    chunks = [ids[i : i + 4] for i in range(0, len(ids), 4)]
    parts = []
    for chunk in reversed(chunks):  # any order: the merge follows the config's
        reply = ask(commander, commands.truth(t0, t1, chunk), topic)
        assert reply["ok"] is True, reply.get("error")
        assert len(orjson.dumps(reply)) <= commands.MAX_REPLY_BYTES
        assert set(reply["result"]["lines"]) == set(chunk)
        parts.append(reply["result"])
    merged = merge_reports(parts, ids)
    assert list(merged["lines"]) == ids
    assert list(merged["machines"]) == list(whole["machines"])
    assert merged["machines"] == whole["machines"]
    assert merged["lines"] == whole["lines"]
    assert set(merged["plant"]) == set(whole["plant"])
    for k, v in whole["plant"].items():
        assert merged["plant"][k] == (pytest.approx(v, rel=1e-12) if isinstance(v, float) else v), k
    assert whole["plant"]["good_count"] > 0 and whole["plant"]["scrap_all_stations"] > 0
    # A line this plant does not have is named in the refusal.
    reply = ask(commander, commands.truth(t0, t1, ["line-01", "nope"]), topic)
    assert reply["ok"] is False and "no line nope" in reply["error"]


def test_truth_instants_are_strict_integers():
    """JSON's true is not the instant 1 (pydantic's lax int would take it)."""
    _, commander = live_plant(1)
    for cmd in (
        {"action": "truth", "from_ms": True},
        {"action": "truth", "from_ms": START_MS, "to_ms": True},
        {"action": "truth", "from_ms": float(START_MS)},
        {"action": "truth", "from_ms": str(START_MS)},
    ):
        reply = ask(commander, cmd)
        assert reply["ok"] is False
        assert "from_ms" in reply["error"] or "to_ms" in reply["error"], reply["error"]
    assert ask(commander, commands.truth(START_MS))["ok"] is True
