"""The console's listener on an event loop of its own, in a thread of its own.

The console and its listener used to share one asyncio loop: every redraw of the screen
was time the platform waited for ``verify`` (seconds under load, issue 24). Here the
listener's whole runtime (its store, writer, service and uvicorn) lives on a loop in a
thread started for it, and the console reads the database through a store of its own, as
``--attach`` does. The console only asks this object to open, start, stop and close, each
call awaited from the console's loop while the work runs on the listener's.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .config import Settings
from .runtime import Runtime

T = TypeVar("T")


class EmbeddedListener:
    """One project's :class:`Runtime` running on a loop in its own thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime: Runtime | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.runtime.listener.port if self.runtime is not None else self.settings.port

    @property
    def in_flight(self) -> int:
        """Requests being answered right now (read across threads: a length, no lock needed)."""
        return self.runtime.listener.in_flight if self.runtime is not None else 0

    @property
    def running(self) -> bool:
        return self.runtime is not None and self.runtime.listener.running

    def _ensure_thread(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=_run_forever, args=(loop,), name="k24-listener", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
        return self._loop

    async def _call(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work()`` on the listener's loop; the console's loop awaits the result."""
        loop = self._ensure_thread()

        async def run() -> T:
            return await work()

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), loop))

    async def open(self) -> None:
        """Make the runtime on the listener's loop and open its store (a fresh database in
        demo mode gets the demo data). :class:`~.logs.StartupError` says why it cannot."""

        async def open_runtime() -> Runtime:
            runtime = Runtime(self.settings)
            await runtime.open(demo=True)
            return runtime

        self.runtime = await self._call(open_runtime)

    async def start(self) -> None:
        """Bind and serve; :class:`~.listener.ListenError` when the address cannot be used."""
        runtime = self.runtime
        assert runtime is not None

        async def start() -> None:
            await runtime.listener.start()
            runtime.start_pruning()

        await self._call(start)

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (bounded), free the port."""
        if self.runtime is not None:
            await self._call(self.runtime.listener.stop)

    async def close(self) -> None:
        """Stop after in-flight requests, commit what is queued, end the thread."""
        if self.runtime is not None:
            runtime, self.runtime = self.runtime, None
            await self._call(runtime.close)
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.to_thread(thread.join)
            loop.close()


def _run_forever(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()
