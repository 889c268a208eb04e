"""The header's projects: each named with its id (a test project marked), and a warning
while a project's previous key still signs requests near its end (key rotation)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..config import Settings
from ..i18n import _
from ..store import Store, now_us, views

LOOKBACK_US = 3600 * 1_000_000  # the previous key "still in use": signed a request within the hour
EVERY = 30.0  # seconds between two looks (an index range of the last hour's previous-key traffic)


def projects_text(settings: Settings) -> str:
    """One project: its id and response option (as before); several: each one's name and id."""
    projects = settings.projects
    if len(projects) <= 1:
        option = projects[0].response_option if projects else settings.response_option
        return _("project {project} │ option {option}").format(project=settings.project_id, option=option)
    names = [" ".join(filter(None, (p.name, str(p.project_id), _("TEST") if p.test else ""))) for p in projects]
    return _("projects: {projects}").format(projects=" · ".join(names))


def ending(settings: Settings, now: int) -> list[Any]:
    """Projects whose previous key ends within the alert's lead time (and has not yet)."""
    lead = int(settings.alert_key_expiring_hours * 3600 * 1_000_000)
    return [p for p in settings.projects if p.previous_until_us is not None and 0 < p.previous_until_us - now <= lead]


async def key_note(store: Store, settings: Settings, zone: Any) -> str | None:
    """ "previous key of production (4242) still in use, ends 2026-12-31 00:00", or None."""
    now = now_us()
    near = ending(settings, now)
    if not near:
        return None
    rows = await store.read(views.key_use, now - LOOKBACK_US, ("previous",))
    used = {row.project_id for row in rows}
    notes = []
    for project in near:
        if project.project_id in used:
            when = datetime.fromtimestamp(project.previous_until_us / 1e6, zone).strftime("%Y-%m-%d %H:%M")
            notes.append(
                _("previous key of {project} still in use, ends {when}").format(project=project.label, when=when)
            )
    return "; ".join(notes) or None
