"""Every screen in Kazakh at both sizes: longer words must still fit (the English ones are in
``test_snapshots.py``; a file per language, so that two workers take the pictures)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.snapshots import SCREENS, SIZE, SMALL, Home, home, press

__all__ = ["home"]  # the fixture, used by name


@pytest.mark.parametrize("size", [SMALL, SIZE], ids=["80x24", "120x40"])
@pytest.mark.parametrize("language", ["kk"])
@pytest.mark.parametrize("name", list(SCREENS))
def test_every_screen_in_russian_and_kazakh(
    snap_compare: Any, home: Home, name: str, language: str, size: tuple[int, int]
) -> None:
    async def run(pilot: Any) -> None:
        await press(pilot, *SCREENS[name])

    assert snap_compare(home.app(language), terminal_size=size, run_before=run)
