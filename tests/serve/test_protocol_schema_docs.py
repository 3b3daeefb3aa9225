"""The protocol is what its document says: every message and every field of the schemas
the servers are checked against (stream/serve/protocol_schema.py) is named in
docs/protocol.md, so a field added in code and not written down fails here."""

from __future__ import annotations

import re

import pytest

from genrescope.stream.serve.protocol_schema import SCHEMAS
from support import REPO

DOCUMENT = (REPO / "docs" / "protocol.md").read_text()
MESSAGES = [(version, kind) for version, messages in SCHEMAS.items() for kind in messages]


@pytest.mark.parametrize(("version", "kind"), MESSAGES, ids=[f"v{v}-{k}" for v, k in MESSAGES])
def test_every_message_and_field_is_documented(version: int, kind: str) -> None:
    assert f'"type": "{kind}"' in DOCUMENT or f"**{kind}**" in DOCUMENT, f"v{version} {kind} is not documented"
    fields = [name for name in SCHEMAS[version][kind]["properties"] if name not in ("type", "v")]
    undocumented = [name for name in fields if not re.search(rf'[`"]{re.escape(name)}[`"]', DOCUMENT)]
    assert not undocumented, f"v{version} {kind}: fields not in docs/protocol.md: {undocumented}"
