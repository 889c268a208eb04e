"""``kassa24-console keys``: per project, which key (current or previous) signed the recent
requests, and when the previous key ends — never a key itself.

While the platform rotates a project's key, both keys are accepted until
``previous_key_until``; this tells the operator whether the platform still signs with the
old one as that moment comes (the ``key_expiring`` alert says so too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .config import Settings
from .i18n import _
from .keyring import CURRENT, PREVIOUS
from .projects import Project
from .runtime import open_store
from .store import Store, now_us, views
from .store.rows import KeyUseRow
from .zones import zone as time_zone

HOUR_US = 3_600_000_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hours", type=float, default=24.0, help=_("how far back to count requests (default 24)"))
    parser.add_argument("--json", action="store_true", help=_("machine-readable output"))


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


def previous_key_note(use: KeyUse, zone: Any) -> str:
    """The previous key's state in words: none, until when, or refused since when."""
    p = use.project
    if p.previous_secret_key is None:
        return _("no previous key")
    if p.previous_key_until is None:
        return _("previous key accepted (no end set)")
    when = p.previous_key_until.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    if p.previous_accepted():
        return _("previous key accepted until {when}").format(when=when)
    return _("previous key refused since {when}").format(when=when)


def main(args: argparse.Namespace, settings: Settings) -> int:
    if args.hours <= 0:
        print("kassa24-console: " + _("--hours must be above zero"), file=sys.stderr)
        return 2
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    store = Store(settings.database_url, project_id=settings.project_id)
    await open_store(store, settings)
    try:
        uses = await read_key_uses(store, settings, args.hours)
    finally:
        await store.close()
    if args.json:
        sys.stdout.write(json.dumps([use.as_dict() for use in uses], ensure_ascii=False, indent=2) + "\n")
        return 0
    zone = time_zone(settings.timezone)
    words = {CURRENT: _("current key"), PREVIOUS: _("previous key")}
    hours = f"{args.hours:g}"
    for use in uses:
        p = use.project
        title = p.label + (" · " + _("TEST") if p.test else "")
        print(f"{title}: {previous_key_note(use, zone)}")
        for key in (CURRENT, PREVIOUS):
            if key == PREVIOUS and p.previous_secret_key is None and key not in use.uses:
                continue
            n, last = use.uses.get(key, (0, None))
            when = _at(last, zone) if last is not None else "–"
            line = _("{key}: {n} requests in the last {hours} h, last at {when}")
            print("  " + line.format(key=words[key], n=n, hours=hours, when=when))
    return 0


def _iso(at_us: int | None) -> str | None:
    return None if at_us is None else datetime.fromtimestamp(at_us / 1e6, UTC).isoformat(timespec="seconds")


def _at(at_us: int, zone: Any) -> str:
    return datetime.fromtimestamp(at_us / 1e6, zone).strftime("%Y-%m-%d %H:%M:%S")
