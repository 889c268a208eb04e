"""The header's counters: requests per minute (the sparkline), requests and errors in the
last 60 seconds, open mismatches, active alerts. Kept as running totals of the traffic rows seen since
the last look, and not looked at again while nothing is committed and nothing is left to
age out of the last minute."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from ..i18n import _
from ..store import Store, now_us, views
from ..store import alerts as store_alerts

RATE_MINUTES = 30


class Rates:
    def __init__(self) -> None:
        self._after: int | None = None  # the last traffic id counted
        self._per_minute: dict[int, tuple[int, int]] = {}
        self.shown: tuple[Any, ...] = ()  # (per minute, last 60 s, open mismatches, active alerts)
        self.read_at: tuple[Any, ...] = ()  # (traffic, mismatches and alerts stamp, minute) last read at

    async def read(self, store: Store) -> tuple[list[int], tuple[int, int], int, int] | None:
        """What the header should show now, or None when it shows it already."""
        minute_now = now_us() // 60_000_000
        stamp = await store.stamp(("traffic", "mismatches", "alerts"))
        quiet = len(self.shown) == 4 and self.shown[1] == (0, 0)  # nothing to age out
        if stamp is not None and (stamp, minute_now) == self.read_at and quiet:
            return None  # no traffic, finding or alert written, nothing in the last minute, same minute
        before = self.read_at[0] if self.read_at else None

        def moved(index: int) -> bool:
            return stamp is None or before is None or before[index] != stamp[index] or len(self.shown) != 4

        self.read_at = (stamp, minute_now)
        if self._after is None:
            self._after = await store.scan(views.first_traffic_id_since, (minute_now - RATE_MINUTES) * 60_000_000)
        self._after, counts = await store.scan(views.traffic_counts_after, self._after)
        for minute, (total, failed) in counts.items():
            seen = self._per_minute.get(minute, (0, 0))
            self._per_minute[minute] = (seen[0] + total, seen[1] + failed)
        first = minute_now - RATE_MINUTES + 1
        self._per_minute = {m: c for m, c in self._per_minute.items() if m >= first}
        requests = [self._per_minute.get(m, (0, 0))[0] for m in range(first, minute_now + 1)]
        open_count = await store.scan(views.open_mismatch_count) if moved(1) else self.shown[2]
        alert_count = await store.scan(store_alerts.active_count) if moved(2) else self.shown[3]
        last_minute = await store.scan(views.traffic_last_seconds, now_us() - 60_000_000)
        if (requests, last_minute, open_count, alert_count) == self.shown:
            return None
        self.shown = (requests, last_minute, open_count, alert_count)
        return requests, last_minute, open_count, alert_count


def counters_text(last_minute: tuple[int, int], open_count: int, alert_count: int = 0) -> Text:
    return Text.assemble(
        (_("alerts") + " ", "dim"),
        (str(alert_count), "bold white on red" if alert_count else "bold"),
        " │ ",
        (_("req/60 s") + " ", "dim"),
        (str(last_minute[0]), "bold"),
        " │ ",
        (_("errors/60 s") + " ", "dim"),
        (str(last_minute[1]), "bold red" if last_minute[1] else "bold"),
        " │ ",
        (_("open mismatches") + " ", "dim"),
        (str(open_count), "bold yellow" if open_count else "bold"),
        " │ ",
        (_("requests, last {minutes} min").format(minutes=RATE_MINUTES) + " ", "dim"),
    )
