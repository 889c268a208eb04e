"""``kassa24-console reconcile``: import the platform's record, compare, work the list, sign.

The options and the run; what it prints is ``reconcile_show``."""

from __future__ import annotations

import argparse
import asyncio
import gc
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console

from .. import edits
from ..config import Settings
from ..i18n import _
from ..money import format_money
from ..projects import project_problem
from ..reconcile import corrections, export, plausible
from ..reconcile.act import write_act
from ..reconcile.daily import turnover_by_day
from ..reconcile.data_api import DataApi, DataApiError
from ..reconcile.engine import (
    Period,
    SignOffRefused,
    reconcile,
    sign_off,
    signed_periods,
    store_operations,
    touching,
)
from ..reconcile.export import AMOUNT_FORMS, EXPORT_SUFFIXES
from ..reconcile.report import Operation, ReportError, read_csv
from ..reconcile.routing import foreign_operation, not_covered, projects_of_run, route
from ..reconcile.summary import Summary
from ..runtime import open_store
from ..store import Store, export_reads
from ..store import reconciliation as sr
from ..store.reconciliation import SignedPeriodRow
from ..zones import zone as time_zone
from .reconcile_show import print_runs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--report",
        type=Path,
        action="append",
        default=[],
        metavar="FILE.csv",
        help=_(
            "a Dashboard CSV export (columns mapped by report_columns in the config); "
            "without --from, the days it covers are reconciled"
        ),
    )
    parser.add_argument("--data-api", action="store_true", help=_("fetch the period from the platform's Data API"))
    parser.add_argument(
        "--from", dest="first", type=date.fromisoformat, help=_("first day, YYYY-MM-DD (default today)")
    )
    parser.add_argument("--to", dest="last", type=date.fromisoformat, help=_("last day, inclusive (default: --from)"))
    parser.add_argument(
        "--accept-empty",
        action="store_true",
        help=_("apply a platform record that is empty (or nearly) for days we have paid deposits on"),
    )
    parser.add_argument(
        "--format",
        choices=["table", "json", "csv"],
        default="table",
        help=_("table for people; json and csv for programs (English keys)"),
    )
    parser.add_argument("--resolve", type=int, metavar="ID", help=_("resolve mismatch ID (with --note)"))
    parser.add_argument("--reopen", type=int, metavar="ID", help=_("reopen mismatch ID"))
    parser.add_argument("--close-deposit", metavar="PAYMENT_ID", help=_("close an unpaid deposit (with --note)"))
    parser.add_argument(
        "--credit-deposit", metavar="PAYMENT_ID", help=_("credit a deposit the platform shows paid (with --operation)")
    )
    parser.add_argument("--operation", metavar="ID", help=_("the platform's operation that proves the payment"))
    parser.add_argument("--note", default="", help=_("what was done about it, and why"))
    parser.add_argument(
        "--sign-off", action="store_true", help=_("sign the period off (refused, saying why, if it can't)")
    )
    parser.add_argument("--export", type=Path, metavar="FILE", help=_("one row per operation, .xlsx or .csv"))
    parser.add_argument(
        "--amounts",
        choices=AMOUNT_FORMS,
        help=_(
            "CSV export amounts: comma (1111,00 with ;), point (1111.00 with ,) or minor units "
            "(default: export_amounts in the config, comma)"
        ),
    )
    parser.add_argument("--act", type=Path, metavar="FILE.xlsx", help=_("the act of reconciliation of a signed period"))
    parser.add_argument(
        "--project",
        type=int,
        metavar="ID",
        help=_("reconcile this project only (default: each project; required for --sign-off, --act and --export)"),
    )


def main(args: argparse.Namespace, settings: Settings) -> int:
    """One command, start to end, with the cyclic garbage collector paused: a month is
    hundreds of thousands of rows and operations made and kept at once, each making the
    collector walk everything alive again (a quarter of the command's time), and what the
    command makes it frees by reference counting or at its end."""
    gc.freeze()  # what the imports made is never garbage: not walked again
    gc.disable()
    try:
        return asyncio.run(_run(args, settings))
    finally:
        gc.enable()
        gc.unfreeze()  # called in a longer process (a test): collected as before


def _report(path: Path, settings: Settings) -> list[Operation]:
    return read_csv(
        path,
        settings.report_columns,
        unit=settings.report_amount_unit,
        date_format=settings.report_date_format,
        timezone=settings.report_timezone,
        encoding=settings.report_encoding,
        statuses=settings.report_statuses,
        types=settings.report_types,
        projects=[p.project_id for p in settings.projects],
    )


def _period(args: argparse.Namespace, reports: list[list[Operation]], zone: ZoneInfo) -> Period:
    """--from/--to; else the days the reports cover; else today."""
    if args.first is not None:
        return Period.of_days(args.first, args.last or args.first, zone)
    if args.report:
        times = [op.created_at for ops in reports for op in ops if op.created_at is not None]
        if not times:
            raise ReportError(_("the report holds no dated operations: say which days it covers with --from/--to"))
        days = [datetime.fromtimestamp(t / 1e6, zone).date() for t in times]
        return Period.of_days(min(days), max(days), zone)
    today = datetime.now(zone).date()
    return Period.of_days(today, today, zone)


def _argument_problem(args: argparse.Namespace, settings: Settings) -> str | None:
    """Arguments that would read as an answer they are not (an empty reversed period, an
    XLSX named .pdf): refused before anything is read or written."""
    if args.first is not None and args.last is not None and args.last < args.first:
        return _("--to {last} is before --from {first}: no day lies between them").format(
            last=args.last, first=args.first
        )
    if args.last is not None and args.first is None:
        return _("--to needs --from: say the first day too")
    if args.export is not None and args.export.suffix.lower() not in EXPORT_SUFFIXES:
        suffix = repr(args.export.suffix or "(none)")
        return _("--export {path}: unknown format {suffix}: name a .xlsx or .csv file").format(
            path=args.export, suffix=suffix
        )
    if args.act is not None and args.act.suffix.lower() != ".xlsx":
        return _("--act {path}: the act is written as XLSX: name a .xlsx file").format(path=args.act)
    if args.project is not None or args.sign_off or args.act or args.export:
        return project_problem(settings, args.project)  # one project's sign-off, act, export
    return None


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    zone = time_zone(settings.timezone)
    if problem := _argument_problem(args, settings):
        err.print(f"reconcile: {problem}", markup=False, highlight=False)
        return 2
    try:
        reports = [_report(path, settings) for path in args.report]
        period = _period(args, reports, zone)
    except ReportError as error:
        err.print(_("report refused, nothing applied: {error}").format(error=error), markup=False, highlight=False)
        return 2
    store = Store(settings.store_url, project_id=settings.project_id)
    await open_store(store, settings, demo=True)  # a new demo database comes with its history
    try:
        if (work := await _work(store, args, out)) is not None:
            return work
        projects = projects_of_run(settings, args.project)
        records = [(f"csv:{path.name}", operations) for path, operations in zip(args.report, reports, strict=True)]
        try:
            routed = route(records, projects, args.project, settings.several)
        except ReportError as error:
            err.print(_("report refused, nothing applied: {error}").format(error=error), markup=False, highlight=False)
            return 2
        others = not_covered([source for source, _operations in records], routed)  # named other projects only
        records.clear()
        reports.clear()
        if args.data_api:  # each project's own request, with its own credentials
            for project in projects:
                routed[project].append(("data-api", await _fetch(settings, period, project)))
        if foreign := await foreign_operation(store, routed):  # never another project's operation
            refused = _("platform record refused, nothing applied: {doubt}").format(doubt=foreign)
            err.print(refused, markup=False, highlight=False)
            return 2
        for project in projects if not args.accept_empty else ():
            if routed[project] and (doubt := await _doubt(store, routed[project], period, settings, project)):
                err.print(
                    _("platform record refused, nothing applied: {doubt}").format(doubt=doubt),
                    markup=False,
                    highlight=False,
                )
                return 2
        applied = {project: [source for source, _operations in routed[project]] for project in projects}
        for project in projects:
            for source, operations in routed.pop(project):
                await store_operations(store, operations, source, period.days, project=project)
        # stored: a month of them need not stay in memory beside the comparison
        runs = []
        for project in projects:
            summary = await reconcile(store, settings, period, project=project)
            summary.records, summary.records_of_others = applied[project], others[project]
            rows = await store.scan(sr.mismatches_by_id, summary.open_ids)
            signed = await store.scan(signed_periods, period.start, period.end, project)
            runs.append((project, summary, rows, signed))
        print_runs(args.format, runs, settings, zone, out)
        project, summary, rows, signed = runs[0]  # the one project sign-off, act and export are of
        if args.export:
            scope = (summary.period.project, summary.period.default)
            exported = await store.scan(export.operation_rows, period.start, period.end, zone, *scope)
            export.write_operations(args.export, exported, zone, args.amounts or settings.export_amounts)
            out.print(
                _("operations of {period} written to {path}").format(period=period.label, path=args.export),
                highlight=False,
            )
        if args.sign_off:
            await sign_off(store, period, project=project)
            out.print(_("period {period} signed off").format(period=period.label), highlight=False)
            signed = await store.scan(signed_periods, period.start, period.end, project)
        if args.act:
            return await _act(store, args.act, summary.period, signed, summary, zone, out, err, settings.merchant_name)
        return 1 if any(rows or summary.uncovered for _project, summary, rows, _signed in runs) else 0
    except DataApiError as error:
        err.print(_("Data API: {error}; nothing applied").format(error=error), markup=False, highlight=False)
        return 2
    except SignOffRefused as error:
        err.print(
            _("sign-off of {period} refused: {error}").format(period=period.label, error=error),
            markup=False,
            highlight=False,
        )
        return 1
    except edits.EditRejected as error:
        err.print(str(error), markup=False, highlight=False)
        return 2
    finally:
        await store.close()


async def _doubt(
    store: Store, records: list[tuple[str, list[Operation]]], period: Period, settings: Settings, project: int
) -> str | None:
    """Why the project's platform record looks empty for days we have paid deposits on, if it does."""
    zone = time_zone(settings.timezone)
    paid = await store.scan(plausible.paid_by_day, period.days, zone, project)
    return plausible.doubt([op for _source, ops in records for op in ops], paid, zone, project)


async def _fetch(settings: Settings, period: Period, project_id: int) -> list[Operation]:
    """The project's operations of the period, asked with the project's Data API credentials;
    each the project's (one the platform says is another's is left out)."""
    project = settings.project(project_id)
    assert project is not None, "a configured project"
    if project.data_api_token is None or project.data_api_secret is None:
        raise DataApiError("set KASSA24_DATA_API_TOKEN and KASSA24_DATA_API_SECRET")
    zone = time_zone(settings.timezone)
    api = DataApi(
        base_url=settings.data_api_url,
        token=project.data_api_token.get_secret_value(),
        secret=project.data_api_secret.get_secret_value(),
        keys=settings.data_api_keys,
        fields=settings.data_api_fields,
        timeout=settings.data_api_timeout,
        amount_unit=settings.data_api_amount_unit,
        timezone=settings.timezone,
        project_id=project_id,
        types=settings.report_types,
    )
    start = datetime.fromtimestamp(period.start / 1e6, zone).replace(tzinfo=None)
    end = datetime.fromtimestamp(period.end / 1e6, zone).replace(tzinfo=None)
    found = await api.operations(start, end)
    return [
        op if op.project_id is not None else replace(op, project_id=project_id)
        for op in found
        if op.project_id in (None, project_id)
    ]


async def _work(store: Store, args: argparse.Namespace, out: Console) -> int | None:
    """Resolve, reopen or correct one thing, when asked; None when not asked."""
    if args.resolve is not None or args.reopen is not None:
        reopen = args.reopen is not None
        target = args.reopen if reopen else args.resolve
        await edits.resolve_mismatch(store, target, args.note, reopen=reopen)
        done = _("mismatch {id} reopened") if reopen else _("mismatch {id} resolved")
        out.print(done.format(id=target), highlight=False)
        return 0
    if args.close_deposit:
        await corrections.close_deposit(store, args.close_deposit, args.note)
        out.print(_("deposit {id} closed").format(id=args.close_deposit), highlight=False)
        return 0
    if args.credit_deposit:
        if not args.operation:
            raise edits.EditRejected(_("--credit-deposit needs --operation: the platform's operation that proves it"))
        amount = await corrections.credit_deposit(store, args.credit_deposit, args.operation, args.note)
        out.print(
            _("deposit {id} credited {sum} on operation {operation}").format(
                id=args.credit_deposit, sum=format_money(amount), operation=args.operation
            ),
            highlight=False,
        )
        return 0
    return None


async def _act(
    store: Store,
    path: Path,
    period: Period,
    signed: list[SignedPeriodRow],
    summary: Summary,
    zone: ZoneInfo,
    out: Console,
    err: Console,
    merchant: str,
) -> int:
    exact = next((p for p in signed if p.start_at == period.start and p.end_at == period.end), None)
    if exact is None:
        err.print(
            _("no act: {period} is not signed off (--sign-off first)").format(period=period.label),
            markup=False,
            highlight=False,
        )
        return 1
    findings = await store.scan(lambda c: sr.mismatches_by_id(c, touching(c, period, open_only=False)))
    corrections = await store.scan(export_reads.corrections_of, [f.payment_id or "" for f in findings])
    assert summary.sides is not None
    days = await store.scan(turnover_by_day, period.days, zone, period.project, period.default)
    write_act(
        path,
        period=period,
        signed=exact,
        sides=summary.sides,
        days=days,
        findings=findings,
        corrections=corrections,
        zone=zone,
        merchant=merchant,
    )
    out.print(
        _("act of reconciliation for {period} written to {path}").format(period=period.label, path=path),
        highlight=False,
    )
    return 0
