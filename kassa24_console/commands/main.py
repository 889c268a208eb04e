"""``kassa24-console``: the console (default), ``serve``, ``import``, ``simulate``, ``reconcile``,
``audit``, ``alerts``, ``keys``, ``db``.

The command line's root: the options every command takes, one sub-parser per command (each
command's own options come from its module in this package, imported only when the command
is named), and the one place an error a person reads becomes a line on stderr and an exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from pathlib import Path

from .. import i18n
from ..config import ConfigError, Settings, load_settings
from ..errors import Kassa24Error, StartupError
from ..i18n import N_, _
from ..logs import configure_logging
from ..projects import project_problem
from ..store.db import sqlite_file_missing
from .serve import KeyRefused
from .words import speak


def _common(parser: argparse.ArgumentParser, *, listen: bool, top: bool) -> None:
    """Options every command takes, accepted before or after the command name."""
    default = None if top else argparse.SUPPRESS
    parser.add_argument("--config", type=Path, default=default, help=_("TOML settings file (KASSA24_* override it)"))
    parser.add_argument("--database-url", default=default, help=_("sqlite:///path/k24.db or postgresql://user@host/db"))
    if listen:
        parser.add_argument("--host", default=default, help=_("listen address (default 127.0.0.1)"))
        parser.add_argument("--port", type=int, default=default, help=_("listen port (default 8080)"))


# The commands after ``serve``: name, help, and the module of this package adding its options.
COMMANDS = (
    ("import", N_("load accounts and contracts from JSON or CSV files"), "imports"),
    ("simulate", N_("play the platform: scenarios or load against a merchant URL"), "simulate"),
    ("reconcile", N_("compare deposits, callbacks and the platform's record"), "reconcile"),
    ("audit", N_("who changed what and when: edits, payments, imports, resolutions"), "audit"),
    ("alerts", N_("alert channels and alerts: test the URLs, list the alerts"), "alerts"),
    ("keys", N_("per project: which key signed the recent requests, when the previous ends"), "keys"),
    ("db", N_("database maintenance"), "db"),
)


def _parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The command line; each command's own options come from its module, added only when
    ``argv`` names the command (None: every command's), so that one command does not pay
    for importing the others (the simulator, the alerts' Apprise, the listener)."""
    named = None if argv is None else set(argv)

    def wanted(command: str) -> bool:
        return named is None or command in named

    parser = argparse.ArgumentParser(
        prog="kassa24-console",
        description=_("Merchant side of the Kassa24 Terminal payment method, with an operator console."),
    )
    _common(parser, listen=True, top=True)
    parser.add_argument("--attach", action="store_true", help=_("console only: watch the database, no listener"))
    commands = parser.add_subparsers(dest="command", metavar=_("COMMAND"))
    serve = commands.add_parser("serve", help=_("run the listener headless (logs to stderr)"))
    _common(serve, listen=True, top=False)
    for name, help_text, module in COMMANDS:
        command = commands.add_parser(name, help=_(help_text))
        _common(command, listen=False, top=False)
        if wanted(name):
            importlib.import_module(f".{module}", __package__).add_arguments(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    speak()
    try:  # the command line speaks the environment's language before any setting is read
        i18n.set_language(i18n.language_from_environment())
    except i18n.UnknownLanguage as error:
        print(f"kassa24-console: {_('invalid configuration')}: language: {error}", file=sys.stderr)
        return 2
    args = _parser(sys.argv[1:] if argv is None else argv).parse_args(argv)
    try:
        settings = load_settings(args.config, database_url=args.database_url, host=args.host, port=args.port)
        i18n.set_language(settings.language or "en")
    except ConfigError as error:
        if args.command is None:  # the console shows it, and stays up, rather than vanishing
            from ..console.app import run_console

            return run_console(Settings.model_construct(database_url="(not configured)"), config_error=str(error))
        print(f"kassa24-console: {error}", file=sys.stderr)
        return 2
    try:
        return _command(args, settings)
    except BrokenPipeError:
        # The reader went away (`audit --format csv | head -2`): end quietly, as a Unix tool
        # killed by SIGPIPE would, and keep Python from complaining while flushing stdout.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyRefused as error:
        print(f"kassa24-console: {error}", file=sys.stderr)
        return 2
    except StartupError as error:
        print(f"kassa24-console: {error}", file=sys.stderr)
        return 1
    except Kassa24Error as error:  # any other error a person reads: its text, never a traceback
        print(f"kassa24-console: {error}", file=sys.stderr)
        return 1


READING = {"audit": "audit", "keys": "keys", "info": "db info"}  # commands that only read


def _needs_existing_database(args: argparse.Namespace, settings: Settings) -> None:
    """A command that reads a database never creates one: a mistyped path is an error,
    not a new database full of demo data."""
    name = READING.get(args.command) or (READING.get(args.action) if args.command == "db" else None)
    if name and (missing := sqlite_file_missing(settings.store_url)) is not None:
        raise StartupError(
            _(
                "cannot open the database {missing}: there is no such file ({name} never creates one; `db init` does)"
            ).format(missing=missing, name=name)
        )


def _command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        from .serve import serve

        return serve(settings)
    if args.command == "import":
        from .imports import import_files

        configure_logging(settings.log_file, stderr=False)
        return asyncio.run(import_files(settings, args.files, args.project))
    if args.command == "simulate":
        from .simulate import main as simulate

        return simulate(args, settings)
    if args.command == "reconcile":
        from .reconcile import main as reconcile_main

        configure_logging(settings.log_file, stderr=False)
        return reconcile_main(args, settings)
    if args.command == "alerts":
        from .alerts import main as alerts_main

        configure_logging(settings.log_file, stderr=False)
        return alerts_main(args, settings)
    if args.command == "db":
        configure_logging(settings.log_file, stderr=False)
        _needs_existing_database(args, settings)
        if problem := project_problem(settings, args.project, every_row_named=True):
            raise StartupError(problem)
        from .db import db

        return asyncio.run(db(settings, args.action, args.project))
    if args.command == "keys":
        from .keys import main as keys_main

        configure_logging(settings.log_file, stderr=False)
        _needs_existing_database(args, settings)
        return keys_main(args, settings)
    if args.command == "audit":
        from .audit import main as audit_main

        configure_logging(settings.log_file, stderr=False)
        _needs_existing_database(args, settings)
        return audit_main(args, settings)
    if args.attach and (missing := sqlite_file_missing(settings.store_url)) is not None:
        # Attaching watches a database a listener writes: it never creates one.
        raise StartupError(
            _("--attach: there is no database at {missing} (start serve or the console there first)").format(
                missing=missing
            )
        )
    configure_logging(settings.log_file, stderr=False)
    from ..console.app import run_console  # textual is only loaded for the console

    return run_console(settings, attach=args.attach)


if __name__ == "__main__":
    sys.exit(main())
