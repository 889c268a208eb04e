"""Is the platform's record believable? An empty (or nearly empty) record for days on which
we have paid deposits is more often a wrong project id, wrong credentials, a wrong period or
a report filtered on another project than a month of lost payments: applied, it would turn
every paid deposit into a finding. It is stopped, with the likely causes, until the operator
says to apply it anyway (``--accept-empty``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from ..store import reconciliation as sr
from ..zones import HOUR_US, LocalClock
from . import rules

if TYPE_CHECKING:
    from .report import Operation

EPOCH, DAY_US = date(1970, 1, 1), 24 * HOUR_US  # as LocalClock counts days
NEARLY_EMPTY = 0.1  # a record with fewer operations than this share of our paid deposits
NEARLY_EMPTY_FROM = 20  # … once we have at least this many (a quiet day proves nothing)


def paid_by_day(connection: Connection, days: list[str], zone: ZoneInfo, project: int) -> dict[str, int]:
    """How many of the project's deposits of each day are paid (counted by the database, day by day)."""
    counts = {}
    for day in days:
        first = date.fromisoformat(day)
        start, end = rules.day_start(first, zone), rules.day_start(first + timedelta(days=1), zone)
        counts[day] = sr.paid_count(connection, start, end, project)
    return counts


def doubt(operations: list[Operation], paid: dict[str, int], zone: ZoneInfo, project_id: int) -> str | None:
    """Why a record of ``operations`` looks empty for days we have ``paid`` deposits on
    (a one-paragraph message naming the likely causes), or None when it looks believable."""
    ours = sum(paid.values())
    if not ours:
        return None
    # Counted by local day number (a month is 100 000 operations): each day named once.
    numbers: dict[int, int] = {}
    local = LocalClock(zone).local
    for op in operations:
        at = op.created_at
        if at is None:
            return None  # undated operations cannot be put on days: nothing to judge by
        number = local(at) // DAY_US
        numbers[number] = numbers.get(number, 0) + 1
    dated = {(EPOCH + timedelta(days=number)).isoformat(): count for number, count in numbers.items()}
    silent = [day for day, count in sorted(paid.items()) if count and not dated.get(day)]
    if silent:
        missing = sum(paid[day] for day in silent)
        shown = silent[0] if len(silent) == 1 else f"{silent[0]} … {silent[-1]} ({len(silent)} days)"
        what = f"no operations for {shown}, where we have {missing} paid deposits"
    elif ours >= NEARLY_EMPTY_FROM and len(operations) < ours * NEARLY_EMPTY:
        what = f"only {len(operations)} operations where we have {ours} paid deposits"
    else:
        return None
    return (
        f"the platform's record has {what}: more likely a wrong project id (ours is {project_id}), wrong Data API "
        "credentials, a wrong period, or a report exported for another project (its project column) than lost "
        "payments; check those, or apply it anyway with --accept-empty"
    )
