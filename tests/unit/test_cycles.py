"""Cycles counted from a legacy machine's power waveform (issue 12): the counter on synthetic
waveforms whose strokes are known, the collector's count readings, and the config's key paths.

The synthetic meter integrates an exact piecewise-constant power (base load, strokes, stops)
over each sample window and adds the simulator's relative noise, so the counter is judged
against the strokes that were drawn, not against itself."""

from __future__ import annotations

import copy
import random

import pytest

from collector.cycles import CycleCounter, count_cycles, thresholds
from collector.legacy import PowerStates
from shopfloor.config import ConfigError, parse_config
from shopfloor.store.base import Record

RUNNING, IDLE, STROKE, STROKE_S = 22.0, 4.0, 60.0, 1.5


def waveform(
    seed: int, sample_s: float, hours: float = 8.0, stop_share: float = 0.1
) -> tuple[list[float], int]:
    """Window-mean samples of a press running ~40 s cycles, each starting with a stroke,
    with an idle stop (1-20 s) before a `stop_share` of its cycles; and the strokes drawn."""
    rng = random.Random(seed)
    segs: list[tuple[float, float, float]] = []  # (start_s, end_s, kW)
    t, strokes, end = 0.0, 0, hours * 3600.0
    while t < end:
        if rng.random() < stop_share:
            stop = rng.uniform(1.0, 20.0)
            segs.append((t, t + stop, IDLE))
            t += stop
        cycle = rng.lognormvariate(0, 0.05) * 40.0
        segs.append((t, t + STROKE_S, STROKE))
        segs.append((t + STROKE_S, t + cycle, RUNNING))
        strokes += 1
        t += cycle
    samples, i, w0 = [], 0, 0.0
    while w0 + sample_s <= t:
        w1, kwh = w0 + sample_s, 0.0
        while segs[i][1] <= w0:
            i += 1
        j = i
        while j < len(segs) and segs[j][0] < w1:
            a, b, kw = segs[j]
            kwh += kw * (min(b, w1) - max(a, w0))
            j += 1
        noise = 1.0 + 0.04 * (rng.random() + rng.random() + rng.random() - 1.5)
        samples.append(kwh / sample_s * noise)
        w0 = w1
    # Strokes that start in the last partial window are not sampled.
    return samples, sum(1 for a, _, kw in segs if kw == STROKE and a < w0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_stroke_counted_at_1_s(seed):
    samples, strokes = waveform(seed, 1.0)
    assert strokes > 650  # an 8-hour shift of ~40 s cycles
    high, low = thresholds(RUNNING, STROKE, STROKE_S, 1.0)
    assert count_cycles(samples, high, low) == pytest.approx(strokes, rel=0.01)


@pytest.mark.parametrize("seed", [1, 2])
def test_without_stops_a_split_stroke_is_still_seen_at_10_s(seed):
    # A stroke split across two 10 s windows leaves at least half its rise in one of them,
    # above the 0.3 threshold; only stops (mixed windows) hide strokes at slow sampling.
    samples, strokes = waveform(seed, 10.0, stop_share=0.0)
    high, low = thresholds(RUNNING, STROKE, STROKE_S, 10.0)
    assert count_cycles(samples, high, low) == pytest.approx(strokes, rel=0.01)


def test_accuracy_falls_with_slower_sampling():
    counted = {}
    for sample_s in (1.0, 5.0, 30.0):
        samples, strokes = waveform(4, sample_s, stop_share=0.5)
        counted[sample_s] = count_cycles(samples, *thresholds(RUNNING, STROKE, STROKE_S, sample_s))
    assert counted[1.0] == pytest.approx(strokes, rel=0.01)
    assert counted[30.0] < counted[5.0] < counted[1.0]


def test_running_without_strokes_counts_nothing():
    rng = random.Random(5)
    samples = [
        RUNNING * (1 + 0.04 * (rng.random() + rng.random() + rng.random() - 1.5))
        for _ in range(20_000)
    ]
    samples += [IDLE] * 100 + [0.0] * 100
    assert count_cycles(samples, *thresholds(RUNNING, STROKE, STROKE_S, 1.0)) == 0


def test_hysteresis_counts_a_peak_once():
    high, low = thresholds(RUNNING, STROKE, STROKE_S, 1.0)
    assert low < high
    # A peak dipping below the high threshold but not the low one, then a second peak after
    # the load fell back: two cycles, not three.
    between = (high + low) / 2
    samples = [RUNNING, high + 1, between, high + 5, RUNNING, high, RUNNING]
    assert count_cycles(samples, high, low) == 2
    counter = CycleCounter(high, low, total=41)
    assert [counter.feed(kw) for kw in samples] == [False, True, False, False, False, True, False]
    assert counter.total == 43


def sample(ts: int, seq: int, kw: float) -> Record:
    return Record("e", "s", "a", "l", "press-01", "telemetry", ts, seq, {"power_kw": kw})


def test_collector_adds_a_counted_reading_per_cycle():
    bands = {"off": 0.0, "idle": IDLE, "running": RUNNING}
    ps = PowerStates()
    ps.learn("press-01", bands, 1.0, {"stroke_kw": STROKE, "stroke_s": STROKE_S})
    kws = [RUNNING, 50.0, 40.0, RUNNING, RUNNING, 55.0, RUNNING]
    counts = []
    for i, kw in enumerate(kws):
        for rec in ps.infer(sample(1000 * (i + 1), i + 1, kw)):
            if rec.channel == "count":
                assert rec.inferred and rec.seq == i + 1 and rec.ts == 1000 * (i + 1)
                counts.append(rec.payload)
    assert counts == [
        {"total": 1, "good": 1, "scrap": 0},
        {"total": 2, "good": 2, "scrap": 0},
    ]
    # A new birth (the meter restarted) goes on counting; a late sample counts nothing.
    ps.learn("press-01", bands, 1.0, {"stroke_kw": STROKE, "stroke_s": STROKE_S})
    assert ps.infer(sample(500, 99, 55.0)) == []
    out = ps.infer(sample(9000, 8, 55.0))
    assert [r.payload for r in out if r.channel == "count"] == [{"total": 3, "good": 3, "scrap": 0}]


def test_collector_counts_nothing_without_a_stroke_meter():
    ps = PowerStates()
    ps.learn("press-01", {"idle": IDLE, "running": RUNNING}, 1.0)
    recs = [r for i in range(5) for r in ps.infer(sample(1000 * (i + 1), i + 1, 60.0))]
    assert recs and not [r for r in recs if r.channel == "count"]


def test_collector_goes_on_from_the_stores_count():
    ps = PowerStates()
    ps.counted["press-01"] = 120
    ps.learn("press-01", {"idle": IDLE, "running": RUNNING}, 1.0, {"stroke_kw": 60, "stroke_s": 1})
    out = ps.infer(sample(1000, 1, 60.0))
    assert [r.payload["total"] for r in out if r.channel == "count"] == [121]


# -- config ----------------------------------------------------------------------------------


def legacy_config(base_config, **meter):
    data = copy.deepcopy(base_config)
    st = data["lines"][0]["stations"][0]
    st["connectivity"] = "legacy"
    st["meter"] = meter
    return data, st


def errors_of(data) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    return exc.value.errors


def test_meter_config_is_read(base_config):
    data, st = legacy_config(base_config, sample_s=1, stroke_kw=60, stroke_s=1.5)
    st["power_kw"] = {"idle": 4, "running": 22}
    meter = parse_config(data).lines[0].stations[0].meter
    assert meter is not None and (meter.sample_s, meter.stroke_kw, meter.stroke_s) == (1, 60, 1.5)


def test_meter_errors_name_their_key_path(base_config):
    data, _ = legacy_config(base_config, stroke_kw=60, stroke_s=1.5, rate_s=1)
    assert any(e.startswith("lines[0].stations[0].meter.rate_s:") for e in errors_of(data))
    data, _ = legacy_config(base_config, stroke_s=1.5)
    assert errors_of(data) == ["lines[0].stations[0].meter.stroke_kw: required key is missing"]
    data, _ = legacy_config(base_config, stroke_kw=60, stroke_s=1.5, sample_s=0)
    assert [e.split(":")[0] for e in errors_of(data)] == ["lines[0].stations[0].meter.sample_s"]


def test_meter_cross_key_rules(base_config):
    data, st = legacy_config(base_config, stroke_kw=1, stroke_s=9999)
    st["power_kw"] = {"idle": 4, "running": 22}
    st["connectivity"] = "full"
    errs = errors_of(data)
    paths = sorted(e.split(":")[0] for e in errs)
    assert paths == [
        "lines[0].stations[0].meter",
        "lines[0].stations[0].meter.stroke_kw",
        "lines[0].stations[0].meter.stroke_s",
    ], errs
    assert any("connectivity: legacy" in e for e in errs)


def test_samples_before_the_birth_are_counted_when_it_comes():
    # A restarted collector: its broker session hands it the samples kept while it was away
    # before the retained birth that says what stroke to look for.
    ps = PowerStates()
    ps.learn("press-01", {"idle": IDLE, "running": RUNNING})  # bands from the store
    ps.counted["press-01"] = 50  # the store's count
    kws = [RUNNING, 55.0, RUNNING, 58.0, RUNNING]
    early = [r for i, kw in enumerate(kws) for r in ps.infer(sample(1000 * (i + 1), i + 1, kw))]
    assert early and not [r for r in early if r.channel == "count"]
    waited = ps.learn(
        "press-01", {"idle": IDLE, "running": RUNNING}, 1.0, {"stroke_kw": 60, "stroke_s": 1.5}
    )
    assert [(r.channel, r.ts, r.seq, r.payload["total"], r.inferred) for r in waited] == [
        ("count", 2000, 2, 51, True),
        ("count", 4000, 4, 52, True),
    ]
    # The counter goes on from the waited samples: re-armed by the last, a peak counts once.
    out = ps.infer(sample(6000, 6, 60.0)) + ps.infer(sample(7000, 7, 57.0))
    assert [r.payload["total"] for r in out if r.channel == "count"] == [53]
