"""The compose stack without a Docker engine: `docker-compose config -q`, its semantics, and
its mosquitto.conf and ACL run for real in a local Mosquitto 2."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from shopfloor.broker import free_port, wait_listening
from tests.support import ROOT

COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
CONF = ROOT / "config" / "compose"
DOCKER_COMPOSE = shutil.which("docker-compose")
needs_compose = pytest.mark.skipif(
    not DOCKER_COMPOSE, reason="needs docker-compose (apt; .ci/run installs it)"
)
needs_mosquitto = pytest.mark.skipif(
    not shutil.which("mosquitto_passwd"), reason="needs mosquitto (apt)"
)


def env_example() -> dict[str, str]:
    out = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@needs_compose
def test_docker_compose_accepts_it_with_the_example_env():
    proc = subprocess.run(
        [DOCKER_COMPOSE, "-f", str(COMPOSE), "--env-file", str(ENV_EXAMPLE), "--profile", "test", "config", "-q"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


@needs_compose
def test_it_refuses_to_start_without_the_secrets(tmp_path):
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")  # no .env beside it
    proc = subprocess.run(
        [DOCKER_COMPOSE, "-f", str(tmp_path / "docker-compose.yml"), "config", "-q"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "set it in .env" in proc.stderr


def test_every_dependency_exists_has_a_healthcheck_and_is_awaited_healthy():
    services = compose()["services"]
    # One-shot set-up steps are awaited to completion instead.
    one_shot = {
        n for n, svc in services.items() if svc.get("restart") == "no" and "profiles" not in svc
    }
    assert one_shot == {"influxdb-tokens-dir"}
    for name, svc in services.items():
        assert name in one_shot or "healthcheck" in svc, f"{name} has no healthcheck"
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on must name a condition"
        for dep, how in deps.items():
            assert dep in services, f"{name} depends on a missing service {dep}"
            if dep in one_shot:
                assert how == {"condition": "service_completed_successfully"}, (name, dep)
                continue
            assert how == {"condition": "service_healthy"}, (name, dep)
            assert "healthcheck" in services[dep], (
                f"{name} waits for {dep}, which has no healthcheck"
            )
    assert services["simulator"]["depends_on"].keys() >= {"mosquitto", "collector"}
    assert services["reconcile"]["profiles"] == ["test"]


def test_every_variable_is_set_or_defaulted():
    example = env_example()
    text = COMPOSE.read_text()
    refs = re.findall(r"\$\{([A-Z0-9_]+)(:?[-?])?([^}]*)\}", text)
    assert refs
    for var, op, _ in refs:
        if op.endswith("-"):
            continue  # defaulted
        assert var in example, f"${{{var}}} is neither defaulted nor in .env.example"
    # What the scripts read from the environment is passed to their container.
    services = compose()["services"]
    for var in re.findall(
        r"MQTT_[A-Z]+_PASSWORD", (CONF / "acl").read_text() + "MQTT_SIMULATOR_PASSWORD"
    ):
        assert var in services["mosquitto"]["environment"]
    for user in ("simulator", "collector", "dashboard", "reconcile"):
        assert f"MQTT_{user.upper()}_PASSWORD" in services["mosquitto"]["environment"]
        assert f"MQTT_{user.upper()}_PASSWORD" in example
    for var in re.findall(
        r"\$(DOCKER_INFLUXDB_INIT_[A-Z_]+)", (CONF / "influxdb-init.sh").read_text()
    ):
        # The image sets *_ID itself after setup; the rest come from compose.
        assert var.endswith("_ID") or var in services["influxdb"]["environment"], var


def test_images_are_pinned_and_the_app_runs_as_a_user():
    services = compose()["services"]
    for name, svc in services.items():
        image = svc["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and re.fullmatch(r"\d+\.\d+(\.\d+)?", tag), f"{name}: {image} is not pinned"
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2.")
    assert services["influxdb"]["image"].startswith("influxdb:2.7.")
    docker = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11\.\d+-slim", docker, re.M)
    assert re.search(r"^USER shopfloor$", docker, re.M)
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_scripts_parse():
    for script in ("mosquitto-entrypoint.sh", "influxdb-init.sh"):
        proc = subprocess.run(["sh", "-n", str(CONF / script)], capture_output=True, text=True)
        assert proc.returncode == 0, (script, proc.stderr)


@pytest.fixture
def compose_mosquitto(tmp_path):
    """The compose mosquitto.conf and ACL in a real Mosquitto 2 (paths and port made local)."""
    passwords = {u: f"pw-{u}" for u in ("simulator", "collector", "dashboard", "reconcile")}
    passwd = tmp_path / "passwd"
    passwd.touch(mode=0o600)
    for user, pw in passwords.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, pw], check=True)
    port = free_port()
    conf = (CONF / "mosquitto.conf").read_text()
    conf = conf.replace("listener 1883", f"listener {port} 127.0.0.1")
    conf = conf.replace("/mosquitto/data/passwd", str(passwd))
    conf = conf.replace("/mosquitto/config/acl", str(CONF / "acl"))
    conf = conf.replace("/mosquitto/data/", f"{tmp_path}/")
    import getpass

    (tmp_path / "m.conf").write_text(conf + f"\nuser {getpass.getuser()}\n")
    proc = subprocess.Popen(
        ["mosquitto", "-c", str(tmp_path / "m.conf")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_listening("127.0.0.1", port, 10)
    except TimeoutError:
        proc.kill()
        raise AssertionError(proc.communicate()[0].decode()) from None
    yield port, passwords
    proc.terminate()
    proc.wait(10)


def client(
    port: int, user: str, pw: str, got: list | None = None, sub: str | None = None
) -> mqtt.Client:
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"t-{user}-{time.monotonic_ns()}",
        protocol=mqtt.MQTTv311,
    )
    c.username_pw_set(user, pw)
    if got is not None:
        c.on_message = lambda _c, _u, m: got.append(m.topic)
    rc = []
    c.on_connect = lambda _c, _u, _f, reason, _p: rc.append(reason)
    c.connect("127.0.0.1", port)
    c.loop_start()
    deadline = time.monotonic() + 5
    while not rc and time.monotonic() < deadline:
        time.sleep(0.02)
    assert rc and not rc[0].is_failure, (user, rc)
    if sub:
        acked: list = []
        c.on_subscribe = lambda _c, _u, _mid, reasons, _p: acked.append(reasons)
        c.subscribe(sub, qos=1)
        deadline = time.monotonic() + 5
        while not acked and time.monotonic() < deadline:
            time.sleep(0.02)
        assert acked, (user, "no SUBACK")
    return c


@needs_mosquitto
def test_the_acl_lets_each_service_do_its_job_and_nothing_else(compose_mosquitto):
    port, pw = compose_mosquitto
    plant = "shopfloor/v1/acme-vn/hcm"
    machine = f"{plant}/machining/machining-1/cnc-01"
    seen: list[str] = []
    collector = client(port, "collector", pw["collector"], seen, "shopfloor/v1/#")
    sim_cmds: list[str] = []
    sim = client(port, "simulator", pw["simulator"], sim_cmds, f"{plant}/+/+/+/cmd")
    replies: list[str] = []
    dash = client(port, "dashboard", pw["dashboard"], replies, f"{plant}/+/+/+/cmd/reply")
    try:
        sim.publish(f"{machine}/state", b"{}", qos=1).wait_for_publish(5)
        sim.publish("shopfloor/v1/other/site/a/l/m/state", b"{}", qos=1).wait_for_publish(5)
        collector.publish(f"{machine}/state", b"{}", qos=1).wait_for_publish(5)
        dash.publish(f"{machine}/cmd", b"{}", qos=1).wait_for_publish(5)
        dash.publish(f"{machine}/state", b"{}", qos=1).wait_for_publish(5)
        sim.publish(f"{machine}/cmd/reply", b"{}", qos=1).wait_for_publish(5)
        # A last allowed message to each subscriber: the broker delivers to a subscriber in
        # the order it accepted, so once these arrive everything above has, or never will.
        other = f"{plant}/machining/machining-1/cnc-02"
        sim.publish(f"{other}/telemetry", b"{}", qos=1).wait_for_publish(5)
        dash.publish(f"{other}/cmd", b"{}", qos=1).wait_for_publish(5)
        sim.publish(f"{other}/cmd/reply", b"{}", qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (
            f"{other}/telemetry" in seen
            and f"{other}/cmd" in sim_cmds
            and f"{other}/cmd/reply" in replies
        ):
            time.sleep(0.02)
        for got in (seen, sim_cmds, replies):
            got[:] = [t for t in got if not t.startswith(other)]
        # Only the simulator's own telemetry and the dashboard's command reach the collector.
        assert seen.count(f"{machine}/state") == 1, seen
        assert "shopfloor/v1/other/site/a/l/m/state" not in seen
        assert sim_cmds == [f"{machine}/cmd"]
        assert replies == [f"{machine}/cmd/reply"]
    finally:
        for c in (collector, sim, dash):
            c.loop_stop()
            c.disconnect()
    # A wrong password is refused.
    bad = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    bad.username_pw_set("collector", "nope")
    reasons: list = []
    bad.on_connect = lambda _c, _u, _f, reason, _p: reasons.append(reason)
    bad.connect("127.0.0.1", port)
    deadline = time.monotonic() + 5
    while not reasons and time.monotonic() < deadline:
        bad.loop(0.2)
    assert reasons and reasons[0].is_failure, reasons
