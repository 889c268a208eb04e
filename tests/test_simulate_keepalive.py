"""The simulator's connections (issue 24): a request costs the same however many are open.

httpx's own pool walked every connection it held, for each idle one, on every request and
answer; a simulator that fell behind opened more connections, spent more per request, fell
further behind, and reported its own backlog as the listener's latency."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpcore
import pytest

from kassa24_console.simulate.platform import Platform
from tests.support.common import PROJECT_ID, SECRET, free_port
from tests.support.serve import Server

BURST = 150  # requests at once: as many connections opened


def platform_for(url: str) -> Platform:
    return Platform(
        url=f"{url}/kassa24", callback_url=f"{url}/kassa24/callback", project_id=PROJECT_ID, secret=SECRET, timeout=30
    )


@pytest.fixture
def looked_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """How often any connection is asked whether it is idle, available or expired, and how
    many connections are made."""
    counts: Counter[str] = Counter()
    for name in ("is_idle", "is_available", "has_expired"):
        original = getattr(httpcore.AsyncHTTPConnection, name)

        def counted(self: Any, _original: Any = original, _name: str = name) -> Any:
            counts[_name] += 1
            return _original(self)

        monkeypatch.setattr(httpcore.AsyncHTTPConnection, name, counted)
    made = httpcore.AsyncHTTPConnection.__init__

    def making(self: Any, *args: Any, **kwargs: Any) -> None:
        counts["made"] += 1
        made(self, *args, **kwargs)

    monkeypatch.setattr(httpcore.AsyncHTTPConnection, "__init__", making)
    yield counts


async def test_after_a_burst_each_request_looks_at_one_connection_and_makes_none(
    server2: Server, looked_at: Counter[str]
) -> None:
    platform = platform_for(server2.url)
    try:
        answers = await asyncio.gather(*(platform.verify(f"77{i:08d}") for i in range(BURST)))
        assert not any(a.error for a in answers) and {a.status for a in answers} == {200}
        assert looked_at["made"] > 20  # the burst did open many connections
        looked_at.clear()
        for i in range(20):  # one at a time: each takes a kept connection, looks at it alone
            answer = await platform.verify(f"78{i:08d}")
            assert answer.status == 200 and answer.body["code"] in (0, 204, 404), answer.body
        assert looked_at["made"] == 0
        # httpx's pool: every kept connection, and for each idle one all of them again (~64² a request)
        assert looked_at["is_idle"] + looked_at["is_available"] + looked_at["has_expired"] <= 20 * 4, looked_at
    finally:
        await platform.close()


async def test_a_merchant_not_listening_is_a_connect_error_as_httpx_names_it() -> None:
    platform = platform_for(f"http://127.0.0.1:{free_port()}")
    try:
        answer = await platform.verify("7012345678")
    finally:
        await platform.close()
    assert answer.status == 0 and answer.error.startswith("ConnectError"), answer.error
