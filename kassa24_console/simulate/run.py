"""``kassa24-console simulate``: scenarios or load against a merchant URL, with a report."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from .. import importer
from ..config import Settings
from ..store import Store
from .load import LoadReport, discover, run_load
from .platform import Platform
from .scenarios import SCENARIOS, Context, Customers, Result, run_scenarios


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="scenarios to run (default: all)")
    parser.add_argument("--url", help="the merchant URL for verify and check_deposit")
    parser.add_argument("--callback-url", help="the callback URL (default: URL + /callback)")
    parser.add_argument("--project-id", type=int, help="default: the configured project id")
    parser.add_argument("--secret-key", help="default: the configured secret key (KASSA24_SECRET_KEY)")
    parser.add_argument("--response-option", type=int, choices=[1, 2], help="the merchant's option (default: config)")
    parser.add_argument(
        "--customer",
        action="append",
        default=[],
        metavar="ROLE=ID",
        help="existing customers: payable=ID, nothing_due=ID, blocked=ID (default: demo data)",
    )
    parser.add_argument(
        "--seed-database",
        metavar="URL",
        help="create fresh simulator accounts in this merchant database first (like import)",
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and what each requires")
    parser.add_argument("--rate", type=float, help="load: payment cycles per second (open loop)")
    parser.add_argument("--concurrency", type=int, help="load: cycles in flight (closed loop)")
    parser.add_argument("--duration", type=float, default=30.0, help="load: seconds (default 30)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--retry-scale",
        type=float,
        default=1.0,
        help="shorten the platform's callback retry schedule by this factor (tests: 0.001)",
    )
    parser.add_argument("--max-attempts", type=int, default=120, help="callback deliveries at most (default 120)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each answer")


def main(args: argparse.Namespace, settings: Settings) -> int:
    out = Console(soft_wrap=True)
    if args.list:
        for scenario in SCENARIOS.values():
            out.print(f"[bold]{scenario.name}[/bold]  {scenario.requires}", highlight=False)
        return 0
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        out.print(f"unknown scenario(s): {', '.join(unknown)}; see --list", style="red", highlight=False)
        return 2
    if not args.url:
        out.print("--url is required (the merchant URL, e.g. http://127.0.0.1:8080/kassa24)", style="red")
        return 2
    return asyncio.run(_run(args, settings, out))


async def _run(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    option = args.response_option or settings.response_option
    platform = Platform(
        url=args.url,
        callback_url=args.callback_url or args.url.rstrip("/") + "/callback",
        project_id=args.project_id if args.project_id is not None else settings.project_id,
        secret=args.secret_key or settings.secret,
        timeout=args.timeout,
        retry_scale=args.retry_scale,
        max_attempts=args.max_attempts,
    )
    try:
        customers, load_customers = await _customers(args)
        if args.rate or args.concurrency:
            return await _load(args, platform, load_customers, option, out)
        names = args.scenarios or list(SCENARIOS)
        results = await run_scenarios(Context(platform, customers, option), names)
        return _report_scenarios(results, args.json, out)
    finally:
        await platform.close()


async def _customers(args: argparse.Namespace) -> tuple[Customers, list[str]]:
    roles: dict[str, str] = {}
    for item in args.customer:
        role, _, value = item.partition("=")
        if role not in ("payable", "nothing_due", "blocked") or not value:
            raise SystemExit(f"--customer {item!r}: use payable=ID, nothing_due=ID or blocked=ID")
        roles[role] = value
    if args.seed_database:
        seeded = await seed_accounts(args.seed_database)
        customers = Customers(payable=seeded["payable"], nothing_due=seeded["nothing_due"], blocked=seeded["blocked"])
        return customers, [seeded["payable"], *seeded["load"]]
    customers = Customers(**roles)
    demo_payable = ["7012345678", "7023456789", "7034567890", "7056789012", "7067890123"]
    return customers, [customers.payable] if "payable" in roles else demo_payable


async def seed_accounts(database_url: str, load_accounts: int = 20) -> dict[str, Any]:
    """Fresh accounts for one run: payable, nothing due, blocked, and some for load."""
    run = secrets.token_hex(3)
    ids = {"payable": f"sim-{run}-pay", "nothing_due": f"sim-{run}-nodebt", "blocked": f"sim-{run}-blocked"}
    load = [f"sim-{run}-load{i:02d}" for i in range(load_accounts)]
    accounts = [
        {"customer_id": c, "name": f"Simulator {c}", "currency": "KZT", "additional_customer_id": None}
        for c in [*ids.values(), *load]
    ]

    def contract(cid: str, customer: str, payment: int, status: int = 0) -> dict[str, Any]:
        return {
            "id": cid,
            "customer_id": customer,
            "number": f"SIM/{cid}",
            "payment": payment,
            "min_payment": 100_000 if payment else None,
            "status_code": status,
            "status_text": "blocked by the simulator" if status else "",
            "info": {"customer_name": customer},
        }

    contracts = [
        contract(f"{ids['payable']}-c1", ids["payable"], 1_000_000_000),
        contract(f"{ids['nothing_due']}-c1", ids["nothing_due"], 0),
        contract(f"{ids['blocked']}-c1", ids["blocked"], 500_000, status=206),
        *(contract(f"{c}-c1", c, 1_000_000_000) for c in load),
    ]
    store = Store(database_url)
    await store.open()
    try:
        await importer.apply(store, importer.Batch(accounts, contracts, ["simulator"]), actor="simulator")
    finally:
        await store.close()
    return {**ids, "load": load}


def _report_scenarios(results: list[Result], as_json: bool, out: Console) -> int:
    passed = sum(r.passed for r in results)
    if as_json:
        print(
            json.dumps(
                {
                    "passed": passed,
                    "failed": len(results) - passed,
                    "scenarios": [
                        {"name": r.name, "requires": r.requires, "passed": r.passed, "failures": r.failures}
                        for r in results
                    ],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        for r in results:
            mark = "[green]PASS[/green]" if r.passed else "[bold red]FAIL[/bold red]"
            out.print(f"{mark} {r.name:<28} ", end="", highlight=False)
            out.print(r.requires, highlight=False, markup=False)
            for failure in r.failures:
                out.print("     " + failure.replace("\n", "\n     "), style="red", highlight=False, markup=False)
        out.print(f"{passed} passed, {len(results) - passed} failed", highlight=False)
    return 0 if passed == len(results) else 1


async def _load(args: argparse.Namespace, platform: Platform, customers: list[str], option: int, out: Console) -> int:
    targets = await discover(platform, customers, option)
    err = Console(stderr=True)
    live = Live(console=err, transient=True, refresh_per_second=4) if err.is_terminal else None

    def progress(report: LoadReport, elapsed: float) -> None:
        if live is not None:
            live.update(
                f"{elapsed:5.1f}/{args.duration:.0f} s  cycles {report.started}  ok {report.ok}  "
                f"errors {sum(report.errors.values())}  retries {platform.retries}"
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
        title=f"{summary['cycles']} cycles in {summary['elapsed_s']} s: {summary['ok']} ok, "
        f"{sum(summary['errors'].values())} errors, {summary['retries']} callback retries, "
        f"{summary['cycles_per_s']} ok cycles/s"
    )
    for column in ("message", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="left" if column == "message" else "right")
    for kind, p in summary["latency_ms"].items():
        table.add_row(kind, str(p["n"]), f"{p['p50']:.2f}", f"{p['p90']:.2f}", f"{p['p99']:.2f}", f"{p['max']:.2f}")
    for kind, count in sorted(summary["errors"].items()):
        table.add_row(f"[red]error: {kind}[/red]", str(count), "", "", "", "")
    return table


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: kassa24-console simulate")
