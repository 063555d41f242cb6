"""Secrets and deployment settings, from the environment only (never from files in the repo).

SHOPFLOOR_MQTT_USERNAME / SHOPFLOOR_MQTT_PASSWORD  broker credentials (a URL's own win)
SHOPFLOOR_INFLUX_TOKEN                             InfluxDB token
SHOPFLOOR_INFLUX_TOKEN_FILE                        or a file holding it (a token minted at
                                                   deploy time, e.g. by the compose stack)
SHOPFLOOR_DASH_AUTH                                user:pass for the dashboard's basic auth
SHOPFLOOR_OPCUA_USERNAME / SHOPFLOOR_OPCUA_PASSWORD the OPC UA server's user (`sim --opcua`)
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPFLOOR_", extra="ignore")

    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    influx_token: SecretStr | None = None
    influx_token_file: Path | None = None
    dash_auth: SecretStr | None = None
    opcua_username: str | None = None
    opcua_password: SecretStr | None = None

    @model_validator(mode="after")
    def _token_from_file(self) -> Settings:
        if self.influx_token is None and self.influx_token_file is not None:
            try:
                text = self.influx_token_file.read_text().strip()
            except OSError as exc:
                raise ValueError(
                    f"SHOPFLOOR_INFLUX_TOKEN_FILE: cannot read {self.influx_token_file}: {exc.strerror}"
                ) from None
            self.influx_token = SecretStr(text)
        return self


class SettingsError(ValueError):
    """An environment setting that cannot be used; the message names the variable."""


def settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(
            "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        ) from None
