"""Dash app: live OEE and energy pages over a store (docs/architecture.md, The rooms)."""
