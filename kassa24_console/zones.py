"""Time zones from the ``tzdata`` package, never from the system's database.

The system's database ages with the machine: one from before 2024 still has Asia/Almaty at
+06, and a payment at 23:30 then lands on the next day. ``zoneinfo`` reads the system's
files first (``PYTHONTZPATH`` or the compiled-in path) and ``tzdata`` only as a fallback;
here it is the other way round, so every workstation running this version agrees on every
day boundary. A name that is not a zone is a ``ValueError`` with a one-line reason.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

_NAME = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")


class UnknownZone(ValueError):
    """Not a time-zone name of the IANA database (the text says which, and what is meant)."""


@cache
def zone(name: str) -> ZoneInfo:
    """The zone called ``name`` (``Asia/Almaty``), from the ``tzdata`` package."""
    unknown = UnknownZone(f"unknown time zone {name!r}: use an IANA name such as Asia/Almaty")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise unknown
    source = resources.files("tzdata").joinpath("zoneinfo", *name.split("/"))
    if not source.is_file():
        raise unknown
    with source.open("rb") as handle:
        try:
            return ZoneInfo.from_file(handle, key=name)
        except ValueError:
            raise unknown from None
