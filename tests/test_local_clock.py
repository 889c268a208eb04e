"""The local clock a month's rows are put on days with: the same day, time and UTC moment as
``zoneinfo`` moment by moment, across Almaty's 2024-03-01 change (+06 → +05 at midnight,
an hour that happens twice), across midnight, and in zones whose changes fall mid-hour."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from kassa24_console.zones import LocalClock, zone

ALMATY = zone("Asia/Almaty")


def _exact(at: int, where) -> datetime:
    return datetime.fromtimestamp(at / 1e6, where)


def _moments(first: datetime, hours: int, step_seconds: int) -> list[int]:
    start = int(first.timestamp()) * 1_000_000
    return [start + i * step_seconds * 1_000_000 + i % 7 for i in range(hours * 3600 // step_seconds)]


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("Asia/Almaty", datetime(2024, 2, 29, 12, 0)),  # the +06 → +05 change at local midnight
        ("Asia/Almaty", datetime(2026, 11, 27, 22, 0)),  # an ordinary midnight
        ("Europe/Berlin", datetime(2026, 3, 29, 0, 0)),  # summer time: an hour skipped
        ("Europe/Berlin", datetime(2026, 10, 25, 0, 0)),  # and an hour twice
        ("Australia/Lord_Howe", datetime(2026, 4, 5, 0, 0)),  # a change of half an hour
        ("Asia/Kathmandu", datetime(1985, 12, 31, 22, 0)),  # +05:30 → +05:45 at midnight
    ],
)
def test_days_and_times_are_zoneinfos(name: str, first: datetime) -> None:
    where = zone(name)
    clock = LocalClock(where)
    moments = _moments(first.replace(tzinfo=where), 30, 37)
    for at in moments:
        exact = _exact(at, where)
        assert clock.date(at) == exact.date(), at
        assert clock.day(at) == exact.date().isoformat(), at
        assert clock.date_and_time(at) == (exact.date(), time(exact.hour, exact.minute, exact.second)), at


def test_the_almaty_change_moves_midnight_by_an_hour() -> None:
    clock = LocalClock(ALMATY)
    before = int(datetime(2024, 2, 29, 17, 59, 59, tzinfo=zone("UTC")).timestamp()) * 1_000_000
    # 17:59:59 UTC is 23:59:59 at +06 on the 29th; an hour later it is 23:59:59 again, at +05.
    assert clock.date_and_time(before) == (date(2024, 2, 29), time(23, 59, 59))
    assert clock.date_and_time(before + 3_600_000_000) == (date(2024, 2, 29), time(23, 59, 59))
    assert clock.date_and_time(before + 3_601_000_000) == (date(2024, 3, 1), time(0, 0, 0))
    # Since then midnight in Almaty is 19:00 UTC: 18:59:59 UTC is still the day before.
    late = int(datetime(2026, 11, 27, 18, 59, 59, tzinfo=zone("UTC")).timestamp()) * 1_000_000
    assert clock.day(late) == "2026-11-27"
    assert clock.day(late + 1_000_000) == "2026-11-28"


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("Asia/Almaty", datetime(2024, 2, 29, 12, 0)),
        ("Asia/Almaty", datetime(2026, 11, 27, 22, 0)),
        ("Europe/Berlin", datetime(2026, 3, 29, 0, 0)),
        ("Europe/Berlin", datetime(2026, 10, 25, 0, 0)),
        ("Australia/Lord_Howe", datetime(2026, 4, 5, 0, 0)),
        ("Australia/Lord_Howe", datetime(2026, 10, 4, 0, 0)),
    ],
)
def test_local_times_to_utc_are_zoneinfos(name: str, first: datetime) -> None:
    """Every local second written in a report (skipped and repeated ones too) gives the
    moment ``replace(tzinfo=zone).timestamp()`` gives (``fold=0``)."""
    where = zone(name)
    clock = LocalClock(where)
    for i in range(0, 30 * 3600, 23):
        moment = first + timedelta(seconds=i, microseconds=i % 1000)
        exact = int(moment.replace(tzinfo=where).timestamp()) * 1_000_000 + moment.microsecond
        assert clock.utc(moment) == exact, moment
