"""Who may connect to the OPC UA server, and how (docs/opcua.md, Security).

On a loopback endpoint (127.0.0.0/8, ::1, localhost) anonymous clients may connect without
security: only programs on this computer reach it. Any other endpoint needs a username and
password (SHOPFLOOR_OPCUA_USERNAME / SHOPFLOOR_OPCUA_PASSWORD) and offers only the
Basic256Sha256 policy (sign and encrypt) with a self-signed certificate made on first start
in the certificate folder (never committed; reused on later starts until it expires).
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

DEFAULT_PORT = 4840


class OpcUaConfigError(ValueError):
    """A setting the server cannot start with; the message names it."""


@dataclass(frozen=True)
class Endpoint:
    url: str
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def parse_endpoint(text: str) -> Endpoint:
    """`opc.tcp://host[:port][/path]`; the port defaults to 4840."""
    u = urlparse(text)
    if u.scheme != "opc.tcp":
        raise OpcUaConfigError(f"--opcua: {text!r} is not an opc.tcp://host:port URL")
    if not u.hostname:
        raise OpcUaConfigError(f"--opcua: {text!r} names no host")
    try:
        port = u.port or DEFAULT_PORT
    except ValueError:
        raise OpcUaConfigError(f"--opcua: {text!r} has a bad port") from None
    if u.username or u.password:
        raise OpcUaConfigError(
            "--opcua: put no credentials in the URL; set SHOPFLOOR_OPCUA_USERNAME and "
            "SHOPFLOOR_OPCUA_PASSWORD"
        )
    host = u.hostname
    shown = f"[{host}]" if ":" in host else host
    return Endpoint(f"opc.tcp://{shown}:{port}{u.path or '/'}", host, port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def credentials(
    username: str | None, password: str | None, endpoint: Endpoint
) -> Credentials | None:
    """The server's one user, or None (anonymous, loopback only); a clear error otherwise."""
    if bool(username) != bool(password):
        raise OpcUaConfigError(
            "set both SHOPFLOOR_OPCUA_USERNAME and SHOPFLOOR_OPCUA_PASSWORD, or neither"
        )
    if username and password:
        return Credentials(username, password)
    if not endpoint.loopback:
        raise OpcUaConfigError(
            f"--opcua {endpoint.url}: anonymous access is allowed only on a loopback address "
            "(127.0.0.1, localhost); for any other address set SHOPFLOOR_OPCUA_USERNAME and "
            "SHOPFLOOR_OPCUA_PASSWORD (clients then connect with Basic256Sha256, sign and "
            "encrypt)"
        )
    return None


class PasswordUserManager:
    """asyncua's user manager protocol: the one configured user, and anonymous clients where the
    endpoint offers the anonymous token (loopback only)."""

    def __init__(self, creds: Credentials | None, anonymous: bool):
        self.creds = creds
        self.anonymous = anonymous

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> Any:
        from asyncua.crypto.permission_rules import User, UserRole

        if username is None:  # an anonymous token (a certificate token is not offered)
            return User(role=UserRole.User) if self.anonymous else None
        if self.creds is None or password is None:
            return None
        ok_user = hmac.compare_digest(username.encode(), self.creds.username.encode())
        pw = password if isinstance(password, str) else bytes(password).decode("utf-8", "replace")
        ok_pw = hmac.compare_digest(pw.encode(), self.creds.password.encode())
        return User(role=UserRole.User, name=username) if ok_user and ok_pw else None


APP_URI = "urn:shopfloor:simulator:opcua"


async def ensure_certificate(folder: Path, host: str) -> tuple[Path, Path]:
    """The server's key (PEM) and self-signed certificate (DER) in `folder`, made on first use
    (and again when the certificate no longer fits the host or has expired)."""
    from asyncua.crypto import cert_gen

    # The OIDs are cryptography's, reached through asyncua (which depends on it) rather than
    # imported: cryptography is asyncua's dependency, not ours.
    usage = cert_gen.x509.oid.ExtendedKeyUsageOID

    try:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    except OSError as exc:
        raise OpcUaConfigError(f"--opcua-certs: cannot use {folder}: {exc.strerror}") from None
    key, cert = folder / "server-key.pem", folder / "server-cert.der"
    dns = socket.gethostname() if host in ("0.0.0.0", "::") else host
    await cert_gen.setup_self_signed_certificate(
        key,
        cert,
        APP_URI,
        dns,
        [usage.SERVER_AUTH, usage.CLIENT_AUTH],
        {
            "countryName": "VN",
            "organizationName": "shopfloor",
            "commonName": "shopfloor simulator OPC UA server",
        },
    )
    key.chmod(0o600)
    return key, cert
