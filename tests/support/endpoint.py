"""What a test talks to: a listener at a URL over a SQLite file, in a process or in-process."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from kassa24_console.protocol.signature import signed
from tests.support.common import JSON, SECRET


@dataclass
class Endpoint:
    """A listener (``url``) on a SQLite file (``db_path``) answering in response ``option``.

    ``http`` is the client that reaches it: plain HTTP for a ``serve`` process, the ASGI app
    itself for an in-process one; tests use it (or ``post``/``get``) and not ``httpx.post``."""

    url: str
    db_path: Path
    option: int
    env: dict[str, str]
    http: httpx.Client = field(init=False)

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.db_path}"

    def post(self, body: dict[str, Any] | bytes, *, sign: bool = True, path: str = "/kassa24") -> httpx.Response:
        if isinstance(body, bytes):
            return self.http.post(self.url + path, content=body)
        payload = signed(body, SECRET) if sign else body
        # ASCII JSON (\u escapes), as the platform may send it; lone surrogates travel too.
        content = json.dumps(payload).encode()
        return self.http.post(self.url + path, content=content, headers=JSON)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(self.url + path, **kwargs)

    def rows(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        with sqlite3.connect(self.db_path, timeout=10) as connection:
            connection.row_factory = sqlite3.Row
            return connection.execute(sql, params).fetchall()

    def stop(self) -> None:
        self.http.close()
