"""shopfloor: the shared kernel (config schema, telemetry contract, KPI math, stores, CLI)."""

__version__ = "0.1.0"
