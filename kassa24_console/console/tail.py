"""A fast live list: each row is rendered once to a strip, so redraws cost nothing.

DataTable renders every visible cell through Rich on each refresh; at a few hundred rows a
second that redraw dominated the console's CPU and slowed the listener sharing its loop.
Here a row becomes one ``Strip`` when it arrives; a refresh only crops cached strips.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..i18n import N_
from ..i18n import _ as tr

Column = tuple[str, int, str]  # title, width, justify


def line_of(cells: list[Text], columns: list[Column]) -> Text:
    """Cells fitted to their columns, one space apart, as a single line of text."""
    line = Text(no_wrap=True, end="")
    for index, (cell, (_, width, justify)) in enumerate(zip(cells, columns, strict=True)):
        piece = cell.copy()
        piece.truncate(width, overflow="ellipsis")
        pad = width - piece.cell_len
        if justify == "right":
            piece.pad_left(pad)
        else:
            piece.pad_right(pad)
        if index:
            line.append(" ")
        line.append_text(piece)
    return line


def header_of(columns: list[Column]) -> Text:
    return line_of([Text(tr(title), style="bold") for title, _width, _side in columns], columns)


T = TypeVar("T")  # a row as the store reads it (the traffic pane's: store.rows.TrafficLine)


class TailView(ScrollView, Generic[T], can_focus=True):
    """Rows with a cursor; says when the operator leaves the newest row and when to follow."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"tail--cursor"}
    # No sideways scrolling: its scrollbar sat mid-screen, hid the newest row and left the
    # header behind; what does not fit is in the row's detail (Enter) and its reason line.
    DEFAULT_CSS = """
    TailView { overflow-x: hidden; }
    TailView > .tail--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    TailView:blur > .tail--cursor { background: $block-cursor-blurred-background; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", N_("Up"), show=False),
        Binding("down", "cursor_down", N_("Down"), show=False),
        Binding("pageup", "page_up", N_("Page up"), show=False),
        Binding("pagedown", "page_down", N_("Page down"), show=False),
        Binding("home,ctrl+home", "first", N_("First"), show=False),
        Binding("end,ctrl+end", "follow", N_("Follow"), show=False),
        Binding("enter", "select", N_("Open"), show=False),
    ]

    class Paused(Message):
        """The operator moved away from the newest row."""

    class Follow(Message):
        """End: back to the newest row, following."""

    class Selected(Message):
        def __init__(self, key: Any) -> None:
            super().__init__()
            self.key = key

    def __init__(self, columns: list[Column], cells_of: Callable[[T], list[Text]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.columns = columns
        self.cells_of = cells_of  # row → cells, called only for rows that are shown
        self.keys: list[Any] = []
        self.rows: list[T] = []
        self._strips: list[Strip | None] = []  # rendered when first shown
        self.cursor = 0
        self.on_move: Callable[[T], None] | None = None  # told the row under the cursor
        self._width = sum(width for _, width, _ in columns) + len(columns) - 1

    # --- content ---------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.keys)

    def clear(self) -> None:
        self.keys, self.rows, self._strips = [], [], []
        self.cursor = 0
        self._resized()

    def append(self, rows: list[tuple[Any, T]], keep: int | None = None) -> None:
        """Add (key, row) pairs; with ``keep``, drop the oldest beyond that many. The size
        changes at most once, and not at all once the window is full (no re-layout)."""
        for key, row in rows:
            self.keys.append(key)
            self.rows.append(row)
            self._strips.append(None)
        excess = len(self.keys) - keep if keep is not None else 0
        if excess > 0:
            del self.keys[:excess], self.rows[:excess], self._strips[:excess]
            self.cursor = max(0, self.cursor - excess)
        self._resized()

    def redraw(self) -> None:
        """Render every row again (the language changed)."""
        self._strips = [None] * len(self._strips)
        self.refresh()

    def _strip(self, index: int) -> Strip:
        """The row as a strip, rendered once: rows scrolled past unseen cost nothing."""
        strip = self._strips[index]
        if strip is None:
            line = line_of(self.cells_of(self.rows[index]), self.columns)
            segments = next(iter(Segment.split_and_crop_lines(line.render(self.app.console), self._width, pad=True)))
            strip = self._strips[index] = Strip(segments, self._width)
        return strip

    def _resized(self) -> None:
        size = Size(self._width, len(self.keys))
        if size != self.virtual_size:
            self.virtual_size = size
        self.refresh()

    # --- cursor ----------------------------------------------------------------------------

    def move_to(self, index: int, *, pause: bool = False) -> None:
        if not self.keys:
            return
        self.cursor = max(0, min(index, len(self.keys) - 1))
        top, height = self.scroll_offset.y, self.scrollable_content_region.height
        # force: rows just added have no scrollbar yet, and an unforced scroll is dropped
        # (the pane then opened on its oldest rows while saying "following").
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True, force=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True, force=True)
        self.refresh()
        if self.on_move is not None:  # at once, not a message later: what is drawn is what is under it
            self.on_move(self.rows[self.cursor])
        if pause:
            self.post_message(self.Paused())

    def to_last(self) -> None:
        self.move_to(len(self.keys) - 1)

    def on_resize(self) -> None:
        """Rows that arrived before the first layout (no height yet) were not scrolled to:
        once the view has a size, the cursor's row is brought into it (the newest, when
        following)."""
        self.move_to(self.cursor)

    def action_cursor_up(self) -> None:
        self.move_to(self.cursor - 1, pause=True)

    def action_cursor_down(self) -> None:
        self.move_to(self.cursor + 1)

    def action_page_up(self) -> None:
        self.move_to(self.cursor - max(1, self.scrollable_content_region.height - 1), pause=True)

    def action_page_down(self) -> None:
        self.move_to(self.cursor + max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self.move_to(0, pause=True)

    def action_follow(self) -> None:
        self.post_message(self.Follow())

    def action_select(self) -> None:
        if self.keys:
            self.post_message(self.Selected(self.keys[self.cursor]))

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.post_message(self.Paused())
        super()._on_mouse_scroll_up(event)

    async def _on_click(self, event: events.Click) -> None:
        index = event.y + self.scroll_offset.y
        if 0 <= index < len(self.keys):
            self.move_to(index, pause=True)
            if event.chain == 2:
                self.action_select()

    # --- drawing ---------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = y + scroll_y
        width = self.scrollable_content_region.width
        if index >= len(self._strips):
            return Strip.blank(width, self.rich_style)
        strip = self._strip(index)
        if index == self.cursor:
            strip = strip.apply_style(self.get_component_rich_style("tail--cursor"))
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def plain_row(self, index: int) -> list[str]:
        """The row's cells as plain text (for tests and copying)."""
        return [cell.plain for cell in self.cells_of(self.rows[index])]
