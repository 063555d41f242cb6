"""Brownfield machines: state inferred from a clamp-on power meter.

A `connectivity: legacy` machine publishes only power_kw. Its birth message carries the power
it draws in each state, and each sample is put in the state whose power is nearest (states
that draw the same power are one band: the first of running, idle, off, down, setup wins).
The collector stores these as state changes marked inferred.
"""

from __future__ import annotations

from shopfloor.store.base import Record

BAND_ORDER = ("running", "idle", "off", "down", "setup")


class PowerStates:
    def __init__(self) -> None:
        self.bands: dict[str, list[tuple[float, str]]] = {}
        self.current: dict[str, str] = {}

    def learn(self, machine: str, power_kw: dict[str, float]) -> None:
        seen: dict[float, str] = {}
        for state in BAND_ORDER:
            if state in power_kw:
                seen.setdefault(float(power_kw[state]), state)
        self.bands[machine] = sorted(seen.items())
        self.current.pop(machine, None)

    def is_legacy(self, machine: str) -> bool:
        return machine in self.bands

    def classify(self, machine: str, power_kw: float) -> str:
        return min(self.bands[machine], key=lambda b: abs(b[0] - power_kw))[1]

    def infer(self, sample: Record) -> Record | None:
        """A state record when the sample shows a new state, else None."""
        state = self.classify(sample.machine, float(sample.payload["power_kw"]))
        if self.current.get(sample.machine) == state:
            return None
        self.current[sample.machine] = state
        return Record(
            sample.enterprise, sample.site, sample.area, sample.line, sample.machine, "state",
            sample.ts, sample.seq, {"state": state, "reason": "inferred from power"}, inferred=True,
        )  # fmt: skip
