"""Logging: JSON lines to an hourly-rotated file and, headless, to stderr, written by a thread.

The request path only appends a dict to a list (see :mod:`~.listener.request_log`); a batch of
them becomes one record, formatted once however many handlers write it (the rotating
handler's size check reuses the same text).
"""

from __future__ import annotations

import atexit
import gzip
import json
import logging
import logging.handlers
import os
import queue
import shutil
import sys
import time
from collections.abc import Callable

# attr-defined: typeshed leaves out json.encoder's C encoder, the one json.dumps itself uses
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any

from .errors import StartupError

_TEXT = "_k24_text"  # where a record keeps its formatted text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and a record's ``fields``.

    A record carrying ``lines`` (the listener's batched request log) becomes one line each.
    The text is made once per record and kept on it.
    """

    def format(self, record: logging.LogRecord) -> str:
        text = record.__dict__.get(_TEXT)
        if text is None:
            text = self._format(record)
            record.__dict__[_TEXT] = text
        return text

    def _format(self, record: logging.LogRecord) -> str:
        lines = getattr(record, "lines", None)
        if lines is not None:
            return "\n".join(_request_line(record.name, line) for line in lines)
        entry: dict[str, Any] = {
            "ts": _iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


_second = -1
_second_text = ""


def _iso(at: float) -> str:
    """``2026-12-01T21:30:45.123+00:00``: UTC with milliseconds; the seconds part is made
    once a second."""
    global _second, _second_text
    whole = int(at)
    if whole != _second:
        _second, _second_text = whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{_second_text}.{int((at - whole) * 1000):03d}+00:00"


def json_encoder(default: Callable[[Any], Any]) -> Callable[[Any], str]:
    """``json.dumps(value, ensure_ascii=False, default=default)`` as a function of ``value``,
    the same text, with the C encoder made once (``dumps`` makes an encoder per call, a few
    µs of a request). No circular check: what it encodes is a tree built by our code."""
    encode = c_make_encoder(None, default, encode_basestring, None, ": ", ", ", False, False, True)
    return lambda value: "".join(encode(value, 0))


_encode_line = json_encoder(str)  # a line's values that JSON does not have are written as text


def _request_line(logger: str, line: dict[str, Any]) -> str:
    entry = {**line, "ts": _iso(line["ts"]), "level": "info", "logger": logger, "msg": "request"}
    return _encode_line(entry)


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Log files readable by their owner only (each new one after a rollover too)."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


LOG_KEEP_HOURS = 48  # rotated files kept: two days, whatever the traffic


class PrivateTimedRotatingFileHandler(logging.handlers.TimedRotatingFileHandler):
    """A new file every hour, ``LOG_KEEP_HOURS`` kept, each rotated one gzipped, all
    readable by their owner only. Sized by time, not bytes: 4 × 5 MB kept about four
    minutes at 100 payment cycles a second; this keeps two days at any rate (request lines
    compress about tenfold)."""

    def __init__(self, filename: Path, keep_hours: int = LOG_KEEP_HOURS) -> None:
        super().__init__(filename, when="H", interval=1, backupCount=keep_hours, utc=True)
        self.namer = lambda name: f"{name}.gz"
        self.rotator = _gzip_rotated

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def _gzip_rotated(source: str, destination: str) -> None:
    """The rotated file, compressed (fast level: this runs on the logging thread)."""
    fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with (
        open(source, "rb") as plain,
        os.fdopen(fd, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as packed,
    ):
        shutil.copyfileobj(plain, packed, 1024 * 1024)
    os.remove(source)


_listener: logging.handlers.QueueListener | None = None
_records: queue.SimpleQueue[logging.LogRecord] | None = None  # what the logging thread has to write


def configure_logging(log_file: Path | None, *, stderr: bool, level: int = logging.INFO) -> None:
    """JSON lines to an hourly-rotated file and, for headless use only, to stderr.

    Records are handed to a thread through a queue, so the request path never waits on
    formatting or on the disk. :class:`StartupError` when the log file cannot be written.
    """
    global _listener, _records
    stop_logging()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handlers: list[logging.Handler] = []
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            handlers.append(PrivateTimedRotatingFileHandler(log_file))
        except OSError as error:
            raise StartupError(f"cannot write the log file {log_file}: {error.strerror or error}") from None
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
    _records = records
    root.addHandler(_Enqueue(records))
    _listener = logging.handlers.QueueListener(records, *handlers)
    _listener.start()


class _Enqueue(logging.handlers.QueueHandler):
    """Hands the record over with its message merged; the JSON is the logging thread's job,
    done once (the standard handler formats here, and again in each handler)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record.msg, record.args = record.getMessage(), None
        return record


def pending() -> bool:
    """Whether records wait for the logging thread (benchmarks wait for them to be written)."""
    return _records is not None and not _records.empty()


@atexit.register
def stop_logging() -> None:
    """Write out what is queued (at exit, or before logging is set up again)."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None
