"""The simulator's connections: kept alive in a stack, one request costs the same however many
are open (issue 24).

httpx's own pool (httpcore 1.0) looks at every connection it holds, and for each idle one
counts them all again, on every request and every answer: O(n²) in the connections open.
Offering 100 cycles/s (300 requests/s), a moment of delay opens dozens of connections, each
request then costs more CPU, the simulator falls further behind, opens more, and never
recovers: it reported seconds of latency while the listener, by its own records, answered
in milliseconds and sat idle waiting for requests (py-spy: 68 % of the simulator in the
pool's bookkeeping). Here an idle connection is taken from the top of a stack or a new one
opened, and given back once its answer is read whole (the platform's answers are small).
Plain ``http://`` only; ``https://`` goes through httpx's own transport.
"""

from __future__ import annotations

import contextlib

import httpcore
import httpx

KEEP = 64  # idle connections kept per address; more are closed once answered
EXPIRY = 5.0  # seconds an idle connection is kept


class KeepAlive(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self._idle: dict[tuple[bytes, int], list[httpcore.AsyncHTTPConnection]] = {}
        self._other = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            return await self._other.handle_async_request(request)
        port = url.port or 80
        idle = self._idle.setdefault((url.raw_host, port), [])
        connection = None
        while idle and connection is None:
            candidate = idle.pop()
            if candidate.is_available() and not candidate.has_expired():
                connection = candidate
            else:
                await _close(candidate)
        if connection is None:
            origin = httpcore.Origin(b"http", url.raw_host, port)
            connection = httpcore.AsyncHTTPConnection(origin, keepalive_expiry=EXPIRY)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            # httpx types its request stream as sync or async; a request built by an
            # AsyncClient carries the async kind, which is what httpcore reads here.
            content=request.stream,  # type: ignore[arg-type]
            extensions=request.extensions,
        )
        try:
            answer = await connection.handle_async_request(core)
            try:
                body = await answer.aread()
            finally:
                await answer.aclose()
        except Exception as error:
            await _close(connection)
            if type(error).__module__.startswith("httpcore"):  # as httpx says it: ConnectError, ReadTimeout…
                raise getattr(httpx, type(error).__name__, httpx.TransportError)(str(error), request=request) from error
            raise
        if connection.is_idle() and len(idle) < KEEP:
            idle.append(connection)
        else:
            await _close(connection)
        kept = {k: v for k, v in answer.extensions.items() if k in ("http_version", "reason_phrase")}
        return httpx.Response(answer.status, headers=answer.headers, content=body, extensions=kept)

    async def aclose(self) -> None:
        for idle in self._idle.values():
            while idle:
                await _close(idle.pop())
        await self._other.aclose()


async def _close(connection: httpcore.AsyncHTTPConnection) -> None:
    with contextlib.suppress(Exception):
        await connection.aclose()
