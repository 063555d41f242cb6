"""Per-machine sequence bookkeeping: duplicates are dropped, gaps (lost upstream) are counted."""

from __future__ import annotations

MAX_MISSING = 1_000  # holes remembered per machine (for late arrivals); more are still counted


class SeqTracker:
    def __init__(self, known: dict[str, int] | None = None):
        self.highest: dict[str, int] = dict(known or {})
        self.missing: dict[str, set[int]] = {}
        self.duplicates: dict[str, int] = {}
        self.gaps_total: dict[str, int] = {}

    def observe(self, machine: str, seq: int) -> bool:
        """True if the message is new (store it); False for a duplicate."""
        top = self.highest.get(machine, 0)
        if seq > top:
            if seq > top + 1 and top > 0:
                holes = self.missing.setdefault(machine, set())
                self.gaps_total[machine] = self.gaps_total.get(machine, 0) + (seq - top - 1)
                if len(holes) + (seq - top - 1) <= MAX_MISSING:
                    holes.update(range(top + 1, seq))
            self.highest[machine] = seq
            return True
        holes = self.missing.get(machine)
        if holes and seq in holes:  # late, not lost after all
            holes.discard(seq)
            self.gaps_total[machine] -= 1
            return True
        self.duplicates[machine] = self.duplicates.get(machine, 0) + 1
        return False

    def restart(self, machine: str) -> None:
        """A new birth: the publisher may have restarted its sequence."""
        self.highest.pop(machine, None)
        self.missing.pop(machine, None)

    def gaps(self, machine: str) -> int:
        return self.gaps_total.get(machine, 0)
