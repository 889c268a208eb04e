"""Per project, which key (current or previous) signed the recent requests, and when the
previous key ends — never a key itself (``kassa24-console keys``, ``commands/keys.py``, prints it).

While the platform rotates a project's key, both keys are accepted until
``previous_key_until``; this tells the operator whether the platform still signs with the
old one as that moment comes (the ``key_expiring`` alert says so too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .config import Settings
from .keyring import CURRENT, PREVIOUS
from .projects import Project
from .store import Store, now_us, views
from .store.rows import KeyUseRow

HOUR_US = 3_600_000_000


@dataclass(frozen=True)
class KeyUse:
    """One project's keys as the recent traffic used them."""

    project: Project
    uses: dict[str, tuple[int, int | None]]  # key → (requests, last used at, UTC µs)

    @property
    def previous_in_use(self) -> bool:
        return self.uses.get(PREVIOUS, (0, None))[0] > 0

    def as_dict(self) -> dict[str, Any]:
        """Machine output (``--json``): ids, counts and times, no key."""
        p = self.project
        entry: dict[str, Any] = {"project_id": p.project_id, "name": p.name, "test": p.test}
        for key in (CURRENT, PREVIOUS):
            n, last = self.uses.get(key, (0, None))
            entry[key] = {"requests": n, "last_used": _iso(last)}
        entry["has_previous_key"] = p.previous_secret_key is not None
        entry["previous_key_until"] = p.previous_key_until.isoformat() if p.previous_key_until else None
        entry["previous_key_accepted"] = p.previous_accepted()
        return entry


def key_uses(settings: Settings, rows: list[KeyUseRow]) -> list[KeyUse]:
    """The configured projects (in order) with the traffic's counts per key."""
    counted: dict[int | None, dict[str, tuple[int, int | None]]] = {}
    for row in rows:
        counted.setdefault(row.project_id, {})[row.key_used] = (int(row.n), row.last_at)
    return [KeyUse(p, counted.get(p.project_id, {})) for p in settings.projects]


async def read_key_uses(store: Store, settings: Settings, hours: float) -> list[KeyUse]:
    since = now_us() - int(hours * HOUR_US)
    return key_uses(settings, await store.scan(views.key_use, since))


def _iso(at_us: int | None) -> str | None:
    return None if at_us is None else datetime.fromtimestamp(at_us / 1e6, UTC).isoformat(timespec="seconds")
