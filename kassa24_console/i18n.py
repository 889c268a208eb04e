"""Words a person reads, through gettext.

This is the seam every user-visible string passes through: ``_("…")`` for a sentence,
``ngettext(singular, plural, n)`` for counted nouns, ``N_("…")`` to mark a string kept in a
table and translated where it is shown (``_(KIND)`` at the place it is read).

The catalogs are ``locale/<lang>/LC_MESSAGES/kassa24.po`` inside the package, written with
Babel's tooling (``babel.cfg``, README "Translations"). They are compiled in memory the first
time a language is used, so a fresh clone installed with ``pip install -e .`` and a wheel
both speak every language with no build step and no ``.mo`` file to forget.

The operator's language is one for the process (``set_language``), switched at once by the
console's palette; the customer's language (what the payer reads on the terminal) is asked
for explicitly with ``gettext_in``. Machine outputs (``--json``, logs, metrics, the
database) never pass through here.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from .errors import InputError

LANGUAGES = ("ru", "kk", "en")
DOMAIN = "kassa24"
LOCALE_DIR = Path(__file__).with_name("locale")
# The Babel locale that formats money, numbers and dates for each language.
LOCALES = {"ru": "ru_KZ", "kk": "kk_KZ", "en": "en_US"}
# Money is written the way Kazakhstan writes tenge in every language (``1 000,00 ₸``): the
# English console has always shown it so, and operators read amounts across languages.
MONEY_LOCALES = {"ru": "ru_KZ", "kk": "kk_KZ", "en": "ru_KZ"}
NAMES = {"ru": "Русский", "kk": "Қазақша", "en": "English"}

_current = "en"


class UnknownLanguage(InputError):
    """A language we have no catalog for; the text names the three."""

    def __init__(self, value: str) -> None:
        super().__init__(f"unknown language {value!r}: use ru, kk or en")


def check_language(value: str) -> str:
    """``value`` as one of ``LANGUAGES`` (any case, ``ru_KZ`` accepted), else UnknownLanguage."""
    text = value.strip().lower().replace("-", "_")
    base = text.split(".")[0].split("_")[0]
    if base not in LANGUAGES:
        raise UnknownLanguage(value)
    return base


def language_from_locale(environ: Mapping[str, str] | None = None) -> str:
    """The language the locale asks for, as gettext reads it: the first set of ``LC_ALL``,
    ``LC_MESSAGES``, ``LANG``; ``ru_KZ.UTF-8`` → ru, ``kk_KZ.UTF-8`` → kk, else en."""
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            base = value.split(".")[0].split("_")[0].lower()
            return base if base in ("ru", "kk") else "en"
    return "en"


def language_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """``KASSA24_LANGUAGE`` when set (UnknownLanguage when it is not one of the three), else
    the locale's: what the command line speaks before the settings are read."""
    env = os.environ if environ is None else environ
    chosen = env.get("KASSA24_LANGUAGE", "").strip()
    return check_language(chosen) if chosen else language_from_locale(env)


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> NullTranslations:
    """The compiled catalog of ``language`` (compiled from its ``.po`` in memory, once);
    untranslated and fuzzy entries fall back to the English text."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def set_language(language: str) -> None:
    """Make ``language`` the operator's language for this process (takes effect at once)."""
    global _current
    _current = check_language(language)


def current_language() -> str:
    return _current


def current_locale() -> str:
    """The Babel locale of the operator's language (``ru_KZ``, ``kk_KZ``, ``en_US``)."""
    return LOCALES[_current]


def money_locale() -> str:
    """The Babel locale money is written in for the operator's language."""
    return MONEY_LOCALES[_current]


def _(message: str) -> str:
    """The operator's translation of ``message`` (a whole sentence, placeholders named)."""
    return translations(_current).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted phrase for ``n`` by the language's plural rules."""
    return translations(_current).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` as said in ``context``, where one English word needs two translations
    (an alert is *снято* when it resolves, a finding *урегулировано*)."""
    return str(translations(_current).pgettext(context, message))  # typeshed: object


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it here."""
    return message


def gettext_in(language: str, message: str) -> str:
    """``message`` in ``language`` whatever the operator's is (what the payer reads)."""
    return translations(check_language(language)).gettext(message)
