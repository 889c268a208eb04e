"""Several JetPay projects in one install, each with its key (and a previous key while the
platform rotates it).

A TOML file may hold ``[[projects]]``; without it the top-level settings (``project_id``,
``secret_key``, …: ``KASSA24_PROJECT_ID``, ``KASSA24_SECRET_KEY``) define the one project.
What a project leaves out (response option, currency, limits, Data API credentials) it takes
from the top level. The classes live at module level: settings travel to the console's
listener process by pickling, and a class made inside a function cannot be pickled.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, field_validator

from .i18n import _

# The settings a project may give for itself; absent, the top-level value is used.
INHERITED = ("response_option", "currency", "min_amount", "max_amount", "data_api_token", "data_api_secret")
PROJECT_SECRETS = ("secret_key", "previous_secret_key", "data_api_token", "data_api_secret")


class Project(BaseModel):
    """One project: its id, key, previous key with its end, and its own limits."""

    model_config = ConfigDict(extra="forbid")

    project_id: int = Field(ge=1)
    name: str = ""
    test: bool = False
    secret_key: SecretStr | None = None
    secret_key_file: Path | None = None
    previous_secret_key: SecretStr | None = None
    previous_secret_key_file: Path | None = None
    previous_key_until: AwareDatetime | None = None
    response_option: Literal[1, 2] | None = None
    currency: str | None = None
    min_amount: int | None = Field(default=None, ge=1)
    max_amount: int | None = Field(default=None, ge=1)
    data_api_token: SecretStr | None = None
    data_api_secret: SecretStr | None = None

    @field_validator("response_option", mode="before")
    @classmethod
    def _option_from_text(cls, value: Any) -> Any:
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value

    @property
    def label(self) -> str:
        """``name (id)``, or the id alone: how screens and errors name the project."""
        return f"{self.name} ({self.project_id})" if self.name else str(self.project_id)

    @property
    def secret(self) -> str:
        assert self.secret_key is not None, "a project is completed before use"
        return self.secret_key.get_secret_value()

    @property
    def previous_secret(self) -> str | None:
        return self.previous_secret_key.get_secret_value() if self.previous_secret_key is not None else None

    @property
    def previous_until_us(self) -> int | None:
        """The previous key's end as UTC epoch microseconds (None: no previous key, or no end)."""
        if self.previous_key_until is None:
            return None
        return int(self.previous_key_until.timestamp() * 1_000_000)

    def previous_accepted(self, at_us: int | None = None) -> bool:
        """Whether the previous key still signs for this project at ``at_us`` (now)."""
        if self.previous_secret_key is None:
            return False
        until = self.previous_until_us
        if until is None:
            return True
        at = time.time_ns() // 1000 if at_us is None else at_us
        return at < until


def read_keys(project: Project, read_secret_file: Any) -> Project:
    """The project with its key files read (a private file, never echoed)."""
    updates: dict[str, Any] = {}
    if project.secret_key_file is not None:
        updates["secret_key"] = SecretStr(read_secret_file(project.secret_key_file))
    if project.previous_secret_key_file is not None:
        updates["previous_secret_key"] = SecretStr(read_secret_file(project.previous_secret_key_file))
    return project.model_copy(update=updates) if updates else project


def complete(settings: Any, read_secret_file: Any) -> list[Project]:
    """Every project of ``settings`` whole: keys read, what it leaves out taken from the top
    level; one project made of the top-level settings when no ``[[projects]]`` are given.
    ``ValueError`` (one line, never a key) for two projects with one id or one without a key."""
    given = list(settings.projects)
    if not given:
        one = Project(
            project_id=settings.project_id,
            secret_key=settings.secret_key,
            previous_secret_key=settings.previous_secret_key,
            previous_secret_key_file=settings.previous_secret_key_file,
            previous_key_until=settings.previous_key_until,
        )
        given = [one]
    done: list[Project] = []
    seen: set[int] = set()
    for project in given:
        if project.project_id in seen:
            raise ValueError(
                _("two projects have the id {id}: give each project its own").format(id=project.project_id)
            )
        seen.add(project.project_id)
        project = read_keys(project, read_secret_file)
        if project.secret_key is None or not project.secret_key.get_secret_value().strip():
            message = _("project {id} has no secret key: give secret_key or secret_key_file")
            raise ValueError(message.format(id=project.project_id))
        if project.previous_secret_key is not None and not project.previous_secret_key.get_secret_value().strip():
            raise ValueError(_("project {id}: the previous secret key is empty").format(id=project.project_id))
        if project.previous_key_until is not None and project.previous_secret_key is None:
            message = _(
                "project {id}: previous_key_until is given without a previous key "
                "(previous_secret_key or previous_secret_key_file)"
            )
            raise ValueError(message.format(id=project.project_id))
        inherited = {name: getattr(settings, name) for name in INHERITED if getattr(project, name) is None}
        project = project.model_copy(update=inherited) if inherited else project
        if (
            project.max_amount is not None
            and project.min_amount is not None
            and project.max_amount < project.min_amount
        ):
            message = _("project {id}: max_amount ({max}) is below min_amount ({min})")
            raise ValueError(message.format(id=project.project_id, max=project.max_amount, min=project.min_amount))
        done.append(project)
    return done


def secrets_held(data: dict[str, Any]) -> list[str]:
    """The secret keys a config file's ``[[projects]]`` hold (for the file's privacy check)."""
    held: list[str] = []
    projects = data.get("projects")
    if isinstance(projects, list):
        for entry in projects:
            if isinstance(entry, dict):
                held += [f"projects.{key}" for key in PROJECT_SECRETS if key in entry and f"projects.{key}" not in held]
    return held


def project_problem(
    settings: Any, given: int | None, named: set[int] | None = None, *, every_row_named: bool = False
) -> str | None:
    """Why ``--project`` (``given``) and the projects rows name (``named``) cannot be used:
    a project not configured, or none given where several are (unless every row names its
    own); None when they can."""
    known = [p.project_id for p in settings.projects]
    listed = ", ".join(str(p) for p in known)
    unknown = sorted((({given} if given is not None else set()) | (named or set())) - set(known))
    if unknown:
        return _("no project {ids} is configured (the projects: {listed})").format(
            ids=", ".join(str(p) for p in unknown), listed=listed
        )
    if given is None and len(known) > 1 and not every_row_named:
        return _("several projects are configured: say which with --project ID (one of {listed})").format(listed=listed)
    return None
