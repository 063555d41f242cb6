"""The supply keys of the plant config (issue 12): every mistake named by its key path."""

from __future__ import annotations

import pytest

from shopfloor.config import ConfigError, parse_config


def errors_of(data) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    return exc.value.errors


def with_supply(base: dict) -> dict:
    base["suppliers"] = [
        {"id": "steelco", "lead_time_h": {"mean": 8, "dist": "exponential"}, "late_share": 0.1,
         "late_h": 4, "short_share": 0.05},
        {"id": "local", "lead_time_h": 2},
    ]  # fmt: skip
    base["materials"] = [
        {"id": "steel", "supplier": "steelco", "initial": 200, "reorder_point": 50,
         "reorder_qty": 150},
        {"id": "paint", "supplier": "local", "schedule": {"every_h": 24, "qty": 300}},
    ]  # fmt: skip
    base["lines"][0]["materials"] = {"steel": 2, "paint": 1}
    return base


def test_a_valid_supply(base_config):
    cfg = parse_config(with_supply(base_config))
    steelco, local = cfg.suppliers
    assert (steelco.lead_time_h.mean, steelco.lead_time_h.dist) == (8, "exponential")
    # A bare number is a constant lead time.
    assert (local.lead_time_h.mean, local.lead_time_h.dist) == (2, "constant")
    assert cfg.materials[1].schedule is not None and cfg.materials[1].schedule.qty == 300
    assert cfg.lines[0].materials == {"steel": 2, "paint": 1}


def test_without_supply_keys_nothing_changes(base_config):
    cfg = parse_config(base_config)
    assert cfg.suppliers == [] and cfg.materials == [] and cfg.lines[0].materials is None


@pytest.mark.parametrize(
    ("edit", "want"),
    [
        (
            lambda c: c["suppliers"][0].update(late_share=1.5),
            "suppliers[0].late_share: must be <= 1, got 1.5",
        ),
        (
            lambda c: c["suppliers"][0].pop("late_h"),
            "suppliers[0].late_h: required when late_share is above 0",
        ),
        (
            lambda c: c["suppliers"][0].update(short_share=0.95),
            "suppliers[0].short_share: late_share + short_share is 1.05, at most 1 (a delivery "
            "is on time, late or short)",
        ),
        (
            lambda c: c["suppliers"][0]["lead_time_h"].update(dist="lognormal"),
            "suppliers[0].lead_time_h.cv: required when dist is lognormal",
        ),
        (
            lambda c: c["suppliers"][0]["lead_time_h"].update(cv=0.5),
            "suppliers[0].lead_time_h.cv: only a lognormal lead time has a cv (exponential)",
        ),
        (
            lambda c: (
                c["suppliers"][1].update(id="steelco"),
                c["materials"][1].update(supplier="steelco"),
            ),
            "suppliers[1].id: duplicate supplier id 'steelco'",
        ),
        (
            lambda c: c["materials"][0].update(supplier="nobody"),
            "materials[0].supplier: unknown supplier 'nobody' (suppliers: local, steelco)",
        ),
        (
            lambda c: c["materials"][0].pop("reorder_qty"),
            "materials[0].reorder_qty: required with reorder_point",
        ),
        (
            lambda c: c["materials"][0].update(schedule={"every_h": 8, "qty": 10}),
            "materials[0].schedule: give a schedule or reorder_point and reorder_qty, not both",
        ),
        (
            lambda c: c["materials"][1].pop("schedule"),
            "materials[1]: needs a reorder policy: reorder_point and reorder_qty, or schedule",
        ),
        (
            lambda c: c["materials"][0].update(reorder_qty=0),
            "materials[0].reorder_qty: must be >= 1, got 0",
        ),
        (
            lambda c: c["lines"][0]["materials"].update(wood=1),
            "lines[0].materials.wood: unknown material 'wood' (materials: paint, steel)",
        ),
        (
            lambda c: c["materials"][1]["schedule"].update(every_h=0),
            "materials[1].schedule.every_h: must be > 0, got 0",
        ),
    ],
)
def test_mistakes_are_named_by_key_path(base_config, edit, want):
    data = with_supply(base_config)
    edit(data)
    assert errors_of(data) == [want]


def test_unknown_supplier_key_suggests_the_right_one(base_config):
    data = with_supply(base_config)
    data["suppliers"][0]["late_share_pct"] = 5
    (err,) = errors_of(data)
    assert err.startswith("suppliers[0].late_share_pct: unknown key")
    assert "late_share" in err


@pytest.mark.parametrize("orders", [False, True])
def test_the_demo_plants_materials_example_is_valid(orders):
    """config/plant.yaml's commented example, switched on as bench/supply_plant.py does (with
    and without the orders example): it validates and names both policies."""
    from bench.supply_plant import supply_plant

    cfg = supply_plant(orders=orders)
    policies = {m.id: (m.reorder_point, m.schedule is not None) for m in cfg.materials}
    assert policies == {"aluminium-bar": (400, False), "pp-granulate": (None, True)}
    assert {s.id for s in cfg.suppliers} == {"hoa-phat-metal", "binh-duong-resin"}
    assert bool(cfg.products) is orders
