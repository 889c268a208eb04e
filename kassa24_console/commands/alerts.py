"""``kassa24-console alerts``: ``test`` sends a message through each configured URL and says
whether it was delivered; ``list`` prints the active and recent alerts (``--format json``).
Channels appear as scheme and host only: the URLs hold secrets."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..alerts.channels import channels, send_all
from ..alerts.words import event_word, rule_name, title_text
from ..config import Settings
from ..i18n import N_, _, ngettext
from ..runtime import open_store
from ..store import Store
from ..store import alerts as sa

TEST_TITLE = N_("kassa24: test message")
TEST_RETRY_SECONDS = 1.0
TEST_TEXT = N_("A test of the alert channels of kassa24-console. If you read this, alerts reach you here.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["test", "list"], help=_("test: send through every URL; list: the alerts"))
    parser.add_argument("--format", choices=["text", "json"], default="text", help=_("list: how to print"))
    parser.add_argument("--recent", type=int, default=20, help=_("list: how many resolved alerts (default 20)"))


def main(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "test":
        return asyncio.run(_test(settings))
    return asyncio.run(_list(settings, args.format, max(args.recent, 0)))


async def _test(settings: Settings) -> int:
    targets = channels([u.get_secret_value() for u in settings.alert_urls])
    if not targets:
        print("kassa24-console: " + _("no alert URLs configured (alert_urls, KASSA24_ALERT_URLS)"), file=sys.stderr)
        return 2
    # Someone is waiting at the terminal: one retry, soon, rather than the alerter's patience.
    outcomes = await send_all(targets, _(TEST_TITLE), _(TEST_TEXT), attempts=2, backoff=TEST_RETRY_SECONDS)
    for number, outcome in enumerate(outcomes, 1):
        if outcome.ok:
            print(f"{number}. {outcome.channel}: " + _("delivered"))
        else:
            print(f"{number}. {outcome.channel}: " + _("NOT delivered ({error})").format(error=outcome.error))
    failed = sum(not o.ok for o in outcomes)
    if failed:
        print(_("{failed} of {n} alert URLs did not deliver").format(failed=failed, n=len(outcomes)), file=sys.stderr)
    return 1 if failed else 0


async def _list(settings: Settings, form: str, recent: int) -> int:
    store = Store(settings.store_url, project_id=settings.project_id)
    await open_store(store, settings)
    try:
        active, resolved = await store.scan(sa.listing, recent)
        sent = await store.scan(sa.deliveries_of, [row.id for row in (*active, *resolved)])
    finally:
        await store.close()
    zone = ZoneInfo(settings.timezone)
    items = [_item(row, sent, zone) for row in (*active, *resolved)]
    if form == "json":
        shown = {"active": items[: len(active)], "recent": items[len(active) :]}
        print(json.dumps(shown, ensure_ascii=False, indent=2))
        return 0
    print(_("active alerts: {n}").format(n=len(active)))
    for item in items[: len(active)]:
        _print(item)
    print(_("recently resolved: {n}").format(n=len(resolved)))
    for item in items[len(active) :]:
        _print(item)
    return 0


def _item(row: sa.AlertRow, sent: Sequence[sa.DeliveryRow], zone: ZoneInfo) -> dict[str, Any]:
    def when(at: int | None) -> str | None:
        return None if at is None else datetime.fromtimestamp(at / 1_000_000, zone).isoformat(timespec="seconds")

    return {
        "id": row.id,
        "rule": row.rule,
        "key": row.key,
        "title": row.title,
        "text": row.text,
        "active": row.active_key is not None,
        "started_at": when(row.started_at),
        "last_sent_at": when(row.last_sent_at),
        "sends": row.sends,
        "resolved_at": when(row.resolved_at),
        "acknowledged_by": row.acked_by,
        "acknowledged_at": when(row.acked_at),
        "acknowledge_note": row.ack_note,
        "deliveries": [
            {
                "event": d.event,
                "channel": d.channel,
                "ok": d.ok,
                "attempts": d.attempts,
                "error": d.error,
                "at": when(d.at),
            }
            for d in sent
            if d.alert_id == row.id
        ],
    }


def _print(item: dict[str, Any]) -> None:
    state = _("resolved {at}").format(at=item["resolved_at"]) if not item["active"] else _("active")
    if item["acknowledged_by"]:
        state += ", " + _("acknowledged by {who}: {note}").format(
            who=item["acknowledged_by"], note=item["acknowledge_note"]
        )
    title = title_text(item["title"])
    since = _("since {at}").format(at=item["started_at"])
    print(f"  #{item['id']} {rule_name(item['rule'])}: {title} ({since}, {state})")
    for line in item["text"].splitlines():
        print(f"      {line}")
    for d in item["deliveries"]:
        result = (
            _("delivered")
            if d["ok"]
            else ngettext(
                "NOT delivered after {n} attempt ({error})", "NOT delivered after {n} attempts ({error})", d["attempts"]
            ).format(n=d["attempts"], error=d["error"])
        )
        print(f"      {event_word(d['event'])} → {d['channel']}: {result}")
