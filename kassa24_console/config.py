"""Settings: environment variables ``KASSA24_*`` over a TOML file over defaults.

Every detail the platform has not confirmed (paths, limits, allow-list) is a setting here,
not a constant in the code.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .errors import SetupError
from .i18n import N_, _
from .platform_defaults import (  # the settings' defaults, kept apart (and still importable from here)
    DEFAULT_DATA_API_FIELDS,
    DEFAULT_DATA_API_KEYS,
    DEFAULT_REPORT_COLUMNS,
    DEFAULT_REPORT_STATUSES,
    DEFAULT_REPORT_TYPES,
    OPERATION_TYPES,
)
from .projects import Project, complete, secrets_held
from .refusals import refused_because

DEMO_KEY_OFF_LOOPBACK = N_(
    "refusing to listen on {host} with the public demo key: "
    "set KASSA24_SECRET_KEY or KASSA24_SECRET_KEY_FILE (the demo key works on 127.0.0.1 only)"
)
WEAK_KEY = N_("the secret key looks weak (shorter than {n} characters or one character repeated)")

DEMO_PROJECT_ID = 1234

DEMO_SECRET_KEY = "k24-demo-secret-key"
MIN_KEY_LENGTH = 16
POSTGRES_EXTRA = "pip install 'kassa24-console[postgres]'"
SECRET_KEYS = ("secret_key", "previous_secret_key", "data_api_secret", "data_api_token", "alert_urls")
URL_HINT = N_("use sqlite:///path/k24.db or postgresql://user@host/db")
# The reconciliation thresholds, named here once (settings below): the rules compare with
# them, the findings' texts say them, and the console's reconciling process is handed them.
RECONCILE_THRESHOLDS = ("callback_warning_seconds", "callback_expiry_days", "retry_window_seconds")


def check_database_url(url: str) -> None:
    """``ValueError`` with a plain reason unless ``url`` names a database we can open."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(_("cannot read the database URL: {hint}").format(hint=_(URL_HINT))) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database:
            raise ValueError(_("the SQLite URL names no file: use sqlite:///path/k24.db"))
        return
    if backend not in ("postgresql", "postgres"):
        raise ValueError(_("unsupported database {backend}: {hint}").format(backend=repr(backend), hint=_(URL_HINT)))
    import importlib.util

    if not (importlib.util.find_spec("asyncpg") or importlib.util.find_spec("psycopg")):
        raise ValueError(postgres_driver_missing())


def postgres_driver_missing() -> str:
    """What to install when neither PostgreSQL driver is (settings and start-up say it alike)."""
    return _("PostgreSQL needs a driver: {command}").format(command=POSTGRES_EXTRA)


def data_dir() -> Path:
    """Where the default database and log live (XDG data home)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "kassa24-console"


class Settings(BaseSettings):
    """The install's configuration: its projects (``[[projects]]``, or the one the top-level
    ``project_id`` and keys define), listener, store, reconciliation and alerts."""

    model_config = SettingsConfigDict(env_prefix="KASSA24_", extra="forbid")

    project_id: int = DEMO_PROJECT_ID
    secret_key: SecretStr = SecretStr(DEMO_SECRET_KEY)
    secret_key_file: Path | None = None
    # Key rotation: the platform's previous key, still accepted until previous_key_until.
    previous_secret_key: SecretStr | None = None
    previous_secret_key_file: Path | None = None
    previous_key_until: AwareDatetime | None = None
    # Several projects (README "Several projects and key rotation"); empty: the one above.
    projects: list[Project] = Field(default_factory=list)
    database_url: str | None = None  # unset: the default file; set empty: refused
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    response_option: Literal[1, 2] = 2

    currency: str = "KZT"
    min_amount: int = Field(default=100, ge=1)  # minor units; max_amount must not be below it
    max_amount: int = Field(default=50_000_000, ge=1)
    path: str = "/kassa24"
    callback_path: str = "/kassa24/callback"
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    log_file: Path | None = None
    # One JSON line per request (request id, kind, code, latency) in the log.
    log_requests: bool = True
    # Who may call: client addresses or networks (empty: anyone). X-Forwarded-For is believed
    # only from trusted_proxies (the operator's reverse proxy).
    allow_ips: Annotated[list[str], NoDecode] = Field(default_factory=list)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Connections: at most this many at once; a request's headers must arrive within
    # header_timeout seconds; idle keep-alive connections close after keepalive_timeout.
    max_connections: int = Field(default=1000, ge=1)
    # Connections one address may hold at once (trusted proxies and this machine: no limit).
    max_connections_per_peer: int = Field(default=50, ge=1)
    # serve: listener processes sharing the port (one per core is the most that helps);
    # each has its own writer, and the database orders their commits.
    workers: int = Field(default=1, ge=1, le=64)
    # Requests that fail the signature (or are not a message at all), per peer per minute;
    # past it the peer gets HTTP 429 until its budget refills. 0 turns the budget off.
    unverified_budget: int = Field(default=120, ge=0)
    # Traffic older than this many days is deleted in the background (0 keeps it all);
    # deposits, callbacks and mismatches are evidence and are never pruned.
    traffic_retention_days: int = Field(default=90, ge=0)
    header_timeout: float = Field(default=10.0, gt=0)
    keepalive_timeout: float = Field(default=5.0, gt=0)
    shutdown_timeout: float = Field(default=10.0, ge=0)
    # SQLite: how long a write waits for another process's lock; an optional size cap in
    # pages (past it SQLite answers "full", as on a full disk).
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    sqlite_max_pages: int = Field(default=0, ge=0)
    # SQLite: the write-ahead log is checkpointed to the start (and cut back to this size)
    # whenever it grows past it, so a burst of writes never leaves a log larger than this.
    sqlite_wal_limit_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024)
    # The operator's language (ru, kk, en; unset: the locale's, else en) and the language of
    # what the payer reads on the terminal (the message and error_description we answer).
    language: str | None = None
    customer_language: str = "ru"
    merchant_name: str = "Merchant"  # the act of reconciliation names both parties
    # Times are shown, and days reconciled, in this zone.
    timezone: str = "Asia/Almaty"
    # Reconciliation. The platform has not published the report's column names, the Data
    # API's host for JetPay, nor some request keys: all of it is configuration.
    report_columns: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_REPORT_COLUMNS))
    report_amount_unit: Literal["major", "minor"] = "major"
    report_timezone: str = "Asia/Almaty"
    report_date_format: str = "%Y-%m-%d %H:%M:%S"
    # auto (UTF-8 with or without BOM, else Windows-1251), or a codec name such as cp1251.
    report_encoding: str = "auto"
    # The report's status words → the platform's (statuses neither known nor mapped are refused).
    report_statuses: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_REPORT_STATUSES))
    # The report's (and the Data API's) operation type words → sale, refund or reversal;
    # a type neither here nor empty is refused with its line (an empty type is a sale).
    report_types: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_REPORT_TYPES))
    # Amounts in a CSV export: comma (1111,00 with ";" for Russian Excel), point (1111.00
    # with ","), or minor (integer tiyn with ";"). Never floats.
    export_amounts: Literal["comma", "point", "minor"] = "comma"
    data_api_url: str = "https://data.ecommpay.com"
    data_api_token: SecretStr | None = None
    data_api_secret: SecretStr | None = None
    data_api_timeout: float = 60.0
    data_api_amount_unit: Literal["major", "minor"] = "minor"
    data_api_keys: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_DATA_API_KEYS))
    data_api_fields: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_DATA_API_FIELDS))
    # The reconciliation thresholds (RECONCILE_THRESHOLDS): the platform's basic processing
    # time and threshold (spec: 1 minute, 36 days) and how close a platform retry follows.
    callback_warning_seconds: int = 60
    callback_expiry_days: int = 36
    retry_window_seconds: int = 120
    monthly_limit: int = 1_250_000_000
    # Key remapping for the console: binding id → keys, e.g. {"app.quit" = "q,ctrl+q"}.
    keymap: dict[str, str] = Field(default_factory=dict)
    # Flush traffic records at least this often (seconds); they ride along with commits too.
    traffic_flush_interval: float = 0.2
    # Alerts (README "Alerts"): Apprise URLs (tgram://, mailto://, json://, …), comma
    # separated in KASSA24_ALERT_URLS. They carry secrets: never logged, never shown whole.
    alert_urls: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    alert_interval_seconds: float = Field(default=5.0, gt=0)  # how often the rules are evaluated
    alert_window_seconds: float = Field(default=300, gt=0)
    alert_signature_failures: int = Field(default=10, ge=1)  # within the window
    alert_callback_overdue_seconds: float = Field(default=900, gt=0)
    alert_callback_silence_minutes: float = Field(default=60, gt=0)
    alert_error_share: float = Field(default=0.05, gt=0, le=1)  # of at least alert_error_min_requests
    alert_error_min_requests: int = Field(default=20, ge=1)
    alert_repeat_seconds: float = Field(default=3600, gt=0)
    # A channel that fails is tried this many times, waiting alert_retry_seconds, then twice that, …
    alert_retry_attempts: int = Field(default=4, ge=1, le=20)
    alert_retry_seconds: float = Field(default=5.0, ge=0)
    alert_bell: bool = True  # the console rings the terminal bell when an alert fires
    # key_expiring: a project's previous key still signs requests this close to its end.
    alert_key_expiring_hours: float = Field(default=72, gt=0)

    @field_validator("allow_ips", "trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("alert_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        if isinstance(value, str | SecretStr):
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            value = [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("allow_ips", "trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)  # ValueError names the bad entry
        return value

    @field_validator("response_option", mode="before")
    @classmethod
    def _option_from_text(cls, value: Any) -> Any:
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value

    @field_validator("report_types")
    @classmethod
    def _types(cls, value: dict[str, str]) -> dict[str, str]:
        wrong = sorted(word for word, ours in value.items() if ours not in OPERATION_TYPES)
        if wrong:
            raise ValueError(
                _("map {words} to one of: {types}").format(words=", ".join(wrong), types=", ".join(OPERATION_TYPES))
            )
        return value

    @field_validator("timezone", "report_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from .zones import zone

        zone(value)  # UnknownZone (a ValueError) names it: one line, not a traceback at first use
        return value

    @field_validator("language", "customer_language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        from .i18n import check_language

        return None if value is None else check_language(value)  # UnknownLanguage names the three

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is not None:
            if not value.strip():
                raise ValueError(
                    _("the database URL is empty: give sqlite:///path or postgresql://…, or leave it unset")
                )
            check_database_url(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        """Settings checked against each other, not only one by one."""
        if self.max_amount < self.min_amount:
            raise ValueError(
                _("max_amount ({max}) is below min_amount ({min})").format(max=self.max_amount, min=self.min_amount)
            )
        if self.path == self.callback_path:
            raise ValueError(
                _("path and callback_path are both {path}: give the callbacks a path of their own").format(
                    path=self.path
                )
            )
        return self

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if self.secret_key_file is not None:
            self.secret_key = SecretStr(read_secret_file(self.secret_key_file))
        if not self.projects and not self.secret_key.get_secret_value().strip():
            raise ValueError(_("the secret key is empty: set KASSA24_SECRET_KEY or KASSA24_SECRET_KEY_FILE"))
        self.projects = complete(self, read_secret_file)
        first = self.projects[0]  # the first project is the one single-project code serves
        self.project_id, self.secret_key = first.project_id, first.secret_key or self.secret_key
        if self.database_url is None:
            self.database_url = f"sqlite:///{data_dir() / 'kassa24.db'}"
        if self.log_file is None:
            self.log_file = data_dir() / "kassa24.log"
        if self.language is None:
            from .i18n import language_from_locale

            self.language = language_from_locale()
        return self

    @property
    def store_url(self) -> str:
        """The database URL, the default file's when none was set (filled in at validation)."""
        return self.database_url or f"sqlite:///{data_dir() / 'kassa24.db'}"

    @property
    def secret(self) -> str:
        return self.secret_key.get_secret_value()

    def project(self, project_id: Any) -> Project | None:
        """The configured project of that id (None: not one of ours)."""
        return next((p for p in self.projects if p.project_id == project_id), None)

    @property
    def several(self) -> bool:
        return len(self.projects) > 1

    @property
    def uses_demo_key(self) -> bool:
        return (
            any(p.secret == DEMO_SECRET_KEY for p in self.projects) if self.projects else self.secret == DEMO_SECRET_KEY
        )

    @property
    def listens_on_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def key_problem(self, said: bool = False) -> str | None:
        """Why this key must not face a network: the public demo key off loopback (``said``:
        in the operator's language, for a person; else English, for the log)."""
        if self.uses_demo_key and not self.listens_on_loopback:
            return (_(DEMO_KEY_OFF_LOOPBACK) if said else DEMO_KEY_OFF_LOOPBACK).format(host=self.host)
        return None

    def key_warning(self, said: bool = False) -> str | None:
        """A key that looks weak (short, or one character repeated)."""
        if self.uses_demo_key:
            return None
        keys = [p.secret for p in self.projects] or [self.secret]
        if any(len(key) < MIN_KEY_LENGTH or len(set(key)) == 1 for key in keys):
            return (_(WEAK_KEY) if said else WEAK_KEY).format(n=MIN_KEY_LENGTH)
        return None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if settings_cls.model_config.get("toml_file"):
            sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)


def read_secret_file(path: Path) -> str:
    """The key a private file holds; ValueError (naming the file, never its text) when the
    file is readable by others or empty."""
    mode = path.stat().st_mode
    if mode & 0o077:
        message = _("secret key file {path} is readable by others (mode {mode}): chmod 600 it")
        raise ValueError(message.format(path=path, mode=f"{mode & 0o777:o}"))
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        raise ValueError(_("secret key file {path} is empty").format(path=path))
    return text


class ConfigError(SetupError):
    """The configuration cannot be used; the text is safe to show (no secret in it)."""


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from env, ``config_file`` (TOML) and ``overrides``; errors say which key."""
    settings_cls: type[Settings] = Settings
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(_("config file not found: {path}").format(path=config_file))

        class FileSettings(Settings):
            model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": config_file})

        settings_cls = FileSettings
        _check_private(config_file)
    try:
        loaded = settings_cls(**{k: v for k, v in overrides.items() if v is not None})
    except (ValueError, OSError) as error:
        raise ConfigError(refused_because(error)) from None
    if settings_cls is Settings:
        return loaded
    # The file's class is made here and cannot be pickled (the console hands its settings to
    # the listener's process): the same values, already checked, in the module's class.
    values = {name: getattr(loaded, name) for name in Settings.model_fields}
    return Settings.model_construct(_fields_set=set(loaded.model_fields_set), **values)


def _check_private(config_file: Path) -> None:
    """A config file holding a secret must be as private as a key file (chmod 600); one
    that every user may change is refused whatever it holds."""
    import tomllib

    try:
        data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        message = _("cannot read the config file {path}: {error}")
        raise ConfigError(message.format(path=config_file, error=str(error).splitlines()[0])) from None
    mode = config_file.stat().st_mode
    if mode & 0o002:  # anyone could point the listener elsewhere, or at their own key file
        message = _("config file {path} is writable by every user (mode {mode}): chmod 600 it")
        raise ConfigError(message.format(path=config_file, mode=f"{mode & 0o777:o}"))
    held = [key for key in SECRET_KEYS if key in data] + secrets_held(data)
    if held and mode & 0o077:
        message = _("config file {path} holds {keys} and is readable by others (mode {mode}): chmod 600 it")
        raise ConfigError(message.format(path=config_file, keys=", ".join(held), mode=f"{mode & 0o777:o}"))
