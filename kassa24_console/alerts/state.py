"""What the console and the commands do with alert state: list it, acknowledge an alert."""

from __future__ import annotations

from dataclasses import dataclass

from ..edits import EditRejected, os_user
from ..i18n import _
from ..store import Store, now_us
from ..store import alerts as sa
from ..store.alerts import AlertRow, DeliveryRow


@dataclass
class Listing:
    active: list[AlertRow]
    recent: list[AlertRow]
    deliveries: dict[int, list[DeliveryRow]]  # alert id → what each channel did, in order


async def listing(store: Store, recent: int = 50, project: int | None = None) -> Listing:
    """Active alerts (oldest first), the ``recent`` latest resolved, and their deliveries;
    with ``project``, that project's and the whole install's."""
    active, resolved = await store.scan(sa.listing, recent, project)
    sent = await store.scan(sa.deliveries_of, [row.id for row in (*active, *resolved)])
    by_alert: dict[int, list[DeliveryRow]] = {}
    for row in sent:
        if row.alert_id is not None:  # deliveries_of reads those of these alerts only
            by_alert.setdefault(row.alert_id, []).append(row)
    return Listing(active, resolved, by_alert)


async def acknowledge(store: Store, alert_id: int, note: str, actor: str | None = None) -> None:
    """No more repeats of an active alert until it resolves; the note goes to the audit.
    :class:`EditRejected` without a note, or when the alert is no longer active or was
    acknowledged already (by someone else, in the meantime)."""
    if not note.strip():
        raise EditRejected(_("note: say who is looking into it, or why it can wait"))
    who = actor or os_user()
    done = await store.write(lambda c: sa.acknowledge(c, alert_id, who, note.strip(), now_us()))
    if not done:
        raise EditRejected(_("alert {id} is no longer active, or was acknowledged already").format(id=alert_id))
