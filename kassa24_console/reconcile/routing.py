"""Which project each of the platform's operations is of, for ``reconcile``: money never
crosses projects, so each operation is applied to its own project's record only.

An operation names its project (the report's project column, the Data API's answer); one
that names none is the project ``--project`` names, or the one configured. An operation of
a project we do not have was refused with its line when the report was read; one whose
operation id is another project's (in this run or in the store) refuses the whole run."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..i18n import _
from ..store import Store
from ..store.platform import claimed_elsewhere
from .report import Operation, ReportError


def projects_of_run(settings: Any, given: int | None) -> list[int]:
    """The projects a run reconciles: the one ``--project`` names, else every one."""
    return [given] if given is not None else [p.project_id for p in settings.projects]


def route(
    records: Iterable[tuple[str, list[Operation]]], projects: list[int], given: int | None, several: bool
) -> dict[int, list[tuple[str, list[Operation]]]]:
    """Each project's part of each record (``source``, operations), in the records' order.
    Operations of a project the run does not cover (``--project`` names another) are left
    out; one naming no project where several are configured and none was named is refused.

    A record whose operations name their projects (a report's project column) is the
    platform's record of those projects only: a project it never names gets no part of it,
    so its days are not covered by it (a report exported for production says nothing of the
    test project). A record naming none (no project column, or no rows) is the record of
    every project of the run, as it always was."""
    routed: dict[int, list[tuple[str, list[Operation]]]] = {p: [] for p in projects}
    for source, operations in records:
        parts: dict[int, list[Operation]] = {p: [] for p in projects}
        names = any(op.project_id is not None for op in operations)
        for op in operations:
            project = op.project_id if op.project_id is not None else given
            if project is None and not several:
                project = projects[0]
            if project is None:
                raise ReportError(
                    _(
                        "{source}: operation {operation} names no project and several are configured: "
                        "say which with --project ID"
                    ).format(source=source, operation=op.operation_id)
                )
            if project in parts:
                parts[project].append(op)
        for project, mine in parts.items():
            if mine or not names:
                routed[project].append((source, mine))
    return routed


def not_covered(sources: list[str], routed: dict[int, list[tuple[str, list[Operation]]]]) -> dict[int, list[str]]:
    """Per project of the run, the records it got no part of: not that project's record, so
    its days stay without a platform record from them."""
    return {
        project: [s for s in sources if s not in {mine for mine, _ops in parts}] for project, parts in routed.items()
    }


async def foreign_operation(store: Store, routed: dict[int, list[tuple[str, list[Operation]]]]) -> str | None:
    """Why the routed operations cannot be applied, if one project's would take another's:
    an operation id the run gives to two projects, or one stored as another project's. The
    platform's operation ids are its own across projects, so such a record is wrong, and
    applying it would overwrite or match the other project's evidence."""
    owner: dict[str, int] = {}
    for project, records in routed.items():
        for _source, operations in records:
            for op in operations:
                if (first := owner.setdefault(op.operation_id, project)) != project:
                    return _(
                        "operation {operation} is given to project {first} and to project {project}: "
                        "an operation is one project's"
                    ).format(operation=op.operation_id, first=first, project=project)
    for project in routed:
        ids = [operation for operation, theirs in owner.items() if theirs == project]
        if clash := await store.scan(claimed_elsewhere, project, ids):
            operation, other = clash[0]
            return _(
                "operation {operation} is stored as project {other}'s, and this record gives it to project "
                "{project}: an operation is one project's"
            ).format(operation=operation, other=other, project=project)
    return None
