"""The batch form of the telemetry contract (issue 15; docs/architecture.md, The telemetry
contract, "Batches").

A publisher may put several consecutive samples of one machine and one sampled channel
(`telemetry` or `energy`) into one MQTT message, on that channel's usual topic:

    {"v": 2, "batch": [{"ts": ..., "seq": ..., "power_kw": ...}, ...]}

Each element is exactly a single message of that channel (the v1 payload models of
shopfloor.contract) and is validated, deduplicated and gap-counted on its own: a bad element
is dead-lettered alone and the good ones are stored. `v` versions the envelope (2 is the only
form so far); a single message (no `batch` key) stays what it was, and a collector takes both
forms always. Why the same topic and not a new channel: subscriptions, ACLs and shared groups
stay as they are, and a machine's messages keep one topic per channel, so their order is kept.

Elements go in seq order, at most BATCH_MAX of them, and the key `batch` is written plainly
(not with a JSON escape): the collector finds it in the raw bytes to reserve room in its
buffer before parsing (collector/service.py, the buffer bound).
"""

from __future__ import annotations

from typing import Any

import orjson

BATCH_VERSION = 2
BATCH_CHANNELS: frozenset[str] = frozenset({"telemetry", "energy"})
BATCH_MAX = 1000  # elements in one batch
BATCH_KEY = b'"batch"'
# The shortest valid element ({"ts":0,"seq":0,"energy_kwh":0}, with a comma): a payload of
# n bytes holds at most n // MIN_ELEMENT_BYTES + 1 elements.
MIN_ELEMENT_BYTES = 30


def encode(elements: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"v": BATCH_VERSION, "batch": elements})


def is_batch(data: dict[str, Any]) -> bool:
    return "batch" in data


def max_elements(raw: bytes) -> int:
    """How many elements a payload of these bytes can carry at most (0: not a batch)."""
    if BATCH_KEY not in raw:
        return 0
    return min(BATCH_MAX, len(raw) // MIN_ELEMENT_BYTES + 1)
