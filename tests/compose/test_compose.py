"""The compose stack without a Docker engine: `docker-compose config -q`, its semantics, and
its mosquitto.conf and ACL run for real in a local Mosquitto 2."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from collector.validate import validate
from shopfloor import clock
from shopfloor import sparkplug as spb
from shopfloor.broker import free_port, wait_listening
from shopfloor.commands import command_filters, reply_filters
from shopfloor.config import load_config
from shopfloor.contract import (
    alerts_topic,
    parse_topic,
    plant_filter,
    plant_prefix,
    watermark_filter,
)
from shopfloor.store.base import Record
from shopfloor.store.rollup import END_OF_TIME_MS
from shopfloor.store.sqlite import SqliteStore
from simulator.run import run
from simulator.sinks import ListSink
from tests.support import MONDAY_1100, ROOT, cli, free_ports, instant_s, pinned_env, wait_for

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


def option(svc: dict, name: str) -> str | None:
    """The value of --name=VALUE in a service's command."""
    for arg in svc["command"]:
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return None


def acl_rules() -> dict[str, list[str]]:
    """user -> its `topic` lines of config/compose/acl."""
    rules: dict[str, list[str]] = {}
    user = None
    for line in (CONF / "acl").read_text().splitlines():
        words = line.split()
        if words[:1] == ["user"]:
            user = words[1]
            rules[user] = []
        elif words[:1] == ["topic"] and user is not None:
            rules[user].append(" ".join(words[1:]))
    return rules


def test_production_and_the_reconciliation_check_never_share_a_topic_tree():
    services = compose()["services"]
    rules = acl_rules()
    plants = {}
    for name, login in (("collector", "collector"), ("reconcile-collector", "reconcile")):
        svc = services[name]
        assert svc["environment"]["SHOPFLOOR_MQTT_USERNAME"] == login
        cfg_path = option(svc, "config")
        assert cfg_path and cfg_path.startswith("/app/config/"), (name, svc["command"])
        cfg = load_config(ROOT / "config" / cfg_path.removeprefix("/app/config/"))
        plants[name] = (cfg.plant.enterprise, cfg.plant.site)
    assert plants["collector"] != plants["reconcile-collector"]
    # What each collector subscribes to (collect --config) is exactly what its login may read;
    # it writes only its plant's watermarks and its alerts.
    assert rules["collector"] == [
        f"read {plant_filter(*plants['collector'])}",
        f"write {watermark_filter(*plants['collector'])}",
        f"write {alerts_topic(*plants['collector'])}",
        f"read {spb.plant_filter(*plants['collector'])}",
        f"write {spb.topic(spb.group_id(*plants['collector']), 'NCMD', '+')}",
    ]
    assert rules["reconcile"] == [
        f"readwrite {plant_prefix(*plants['reconcile-collector'])}/#",
        f"readwrite {spb.plant_filter(*plants['reconcile-collector'])}",
    ]
    assert option(services["reconcile"], "config") == option(
        services["reconcile-collector"], "config"
    )
    assert services["reconcile"]["environment"]["SHOPFLOOR_MQTT_USERNAME"] == "reconcile"
    assert "reconcile-collector" in services["reconcile"]["depends_on"]
    assert services["reconcile-collector"]["profiles"] == ["test"]
    # The simulator, the dashboard and the production collector are of one plant.
    sim_cfg = load_config(
        ROOT / "config" / option(services["simulator"], "config").removeprefix("/app/config/")
    )
    assert (sim_cfg.plant.enterprise, sim_cfg.plant.site) == plants["collector"]
    assert option(services["dashboard"], "config") == option(services["collector"], "config")


def test_the_dashboard_requires_credentials_and_its_healthcheck_says_so(tmp_path):
    services = compose()["services"]
    dash = services["dashboard"]
    assert "--no-auth" not in dash["command"] and "--host=0.0.0.0" in dash["command"]
    assert re.fullmatch(r"\$\{DASH_AUTH:\?[^}]+\}", dash["environment"]["SHOPFLOOR_DASH_AUTH"])
    user, _, password = env_example()["DASH_AUTH"].partition(":")
    assert user and password
    # The healthcheck, run against a real `shopfloor dash` as compose starts it (credentials
    # from the environment): healthy; against one serving without credentials: unhealthy.
    check = dash["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    for auth, healthy in (({"SHOPFLOOR_DASH_AUTH": "u:p"}, True), ({}, False)):
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "SHOPFLOOR_DASH_AUTH"} | auth
        extra = [] if auth else ["--no-auth"]
        proc = subprocess.Popen(
            cli("dash", "--store", f"sqlite:///{tmp_path / 's.db'}", "--port", str(port), *extra),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        try:
            wait_for(lambda: listening(port), 60, "the dashboard")  # noqa: B023
            code = check[3].replace(":8050/", f":{port}/")
            run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            assert (run.returncode == 0) == healthy, (auth, run.stderr)
        finally:
            proc.terminate()
            proc.wait(20)


def test_the_collectors_healthcheck_is_its_health_endpoint(tmp_path):
    """Both collectors' healthcheck, run against a real `shopfloor collect`: unhealthy before
    its subscription is confirmed (no broker yet), healthy once it is."""
    services = compose()["services"]
    checks = {
        services[name]["healthcheck"]["test"][3] for name in ("collector", "reconcile-collector")
    }
    assert len(checks) == 1 and "/health" in next(iter(checks))
    code_for = next(iter(checks)).replace

    def healthy(port: int) -> bool:
        code = code_for(":9108/", f":{port}/")
        return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0

    metrics, broker_port = free_ports(2)  # both bound later: never the same port
    proc = subprocess.Popen(
        cli("collect", "--broker", f"mqtt://127.0.0.1:{broker_port}", "--store",
            f"sqlite:///{tmp_path / 's.db'}", "--metrics-port", str(metrics), "--client-id", "hc"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: listening(metrics), 60, "the collector's metrics port")
        assert not healthy(metrics)  # no broker: not subscribed
        from shopfloor.broker import Broker

        broker = Broker(broker_port).start()
        try:
            wait_for(lambda: healthy(metrics), 60, "healthy once subscribed")
        finally:
            broker.close()
    finally:
        proc.terminate()
        proc.wait(20)


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


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


class Login:
    """One service's broker login, subscribed to what that service subscribes to; it records
    each (topic, sender) it receives and the broker's answer to each subscription."""

    def __init__(self, port: int, user: str, pw: str, *subs: str):
        self.user = user
        self.got: list[tuple[str, str]] = []
        self.granted: dict[str, bool] = {}
        self.client = c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"t-{user}-{time.monotonic_ns()}",
            protocol=mqtt.MQTTv311,
        )
        c.username_pw_set(user, pw)
        c.on_message = lambda _c, _u, m: self.got.append((m.topic, m.payload.decode()))
        rc: list = []
        c.on_connect = lambda _c, _u, _f, reason, _p: rc.append(reason)
        c.connect("127.0.0.1", port)
        c.loop_start()
        wait_for(lambda: rc, 5, f"{user} connected")
        assert not rc[0].is_failure, (user, rc)
        acked: dict[int, list] = {}
        c.on_subscribe = lambda _c, _u, mid, reasons, _p: acked.__setitem__(mid, reasons)
        for sub in subs:
            _, mid = c.subscribe(sub, qos=1)
            wait_for(lambda: mid in acked, 5, f"{user}'s SUBACK for {sub}")  # noqa: B023
            self.granted[sub] = not acked[mid][0].is_failure

    def publish(self, topic: str) -> None:
        """Published at QoS 1 and acknowledged (a denied one is acknowledged too: MQTT 3.1.1
        has no way to refuse, the broker delivers it to nobody); the payload names the sender."""
        self.client.publish(topic, self.user.encode(), qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@needs_mosquitto
def test_the_acl_lets_each_service_do_its_job_and_nothing_else(compose_mosquitto):
    port, pw = compose_mosquitto
    plant = plant_prefix("acme-vn", "hcm")
    test_plant = plant_prefix("acme-vn", "reconcile")
    machine = f"{plant}/machining/machining-1/cnc-01"
    test_machine = f"{test_plant}/reconcile/rc-line/rc-cnc"
    # Each login subscribes as its service does (the collectors with --config).
    group = spb.group_id("acme-vn", "hcm")
    collector = Login(
        port, "collector", pw["collector"], plant_filter("acme-vn", "hcm"),
        spb.plant_filter("acme-vn", "hcm"),
    )  # fmt: skip
    sim = Login(
        port, "simulator", pw["simulator"], *command_filters("acme-vn", "hcm"),
        watermark_filter("acme-vn", "hcm"), spb.topic(group, "NCMD", "+"),
    )  # fmt: skip
    dash = Login(port, "dashboard", pw["dashboard"], *reply_filters("acme-vn", "hcm"))
    test_collector = Login(port, "reconcile", pw["reconcile"], plant_filter("acme-vn", "reconcile"))
    # And each tries to read more than its job: the broker grants nothing of it.
    spies = {
        "collector": Login(port, "collector", pw["collector"], "shopfloor/#", "#"),
        "simulator": Login(
            port, "simulator", pw["simulator"], "shopfloor/#", f"{plant}/#", "spBv1.0/#"
        ),
        "dashboard": Login(port, "dashboard", pw["dashboard"], "shopfloor/#", f"{plant}/#"),
        "reconcile": Login(port, "reconcile", pw["reconcile"], "shopfloor/#", f"{plant}/#"),
    }
    logins = [collector, sim, dash, test_collector, *spies.values()]
    try:
        for login in (collector, sim, dash, test_collector):
            assert all(login.granted.values()), (login.user, login.granted)
        allowed = [
            # The simulator: every channel of its machines, and the replies to its commands.
            (sim, f"{machine}/{ch}", collector)
            for ch in ("state", "count", "telemetry", "energy", "status")
        ] + [
            (sim, f"{machine}/cmd/reply", dash),
            (sim, f"{plant}/cmd/reply", dash),
            # The dashboard: commands to a machine and to the plant.
            (dash, f"{machine}/cmd", sim),
            (dash, f"{plant}/cmd", sim),
            # The collector: its watermarks, to the simulator (and back to itself).
            (collector, f"{machine}/stored", sim),
            # The reconciliation check: its own plant, to its own collector.
            (test_collector, f"{test_machine}/state", test_collector),
            # Sparkplug B: the simulator's edge nodes and devices, the collector's rebirth asks.
            (sim, spb.topic(group, "NBIRTH", "machining:machining-1"), collector),
            (sim, spb.topic(group, "DDATA", "machining:machining-1", "cnc-01"), collector),
            (sim, spb.topic(group, "NDEATH", "machining:machining-1"), collector),
            (collector, spb.topic(group, "NCMD", "machining:machining-1"), sim),
        ]
        denied = [
            # The simulator forges no command, no reply outside its plant, no other topic.
            (sim, f"{machine}/cmd", sim),
            (sim, f"{plant}/cmd", sim),
            (sim, f"{machine}/other", collector),
            (sim, f"{plant}/a/b/c/d/state", collector),  # deeper than a machine
            (sim, f"{test_machine}/cmd/reply", test_collector),
            (sim, f"{test_machine}/state", test_collector),
            (sim, "shopfloor/v1/other/site/a/l/m/state", spies["reconcile"]),
            # Sparkplug B: the simulator forges no rebirth request, the collector no data.
            (sim, spb.topic(group, "NCMD", "machining:machining-1"), sim),
            (collector, spb.topic(group, "DDATA", "machining:machining-1", "cnc-01"), collector),
            # The collector publishes nothing but watermarks.
            (collector, f"{machine}/state", collector),
            (collector, f"{test_machine}/stored", test_collector),
            (collector, f"{machine}/cmd", sim),
            (collector, f"{machine}/cmd/reply", dash),
            # The dashboard publishes commands only: no telemetry, no forged reply.
            (dash, f"{machine}/state", collector),
            (dash, f"{machine}/cmd/reply", dash),
            (dash, f"{plant}/cmd/reply", dash),
            (dash, f"{test_machine}/cmd", test_collector),
            # Only the collector raises alerts (no login of the stack reads them: the dashboard
            # judges them from the store, so its login may not read them either).
            (dash, f"{plant}/alerts", spies["dashboard"]),
            (sim, f"{plant}/alerts", spies["dashboard"]),
            (collector, f"{plant}/alerts", spies["dashboard"]),
            # Only the collector vouches for what is stored (a forged watermark would make
            # the simulator drop what it should resend).
            (sim, f"{machine}/stored", sim),
            (dash, f"{machine}/stored", sim),
            (test_collector, f"{machine}/stored", sim),
            # The test login: nothing into the production plant, of any kind.
            (test_collector, f"{machine}/state", collector),
            (test_collector, f"{machine}/count", collector),
            (test_collector, f"{machine}/status", collector),
            (test_collector, f"{machine}/cmd", sim),
            (test_collector, f"{plant}/cmd", sim),
            (test_collector, f"{machine}/cmd/reply", dash),
        ]
        for sender, topic, _ in denied + allowed:
            sender.publish(topic)
        # A last allowed message to each subscriber: the broker delivers to a subscriber in the
        # order it accepted, so once these arrive everything above has arrived, or never will.
        other = f"{plant}/machining/machining-1/cnc-02"
        last = [
            (sim, f"{other}/state", collector),
            (dash, f"{other}/cmd", sim),
            (sim, f"{other}/cmd/reply", dash),
            (test_collector, f"{test_plant}/reconcile/rc-line/rc-press/state", test_collector),
        ]
        for sender, topic, _ in last:
            sender.publish(topic)
        for _, topic, receiver in last:
            wait_for(lambda: any(t == topic for t, _ in receiver.got), 10, topic)  # noqa: B023
        for sender, topic, receiver in allowed:
            assert receiver.got.count((topic, sender.user)) == 1, (topic, receiver.got)
        for sender, topic, receiver in denied:
            assert (topic, sender.user) not in receiver.got, (
                f"{sender.user} published {topic} to {receiver.user}"
            )
        # Each login received exactly the allowed messages its subscriptions match (a machine's
        # cmd topic matches the collector's filter too; it ignores them), nothing more.
        for receiver in (collector, sim, dash, test_collector):
            want = sorted(
                (t, s.user)
                for s, t, _ in allowed + last
                if any(mqtt.topic_matches_sub(f, t) for f in receiver.granted)
            )
            assert sorted(receiver.got) == want, receiver.user
        # A broader subscription is granted but delivers only what the login may read: what
        # its service subscribes to anyway. The production collector never sees the test
        # plant, the test login never sees production.
        for spy, job in (
            (spies["collector"], collector),
            (spies["simulator"], sim),
            (spies["dashboard"], dash),
            (spies["reconcile"], test_collector),
        ):
            wait_for(lambda: len(spy.got) >= len(job.got), 10, f"{spy.user}'s spy")  # noqa: B023
            assert sorted(spy.got) == sorted(job.got), spy.user
        assert not any(test_plant in t for t, _ in collector.got)
        assert not any(plant + "/" in t for t, _ in test_collector.got)
    finally:
        for login in logins:
            login.close()
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


# -- the compose simulator goes on from the store ---------------------------------------------


def simulator_start(store_url: str, *sim_args: str, dry_run: bool = False) -> list[str]:
    """The compose simulator's entrypoint and command, made local: this checkout's config, a
    SQLite store, no broker (`sim_args` instead), the store's folder for the image's /app/data
    (where the resume file goes)."""
    svc = compose()["services"]["simulator"]
    assert svc["entrypoint"] == ["python", "/app/config/compose/simulator-start.py"]
    args = []
    for arg in svc["command"]:
        arg = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", arg)  # the compose default
        if arg.startswith("--store="):
            arg = f"--store={store_url}"
        elif arg.startswith(("--broker=", "--speed=")):
            continue
        args.append(arg.replace("/app/config/", f"{ROOT}/config/"))
    assert "--backfill=8h" in args and "--" in args
    if store_url.startswith("sqlite:///"):
        args.insert(0, f"--data-dir={Path(store_url.removeprefix('sqlite:///')).parent}")
    if dry_run:
        args.insert(0, "--dry-run")
    return [sys.executable, str(CONF / "simulator-start.py"), *args, *sim_args]


@pytest.fixture
def two_hours_stored(tmp_path):
    """Monday 08:00-10:00 of the demo plant in a SQLite store, plus a later message of another
    plant (the reconciliation check's), which must not move where this plant goes on."""
    cfg = load_config(ROOT / "config" / "plant.yaml")
    start_ms = int((instant_s(MONDAY_1100) - 3 * 3600) * 1000)
    end_ms = start_ms + 2 * 3600 * 1000
    sink = ListSink()
    run(cfg, sink, start_ms, 2 * 3600)
    db = tmp_path / "s.db"
    store = SqliteStore(db)
    recs = [validate(t, orjson.dumps(p), end_ms, 10**12, 10**6) for t, p, _ in sink.messages]
    store.write([r for r in recs if isinstance(r, Record)])
    other = ListSink()
    run(load_config(ROOT / "config" / "reconcile.yaml"), other, end_ms, 1800)
    recs = [
        validate(t, orjson.dumps(p), end_ms + 1_800_000, 10**12, 10**6)
        for t, p, _ in other.messages
    ]
    store.write([r for r in recs if isinstance(r, Record)])
    assert max(m.last_ts for m in store.machines()) > end_ms
    last = {m.machine: m.last_ts for m in store.machines() if m.site == cfg.plant.site}
    seqs = store.max_seq()
    counts = store.counter_at("count", END_OF_TIME_MS)
    meters = store.counter_at("energy", END_OF_TIME_MS)
    store.close()
    return f"sqlite:///{db}", cfg, max(last.values()), seqs, counts, meters


def test_compose_simulator_starts_fresh_with_its_backfill(tmp_path):
    env = pinned_env(MONDAY_1100, frozen=True)
    proc = subprocess.run(
        simulator_start(f"sqlite:///{tmp_path / 'empty.db'}", dry_run=True),
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    args = shlex.split(proc.stdout)
    start = args[args.index("--start") + 1]
    assert clock.parse(start).at_s == instant_s(MONDAY_1100) - 8 * 3600
    assert "--then-live" in args and "--resume" not in args
    # A store it cannot read is an error, never a blind backfill.
    proc = subprocess.run(
        simulator_start("influxdb1://127.0.0.1:1/nope", dry_run=True),
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert proc.returncode == 1 and "simulator-start: error" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "--start" not in proc.stdout


def test_a_restarted_compose_simulator_goes_on_where_the_store_ends(tmp_path, two_hours_stored):
    store_url, cfg, stored_end, seqs, counts, meters = two_hours_stored
    ours = {st.id for _, st in cfg.stations()}
    env = pinned_env(MONDAY_1100)
    proc = subprocess.run(
        simulator_start(store_url, dry_run=True), capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    args = shlex.split(proc.stdout)
    # Not 8 h back (03:00, over the stored 08:00-10:00), but just after the plant's last
    # stored message (the other plant's later one does not count).
    assert clock.parse(args[args.index("--start") + 1]).at_s == (stored_end + 1) / 1000
    resume = json.loads(Path(args[args.index("--resume") + 1]).read_text())
    assert set(resume) == ours
    assert all(resume[m]["seq"] == seqs[m] for m in ours)

    # Really run: the simulator backfills 10:00-11:00 and goes live, every message new.
    out = tmp_path / "sim.jsonl"
    sim = subprocess.Popen(
        [*simulator_start(store_url, f"--jsonl={out}")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip

    def machines_seen() -> set[str]:
        text = out.read_text() if out.exists() else ""
        return {parse_topic(json.loads(line)["topic"]).machine for line in text.splitlines()[:-1]}

    try:
        wait_for(lambda: machines_seen() >= ours, 60, "messages of every machine")
    finally:
        sim.terminate()
        _, err = sim.communicate(timeout=30)
    assert sim.returncode == 0, err.decode()
    sent: dict[str, list[dict]] = {}
    for line in out.read_text().splitlines():
        msg = json.loads(line)
        sent.setdefault(parse_topic(msg["topic"]).machine, []).append(msg["payload"])
    for m in ours:
        got = [p for p in sent[m] if "seq" in p]
        assert [p["seq"] for p in got] == list(range(seqs[m] + 1, seqs[m] + 1 + len(got))), m
        assert all(p["ts"] > stored_end for p in sent[m]), m  # nothing over stored history
        for p in got:
            if "total" in p:
                assert p["total"] >= counts[m][1]["total"], m  # counters never step back
            if "energy_kwh" in p:
                assert p["energy_kwh"] >= meters[m][1]["energy_kwh"], m


def test_a_compose_simulator_restarted_behind_its_store_waits_for_the_clock(
    tmp_path, two_hours_stored
):
    """A store that holds the plant past the clock (left by an earlier run): the compose
    simulator still runs `--then-live`, so it warns and waits for the clock (docs/
    architecture.md, Time) instead of a time-lapse on its own clock that runs ahead of it."""
    store_url, cfg, stored_end, *_ = two_hours_stored
    # The clock an hour before the store's end (09:00; the store holds 08:00-10:00).
    at = datetime.fromtimestamp(stored_end / 1000 - 3600, ZoneInfo(cfg.plant.timezone))
    env = pinned_env(at.isoformat())
    proc = subprocess.run(
        simulator_start(store_url, dry_run=True), capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    args = shlex.split(proc.stdout)
    assert clock.parse(args[args.index("--start") + 1]).at_s == (stored_end + 1) / 1000
    assert "--then-live" in args and "--resume" in args

    out, err = tmp_path / "sim.jsonl", tmp_path / "sim.err"
    with err.open("wb") as errf:
        sim = subprocess.Popen(
            [*simulator_start(store_url, f"--jsonl={out}")],
            stdout=subprocess.DEVNULL, stderr=errf, env=env,
        )  # fmt: skip
        try:
            wait_for(lambda: "ahead of the clock" in err.read_text(), 60, "the ahead warning")
        finally:
            sim.terminate()
            sim.wait(30)
    assert sim.returncode == 0, err.read_text()
    # Waiting for the clock: nothing made after its start instant (its births there only).
    text = out.read_text() if out.exists() else ""
    assert all(
        json.loads(line)["payload"].get("ts", 0) <= stored_end + 1 for line in text.splitlines()
    )


def test_a_compose_simulator_hands_over_a_resume_beyond_one_arguments_limit(tmp_path):
    """A line with 1,500 open orders: its resume is far past the 128 KiB one command-line
    argument may hold on Linux (MAX_ARG_STRLEN; exec fails with E2BIG). It goes to the
    simulator in a file in the data folder, and the simulator really starts from it."""
    from bench.orders_plant import orders_data
    from shopfloor.config import parse_config

    data = orders_data()
    n = 1500
    data["orders"] = {
        "plan": [
            {"id": f"WO-{i:06d}", "product": "housing-a", "quantity": 50, "release_h": 0,
             "due_h": 48}
            for i in range(n)
        ]
    }  # fmt: skip
    big = parse_config(data, "plant.yaml with 1,500 planned orders")
    start_ms = int((instant_s(MONDAY_1100) - 3600) * 1000)
    sink = ListSink()
    run(big, sink, start_ms, 600)  # ten minutes: every order released, few started
    db = tmp_path / "s.db"
    store = SqliteStore(db)
    store.write([validate(t, orjson.dumps(p), 10**13, 10**12, 10**6) for t, p, _ in sink.messages])
    seqs = store.max_seq()
    store.close()
    cfg = load_config(ROOT / "config" / "plant.yaml")
    ours = {st.id for _, st in cfg.stations()}
    env = pinned_env(MONDAY_1100)
    store_url = f"sqlite:///{db}"

    proc = subprocess.run(
        simulator_start(store_url, dry_run=True), capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    args = shlex.split(proc.stdout)
    assert max(len(a.encode()) for a in args) < 4096  # no argument near the limit
    path = Path(args[args.index("--resume") + 1])
    assert path.parent == tmp_path and path.stat().st_size > 128 * 1024
    resume = json.loads(path.read_text())
    assert len(resume["cnc-01"]["orders"]["open"]) == n  # none finished in ten minutes
    assert all(resume[m]["seq"] == seqs[m] for m in ours)

    out, err = tmp_path / "sim.jsonl", tmp_path / "sim.err"
    with err.open("wb") as errf:
        sim = subprocess.Popen(
            [*simulator_start(store_url, f"--jsonl={out}")],
            stdout=subprocess.DEVNULL, stderr=errf, env=env,
        )  # fmt: skip

        def machines_seen() -> set[str]:
            text = out.read_text() if out.exists() else ""
            return {
                parse_topic(json.loads(line)["topic"]).machine for line in text.splitlines()[:-1]
            }

        try:
            wait_for(lambda: machines_seen() >= ours or sim.poll() is not None, 60, "every machine")
        finally:
            sim.terminate()
            sim.wait(30)
    assert sim.returncode == 0, err.read_text()
    assert "Traceback" not in err.read_text()
    first_seq: dict[str, int] = {}
    for line in out.read_text().splitlines():
        msg = json.loads(line)
        m = parse_topic(msg["topic"]).machine
        if "seq" in msg["payload"]:
            first_seq.setdefault(m, msg["payload"]["seq"])
    assert all(first_seq[m] == seqs[m] + 1 for m in ours), first_seq
