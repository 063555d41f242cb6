"""Dash app: live OEE and energy pages over a store (see DESIGN.md)."""
