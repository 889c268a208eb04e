"""Time zones from the ``tzdata`` package, never from the system's database.

The system's database ages with the machine: one from before 2024 still has Asia/Almaty at
+06, and a payment at 23:30 then lands on the next day. ``zoneinfo`` reads the system's
files first (``PYTHONTZPATH`` or the compiled-in path) and ``tzdata`` only as a fallback;
here it is the other way round, so every workstation running this version agrees on every
day boundary. A name that is not a zone is a ``ValueError`` with a one-line reason.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

from .errors import InputError

_NAME = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")


class UnknownZone(InputError):
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


HOUR_US = 3_600_000_000
_EPOCH = date(1970, 1, 1)
_Date = date  # inside LocalClock, ``date`` names its method: annotations there use this


class LocalClock:
    """Local days and times of UTC moments in one zone, for a month of rows at once.

    ``datetime.fromtimestamp(at, zone)`` per row is most of an export's time and of a report's
    read. A zone's offset changes at most once in an hour, so each UTC hour's offset is
    looked up once (and checked at both ends of the hour: an hour a change falls in is
    computed exactly, moment by moment); the rest is integer arithmetic, and each day's
    date and each second's time of day are made once."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._offsets: dict[int, int | None] = {}
        self._dates: dict[int, date] = {}
        self._times: dict[int, time] = {}
        self._starts: dict[tuple[int, int, int, int], int | None] = {}

    def _offset(self, hour: int) -> int | None:
        """The zone's offset (µs) through the UTC hour ``hour``, or None if it changes in it."""
        start = datetime.fromtimestamp(hour * 3600, self.zone).utcoffset()
        end = datetime.fromtimestamp(hour * 3600 + 3599, self.zone).utcoffset()
        found = None if start != end or start is None else start // timedelta(microseconds=1)
        self._offsets[hour] = found
        return found

    def local(self, at: int) -> int:
        """``at`` (UTC µs) as local microseconds since 1970-01-01 00:00 local."""
        hour = at // HOUR_US
        offset = self._offsets[hour] if hour in self._offsets else self._offset(hour)
        if offset is None:
            moment = datetime.fromtimestamp(at // 1_000_000, self.zone)
            delta = moment.utcoffset()
            assert delta is not None  # an aware datetime of a ZoneInfo always has an offset
            offset = delta // timedelta(microseconds=1)
        return at + offset

    def date(self, at: int) -> date:
        """The local day ``at`` (UTC µs) falls on."""
        number = self.local(at) // (24 * HOUR_US)
        found = self._dates.get(number)
        if found is None:
            found = self._dates[number] = _EPOCH + timedelta(days=number)
        return found

    def day(self, at: int) -> str:
        """The local day as YYYY-MM-DD."""
        return self.date(at).isoformat()

    def date_and_time(self, at: int) -> tuple[_Date, time]:
        """The local day and time of day (to the second) of ``at``."""
        local = self.local(at)
        number, rest = divmod(local, 24 * HOUR_US)
        found = self._dates.get(number)
        if found is None:
            found = self._dates[number] = _EPOCH + timedelta(days=number)
        second = rest // 1_000_000
        clock = self._times.get(second)
        if clock is None:
            clock = self._times[second] = time(second // 3600, second // 60 % 60, second % 60)
        return found, clock

    def utc(self, moment: datetime) -> int:
        """A naive local ``moment`` as UTC epoch seconds × 10⁶ plus its microseconds, as
        ``int(moment.replace(tzinfo=zone).timestamp()) * 1_000_000 + moment.microsecond``
        (an ambiguous or skipped time taken as ``fold=0`` does): the local hour's start is
        found once, checked against the hour's end."""
        key = (moment.year, moment.month, moment.day, moment.hour)
        start = self._starts[key] if key in self._starts else self._hour_start(key)
        if start is None:
            return int(moment.replace(tzinfo=self.zone).timestamp()) * 1_000_000 + moment.microsecond
        return (start + moment.minute * 60 + moment.second) * 1_000_000 + moment.microsecond

    def _hour_start(self, key: tuple[int, int, int, int]) -> int | None:
        """The local hour ``key`` starts at this UTC epoch second, when the zone's offset is
        the same through the hour (and the hour is after 1970); else None."""
        first = datetime(*key, tzinfo=self.zone)
        last = first.replace(minute=59, second=59)
        start = int(first.timestamp())
        found = start if first.utcoffset() == last.utcoffset() and start >= 0 else None
        self._starts[key] = found
        return found
