"""Settings: TOML file, environment over it, the secret from a file, errors without secrets."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from kassa24_console.config import DEMO_SECRET_KEY, ConfigError, load_settings
from kassa24_console.store.db import async_url
from tests.support.cli import run_cli


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("KASSA24_"):
            monkeypatch.delenv(key)


def test_defaults_are_the_demo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    settings = load_settings()
    assert settings.uses_demo_key and settings.secret == DEMO_SECRET_KEY
    assert (settings.host, settings.port, settings.response_option) == ("127.0.0.1", 8080, 2)
    assert settings.database_url == f"sqlite:///{tmp_path}/kassa24-console/kassa24.db"


def test_env_overrides_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toml = tmp_path / "k24.toml"
    toml.write_text('project_id = 77\nport = 9000\nresponse_option = 1\nsecret_key = "from-file"\n')
    toml.chmod(0o600)  # it holds the secret
    monkeypatch.setenv("KASSA24_PORT", "9100")
    monkeypatch.setenv("KASSA24_RESPONSE_OPTION", "2")
    settings = load_settings(toml)
    assert (settings.project_id, settings.port, settings.response_option) == (77, 9100, 2)
    assert settings.secret == "from-file" and not settings.uses_demo_key


def test_secret_key_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t-from-file\n")
    secret.chmod(0o600)
    monkeypatch.setenv("KASSA24_SECRET_KEY_FILE", str(secret))
    assert load_settings().secret == "s3cr3t-from-file"


def test_errors_name_the_key_but_never_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSA24_SECRET_KEY", "very-secret-value")
    monkeypatch.setenv("KASSA24_RESPONSE_OPTION", "3")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "response_option" in str(error.value)
    assert "very-secret-value" not in str(error.value)
    assert "very-secret-value" not in repr(load_settings.__defaults__)


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:////tmp/x y/k24.db", ("sqlite+aiosqlite", "/tmp/x y/k24.db")),
        ("sqlite:///:memory:", ("sqlite+aiosqlite", ":memory:")),
        ("postgresql://user@host/db", ("postgresql+{driver}", "db")),
        ("postgres://user@host/db", ("postgresql+{driver}", "db")),
    ],
)
def test_urls_as_people_write_them(given: str, expected: tuple[str, str]) -> None:
    import importlib.util

    driver = "asyncpg" if importlib.util.find_spec("asyncpg") else "psycopg"
    url = async_url(given)
    assert (url.drivername, url.database) == (expected[0].format(driver=driver), expected[1])


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database: mysql"):
        async_url("mysql://x@y/z")


def test_a_config_file_holding_a_secret_must_be_private(tmp_path: Path) -> None:
    toml = tmp_path / "k24.toml"
    toml.write_text('secret_key = "a-long-enough-secret-key"\n')
    toml.chmod(0o644)
    with pytest.raises(ConfigError, match=r"readable by others \(mode 644\): chmod 600") as error:
        load_settings(toml)
    assert "a-long-enough" not in str(error.value)
    toml.chmod(0o600)
    assert load_settings(toml).secret == "a-long-enough-secret-key"
    plain = tmp_path / "plain.toml"
    plain.write_text("port = 9000\n")
    plain.chmod(0o644)  # no secret in it: any mode will do
    assert load_settings(plain).port == 9000


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("sqlte:///x.db", "unsupported database 'sqlte'"),
        ("not a url", "cannot read the database URL"),
        ("sqlite://", "names no file"),
    ],
)
def test_a_mistyped_database_url_is_a_config_error(url: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        load_settings(None, database_url=url)


def test_an_empty_key_is_refused_and_a_weak_one_warned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSA24_SECRET_KEY", "  ")
    with pytest.raises(ConfigError, match="the secret key is empty"):
        load_settings()
    monkeypatch.setenv("KASSA24_SECRET_KEY", "aaaaaaaaaaaaaaaaaaaaaaaa")
    assert "looks weak" in (load_settings().key_warning() or "")
    monkeypatch.setenv("KASSA24_SECRET_KEY", "short-key")
    assert "looks weak" in (load_settings().key_warning() or "")
    monkeypatch.setenv("KASSA24_SECRET_KEY", "a-long-and-varied-secret-1")
    assert load_settings().key_warning() is None


def test_the_demo_key_only_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KASSA24_SECRET_KEY", raising=False)
    for host in ("127.0.0.1", "::1", "localhost"):
        assert load_settings(None, host=host).key_problem() is None
    for host in ("0.0.0.0", "::", "10.1.2.3"):
        assert "public demo key" in (load_settings(None, host=host).key_problem() or "")
    monkeypatch.setenv("KASSA24_SECRET_KEY", "a-long-and-varied-secret-1")
    assert load_settings(None, host="0.0.0.0").key_problem() is None


@pytest.mark.parametrize("value", ["0", "65", "two"])
def test_workers_out_of_range_is_a_config_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("KASSA24_WORKERS", value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "workers" in str(error.value) and len(str(error.value).splitlines()) == 1


def test_a_world_writable_config_is_refused(tmp_path: Path) -> None:
    toml = tmp_path / "k.toml"
    toml.write_text("project_id = 77\n")
    toml.chmod(0o666)
    with pytest.raises(ConfigError, match=r"writable by every user \(mode 666\): chmod 600 it"):
        load_settings(toml)
    toml.chmod(0o644)
    assert load_settings(toml).project_id == 77


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"KASSA24_MIN_AMOUNT": "-5", "KASSA24_MAX_AMOUNT": "3"}, "min_amount"),
        ({"KASSA24_MIN_AMOUNT": "500", "KASSA24_MAX_AMOUNT": "300"}, "max_amount (300) is below min_amount (500)"),
        ({"KASSA24_MAX_AMOUNT": "0"}, "max_amount"),
        ({"KASSA24_HEADER_TIMEOUT": "0"}, "header_timeout"),
        ({"KASSA24_MAX_CONNECTIONS": "0"}, "max_connections"),
        ({"KASSA24_CALLBACK_PATH": "/kassa24"}, "callback_path are both /kassa24"),
        ({"KASSA24_DATABASE_URL": ""}, "the database URL is empty"),
    ],
)
def test_settings_are_checked_against_each_other(monkeypatch: pytest.MonkeyPatch, env: dict, expected: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_settings()


def test_an_empty_database_url_on_the_command_line_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA24_")} | {"HOME": str(tmp_path)}
    done = run_cli("--database-url", "", "db", "info", env=env)
    assert done.returncode != 0 and "the database URL is empty" in done.stderr and "Traceback" not in done.stderr
    assert not any(tmp_path.rglob("*.db"))


@pytest.mark.parametrize(
    ("language", "variable", "value", "said"),
    [
        ("ru", "KASSA24_PORT", "abc", "ошибка в настройках: port: должно быть целым числом"),
        ("ru", "KASSA24_PORT", "-5", "port: должно быть не меньше 0"),
        ("ru", "KASSA24_RESPONSE_OPTION", "7", "response_option: допустимо: 1 или 2"),
        ("kk", "KASSA24_PREVIOUS_KEY_UNTIL", "2030-01-01", "previous_key_until: уақыт белдеуі қажет"),
        ("kk", "KASSA24_DATABASE_URL", "mysql://h/db", "қолдау көрсетілмейтін дерекқор 'mysql'"),
        ("en", "KASSA24_PORT", "abc", "invalid configuration: port: must be a whole number"),
    ],
)
def test_a_refused_setting_says_why_in_the_operators_language(
    monkeypatch: pytest.MonkeyPatch, language: str, variable: str, value: str, said: str
) -> None:
    from kassa24_console import i18n

    monkeypatch.setenv("KASSA24_SECRET_KEY", "k" * 24)
    monkeypatch.setenv(variable, value)
    before = i18n.current_language()
    i18n.set_language(language)
    try:
        with pytest.raises(ConfigError) as refused:
            load_settings()
    finally:
        i18n.set_language(before)
    assert said in str(refused.value), refused.value
