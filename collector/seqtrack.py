"""Per-machine sequence bookkeeping (docs/architecture.md, Sequence numbers and duplicates):
duplicates are dropped, gaps (lost upstream) are counted, and a seq no honest publisher could
have sent yet is quarantined instead of becoming the machine's highest.

Rules, all per machine:
- A machine with no known history (neither in the store nor seen) takes its first seq as is.
- A seq above the highest, by at most `max_jump`, is new; the numbers skipped count as a gap.
- A seq more than `max_jump` (1,000) above the highest is quarantined unless the machine's
  clock makes it plausible: not stored, not the new highest, so a forged or corrupt seq (10**9), or a
  burst of them, cannot make every genuine later message look like a duplicate. Plausible
  means the message's `ts` is later than that of the machine's highest by at least the time
  the skipped seqs take at `max_rate_per_s` (10) messages a second (a publisher that really went
  on counting while the collector heard nothing, e.g. a live run that dropped its queue for
  days). A burst of forged seqs stamped "now" never qualifies, however many; nor does a
  forgery stamped in the future: the collector passes a ts no later than its own clock. So a forged seq
  can silence a machine for at most `max_jump` messages plus what its clock allows, never
  for good (a plant's machines send a few messages per simulated second, at most).
- A seq that fills a remembered hole is a late arrival: stored, and the gap goes down.
- Anything else is a duplicate. Deduplication is never reset: a birth (`restart`) records a
  new run but forgets neither the highest seq nor the holes, so a forged birth followed by old
  seqs stores nothing, and gaps lost before a birth stay counted after it.
"""

from __future__ import annotations

from typing import Literal

MAX_MISSING = 1_000  # holes remembered per machine (for late arrivals); more are still counted
MAX_JUMP = 1_000  # a seq further ahead of the highest than this is quarantined ...
# ... unless its ts is past the highest's by the time the skipped seqs take at this rate. A
# machine sends a few messages per simulated second at most (a sample, a part, a state
# change); a genuine jump that this rate judges too fast is taken once the machine's clock has
# moved on far enough (its later messages keep their seq distance, the allowance grows).
MAX_RATE_PER_S = 10.0

Verdict = Literal["new", "duplicate", "late", "quarantine"]


class SeqTracker:
    def __init__(
        self,
        known: dict[str, int] | None = None,
        *,
        known_ts: dict[str, int] | None = None,
        max_jump: int = MAX_JUMP,
        max_rate_per_s: float = MAX_RATE_PER_S,
    ):
        self.highest: dict[str, int] = dict(known or {})
        self.missing: dict[str, set[int]] = {}
        self.duplicates: dict[str, int] = {}
        self.gaps_total: dict[str, int] = {}
        self.quarantined: dict[str, int] = {}
        self.births: dict[str, int] = {}
        self.max_jump = max_jump
        self.max_rate_per_s = max_rate_per_s
        # Per machine: the ts of the message that set the highest seq (`known_ts`: the newest
        # ts the store holds of the machine, for a highest read from the store).
        self.highest_ts: dict[str, int] = dict(known_ts or {})

    def classify(self, machine: str, seq: int, ts: int | None = None) -> Verdict:
        """Judges one sequenced message (`ts`: its epoch ms) and records the verdict: "new"
        and "late" are to be stored, "duplicate" dropped, "quarantine" dead-lettered (neither
        stored nor dropped silently)."""
        top = self.highest.get(machine)
        if top is None:
            self.highest[machine] = seq
            self._stamp(machine, ts)
            return "new"
        if seq > top:
            if self.implausible(machine, seq, ts):
                self.quarantined[machine] = self.quarantined.get(machine, 0) + 1
                return "quarantine"
            skipped = seq - top - 1
            if skipped:
                self.gaps_total[machine] = self.gaps_total.get(machine, 0) + skipped
                holes = self.missing.setdefault(machine, set())
                if len(holes) + skipped <= MAX_MISSING:
                    holes.update(range(top + 1, seq))
            self.highest[machine] = seq
            self._stamp(machine, ts)
            return "new"
        holes = self.missing.get(machine)
        if holes and seq in holes:  # late, not lost after all
            holes.discard(seq)
            self.gaps_total[machine] -= 1
            return "late"
        self.duplicates[machine] = self.duplicates.get(machine, 0) + 1
        return "duplicate"

    def _stamp(self, machine: str, ts: int | None) -> None:
        if ts is None:
            self.highest_ts.pop(machine, None)
        else:
            self.highest_ts[machine] = ts

    def implausible(self, machine: str, seq: int, ts: int | None = None) -> bool:
        """True if `seq` is more than max_jump above the machine's highest and its `ts` does
        not leave time for the seqs skipped; records nothing. Also for messages kept out of
        the bookkeeping (the broker's retained copies): stored, a forged seq would become the
        store's max_seq, which the next collector starts from."""
        top = self.highest.get(machine)
        if top is None or seq - top <= self.max_jump:
            return False
        top_ts = self.highest_ts.get(machine)
        if ts is None or top_ts is None or ts <= top_ts:
            return True
        return seq - top > (ts - top_ts) / 1000 * self.max_rate_per_s

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
