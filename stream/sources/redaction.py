"""Secrets never leave the process: the one way a source (or any text naming one) is shown.

A radio URL may carry credentials, in its user-info (``http://user:pass@host/``) or in
its query (``?listen_key=...``, ``?token=...``). Whatever shows a source — logs, the
websocket ``hello`` and ``streams`` messages, pages, the terminal, error lines — shows
``redact(text)``: every URL in the text keeps its scheme, host, port and path, while its
user-info and the values of secret-looking query keys become ``***``. Error texts are
redacted the same way, since FFmpeg and urllib name the URL they failed on.
"""

from __future__ import annotations

import logging
import re

HIDDEN = "***"
# query keys whose values are secrets: listen_key, api_key, token, access_token, password, sig, ...
SECRET_KEY = re.compile(r"key|token|pass|pwd|secret|auth|sig|session|sid|credential", re.IGNORECASE)
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every URL's user-info and secret query values replaced by ``***``."""
    return URL.sub(lambda found: _redact_url(found.group()), text)


def _redact_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    head_end = min((index for index in (rest.find("?"), rest.find("#")) if index >= 0), default=len(rest))
    head, tail = rest[:head_end], rest[head_end:]
    if "@" in head:  # user-info; a password with an unescaped "/" still ends at its last "@"
        head = f"{HIDDEN}@{head.rpartition('@')[2]}"
    tail, hash_mark, fragment = tail.partition("#")
    if tail.startswith("?"):
        tail = "?" + "&".join(_redact_parameter(parameter) for parameter in tail[1:].split("&"))
    return f"{scheme}://{head}{tail}{hash_mark}{fragment}"


def _redact_parameter(parameter: str) -> str:
    key, equals, value = parameter.partition("=")
    return f"{key}={HIDDEN}" if equals and value and SECRET_KEY.search(key) else parameter


class RedactingFormatter(logging.Formatter):
    """Log lines, tracebacks included, with ``redact`` applied: the logs' one gate."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
