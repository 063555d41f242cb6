"""The stroke meter (issue 12, simulator/meter.py) on the demo plant's legacy press: one shift
A of config/plant.yaml with `meter:` on press-01, against the simulator's ground truth.

- The cycles counted from its 1 s samples (collector/cycles.py) are within 1% of the parts
  the press really made.
- Its samples are window means of the exact meter: their integral is its true energy, and
  the strokes add energy the truth books.
- Nothing else changes: every other machine sends the same stream as without the meter, and
  the meter's birth announces what the collector needs.
"""

from __future__ import annotations

import copy
from itertools import pairwise

import pytest

from collector.cycles import count_cycles, thresholds
from shopfloor.config import load_config, parse_config
from shopfloor.config.load import read_yaml
from simulator.run import run
from simulator.sinks import ListSink
from tests.support import PLANT

SHIFT_A_MS = 1_795_388_400_000  # Monday 2026-11-23 06:00 in Ho Chi Minh City
SHIFT_S = 8 * 3600
PRESS = "press-01"
METER = {"stroke_kw": 60.0, "stroke_s": 1.5}  # as the commented example in config/plant.yaml


def metered_plant(**meter: float) -> dict:
    data = copy.deepcopy(read_yaml(PLANT))
    (st,) = [st for line in data["lines"] for st in line["stations"] if st["id"] == PRESS]
    assert st["connectivity"] == "legacy"
    st["meter"] = {**METER, **meter}
    return data


def running_kw() -> float:
    (st,) = [st for _, st in load_config(PLANT).stations() if st.id == PRESS]
    return float(st.power_kw.running)


def shift(data: dict) -> tuple[dict, list[tuple[str, dict, bool]]]:
    sink = ListSink()
    res = run(parse_config(data), sink, SHIFT_A_MS, SHIFT_S)
    return res.report, sink.messages


@pytest.fixture(scope="module")
def metered():
    return shift(metered_plant(sample_s=1))


def press_samples(messages) -> list[tuple[int, float]]:
    return [(p["ts"], p["power_kw"]) for t, p, _ in messages if t.endswith(f"/{PRESS}/telemetry")]


def test_counted_cycles_within_1_percent_at_1_s(metered):
    report, messages = metered
    samples = press_samples(messages)
    assert len(samples) == SHIFT_S  # one a second, from its own sampler
    assert [b - a for (a, _), (b, _) in pairwise(samples)] == [1000] * (SHIFT_S - 1)
    high, low = thresholds(running_kw(), METER["stroke_kw"], METER["stroke_s"], 1.0)
    counted = count_cycles([kw for _, kw in samples], high, low)
    truth = report["machines"][PRESS]["total_count"]
    print(f"\npress cycles at 1 s: counted {counted}, truth {truth}")
    assert truth > 400  # ~40 s cycles over a shift
    assert counted == pytest.approx(truth, rel=0.01)


def test_samples_integrate_to_the_true_energy(metered):
    report, messages = metered
    samples = press_samples(messages)
    kwh = sum((a + b) / 2 * (t1 - t0) / 3_600_000 for (t0, a), (t1, b) in pairwise(samples))
    truth = report["machines"][PRESS]["energy_kwh"]
    assert kwh == pytest.approx(truth, rel=0.005)
    # The strokes draw more than the running load alone: the truth books them.
    plain, _ = shift(read_yaml(PLANT))
    extra = truth - plain["machines"][PRESS]["energy_kwh"]
    strokes = report["machines"][PRESS]["total_count"]
    per_stroke = (METER["stroke_kw"] - running_kw()) * METER["stroke_s"] / 3600
    assert extra == pytest.approx(strokes * per_stroke, rel=0.02)


def test_other_machines_send_the_same_stream(metered):
    _, messages = metered
    _, plain = shift(read_yaml(PLANT))

    def others(msgs):
        return [(t, p) for t, p, _ in msgs if f"/{PRESS}/" not in t]

    assert others(messages) == others(plain)


def test_birth_announces_the_meter(metered):
    _, messages = metered
    (birth,) = [p for t, p, _ in messages if t.endswith(f"/{PRESS}/status") and p["online"]]
    assert birth["meter"] == METER
    assert birth["sample_interval_s"] == 1
    _, plain = shift(read_yaml(PLANT))
    (birth,) = [p for t, p, _ in plain if t.endswith(f"/{PRESS}/status") and p["online"]]
    assert "meter" not in birth and birth["sample_interval_s"] == 10


def test_sample_interval_defaults_to_the_plants():
    _, messages = shift(metered_plant())
    samples = press_samples(messages)
    assert {b - a for (a, _), (b, _) in pairwise(samples)} == {10_000}


def test_the_commented_example_in_the_demo_config_is_this_meter(tmp_path):
    text = PLANT.read_text()
    line = "        # meter: {sample_s: 1, stroke_kw: 60, stroke_s: 1.5}\n"
    assert text.count(line) == 1
    (tmp_path / "plant.yaml").write_text(text.replace(line, line.replace("# ", "", 1)))
    (st,) = [st for _, st in load_config(tmp_path / "plant.yaml").stations() if st.meter]
    assert st.id == PRESS and st.meter is not None
    assert (st.meter.sample_s, st.meter.stroke_kw, st.meter.stroke_s) == (
        1,
        METER["stroke_kw"],
        METER["stroke_s"],
    )
