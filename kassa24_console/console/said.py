"""Words drawn once that a live switch of the language draws again: a hint line and an
input's placeholder keep their English (the catalog's key) and say it again in the new
language (:func:`.language.switch`)."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, Static

from ..i18n import _


class Said(Static):
    """A fixed sentence (a hint), in the operator's language."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(_(message), markup=False, **kwargs)
        self.message = message

    def say_again(self) -> None:
        self.update(_(self.message))


class Asking(Input):
    """An input whose placeholder is in the operator's language."""

    def __init__(self, placeholder: str, **kwargs: Any) -> None:
        super().__init__(placeholder=_(placeholder), **kwargs)
        self.message = placeholder

    def say_again(self) -> None:
        self.placeholder = _(self.message)


def say_again(root: Any) -> None:
    """Every hint and placeholder under ``root`` in the language now in use."""
    for widget in root.query(Said):
        widget.say_again()
    for widget in root.query(Asking):
        widget.say_again()
