"""GatewayConfig: every setting of the gateway process, built once in __main__."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from medialoom.certs import Curve
from medialoom.protocol.constants import (
    DEFAULT_CLIENTS,
    DEFAULT_EVENTS_OUT,
    DEFAULT_HOST,
    GATEWAY_PORT,
)

from .webhook_config import WebhooksConfig

AUTH_MODES = ("auto", "always", "never")


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT``, ``:PORT`` (all interfaces) or ``PORT`` (loopback)."""
    text = text.strip()
    if text.isdigit():
        return DEFAULT_HOST, int(text)
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            raise ValueError(f"listen address {text!r} is not HOST:PORT")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"listen address {text!r} has no valid port")
    return host or "0.0.0.0", int(port)


def split_host(text: str) -> tuple[str, int | None]:
    """``name``, ``name:port``, ``[v6]``, ``[v6]:port`` (or a bare v6 address) -> (name, port).

    The name is lowercased, without brackets or a trailing dot.  ValueError if it
    is not a host name or address (a scheme, a path, userinfo, spaces, a bad port).
    """
    value = text.strip().lower()
    port: str | None = None
    if value.startswith("["):
        name, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r} is not a host[:port]")
        port = rest[1:] if rest else None
    elif value.count(":") > 1:  # a bare IPv6 address has no port
        name = value
    else:
        name, sep, port_text = value.partition(":")
        port = port_text if sep else None
    if port is not None and not (port.isdigit() and 0 < int(port) <= 65535):
        raise ValueError(f"{text!r} has no valid port")
    name = name.rstrip(".")
    if not name or any(not (c.isalnum() or c in "-._:") for c in name):
        raise ValueError(f"{text!r} is not a host name or address (no scheme, path or port "
                         "other than :PORT)")
    return name, int(port) if port is not None else None


def is_loopback(host: str) -> bool:
    """True if a listen host only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class GatewayConfig:
    """Where to listen, which broker to use, and how to authenticate."""

    host: str = DEFAULT_HOST
    port: int = GATEWAY_PORT
    endpoint: str = DEFAULT_CLIENTS
    events: str = DEFAULT_EVENTS_OUT
    data_dir: str = ""
    #: bearer token; None: read or create DATA_DIR/gateway-token
    token: str | None = None
    #: auto: required unless listening on loopback; always; never
    auth: str = "auto"
    #: seconds to wait for a broker reply before answering 502
    timeout_s: float = 5.0
    #: websocket messages queued for one slow client before it is disconnected
    ws_queue_max: int = 4096
    #: Host names served besides the listen address (``name`` any port, ``name:port``)
    allowed_hosts: tuple[str, ...] = ()
    #: where the token came from, for the start-up banner (a file path or an env variable)
    token_from: str = ""
    #: the Sonarr/Radarr webhooks: secret, what they start, path mappings ([webhooks] table)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    #: CURVE keys for the broker's sockets (a key of role client; None: CURVE off)
    curve: Curve | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}, not {self.auth!r}")
        for entry in self.allowed_hosts:
            split_host(entry)

    @property
    def auth_required(self) -> bool:
        """Whether every API request must carry the bearer token."""
        return self.auth == "always" or (self.auth == "auto" and not is_loopback(self.host))

    @property
    def url(self) -> str:
        """The base URL people open."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"
