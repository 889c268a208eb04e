"""``kassa24-console simulate``: scenarios or load against a merchant URL, with a report."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..config import Settings, read_secret_file
from ..i18n import _, ngettext
from ..runtime import StartupError
from ..simulate import junit
from ..simulate.catalog import SCENARIOS
from ..simulate.load import LoadReport, discover, run_load
from ..simulate.platform import Platform
from ..simulate.registry import Context, Customers, Result, run_scenarios
from ..simulate.replay import ReplayError, replay
from ..simulate.seed import NotOurDatabase, seed_accounts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help=_("scenarios to run (default: all); or 'replay ID' to send traffic record ID again"),
    )
    parser.add_argument("--url", help=_("the merchant URL for verify and check_deposit"))
    parser.add_argument("--callback-url", help=_("the callback URL (default: URL + /callback)"))
    parser.add_argument(
        "--project-id",
        "--project",
        type=int,
        dest="project_id",
        metavar="ID",
        help=_(
            "the project to play: signed with its key, in its response option, --seed-database seeds its "
            "customers (default: the first configured)"
        ),
    )
    parser.add_argument(
        "--secret-key-file",
        type=Path,
        metavar="FILE",
        help=_("a file (chmod 600) holding the platform's key; default: the configured key (KASSA24_SECRET_KEY)"),
    )
    parser.add_argument("--secret-key", help=argparse.SUPPRESS)  # refused: see _secret
    parser.add_argument(
        "--response-option", type=int, choices=[1, 2], help=_("the merchant's option (default: config)")
    )
    parser.add_argument(
        "--customer",
        action="append",
        default=[],
        metavar="ROLE=ID",
        help=_("existing customers: payable=ID, nothing_due=ID, blocked=ID (default: demo data)"),
    )
    parser.add_argument(
        "--seed-database",
        metavar="URL",
        help=_("create fresh simulator accounts in this merchant database first (like import)"),
    )
    parser.add_argument("--list", action="store_true", help=_("list the scenarios and what each requires"))
    parser.add_argument("--rate", type=float, help=_("load: payment cycles per second (open loop)"))
    parser.add_argument("--concurrency", type=int, help=_("load: cycles in flight (closed loop)"))
    parser.add_argument("--duration", type=float, default=30.0, help=_("load: seconds (default 30)"))
    parser.add_argument("--json", action="store_true", help=_("machine-readable output"))
    parser.add_argument(
        "--retry-scale",
        type=float,
        default=1.0,
        help=_("shorten the platform's callback retry schedule by this factor (tests: 0.001)"),
    )
    parser.add_argument("--max-attempts", type=int, default=120, help=_("callback deliveries at most (default 120)"))
    parser.add_argument("--timeout", type=float, default=10.0, help=_("seconds to wait for each answer"))
    parser.add_argument("--allow-skip", action="store_true", help=_("exit 0 even when a check could not be observed"))
    parser.add_argument("--junit", type=Path, metavar="FILE", help=_("also write the results as JUnit XML (for CI)"))
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help=_("replay: change a field before sending (re-signed), e.g. payment.status=decline"),
    )


def _secret(args: argparse.Namespace, settings: Settings) -> str:
    """The key to sign with: from ``--secret-key-file`` or the configuration. A key on the
    command line is refused: every local user sees it in ``ps``."""
    if args.secret_key is not None:
        raise ValueError(
            _(
                "--secret-key shows the key to every user of this machine (ps): "
                "put it in a file (chmod 600) and pass --secret-key-file FILE, or set KASSA24_SECRET_KEY"
            )
        )
    if args.secret_key_file is not None:
        return read_secret_file(args.secret_key_file)
    project = settings.project(args.project_id) if args.project_id is not None else None
    if project is None and args.project_id is not None and settings.several:
        configured = ", ".join(str(p.project_id) for p in settings.projects)
        raise ValueError(
            _(
                "project {project} is not configured (configured: {configured}): "
                "name one of them, or give its key with --secret-key-file FILE"
            ).format(project=args.project_id, configured=configured)
        )
    return project.secret if project is not None else settings.secret  # that project's own key


def main(args: argparse.Namespace, settings: Settings) -> int:
    out = Console(soft_wrap=True)
    try:
        args.secret = _secret(args, settings)
    except (ValueError, OSError) as error:
        message = str(error)
        if isinstance(error, OSError):
            message = _("cannot read the secret key file {file}: {error}").format(
                file=error.filename, error=error.strerror or error
            )
        Console(stderr=True, soft_wrap=True).print(f"simulate: {message}", style="red", highlight=False, markup=False)
        return 2
    if args.list:
        for scenario in SCENARIOS.values():
            out.print(f"[bold]{scenario.name}[/bold]  {escape(_(scenario.requires))}", highlight=False)
        return 0
    if args.scenarios[:1] == ["replay"]:
        return asyncio.run(_replay(args, settings, out))
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        message = _("unknown scenario(s): {names}; see --list").format(names=", ".join(unknown))
        out.print(message, style="red", highlight=False, markup=False)
        return 2
    if not args.url:
        out.print(_("--url is required (the merchant URL, e.g. http://127.0.0.1:8080/kassa24)"), style="red")
        return 2
    return asyncio.run(_run(args, settings, out))


async def _run(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    project = settings.project(args.project_id if args.project_id is not None else settings.project_id)
    option = args.response_option or (project.response_option if project else None) or settings.response_option
    platform = Platform(
        url=args.url,
        callback_url=args.callback_url or args.url.rstrip("/") + "/callback",
        project_id=args.project_id if args.project_id is not None else settings.project_id,
        secret=args.secret,
        timeout=args.timeout,
        retry_scale=args.retry_scale,
        max_attempts=args.max_attempts,
    )
    try:
        customers, load_customers = await _customers(args, platform.project_id)
        if (unreachable := await _unreachable(platform)) is not None:
            Console(stderr=True, soft_wrap=True).print(unreachable, style="red", highlight=False, markup=False)
            return 2
        if args.rate or args.concurrency:
            return await _load(args, platform, load_customers, option, out)
        platform.quick = True  # a refused callback fails its scenario in seconds, answer shown
        names = args.scenarios or list(SCENARIOS)
        started = time.perf_counter()
        printer = None if args.json else lambda result: _print_result(result, out)
        results = await run_scenarios(Context(platform, customers, option), names, on_result=printer)
        if args.junit:
            junit.write(args.junit, results, url=args.url, seconds=time.perf_counter() - started)
        return _report_scenarios(results, args, out, platform)
    except (NotOurDatabase, StartupError) as error:
        Console(stderr=True, soft_wrap=True).print(
            f"--seed-database: {error}", style="red", highlight=False, markup=False
        )
        return 2
    finally:
        await platform.close()


async def _unreachable(platform: Platform) -> str | None:
    """Why the merchant cannot be reached at all (then nothing else is worth trying)."""
    probe = await platform.send("verify", {"type": "verify", "project_id": platform.project_id, "customer_id": "-"})
    platform.signed_sent = platform.signature_refused = 0  # the probe is not a scenario
    if probe.error:
        return _("cannot reach the merchant at {url}: {error}").format(url=platform.url, error=probe.error)
    return None


async def _replay(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    err = Console(stderr=True, soft_wrap=True)
    if len(args.scenarios) != 2 or not args.scenarios[1].isdigit():
        err.print(_("use: simulate replay ID [--url URL] [--set path=value ...]"), style="red", markup=False)
        return 2
    try:
        where, sent, answer = await replay(
            settings,
            int(args.scenarios[1]),
            url=args.url,
            callback_url=args.callback_url,
            assignments=args.set,
            # a key chosen on the command line, else the replayed record's project's
            secret=args.secret if args.secret_key_file is not None or args.project_id is not None else None,
            timeout=args.timeout,
        )
    except (ReplayError, StartupError) as error:
        err.print(f"replay: {error}", style="red", highlight=False, markup=False)
        return 2
    out.print(f"→ POST {where}\n  {sent.decode('utf-8', 'replace')}", highlight=False, markup=False)
    out.print(f"← HTTP {answer.status_code} {answer.text}", highlight=False, markup=False)
    return 0 if answer.status_code == 200 else 1


async def _customers(args: argparse.Namespace, project_id: int) -> tuple[Customers, list[str]]:
    roles: dict[str, str] = {}
    for item in args.customer:
        role, _sep, value = item.partition("=")
        if role not in ("payable", "nothing_due", "blocked") or not value:
            raise SystemExit(
                _("--customer {item}: use payable=ID, nothing_due=ID or blocked=ID").format(item=repr(item))
            )
        roles[role] = value
    if args.seed_database:
        seeded = await seed_accounts(args.seed_database, project_id=project_id)  # the simulated project's
        customers = Customers(payable=seeded["payable"], nothing_due=seeded["nothing_due"], blocked=seeded["blocked"])
        return customers, [seeded["payable"], *seeded["load"]]
    customers = Customers(**roles)
    demo_payable = ["7012345678", "7023456789", "7034567890", "7056789012", "7067890123"]
    return customers, [customers.payable] if "payable" in roles else demo_payable


MARKS = {"PASS": "[green]PASS[/green]", "FAIL": "[bold red]FAIL[/bold red]", "SKIP": "[yellow]SKIP[/yellow]"}


def _print_result(result: Result, out: Console) -> None:
    """One scenario's line as soon as it ends, its failures and skips under it."""
    out.print(f"{MARKS[result.status]} {result.name:<28} ", end="", highlight=False)
    out.print(_(result.requires), highlight=False, markup=False)
    for failure in result.failures:
        out.print("     " + failure.replace("\n", "\n     "), style="red", highlight=False, markup=False)
    for skip in result.skips:
        out.print("     " + _("not observed: {what}").format(what=skip), style="yellow", highlight=False, markup=False)


def _report_scenarios(results: list[Result], args: argparse.Namespace, out: Console, platform: Platform) -> int:
    counts = {status: sum(r.status == status for r in results) for status in ("PASS", "FAIL", "SKIP")}
    diagnosis = _diagnosis(results, platform)
    if args.json:
        payload = {
            "passed": counts["PASS"],
            "failed": counts["FAIL"],
            "skipped": counts["SKIP"],
            "diagnosis": diagnosis,
            "scenarios": [
                {
                    "name": r.name,
                    "requires": r.requires,
                    "status": r.status,
                    "passed": r.passed,
                    "failures": r.failures,
                    "skips": r.skips,
                }
                for r in results
            ],
        }
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        line = _("{passed} passed, {failed} failed, {skipped} skipped")
        out.print(line.format(passed=counts["PASS"], failed=counts["FAIL"], skipped=counts["SKIP"]), highlight=False)
        if diagnosis:
            out.print(diagnosis, style="bold red", highlight=False, markup=False)
        if counts["SKIP"] and not args.allow_skip:
            out.print(_("skipped checks count as not passed (--allow-skip to accept them)"), style="yellow")
    ok = counts["FAIL"] == 0 and (args.allow_skip or counts["SKIP"] == 0)
    return 0 if ok else 1


def _diagnosis(results: list[Result], platform: Platform) -> str | None:
    """A plain cause when the failures share one: every signed request refused its signature."""
    if any(r.failures for r in results) and platform.signed_sent and platform.signature_refused == platform.signed_sent:
        return _(
            "every signed request was refused for its signature (code 400 / HTTP 400): check the secret key "
            "(--secret-key-file or KASSA24_SECRET_KEY) and the project id"
        )
    return None


async def _load(args: argparse.Namespace, platform: Platform, customers: list[str], option: int, out: Console) -> int:
    targets = await discover(platform, customers, option)
    err = Console(stderr=True, soft_wrap=True)
    live = Live(console=err, transient=True, refresh_per_second=4) if err.is_terminal else None

    def progress(report: LoadReport, elapsed: float) -> None:
        if live is not None:
            live.update(
                _("{elapsed} s  cycles {cycles}  ok {ok}  errors {errors}  retries {retries}").format(
                    elapsed=f"{elapsed:5.1f}/{args.duration:.0f}",
                    cycles=report.started,
                    ok=report.ok,
                    errors=sum(report.errors.values()),
                    retries=platform.retries,
                )
            )

    if live is not None:
        live.start()
    try:
        report = await run_load(
            platform, targets, duration=args.duration, rate=args.rate, concurrency=args.concurrency, progress=progress
        )
    finally:
        if live is not None:
            live.stop()
    summary = report.as_dict()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        out.print(_load_table(summary))
    return 0 if not report.errors and report.finished == report.started else 1


def _load_table(summary: dict[str, Any]) -> Table:
    table = Table(
        title=ngettext(
            "{cycles} cycle in {seconds} s: {ok} ok, {errors} errors, {retries} callback retries, {rate} ok cycles/s",
            "{cycles} cycles in {seconds} s: {ok} ok, {errors} errors, {retries} callback retries, {rate} ok cycles/s",
            summary["cycles"],
        ).format(
            cycles=summary["cycles"],
            seconds=summary["elapsed_s"],
            ok=summary["ok"],
            errors=sum(summary["errors"].values()),
            retries=summary["retries"],
            rate=summary["cycles_per_s"],
        )
    )
    table.add_column(_("message"), justify="left")
    for column in ("n", "p50 ms", "p90 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="right")
    for kind, p in summary["latency_ms"].items():
        table.add_row(kind, str(p["n"]), f"{p['p50']:.2f}", f"{p['p90']:.2f}", f"{p['p99']:.2f}", f"{p['max']:.2f}")
    for kind, count in sorted(summary["errors"].items()):
        table.add_row(Text(_("error: {kind}").format(kind=kind), style="red"), str(count), "", "", "", "")
    return table


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: kassa24-console simulate")
