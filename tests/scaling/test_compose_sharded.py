"""The compose profile `sharded` (issue 15; docs/scaling.md): valid for docker-compose, and
its shards and collectors make one plant between them, each machine in one shard."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from shopfloor.config import load_config
from shopfloor.shard import select
from tests.compose.test_compose import compose_mosquitto  # noqa: F401 (a fixture)
from tests.support import ROOT, wait_for

COMPOSE = ROOT / "docker-compose.yml"
DOCKER_COMPOSE = shutil.which("docker-compose")


def _option(svc: dict, name: str) -> str | None:
    for arg in svc["command"]:
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return None


@pytest.mark.skipif(not DOCKER_COMPOSE, reason="needs docker-compose")
@pytest.mark.parametrize("profile", [[], ["--profile", "sharded"]])
def test_docker_compose_accepts_the_profile(profile):
    proc = subprocess.run(
        [DOCKER_COMPOSE, "-f", str(COMPOSE), "--env-file", str(ROOT / ".env.example"), *profile, "config", "-q"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_the_shards_cover_the_plant_once_and_the_collectors_share_one_group():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    sharded = {n for n, s in services.items() if s.get("profiles") == ["sharded"]}
    assert sharded == {"sim-shard-1", "sim-shard-2", "collector-1", "collector-2"}
    production = services["collector"]
    cfg_path = _option(production, "config")
    cfg = load_config(ROOT / "config" / cfg_path.removeprefix("/app/config/"))
    seen: list[str] = []
    for name in ("sim-shard-1", "sim-shard-2"):
        svc = services[name]
        assert _option(svc, "config") == cfg_path
        lines = _option(svc, "lines")
        part = select(cfg, lines.split(",") if lines else None, _option(svc, "area"))
        seen += [line.id for line in part.lines]
        assert svc["depends_on"].keys() >= {"collector-1", "collector-2", "mosquitto"}
    assert sorted(seen) == sorted(line.id for line in cfg.lines)  # each line in one shard
    groups = {_option(services[n], "shared-group") for n in ("collector-1", "collector-2")}
    ids = {_option(services[n], "client-id") for n in ("collector-1", "collector-2")}
    assert groups == {"shopfloor"} and len(ids) == 2
    for n in ("collector-1", "collector-2"):
        # The same store, plant and login as the single collector they stand in for.
        for opt in ("store", "config", "broker"):
            assert _option(services[n], opt) == _option(production, opt), (n, opt)
        env = services[n]["environment"]
        assert (
            env["SHOPFLOOR_MQTT_USERNAME"] == production["environment"]["SHOPFLOOR_MQTT_USERNAME"]
        )


@pytest.mark.skipif(not shutil.which("mosquitto_passwd"), reason="needs mosquitto (apt)")
def test_the_compose_acl_lets_two_collectors_share_the_plant(compose_mosquitto):  # noqa: F811
    """The compose mosquitto.conf and ACL: the collector login may subscribe in a shared group
    ($share/shopfloor/...), and the broker hands each message to one member only."""
    from shopfloor.contract import plant_filter, plant_prefix
    from tests.compose.test_compose import Login

    port, pw = compose_mosquitto
    shared = f"$share/shopfloor/{plant_filter('acme-vn', 'hcm')}"
    members = [Login(port, "collector", pw["collector"], shared) for _ in range(2)]
    sim = Login(port, "simulator", pw["simulator"])
    try:
        for m in members:
            assert m.granted == {shared: True}
        topic = f"{plant_prefix('acme-vn', 'hcm')}/machining/machining-1/cnc-01/telemetry"
        for _ in range(40):
            sim.publish(topic)
        wait_for(lambda: sum(len(m.got) for m in members) >= 40, 10, "every message delivered")
        assert [len(m.got) for m in members] != [40, 0] and [len(m.got) for m in members] != [0, 40]
        assert sum(len(m.got) for m in members) == 40
    finally:
        for login in (*members, sim):
            login.close()
