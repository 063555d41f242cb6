"""Broker URLs: mqtt://[user:pass@]host[:port] and mqtts:// (TLS)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

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


def make_client(
    url: BrokerUrl, client_id: str, ca_file: str | None = None, **kwargs: Any
) -> mqtt.Client:
    """A paho 2.x client (MQTT 3.1.1, callback API v2) with the URL's credentials and TLS."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, **kwargs
    )
    if url.username:
        client.username_pw_set(url.username, url.password)
    if url.tls:
        client.tls_set(ca_certs=ca_file, cert_reqs=ssl.CERT_REQUIRED)
    return client
