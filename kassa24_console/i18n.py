"""Words a person reads, through gettext.

This is the seam every user-visible string passes through: ``_("…")`` for a sentence,
``ngettext(singular, plural, n)`` for counted nouns, ``N_("…")`` to mark a string kept in a
table and translated where it is shown. The catalogs (ru, kk, en) and the choice of language
arrive with the language work (issue 19); until then every call returns the English text,
so wrapping a string now costs nothing and is never wrong.
"""

from __future__ import annotations


def _(message: str) -> str:
    """The operator's translation of ``message`` (a whole sentence, placeholders named)."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted phrase for ``n`` by the language's plural rules."""
    return singular if n == 1 else plural


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it here."""
    return message
