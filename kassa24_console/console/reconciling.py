"""Reconciliation from the console, in a process of its own, and the periods it shows.

The rules are pure Python over a day of records: run in the console's loop (or a thread of
its process) they would hold the interpreter the embedded listener needs. A child process
(``kassa24-console reconcile --format json``) keeps the listener's latency where it was.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from sqlalchemy import Connection, select

from ..config import RECONCILE_THRESHOLDS, Settings
from ..i18n import _
from ..store import queries as q

# What the rules depend on, handed to the child as the environment it reads settings from.
PASSED = ("database_url", "timezone", "monthly_limit", *RECONCILE_THRESHOLDS, "log_file")


async def reconcile_elsewhere(settings: Settings, day: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA24_")}
    env.update({f"KASSA24_{name.upper()}": str(getattr(settings, name)) for name in PASSED})
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kassa24_console.cli",
        "reconcile",
        "--from",
        day,
        "--format",
        "json",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode not in (0, 1):
        said = err.decode("utf-8", "replace").strip()[:300]
        raise RuntimeError(_("reconciliation failed: {error}").format(error=said))
    return json.loads(out)


def periods_to_show(connection: Connection, limit: int = 3) -> list[Any]:
    """The latest signed periods, those reopened after sign-off first."""
    p = q.periods
    query = select(p).order_by(p.c.reopened_at.is_(None), p.c.signed_at.desc()).limit(limit)
    return connection.execute(query).all()


def history_of_mismatch(connection: Connection, mismatch_id: int) -> list[Any]:
    """Every resolve and reopen of a mismatch, oldest first."""
    a = q.audit
    query = select(a).where(a.c.entity == "mismatch", a.c.entity_id == str(mismatch_id)).order_by(a.c.at, a.c.id)
    return connection.execute(query).all()
