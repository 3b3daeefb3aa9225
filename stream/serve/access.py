"""Who may open the websocket: the token and Origin checks of the opening handshake.

Two threats shape these rules. A server reachable from the network must not stream to
anyone who finds the port, so a non-loopback server needs a shared token. And any web
page the user visits can make the browser open a websocket to 127.0.0.1
(cross-site websocket hijacking) or rebind its own domain to 127.0.0.1, so a browser's
``Origin`` must be the dashboard's own origin (or explicitly allowed), and a loopback
server only answers requests whose ``Host`` is a loopback name or address — HTTP and
websocket alike, with or without ``Origin`` (a rebound page's requests name the
attacker's domain in ``Host``, and a page's plain GETs carry no ``Origin``). Clients
that send no ``Origin`` are not browsers driven by a foreign page; they pass the Origin
check (the token and the Host check still apply).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from websockets.datastructures import Headers


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

    def host_refusal(self, headers: Headers) -> str | None:
        """Why any request (page or websocket) is refused for its Host, or None."""
        if len(headers.get_all("Host")) > 1:
            return "repeated Host header"
        host = headers.get("Host", "")
        if self.loopback_only and not is_loopback(_hostname(host)):
            return f"Host {host!r} is not a loopback name (DNS rebinding?)"
        return None

    def refusal(self, path: str, headers: Headers) -> str | None:
        """Why this handshake is refused, or None when it may proceed."""
        if any(len(headers.get_all(name)) > 1 for name in ("Origin", "Authorization")):
            return "repeated Origin or Authorization header"
        host_refusal = self.host_refusal(headers)
        if host_refusal is not None:
            return host_refusal
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
        return origin in (f"http://{host}".lower(), f"https://{host}".lower())
