"""One colour per state, the same on every page and figure."""

STATE_COLORS: dict[str, str] = {
    "running": "#2e7d32",
    "idle": "#9e9e9e",
    "starved": "#f9a825",
    "blocked": "#ef6c00",
    "down": "#c62828",
    "setup": "#6a1b9a",
    "planned_stop": "#1565c0",
    "off": "#37474f",
}
