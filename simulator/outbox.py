"""The simulator's outbox: what it published, kept until the collector says it is stored.

A broker acknowledges a QoS 1 message once it holds it, not once a subscriber has it; a broker
that is killed (SIGKILL, power loss) loses what it held in memory (Mosquitto saves its queues
only every `autosave_interval`). So the simulator does not forget a message when the broker
acknowledges it, but when the collector's watermark covers it (collector/watermark.py,
shopfloor.contract.WatermarkPayload: the highest contiguous seq of a machine the store holds).

What it holds: every sequenced message (`state`, `count`, `telemetry`, `energy`) handed to the
MQTT client, as the exact bytes published, in publish order, until its machine's watermark
reaches its seq. Births and deaths (`status`, no seq) are not kept: the sink sends the births
again after every reconnect, as before.

Its bound: `bound` messages (`shopfloor sim --outbox N`, default 200,000, some 50 MB: more
than a day of the demo plant live, or a collector 200,000 messages behind a `--fast` backfill). Beyond it the oldest message is dropped,
counted and logged: it was published, only no longer kept for a resend. That is also what
happens when no collector watermark is ever seen (no collector running, or one that publishes
none): the outbox keeps the newest `bound` messages and never grows past them. It lives in
memory only: a simulator that is itself killed takes it along (its restart resumes from the
store; what the broker lost meanwhile stays a gap, counted by the collector).

After a reconnect (once a watermark has been seen: without a collector, nobody would say what
to forget) the sink sends again everything the outbox holds (`pending()`), in publish order,
before anything newer: the collector drops by (machine, seq) what it already has, and
because it receives each machine's messages in order, nothing it lacks ever arrives behind a
newer seq (a seq gap would be forgotten past SeqTracker's memory of holes).

Not thread-safe: only the simulation thread uses it (the sink hands watermarks over to it).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

DEFAULT_BOUND = 200_000


class Entry:
    """One published message; `alive` until its watermark covers it or the bound drops it."""

    __slots__ = ("alive", "data", "key", "retain", "seq", "topic")

    def __init__(self, key: str, seq: int, topic: str, data: bytes, retain: bool):
        self.key = key
        self.seq = seq
        self.topic = topic
        self.data = data
        self.retain = retain
        self.alive = True


class Outbox:
    """Published sequenced messages per machine, until the machine's watermark covers them.

    `key` is a machine's topic prefix (shopfloor.contract.machine_prefix), which is also what
    its watermark topic starts with."""

    def __init__(self, bound: int = DEFAULT_BOUND):
        if bound < 1:
            raise ValueError(f"outbox bound must be >= 1, got {bound}")
        self.bound = bound
        self._by_key: dict[str, deque[Entry]] = {}  # alive entries only, in publish order
        self._order: deque[Entry] = deque()  # all entries in publish order, dead ones lazily
        self._n = 0  # alive entries
        self.marks: dict[str, int] = {}  # the highest watermark seen per machine
        self.trimmed = 0  # covered by a watermark
        self.dropped = 0  # dropped by the bound before a watermark covered them

    def __len__(self) -> int:
        return self._n

    @property
    def watermark_seen(self) -> bool:
        return bool(self.marks)

    def add(self, key: str, seq: int, topic: str, data: bytes, retain: bool) -> int:
        """Keep a message just handed to the MQTT client. Returns how many of the oldest were
        dropped to stay within the bound (0 or 1)."""
        if seq <= self.marks.get(key, -1):
            return 0  # already stored (a watermark can run ahead of a resend)
        e = Entry(key, seq, topic, data, retain)
        q = self._by_key.get(key)
        if q is None:
            q = self._by_key[key] = deque()
        q.append(e)
        self._order.append(e)
        self._n += 1
        if self._n > self.bound:
            self._drop_oldest()
            return 1
        return 0

    def covered(self, key: str, seq: int) -> int:
        """A watermark: every seq of `key` up to `seq` is stored. Forgets those; returns how
        many. A watermark never goes back (a stale retained copy changes nothing)."""
        if seq <= self.marks.get(key, -1):
            return 0
        self.marks[key] = seq
        q = self._by_key.get(key)
        n = 0
        while q and q[0].seq <= seq:
            q.popleft().alive = False
            n += 1
        self._n -= n
        self.trimmed += n
        if len(self._order) > 2 * self._n + 4096:
            self._order = deque(e for e in self._order if e.alive)
        return n

    def _drop_oldest(self) -> None:
        order = self._order
        while order:
            e = order.popleft()
            if e.alive:
                # The oldest alive message overall is the oldest of its own machine.
                q = self._by_key[e.key]
                assert q[0] is e
                q.popleft()
                e.alive = False
                self._n -= 1
                self.dropped += 1
                return

    def pending(self) -> list[Entry]:
        """Everything held, in publish order: what to send again after a reconnect."""
        return [e for e in self._order if e.alive]

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.pending())

    def held(self) -> dict[str, int]:
        """Messages held per machine (diagnostics)."""
        return {k: len(q) for k, q in self._by_key.items() if q}
