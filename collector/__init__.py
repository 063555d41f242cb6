"""MQTT subscriber -> validation -> dedup -> batched writes to a store (docs/architecture.md,
Which way data flows; Sequence numbers and duplicates)."""
