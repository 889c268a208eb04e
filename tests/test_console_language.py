"""The console's language: chosen by the setting, shown in the header, switched from the
palette at once (no restart) while real requests keep arriving."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static, TabbedContent
from textual.widgets.data_table import ColumnKey

from kassa24_console import i18n
from kassa24_console.console.app import Kassa24App
from kassa24_console.console.traffic import TrafficPane
from tests.support.bodies import verify_body
from tests.support.console import make_settings, post, until
from tests.support.seeding import seed_demo


def tab_labels(app: Kassa24App) -> list[str]:
    tabs = app.query_one(TabbedContent)
    return [str(tabs.get_tab(tab).label) for tab in ("traffic", "contracts", "callbacks", "mismatches", "alerts")]


def first_command(app: Kassa24App) -> str:
    """The palette's first suggestion ("" while it has none)."""
    try:
        return str(app.screen.query_one("CommandList").get_option_at_index(0).prompt)
    except Exception:
        return ""


def header(app: Kassa24App) -> str:
    return str(app.query_one("#status-line", Static).render())


async def test_the_palette_switches_the_language_at_once(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, language="ru")
    await seed_demo(settings)
    app = Kassa24App(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.listener_state == "listening")
        assert tab_labels(app) == ["Трафик", "Договоры", "Уведомления", "Расхождения", "Оповещения"]
        assert "RU Русский" in header(app) and "● принимает запросы" in header(app)
        await pilot.press("ctrl+p")
        await pilot.press(*"Қазақша")  # each language is named in its own words too
        await until(pilot, lambda: "Язык: Қазақша" in first_command(app))
        await pilot.press("enter")
        await until(pilot, lambda: i18n.current_language() == "kk")
        assert tab_labels(app) == ["Трафик", "Шарттар", "Хабарламалар", "Сәйкессіздіктер", "Ескертулер"]
        assert "KK Қазақша" in header(app) and "● сұрау қабылдайды" in header(app)
        url = f"http://127.0.0.1:{app.runtime.listener.port}"
        answer = await post(url, verify_body("no-such-account"))
        assert answer.json()["message"] == "Лицевой счёт не найден"  # the payer's language is its own (ru)
        assert "Сәйкессіздіктер" in tab_labels(app)
        assert "Уақыты" in str(app.query_one("#traffic-header", Static).render())  # the columns, drawn again
        table = app.query_one("#contracts-table")
        assert str(table.columns[ColumnKey("contract")].label) == "Шарт"
        traffic = app.query_one(TrafficPane).table
        await until(pilot, lambda: any("no-such-account" in traffic.plain_row(i) for i in range(traffic.row_count)))
