"""The dashboard's files, served over plain HTTP on the websocket server's port.

Files are read once at start-up into a table keyed by their exact URL path, and a
request is answered only from that table: no request path ever reaches the file system,
so no path (``..``, encoded slashes, symlinks) can reach outside ``web/``.
"""

from __future__ import annotations

import http
from pathlib import Path
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Response

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

# The page loads nothing from elsewhere; cover art arrives as a data: URL in the hello.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the URL may carry the access token
    "Cache-Control": "no-cache",
}


# Short addresses users type: the OBS overlay is /overlay (a browser source's URL).
ALIASES = {"/": "/index.html", "/overlay": "/overlay.html"}


class StaticSite:
    """Serves the files directly inside one folder, by exact name; ``/`` is index.html."""

    def __init__(self, root: Path):
        self._files = {
            f"/{path.name}": (path.read_bytes(), CONTENT_TYPES[path.suffix])
            for path in sorted(root.iterdir())
            if path.is_file() and path.suffix in CONTENT_TYPES
        }
        if "/index.html" not in self._files:
            raise FileNotFoundError(f"no index.html in {root}")

    def response(self, connection: ServerConnection, target: str) -> Response:
        """The response to ``GET target``: the file, or 404."""
        path = urlsplit(target).path
        found = self._files.get(ALIASES.get(path, path))
        if found is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Not found\n")
        body, content_type = found
        response = connection.respond(http.HTTPStatus.OK, "")
        response.body = body
        for name, value in {"Content-Type": content_type, "Content-Length": str(len(body))}.items():
            del response.headers[name]
            response.headers[name] = value
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        return response
