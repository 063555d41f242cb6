"""MQTT subscriber -> validation -> dedup -> batched writes to a store (see DESIGN.md)."""
