"""Operator edits that never undo a payment, and a history anyone can read.

The console is driven through Pilot with real HTTP arriving at its embedded listener; the
concurrent change comes from another process; ``audit`` runs as the CLI does."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from kassa24_console import edits
from kassa24_console.console.app import Kassa24App
from kassa24_console.console.screens import ContractForm
from kassa24_console.store import Store
from tests.support.bodies import callback_body, deposit_body, verify_body
from tests.support.cli import run_cli
from tests.support.common import SECRET
from tests.support.console import attached, click_save, make_settings, open_first_contract, post, until
from tests.support.edits import edit_in_another_process
from tests.support.seeding import seed_demo
from tests.support.serve import serve_env

__all__ = ["attached"]  # the fixture, used by name


async def audit_rows(app: Kassa24App, contract: str) -> list[tuple[Any, ...]]:
    return await app.store.scan(
        lambda c: [
            tuple(r)
            for r in c.exec_driver_sql(
                "SELECT kind, actor, field, old, new, cause FROM audit WHERE entity = 'contract' AND entity_id = ? "
                "AND kind != 'import' ORDER BY id",
                (contract,),
            )
        ]
    )


async def test_a_payment_landing_while_the_form_is_open_stays_credited(console: Any) -> None:
    app, pilot, url = console
    await open_first_contract(app, pilot)  # C-10001: 45 000,00 due
    form = app.screen
    assert isinstance(form, ContractForm)
    payment_id = (await post(url, deposit_body("7012345678", "C-10001", 150_000))).json()["payment_id"]
    assert (await post(url, callback_body(payment_id, amount=150_000), path="/kassa24/callback")).status_code == 200
    form.query_one("#status_text").value = "Звонили 27.11"
    await click_save(app, pilot)
    await until(pilot, lambda: not isinstance(app.screen, ContractForm))
    entity = (await post(url, verify_body("7012345678"))).json()["entities"][0]
    assert entity["payment"] == 4_500_000 - 150_000  # the payment was not written over
    assert await audit_rows(app, "C-10001") == [
        ("payment", "platform", "payment", "4500000", "4350000", payment_id),
        ("edit", app_user(), "status_text", "", "Звонили 27.11", None),
    ]


def app_user() -> str:
    return edits.os_user()


async def test_a_change_from_another_process_is_shown_and_nothing_saved_until_confirmed(console: Any) -> None:
    app, pilot, url = console
    await open_first_contract(app, pilot)
    form = app.screen
    edit_in_another_process(app.settings.database_url, "C-10001", "payment", "4000000")
    form.query_one("#payment").value = "44 000,00"
    await click_save(app, pilot)
    error = form.query_one("#form-error")
    await until(pilot, lambda: "Not saved" in str(error.render()))
    shown = str(error.render()).replace("\xa0", " ")
    assert "colleague" in shown and "45 000,00" in shown and "40 000,00" in shown
    assert form.query_one("#payment").value == "40 000,00"  # the form now shows what is there, as the locale writes it
    entity = (await post(url, verify_body("7012345678"))).json()["entities"][0]
    assert entity["payment"] == 4_000_000  # nothing of ours was saved
    form.query_one("#payment").value = "44 000,00"  # the operator still means it
    await click_save(app, pilot)
    await until(pilot, lambda: not isinstance(app.screen, ContractForm))
    assert (await post(url, verify_body("7012345678"))).json()["entities"][0]["payment"] == 4_400_000
    kinds = [(kind, actor, old, new) for kind, actor, _, old, new, _ in await audit_rows(app, "C-10001")]
    assert kinds == [("edit", "colleague", "4500000", "4000000"), ("edit", app_user(), "4000000", "4400000")]


async def test_forms_report_every_invalid_field_at_once(attached: Any) -> None:
    app, pilot = attached
    await open_first_contract(app, pilot)
    app.screen.query_one("#status_code").value = "abc"
    app.screen.query_one("#payment").value = "12.345"
    app.screen.query_one("#min_payment").value = "nan"
    await click_save(app, pilot)
    error = app.screen.query_one("#form-error")
    await until(pilot, lambda: "status code" in str(error.render()))
    shown = str(error.render())
    assert "status code" in shown and "amount due" in shown and "minimum payment" in shown
    app.screen.query_one("#status_code").value = "0"
    app.screen.query_one("#payment").value = "100"
    app.screen.query_one("#min_payment").value = "200"
    await click_save(app, pilot)
    await until(pilot, lambda: "minimum payment: above the amount due" in str(error.render()))


async def test_an_account_needs_a_name(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    store = Store(settings.database_url)
    await store.open()
    with pytest.raises(edits.EditRejected, match="name: required"):
        await edits.add_account(store, "7999", " ", None)
    await store.close()


# --- audit: the CLI, each filter and format ---------------------------------------------------


def _audit_cli(tmp_path: Path, db_url: str, *args: str) -> str:
    env = serve_env(tmp_path / "k.db", 0, KASSA24_DATABASE_URL=db_url)
    result = run_cli("audit", *args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_the_audit_command_by_contract_customer_day_and_format(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    await seed_demo(settings)  # an import
    store = Store(settings.database_url)
    await store.open()
    seen = await edits.load_contract(store, "C-20001")
    change = edits.ContractChange(206, "в суде", seen.values.payment, seen.values.min_payment)
    await edits.update_contract(store, seen, change, actor="aigerim", note="ticket 4411")
    await store.close()
    db = settings.database_url

    rows = json.loads(_audit_cli(tmp_path, db, "--contract", "C-20001", "--format", "json"))
    assert [(r["kind"], r["field"], r["old"], r["new"]) for r in rows] == [
        ("import", "created", None, "2001_AST/20-02-2024/Eb4Lx9"),
        ("edit", "status_code", "0", "206"),
        ("edit", "status_text", "", "в суде"),
    ]
    assert rows[1]["actor"] == "aigerim" and rows[1]["note"] == "ticket 4411" and rows[0]["cause"] == "demo.json"

    by_customer = json.loads(_audit_cli(tmp_path, db, "--customer", "7012345678", "--format", "json"))
    assert {r["entity_id"] for r in by_customer} == {"7012345678", "C-10001", "C-10002"}  # the account's creation too
    assert json.loads(_audit_cli(tmp_path, db, "--since", "2099-01-01", "--format", "json")) == []

    table = list(csv.DictReader(io.StringIO(_audit_cli(tmp_path, db, "--contract", "C-20001", "--format", "csv"))))
    assert [r["field"] for r in table] == ["created", "status_code", "status_text"]
    text = _audit_cli(tmp_path, db, "--contract", "C-20001")
    assert "aigerim" in text and "ticket 4411" in text and "status_code: 0 → 206" in text


# --- mismatch history: resolve → reopen → resolve keeps every note ------------------------------


async def test_mismatch_history_keeps_every_resolve_and_reopen(tmp_path: Path) -> None:
    from kassa24_console.store import now_us
    from kassa24_console.store import queries as q

    store = Store(f"sqlite:///{tmp_path / 'k.db'}")
    await store.open()
    at = now_us()
    await store.write(
        lambda c: q.flag(c, key="k1", kind="unknown_payment", payment_id="p1", evidence={}, action="ask", at=at)
    )
    (mismatch_id,) = await store.scan(lambda c: c.exec_driver_sql("SELECT id FROM mismatches").one())
    await edits.resolve_mismatch(store, mismatch_id, "refunded, ticket 1", actor="aigerim")
    await edits.resolve_mismatch(store, mismatch_id, "the refund bounced", actor="erlan", reopen=True)
    await edits.resolve_mismatch(store, mismatch_id, "refunded again, ticket 2", actor="aigerim")
    entries = await store.scan(
        lambda c: [
            tuple(r)
            for r in c.exec_driver_sql(
                "SELECT kind, actor, new, note FROM audit WHERE entity = 'mismatch' AND entity_id = ? ORDER BY id",
                (str(mismatch_id),),
            )
        ]
    )
    assert entries == [
        ("resolve", "aigerim", "resolved", "refunded, ticket 1"),
        ("reopen", "erlan", "open", "the refund bounced"),
        ("resolve", "aigerim", "resolved", "refunded again, ticket 2"),
    ]
    await store.close()


async def test_an_import_is_its_own_kind_of_history(tmp_path: Path) -> None:
    from kassa24_console import importer

    settings = make_settings(tmp_path)
    await seed_demo(settings)
    changed = tmp_path / "changed.json"
    data = json.loads(importer.demo_file().read_text())
    data["contracts"][0]["payment"] = 100
    changed.write_text(json.dumps({"contracts": data["contracts"][:1]}, ensure_ascii=False))
    store = Store(settings.database_url)
    await store.open()
    await importer.apply(store, importer.read_file(changed), actor="ops")
    rows = await store.scan(
        lambda c: [
            tuple(r)
            for r in c.exec_driver_sql(
                "SELECT kind, actor, field, old, new, cause FROM audit WHERE entity_id = 'C-10001' ORDER BY id"
            )
        ]
    )
    await store.close()
    assert rows[-1] == ("import", "ops", "payment", "4500000", "100", "changed.json")
    assert SECRET  # the test key never reaches the audit


async def test_a_payments_story_holds_every_step_in_order(console: Any) -> None:
    """verify → check_deposit and our answer → callback deliveries → the platform's record →
    the mismatch with its notes → the amount due before and after, from one key."""
    from kassa24_console import timeline
    from kassa24_console.console.screens import DetailScreen
    from kassa24_console.reconcile.engine import Period, reconcile, store_operations
    from kassa24_console.reconcile.report import Operation
    from kassa24_console.store import now_us

    app, pilot, url = console
    assert (await post(url, verify_body("7012345678"))).json()["code"] == 0
    payment_id = (await post(url, deposit_body("7012345678", "C-10001", 150_000))).json()["payment_id"]
    callback = callback_body(payment_id, amount=150_000)
    for _ in range(2):  # delivered twice: one callback, two deliveries
        assert (await post(url, callback, path="/kassa24/callback")).status_code == 200
    store = app.store
    today = datetime.now(app.zone).date()
    day = Period.of_days(today, today, app.zone)
    platform = Operation("9911", payment_id, "success", 140_000, "KZT", "sale", created_at=now_us())
    await store_operations(store, [platform], "csv:day.csv", day.days)
    await reconcile(store, app.settings, day)
    (mismatch_id,) = await store.scan(lambda c: c.exec_driver_sql("SELECT id FROM mismatches").scalars().all())
    await edits.resolve_mismatch(store, mismatch_id, "the platform confirms 1 500,00", actor="aigerim")

    events = await store.scan(lambda c: timeline.story(c, payment_id))
    kinds = [e.what for e in events]
    assert kinds.index("verify") < kinds.index("check_deposit") < kinds.index("callback")
    assert {"platform", "mismatch", "resolve", "amount due"} <= set(kinds)
    text = "\n".join(f"{e.what} {e.detail}" for e in events)
    assert "delivered ×2" in text and "→ applied" in text and "operation 9911" in text
    assert "45\xa0000,00\xa0₸ → 43\xa0500,00\xa0₸" in text and "the platform confirms" in text
    assert f'"payment_id": "{payment_id}"' in text  # our answer to the check_deposit

    await pilot.press("b")  # one key from the Callbacks pane opens the same story
    from kassa24_console.console.panes import CallbacksPane

    pane = app.query_one(CallbacksPane)
    await until(pilot, lambda: pane.table.row_count == 1)
    pane.table.focus()
    await pilot.press("s")
    await until(pilot, lambda: isinstance(app.screen, DetailScreen))
    shown = app.screen.query_one("#detail-request").text
    assert "verify" in shown and "callback" in shown and "amount due" in shown


# --- a conflict cites only the project's own contract --------------------------------------------


async def _two_projects_one_contract_id(tmp_path: Path) -> Store:
    """A database of projects 4242 and 4343, each with customer 7001 and contract C-1 (the
    same ids, two contracts): 900,00 due in 4242, 300,00 in 4343."""
    from kassa24_console import importer

    store = Store(f"sqlite:///{tmp_path / 'two.db'}", project_id=4242)
    await store.open()
    for project, due in ((4242, 90_000), (4343, 30_000)):
        account = {"customer_id": "7001", "name": f"Name {project}", "currency": "KZT", "additional_customer_id": None}
        contract = {"id": "C-1", "customer_id": "7001", "number": f"N-{project}", "payment": due}
        contract |= {"min_payment": None, "status_code": 0, "status_text": "", "info": None}
        await importer.apply(store, importer.Batch([account], [contract], ["t"]), actor="t", project_id=project)
    return store


async def test_a_conflict_cites_only_changes_of_the_same_projects_contract(tmp_path: Path) -> None:
    store = await _two_projects_one_contract_id(tmp_path)
    seen = await edits.load_contract(store, "C-1", 4343)  # the operator opens the test project's C-1
    production = await edits.load_contract(store, "C-1", 4242)
    other = edits.ContractChange(0, "", 55_500, None)  # production's C-1 changes meanwhile: not this contract
    assert await edits.update_contract(store, production, other, actor="prod-desk", note="production") == 1
    same = edits.ContractChange(0, "", 25_000, None)  # and the test project's C-1 too
    later = await edits.load_contract(store, "C-1", 4343)
    assert await edits.update_contract(store, later, same, actor="test-desk", note="test") == 1
    with pytest.raises(edits.EditConflict) as refused:
        await edits.update_contract(store, seen, edits.ContractChange(0, "", 20_000, None), actor="me")
    text = str(refused.value).replace("\xa0", " ")
    assert "test-desk" in text and "300,00 ₸ → 250,00 ₸" in text
    assert "prod-desk" not in text and "555,00" not in text and "900,00" not in text
    assert refused.value.current is not None and refused.value.current.project_id == 4343
    assert refused.value.current.payment == 25_000

    # Changed by something that left no audit row in its project (SQL by hand), while production's
    # C-1 was edited: the values are compared, never production's history cited.
    seen = await edits.load_contract(store, "C-1", 4343)
    await store.write(
        lambda c: c.exec_driver_sql(
            "UPDATE contracts SET payment = 24000, version = version + 1 WHERE project_id = 4343"
        )
    )
    production = await edits.load_contract(store, "C-1", 4242)
    await edits.update_contract(store, production, edits.ContractChange(0, "", 44_400, None), actor="prod-desk")
    with pytest.raises(edits.EditConflict) as refused:
        await edits.update_contract(store, seen, edits.ContractChange(0, "", 20_000, None), actor="me")
    text = str(refused.value).replace("\xa0", " ")
    assert "250,00 ₸ → 240,00 ₸" in text and "prod-desk" not in text and "444,00" not in text
    rows = await store.scan(
        lambda c: c.exec_driver_sql("SELECT project_id, payment FROM contracts ORDER BY project_id").all()
    )
    assert [tuple(r) for r in rows] == [(4242, 44_400), (4343, 24_000)]  # nothing of the refused edits saved
    await store.close()
