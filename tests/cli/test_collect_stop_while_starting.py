"""`shopfloor collect` told to stop while it is still starting (a demo or compose stopping it
right after its start) stops cleanly with exit 0, never killed by the signal (-15).

The signal is sent at a known moment of the start, the store just opened, from inside the
process (its open_store wrapped): a real collector on a real Mosquitto and SQLite, only the
moment of the stop is chosen."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.support import PLANT, ROOT, running_broker

STOPPED_WHILE_STARTING = textwrap.dedent(
    """
    import os, signal, sys
    import shopfloor.store as store

    opened = store.open_store

    def open_then_stop(*args, **kwargs):
        got = opened(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)
        return got

    store.open_store = open_then_stop
    from shopfloor.cli.main import main
    sys.exit(main(sys.argv[1:]))
    """
)


def test_a_stop_while_the_collector_starts_is_a_clean_stop(tmp_path):
    with running_broker("mosquitto") as broker:
        proc = subprocess.run(
            [sys.executable, "-c", STOPPED_WHILE_STARTING, "collect", "--broker", broker.url,
             "--store", f"sqlite:///{tmp_path / 's.db'}", "--config", str(PLANT),
             "--metrics-port", "0"],
            capture_output=True, text=True, timeout=120, cwd=ROOT,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "collector stopped: received=0" in proc.stderr and "Traceback" not in proc.stderr
