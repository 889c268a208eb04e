"""``kassa24-console alerts``: ``test`` sends a message through each configured URL and says
whether it was delivered; ``list`` prints the active and recent alerts (``--format json``).
Channels appear as scheme and host only: the URLs hold secrets."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..config import Settings
from ..runtime import open_store
from ..store import Store
from ..store import alerts as sa
from .channels import channels, send_all

TEST_TITLE = "kassa24: test message"
TEST_RETRY_SECONDS = 1.0
TEST_TEXT = "A test of the alert channels of kassa24-console. If you read this, alerts reach you here."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["test", "list"], help="test: send through every URL; list: the alerts")
    parser.add_argument("--format", choices=["text", "json"], default="text", help="list: how to print")
    parser.add_argument("--recent", type=int, default=20, help="list: how many resolved alerts (default 20)")


def main(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "test":
        return asyncio.run(_test(settings))
    return asyncio.run(_list(settings, args.format, max(args.recent, 0)))


async def _test(settings: Settings) -> int:
    targets = channels([u.get_secret_value() for u in settings.alert_urls])
    if not targets:
        print("kassa24-console: no alert URLs configured (alert_urls, KASSA24_ALERT_URLS)", file=sys.stderr)
        return 2
    # Someone is waiting at the terminal: one retry, soon, rather than the alerter's patience.
    outcomes = await send_all(targets, TEST_TITLE, TEST_TEXT, attempts=2, backoff=TEST_RETRY_SECONDS)
    for number, outcome in enumerate(outcomes, 1):
        if outcome.ok:
            print(f"{number}. {outcome.channel}: delivered")
        else:
            print(f"{number}. {outcome.channel}: NOT delivered ({outcome.error})")
    failed = sum(not o.ok for o in outcomes)
    if failed:
        print(f"{failed} of {len(outcomes)} alert URLs did not deliver", file=sys.stderr)
    return 1 if failed else 0


async def _list(settings: Settings, form: str, recent: int) -> int:
    store = Store(settings.database_url, project_id=settings.project_id)
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
    print(f"active alerts: {len(active)}")
    for item in items[: len(active)]:
        _print(item)
    print(f"recently resolved: {len(resolved)}")
    for item in items[len(active) :]:
        _print(item)
    return 0


def _item(row: Any, sent: list[Any], zone: ZoneInfo) -> dict[str, Any]:
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
    state = f"resolved {item['resolved_at']}" if not item["active"] else "active"
    if item["acknowledged_by"]:
        state += f", acknowledged by {item['acknowledged_by']}: {item['acknowledge_note']}"
    print(f"  #{item['id']} {item['rule']}: {item['title']} (since {item['started_at']}, {state})")
    for line in item["text"].splitlines():
        print(f"      {line}")
    for d in item["deliveries"]:
        result = "delivered" if d["ok"] else f"NOT delivered after {d['attempts']} attempts ({d['error']})"
        print(f"      {d['event']} → {d['channel']}: {result}")
