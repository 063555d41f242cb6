"""Plant config: the pydantic schema and a loader whose errors name the key path."""

from shopfloor.config.load import ConfigError, load_config, parse_config
from shopfloor.config.schema import (
    Break,
    CycleTime,
    Line,
    PlantConfig,
    PlantInfo,
    PowerKw,
    Shift,
    Station,
    Telemetry,
)

__all__ = [
    "Break",
    "ConfigError",
    "CycleTime",
    "Line",
    "PlantConfig",
    "PlantInfo",
    "PowerKw",
    "Shift",
    "Station",
    "Telemetry",
    "load_config",
    "parse_config",
]
