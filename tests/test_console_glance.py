"""The console right at a glance (issue 24): each defect an operator saw, driven through Pilot."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from textual.widgets import HelpPanel, Input, TabbedContent

from kassa24_console.config import DEMO_SECRET_KEY
from kassa24_console.console.app import Kassa24App
from kassa24_console.console.mismatches import MismatchesPane
from kassa24_console.console.panes import ContractsPane
from kassa24_console.console.screens import AccountForm, ContractForm, DetailScreen, HelpScreen
from kassa24_console.console.traffic import TrafficPane
from kassa24_console.store import Store, now_us
from kassa24_console.store import queries as q
from tests.support.bodies import callback_body, deposit_body, verify_body
from tests.support.console import attached, click_save, make_settings, open_first_contract, post, steady_screen, until
from tests.support.seeding import seed_demo

__all__ = ["attached"]  # the fixture, used by name


async def _seed_traffic(settings: Any, rows: int) -> None:
    store = Store(settings.database_url)
    await store.open()
    row = {"kind": "verify", "http_status": 200, "peer": "p", "request": "{}", "response": "{}", "code": 0}
    start = now_us() - rows
    await store.write(lambda c: c.execute(q.traffic.insert(), [{**row, "at": start + i} for i in range(rows)]))
    await store.close()


async def test_traffic_opens_on_the_newest_rows_while_following(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    await _seed_traffic(settings, 120)
    app = Kassa24App(settings, attach=True)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(TrafficPane).table
        await until(pilot, lambda: table.row_count == 120)
        assert "following" in str(app.query_one("#traffic-state").render())
        assert table.cursor == 119

        def newest_on_screen() -> bool:
            top, height = table.scroll_offset.y, table.scrollable_content_region.height
            return height > 0 and top <= 119 < top + height

        await until(pilot, newest_on_screen)  # before the fix: top stayed 0, the oldest rows shown


async def test_home_moves_the_cursor_not_only_the_view(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    await seed_demo(settings)
    app = Kassa24App(settings, attach=True)
    async with app.run_test(size=(120, 16)) as pilot:
        await pilot.press("c")
        table = app.query_one(ContractsPane).table
        await until(pilot, lambda: table.row_count == 10)
        table.focus()
        await pilot.press("end")
        assert table.cursor_row == 9
        await pilot.press("home")
        assert table.cursor_row == 0 and table.scroll_offset.y == 0


async def test_dialogs_focus_their_first_field_and_the_status_code_takes_digits_only(attached: Any) -> None:
    app, pilot = attached
    await open_first_contract(app, pilot)
    code = app.screen.query_one("#status_code", Input)
    assert app.focused is code
    code.value = ""
    await pilot.press("2", "x", "0", "-", "6", "9")
    assert code.value == "206"  # letters and signs never reach it; three digits at most
    await pilot.press("escape")
    await until(pilot, lambda: not isinstance(app.screen, ContractForm))
    await pilot.press("a")
    await until(pilot, lambda: isinstance(app.screen, AccountForm))
    await pilot.press("7", "0")
    assert app.screen.query_one("#customer_id", Input).value == "70"


async def test_forms_show_and_accept_the_locales_number_form(attached: Any) -> None:
    app, pilot = attached
    await open_first_contract(app, pilot)
    assert app.screen.query_one("#payment", Input).value == "45 000,00"  # as the tables write it
    assert app.screen.query_one("#min_payment", Input).value == "1 000,00"
    app.screen.query_one("#payment", Input).value = "1 500,50"
    await click_save(app, pilot)
    await until(pilot, lambda: not isinstance(app.screen, ContractForm))
    due = await app.store.scan(lambda c: c.exec_driver_sql("SELECT payment FROM contracts WHERE id='C-10001'").one())
    assert tuple(due) == (150_050,)


async def test_the_conflict_message_is_in_the_zone_names_only_later_changes_and_keeps_numbers_whole(
    console: Any,
) -> None:
    app, pilot, url = console
    earlier = (await post(url, deposit_body("7012345678", "C-10001", 150_000))).json()["payment_id"]
    assert (await post(url, callback_body(earlier, amount=150_000), path="/kassa24/callback")).status_code == 200
    await open_first_contract(app, pilot)
    pane_form = app.screen
    later = (await post(url, deposit_body("7012345678", "C-10001", 761_100))).json()["payment_id"]
    assert (await post(url, callback_body(later, amount=761_100), path="/kassa24/callback")).status_code == 200
    pane_form.query_one("#payment", Input).value = "44 000,00"
    await click_save(app, pilot)
    error = pane_form.query_one("#form-error")
    await until(pilot, lambda: "Not saved" in str(error.render()))
    lines = str(error.render()).splitlines()
    text = " ".join(lines)
    assert later in text and earlier not in text  # only what changed after the form opened
    at = await app.store.scan(
        lambda c: c.exec_driver_sql("SELECT at FROM audit WHERE kind='payment' AND cause=?", (later,)).scalar_one()
    )
    almaty = datetime.fromtimestamp(at / 1e6, ZoneInfo("Asia/Almaty")).strftime("%H:%M:%S")
    assert f"credited at {almaty}" in text
    for amount in ("43\xa0500,00\xa0₸", "35\xa0889,00\xa0₸"):  # each whole on one line
        assert any(amount in line for line in lines), (amount, lines)


async def test_history_is_newest_first_and_end_goes_to_the_oldest(console: Any) -> None:
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
    history = app.screen.query_one("#detail-request")
    lines = history.text.splitlines()
    assert "payment" in lines[0] and "import" in history.text
    assert history.text.index(payment_id) < history.text.index("import")  # the payment came after the import
    history.focus()
    await pilot.press("end")
    assert history.cursor_location[0] == len(lines) - 1
    await pilot.press("home")
    assert history.cursor_location == (0, 0)


async def test_question_mark_opens_help_and_esc_closes_the_keys_panel(attached: Any) -> None:
    app, pilot = attached
    app.query_one(TrafficPane).table.focus()
    await pilot.press("question_mark")
    await until(pilot, lambda: isinstance(app.screen, HelpScreen))
    await pilot.press("escape")
    await until(pilot, lambda: not isinstance(app.screen, HelpScreen))
    app.action_show_help_panel()
    await until(pilot, lambda: bool(app.screen.query(HelpPanel)))
    await pilot.press("escape")
    await until(pilot, lambda: not app.screen.query(HelpPanel))


async def test_the_palettes_quit_says_what_q_does(console: Any) -> None:
    app, _, _ = console
    quits = [c for c in app.get_system_commands(app.screen) if c.title == "Quit"]
    assert len(quits) == 1 and "in-flight" in quits[0].help


async def test_the_header_fits_at_80_columns_and_demo_key_is_on_one_line(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, secret_key=DEMO_SECRET_KEY)
    await seed_demo(settings)
    app = Kassa24App(settings, attach=True)
    async with app.run_test(size=(80, 24)) as pilot:
        header = app.query_one("#status-line")
        await until(pilot, lambda: "DEMO" in str(header.render()))
        lines = str(header.render()).splitlines()
        assert len(lines) == 1 and header.size.height == 1, lines
        assert "\xa0DEMO\xa0KEY\xa0" in lines[0] and len(lines[0]) <= 78


async def test_the_reason_is_readable_whole_and_nothing_scrolls_sideways(console: Any) -> None:
    app, pilot, url = console
    await post(url, verify_body("nobody-at-all"))
    table = app.query_one(TrafficPane).table
    await until(pilot, lambda: table.row_count == 1)
    reason = app.query_one("#traffic-reason")
    await until(pilot, lambda: "Account does not exist" in str(reason.render()))
    await until(pilot, lambda: reason.display and reason.region.width > 100)  # a whole line, not 6 letters
    assert not table.show_horizontal_scrollbar  # no scrollbar fragment, the header stays over its column


async def test_f1_lists_every_key_in_force_under_the_keymaps_keys(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, keymap={"contracts.history": "y"})
    await seed_demo(settings)
    app = Kassa24App(settings, attach=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        rows = [line for line in app.screen._text.splitlines() if line.startswith("| ")]
        assert "| `Enter` | callbacks | raw callback, our answer, the deposit |" in rows
        for pane in ("traffic", "contracts", "callbacks", "mismatches"):
            assert any(r.startswith("| `/` |") and f"| {pane} |" in r for r in rows), pane
        assert any(r.startswith("| `]` |") for r in rows)
        history = next(r for r in rows if "history" in r and "| contracts |" in r)
        assert history.startswith("| `y` |")  # the key the keymap gave it, not `h`
        assert any(r.startswith("| `q` `^q` |") and "in-flight" in r for r in rows)


async def test_evidence_reads_as_words_not_json(console: Any) -> None:
    app, pilot, url = console
    assert (await post(url, callback_body("k24_nobody_knows", amount=761_100), path="/kassa24/callback")).status_code
    await pilot.press("m")
    pane = app.query_one(MismatchesPane)
    await until(pilot, lambda: pane.table.row_count == 1)
    cell = str(pane.table.get_row_at(0)[4])
    assert cell.startswith("callback payment id k24_nobody_knows") and "{" not in cell and '"' not in cell
    pane.table.focus()
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, DetailScreen))
    evidence = app.screen.query_one("#detail-request").text
    assert "amount 7\xa0611,00\xa0₸" in evidence and "{" not in evidence


async def test_a_traffic_rows_detail_names_its_id_for_replay(console: Any) -> None:
    app, pilot, url = console
    await post(url, verify_body("7012345678"))
    table = app.query_one(TrafficPane).table
    await until(pilot, lambda: table.row_count == 1)
    table.focus()
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, DetailScreen))
    assert str(app.screen.query_one("#detail-title").render()).startswith(f"#{table.keys[0]} · verify")


async def test_every_panes_footer_fits_at_80_columns(tmp_path: Path) -> None:
    from textual.widgets._footer import FooterKey

    settings = make_settings(tmp_path)
    await seed_demo(settings)
    app = Kassa24App(settings, attach=True)
    async with app.run_test(size=(80, 24)) as pilot:
        tabs = app.query_one(TabbedContent)
        for key, tab in (("t", "traffic"), ("c", "contracts"), ("b", "callbacks"), ("m", "mismatches")):
            await pilot.press(key)
            await until(pilot, lambda tab=tab: tabs.active == tab)
            await steady_screen(pilot)
            keys = [k for k in app.screen.query(FooterKey) if k.action != "command_palette"]  # docked right
            palette = next(k for k in app.screen.query(FooterKey) if k.action == "command_palette")
            assert {k.action for k in keys} >= {"quit", "help"}, key
            cut = [k.description for k in keys if k.region.right > palette.region.x]
            assert not cut, (key, cut)
