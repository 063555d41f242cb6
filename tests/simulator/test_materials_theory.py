"""Raw material against inventory theory (issue 12; simulator/materials.py).

The setting: one line of one station that makes a part every c = 60 s exactly (no failures,
no scrap, no shifts), each part using one unit of a material kept under a continuous-review
(s, Q) policy, s = 20 and Q = 100, from a perfectly reliable supplier whose lead time L is
exponential with mean mu = 30 min.

Since Q > s, at most one order is ever outstanding: an order is placed at the take that
brings the position (on hand plus on order) down to s, so on hand is exactly s then; the
position can fall to s again only after Q more units are taken, and before the delivery there
are only s of them. So every replenishment cycle starts with s units on hand and nothing on
order. Those s units feed the takes at c, 2c, ..., sc after the order; the next take, at
(s + 1) c, finds the shelf empty unless the delivery came first. A cycle therefore has a
stock-out exactly when L > (s + 1) c, and since L is exponential:

    P(stock-out in a cycle) = exp(-a),  a = (s + 1) c / mu            (= exp(-0.7) = 0.497)

and the line then waits L - (s + 1) c, whose mean given a stock-out is mu again (the
exponential is memoryless), so E[wait per cycle] = mu exp(-a). A cycle (order to order) lasts
the Q takes' Q c of production plus the wait, so by the renewal-reward theorem the share of
time the line is starved for material is

    share = mu exp(-a) / (Q c + mu exp(-a))                           (= 0.1297)

Cycles are independent (each starts from the same state), so the simulated stock-out share
over n cycles has standard error sqrt(p (1 - p) / n); the test allows 4 of them. The time
share is compared over 8 independent replications of 40 days (about 500 cycles each) within
4 standard errors of their mean, the standard error estimated from the replications.
"""

from __future__ import annotations

import math
import statistics

import pytest
import simpy

from shopfloor.config.load import parse_config
from simulator.plant import Plant
from simulator.sinks import NullSink

C_S = 60.0
S = 20
Q = 100
MU_S = 1800.0
DAYS = 40
REPLICATIONS = 8


def _config(seed: int, supplier: dict | None = None) -> dict:
    return {
        "plant": {"enterprise": "acme", "site": "theory"},
        "seed": seed,
        # Telemetry rarely: the sampler's events would only cost time here.
        "telemetry": {"sample_interval_s": 86400, "energy_interval_s": 86400},
        "suppliers": [
            supplier
            or {"id": "steelco", "lead_time_h": {"mean": MU_S / 3600, "dist": "exponential"}}
        ],
        "materials": [
            {
                "id": "steel",
                "supplier": (supplier or {"id": "steelco"})["id"],
                "initial": S + Q,
                "reorder_point": S,
                "reorder_qty": Q,
            }
        ],
        "lines": [
            {
                "id": "L1",
                "area": "a",
                "materials": {"steel": 1},
                "stations": [
                    {"id": "m1", "ideal_cycle_s": C_S, "power_kw": {"running": 5, "idle": 1}}
                ],
            }
        ],
    }


def _run(cfg_dict: dict, days: float = DAYS) -> Plant:
    env = simpy.Environment()
    plant = Plant(env, parse_config(cfg_dict), NullSink(), start_ms=1_700_000_000_000)
    env.run(until=days * 86400)
    plant.close()
    return plant


def test_stock_out_share_matches_the_s_q_model():
    a = (S + 1) * C_S / MU_S
    p_theory = math.exp(-a)
    share_theory = MU_S * p_theory / (Q * C_S + MU_S * p_theory)

    cycles = stockouts = 0
    shares = []
    for seed in range(REPLICATIONS):
        plant = _run(_config(seed))
        st = plant.lines["L1"][0]
        inv = plant.supplies["L1"].inventories["steel"]
        came = [d for d in inv.deliveries if d.arrived_s is not None]
        # One outstanding order at a time, as the formula assumes.
        assert len(inv.deliveries) - len(came) <= 1
        cycles += len(came)
        stockouts += sum(d.found_waiting for d in came)
        total_s = sum(st.durations_s.values())
        starved = st.loss_s[("starved", "no material: steel")]
        assert starved == st.durations_s["starved"]  # the only cause here
        shares.append(starved / total_s)

    p_sim = stockouts / cycles
    se = math.sqrt(p_theory * (1 - p_theory) / cycles)
    assert cycles > 3000
    assert abs(p_sim - p_theory) < 4 * se, (p_sim, p_theory, se)

    mean_share = statistics.fmean(shares)
    se_share = statistics.stdev(shares) / math.sqrt(len(shares))
    assert abs(mean_share - share_theory) < max(4 * se_share, 0.005), (
        mean_share,
        share_theory,
        se_share,
    )


def test_late_and_short_shares_and_the_lead_time_are_the_suppliers():
    """A supplier's reliability: its late and short shares are what the deliveries show
    (binomial, 4 standard errors), a short one brings short_fraction of the order, and the
    on-time lead times have the configured mean (CLT, 4 standard errors)."""
    supplier = {
        "id": "flaky",
        "lead_time_h": {"mean": 0.5, "dist": "exponential"},
        "late_share": 0.2,
        "late_h": 2,
        "short_share": 0.1,
        "short_fraction": 0.4,
    }
    plant = _run(_config(3, supplier), days=120)
    came = [
        d for d in plant.supplies["L1"].inventories["steel"].deliveries if d.arrived_s is not None
    ]
    n = len(came)
    assert n > 1000
    for share, got in ((0.2, sum(d.late for d in came)), (0.1, sum(d.short for d in came))):
        assert abs(got / n - share) < 4 * math.sqrt(share * (1 - share) / n), (got, n, share)
    assert all(d.delivered == int(Q * 0.4) for d in came if d.short)
    assert all(d.delivered == Q for d in came if not d.short)
    on_time = [d.lead_time_s for d in came if not d.late]
    mean = statistics.fmean(on_time)
    assert abs(mean - 1800) < 4 * 1800 / math.sqrt(len(on_time)), mean
    late = [d.lead_time_s for d in came if d.late]
    # A late delivery comes after the lead time plus an exponential delay of mean late_h.
    assert abs(statistics.fmean(late) - (1800 + 7200)) < 4 * math.hypot(1800, 7200) / math.sqrt(
        len(late)
    )


def test_a_products_materials_replace_its_lines():
    """With products (issue 12, orders), each part draws its product's bill: ten parts of X
    take ten units of x and none of y; then ten of Y take y, whose five units on hand and a
    constant one-hour lead time leave the line starved for y for an hour less the cycles that
    the five covered (minus the order's own placement at the fifth take)."""
    cfg = _config(0)
    cfg["suppliers"] = [{"id": "local", "lead_time_h": 1}]
    cfg["materials"] = [
        {"id": "x", "supplier": "local", "initial": 100, "reorder_point": 0, "reorder_qty": 1},
        {"id": "y", "supplier": "local", "initial": 5, "reorder_point": 0, "reorder_qty": 5},
    ]
    cfg["lines"][0]["materials"] = {"x": 3}  # the line's bill, replaced by each product's
    cfg["products"] = [
        {"id": "X", "line": "L1", "materials": {"x": 1}},
        {"id": "Y", "line": "L1", "materials": {"y": 1}},
    ]
    cfg["orders"] = {
        "plan": [
            {"id": "WO-1", "product": "X", "quantity": 10, "release_h": 0, "due_h": 24},
            {"id": "WO-2", "product": "Y", "quantity": 10, "release_h": 0, "due_h": 24},
        ]
    }
    plant = _run(cfg, days=1)
    st = plant.lines["L1"][0]
    inv = plant.supplies["L1"].inventories
    assert st.good == 20
    assert inv["x"].level == 90 and inv["x"].deliveries == []
    # y: 5 on hand, 5 ordered at the fifth Y part's take (position 0) and again at the tenth.
    assert [d.qty for d in inv["y"].deliveries] == [5, 5]
    assert inv["y"].level == 5
    # The fifth Y part is taken at 14 c; the sixth wants y at 15 c; the delivery comes at
    # 14 c + 1 h.
    assert st.loss_s[("starved", "no material: y")] == pytest.approx(3600 - C_S, abs=1e-6)


def test_a_part_needing_more_than_the_reorder_point_still_gets_it():
    """s = 0, Q = 3 and 5 units a part: on hand (3) sits above s with nothing on order, yet
    below what a part needs; the line orders until enough is coming instead of waiting for
    ever. Constant one-hour lead time: each part waits for two deliveries' worth."""
    cfg = _config(0)
    cfg["suppliers"] = [{"id": "local", "lead_time_h": 1}]
    cfg["materials"] = [
        {"id": "x", "supplier": "local", "initial": 0, "reorder_point": 0, "reorder_qty": 3}
    ]
    cfg["lines"][0]["materials"] = {"x": 5}
    plant = _run(cfg, days=1)
    st = plant.lines["L1"][0]
    assert st.good > 20
    inv = plant.supplies["L1"].inventories["x"]
    # 3 units per order, 5 per part: every unit ordered went into a part or is on hand or due.
    came = sum(d.delivered for d in inv.deliveries if d.arrived_s is not None)
    assert came == 5 * st.received + inv.level
