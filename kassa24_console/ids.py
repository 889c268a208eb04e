"""Payment ids: unique across restarts and processes with no coordination.

48 bits of milliseconds then 80 random bits (the ULID layout), in Crockford base32, so ids
sort by issue time and two processes sharing a database cannot collide in practice; the
primary key is the backstop.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "k24_"


def new_payment_id() -> str:
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return PREFIX + "".join(reversed(chars))
