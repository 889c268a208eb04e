"""Payment ids: unique across restarts and processes with no coordination.

48 bits of milliseconds then 80 random bits (the ULID layout), in Crockford base32, so ids
sort by issue time and two processes sharing a database cannot collide in practice; the
primary key is the backstop.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "k24_"


_PAIRS = [high + low for high in _ALPHABET for low in _ALPHABET]  # ten bits, two digits
_SHIFTS = range(120, -1, -10)  # 26 digits (130 bits, the top two zero), two at a time


_POOL_BYTES = 4000  # random bytes drawn from the system at a time (400 ids)
_pool = b""
_taken = 0
_lock = threading.Lock()


def _forget_pool() -> None:
    """A forked process must never hand out its parent's random bytes (the same ids)."""
    global _pool, _taken, _lock
    _pool, _taken, _lock = b"", 0, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def _random80() -> int:
    """80 random bits from the system's source, drawn in batches (a system call each id
    cost more than making the id); never the same bytes twice, whatever thread asks."""
    global _pool, _taken
    with _lock:
        if _taken + 10 > len(_pool):
            _pool, _taken = os.urandom(_POOL_BYTES), 0
        start = _taken
        _taken = start + 10
        return int.from_bytes(_pool[start : start + 10], "big")


def new_payment_id() -> str:
    value = (time.time_ns() // 1_000_000) << 80 | _random80()
    return PREFIX + "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])
