"""Which project a signed body belongs to, and which of its keys signed it.

A body is routed by its ``project_id`` and checked with that project's key only, then with
its previous key while that is still accepted (``previous_key_until``): a key signs for its
own project and no other. A body naming no project of ours is checked against each current
key, so that one our key signed is answered as a wrong project (as with one project), and
any other as a bad signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .projects import Project
from .protocol import signature

CURRENT, PREVIOUS = "current", "previous"


@dataclass(frozen=True)
class Match:
    """How a body's signature fared, for which project (None: not one of ours), with which key."""

    check: signature.Check
    project: Project | None = None
    key_used: str | None = None  # current | previous, when it verified

    @property
    def ok(self) -> bool:
        return self.check.ok


def project_of(data: dict[str, Any]) -> int | None:
    """The body's ``project_id`` as a number (a digit string too), else None."""
    value = data.get("project_id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


class Keyring:
    """The configured projects' keys, each made ready for HMAC once."""

    def __init__(self, projects: list[Project]) -> None:
        self._entries: dict[int, tuple[Project, signature.Key, signature.Key | None]] = {}
        for project in projects:
            previous = project.previous_secret
            self._entries[project.project_id] = (
                project,
                signature.Key(project.secret),
                signature.Key(previous) if previous is not None else None,
            )

    def project(self, project_id: int | None) -> Project | None:
        entry = self._entries.get(project_id) if project_id is not None else None
        return entry[0] if entry is not None else None

    def check(self, data: dict[str, Any], at_us: int | None = None) -> Match:
        """The body's project, and whether (and with which of its keys) it is signed."""
        named = project_of(data)  # None: no project named, so no key
        entry = self._entries.get(named) if named is not None else None
        if entry is not None:
            project, current, previous = entry
            result = signature.check(data, current)
            if result.ok:
                return Match(result, project, CURRENT)
            if previous is not None and project.previous_accepted(at_us):
                again = signature.check(data, previous)
                if again.ok:
                    return Match(again, project, PREVIOUS)
            return Match(result, project)
        first: signature.Check | None = None
        for _, current, _ in self._entries.values():
            result = signature.check(data, current)
            if result.ok:
                return Match(result)  # signed by a key of ours for a project not ours
            first = first or result
        return Match(first or signature.Check(None))
