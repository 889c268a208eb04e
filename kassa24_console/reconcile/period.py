"""A reconciliation period: whole local days of one project, and the months it touches."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from . import rules


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC µs, from whole local days in the configured zone."""

    start: int
    end: int
    label: str
    first: date | None = None
    last: date | None = None
    # Whose period: a project's (money never crosses projects), and the first project, whose
    # rows from before projects name none. 0: the store's first project.
    project: int = 0
    default: int = 0

    def of(self, project: int, default: int) -> Period:
        """The same days, of ``project``."""
        return replace(self, project=project, default=default)

    @property
    def scope(self) -> dict[str, int]:
        """The parameters :func:`store.periods.of_project` reads."""
        return {"project": self.project, "default": self.default}

    @classmethod
    def of_days(cls, first: date, last: date, zone: ZoneInfo) -> Period:
        end = rules.day_start(last + timedelta(days=1), zone)
        return cls(rules.day_start(first, zone), end, f"{first} … {last}", first, last)

    @property
    def days(self) -> list[str]:
        if self.first is None or self.last is None:
            return []
        count = (self.last - self.first).days + 1
        return [(self.first + timedelta(days=i)).isoformat() for i in range(count)]


@dataclass(frozen=True)
class Month:
    """The part of a calendar month (in the zone) up to the period's end: ``[start, end)``."""

    label: str  # YYYY-MM
    start: int
    end: int


def months_of(period: Period, zone: ZoneInfo) -> list[Month]:
    """The months the period touches, each from its first day to the period's end at most."""
    found: list[Month] = []
    for at in (period.start, max(period.start, period.end - 1)):
        local = datetime.fromtimestamp(at / 1e6, zone)
        first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = (first + timedelta(days=32)).replace(day=1)
        end = min(int(following.timestamp() * 1e6), period.end)
        month = Month(first.strftime("%Y-%m"), int(first.timestamp() * 1e6), end)
        if month not in found:
            found.append(month)
    return found
