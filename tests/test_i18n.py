"""The operator's language: complete catalogs that hold every message of the code, plural
rules, the language chosen from settings and locale, the CLI in Russian, what the payer reads
(customer_language) on real answers, and the act of reconciliation in Russian read back."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from openpyxl import load_workbook

from kassa24_console import i18n
from kassa24_console.commands.reconcile_show import payments
from kassa24_console.money import format_money
from tests.support.bodies import deposit_body, verify_body
from tests.support.cli import run_cli as cli
from tests.support.inprocess import start_app
from tests.support.reconciling import ZONE, pay, report_line, write_report
from tests.support.seeding import new_customer

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kassa24_console"
NBSP = "\u00a0"


def catalog(language: str):
    with (i18n.LOCALE_DIR / language / "LC_MESSAGES" / "kassa24.po").open("rb") as po:
        return read_po(po, locale=language)


def extracted() -> set[str]:
    """Every message the code marks (_, ngettext, N_), found as pybabel extract finds them."""
    method_map = [("**.py", "python")]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(PACKAGE), method_map):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_catalog_has_no_untranslated_or_fuzzy_entry(language: str) -> None:
    missing = [
        m.id
        for m in catalog(language)
        if m.id and (m.fuzzy or not (m.string if isinstance(m.string, str) else all(m.string)))
    ]
    assert missing == []


@pytest.mark.parametrize("language", ["ru", "kk", "en"])
def test_every_message_of_the_code_is_in_the_catalog(language: str) -> None:
    """The CI check: extract from the code and compare (a new _("…") without a catalog entry fails)."""
    messages = extracted()
    assert len(messages) > 150  # extraction really ran over the package
    known = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog(language) if m.id}
    assert sorted(messages - known) == []


def test_plural_forms_by_the_language_rules() -> None:
    i18n.set_language("ru")
    assert [payments(n) for n in (1, 2, 5, 11, 21, 22)] == [
        "1 платёж", "2 платежа", "5 платежей", "11 платежей", "21 платёж", "22 платежа",
    ]  # fmt: skip
    i18n.set_language("kk")
    assert [payments(n) for n in (1, 5)] == ["1 төлем", "5 төлем"]
    i18n.set_language("en")
    assert [payments(n) for n in (1, 5)] == ["1 payment", "5 payments"]


def test_the_language_follows_the_setting_then_the_locale() -> None:
    assert i18n.language_from_environment({"KASSA24_LANGUAGE": "kk", "LANG": "ru_KZ.UTF-8"}) == "kk"
    assert i18n.language_from_environment({"LANG": "ru_KZ.UTF-8"}) == "ru"
    assert i18n.language_from_environment({"LANG": "kk_KZ.UTF-8"}) == "kk"
    assert i18n.language_from_environment({"LC_ALL": "kk_KZ.UTF-8", "LANG": "ru_KZ.UTF-8"}) == "kk"
    assert i18n.language_from_environment({"LC_MESSAGES": "ru_RU.UTF-8", "LANG": "en_US.UTF-8"}) == "ru"
    assert i18n.language_from_environment({"LANG": "de_DE.UTF-8"}) == "en"
    assert i18n.language_from_environment({}) == "en"
    with pytest.raises(i18n.UnknownLanguage, match="use ru, kk or en"):
        i18n.language_from_environment({"KASSA24_LANGUAGE": "fr"})


def test_money_in_each_language() -> None:
    for language in ("ru", "kk", "en"):
        i18n.set_language(language)
        assert format_money(18_075_000) == f"180{NBSP}750,00{NBSP}₸"
    i18n.set_language("ru")
    assert i18n._("Account does not exist") == "Лицевой счёт не найден"
    assert i18n.gettext_in("kk", "Account does not exist") == "Дербес шот табылмады"
    assert i18n._("a text no catalog holds") == "a text no catalog holds"


def run_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KASSA24_", "LC_")) and k != "LANG"}
    return cli(*args, env={**base, "XDG_DATA_HOME": str(cwd), "COLUMNS": "200", **env}, cwd=cwd)


def test_cli_help_and_errors_in_russian(tmp_path: Path) -> None:
    shown = run_cli("reconcile", "--help", cwd=tmp_path, KASSA24_LANGUAGE="ru")
    assert shown.returncode == 0
    assert shown.stdout.startswith("использование: kassa24-console reconcile")
    assert "показать эту справку и выйти" in shown.stdout and "акт сверки закрытого периода" in shown.stdout
    by_locale = run_cli("--bogus", cwd=tmp_path, LANG="ru_KZ.UTF-8")
    assert by_locale.returncode == 2 and "ошибка: непонятные аргументы: --bogus" in by_locale.stderr
    missing = run_cli("audit", "--database-url", f"sqlite:///{tmp_path / 'no.db'}", cwd=tmp_path, KASSA24_LANGUAGE="ru")
    assert missing.returncode == 1
    assert missing.stderr.strip().startswith("kassa24-console: не удаётся открыть базу данных")
    unknown = run_cli("db", "info", cwd=tmp_path, KASSA24_LANGUAGE="fr")
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert unknown.stderr.strip().count("\n") == 0 and "use ru, kk or en" in unknown.stderr


def test_the_demo_reconcile_in_russian(tmp_path: Path) -> None:
    report = ROOT / "data" / "demo" / "platform-report.csv"
    done = run_cli("reconcile", "--report", str(report), cwd=tmp_path, KASSA24_LANGUAGE="ru")
    assert done.returncode == 1, done.stderr  # open findings
    text = done.stdout.replace(NBSP, " ")
    assert "Сверка 2026-11-23 … 2026-11-27" in text
    assert "у нас     │ оплачен │     30 │ 180 750,00 ₸" in text
    assert "оплачено: у нас 180 750,00 ₸, у платформы 205 550,00 ₸, разница -24 800,00 ₸" in text
    assert "неизвестный платёж" in text and "Такого номера платежа мы не выдавали" in text
    assert ".00 KZT" not in text and " payment" not in text  # (KZT stays in the evidence's JSON)


@pytest.mark.parametrize(
    ("language", "not_found", "success"),
    [("kk", "Дербес шот табылмады", "Сәтті"), ("en", "Account does not exist", "Success")],
)
def test_customer_language_on_verify_and_check_deposit(tmp_path: Path, language: str, not_found: str, success: str):
    server = start_app(tmp_path, option=1, KASSA24_CUSTOMER_LANGUAGE=language, KASSA24_LANGUAGE="ru")
    i18n.set_language("ru")  # the operator's, as serve sets it from KASSA24_LANGUAGE (the fixture resets it)
    try:
        missing = server.post(verify_body("no-such-account")).json()
        assert missing["code"] == 404  # codes never change with the language
        assert missing["message"] == missing["error_description"] == not_found
        customer, (contract,) = new_customer(server, {"payment": 500_000})
        answer = server.post(deposit_body(customer, contract, 100_000)).json()
        assert answer["code"] == 0 and answer["payment_id"] and answer["description"] == success
        bad = server.post(verify_body(customer), sign=False).json()
        assert bad["code"] == 400 and bad["message"] == i18n.gettext_in(language, "Signature error")
        (reason,) = server.rows("SELECT reason FROM traffic WHERE code = 404")
        assert reason["reason"] == "Account does not exist"  # the record stays in English
    finally:
        server.stop()


def test_the_act_in_russian_read_back(tmp_path: Path) -> None:
    server = start_app(tmp_path, KASSA24_LANGUAGE="ru", KASSA24_MERCHANT_NAME="ТОО «Алматы Сервис»")
    try:
        customer, (contract,) = new_customer(server, {"payment": 1_000_000})
        paid = pay(server, customer, contract, 150_000)
        other = pay(server, customer, contract, 30_050)
        report = write_report(tmp_path / "r.csv", [report_line("5", paid, "1500.00", customer=customer)])
        day = datetime.now(ZONE).date().isoformat()
        env = {**server.env, "KASSA24_LOG_FILE": "/dev/null", "KASSA24_LANGUAGE": "ru",
               "KASSA24_MERCHANT_NAME": "ТОО «Алматы Сервис»"}  # fmt: skip
        run = cli("reconcile", "--report", str(report), env=env)
        assert run.returncode == 1, run.stderr
        (finding,) = server.rows("SELECT id FROM mismatches WHERE payment_id = ?", other)
        note = ["--resolve", str(finding["id"]), "--note", "платёж в реестре следующего дня"]
        assert cli("reconcile", *note, env=env).returncode == 0
        act = tmp_path / "act.xlsx"
        signed = cli("reconcile", "--from", day, "--sign-off", "--act", str(act), env=env)
        assert signed.returncode == 0, signed.stderr
        assert "акт сверки за" in signed.stdout
    finally:
        server.stop()
    sheet = load_workbook(act).active
    rows = [row for row in sheet.iter_rows(values_only=True) if any(v is not None for v in row)]
    assert rows[0][0] == "Акт сверки взаиморасчётов"
    assert rows[1][0].startswith("за период с ") and "\u202fг. по " in rows[1][0]
    assert rows[2][0] == "между ТОО «Алматы Сервис» и JetPay"
    header = next(row for row in rows if row[0] == "Дата")
    assert header[1:] == ("ТОО «Алматы Сервис»: платежей", "ТОО «Алматы Сервис»: сумма, ₸", "JetPay: платежей",
                          "JetPay: сумма, ₸", "Разница, ₸")  # fmt: skip
    totals = next(row for row in rows if row[0] == "Обороты за период")
    assert totals[1:6] == (2, 1800.5, 1, 1500.0, 300.5)
    assert any(row[0] == "нет в данных платформы" and row[1] == other for row in rows)
    assert any(str(row[0]).startswith("Итог сверки: расхождение за период составляет 300,50") for row in rows)
    block = next(i for i, row in enumerate(rows) if row[0] == "От ТОО «Алматы Сервис»")
    signatures = [row for row in rows[block + 1 :] if row[0] == row[3]]  # both parties, line by line
    assert [row[0] for row in signatures] == ["Должность", "Ф. И. О.", "Подпись", "Дата"]
    assert any(row[0] == "От ТОО «Алматы Сервис»" and row[3] == "От JetPay" for row in rows)
    assert str(sheet.page_setup.paperSize) == sheet.PAPERSIZE_A4 and sheet.page_setup.fitToWidth == 1
    header_row = next(cells[0].row for cells in sheet.iter_rows() if cells[0].value == "Дата")
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert (sheet.print_title_rows or "").replace("$", "") == f"{header_row}:{header_row}"  # repeated on each page
