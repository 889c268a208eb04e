"""Several projects in one configuration: ``[[projects]]``, the single-project settings as
one project, one-line errors, and settings that survive the trip to the listener's process."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import pytest

from kassa24_console.config import ConfigError, load_settings
from tests.support.cli import run_cli
from tests.support.console import until

TWO = """
database_url = "sqlite:///{db}"
log_file = "{log}"
port = 0
min_amount = 200

[[projects]]
project_id = 4242
name = "production"
secret_key_file = "{key}"
previous_secret_key = "the-previous-production-key"
previous_key_until = "2026-12-31T00:00:00+05:00"
response_option = 1

[[projects]]
project_id = 4343
name = "test"
test = true
secret_key = "the-test-project-secret-key"
max_amount = 5000000
data_api_token = "test-token"
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("KASSA24_"):
            monkeypatch.delenv(key)


def _private(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def two_projects(tmp: Path, text: str = TWO) -> Path:
    key = _private(tmp / "4242.key", "the-production-secret-key\n")
    values = {"db": tmp / "k24.db", "log": tmp / "k24.log", "key": key}
    return _private(tmp / "k24.toml", text.format(**values))


def test_two_projects_each_whole_with_what_they_leave_out_from_the_top_level(tmp_path: Path) -> None:
    settings = load_settings(two_projects(tmp_path))
    production, test = settings.projects
    assert (production.project_id, production.name, production.test) == (4242, "production", False)
    assert production.secret == "the-production-secret-key"
    assert production.previous_secret == "the-previous-production-key"
    assert (production.response_option, test.response_option) == (1, 2)
    assert (production.min_amount, test.min_amount, test.max_amount) == (200, 200, 5_000_000)
    assert test.test and test.secret == "the-test-project-secret-key" and test.previous_secret is None
    assert test.data_api_token is not None and production.data_api_token is None
    assert settings.project(4343) is test and settings.project(1) is None and settings.several
    # The first project is the one single-project code (the simulator's default) serves.
    assert (settings.project_id, settings.secret) == (4242, "the-production-secret-key")
    # The previous key until its end, not after it.
    until_us = production.previous_until_us
    assert until_us is not None
    assert production.previous_accepted(until_us - 1) and not production.previous_accepted(until_us)
    assert "the-production-secret-key" not in repr(settings)


def test_the_single_project_settings_still_define_one_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSA24_PROJECT_ID", "77")
    monkeypatch.setenv("KASSA24_SECRET_KEY", "a-long-and-varied-secret-1")
    monkeypatch.setenv("KASSA24_PREVIOUS_SECRET_KEY", "the-old-and-varied-secret")
    monkeypatch.setenv("KASSA24_PREVIOUS_KEY_UNTIL", "2030-01-01T00:00:00+05:00")
    monkeypatch.setenv("KASSA24_RESPONSE_OPTION", "1")
    settings = load_settings()
    (only,) = settings.projects
    assert (only.project_id, only.secret, only.response_option) == (77, "a-long-and-varied-secret-1", 1)
    assert only.previous_secret == "the-old-and-varied-secret" and only.previous_accepted(0)
    assert not settings.several


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("project_id = 4343", "project_id = 4242"), "two projects have the id 4242"),
        (('secret_key = "the-test-project-secret-key"', ""), "project 4343 has no secret key"),
        (
            ('previous_key_until = "2026-12-31T00:00:00+05:00"', 'previous_key_until = "2026-12-31T00:00:00"'),
            "previous_key_until",
        ),
        (("response_option = 1", "response_option = 3"), "response_option"),
    ],
)
def test_config_mistakes_are_one_line_errors(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as error:
        load_settings(two_projects(tmp_path, TWO.replace(*change)))
    message = str(error.value)
    assert len(message.splitlines()) == 1
    assert "secret-key" not in message and "production-key" not in message


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    config = two_projects(tmp_path)
    (tmp_path / "4242.key").chmod(0o644)
    with pytest.raises(ConfigError, match=r"4242.key is readable by others \(mode 644\)"):
        load_settings(config)


def test_a_config_holding_project_keys_must_be_private(tmp_path: Path) -> None:
    config = two_projects(tmp_path)
    config.chmod(0o640)
    with pytest.raises(
        ConfigError, match=re.escape("holds projects.previous_secret_key, projects.secret_key, projects.data_api_token")
    ):
        load_settings(config)


def test_the_command_line_says_a_config_mistake_in_one_line(tmp_path: Path) -> None:
    config = two_projects(tmp_path, TWO.replace("project_id = 4343", "project_id = 4242"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA24_")} | {"HOME": str(tmp_path)}
    done = run_cli("--config", str(config), "db", "info", env=env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "kassa24-console: invalid configuration: config: two projects have the id 4242: give each project its own"
    ]


def test_settings_from_a_file_survive_pickling(tmp_path: Path) -> None:
    settings = load_settings(two_projects(tmp_path))
    again = pickle.loads(pickle.dumps(settings))
    assert type(again) is type(settings)
    assert [p.project_id for p in again.projects] == [4242, 4343]
    assert again.project(4242).previous_secret == "the-previous-production-key"


async def test_the_console_starts_its_listener_with_a_config_file_of_two_projects(tmp_path: Path) -> None:
    from kassa24_console.console.app import Kassa24App

    app = Kassa24App(load_settings(two_projects(tmp_path)))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.listener_state == "listening", timeout=30)
        assert app.runtime is not None and app.runtime.listener.port > 0
