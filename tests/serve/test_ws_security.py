"""Access rules on a real server: token, Origin, remote binding, and what HTTP can reach."""

from __future__ import annotations

import asyncio
import http.client

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from genrescope.stream.serve.server import ServerConfig
from harness import receive, running, ws_url

TOKEN = "s3cret-token"


def handshake_status(url: str, **options) -> int:
    """101 when the websocket opens and a hello arrives, else the HTTP refusal's status."""

    async def attempt() -> int:
        try:
            async with connect(url, **options) as client:
                assert (await receive(client))["type"] == "hello"
                return 101
        except InvalidStatus as refusal:
            return refusal.response.status_code

    return asyncio.run(attempt())


def with_server(feed, check, **config) -> None:
    """Run the blocking ``check(server)`` in a thread while ``feed`` is being served."""

    async def scenario() -> None:
        async with running(feed, **config) as server:
            await asyncio.to_thread(check, server)

    asyncio.run(scenario())


def test_a_token_is_required_in_the_query_or_the_header(make_feed) -> None:
    def check(server) -> None:
        assert handshake_status(ws_url(server)) == 403
        assert handshake_status(ws_url(server, "?token=wrong")) == 403
        assert handshake_status(ws_url(server, f"?token={TOKEN}")) == 101
        assert handshake_status(ws_url(server), additional_headers={"Authorization": f"Bearer {TOKEN}"}) == 101

    with_server(make_feed(realtime=True), check, token=TOKEN)


def test_browsers_from_foreign_origins_are_refused(make_feed) -> None:
    def check(server) -> None:
        own = f"http://127.0.0.1:{server.port}"
        assert handshake_status(ws_url(server), origin=own) == 101
        assert handshake_status(ws_url(server), origin="https://dash.example") == 101  # allow-listed
        assert handshake_status(ws_url(server), origin="https://evil.example") == 403
        assert handshake_status(ws_url(server), origin=f"http://127.0.0.1:{server.port + 1}") == 403
        # DNS rebinding: a foreign name that resolves to 127.0.0.1, page and socket alike.
        rebound = f"evil.example:{server.port}"
        assert (
            handshake_status(f"ws://{rebound}/ws", origin=f"http://{rebound}", host="127.0.0.1", port=server.port)
            == 403
        )
        # ... and without Origin (a non-browser client, or a browser that omits it)
        assert handshake_status(f"ws://{rebound}/ws", host="127.0.0.1", port=server.port) == 403

    with_server(make_feed(realtime=True), check, allowed_origins=("https://dash.example",))


def get(port: int, path: str, host: str | None = None) -> http.client.HTTPResponse:
    """A plain GET of ``path``, with a Host header of our choosing."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.putrequest("GET", path, skip_host=host is not None)  # the path verbatim: no normalisation
    if host is not None:
        connection.putheader("Host", host)
    connection.endheaders()
    response = connection.getresponse()
    response.body = response.read()
    return response


def test_pages_for_a_foreign_host_name_are_refused(make_feed) -> None:
    """DNS rebinding reads the page too: a loopback server answers loopback names only."""

    def check(server) -> None:
        assert get(server.port, "/", host=f"localhost:{server.port}").status == 200
        assert get(server.port, "/", host=f"[::1]:{server.port}").status == 200
        assert get(server.port, "/", host=f"evil.example:{server.port}").status == 403
        assert get(server.port, "/app.js", host="evil.example").status == 403

    with_server(make_feed(realtime=True), check)


def test_only_the_dashboard_files_are_served(make_feed) -> None:

    def check(server) -> None:
        page = get(server.port, "/")
        assert page.status == 200 and page.getheader("Content-Type").startswith("text/html")
        assert b'<script type="module" src="app.js">' in page.body
        assert "default-src 'self'" in page.getheader("Content-Security-Policy")
        assert get(server.port, "/app.js").getheader("Content-Type").startswith("text/javascript")
        assert get(server.port, "/style.css?v=2").getheader("Content-Type").startswith("text/css")
        for path in (
            "/../pyproject.toml",
            "/%2e%2e/pyproject.toml",
            "/..%2fstream%2fserver.py",
            "//etc/passwd",
            "/web/index.html",
            "/app.js/../../README.md",
            "/server.py",
        ):
            assert get(server.port, path).status == 404, path

    with_server(make_feed(realtime=True), check)


def test_any_other_host_needs_allow_remote_and_then_gets_a_token() -> None:
    with pytest.raises(ValueError, match="--allow-remote"):
        ServerConfig(host="0.0.0.0")
    first = ServerConfig(host="0.0.0.0", allow_remote=True).resolved()
    second = ServerConfig(host="0.0.0.0", allow_remote=True).resolved()
    assert first.token and second.token and first.token != second.token
    assert len(first.token) >= 20
    assert ServerConfig(host="0.0.0.0", allow_remote=True, token="mine").resolved().token == "mine"
    assert not first.access_policy().loopback_only
    assert ServerConfig().resolved().token is None  # loopback: no token unless asked for
