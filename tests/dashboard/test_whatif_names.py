"""A scenario's name is free text from an uploaded file (and every page of the dashboard sees
the newest experiment): the What-if figures show it as typed, never as Plotly markup (found
by the cold review of issue 11)."""

from __future__ import annotations

import json

from dashboard import whatif_figures as wf
from tests.support import GOLDEN, run_cli

NAME = "<a href='https://example.com'>click</a> & <b>bold</b><br>x"


def test_a_scenario_name_with_markup_is_drawn_as_typed(tmp_path):
    sc = tmp_path / "sc.yaml"
    sc.write_text(
        json.dumps({"scenarios": [{"name": NAME, "set": {"stations.press-01.mttr_min": 5}}]})
    )
    r = run_cli("whatif", "--config", str(GOLDEN), "--scenarios", str(sc), "--duration", "2h",
                "--warmup", "0", "--replications", "2", "--workers", "1", "--no-progress",
                "--json", str(tmp_path / "out.json"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["scenarios"][1]["name"] == NAME
    shown = "&lt;a href='https://example.com'&gt;click&lt;/a&gt; &amp; &lt;b&gt;bold&lt;/b&gt;&lt;br&gt;x"
    bars = wf.scenario_bars(doc, "throughput_per_h", "en")
    assert list(bars.data[0].x)[1] == shown
    diffs = wf.paired_diffs(doc, "throughput_per_h", "en")
    assert list(diffs.data[0].y) == [shown]
    for fig in (bars, diffs):
        text = json.dumps(fig.to_plotly_json()["data"])
        assert "<a " not in text and "<b>" not in text
