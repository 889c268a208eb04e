"""What ``kassa24-console reconcile`` prints: the summary as a person reads it, tables and
sentences in the operator's language, money by the one formatter (``180 750,00 ₸``); and
``--format json`` / ``csv``, machine outputs that stay in English."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from ..config import Settings
from ..findings import Thresholds
from ..i18n import N_, _, ngettext
from ..money import format_moment, format_money, format_share
from ..reconcile.summary import Sides, Summary
from ..reconcile.words import action_text, kind_name, word
from ..store.reconciliation import MismatchRow, SignedPeriodRow

Run = tuple[int, Summary, list[MismatchRow], list[SignedPeriodRow]]  # a project's summary, open rows, sign-offs

AGES = {
    "≤ 1 min": N_("≤ 1 min"),
    "≤ 1 h": N_("≤ 1 h"),
    "≤ 1 day": N_("≤ 1 day"),
    "≤ 36 days": N_("≤ 36 days"),
    "expired": N_("expired"),
}


def payments(count: int) -> str:
    """``1 платёж``, ``2 платежа``, ``5 платежей``."""
    return ngettext("{count} payment", "{count} payments", count).format(count=count)


def signed_lines(signed: list[SignedPeriodRow], zone: ZoneInfo) -> list[tuple[str, bool]]:
    """Each signed-off period touching the summary as (sentence, reopened)."""
    lines = []
    for p in signed:
        start = datetime.fromtimestamp(p.start_at / 1e6, zone).date().isoformat()
        at = format_moment(p.signed_at, zone)
        line = _("signed off from {start} by {who} at {at}").format(start=start, who=p.signed_by, at=at)
        if p.reopened_at:
            when = format_moment(p.reopened_at, zone)
            line += " — " + _("reopened after sign-off at {when}: {reason}").format(when=when, reason=p.reopened_reason)
        lines.append((line, bool(p.reopened_at)))
    return lines


def print_table(
    summary: Summary,
    rows: list[MismatchRow],
    signed: list[SignedPeriodRow],
    zone: ZoneInfo,
    out: Console,
    limits: Thresholds | None = None,
) -> None:
    period, sides = summary.period, summary.sides
    found = sum(c for c, _count in summary.by_kind().values())
    title = _("Reconciliation {period}: {found} found, {open} open").format(
        period=period.label, found=found, open=len(rows)
    )
    table = Table(title=title)
    table.add_column(_("kind"))
    table.add_column(_("count"), justify="right")
    table.add_column(_("amount involved"), justify="right")
    for kind, (count, total) in sorted(summary.by_kind().items()):
        table.add_row(kind_name(kind), str(count), format_money(total))
    out.print(table)
    if sides is not None:
        print_sides(sides, out)
    for source in summary.records_of_others:
        out.print(
            _(
                "{source} has no operation of project {project}: not its record, those days are not reconciled by it"
            ).format(source=source, project=period.project),
            style="yellow",
            highlight=False,
        )
    for day in summary.uncovered:
        out.print(
            _("no platform record for {day}: import its report or fetch it with --data-api").format(day=day),
            style="yellow",
            highlight=False,
        )
    for line, reopened in signed_lines(signed, zone):
        out.print(line, highlight=False, markup=False, style="bold red" if reopened else "green")
    for r in rows:
        out.print(
            f"#{r.id} {kind_name(r.kind)} {r.payment_id or ''}: {json.dumps(r.evidence, ensure_ascii=False)}",
            markup=False,
            highlight=False,
        )
        out.print(f"    → {action_text(r, limits)}", markup=False, highlight=False, style="dim")


def print_sides(sides: Sides, out: Console) -> None:
    table = Table(title=_("Both sides"))
    for column, right in ((_("side"), False), (_("status"), False), (_("count"), True), (_("sum"), True)):
        table.add_column(column, justify="right" if right else "left")
    for side, values in (("ours", sides.ours), ("platform", sides.platform)):
        for status, (count, total) in sorted(values.items()):
            table.add_row(word(side), word(status), str(count), format_money(total))
    if sides.reversals[0]:
        table.add_row(
            word("platform"), _("refunds/reversals"), str(sides.reversals[0]), format_money(sides.reversals[1])
        )
    out.print(table)
    out.print(
        _(
            "matched {matched} of {compared} ({rate}); paid: ours {ours}, platform {platform}, difference {difference}"
        ).format(
            matched=sides.matched,
            compared=sides.compared,
            rate=format_share(sides.match_rate),
            ours=format_money(sides.ours_paid),
            platform=format_money(sides.platform_paid),
            difference=format_money(sides.difference),
        ),
        highlight=False,
    )
    for direction, day, count, total in sides.carried_by_day():
        sentence = (
            _("carried to {day}: {payments}, {sum}")
            if direction == "to"
            else _("carried from {day}: {payments}, {sum}")
        )
        out.print(sentence.format(day=day, payments=payments(count), sum=format_money(total)), highlight=False)
    for retry in sides.retries():
        sentence = (
            _("retried on {day}: {payment} unpaid here, paid there as {paid}")
            if retry.direction == "to"
            else _("retry from {day}: {payment} unpaid there, paid here as {paid}")
        )
        out.print(sentence.format(day=retry.day, payment=retry.payment_id, paid=retry.paid_as), highlight=False)
    if sides.carried:
        after = format_money(sides.difference_after_carried)
        out.print(_("difference after carried items: {sum}").format(sum=after), highlight=False)
    if sides.pending_by_age:
        ages = ", ".join(f"{_(AGES.get(label, label))}: {count}" for label, count in sides.pending_by_age.items())
        out.print(_("pending deposits by age: {ages}").format(ages=ages), highlight=False)
    if sides.unit_hint:
        out.print(_("hint: {hint}").format(hint=sides.unit_hint), style="bold yellow", highlight=False)


def payload(summary: Summary, rows: list[MismatchRow], signed: list[SignedPeriodRow], zone: ZoneInfo) -> dict[str, Any]:
    period, sides = summary.period, summary.sides
    return {
        "period": period.label,
        "found": {k: {"count": c, "sum": s} for k, (c, s) in sorted(summary.by_kind().items())},
        "open": [
            {"id": r.id, "kind": r.kind, "payment_id": r.payment_id, "evidence": r.evidence, "action": r.action}
            for r in rows
        ],
        "no_platform_record": summary.uncovered,
        "records": summary.records,
        "records_of_other_projects": summary.records_of_others,
        "sides": sides.as_dict() if sides else None,
        "signed": signed_text(signed, zone),
    }


def signed_text(signed: list[SignedPeriodRow], zone: ZoneInfo) -> list[str]:
    lines = []
    for p in signed:
        start = datetime.fromtimestamp(p.start_at / 1e6, zone).date()
        at = datetime.fromtimestamp(p.signed_at / 1e6, zone).strftime("%Y-%m-%d %H:%M")
        line = f"signed off from {start} by {p.signed_by} at {at}"
        if p.reopened_at:
            when = datetime.fromtimestamp(p.reopened_at / 1e6, zone).strftime("%Y-%m-%d %H:%M")
            line += f" — reopened after sign-off at {when}: {p.reopened_reason}"
        lines.append(line)
    return lines


def print_runs(fmt: str, runs: list[Run], settings: Settings, zone: ZoneInfo, out: Console) -> None:
    """Each project's summary; with one project, as before projects."""
    limits = Thresholds.of(settings)
    if len(runs) == 1:
        _project, summary, rows, signed = runs[0]
        _print(fmt, summary, rows, signed, zone, out, limits)
        return
    if fmt == "json":
        payloads = [{"project": p, **payload(s, rows, signed, zone)} for p, s, rows, signed in runs]
        print(json.dumps({"projects": payloads}, ensure_ascii=False, indent=2))
        return
    if fmt == "csv":  # one table for programs: each finding with its project
        writer = csv.writer(sys.stdout)
        writer.writerow(["project", *CSV_COLUMNS])
        for project, _summary, rows, _signed in runs:
            writer.writerows([project, *_csv_row(r)] for r in rows)
        return
    for project, summary, rows, signed in runs:
        if fmt == "table":
            named = settings.project(project)
            out.print(
                _("Project {project}").format(project=named.label if named else project), style="bold", highlight=False
            )
        _print(fmt, summary, rows, signed, zone, out, limits)


def _print(
    fmt: str,
    summary: Summary,
    rows: list[MismatchRow],
    signed: list[SignedPeriodRow],
    zone: ZoneInfo,
    out: Console,
    limits: Thresholds,
) -> None:
    if fmt == "json":
        print(json.dumps(payload(summary, rows, signed, zone), ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(_csv_row(r) for r in rows)
        return
    print_table(summary, rows, signed, zone, out, limits)


CSV_COLUMNS = ("id", "kind", "payment_id", "state", "evidence", "action")


def _csv_row(r: MismatchRow) -> list[object]:
    return [r.id, r.kind, r.payment_id or "", r.state, json.dumps(r.evidence, ensure_ascii=False), r.action]
