"""The console talks in messages: panes post typed messages up and the app handles them
(story, history, contract form, resolve); the help (F1 and ``?``) is made from the bindings in
force, so a key remapped by the app's keymap shows remapped; the contract form shows the
contract's credit (overpayments kept). Pilot over a real listener and a real SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.message import Message

from kassa24_console.console import messages
from kassa24_console.console.app import Kassa24App
from kassa24_console.console.mismatches import MismatchesPane
from kassa24_console.console.panes import CallbacksPane, ContractsPane
from kassa24_console.console.screens import ContractForm, DetailScreen, HelpScreen, ResolveForm
from kassa24_console.money import format_money
from tests.support.bodies import callback_body, deposit_body
from tests.support.console import make_settings, post, until
from tests.support.seeding import seed_demo


async def _overpay(url: str, app: Kassa24App, extra: int) -> tuple[str, int]:
    """A real check_deposit and success callback for C-10001 paying ``extra`` over its due."""
    assert app.store is not None
    due = (await app.store.scan(lambda c: c.exec_driver_sql("SELECT payment FROM contracts WHERE id='C-10001'").one()))[
        0
    ]
    paid = due + extra
    payment_id = (await post(url, deposit_body("7012345678", "C-10001", paid))).json()["payment_id"]
    answer = await post(url, callback_body(payment_id, amount=paid, operation_id=901), path="/kassa24/callback")
    assert answer.status_code == 200
    return payment_id, due


async def test_panes_post_messages_the_app_handles(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    await seed_demo(settings)
    seen: list[Message] = []
    app = Kassa24App(settings)
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await until(pilot, lambda: app.listener_state == "listening")
        assert app.runtime is not None
        url = f"http://127.0.0.1:{app.runtime.listener.port}"
        payment_id, _due = await _overpay(url, app, 50_000)

        def posted(kind: type[Message]) -> list[Any]:
            """Each message once (the hook sees it at every node it bubbles through)."""
            return list({id(m): m for m in seen if isinstance(m, kind)}.values())

        # Contracts: Enter asks the app for the form; the form is the app's doing.
        await pilot.press("c")
        contracts = app.query_one(ContractsPane)
        await until(pilot, lambda: contracts.table.row_count == 10)
        row = next(i for i in range(10) if contracts.table.get_row_at(i)[2].plain == "C-10001")
        contracts.table.move_cursor(row=row)
        contracts.table.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ContractForm))
        assert [m.contract.id for m in posted(messages.EditContract)] == ["C-10001"]
        facts = str(app.screen.query_one("#form-facts").render())
        assert facts == f"Credit (overpayments kept): {format_money(50_000)}"  # the overpayment, kept
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ContractForm))

        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert [m.contract.id for m in posted(messages.ShowHistory)] == ["C-10001"]
        assert f"credit {format_money(50_000)}" in app.screen.query_one("#detail-response").text
        await pilot.press("escape")

        # Callbacks: the story of the selected callback's payment, asked by message.
        await pilot.press("b")
        callbacks = app.query_one(CallbacksPane)
        await until(pilot, lambda: callbacks.table.row_count == 1)
        callbacks.table.focus()
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert [m.payment_id for m in posted(messages.ShowStory)] == [payment_id]
        assert payment_id in str(app.screen.query_one("#detail-title").render())
        await pilot.press("escape")

        # Mismatches: x asks the app to resolve; the form it opens saves through the core.
        await post(url, callback_body("k24_nobody_knows", amount=1_000), path="/kassa24/callback")
        await pilot.press("m")
        mismatches = app.query_one(MismatchesPane)
        table = mismatches.table

        def unknown_row() -> int | None:
            rows = (i for i in range(table.row_count) if table.get_row_at(i)[2].plain == "k24_nobody_knows")
            return next(rows, None)

        await until(pilot, lambda: unknown_row() is not None)
        table.move_cursor(row=unknown_row())
        table.focus()
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ResolveForm))
        assert [m.reopen for m in posted(messages.ResolveMismatch)] == [False]
        await pilot.press(*"checked")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, ResolveForm))
        read = "SELECT state, note FROM mismatches WHERE payment_id = 'k24_nobody_knows'"
        state = await app.store.scan(lambda c: c.exec_driver_sql(read).one())
        assert tuple(state) == ("resolved", "checked")


def _help_rows(app: Kassa24App) -> list[str]:
    assert isinstance(app.screen, HelpScreen)
    return [line for line in app.screen._text.splitlines() if line.startswith("| ")]


async def test_help_shows_the_keys_the_apps_keymap_binds_now(tmp_path: Path) -> None:
    app = Kassa24App(make_settings(tmp_path), attach=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")  # ? opens the help as F1 does
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        rows = _help_rows(app)
        assert any(r.startswith("| `h` |") and "| contracts |" in r and "history" in r for r in rows)
        assert any(r.startswith("| `r` |") and "| mismatches |" in r for r in rows)
        assert any(r.startswith("| `f1` `?` |") for r in rows)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen))

        # Remapped the way Textual does it (App.set_keymap), while the console runs.
        app.set_keymap({"contracts.history": "y", "mismatches.reconcile": "ctrl+e", "app.help": "f2"})
        await pilot.press("f1")
        await pilot.pause()  # the key's messages drained
        assert not isinstance(app.screen, HelpScreen)  # f1 no longer opens it
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        rows = _help_rows(app)
        history = next(r for r in rows if "| contracts |" in r and "history" in r)
        assert history.startswith("| `y` |")
        reconcile = next(r for r in rows if "| mismatches |" in r and "reconcile" in r)
        assert reconcile.startswith("| `^e` |")
        assert any(r.startswith("| `f2` `?` |") for r in rows)  # ? has an id of its own: kept
        assert not any(r.startswith("| `h` |") or r.startswith("| `f1`") for r in rows)
