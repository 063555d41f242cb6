"""The `shopfloor` command: wires the services together (imports them lazily)."""
