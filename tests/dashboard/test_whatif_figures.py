"""The What-if page's figures (dashboard/whatif_figures.py) against the experiment they draw:
documents written by the real `shopfloor whatif` on the golden plant. Each bar is the JSON's
mean, each whisker its 95 % interval, a paired difference is coloured by its own significance
and direction, and the tornado puts the largest swing on top."""

from __future__ import annotations

import json

import pytest

from dashboard import whatif_figures as wf
from tests.support import GOLDEN, run_cli

SCENARIOS = """scenarios:
  - name: slow press
    set:
      stations.press-01.cycle_s.mean: 80
  - name: pack sweep
    set:
      stations.pack-01.cycle_s: [40.5, 41]
"""


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("whatif-figures")
    (tmp / "sc.yaml").write_text(SCENARIOS)
    common = ("--config", str(GOLDEN), "--duration", "1d", "--warmup", "0", "--replications",
              "3", "--workers", "1", "--no-progress")  # fmt: skip
    a = run_cli(
        "whatif", *common, "--scenarios", str(tmp / "sc.yaml"), "--json", str(tmp / "a.json")
    )
    assert a.returncode == 0, a.stderr
    b = run_cli(
        "whatif", *common, "--sensitivity", "20", "--json", str(tmp / "b.json"), timeout=300
    )
    assert b.returncode == 0, b.stderr
    return json.loads((tmp / "a.json").read_text()), json.loads((tmp / "b.json").read_text())


def test_bars_are_the_means_with_their_intervals(docs):
    doc, _ = docs
    for metric, scale in (("throughput_per_h", 1), ("oee", 100), ("kwh_per_good", 1)):
        fig = wf.scenario_bars(doc, metric, "en")
        bar = fig.data[0]
        figs = [sc["plant"]["figures"][metric] for sc in doc["scenarios"]]
        # The baseline by its name on the page; names the CLI made from keys, in words.
        assert list(bar.x) == [
            "Baseline (as configured)",
            "slow press",
            "pack sweep (pack-01 · Cycle time (s) = 40.5)",
            "pack sweep (pack-01 · Cycle time (s) = 41)",
        ]
        assert [sc["name"] for sc in doc["scenarios"]][2] == "pack sweep (pack-01.cycle_s=40.5)"
        assert list(bar.y) == pytest.approx([f["mean"] * scale for f in figs])
        assert list(bar.error_y.array) == pytest.approx(
            [(f["ci_high"] - f["mean"]) * scale for f in figs]
        )
        assert list(bar.error_y.arrayminus) == pytest.approx(
            [(f["mean"] - f["ci_low"]) * scale for f in figs]
        )
        assert bar.marker.color[0] == wf.BASELINE_COLOR
        assert set(bar.marker.color[1:]) == {wf.SCENARIO_COLOR}
    assert "Throughput" in wf.scenario_bars(doc, "throughput_per_h", "en").layout.title.text


def test_paired_differences_are_marked_by_their_own_interval(docs):
    doc, _ = docs
    fig = wf.paired_diffs(doc, "throughput_per_h", "en")
    bar = fig.data[0]
    others = [sc for sc in doc["scenarios"] if not sc["baseline"]]
    diffs = [sc["vs_baseline"]["plant"]["figures"]["throughput_per_h"] for sc in others]
    assert list(bar.y) == [wf.scenario_label(sc, "en") for sc in others]
    assert list(bar.x) == pytest.approx([d["mean"] for d in diffs])
    assert list(bar.error_x.array) == pytest.approx([d["ci_high"] - d["mean"] for d in diffs])
    # A press 54 % slower loses output for sure (the interval lies below 0): red and marked.
    slow = diffs[0]
    assert slow["significant"] and slow["ci_high"] < 0
    assert bar.marker.color[0] == wf.WORSE_COLOR and bar.text[0].endswith(" *")
    for d, color, text in zip(diffs, bar.marker.color, bar.text, strict=True):
        assert text.endswith(" *") == d["significant"]
        if not d["significant"]:
            assert color == wf.UNSURE_COLOR
    # kWh per good part: lower is better, so a rise is the worse direction.
    kwh = wf.paired_diffs(doc, "kwh_per_good", "en").data[0]
    d = others[0]["vs_baseline"]["plant"]["figures"]["kwh_per_good"]
    if d["significant"]:
        assert kwh.marker.color[0] == (wf.WORSE_COLOR if d["mean"] > 0 else wf.BETTER_COLOR)


def test_tornado_ranks_the_largest_swing_first(docs):
    _, sens = docs
    assert sens["kind"] == "sensitivity"
    fig = wf.tornado(sens, "throughput_per_h", "en")
    low, high = fig.data
    ranking = sorted(sens["sensitivity"]["ranking"], key=lambda r: r["rank_throughput"])[:15]
    swings = [r["throughput_per_h"]["swing"] for r in ranking]
    assert swings == sorted(swings, reverse=True)
    assert len(low.y) == len(ranking)
    assert low.y[0].startswith(ranking[0]["station"] + " · ")
    assert "Mean cycle time (s)" in " ".join(low.y)  # parameters by name, not by key
    for trace, side in ((low, "low"), (high, "high")):
        expected = [(r["throughput_per_h"][side] or {}).get("mean") for r in ranking]
        assert list(trace.x) == pytest.approx(expected)
    assert "20" in low.name and "−" in low.name and "+" in high.name
    # Ranked by kWh per good part on request.
    kwh = wf.tornado(sens, "kwh_per_good", "en").data[0]
    first = min(sens["sensitivity"]["ranking"], key=lambda r: r["rank_kwh_per_good"])
    assert kwh.y[0].startswith(first["station"] + " · ")


def test_figures_in_vietnamese(docs):
    doc, sens = docs
    fig = wf.scenario_bars(doc, "oee", "vi")
    assert fig.layout.separators == ",."
    assert fig.layout.title.text.startswith("OEE của nhà máy theo kịch bản")
    diff = wf.paired_diffs(doc, "throughput_per_h", "vi")
    assert "Thay đổi so với cơ sở" in diff.layout.xaxis.title.text
    assert any("," in s for s in diff.data[0].text if "." not in s)  # 1 decimal, comma
    assert "Máy nào trước?" in wf.tornado(sens, "throughput_per_h", "vi").layout.title.text
