"""The words of reconciliation a person reads: they live in :mod:`kassa24_console.words`
(below the service, so the payment's story can use them too); re-exported here."""

from __future__ import annotations

from ..words import FINDING_KINDS as KINDS
from ..words import WORDS, action_text, kind_name, word

__all__ = ["KINDS", "WORDS", "action_text", "kind_name", "word"]
