"""One process's parts wired together: store → service → listener, and its logging."""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import importer
from .config import Settings
from .listener import App, Listener
from .service import Service
from .store import Store

log = logging.getLogger(__name__)

DEMO_KEY_WARNING = "using the built-in demo secret key: set KASSA24_SECRET_KEY before real traffic"


class Runtime:
    """The store, the service and the (not yet started) listener of one project."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(
            settings.database_url,
            flush_interval=settings.traffic_flush_interval,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            max_pages=settings.sqlite_max_pages,
        )
        self.service = Service(settings, self.store)
        self.app = App(settings, self.service, self.store)
        self.listener = Listener(self.app, settings.host, settings.port, settings)

    async def open(self) -> None:
        """Open the store; a fresh database in demo mode gets the demo accounts."""
        fresh = await self.store.open()
        if fresh and self.settings.uses_demo_key:
            path = importer.demo_file()
            accounts, contracts = await importer.apply(self.store, importer.read_file(path), actor="demo")
            log.info("loaded demo data: %d accounts, %d contracts", accounts, contracts)

    async def close(self) -> None:
        await self.listener.stop()
        self.app.flush_request_log()
        await self.store.close()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and a record's ``fields``.

    A record carrying ``lines`` (the listener's batched request log) becomes one line each.
    """

    def format(self, record: logging.LogRecord) -> str:
        lines = getattr(record, "lines", None)
        if lines is not None:
            return "\n".join(self._request_line(record, line) for line in lines)
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)

    @staticmethod
    def _request_line(record: logging.LogRecord, line: dict[str, Any]) -> str:
        at = datetime.fromtimestamp(line["ts"], UTC).isoformat(timespec="milliseconds")
        entry = {**line, "ts": at, "level": "info", "logger": record.name, "msg": "request"}
        return json.dumps(entry, ensure_ascii=False, default=str)


_listener: logging.handlers.QueueListener | None = None


def configure_logging(log_file: Path | None, *, stderr: bool, level: int = logging.INFO) -> None:
    """JSON lines to a size-capped file and, for headless use only, to stderr.

    Records are handed to a thread through a queue, so the request path never waits on
    formatting or on the disk.
    """
    global _listener
    _stop_logging()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handlers: list[logging.Handler] = []
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.handlers.RotatingFileHandler(log_file, maxBytes=5_000_000, backupCount=3))
        except OSError:
            pass  # a log we cannot write must not stop the listener
    if stderr:
        handlers.append(logging.StreamHandler(sys.stderr))
    root.setLevel(level)
    if not handlers:
        root.addHandler(logging.NullHandler())  # never Python's last-resort print to the screen
        return
    formatter = JsonFormatter()
    for handler in handlers:
        handler.setFormatter(formatter)
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    root.addHandler(logging.handlers.QueueHandler(records))
    _listener = logging.handlers.QueueListener(records, *handlers)
    _listener.start()


@atexit.register
def _stop_logging() -> None:
    """Write out what is queued (at exit, or before logging is set up again)."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None
