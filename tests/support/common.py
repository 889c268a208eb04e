"""Constants and small helpers every kind of test uses."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

SECRET = "k24-test-secret"  # the spec vectors (tests/data/vectors.json) are signed with it
PROJECT_ID = 1234
ROOT = Path(__file__).resolve().parents[2]
# Spec vectors, copied from the specification into the repository (tests read nothing outside it).
DATA = ROOT / "tests" / "data"
JSON = {"content-type": "application/json"}
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANGUAGE", "LANG")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_vectors() -> list[dict[str, Any]]:
    return json.loads((DATA / "vectors.json").read_text())["cases"]


async def read_body(receive: Any) -> bytes:
    """The whole request body of an ASGI test app."""
    raw = b""
    while True:
        message = await receive()
        raw += message.get("body", b"")
        if not message.get("more_body"):
            return raw
