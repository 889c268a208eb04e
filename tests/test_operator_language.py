"""What a Russian operator reads outside the console: an alert delivered to a real webhook on
loopback by a real ``serve``, and the command line's ``audit``, ``db info`` and ``alerts list``
on a real database. Machine outputs (the stored keys, ``--format json``) stay English."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kassa24_console import importer
from kassa24_console.edits import ContractChange, Seen, load_contract, update_contract
from kassa24_console.store import Store
from tests.support.bodies import verify_body
from tests.support.cli import run_cli
from tests.support.common import PROJECT_ID, SECRET
from tests.support.receivers import HttpReceiver
from tests.support.serve import start_serve
from tests.support.waiting import wait_for

FAST = {
    "KASSA24_ALERT_INTERVAL_SECONDS": "0.2",
    "KASSA24_ALERT_RETRY_SECONDS": "0.2",
    "KASSA24_ALERT_RETRY_ATTEMPTS": "2",
}
TITLE = "kassa24: Запросы не проходят проверку подписи"


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


def cli(tmp: Path, *args: str, language: str = "ru") -> subprocess.CompletedProcess[str]:
    env = {
        "LANG": "C.UTF-8",
        "KASSA24_LANGUAGE": language,
        "KASSA24_DATABASE_URL": f"sqlite:///{tmp / 'k24.db'}",
        "KASSA24_SECRET_KEY": SECRET,
        "KASSA24_PROJECT_ID": str(PROJECT_ID),
        "KASSA24_LOG_FILE": str(tmp / "cli.log"),
        "PATH": "/usr/bin:/bin",
    }
    return run_cli(*args, env=env, cwd=tmp)


def test_an_alert_reaches_the_webhook_in_russian_and_the_store_keeps_its_key(
    tmp_path: Path, hook: HttpReceiver
) -> None:
    server = start_serve(
        tmp_path,
        **FAST,
        KASSA24_ALERT_URLS=hook.url,
        KASSA24_ALERT_SIGNATURE_FAILURES="3",
        KASSA24_ALERT_WINDOW_SECONDS="3",
        KASSA24_LANGUAGE="ru",
    )
    try:
        for _ in range(3):
            body = verify_body("7000000001", signature="d3Jvbmcgc2lnbmF0dXJl")
            assert server.post(body, sign=False).json()["code"] == 400
        wait_for(lambda: any(r.title == TITLE for r in hook.got), what="the alert in Russian")
        fired = next(r for r in hook.got if r.title == TITLE)
        assert "3 запроса не прошли проверку подписи за последние 3 с." in fired.body
        assert "Вероятная причина: сменился ключ платформы" in fired.body
        assert "подпись — не Base64 HMAC-SHA512" in fired.body  # the diagnosis, translated too
        assert "verify от 127.0.0.1" in fired.body  # the request's name stays the protocol's
        resolved = "kassa24: Снято: Запросы не проходят проверку подписи"
        wait_for(lambda: any(r.title == resolved for r in hook.got), what="the resolved message in Russian")
        assert "Снято: действовало с" in next(r for r in hook.got if r.title == resolved).body
        (row,) = server.rows("SELECT rule, title FROM alerts")
        assert (row["rule"], row["title"]) == ("signature_failures", "Requests fail the signature")
    finally:
        server.stop()
    listed = cli(tmp_path, "alerts", "list")
    assert listed.returncode == 0, listed.stderr
    assert "действующих оповещений: 0" in listed.stdout and "недавно снятых: 1" in listed.stdout
    assert "ошибки подписи: Запросы не проходят проверку подписи" in listed.stdout
    assert "сработало → json://127.0.0.1" in listed.stdout and "доставлено" in listed.stdout
    data = json.loads(cli(tmp_path, "alerts", "list", "--format", "json").stdout)
    assert data["recent"][0]["title"] == "Requests fail the signature"  # machine output: the key
    assert data["recent"][0]["deliveries"][0]["event"] == "fired"


async def seed(tmp: Path) -> None:
    """The demo data imported, then one edit by an operator."""
    store = Store(f"sqlite:///{tmp / 'k24.db'}")
    await store.open()
    try:
        await importer.apply(store, importer.read_file(importer.demo_file()), actor="aigerim")
        seen: Seen = await load_contract(store, "C-10001")
        change = ContractChange(1, "Договор расторгнут", 4_350_000, seen.values.min_payment)
        await update_contract(store, seen, change, actor="aigerim")
    finally:
        await store.close()


async def test_audit_and_db_info_speak_russian_and_json_keeps_its_keys(tmp_path: Path) -> None:
    await seed(tmp_path)
    audit = cli(tmp_path, "audit", "--contract", "C-10001")
    assert audit.returncode == 0, audit.stderr
    out = audit.stdout
    rows = json.loads(cli(tmp_path, "audit", "--contract", "C-10001", "--format", "json").stdout)
    n = len(rows)
    few = 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14
    form = "изменение" if n % 10 == 1 and n % 100 != 11 else "изменения" if few else "изменений"
    assert f"Журнал изменений: {n} {form}" in out  # the count in the language's plural form
    assert {row["kind"] for row in rows} == {"import", "edit"}  # machine output: the stored keys
    assert any(row["field"] == "status_code" for row in rows)
    for words in ("когда", "вид", "кто", "что", "изменение", "пояснение / основание"):
        assert words in out
    assert "загрузка" in out and "правка" in out and "договор C-10001" in out
    assert "код статуса: 0 → 1" in out
    assert "к оплате: 45 000,00 ₸ → 43 500,00 ₸" in out.replace("\xa0", " ")
    imported = cli(tmp_path, "audit", "--customer", "7012345678")
    assert "лицевой счёт 7012345678" in imported.stdout and "создан" in imported.stdout
    whole = cli(tmp_path, "audit")
    assert "6 лицевых счетов, 10 договоров" in whole.stdout  # the import's own row, counted in words
    info = cli(tmp_path, "db", "info")
    assert info.returncode == 0, info.stderr
    lines = dict(line.rsplit(maxsplit=1) for line in info.stdout.splitlines())
    assert lines["лицевые счета"] == "6" and lines["договоры"] == "10" and lines["платежи"] == "0"
    english = cli(tmp_path, "db", "info", language="en")
    assert english.stdout.startswith("accounts     6\ncontracts    10\ndeposits     0")


async def test_an_import_refused_and_a_sign_off_refused_say_why_in_russian(tmp_path: Path) -> None:
    await seed(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,id,number,payment\n7012345678,C-9,N-9,abc\n", encoding="utf-8")
    refused = cli(tmp_path, "import", str(bad))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("загрузка не удалась, ничего не применено:\n")
    assert f"{bad}: строка 2: неверное поле «payment»: должно быть целым числом в тиынах" in refused.stderr
    signed = cli(tmp_path, "reconcile", "--from", "2026-11-27", "--sign-off")
    assert signed.returncode == 1 and "Traceback" not in signed.stderr
    said = " ".join(signed.stderr.split())
    assert "отклонено: нет данных платформы за 2026-11-27 (загрузите отчёт за день" in said, said


def test_the_simulators_refusals_speak_russian(tmp_path: Path) -> None:
    unknown = cli(tmp_path, "simulate", "no_such_scenario", "--url", "http://127.0.0.1:9/kassa24")
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr + unknown.stdout
    assert "неизвестные сценарии: no_such_scenario; см. --list" in unknown.stdout
    no_url = cli(tmp_path, "simulate", "happy_path")
    assert no_url.returncode == 2 and "нужен --url (адрес мерчанта" in no_url.stdout
    closed = cli(tmp_path, "simulate", "--url", "http://127.0.0.1:9/kassa24")  # port 9: nothing listens
    assert closed.returncode == 2 and "Traceback" not in closed.stderr
    assert " ".join(closed.stderr.split()).startswith("мерчант по адресу http://127.0.0.1:9/kassa24 недоступен:")
    missing = cli(tmp_path, "simulate", "replay", "999")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "в этой базе нет записи трафика 999" in missing.stderr
