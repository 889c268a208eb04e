"""Snapshots of every pane and screen: fixed data, fixed size, no clock, no listener. The
database is built once and shared (``tests/support/snapshots.py``); the same screens in
Russian and Kazakh are in ``test_snapshots_ru.py`` and ``test_snapshots_kk.py``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.snapshots import SCREENS, SIZE, SMALL, TWO_PROJECTS, Home, home, press, settle

__all__ = ["home"]  # the fixture, used by name


def test_traffic_pane(snap_compare: Any, home: Home) -> None:
    assert snap_compare(home.app(), terminal_size=SIZE, run_before=settle)


def test_contracts_pane(snap_compare: Any, home: Home) -> None:
    async def run(pilot: Any) -> None:
        await pilot.press("c")
        await settle(pilot)

    assert snap_compare(home.app(), terminal_size=SIZE, run_before=run)


def test_contracts_pane_of_one_of_two_projects(snap_compare: Any, home: Home) -> None:
    """Two projects: the Project column, and the filter on the second project (P twice)."""

    async def run(pilot: Any) -> None:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("P", "P")
        await settle(pilot)

    assert snap_compare(home.app(projects=TWO_PROJECTS), terminal_size=SIZE, run_before=run)


def test_callbacks_pane(snap_compare: Any, home: Home) -> None:
    async def run(pilot: Any) -> None:
        await pilot.press("b")
        await settle(pilot)

    assert snap_compare(home.app(), terminal_size=SIZE, run_before=run)


def test_mismatches_pane(snap_compare: Any, home: Home) -> None:
    async def run(pilot: Any) -> None:
        await pilot.press("m")
        await settle(pilot)

    assert snap_compare(home.app(), terminal_size=SIZE, run_before=run)


def test_detail_view(snap_compare: Any, home: Home) -> None:
    async def run(pilot: Any) -> None:
        await pilot.press("up", "up", "enter")  # the verify refused for its signature
        await settle(pilot)

    assert snap_compare(home.app(), terminal_size=SIZE, run_before=run)


def test_edit_form(snap_compare: Any, home: Home) -> None:
    async def run(pilot: Any) -> None:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("down", "down", "down", "e")
        await settle(pilot)

    assert snap_compare(home.app(), terminal_size=SIZE, run_before=run)


def test_help_screen(snap_compare: Any, home: Home) -> None:
    async def run(pilot: Any) -> None:
        await pilot.press("f1")
        await settle(pilot)

    assert snap_compare(home.app(), terminal_size=SIZE, run_before=run)


# --- the same at 80×24, and the forms and the story ----------------------------------------


@pytest.mark.parametrize("name", list(SCREENS))
def test_every_screen_at_80x24(snap_compare: Any, home: Home, name: str) -> None:
    async def run(pilot: Any) -> None:
        await press(pilot, *SCREENS[name])

    assert snap_compare(home.app(), terminal_size=SMALL, run_before=run)


@pytest.mark.parametrize(
    "name", ["new_contract_form", "story", "history", "account_form", "resolve_form", "correction_form", "alerts"]
)
def test_the_forms_and_stories_at_120x40(snap_compare: Any, home: Home, name: str) -> None:
    async def run(pilot: Any) -> None:
        await press(pilot, *SCREENS[name])

    assert snap_compare(home.app(), terminal_size=SIZE, run_before=run)
