"""The dashboard is secure by default, tested as an attacker meets it: real HTTP against a real
`shopfloor dash` (served by waitress) with its Simulation page wired to a real broker.

Without credentials every route answers 401, and a POST to /_dash-update-component carrying a
breakdown publishes nothing on the plant's cmd topics. The same POST with credentials does
publish it: that is what shows the request is one the dashboard would act on.
"""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest

from dashboard import ids
from shopfloor.broker import free_port
from shopfloor.commands import cmd_topic
from shopfloor.config import load_config
from tests.support import MONDAY_1100, PLANT, Subscriber, cli, pinned_env, running_broker, wait_for

USER, PASSWORD = "plant", "s3cret-pw"
CFG = load_config(PLANT)
ENT, SITE = CFG.plant.enterprise, CFG.plant.site
LINE, STATION = next(iter(CFG.stations()))
MACHINE_CMD = cmd_topic(ENT, SITE, f"{LINE.area}/{LINE.id}/{STATION.id}")


def request(
    url: str, *, auth: tuple[str, str] | None = None, body: Any = None
) -> tuple[int, Message, bytes]:
    headers = {}
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def breakdown_post(machine: str, repair_min: float) -> dict[str, Any]:
    """What the browser sends when the Simulation page's breakdown button is pressed."""
    return {
        "output": f"{ids.SIM_RESULT}.children",
        "outputs": {"id": ids.SIM_RESULT, "property": "children"},
        "inputs": [
            {"id": ids.SIM_SPEED_GO, "property": "n_clicks", "value": None},
            {"id": ids.SIM_BREAKDOWN_GO, "property": "n_clicks", "value": 1},
            {"id": ids.SIM_PARAM_GO, "property": "n_clicks", "value": None},
        ],
        "changedPropIds": [f"{ids.SIM_BREAKDOWN_GO}.n_clicks"],
        "state": [
            {"id": ids.SIM_SPEED, "property": "value", "value": 60},
            {"id": ids.SIM_MACHINE, "property": "value", "value": machine},
            {"id": ids.SIM_REPAIR, "property": "value", "value": repair_min},
            {"id": ids.SIM_PARAM, "property": "value", "value": None},
            {"id": ids.SIM_VALUE, "property": "value", "value": None},
            {"id": ids.LANG, "property": "value", "value": "en"},
        ],
    }


@pytest.fixture
def dash_with_broker(tmp_path) -> Iterator[tuple[str, Subscriber]]:
    """A dashboard with credentials from the environment (as compose and the demo give them)
    and --broker; a subscriber to every cmd topic of the plant."""
    with running_broker() as broker:
        cmds = Subscriber(broker.port, "shopfloor/v1/#")
        port = free_port()
        env = {**pinned_env(MONDAY_1100), "SHOPFLOOR_DASH_AUTH": f"{USER}:{PASSWORD}"}
        proc = subprocess.Popen(
            cli("dash", "--store", f"sqlite:///{tmp_path / 's.db'}", "--config", str(PLANT),
                "--port", str(port), "--broker", broker.url),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:

            def up() -> bool:
                try:
                    return request(f"{url}/")[0] == 401
                except OSError:
                    return proc.poll() is not None  # died: the assertion below says how

            wait_for(up, 60, "the dashboard answers")
            assert proc.poll() is None, proc.communicate()[0].decode()
            yield url, cmds
        finally:
            proc.send_signal(signal.SIGTERM)
            out = proc.communicate(timeout=20)[0].decode()
            cmds.close()
        assert proc.returncode == 0, out  # SIGTERM (docker stop) is a clean stop
        assert "Traceback" not in out, out


def commands_seen(cmds: Subscriber) -> list[tuple[str, Any]]:
    return [(t, p) for t, p, _ in cmds.snapshot() if t.endswith("/cmd")]


def test_without_credentials_every_route_is_401_and_no_command_reaches_the_broker(
    dash_with_broker,
):
    url, cmds = dash_with_broker
    # The page with credentials: it loads, through waitress, and names its assets.
    status, headers, body = request(f"{url}/simulation", auth=(USER, PASSWORD))
    assert status == 200
    assert headers["Server"] == "waitress", dict(headers)
    suites = re.findall(r'src="(/_dash-component-suites/[^"]+)"', body.decode())
    assert suites, body[:2000]
    assert request(url + suites[0], auth=(USER, PASSWORD))[0] == 200
    routes = [
        "/",
        "/simulation",
        "/energy",
        "/_dash-layout",
        "/_dash-dependencies",
        "/_reload-hash",
        "/assets/style.css",
        suites[0],
        "/favicon.ico",
        "/no-such-page",
    ]
    wrong = [None, ("plant", "wrong"), ("other", PASSWORD), ("", "")]
    for route in routes:
        for creds in wrong:
            status, headers, body = request(url + route, auth=creds)
            assert status == 401, (route, creds, status, body[:200])
            assert headers.get("WWW-Authenticate", "").startswith("Basic"), (route, dict(headers))
            assert b"dash" not in body.lower(), (route, body[:200])  # nothing of the app

    # The attack: a breakdown of 600 minutes, posted as the page's callback.
    attack = breakdown_post(STATION.id, 600)
    for creds in wrong:
        status, _, body = request(f"{url}/_dash-update-component", auth=creds, body=attack)
        assert status == 401, (creds, status, body[:200])
    # Our own marker on a cmd topic, confirmed by the broker and seen by the subscriber: the
    # dashboard answered 401 before it, so anything it had published would be here already.
    marker = {"action": "marker", "id": "test-marker"}
    cmds.publish(MACHINE_CMD, marker)
    wait_for(lambda: (MACHINE_CMD, marker) in commands_seen(cmds), 10, "the marker")
    assert commands_seen(cmds) == [(MACHINE_CMD, marker)]

    # The same POST with credentials publishes the breakdown (no simulator answers it here).
    status, _, body = request(f"{url}/_dash-update-component", auth=(USER, PASSWORD), body=attack)
    assert status == 200, body[:500]

    def breakdown_sent() -> list[Any]:
        return [
            p
            for t, p in commands_seen(cmds)
            if isinstance(p, dict) and p.get("action") == "breakdown"
        ]

    sent = wait_for(breakdown_sent, 10, "the authenticated breakdown on the cmd topic")
    assert [t for t, p in commands_seen(cmds) if p in sent] == [MACHINE_CMD]
    assert sent[0]["repair_min"] == 600
