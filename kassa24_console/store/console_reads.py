"""Reads only the console makes beside its pages (:mod:`.views`): the signed periods above the
Mismatches pane, and one mismatch's resolve/reopen history."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, select

from .queries import audit, periods


class SignedPeriod(NamedTuple):
    """A signed period as the Mismatches pane shows it."""

    project_id: int
    start_at: int
    end_at: int
    signed_by: str
    signed_at: int
    reopened_at: int | None
    reopened_reason: str | None


class MismatchEntry(NamedTuple):
    """One resolve or reopen of a mismatch: who, when, with which note."""

    at: int
    kind: str
    actor: str
    note: str


def periods_to_show(connection: Connection, limit: int = 3, project: int | None = None) -> list[SignedPeriod]:
    """The latest signed periods (of ``project``, or of every project), those reopened after
    sign-off first."""
    p = periods
    query = select(
        p.c.project_id, p.c.start_at, p.c.end_at, p.c.signed_by, p.c.signed_at, p.c.reopened_at, p.c.reopened_reason
    )
    if project is not None:
        query = query.where(p.c.project_id == project)
    query = query.order_by(p.c.reopened_at.is_(None), p.c.signed_at.desc()).limit(limit)
    return [SignedPeriod(*row) for row in connection.execute(query)]


def history_of_mismatch(connection: Connection, mismatch_id: int) -> list[MismatchEntry]:
    """Every resolve and reopen of a mismatch, oldest first."""
    a = audit
    query = (
        select(a.c.at, a.c.kind, a.c.actor, a.c.note)
        .where(a.c.entity == "mismatch", a.c.entity_id == str(mismatch_id))
        .order_by(a.c.at, a.c.id)
    )
    return [MismatchEntry(*row) for row in connection.execute(query)]
