"""The console driven through Pilot, with real HTTP arriving at its embedded listener."""

from __future__ import annotations

import socket
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from textual.widgets import TabbedContent

from kassa24_console.config import Settings
from kassa24_console.console.app import Kassa24App
from kassa24_console.console.mismatches import MismatchesPane
from kassa24_console.console.panes import CallbacksPane, ContractsPane
from kassa24_console.console.screens import (
    AccountForm,
    ContractForm,
    DetailScreen,
    HelpScreen,
    NewContractForm,
    ResolveForm,
)
from kassa24_console.console.traffic import TrafficPane
from kassa24_console.protocol.signature import signed
from kassa24_console.reconcile.engine import Period, reconcile
from kassa24_console.store import now_us
from tests.support.bodies import callback_body, deposit_body, verify_body
from tests.support.cli import run_cli
from tests.support.common import SECRET
from tests.support.console import Ticks, attached, click_save, make_settings, open_first_contract, post, until
from tests.support.seeding import seed_demo
from tests.support.waiting import wait_for

__all__ = ["attached"]  # the fixture, used by name


def _count(db: str, sql: str) -> int:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchone()[0]


def traffic_rows(app: Kassa24App) -> list[list[str]]:
    table = app.query_one(TrafficPane).table
    return [table.plain_row(i) for i in range(table.row_count)]


def status_line(app: Kassa24App) -> str:
    return str(app.query_one("#status-line").render())


def form_error(app: Kassa24App) -> str:
    """What the open form says is wrong ("" when no form is open)."""
    found = app.screen.query("#form-error")
    return str(found.first().render()) if found else ""


async def test_a_real_verify_appears_in_the_traffic_pane(console: Any) -> None:
    app, pilot, url = console
    answer = await post(url, verify_body("7012345678"))
    assert answer.json()["code"] == 0
    await until(pilot, lambda: len(traffic_rows(app)) == 1)
    row = traffic_rows(app)[0]
    assert row[1:4] == ["verify", "7012345678", ""]
    assert row[5] == "0" and row[7] == "ok"


async def test_untrusted_payloads_show_as_text(console: Any) -> None:
    app, pilot, url = console
    await post(url, verify_body("[/x] [bold]"))
    await post(url, b"[/x]")
    await until(pilot, lambda: len(traffic_rows(app)) == 2)
    assert traffic_rows(app)[0][2] == "[/x] [bold]"
    assert traffic_rows(app)[1][1] == "unknown"


async def test_editing_a_contract_changes_the_next_verify(console: Any) -> None:
    app, pilot, url = console
    before = (await post(url, verify_body("7012345678"))).json()
    assert before["entities"][0]["status_code"] == 0
    await open_first_contract(app, pilot)
    form = app.screen
    form.query_one("#status_code").value = "206"
    form.query_one("#status_text").value = "Передан коллекторам"
    form.query_one("#payment").value = "1 234,50"
    await click_save(app, pilot)
    await until(pilot, lambda: not isinstance(app.screen, ContractForm))
    after = (await post(url, verify_body("7012345678"))).json()
    assert after["entities"][0]["status_code"] == 206
    assert after["entities"][0]["payment"] == 123_450
    audit = await app.store.scan(
        lambda c: c.exec_driver_sql(
            "SELECT field, old, new, actor FROM audit WHERE entity = 'contract' AND kind = 'edit' ORDER BY field"
        ).all()
    )
    assert [(f, o, n) for f, o, n, _ in audit] == [
        ("payment", "4500000", "123450"),
        ("status_code", "0", "206"),
        ("status_text", "", "Передан коллекторам"),
    ]
    assert all(actor for *_, actor in audit)


async def test_the_edit_form_refuses_bad_values_and_changes_nothing(console: Any) -> None:
    app, pilot, url = console
    await open_first_contract(app, pilot)
    app.screen.query_one("#payment").value = "12.345"
    await click_save(app, pilot)
    await until(pilot, lambda: "decimal" in form_error(app))
    assert isinstance(app.screen, ContractForm)
    assert "at most 2 decimal places" in str(app.screen.query_one("#form-error").render())
    await pilot.press("escape")
    assert (await post(url, verify_body("7012345678"))).json()["entities"][0]["payment"] == 4_500_000


async def test_bad_signature_callback_lands_in_mismatches(console: Any) -> None:
    app, pilot, url = console
    payload = signed(callback_body("k24_forged"), SECRET)
    payload["payment"]["sum"]["amount"] = 1
    assert (await post(url, payload, path="/kassa24/callback", sign=False)).status_code == 400
    await pilot.press("m")
    pane = app.query_one(MismatchesPane)
    await until(pilot, lambda: pane.table.row_count == 1)
    row = [str(c) for c in pane.table.get_row_at(0)]
    assert row[1] == "bad_signature" and row[2] == "k24_forged" and row[3] == "open"
    # Resolve it with a note; the store agrees.
    await pilot.press("x")
    await until(pilot, lambda: isinstance(app.screen, ResolveForm))
    app.screen.query_one("#note").value = "forged test request"
    await click_save(app, pilot)
    await until(pilot, lambda: pane.table.row_count == 0)
    state = await app.store.scan(lambda c: c.exec_driver_sql("SELECT state, note FROM mismatches").one())
    assert tuple(state) == ("resolved", "forged test request")
    # Reopened and resolved again: the evidence view keeps every note.
    await pilot.press("v")
    await until(pilot, lambda: pane.table.row_count == 1)
    await pilot.press("o")
    await until(pilot, lambda: isinstance(app.screen, ResolveForm))
    app.screen.query_one("#note").value = "came again"
    await click_save(app, pilot)
    await until(pilot, lambda: pane.selected() is not None and pane.selected().state == "open")
    pane.table.focus()
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, DetailScreen))
    shown = app.screen.query_one("#detail-response").text
    assert "resolve by" in shown and "forged test request" in shown and "reopen by" in shown and "came again" in shown


async def test_filter_narrows_as_typed(console: Any) -> None:
    app, pilot, url = console
    await post(url, verify_body("7012345678"))
    await post(url, deposit_body("7012345678", "C-10001", 150_000))
    await post(url, verify_body("nobody"))
    await until(pilot, lambda: len(traffic_rows(app)) == 3)
    await pilot.press("slash")
    await pilot.press(*"kind:check")
    await until(pilot, lambda: [r[1] for r in traffic_rows(app)] == ["check_deposit"])
    app.query_one("#traffic-filter").value = "code:404"
    await until(pilot, lambda: [r[2] for r in traffic_rows(app)] == ["nobody"])
    app.query_one("#traffic-filter").value = "entity_id"
    await until(pilot, lambda: [r[1] for r in traffic_rows(app)] == ["check_deposit"])
    app.query_one("#traffic-filter").value = ""
    await until(pilot, lambda: len(traffic_rows(app)) == 3)


async def test_follow_pauses_on_scroll_up_and_resumes_on_end(console: Any) -> None:
    app, pilot, url = console
    pane = app.query_one(TrafficPane)
    for i in range(3):
        await post(url, verify_body(f"c{i}"))
    await until(pilot, lambda: len(traffic_rows(app)) == 3)
    assert pane.follow
    app.query_one("#traffic-table").focus()
    await pilot.press("up")
    assert not pane.follow
    await post(url, verify_body("later"))
    await until(pilot, lambda: pane._pending == 1)
    assert len(traffic_rows(app)) == 3  # the view holds still while paused
    await pilot.press("end")
    await until(pilot, lambda: len(traffic_rows(app)) == 4)
    assert pane.follow
    assert app.query_one(TrafficPane).table.cursor == 3


async def test_enter_opens_the_raw_request_and_response(console: Any) -> None:
    app, pilot, url = console
    await post(url, verify_body("7012345678"))
    await until(pilot, lambda: len(traffic_rows(app)) == 1)
    app.query_one("#traffic-table").focus()
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, DetailScreen))
    request = app.screen.query_one("#detail-request").text
    response = app.screen.query_one("#detail-response").text
    assert '"customer_id": "7012345678"' in request and '"signature"' in request
    assert '"code": 0' in response and '"entities"' in response
    await pilot.press("escape")
    assert not isinstance(app.screen, DetailScreen)


async def test_help_shows_the_log_file(attached: Any) -> None:
    app, pilot = attached
    await pilot.press("f1")
    await until(pilot, lambda: isinstance(app.screen, HelpScreen))
    assert str(app.settings.log_file) in app.screen.query_one("Markdown").source


async def test_quit_frees_the_port(console: Any) -> None:
    app, pilot, _url = console
    port = app.runtime.listener.port
    await pilot.press("q")
    await until(pilot, lambda: app.return_value == 0)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


async def test_port_in_use_is_shown_and_retry_works(tmp_path: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    app = Kassa24App(make_settings(tmp_path, port=port))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.listener_state == "stopped")
        status = str(app.query_one("#status-line").render())
        assert f"cannot listen on 127.0.0.1:{port}: the port is already in use" in status
        busy.close()
        await pilot.press("ctrl+r")
        await until(pilot, lambda: app.listener_state == "listening")
        assert (await post(f"http://127.0.0.1:{port}", verify_body("x"))).json()["code"] == 404


async def test_unreadable_database_is_shown_not_raised(tmp_path: Path) -> None:
    (tmp_path / "k24.db").mkdir()  # a directory where the file should be
    app = Kassa24App(make_settings(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "cannot open the database" in status_line(app))
        assert app.is_running
        await pilot.press("q")


async def test_attach_mode_watches_a_database_without_listening(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    await seed_demo(settings)
    app = Kassa24App(settings, attach=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "attached" in status_line(app))
        assert app.listener is None and app.store is not None  # attached: no listener at all, only the store
        await pilot.press("c")
        await until(pilot, lambda: app.query_one(ContractsPane).table.row_count == 10)


async def test_a_bad_config_is_shown_and_the_console_stays_up(tmp_path: Path) -> None:
    from kassa24_console.config import ConfigError, load_settings

    with pytest.raises(ConfigError) as error:
        load_settings(None, port=99999)
    app = Kassa24App(Settings.model_construct(database_url="(not configured)"), config_error=str(error.value))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "fix the configuration" in status_line(app))
        status = status_line(app)
        assert "port" in status and "fix the configuration" in status
        await pilot.press("ctrl+r")
        assert app.runtime is None and app.is_running
        await pilot.press("q")


async def test_adding_an_account_and_a_contract(console: Any) -> None:
    app, pilot, url = console
    await pilot.press("c")
    pane = app.query_one(ContractsPane)
    await until(pilot, lambda: pane.table.row_count == 10)
    await pilot.press("a")
    await until(pilot, lambda: isinstance(app.screen, AccountForm))
    for field, value in {"customer_id": "7999000111", "name": "Нұрсұлтан Ә.", "additional_customer_id": ""}.items():
        app.screen.query_one(f"#{field}").value = value
    await click_save(app, pilot)
    await until(pilot, lambda: not isinstance(app.screen, AccountForm))
    await pilot.press("n")
    await until(pilot, lambda: isinstance(app.screen, NewContractForm))
    values = {
        "customer_id": "7999000111",
        "id": "C-99",
        "number": "N-99",
        "payment": "12 500,00",
        "min_payment": "",
        "status_code": "0",
        "status_text": "",
    }
    for field, value in values.items():
        app.screen.query_one(f"#{field}").value = value
    await click_save(app, pilot)
    await until(pilot, lambda: pane.table.row_count == 11)
    answer = (await post(url, verify_body("7999000111"))).json()
    assert answer["code"] == 0
    assert answer["entities"] == [{"id": "C-99", "number": "N-99", "payment": 1_250_000, "status_code": 0}]


async def test_reconcile_today_from_the_mismatches_pane(console: Any) -> None:
    app, pilot, url = console
    payment_id = (await post(url, deposit_body("7012345678", "C-10001", 150_000))).json()["payment_id"]
    pane = app.query_one(MismatchesPane)
    await pilot.press("m")
    await pane.action_reconcile()  # now: the deposit is seconds old, nothing is overdue yet
    assert pane.table.row_count == 0
    day = datetime.now(app.zone).date()
    two_minutes_on = now_us() + 120_000_000
    await reconcile(app.store, app.settings, Period.of_days(day, day, app.zone), now=two_minutes_on)
    await pane.refresh_rows()
    row = [str(c) for c in pane.table.get_row_at(0)]
    assert row[1] == "callback_overdue" and row[2] == payment_id


async def test_keys_can_be_remapped_by_binding_id(tmp_path: Path) -> None:
    app = Kassa24App(make_settings(tmp_path, keymap={"app.help": "f2"}), attach=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f1")
        await pilot.pause()  # the key's messages drained: f1 opened nothing
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))


async def test_a_failed_signature_is_explained_in_the_detail_view(console: Any) -> None:
    app, pilot, url = console
    forged = {**verify_body("7012345678"), "signature": "A" * 86 + "=="}
    assert (await post(url, forged, sign=False)).json()["code"] == 400
    signed_ok = await post(url, verify_body("7012345678"))
    assert signed_ok.json()["code"] == 0
    await until(pilot, lambda: len(traffic_rows(app)) == 2)
    app.query_one("#traffic-table").focus()
    await pilot.press("up", "enter")
    await until(pilot, lambda: isinstance(app.screen, DetailScreen))
    text = app.screen.query_one("#detail-response").text
    assert "# why:" in text and "tried 1 form(s): natural" in text and "customer_id:…" in text
    assert "7012345678" not in text.split("# why:")[1] and SECRET not in text
    await pilot.press("escape", "down", "enter")
    await until(pilot, lambda: isinstance(app.screen, DetailScreen))
    assert "matched in the natural form" in app.screen.query_one("#detail-response").text


def test_attaching_to_a_database_that_does_not_exist_says_so_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "k24.db"
    env = {"PATH": "/usr/bin:/bin", "KASSA24_DATABASE_URL": f"sqlite:///{missing}", "KASSA24_LOG_FILE": "/dev/null"}
    result = run_cli("--attach", env=env)
    assert result.returncode == 1 and f"there is no database at {missing}" in result.stderr
    assert "Traceback" not in result.stderr and not missing.exists() and not missing.parent.exists()


async def test_unknown_keymap_ids_are_reported(tmp_path: Path) -> None:
    app = Kassa24App(make_settings(tmp_path, keymap={"app.hepl": "f2", "app.help": "f3"}), attach=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: any("app.hepl" in str(n.message) for n in app._notifications))
        assert app.unknown_keys == ["app.hepl"]
        assert any("app.hepl" in str(n.message) for n in app._notifications)
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))


async def test_h_shows_a_contracts_history_and_enter_a_callbacks_detail(console: Any) -> None:
    app, pilot, url = console
    payment_id = (await post(url, deposit_body("7012345678", "C-10001", 150_000))).json()["payment_id"]
    assert (await post(url, callback_body(payment_id, amount=150_000), path="/kassa24/callback")).status_code == 200
    await pilot.press("c")
    pane = app.query_one(ContractsPane)
    await until(pilot, lambda: pane.table.row_count == 10)
    pane.table.move_cursor(row=0)
    pane.table.focus()
    await pilot.press("h")
    await until(pilot, lambda: isinstance(app.screen, DetailScreen))
    story = app.screen.query_one("#detail-request").text
    assert "import" in story and "payment" in story and payment_id in story
    assert "45\xa0000,00\xa0₸ → 43\xa0500,00\xa0₸" in story
    await pilot.press("escape")
    await pilot.press("b")
    callbacks = app.query_one(CallbacksPane)
    await until(pilot, lambda: callbacks.table.row_count == 1)
    assert [str(c) for c in callbacks.table.get_row_at(0)][2] == "customer_1"
    # The detail shows our answer as the traffic record keeps it: written just after the answer.
    db = str(app.settings.database_url).removeprefix("sqlite:///")
    await until(pilot, lambda: _count(db, "SELECT count(*) FROM traffic WHERE kind = 'callback'") == 1)
    callbacks.table.focus()
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, DetailScreen))
    assert payment_id in app.screen.query_one("#detail-request").text
    ours = app.screen.query_one("#detail-response").text
    assert '"outcome": "applied"' in ours and '"state": "paid"' in ours


async def test_rates_are_the_last_60_seconds_and_the_zone_is_in_the_header(console: Any) -> None:
    app, pilot, url = console
    for _ in range(3):
        await post(url, verify_body("7012345678"))
    await post(url, verify_body("nobody"))
    await until(pilot, lambda: len(traffic_rows(app)) == 4)
    await app._tick_rates()
    counters = str(app.query_one("#status-counters").render())
    assert "req/60 s 4" in counters and "errors/60 s 1" in counters
    assert "Asia/Almaty" in str(app.query_one("#status-line").render())
    assert traffic_rows(app)[-1][-1] == "Account does not exist"  # the reason, in the row


async def test_ctrl_r_asks_first_while_requests_are_in_flight(console: Any) -> None:
    from kassa24_console.console.screens import ConfirmScreen

    app, pilot, url = console
    port = app.runtime.listener.port
    slow = socket.create_connection(("127.0.0.1", port))
    slow.sendall(b"POST /kassa24 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")  # the body never ends
    try:
        await until(pilot, lambda: app.runtime.listener.in_flight == 1)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert app.listener_state == "listening" and app.runtime.listener.in_flight == 1  # nothing was stopped
    finally:
        slow.close()
    await until(pilot, lambda: app.runtime.listener.in_flight == 0)
    await pilot.press("ctrl+r")  # nothing in flight: no question
    await until(pilot, lambda: app.listener_state == "listening")
    assert not isinstance(app.screen, ConfirmScreen)
    assert (await post(url, verify_body("7012345678"))).json()["code"] == 0


async def test_the_contracts_list_pages_past_500_and_says_where_you_are(tmp_path: Path) -> None:
    from kassa24_console import importer
    from kassa24_console.store import Store

    settings = make_settings(tmp_path)
    await seed_demo(settings)
    store = Store(settings.database_url)
    await store.open()
    rows = [
        {
            "id": f"P-{i:04d}",
            "customer_id": "7012345678",
            "number": f"N/{i}",
            "payment": 100,
            "min_payment": None,
            "status_code": 0,
            "status_text": "",
            "info": None,
        }
        for i in range(1200)
    ]
    await importer.apply(store, importer.Batch([], rows, ["many.json"]), actor="test")
    await store.close()
    app = Kassa24App(settings, attach=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        pane = app.query_one(ContractsPane)
        where = app.query_one("#contracts-where")
        await until(pilot, lambda: pane.table.row_count == 500)
        assert str(where.render()).startswith("contracts 1–500 of 1 210")
        pane.table.focus()
        await pilot.press("right_square_bracket", "right_square_bracket")
        await until(pilot, lambda: pane.table.row_count == 210)
        assert str(where.render()).startswith("contracts 1001–1210 of 1 210")
        await pilot.press("left_square_bracket")
        await until(pilot, lambda: pane.table.row_count == 500)
        assert str(where.render()).startswith("contracts 501–1000 of 1 210")


async def test_slash_takes_a_payment_id_in_every_pane(console: Any) -> None:
    app, pilot, url = console
    paid = (await post(url, deposit_body("7012345678", "C-10002", 150_000))).json()["payment_id"]
    other = (await post(url, deposit_body("7023456789", "C-20001", 600_000))).json()["payment_id"]
    for payment_id in (paid, other):
        body = callback_body(payment_id, amount=150_000 if payment_id == paid else 600_000)
        assert (await post(url, body, path="/kassa24/callback")).status_code == 200
    assert (await post(url, callback_body("k24_stranger"), path="/kassa24/callback")).status_code == 200
    await until(pilot, lambda: len(traffic_rows(app)) == 5)
    app.query_one("#traffic-filter").value = paid
    await until(pilot, lambda: len(traffic_rows(app)) == 2)  # its check_deposit and its callback
    await pilot.press("c")
    contracts = app.query_one(ContractsPane)
    app.query_one("#contracts-search").value = paid
    await until(pilot, lambda: [r.id for r in contracts.rows.values()] == ["C-10002"])
    await pilot.press("b")
    callbacks = app.query_one(CallbacksPane)
    await until(pilot, lambda: callbacks.table.row_count == 3)
    assert str(app.query_one("#callbacks-where").render()).startswith("callbacks 1–3 of 3")
    app.query_one("#callbacks-search").value = paid
    await until(pilot, lambda: [r.payment_id for r in callbacks.rows.values()] == [paid])
    app.query_one("#callbacks-search").value = "unknown_payment"
    await until(pilot, lambda: [r.payment_id for r in callbacks.rows.values()] == ["k24_stranger"])
    await pilot.press("m")
    mismatches = app.query_one(MismatchesPane)
    await until(pilot, lambda: mismatches.table.row_count == 1)
    app.query_one("#mismatches-search").value = paid
    await until(pilot, lambda: mismatches.table.row_count == 0)


async def test_the_traffic_pane_says_how_much_there_is(tmp_path: Path) -> None:
    from kassa24_console.store import Store

    settings = make_settings(tmp_path)
    store = Store(settings.database_url)
    await store.open()
    row = {"kind": "verify", "http_status": 200, "peer": "p", "request": "{}", "response": "{}", "code": 0}
    await store.write(lambda c: c.execute(q_traffic().insert(), [{**row, "at": now_us() - i} for i in range(450)]))
    await store.close()
    app = Kassa24App(settings, attach=True)
    async with app.run_test(size=(120, 40)) as pilot:
        state = app.query_one("#traffic-state")
        await until(pilot, lambda: "300 of 450 shown" in str(state.render()))


def q_traffic():
    from kassa24_console.store import queries

    return queries.traffic


async def test_an_idle_console_asks_only_whether_anything_changed(console: Any) -> None:
    """With nothing committed, every timer's work is one ``PRAGMA data_version``: no pane,
    count or rate is read again (a console left open on a big database costs nothing)."""
    app, pilot, url = console
    assert app.store is not None
    contracts = app.query_one(ContractsPane)
    await until(pilot, lambda: bool(app.rates.read_at) and contracts._read_at is not None)
    tabs = app.query_one(TabbedContent)
    tabs.active = "contracts"  # the pane whose count grows with the database
    await until(pilot, lambda: tabs.active == "contracts")
    seen: list[str] = []
    reader = app.store.db._reader
    assert reader is not None

    def trace(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    ticks = Ticks(app)
    event.listen(reader, "checkout", trace)
    app.store.db._read_connection.connection.dbapi_connection.set_trace_callback(seen.append)
    try:
        # Start-up's own writes (demo data, pruning, the health probe in the listener's
        # process) may land in a window, and are rightly read: a quiet window must come.
        for _ in range(8):
            seen.clear()
            await ticks.every_timer_ran(pilot)
            assert seen, "the timers asked nothing"
            if set(seen) == {"PRAGMA data_version"}:
                break
        assert set(seen) == {"PRAGMA data_version"}, sorted(set(seen))[:5]
        # A change is still seen at once.
        await post(url, verify_body("7012345678"))
        await until(pilot, lambda: len(traffic_rows(app)) == 1)
        assert any(s.startswith("SELECT") for s in seen)
    finally:
        event.remove(reader, "checkout", trace)
        app.store.db._read_connection.connection.dbapi_connection.set_trace_callback(None)


async def test_the_listener_process_ends_with_the_console_however_it_ends(tmp_path: Path) -> None:
    """Leaving the app without ``q`` (an error, a test's Pilot) still ends the listener's
    process: it must not outlive the console that supervises it."""
    settings = make_settings(tmp_path)
    await seed_demo(settings)
    app = Kassa24App(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.listener_state == "listening")
        assert app.listener is not None and app.listener._process is not None
        process = app.listener._process
        assert process.poll() is None
    wait_for(lambda: process.poll() is not None, 30, "the listener's process to end")
