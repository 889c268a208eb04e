"""``kassa24-console serve``: the listener headless, logging to stderr; with ``KASSA24_WORKERS``
above one, several processes on one port."""

from __future__ import annotations

import asyncio
import logging
import signal

from ..config import Settings
from ..errors import StartupError
from ..logs import configure_logging
from ..store import display_url

log = logging.getLogger("kassa24_console")


class KeyRefused(StartupError):
    """The key must not face a network (the public demo key off loopback)."""


def serve(settings: Settings) -> int:
    """The ``serve`` command: one process, or ``settings.workers`` of them."""
    if settings.workers > 1:
        return _serve_workers(settings)
    configure_logging(settings.log_file, stderr=True)
    from ..runtime import run_loop

    return run_loop(_serve_one(settings))


async def _serve_one(settings: Settings, *, shared_port: bool = False) -> int:
    from .. import alerts
    from ..listener import ListenError
    from ..runtime import DEMO_KEY_WARNING, Runtime

    # Signals first: a SIGTERM that arrives while we start must still mean "stop cleanly".
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if problem := settings.key_problem(said=True):
        raise KeyRefused(problem)
    runtime = Runtime(settings, shared_port=shared_port)
    if settings.uses_demo_key:
        log.warning(DEMO_KEY_WARNING)
    if warning := settings.key_warning():
        log.warning("%s", warning)
    try:
        await runtime.open()
        await runtime.listener.start()
    except ListenError as error:
        log.error("%s", error)
        await runtime.store.close()
        return 1
    runtime.start_pruning()
    alerter = alerts.start(runtime)
    projects = ", ".join(
        f"{p.project_id}{' (test)' if p.test else ''} option {p.response_option}" for p in settings.projects
    )
    log.info(
        "listening on http://%s:%d (project %s, database %s)",
        settings.host,
        runtime.listener.port,
        projects,
        display_url(settings.store_url),
    )
    await stop.wait()
    log.info("stopping: finishing in-flight requests")
    await alerter.close()
    await runtime.close()
    log.info("stopped")
    return 0


def _serve_workers(settings: Settings) -> int:
    """``serve`` as several processes on one port (``KASSA24_WORKERS``)."""
    from .. import workers
    from ..listener import ListenError
    from ..runtime import Runtime

    if problem := settings.key_problem(said=True):
        raise KeyRefused(problem)

    async def prepare() -> None:  # schema and demo data once, before any worker starts
        runtime = Runtime(settings)
        await runtime.open()
        await runtime.store.close()

    asyncio.run(prepare())

    def one_worker(own: Settings) -> int:
        configure_logging(own.log_file, stderr=True)
        from ..runtime import run_loop

        return run_loop(_serve_one(own, shared_port=True))

    try:
        return workers.run(settings, one_worker)
    except ListenError as error:
        raise StartupError(str(error)) from None
