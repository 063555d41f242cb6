"""Maintenance and wear (issue 12) against theory: Weibull lives given age, the MTBF of
wear-dependent failures, block replacement by preventive maintenance, precursors that start
their lead before each failure, tool wear's scrap curve, and SPC flagging the drift before the
scrap peaks. Every figure comes from the simulator's ground truth and its messages."""

from __future__ import annotations

import bisect
import math
import random
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shopfloor import pdm, spc
from shopfloor.config import ConfigError, load_config, parse_config
from shopfloor.config.maintenance import KIND_FAILURES, KIND_VALUES, PM_REASON
from shopfloor.config.schema import Telemetry
from shopfloor.contract import parse_topic
from simulator.kinds import KINDS
from simulator.maintenance import weibull_remaining, weibull_scale

from .helpers import RARE_SAMPLES, START_MS, plant, simulate, simulate_messages, station

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAY_S = 86400.0


def weibull_cdf(t: float, scale: float, shape: float) -> float:
    return 1.0 - math.exp(-((t / scale) ** shape))


def ks_distance(sample: list[float], cdf: Any) -> float:
    xs = sorted(sample)
    n = len(xs)
    return max(max((i + 1) / n - cdf(x), cdf(x) - i / n) for i, x in enumerate(xs))


def lifetimes(failures: list[dict[str, Any]]) -> list[float]:
    """Running time between failures of a lone 24/7 station: it is running or down only."""
    out = []
    back_ms = START_MS
    for f in failures:
        out.append((f["start_ms"] - back_ms) / 1000.0)
        back_ms = f["start_ms"] + f["repair_s"] * 1000.0
    return out


# -- the kernel's name lists ----------------------------------------------------------------


def test_the_kernels_names_are_the_simulators():
    assert set(KIND_VALUES) == set(KINDS) == set(KIND_FAILURES)
    for kind, spec in KINDS.items():
        assert KIND_VALUES[kind] == tuple(pv.name for pv in spec.values)
        assert KIND_FAILURES[kind] == tuple(mode for mode, _ in spec.failure_modes)


# -- Weibull given age ------------------------------------------------------------------------


def test_shape_one_is_the_exponential_whatever_the_age():
    for age in (0.0, 10.0, 5000.0):
        for u in (1.0, 0.7, 0.01, 1e-9):
            assert weibull_remaining(age, 300.0, 1.0, u) == pytest.approx(-300.0 * math.log(u))


def test_remaining_life_is_the_conditional_weibull():
    # P(T > a + t | T > a) = S(a + t) / S(a), checked at several t with a binomial CLT bound.
    rng = random.Random(5)
    scale, shape, age, n = 100.0, 2.5, 80.0, 20000
    draws = [weibull_remaining(age, scale, shape, 1.0 - rng.random()) for _ in range(n)]
    assert min(draws) >= 0.0
    for t in (10.0, 30.0, 60.0):
        p = math.exp(-(((age + t) / scale) ** shape) + (age / scale) ** shape)
        got = sum(1 for d in draws if d > t) / n
        assert abs(got - p) < 4.0 * math.sqrt(p * (1 - p) / n), (t, got, p)


@pytest.mark.parametrize("shape", [1.0, 3.0])
def test_simulated_mtbf_is_the_weibull_mean(shape):
    mtbf_min = 120.0
    cfg = plant(
        [
            station(
                "m1",
                mtbf_min=mtbf_min,
                mttr_min=10,
                maintenance={"weibull_shape": shape},
            )
        ]
    )
    r = simulate(cfg, 120 * DAY_S).report["machines"]["m1"]
    lives = lifetimes(r["maintenance"]["failures"])
    n = len(lives)
    assert n > 1000
    scale = weibull_scale(mtbf_min * 60.0, shape)
    mean = scale * math.gamma(1.0 + 1.0 / shape)
    sd = scale * math.sqrt(math.gamma(1.0 + 2.0 / shape) - math.gamma(1.0 + 1.0 / shape) ** 2)
    got = sum(lives) / n
    assert abs(got - mean) < 4.0 * sd / math.sqrt(n), (got, mean)
    # The whole distribution, not just the mean (Kolmogorov-Smirnov at the 1% level).
    assert ks_distance(lives, lambda t: weibull_cdf(t, scale, shape)) < 1.63 / math.sqrt(n)
    # The running books agree: every second of running time belongs to some life.
    tail = r["running_s"] - sum(lives)
    assert 0.0 <= tail == pytest.approx(r["maintenance"]["wear_h"] * 3600.0, abs=0.01)


def test_without_maintenance_the_stream_draws_nothing_new():
    # The same station without the key and with weibull_shape 1 draw their failures from
    # different streams; without the key the run is the plain model's (golden file).
    plain = plant([station("m1", mtbf_min=60, mttr_min=5)])
    r = simulate(plain, 2 * DAY_S).report["machines"]["m1"]
    assert "maintenance" not in r


# -- preventive maintenance -------------------------------------------------------------------


def renewal_function(t_s: float, scale: float, shape: float, steps: int = 1500) -> float:
    """M(t), the expected failures in running time t of a unit renewed at each failure:
    M = F + M * f, solved on a grid."""
    h = t_s / steps
    cdf = [weibull_cdf(i * h, scale, shape) for i in range(steps + 1)]
    dens = [cdf[j] - cdf[j - 1] for j in range(1, steps + 1)]
    m = [0.0] * (steps + 1)
    for i in range(1, steps + 1):
        m[i] = cdf[i] + sum(m[i - j] * dens[j - 1] for j in range(1, i + 1))
    return m[steps]


def test_preventive_maintenance_every_n_running_hours_is_block_replacement():
    mtbf_min, shape, every_h, pm_min = 600.0, 3.0, 8.0, 30.0
    cfg = plant(
        [
            station(
                "m1",
                mtbf_min=mtbf_min,
                mttr_min=10,
                maintenance={
                    "weibull_shape": shape,
                    "every_running_h": every_h,
                    "duration_min": pm_min,
                },
            )
        ]
    )
    result, messages = simulate_messages(cfg, 150 * DAY_S)
    r = result.report["machines"]["m1"]
    pms = r["maintenance"]["preventive_maintenance"]
    fails = r["maintenance"]["failures"]
    run_h = r["running_s"] / 3600.0
    # One maintenance per 8 running hours (the last interval may be under way).
    assert len(pms) == int(run_h // every_h) or len(pms) == int(run_h // every_h) - 1
    # Each is planned_stop "preventive maintenance" for its duration, outside planned time.
    pm_states = [p for t, p, _ in messages if t.endswith("/state") and p["reason"] == PM_REASON]
    assert len(pm_states) == len(pms)
    assert all(p["state"] == "planned_stop" for p in pm_states)
    assert all(w["end_ms"] - w["start_ms"] == pm_min * 60000 for w in pms)
    assert r["planned_stop_s"] == pytest.approx(len(pms) * pm_min * 60.0)
    assert r["planned_s"] == pytest.approx(150 * DAY_S - r["planned_stop_s"])
    # Failures per interval: the Weibull renewal function at the interval (block replacement).
    scale = weibull_scale(mtbf_min * 60.0, shape)
    per = renewal_function(every_h * 3600.0, scale, shape)
    want = per * run_h / every_h
    assert abs(len(fails) - want) < 4.0 * math.sqrt(want), (len(fails), want)
    # Far fewer than running each machine to failure (run_h / MTBF).
    assert len(fails) < 0.6 * run_h * 60.0 / mtbf_min


def test_calendar_maintenance_starts_at_the_next_part_after_its_time():
    cfg = plant(
        [
            station(
                "m1",
                ideal_cycle_s=60,
                maintenance={"at": [{"start": "13:00", "days": ["sat"]}], "duration_min": 45},
            )
        ]
    )
    r = simulate(cfg, 14 * DAY_S).report["machines"]["m1"]
    pms = r["maintenance"]["preventive_maintenance"]
    assert len(pms) == 2
    for w in pms:
        local = datetime.fromtimestamp(w["start_ms"] / 1000.0, TZ)
        at = local.replace(hour=13, minute=0, second=0, microsecond=0)
        assert local.weekday() == 5
        assert 0.0 <= (local - at).total_seconds() <= 60.0
    assert r["planned_stop_s"] == pytest.approx(2 * 45 * 60.0)


def test_calendar_maintenance_of_an_idle_line_runs_at_its_time_not_with_the_next_order():
    # Monday 02:00, the line idle (no order until 04:00): the machine waits at a part
    # boundary, so the 30 min of maintenance fit in the idle time and cost the order nothing.
    h = 3600.0
    cfg = plant(
        [
            station(
                "s1",
                maintenance={"at": [{"start": "02:00", "days": ["mon"]}], "duration_min": 30},
            ),
            station("s2"),
        ],
        products=[{"id": "A", "line": "l1"}],
        orders={"plan": [{"id": "o1", "product": "A", "quantity": 3, "release_h": 4, "due_h": 6}]},
    )
    res, msgs = simulate_messages(cfg, 8 * h)
    m = res.report["machines"]["s1"]["maintenance"]
    assert m["preventive_maintenance"] == [
        {"start_ms": START_MS + 2 * 3_600_000, "end_ms": START_MS + 2 * 3_600_000 + 1_800_000}
    ]
    s1 = [(p["ts"], p["state"]) for t, p, _ in msgs if t.endswith("/s1/state")]
    assert [s for _, s in s1][:4] == ["idle", "planned_stop", "idle", "running"]
    assert s1[3][0] == START_MS + 4 * 3_600_000  # the order starts at its release
    # s2 waits for s1, which has no order before and after its maintenance: idle until the
    # order starts, then starved for s1's first part.
    s2 = [(p["ts"], p["state"]) for t, p, _ in msgs if t.endswith("/s2/state")]
    assert s2[:2] == [(START_MS, "idle"), (START_MS + 4 * 3_600_000, "starved")]
    # Three parts of 60 s ideal cycle (cv 0) through two stations after the release.
    (o,) = res.report["orders"]["orders"]
    assert o["finish_ms"] - START_MS < 4 * 3_600_000 + 10 * 60_000


# -- precursors -------------------------------------------------------------------------------


def replay(messages: list[tuple[str, dict[str, Any], bool]], machine: str) -> list[Any]:
    """(channel, payload, state at that point of the stream) of one machine, in order."""
    out = []
    state = None
    for topic, payload, _ in messages:
        parts = parse_topic(topic)
        if parts is None or parts.machine != machine:
            continue
        if parts.channel == "state":
            state = payload["state"]
        out.append((parts.channel, payload, state))
    return out


@pytest.fixture(scope="module")
def precursor_run():
    cfg = plant(
        [
            station(
                "cnc-1",
                kind="cnc",
                ideal_cycle_s=45,
                mtbf_min=240,
                mttr_min=20,
                maintenance={
                    "weibull_shape": 2.0,
                    "precursors": {
                        "spindle_overload": {
                            "value": "vibration_mm_s",
                            "drift": 3.0,
                            "lead_min": 60,
                        }
                    },
                },
            )
        ],
        telemetry={"sample_interval_s": 60, "energy_interval_s": 3600},
    )
    result, messages = simulate_messages(cfg, 40 * DAY_S)
    return result.report["machines"]["cnc-1"], replay(messages, "cnc-1")


def running_s_between(changes: list[tuple[int, str]], a_ms: float, b_ms: float) -> float:
    """Running seconds in [a, b) from (ts, state) changes in time order."""
    total = 0.0
    i = max(0, bisect.bisect_right(changes, (a_ms, "~")) - 1)
    for (t, s), (t2, _) in zip(changes[i:], [*changes[i + 1 :], (math.inf, "")], strict=True):
        if t >= b_ms:
            break
        if s == "running":
            total += max(0.0, min(t2, b_ms) - max(t, a_ms)) / 1000.0
    return total


def test_each_failure_with_a_precursor_has_it_start_its_lead_before(precursor_run):
    r, stream = precursor_run
    fails = r["maintenance"]["failures"]
    with_pre = [f for f in fails if f["reason"] == "spindle_overload"]
    assert len(with_pre) > 20
    assert all(f["precursor_start_ms"] is not None for f in with_pre)
    assert all(f["precursor_start_ms"] is None for f in fails if f["reason"] != "spindle_overload")
    changes = [(p["ts"], p["state"]) for ch, p, _ in stream if ch == "state"]
    back_ms = START_MS
    full = 0
    for f in fails:
        if f["reason"] == "spindle_overload":
            pre = f["precursor_start_ms"]
            assert back_ms - 1 <= pre <= f["start_ms"]
            run = running_s_between(changes, pre, f["start_ms"])
            # Not armed at the renewal (the repair's end, to the ms): the whole lead lies
            # before the failure.
            if pre > back_ms + 1:
                full += 1
                assert run == pytest.approx(3600.0, abs=0.01)
            else:
                assert run <= 3600.0 + 0.01
        back_ms = f["start_ms"] + f["repair_s"] * 1000.0
    assert full > 10


def test_the_precursors_value_drifts_before_the_failure(precursor_run):
    r, stream = precursor_run
    windows = [
        (f["precursor_start_ms"], f["start_ms"])
        for f in r["maintenance"]["failures"]
        if f["precursor_start_ms"] is not None
    ]
    inside, late, outside = [], [], []
    for ch, p, state in stream:
        if ch != "telemetry" or state != "running":
            continue
        ts = p["ts"]
        w = next(((a, b) for a, b in windows if a < ts < b), None)
        if w is None:
            outside.append(p["vibration_mm_s"])
        else:
            inside.append(p["vibration_mm_s"])
            if ts > w[1] - 600_000:
                late.append(p["vibration_mm_s"])
    # Running vibration is 2.8 mm/s; in the last 10 minutes before a failure the drift has
    # reached over 5/6 of its 3.0 (less where the lead was cut short by a renewal).
    assert abs(sum(outside) / len(outside) - 2.8) < 0.02
    assert sum(late) / len(late) - 2.8 > 2.0
    assert 0.8 < sum(inside) / len(inside) - 2.8 < 2.2


def test_a_threshold_model_scored_against_the_truth(precursor_run):
    """What a user does with the truth: run a model on the stream, score its alarms. A plain
    threshold on running vibration (the noise stays within 0.75 of 2.8 mm/s) warns of most
    spindle overloads, raises no false alarm, and warns before the failure."""
    r, stream = precursor_run
    alarms = [
        p["ts"]
        for ch, p, state in stream
        if ch == "telemetry" and state == "running" and p["vibration_mm_s"] > 3.8
    ]
    s = pdm.score(alarms, r["maintenance"]["failures"])
    assert s.failures > 20
    assert s.recall > 0.8
    assert s.precision == 1.0
    assert s.mean_lead_s is not None and 0 < s.mean_lead_s < 3600


def test_drifts_cut_short_by_maintenance_are_in_the_truth_and_score_as_true():
    """Maintenance every 2 running hours renews a machine whose 60 min precursor often
    already drifts: those drifts show in the stream with no failure after them. Every
    alarm of the threshold model (the noise stays within 0.75 of 2.8 mm/s, so a value
    above 3.8 is a drift) must lie in a drift of the truth, and the cut ones end where a
    maintenance starts."""
    cfg = plant(
        [
            station(
                "cnc-1",
                kind="cnc",
                ideal_cycle_s=45,
                mtbf_min=240,
                mttr_min=20,
                maintenance={
                    "weibull_shape": 2.0,
                    "every_running_h": 2,
                    "duration_min": 20,
                    "precursors": {
                        "spindle_overload": {
                            "value": "vibration_mm_s",
                            "drift": 3.0,
                            "lead_min": 60,
                        }
                    },
                },
            )
        ],
        telemetry={"sample_interval_s": 60, "energy_interval_s": 3600},
    )
    result, messages = simulate_messages(cfg, 20 * DAY_S)
    m = result.report["machines"]["cnc-1"]["maintenance"]
    stream = replay(messages, "cnc-1")
    drifts = m["precursor_drifts"]
    cut = [d for d in drifts if d["ended"] == "maintenance"]
    pm_starts = {w["start_ms"] for w in m["preventive_maintenance"]}
    assert len(cut) > 5
    assert all(d["end_ms"] in pm_starts and d["reason"] == "spindle_overload" for d in cut)
    failed = {(d["start_ms"], d["end_ms"]) for d in drifts if d["ended"] == "failure"}
    assert failed == {
        (f["precursor_start_ms"], f["start_ms"])
        for f in m["failures"]
        if f["precursor_start_ms"] is not None
    }
    alarms = [
        p["ts"]
        for ch, p, state in stream
        if ch == "telemetry" and state == "running" and p["vibration_mm_s"] > 3.8
    ]
    in_cut = [a for a in alarms if any(d["start_ms"] <= a <= d["end_ms"] for d in cut)]
    assert len(in_cut) > 5  # real anomalies no failure followed
    s = pdm.score(alarms, m["failures"], drifts)
    assert s.precision == 1.0
    assert s.cut_drifts >= len(cut) and s.cut_warned > 0
    assert pdm.score(alarms, m["failures"]).precision < 1.0  # what the failures alone gave


# -- tool wear --------------------------------------------------------------------------------

N_PARTS = 1000


def tool_wear_run(drift: float) -> tuple[dict[str, Any], list[Any]]:
    cfg = plant(
        [
            station(
                "cnc-1",
                kind="cnc",
                ideal_cycle_s=45,
                scrap_rate=0.01,
                tool_wear={
                    "value": "vibration_mm_s",
                    "drift": drift,
                    "change_every_parts": N_PARTS,
                    "change_min": 5,
                    "scrap_rate_worn": 0.3,
                },
            )
        ],
        telemetry={"sample_interval_s": 10},
    )
    result, messages = simulate_messages(cfg, 8 * DAY_S)
    return result.report["machines"]["cnc-1"], replay(messages, "cnc-1")


@pytest.fixture(scope="module")
def tool_run():
    return tool_wear_run(1.5)


def test_tool_changes_are_setups_every_n_parts(tool_run):
    r, stream = tool_run
    changes = [p for ch, p, _ in stream if ch == "state" and p["reason"] == "tool change"]
    assert all(p["state"] == "setup" for p in changes)
    assert len(changes) == r["maintenance"]["tool_changes"] >= 14
    assert r["total_count"] // N_PARTS - 1 <= len(changes) <= r["total_count"] // N_PARTS
    assert r["setup_s"] == pytest.approx(len(changes) * 300.0)


def test_scrap_rises_with_wear_as_configured(tool_run):
    r, stream = tool_run
    n = r["total_count"]
    base, worn = 0.01, 0.3
    mean_w2 = (N_PARTS - 1) * (2 * N_PARTS - 1) / (6 * N_PARTS**2)
    p = base + (worn - base) * mean_w2
    assert abs(r["scrap_count"] / n - p) < 4.0 * math.sqrt(p * (1 - p) / n)
    # Scrap of the first and the last quarter of each tool's life.
    counts = [(q["total"], q["scrap"]) for ch, q, _ in stream if ch == "count"]
    first = last = 0
    prev_scrap = 0
    for total, scrap in counts[1:]:
        k = (total - 1) % N_PARTS
        if k < N_PARTS // 4:
            first += scrap - prev_scrap
        elif k >= 3 * N_PARTS // 4:
            last += scrap - prev_scrap
        prev_scrap = scrap
    assert last > 5 * first


def first_flags(stream: list[Any]) -> list[float | None]:
    """Per whole tool life: where (as a fraction of the life) an I-MR chart of 10-minute
    means of running vibration, limits from its first 20 points, first breaks a Western
    Electric rule after them; None if it never does."""
    changes = [(p["ts"], p["state"]) for ch, p, _ in stream if ch == "state"]
    samples = [(p["ts"], p["vibration_mm_s"]) for ch, p, _ in stream if ch == "telemetry"]
    running = spc.running_only(samples, changes)
    # A life runs from the end of one tool change to the start of the next.
    ends = [changes[i + 1][0] for i, (_, s) in enumerate(changes[:-1]) if s == "setup"]
    starts = [ts for ts, s in changes if s == "setup"][1:]
    out: list[float | None] = []
    for a, b in zip(ends, starts, strict=False):
        points = spc.bucket_means([x for x in running if a <= x[0] < b], 600_000)
        chart = spc.imr([v for _, v in points], baseline=20)
        first = chart.first_flag(start=chart.baseline)
        out.append(None if first is None else (points[first][0] - a) / (b - a))
    return out


def test_spc_flags_the_tool_wear_drift_before_scrap_peaks(tool_run):
    """Scrap peaks at the tool change (wear squared); the drift is flagged in the first
    point after the baseline, at about a quarter of the life, where scrap has risen by under
    a tenth of its rise. A tool that does not drift (the same station, drift 0) is flagged
    that early in few lives: the flags are the drift's, not the rules' false alarms."""
    drifting = first_flags(tool_run[1])
    assert len(drifting) >= 13
    assert all(f is not None and f < 0.3 for f in drifting), drifting
    steady = first_flags(tool_wear_run(0.0)[1])
    assert len(steady) == len(drifting)
    assert sum(1 for f in steady if f is not None and f < 0.3) <= len(steady) // 3, steady


# -- config errors ----------------------------------------------------------------------------


def config_errors(**keys: Any) -> list[str]:
    st = station("c1", kind="cnc", **keys)
    data = {
        "plant": {"enterprise": "e", "site": "s"},
        "lines": [{"id": "l", "area": "a", "stations": [st]}],
    }
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    return exc.value.errors


def test_bad_maintenance_keys_are_named_by_key_path():
    p = "lines[0].stations[0]"
    assert config_errors(maintenance={"weibull_shape": 0}) == [
        f"{p}.maintenance.weibull_shape: must be >= 0.2, got 0"
    ]
    assert config_errors(maintenance={"weibull_shape": 2}) == [
        f"{p}.maintenance.weibull_shape: needs mtbf_min (failures)"
    ]
    errs = config_errors(maintenance={"every_running_h": 8})
    assert errs == [f"{p}.maintenance: duration_min is required with every_running_h or at"]
    errs = config_errors(maintenance={"at": [{"start": "25:00"}], "duration_min": 5})
    assert len(errs) == 1 and errs[0].startswith(f"{p}.maintenance.at[0].start:")
    errs = config_errors(
        mtbf_min=100,
        mttr_min=5,
        maintenance={"precursors": {"die_jam": {"value": "oil_temp_c", "drift": 1, "lead_min": 5}}},
    )
    assert errs == [
        f"{p}.maintenance.precursors.die_jam: cnc has no failure mode 'die_jam' (known: "
        "tool_breakage, spindle_overload, axis_alarm, coolant_fault, door_interlock)",
        f"{p}.maintenance.precursors.die_jam.value: cnc has no process value 'oil_temp_c' "
        "(known: spindle_temp_c, vibration_mm_s)",
    ]
    errs = config_errors(
        tool_wear={
            "value": "vibration_mm_s",
            "drift": 1,
            "change_every_parts": 0,
            "change_min": 5,
            "scrap_rate_worn": 1.5,
        }
    )
    assert errs == [
        f"{p}.tool_wear.change_every_parts: must be >= 1, got 0",
        f"{p}.tool_wear.scrap_rate_worn: must be <= 1, got 1.5",
    ]
    errs = config_errors(maintenance={"every_running_h": 8, "duration_min": 5, "typo": 1})
    assert len(errs) == 1 and errs[0].startswith(f"{p}.maintenance.typo:")


def test_the_commented_example_in_plant_yaml_is_valid_and_runs(tmp_path):
    root = Path(__file__).resolve().parents[2]
    text = (root / "config" / "plant.yaml").read_text(encoding="utf-8")
    a = text.index("        # maintenance:")
    b = text.index("      - id: cnc-02")
    block = [
        ln[:8] + ln[10:] if ln.startswith("        # ") else ln for ln in text[a:b].split("\n")
    ]
    path = tmp_path / "plant.yaml"
    path.write_text(text[:a] + "\n".join(block) + text[b:], encoding="utf-8")
    cfg = load_config(path)
    st = cfg.lines[0].stations[0]
    assert st.maintenance is not None and st.tool_wear is not None
    cfg = cfg.model_copy(update={"telemetry": Telemetry(**RARE_SAMPLES)})
    r = simulate(cfg, 7 * DAY_S).report["machines"][st.id]
    # Saturday 13:00 falls in shift A: one calendar maintenance, plus one per 40 running hours.
    pms = r["maintenance"]["preventive_maintenance"]
    assert len(pms) >= 2
    assert r["maintenance"]["tool_changes"] == pytest.approx(r["total_count"] / 400, abs=1)
