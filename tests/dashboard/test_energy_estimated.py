"""The Energy page marks a legacy machine's estimated energy as the overview does (found making
the README's pictures): the collector estimates the press's kWh from its power samples, and the
page's table showed them like a metered machine's."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest

from collector.validate import validate
from dashboard.i18n import t
from shopfloor.config import load_config
from shopfloor.store.base import Record
from shopfloor.store.sqlite import SqliteStore
from simulator.run import run
from simulator.sinks import ListSink
from tests.dashboard.test_browser_cards import as_collected

PLANT = Path(__file__).resolve().parents[2] / "config" / "plant.yaml"
START_MS = 1_795_366_800_000  # Monday 2026-11-23 00:00 +07:00
END_MS = START_MS + 86_400_000


def test_a_legacy_machines_estimated_energy_is_marked_in_both_languages(tmp_path, monkeypatch):
    import dashboard.data as data_mod
    from dashboard.app import create_app

    cfg = load_config(PLANT)
    sink = ListSink()
    truth = run(cfg, sink, START_MS, 86400).report
    store = SqliteStore(tmp_path / "s.db")
    recs = [validate(t, orjson.dumps(p), END_MS, 10**12, 10**6) for t, p, _ in sink.messages]
    store.write(as_collected(cfg, [r for r in recs if isinstance(r, Record)]))
    create_app(store, cfg, auth="plant:secret")
    page = sys.modules["pages.energy"]
    real = data_mod.energy
    monkeypatch.setattr(page, "energy", lambda ctx, kind: real(ctx, kind, now_s=END_MS / 1000))
    legacy = {st.id for _, st in cfg.stations() if st.connectivity == "legacy"}
    assert legacy == {"press-01"}
    for lang in ("en", "vi"):
        table = page.refresh(1, "last_24h", lang)[5]
        rows = {
            r.__dict__["data-machine"]: r.children[1].children
            for r in table.children[1].children
            if "data-machine" in r.__dict__
        }
        assert set(rows) == set(truth["machines"])
        for machine, cell in rows.items():
            if machine not in legacy:
                assert isinstance(cell, str), machine  # metered: the number alone
                continue
            mark, number = cell
            assert mark.className == "estimated-mark"
            assert mark.title == t("estimated.title", lang)
            # The estimate is the press's: near what the simulator says it drew.
            kwh = float(number.replace(".", "").replace(",", ".") if lang == "vi" else number)
            assert kwh == pytest.approx(truth["machines"][machine]["energy_kwh"], rel=0.05)
