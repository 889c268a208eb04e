"""How many of ``serve``'s listener processes run, shared by the supervisor and every worker.

A page of memory mapped before the workers are forked: the supervisor writes the count
when a worker dies or is replaced, and each worker's ``/healthz`` and ``/metrics`` read it.
One process (no workers) has no census: it is its own one worker.
"""

from __future__ import annotations

import mmap
import struct

_FORMAT = "ii"  # running, configured
_page: mmap.mmap | None = None


def share(configured: int) -> None:
    """Before forking: the shared page, every worker counted as running."""
    global _page
    _page = mmap.mmap(-1, mmap.PAGESIZE)
    set_running(configured, configured)


def set_running(running: int, configured: int) -> None:
    if _page is not None:
        _page[: struct.calcsize(_FORMAT)] = struct.pack(_FORMAT, running, configured)


def shared() -> bool:
    """Whether this process is one of several (serve with workers)."""
    return _page is not None


def workers() -> tuple[int, int]:
    """(running, configured); (1, 1) for a single process."""
    if _page is None:
        return 1, 1
    running, configured = struct.unpack(_FORMAT, _page[: struct.calcsize(_FORMAT)])
    return running, configured
