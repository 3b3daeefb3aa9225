"""Who may open the websocket: the token and Origin checks of the opening handshake.

Two threats shape these rules. A server reachable from the network must not stream to
anyone who finds the port, so a non-loopback server needs a shared token. And any web
page the user visits can make the browser open a websocket to 127.0.0.1
(cross-site websocket hijacking) or rebind its own domain to 127.0.0.1, so a browser's
``Origin`` must be the dashboard's own origin (or explicitly allowed), and a loopback
server only accepts loopback host names. Clients that send no ``Origin`` are not
browsers driven by a foreign page; they pass that check (the token still applies).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from websockets.datastructures import Headers

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def generate_token() -> str:
    """A fresh random token for a server that is reachable from the network."""
    return secrets.token_urlsafe(18)


def _hostname(authority: str) -> str:
    """``localhost`` from ``localhost:8765``, ``::1`` from ``[::1]:8765``."""
    return (urlsplit("//" + authority).hostname or "").lower()


@dataclass(frozen=True)
class AccessPolicy:
    """The checks one server applies to every websocket handshake."""

    token: str | None  # required when set
    allowed_origins: frozenset[str] = frozenset()  # e.g. "https://dash.example:8443"
    loopback_only: bool = True  # the server is bound to loopback: Host must say so

    def refusal(self, path: str, headers: Headers) -> str | None:
        """Why this handshake is refused, or None when it may proceed."""
        if any(len(headers.get_all(name)) > 1 for name in ("Host", "Origin", "Authorization")):
            return "repeated Host, Origin or Authorization header"
        if self.token is not None and not self._token_matches(path, headers):
            return "missing or wrong token"
        origin = headers.get("Origin")
        if origin is not None and not self._origin_allowed(origin.lower(), headers.get("Host", "")):
            return f"origin {origin!r} not allowed"
        return None

    def _token_matches(self, path: str, headers: Headers) -> bool:
        assert self.token is not None
        offered = parse_qs(urlsplit(path).query).get("token", [""])[0]
        authorization = headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            offered = authorization.removeprefix("Bearer ").strip()
        return hmac.compare_digest(offered.encode(), self.token.encode())

    def _origin_allowed(self, origin: str, host: str) -> bool:
        if origin in self.allowed_origins:
            return True
        same_origin = origin in (f"http://{host}".lower(), f"https://{host}".lower())
        if self.loopback_only:
            return same_origin and _hostname(host) in LOOPBACK_NAMES
        return same_origin
