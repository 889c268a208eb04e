"""What every pane is given when it is built: the settings, the operator's time zone and the
console's store. Panes read through it; anything that changes money or opens a form is asked
of the app with a message (:mod:`.messages`), never by calling up into it."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ..config import Settings
from ..store import Store


@dataclass
class Context:
    settings: Settings
    zone: ZoneInfo
    # The console's own store: None until the app opens it (on mount) and once it closes.
    store: Store | None = None
