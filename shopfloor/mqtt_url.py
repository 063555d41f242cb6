"""Broker URLs: mqtt://[user:pass@]host[:port] and mqtts:// (TLS)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from shopfloor.settings import settings


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    def __str__(self) -> str:  # never prints the password
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def parse_broker_url(text: str) -> BrokerUrl:
    """Raises ValueError naming what is wrong."""
    parts = urlsplit(text)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"{text!r}: the scheme must be mqtt:// or mqtts://")
    if not parts.hostname:
        raise ValueError(f"{text!r}: no host (example: mqtt://localhost:1883)")
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535") from None
    if parts.path not in ("", "/"):
        raise ValueError(f"{text!r}: a broker URL has no path")
    env = settings()
    username = unquote(parts.username) if parts.username else env.mqtt_username
    password = unquote(parts.password) if parts.password else None
    if password is None and env.mqtt_password is not None:
        password = env.mqtt_password.get_secret_value()
    return BrokerUrl(parts.hostname, port, parts.scheme == "mqtts", username, password)
