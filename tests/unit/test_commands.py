"""The command contract (shopfloor.commands): what the dashboard builds is what the simulator
accepts, on the topics each of them uses, answered in the documented reply shape."""

from __future__ import annotations

import queue

import orjson
import pytest
import simpy
from paho.mqtt.client import topic_matches_sub
from pydantic import ValidationError

from shopfloor import commands
from shopfloor.contract import parse_topic
from simulator.commands import Commander
from simulator.plant import Plant
from simulator.sinks import ListSink
from tests.simulator.helpers import START_MS, plant, station

ENT, SITE = "acme", "hcm"
MACHINE = commands.cmd_topic(ENT, SITE, "a/l1/m1")


def test_every_built_command_parses():
    built = [
        commands.set_speed(10),
        commands.breakdown("operator_test", 5),
        commands.breakdown(),
        *(commands.set_params({p: 1.0}) for p in commands.LIVE_PARAMS),
        commands.truth(0, 900_000),
    ]
    assert {commands.parse_command(c).action for c in built} == set(commands.ACTIONS)
    with pytest.raises(ValidationError):
        commands.parse_command({"action": "set", "values": {"ideal_cycle_s": 1.0}})
    with pytest.raises(ValidationError):
        commands.parse_command({"action": "explode"})


def test_topics_and_their_replies():
    plant_topic = commands.cmd_topic(ENT, SITE)
    assert plant_topic == "shopfloor/v1/acme/hcm/cmd"
    assert parse_topic(MACHINE) == ("acme", "hcm", "a", "l1", "m1", "cmd")
    subs = commands.command_filters(ENT, SITE)
    replies = commands.reply_filters(ENT, SITE)
    for t in (plant_topic, MACHINE):
        reply = commands.reply_topic(t)
        assert commands.is_reply(reply) and not commands.is_reply(t)
        assert any(topic_matches_sub(s, t) for s in subs)
        assert not any(topic_matches_sub(s, reply) for s in subs)
        assert any(topic_matches_sub(s, reply) for s in replies)


def test_the_simulator_applies_what_the_dashboard_builds_and_answers_in_the_contract_shape():
    cfg = plant([station("m1", mtbf_min=600, mttr_min=10)])
    env = simpy.Environment()
    sim = Plant(env, cfg, ListSink(), START_MS)
    env.run(until=600)
    commander = Commander(sim, queue.SimpleQueue())

    def send(topic: str, cmd: dict) -> commands.Reply:
        return commander.handle(topic, orjson.dumps({**cmd, "id": "x"}))

    ok = send(MACHINE, commands.breakdown("dashboard", 5))
    assert ok == {
        "id": "x",
        "ok": True,
        "action": "breakdown",
        "result": {"machine": "m1", "reason": "dashboard", "repair_min": 5.0},
        "ts": START_MS + 600_000,
    }
    env.run(until=601)
    assert sim.stations[0].state == "down"
    ok = send(MACHINE, commands.set_params({"mttr_min": 20}))
    assert ok["ok"] and ok["result"] == {"machine": "m1", "values": {"mttr_min": 20.0}}
    for topic, cmd, needle in [
        (MACHINE, commands.breakdown(), "already down"),
        (MACHINE, commands.set_params({"scrap_rate": 3}), "scrap_rate: must be <= 1"),
        (MACHINE, commands.set_speed(2), "plant command"),
        (commands.cmd_topic(ENT, SITE), commands.set_speed(2), "cannot change its speed"),
    ]:
        bad = send(topic, cmd)
        assert set(bad) == {"id", "ok", "error", "ts"} and bad["ok"] is False
        assert needle in bad["error"], bad
