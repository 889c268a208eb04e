"""The errors a person reads, in one place: a base and a few kinds.

Every error the commands and the console show to an operator is a :class:`Kassa24Error`:
its text (``str(error)``, also :attr:`Kassa24Error.message`) is already in the operator's
language, says what to do in a line or two, and holds no secret, so a front end prints it
as it is and exits non-zero (or shows it in the console), never a traceback. The kinds
say what went wrong, so a front end can catch a whole kind:

- :class:`SetupError`: the configuration or the start-up cannot go on (a bad setting, a
  database that cannot be opened, a port taken, someone else's database);
- :class:`InputError`: what was typed or read is not usable (an amount, a report line, a
  time-zone name, a message body); also a ``ValueError``, so pydantic validators and older
  ``except ValueError`` callers keep working;
- :class:`Refused`: a rule said no and nothing was written (an edit, an import, a sign-off);
- :class:`ConflictError`: refused because the data changed under the operator;
- :class:`RemoteError`: a service we asked did not give a usable answer.

The concrete classes stay beside the code that raises them (``edits.EditRejected``,
``config.ConfigError``, …) and subclass one of these kinds. Exceptions used only for control
flow inside a module (never shown, always caught there) are not part of this hierarchy.
This module is at the bottom of the layers: it imports nothing of the package.
"""

from __future__ import annotations


class Kassa24Error(Exception):
    """An error an operator reads; the text is safe to show (no secret in it)."""

    @property
    def message(self) -> str:
        """The text to show: what went wrong and, where it helps, what to do."""
        return str(self)


class SetupError(Kassa24Error):
    """The configuration or the start-up cannot go on."""


class StartupError(SetupError):
    """The program cannot start; the text says why in a line or two an operator can act on."""


class InputError(Kassa24Error, ValueError):
    """What was typed or read cannot be used; the text names the field or line and why."""


class Refused(Kassa24Error):
    """A rule said no; nothing was written."""


class ConflictError(Refused):
    """Refused because what the operator saw has changed since."""


class RemoteError(Kassa24Error):
    """A service we asked (the platform's Data API, a listener) gave no usable answer."""
