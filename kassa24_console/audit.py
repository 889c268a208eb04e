"""Who or what changed what and when, old → new, with the note: the audit as data.

Kinds keep the history honest: ``edit`` (an operator, by OS user), ``payment`` (a callback
credited; the cause is the payment id), ``import`` (the cause is the file), ``resolve`` and
``reopen`` (a mismatch, with the note), ``sign_off`` (a period). ``kassa24-console audit``
(``commands/audit.py``) prints it.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from .store import Store
from .store.changes import AuditEntry, history

COLUMNS = ("at", "kind", "actor", "entity", "entity_id", "field", "old", "new", "note", "cause")


async def read(
    store: Store,
    zone: ZoneInfo,
    *,
    contract: str | None = None,
    customer: str | None = None,
    since: date | None = None,
    project: int | None = None,
) -> list[AuditEntry]:
    """The changes, oldest first: one contract's, an account's and its contracts', from a day
    on (midnight in ``zone``), one project's; all when nothing is named."""
    start = None if since is None else int(datetime.combine(since, time.min, zone).timestamp() * 1e6)
    return await store.scan(
        lambda connection: history(connection, contract=contract, customer=customer, since=start, project=project)
    )


def as_dict(row: AuditEntry, zone: ZoneInfo) -> dict[str, Any]:
    """One change as machine output (JSON, CSV): English keys, the time in ``zone``, ISO."""
    entry = {name: getattr(row, name) for name in COLUMNS}
    entry["at"] = datetime.fromtimestamp(row.at / 1e6, zone).isoformat(timespec="seconds")
    return entry
