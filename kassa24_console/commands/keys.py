"""``kassa24-console keys``: per project, which key (current or previous) signed the recent
requests, and when the previous key ends — never a key itself. The counts are
``rotation.read_key_uses``; ``--json`` is machine output (English keys)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from typing import Any

from ..config import Settings
from ..i18n import _, ngettext
from ..keyring import CURRENT, PREVIOUS
from ..rotation import KeyUse, read_key_uses
from ..runtime import open_store
from ..store import Store
from ..zones import zone as time_zone


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hours", type=float, default=24.0, help=_("how far back to count requests (default 24)"))
    parser.add_argument("--json", action="store_true", help=_("machine-readable output"))


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
    store = Store(settings.store_url, project_id=settings.project_id)
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
            line = ngettext(
                "{key}: {n} request in the last {hours} h, last at {when}",
                "{key}: {n} requests in the last {hours} h, last at {when}",
                n,
            )
            print("  " + line.format(key=words[key], n=n, hours=hours, when=when))
    return 0


def _at(at_us: int, zone: Any) -> str:
    return datetime.fromtimestamp(at_us / 1e6, zone).strftime("%Y-%m-%d %H:%M:%S")
