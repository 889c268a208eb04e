"""Each pane's project filter: all projects or one, ``P`` cycling all → each project → all.
With one project configured nothing of it shows (no key, no column, no note)."""

from __future__ import annotations

from typing import Any, Protocol

from rich.text import Text
from textual.binding import Binding

from ..i18n import N_, _

BINDING = Binding("P", "cycle_project", N_("Project"), show=False, tooltip=N_("all projects, or one (P cycles)"))
COLUMN = (N_("Project"), "project", 8)


def following(settings: Any, current: int | None) -> int | None:
    """The next in all → each project → all."""
    ids = [p.project_id for p in settings.projects]
    if current is None or current not in ids:
        return ids[0] if ids else None
    at = ids.index(current) + 1
    return ids[at] if at < len(ids) else None


def note(settings: Any, current: int | None) -> str:
    """`` · project: all`` or the project's name and id, for a pane's hint; empty with one project."""
    if not settings.several:
        return ""
    project = settings.project(current) if current is not None else None
    shown = project.label if project is not None else _("all")
    return " · " + _("P project: {project}").format(project=shown)


class OfProject(Protocol):
    """A row that names its project (None: about the whole install, or from before projects)."""

    @property
    def project_id(self) -> int | None: ...


def cell(row: OfProject) -> Text:
    project = row.project_id
    return Text("" if project is None else str(project), justify="right")
