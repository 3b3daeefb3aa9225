"""Who may open the websocket: token and Origin rules, decided on real headers."""

from __future__ import annotations

import pytest
from websockets.datastructures import Headers

from genrescope.stream.serve.access import AccessPolicy, is_loopback

LOCAL = AccessPolicy(token=None)
REMOTE = AccessPolicy(token="s3cret", loopback_only=False)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (None, "127.0.0.1:8765", True),  # a script, not a browser
        ("http://127.0.0.1:8765", "127.0.0.1:8765", True),  # the dashboard itself
        ("http://localhost:8765", "localhost:8765", True),
        ("http://[::1]:8765", "[::1]:8765", True),
        ("http://127.0.0.1:9999", "127.0.0.1:8765", False),  # another local port
        ("https://evil.example", "127.0.0.1:8765", False),  # cross-site hijacking
        ("http://evil.example:8765", "evil.example:8765", False),  # DNS rebinding
        (None, "evil.example:8765", False),  # DNS rebinding, a request without Origin
        (None, "127.0.0.2:8765", True),  # any loopback address
        (None, "", False),  # no Host at all: nothing says it is ours
    ],
)
def test_origin_on_loopback(origin: str | None, host: str, allowed: bool) -> None:
    headers = Headers(Host=host) if origin is None else Headers(Host=host, Origin=origin)
    assert (LOCAL.refusal("/ws", headers) is None) is allowed


def test_allow_listed_origin_passes() -> None:
    policy = AccessPolicy(token=None, allowed_origins=frozenset({"https://dash.example"}))
    assert policy.refusal("/ws", Headers(Host="127.0.0.1:8765", Origin="https://dash.example")) is None


def test_remote_server_needs_the_token_in_query_or_header() -> None:
    host = Headers(Host="10.0.0.2:8765")
    assert REMOTE.refusal("/ws", host) == "missing or wrong token"
    assert REMOTE.refusal("/ws?token=wrong", host) == "missing or wrong token"
    assert REMOTE.refusal("/ws?token=s3cret", host) is None
    assert REMOTE.refusal("/ws", Headers(Host="10.0.0.2:8765", Authorization="Bearer s3cret")) is None


def test_remote_dashboard_origin_is_its_own_host() -> None:
    same = Headers(Host="10.0.0.2:8765", Origin="http://10.0.0.2:8765")
    other = Headers(Host="10.0.0.2:8765", Origin="http://10.0.0.3:8765")
    assert REMOTE.refusal("/ws?token=s3cret", same) is None
    assert REMOTE.refusal("/ws?token=s3cret", other) is not None


def test_repeated_headers_are_refused_not_guessed() -> None:
    headers = Headers([("Host", "127.0.0.1:8765"), ("Host", "evil.example:8765")])
    assert LOCAL.refusal("/ws", headers) is not None
    two_origins = Headers([("Host", "127.0.0.1:8765"), ("Origin", "http://127.0.0.1:8765"), ("Origin", "x")])
    assert LOCAL.refusal("/ws", two_origins) is not None
