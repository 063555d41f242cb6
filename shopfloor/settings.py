"""Secrets and deployment settings, from the environment only (never from files in the repo).

SHOPFLOOR_MQTT_USERNAME / SHOPFLOOR_MQTT_PASSWORD  broker credentials (a URL's own win)
SHOPFLOOR_INFLUX_TOKEN                             InfluxDB token
SHOPFLOOR_DASH_AUTH                                user:pass for the dashboard's basic auth
"""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPFLOOR_", extra="ignore")

    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    influx_token: SecretStr | None = None
    dash_auth: SecretStr | None = None


def settings() -> Settings:
    return Settings()
