"""argparse's own words (usage, errors, the help option) in the operator's language.

argparse asks the stdlib's ``gettext`` for them at the moment it prints; ``speak`` points it at
our catalog instead. The strings are listed here so extraction keeps them in the catalogs.
"""

from __future__ import annotations

import argparse

from .. import i18n
from ..i18n import N_

WORDS = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("one of the arguments %s is required"),
    N_("not allowed with argument %s"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
)


def speak() -> None:
    """Make argparse's messages follow ``i18n``'s language (read each time it prints)."""
    # argparse calls its module-level _ and ngettext for every text it prints; typeshed does not
    # declare them: replaced so its texts speak the operator's language.
    argparse._ = i18n._  # type: ignore[attr-defined]  # typeshed does not declare argparse._
    argparse.ngettext = i18n.ngettext  # type: ignore[attr-defined]  # nor argparse.ngettext
