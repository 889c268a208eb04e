"""Both sides' records day by day, for the act of reconciliation: our paid deposits and the
platform's successful sales of each local day (count and sum, counted by the database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from ..protocol.codes import SUCCESS
from ..store import reconciliation as sr
from . import rules


@dataclass(frozen=True)
class Day:
    day: date
    ours_count: int
    ours_sum: int
    platform_count: int
    platform_sum: int

    @property
    def difference(self) -> int:
        return self.ours_sum - self.platform_sum


def turnover_by_day(connection: Connection, days: list[str], zone: ZoneInfo, project: int, default: int) -> list[Day]:
    """The project's days (operations that name no project are the first project's, ``default``)."""
    result = []
    for text in days:
        first = date.fromisoformat(text)
        start, end = rules.day_start(first, zone), rules.day_start(first + timedelta(days=1), zone)
        day = sr.day_turnover(connection, start, end, project, default, rules.SALE_TYPES, SUCCESS)
        result.append(Day(first, day.ours_count, day.ours_sum, day.platform_count, day.platform_sum))
    return result
