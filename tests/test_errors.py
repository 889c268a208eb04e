"""The errors a person reads come from one hierarchy (kassa24_console/errors.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kassa24_console import config, edits, errors, i18n, importer, listener, zones
from kassa24_console.protocol.messages import BadMessage
from kassa24_console.reconcile.data_api import DataApiError
from kassa24_console.reconcile.engine import SignOffRefused
from kassa24_console.reconcile.report import ReportError
from kassa24_console.simulate.replay import ReplayError
from kassa24_console.simulate.seed import NotOurDatabase
from kassa24_console.store import JobRefused

KINDS = {
    config.ConfigError: errors.SetupError,
    errors.StartupError: errors.SetupError,
    listener.ListenError: errors.SetupError,
    NotOurDatabase: errors.SetupError,
    BadMessage: errors.InputError,
    ReportError: errors.InputError,
    i18n.UnknownLanguage: errors.InputError,
    zones.UnknownZone: errors.InputError,
    edits.EditRejected: errors.InputError,
    JobRefused: errors.Refused,
    importer.ImportFailed: errors.Refused,
    SignOffRefused: errors.Refused,
    edits.EditConflict: errors.ConflictError,
    DataApiError: errors.RemoteError,
    ReplayError: errors.Kassa24Error,
}


@pytest.mark.parametrize("cls", list(KINDS), ids=lambda cls: cls.__name__)
def test_every_error_a_person_reads_is_of_one_kind(cls: type[Exception]) -> None:
    assert issubclass(cls, KINDS[cls])
    assert issubclass(cls, errors.Kassa24Error)


def test_input_errors_stay_value_errors_and_keep_their_text() -> None:
    """pydantic validators and older callers catch ValueError: an input error still is one."""
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        zones.zone("Mars/Olympus")
    with pytest.raises(errors.InputError) as caught:
        i18n.check_language("xx")
    assert caught.value.message == "unknown language 'xx': use ru, kk or en"


def test_startup_error_left_the_logs_module() -> None:
    from kassa24_console import logs

    assert "StartupError" not in vars(logs) or logs.StartupError is errors.StartupError
    assert errors.StartupError.__module__ == "kassa24_console.errors"


def test_an_edit_refused_on_a_field_says_which() -> None:
    with pytest.raises(errors.InputError, match="amount due: cannot be negative"):
        edits.parse_major("-5", "amount due")


def test_the_cli_shows_any_error_a_person_reads_as_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from kassa24_console.commands import main as cli

    def refuse(args: object, settings: object) -> int:
        raise edits.EditRejected("status code: a number 0–999 (0 = payment allowed)")

    monkeypatch.setattr(cli, "_command", refuse)
    code = cli.main(["--database-url", f"sqlite:///{tmp_path / 'k24.db'}", "db", "info"])
    err = capsys.readouterr().err
    assert code == 1
    assert err == "kassa24-console: status code: a number 0–999 (0 = payment allowed)\n"
