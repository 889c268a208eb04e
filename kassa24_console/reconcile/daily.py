"""Both sides' records day by day, for the act of reconciliation: our paid deposits and the
platform's successful sales of each local day (count and sum, counted by the database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from ..protocol.codes import SUCCESS
from ..store import queries as q
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
    d, o = q.deposits, q.operations
    paid_sum = func.coalesce(func.sum(func.coalesce(d.c.paid_amount, d.c.amount)), 0)
    sales = [t for t in rules.SALE_TYPES]
    result = []
    for text in days:
        first = date.fromisoformat(text)
        start, end = rules.day_start(first, zone), rules.day_start(first + timedelta(days=1), zone)
        ours = connection.execute(
            select(func.count(), paid_sum).where(
                (d.c.project_id + 0) == project, d.c.state == "paid", d.c.created_at >= start, d.c.created_at < end
            )
        ).one()
        theirs = connection.execute(
            select(func.count(), func.coalesce(func.sum(o.c.amount), 0)).where(
                func.coalesce(o.c.project_id, default) == project,
                o.c.status == SUCCESS,
                o.c.type.in_(sales),
                o.c.created_at >= start,
                o.c.created_at < end,
            )
        ).one()
        result.append(Day(first, int(ours[0]), int(ours[1]), int(theirs[0]), int(theirs[1])))
    return result
