"""The compose stack's InfluxDB retention (issue 15): the raw bucket's retention and the rollup
bucket's, the collectors told the same (so they find the buckets as wanted and change
nothing), least-privilege tokens for both buckets and the DBRP mappings the stores read
through. Resolved by docker-compose itself with .env.example (no Docker engine here)."""

from __future__ import annotations

import re
import subprocess

import yaml

from shopfloor.store.influxql import ROLLUP_RP
from shopfloor.store.retention import Retention
from tests.compose.test_compose import COMPOSE, CONF, DOCKER_COMPOSE, ENV_EXAMPLE, needs_compose
from tests.support import ROOT


def resolved(*profiles: str) -> dict:
    args = [a for p in profiles for a in ("--profile", p)]
    proc = subprocess.run(
        [DOCKER_COMPOSE, "-f", str(COMPOSE), "--env-file", str(ENV_EXAMPLE), *args, "config"],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    return yaml.safe_load(proc.stdout)


@needs_compose
def test_the_buckets_keep_what_the_collectors_are_told():
    for profile in ((), ("sharded",)):
        services = resolved(*profile)["services"]
        influx = services["influxdb"]["environment"]
        raw, rollups = influx["DOCKER_INFLUXDB_INIT_RETENTION"], influx["INFLUXDB_ROLLUP_RETENTION"]
        assert (raw, rollups) == ("30d", "400d")
        wanted = Retention.parse(raw, rollups)  # values `shopfloor collect` takes
        assert wanted.raw_s == 30 * 86400 and wanted.rollup_s == 400 * 86400
        collectors = [s for s in services.values() if s.get("command", [None])[0] == "collect"]
        assert collectors, profile
        for svc in collectors:
            assert svc["environment"]["SHOPFLOOR_RETENTION"] == raw
            assert svc["environment"]["SHOPFLOOR_ROLLUP_RETENTION"] == rollups
            store = next(a for a in svc["command"] if a.startswith("--store="))
            assert "rollup_bucket" not in store  # the default: <bucket>-rollups, as the init


def test_the_init_script_makes_the_rollup_bucket_tokens_and_mappings():
    script = (CONF / "influxdb-init.sh").read_text().replace("\\\n", " ")
    assert re.search(
        r'bucket create .*--name "\$DOCKER_INFLUXDB_INIT_BUCKET-rollups"'
        r' .*--retention "\$\{INFLUXDB_ROLLUP_RETENTION:-400d\}"',
        script,
    )
    auths = {
        m.group(1): m.group(2)
        for m in re.finditer(r'auth create .*?--description "shopfloor (\w+)"(.*?)--json', script)
    }
    grants = {
        who: sorted(re.findall(r"--(read|write)-bucket \"\$(\w+)\"", flags))
        for who, flags in auths.items()
    }
    assert grants == {
        "collector": [("read", "bucket"), ("read", "rollups"), ("write", "bucket"), ("write", "rollups")],
        "dashboard": [("read", "bucket"), ("read", "rollups")],
    }  # fmt: skip
    dbrps = re.findall(r'dbrp create .*?--bucket-id "\$(\w+)" .*?--rp (\w+)', script)
    assert dbrps == [("bucket", "autogen"), ("rollups", ROLLUP_RP)]
