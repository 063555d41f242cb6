"""Per-machine sequence bookkeeping (docs/architecture.md, Sequence numbers and duplicates):
duplicates are dropped, gaps (lost upstream) are counted, and a seq no honest publisher could
have sent yet is quarantined instead of becoming the machine's highest.

Rules, all per machine:
- A machine with no known history (neither in the store nor seen) takes its first seq as is.
- A seq above the highest, by at most `max_jump`, is new; the numbers skipped count as a gap.
- A seq more than `max_jump` above the highest is quarantined: not stored, not the new
  highest, so one forged or corrupt seq (10**9) cannot make every genuine later message look
  like a duplicate. If the publisher really jumped, it keeps counting from there: `confirm`
  quarantined seqs in a row, each above the last and within `confirm_window` of it, accept the
  jump (the last one is new, everything skipped is a gap, the quarantined ones included since
  they were not stored).
- A seq that fills a remembered hole is a late arrival: stored, and the gap goes down.
- Anything else is a duplicate. Deduplication is never reset: a birth (`restart`) records a
  new run but forgets neither the highest seq nor the holes, so a forged birth followed by old
  seqs stores nothing, and gaps lost before a birth stay counted after it.
"""

from __future__ import annotations

from typing import Literal

MAX_MISSING = 1_000  # holes remembered per machine (for late arrivals); more are still counted
MAX_JUMP = 100_000  # a seq further ahead of the highest than this is quarantined
CONFIRM = 10  # quarantined seqs in a row that make a jump believable
CONFIRM_WINDOW = 1_000  # ... each at most this far above the one before

Verdict = Literal["new", "duplicate", "late", "quarantine"]


class SeqTracker:
    def __init__(
        self,
        known: dict[str, int] | None = None,
        *,
        max_jump: int = MAX_JUMP,
        confirm: int = CONFIRM,
        confirm_window: int = CONFIRM_WINDOW,
    ):
        self.highest: dict[str, int] = dict(known or {})
        self.missing: dict[str, set[int]] = {}
        self.duplicates: dict[str, int] = {}
        self.gaps_total: dict[str, int] = {}
        self.quarantined: dict[str, int] = {}
        self.births: dict[str, int] = {}
        self.max_jump = max_jump
        self.confirm = max(1, confirm)
        self.confirm_window = confirm_window
        # Per machine: the quarantined seqs in a row that might yet confirm a jump.
        self._ahead: dict[str, list[int]] = {}

    def classify(self, machine: str, seq: int) -> Verdict:
        """Judges one sequenced message and records the verdict: "new" and "late" are to be
        stored, "duplicate" dropped, "quarantine" dead-lettered (neither stored nor dropped
        silently)."""
        top = self.highest.get(machine)
        if top is None:
            self.highest[machine] = seq
            return "new"
        if seq > top:
            if seq - top > self.max_jump and not self._confirms(machine, seq):
                self.quarantined[machine] = self.quarantined.get(machine, 0) + 1
                return "quarantine"
            self._ahead.pop(machine, None)
            skipped = seq - top - 1
            if skipped:
                self.gaps_total[machine] = self.gaps_total.get(machine, 0) + skipped
                holes = self.missing.setdefault(machine, set())
                if len(holes) + skipped <= MAX_MISSING:
                    holes.update(range(top + 1, seq))
            self.highest[machine] = seq
            return "new"
        holes = self.missing.get(machine)
        if holes and seq in holes:  # late, not lost after all
            holes.discard(seq)
            self.gaps_total[machine] -= 1
            return "late"
        self.duplicates[machine] = self.duplicates.get(machine, 0) + 1
        return "duplicate"

    def _confirms(self, machine: str, seq: int) -> bool:
        """True when `seq` completes a run of `confirm` quarantined seqs in a row."""
        ahead = self._ahead.setdefault(machine, [])
        if ahead and not (ahead[-1] < seq <= ahead[-1] + self.confirm_window):
            ahead.clear()  # not a continuation: start a new run from this one
        ahead.append(seq)
        return len(ahead) >= self.confirm

    def implausible(self, machine: str, seq: int) -> bool:
        """True if `seq` is more than max_jump above the machine's highest; records nothing.
        For messages kept out of the bookkeeping (the broker's retained copies): stored, a
        forged seq would become the store's max_seq, which the next collector starts from."""
        top = self.highest.get(machine)
        return top is not None and seq - top > self.max_jump

    def observe(self, machine: str, seq: int) -> bool:
        """True if the message is to be stored (new or late); False for a duplicate or a
        quarantined seq (see classify, which tells the two apart)."""
        return self.classify(machine, seq) in ("new", "late")

    def restart(self, machine: str) -> None:
        """A birth: counted as a new run of the publisher. Nothing is forgotten: a restarted
        publisher continues its seq (simulator/resume.py), and one that starts again from 1
        would be rewriting numbers already stored."""
        self.births[machine] = self.births.get(machine, 0) + 1

    def gaps(self, machine: str) -> int:
        return self.gaps_total.get(machine, 0)

    def quarantines(self, machine: str) -> int:
        return self.quarantined.get(machine, 0)

    def runs(self, machine: str) -> int:
        """Births seen for the machine since this tracker started."""
        return self.births.get(machine, 0)
