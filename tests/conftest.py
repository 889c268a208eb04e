"""Shared fixtures: the protocol app in-process or a real ``serve`` process, each on a temp
SQLite file, and the console with its listener embedded. Helpers live in ``tests/support``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from kassa24_console import i18n
from kassa24_console.console import heap
from kassa24_console.console.app import Kassa24App
from tests.support.common import LOCALE_VARIABLES
from tests.support.console import make_settings, until
from tests.support.inprocess import AppServer, start_app
from tests.support.seeding import seed_demo
from tests.support.serve import Server, start_serve

# Property tests: a quick profile for CI, a long one before a release
# (HYPOTHESIS_PROFILE=release .venv/bin/pytest tests/test_hardening.py).
hypothesis_settings.register_profile("ci", max_examples=150, deadline=None, derandomize=True)
hypothesis_settings.register_profile("release", max_examples=5000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def english_unless_asked(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts in English whatever the machine's locale, and leaves no language behind."""
    for name in LOCALE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("KASSA24_LANGUAGE", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    i18n.set_language("en")
    yield
    i18n.set_language("en")


@pytest.fixture(autouse=True, scope="session")
def no_full_pass_at_each_console_start() -> Iterator[None]:
    """Each console started here would walk this process's whole heap (pytest and every
    test's leftovers, 0.2–0.3 s a start) before freezing it; the tests of the heap turn it
    back on (test_console_switch.py)."""
    heap.Heap.collect_at_settle = False
    yield
    heap.Heap.collect_at_settle = True


@pytest.fixture(scope="module", params=[1, 2], ids=["option1", "option2"])
def app_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """serve's app in-process per response option, shared by a module's tests (they use fresh ids)."""
    srv = start_app(tmp_path_factory.mktemp(f"app{request.param}"), request.param)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def app_server2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """serve's app in-process with response option 2 only."""
    srv = start_app(tmp_path_factory.mktemp("app2"), 2)
    yield srv
    srv.stop()


@pytest.fixture(scope="module", params=[1, 2], ids=["option1", "option2"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A serve process per response option, shared by a module's tests (they use fresh ids)."""
    srv = start_serve(tmp_path_factory.mktemp(f"serve{request.param}"), request.param)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def server2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A serve process with response option 2 only."""
    srv = start_serve(tmp_path_factory.mktemp("serve2"), 2)
    yield srv
    srv.stop()


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[tuple[Kassa24App, Any, str]]:
    settings = make_settings(tmp_path)
    await seed_demo(settings)
    app = Kassa24App(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.listener_state == "listening")
        assert app.runtime is not None
        yield app, pilot, f"http://127.0.0.1:{app.runtime.listener.port}"
