"""Why a configuration was refused, in one line in the operator's language.

Pydantic words its reasons in English, and an input it quotes could be a secret key: the
reasons a configuration meets are given here in the glossary's words, with the limit they
name, and never the value that was given.
"""

from __future__ import annotations

from typing import Any

from .i18n import N_, _

# Pydantic's own reasons are English; the ones a configuration meets, in the operator's
# language (the context names the limit). Any other reason is shown as pydantic words it.
_REASONS = {
    "int_parsing": N_("must be a whole number"),
    "int_type": N_("must be a whole number"),
    "int_from_float": N_("must be a whole number"),
    "float_parsing": N_("must be a number"),
    "float_type": N_("must be a number"),
    "bool_parsing": N_("must be true or false"),
    "bool_type": N_("must be true or false"),
    "greater_than_equal": N_("must be at least {ge}"),
    "greater_than": N_("must be above {gt}"),
    "less_than_equal": N_("must be at most {le}"),
    "less_than": N_("must be below {lt}"),
    "literal_error": N_("must be {expected}"),
    "missing": N_("is required"),
    "extra_forbidden": N_("is not a setting"),
    "timezone_aware": N_("needs its time zone, e.g. 2026-12-31T23:59:00+05:00"),
    "datetime_from_date_parsing": N_("must be a date and time, e.g. 2026-12-31T23:59:00+05:00"),
    "datetime_parsing": N_("must be a date and time, e.g. 2026-12-31T23:59:00+05:00"),
}


def _reason(item: Any) -> str:
    """One validation error's reason in the operator's language."""
    words = _REASONS.get(item["type"])
    if words is None:
        return str(item["msg"]).removeprefix("Value error, ")
    context = {key: str(value) for key, value in (item.get("ctx") or {}).items()}
    if "expected" in context:  # pydantic lists the choices with an English "or"
        context["expected"] = context["expected"].replace(" or ", " " + _("or") + " ")
    try:
        return _(words).format(**context)
    except (KeyError, IndexError):  # a context pydantic did not give: its own words then
        return str(item["msg"])


def refused_because(error: Exception) -> str:
    """A one-line reason that never repeats an input value (it could be the secret)."""
    errors = getattr(error, "errors", None)
    if callable(errors):
        parts = []
        for item in errors(include_url=False, include_input=False):
            where = ".".join(str(p) for p in item["loc"]) or "config"
            parts.append(f"{where}: {_reason(item)}")
        return _("invalid configuration") + ": " + "; ".join(parts)
    return _("invalid configuration") + f": {error}"
