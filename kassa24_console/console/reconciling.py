"""Reconciliation from the console, in a process of its own.

The rules are pure Python over a day of records: run in the console's loop (or a thread of
its process) they would hold the interpreter the embedded listener needs. A child process
(``kassa24-console reconcile --format json``) keeps the listener's latency where it was.

The child reads its settings from the environment: the single values below, and every
configured project (``KASSA24_PROJECTS``, as JSON), so it reconciles each project the console
knows, or the one its filter shows (``--project``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from pydantic import SecretStr

from ..config import RECONCILE_THRESHOLDS, Settings
from ..i18n import _

# What the rules depend on, handed to the child as the environment it reads settings from.
PASSED = ("database_url", "timezone", "monthly_limit", *RECONCILE_THRESHOLDS, "log_file")
# A project's fields the child needs: its keys only because a project without one is refused
# (the child signs nothing); the *_file fields were already read into the keys.
PROJECT_FIELDS = ("project_id", "name", "test", "secret_key", "previous_secret_key", "previous_key_until")


def child_environment(settings: Settings) -> dict[str, str]:
    """The console's environment without its KASSA24_* settings, and the settings the child needs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA24_")}
    env.update({f"KASSA24_{name.upper()}": str(getattr(settings, name)) for name in PASSED})
    projects = [{name: _plain(getattr(p, name)) for name in PROJECT_FIELDS} for p in settings.projects]
    env["KASSA24_PROJECTS"] = json.dumps([{k: v for k, v in p.items() if v is not None} for p in projects])
    return env


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value.isoformat() if hasattr(value, "isoformat") else value


async def reconcile_elsewhere(settings: Settings, day: str, project: int | None = None) -> list[dict[str, Any]]:
    """Reconcile ``day`` for every project (or ``project``): one summary per project."""
    chosen = ["--project", str(project)] if project is not None else []
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kassa24_console",
        "reconcile",
        "--from",
        day,
        *chosen,
        "--format",
        "json",
        env=child_environment(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode not in (0, 1):
        said = err.decode("utf-8", "replace").strip()[:300]
        raise RuntimeError(_("reconciliation failed: {error}").format(error=said))
    found: dict[str, Any] = json.loads(out)
    return found.get("projects", [found])  # one project: its summary alone
