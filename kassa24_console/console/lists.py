"""A pane's list: one page from the store, re-read only when a table it shows was written,
the cursor kept in place; paged (``]`` ``[``), searched (``/``), filtered by project (``P``)."""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

from rich.text import Text
from textual import events, on
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static
from textual.widgets.data_table import ColumnKey, RowKey

from ..i18n import N_, _
from ..store import Store, views
from . import project_filter
from .context import Context
from .said import Asking


class Rows(DataTable[Any]):
    """A pane's table where Home and End move the cursor to the first and last row (a
    DataTable's own Home scrolls the view only, and ``k``/``p`` would act on a row out of sight)."""

    BINDINGS = [
        Binding("home", "scroll_top", N_("First row"), show=False),
        Binding("end", "scroll_bottom", N_("Last row"), show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._looks: dict[Any, tuple[Any, ...]] = {}  # per focus state: the styles its rows were drawn in
        self._drawn_size: Size | None = None

    def replace_rows(self, changed: dict[str, list[Any]]) -> None:
        """New cells for some rows, the rows and their order unchanged: only those rows are
        drawn again (issue 24). A DataTable's own ``update_cell`` makes it forget every drawn
        cell, so each payment credited redrew the whole page of the Contracts pane."""
        keys = {RowKey(key) for key in changed}
        columns = [column.key for column in self.ordered_columns]
        for key, cells in changed.items():
            self._data[RowKey(key)].update(zip(columns, cells, strict=True))
        for cache in (self._cell_render_cache, self._row_render_cache):
            for cache_key in [k for k in cache.keys() if k[0] in keys]:  # noqa: SIM118 - an LRUCache has no __iter__
                cache.discard(cache_key)
        self._row_renderable_cache.clear()  # by row index: cheap to make again (no drawing)
        self._line_cache.clear()  # lines are put together again from the rows drawn
        self._styles_cache.clear()
        self.refresh()

    def _on_resize(self, event: events.Resize) -> None:
        """Shown again at the size it had (a pane switch sends a Resize): its drawn rows
        still fit, so a DataTable's own handler, which forgets them all, is not run."""
        if event.size == self._drawn_size:
            event.prevent_default()
        self._drawn_size = event.size

    def _look(self) -> tuple[Any, ...]:
        """What the rows are drawn with: the table's style and each part's (cursor, header, …)."""
        parts = tuple(self.get_component_rich_style(name) for name in sorted(self.COMPONENT_CLASSES))
        return (self.rich_style, *parts)

    def notify_style_update(self) -> None:
        """Keep the rows drawn when only the focus moved (issue 24).

        A DataTable forgets every drawn cell on each style update, and focus is one: each
        pane switch redrew the whole visible page of a list (≈ 300 cells through Rich) before
        its frame. Its caches are keyed by the focus state already, so what was drawn in a
        state stays right while that state looks the same; :meth:`render_lines` checks that
        (the parts' styles are settled only after this is called)."""
        Widget.notify_style_update(self)  # the widget's own style caches, not the drawn rows
        self._styles_cache.clear()
        self._get_styles_to_render_cell.cache_clear()

    def render_lines(self, crop: Region) -> list[Strip]:
        """A state that looks other than when its rows were drawn (a theme or CSS change):
        every drawn row is forgotten, as a DataTable does on any style update."""
        state, look = self.get_pseudo_class_state(), self._look()
        seen = self._looks.get(state)
        if seen is not None and seen != look:
            self._clear_caches()
            self._looks = {}
        self._looks[state] = look
        return super().render_lines(crop)


class PaneRow(Protocol):
    """A pane's row: a named tuple the store reads (``store.rows``), with its id and project."""

    @property
    def id(self) -> object: ...

    @property
    def project_id(self) -> int | None: ...


R = TypeVar("R", bound=PaneRow)


class ListPane(Vertical, Generic[R]):
    """A table of one page from the store, rebuilt only when what it shows changed.

    Lists longer than a page are paged from the store (``]`` next, ``[`` previous) and say
    where you are ("1–500 of 10 020"); ``/`` narrows them (a payment id works everywhere).
    """

    TABLE_ID = ""
    NOUN = "rows"  # the ids of its widgets
    NOUN_WORD = N_("rows")  # what "1–500 of 10 020" counts, in words
    PAGE = 500
    COLUMNS: list[tuple[str, str, int]] = []  # (label, key, width)
    BINDINGS = [project_filter.BINDING]
    BY_PROJECT = True  # its rows carry their project: it filters by project when there are several
    PAGING = [
        Binding("right_square_bracket", "page(1)", N_("Next page"), show=False, tooltip=N_("next page of the list")),
        Binding("left_square_bracket", "page(-1)", N_("Previous page"), show=False, tooltip=N_("previous page")),
    ]

    def __init__(self, context: Context, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.context = context  # settings, zone and store: given when built, read through
        self._shown: list[R] = []
        self.rows: dict[str, R] = {}
        self.page_start = 0
        self._read_at: tuple[Any, ...] | None = None  # (tables' stamp, search, page) last read
        self.project: int | None = None  # the project filter: None, every project

    @property
    def by_project(self) -> bool:
        """Several projects are configured and its rows carry theirs: a filter and a column."""
        return self.BY_PROJECT and self.context.settings.several

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cycle_project":
            return self.by_project
        return True

    async def action_cycle_project(self) -> None:
        self.project = project_filter.following(self.context.settings, self.project)
        self.page_start = 0
        await self.refresh_rows()

    def columns(self) -> list[tuple[str, str, int]]:
        return [project_filter.COLUMN, *self.COLUMNS] if self.by_project else self.COLUMNS

    @property
    def store(self) -> Store:
        """The console's store: open whenever a page is read (:meth:`refresh_rows` reads only then)."""
        assert self.context.store is not None
        return self.context.store

    @property
    def search(self) -> str:
        return next((i.value for i in self.query(f"#{self.NOUN}-search").results(Input)), "")

    def search_box(self, placeholder: str) -> Input:
        return Asking(placeholder, id=f"{self.NOUN}-search")

    def where_line(self) -> Static:
        return Static("", id=f"{self.NOUN}-where", classes="hint", markup=False)

    def tables(self) -> tuple[str, ...]:
        """The tables this pane's rows are read from: it re-reads when one of them is written."""
        return self.TABLES

    TABLES: tuple[str, ...] = ()

    def view_state(self) -> tuple[Any, ...]:
        """What, besides the store, decides which rows the pane shows."""
        return (self.search, self.page_start, self.project)

    async def count(self) -> int:
        raise NotImplementedError

    async def page(self) -> list[R]:
        raise NotImplementedError

    async def fetch(self) -> list[R]:
        """The page at ``offset`` (kept within the rows there are), and where it is."""
        total = await self.count()
        self.page_start = max(0, min(self.page_start, (max(total, 1) - 1) // self.PAGE * self.PAGE))
        rows = await self.page()
        if self.is_attached:
            first = self.page_start + 1 if rows else 0
            cap = f"{views.COUNT_CAP:,}".replace(",", " ")
            of = _("more than {n}").format(n=cap) if total > views.COUNT_CAP else f"{total:,}".replace(",", " ")
            last = self.page_start + len(rows)
            where = _("{noun} {first}–{last} of {of}").format(noun=_(self.NOUN_WORD), first=first, last=last, of=of)
            more = _(" · ] next page · [ previous") if total > self.PAGE else ""
            mine = project_filter.note(self.context.settings, self.project) if self.by_project else ""
            for widget in self.query(f"#{self.NOUN}-where").results(Static):
                widget.update(where + more + mine)
        return rows

    async def action_page(self, step: int) -> None:
        self.page_start = max(0, self.page_start + step * self.PAGE)
        await self.refresh_rows()

    @on(Input.Changed)
    async def _on_search(self, event: Input.Changed) -> None:
        if event.input.id == f"{self.NOUN}-search":
            self.page_start = 0
            await self.refresh_rows()

    @on(Input.Submitted)
    def _on_search_done(self, event: Input.Submitted) -> None:
        if event.input.id == f"{self.NOUN}-search":
            self.table.focus()

    def action_focus_search(self) -> None:
        for box in self.query(f"#{self.NOUN}-search").results(Input):
            box.focus()

    def make_table(self) -> DataTable[Any]:
        table: DataTable[Any] = Rows(id=self.TABLE_ID, cursor_type="row", zebra_stripes=True)
        for label, key, width in self.columns():
            table.add_column(self.column_label(label, key), key=key, width=width)
        return table

    def column_label(self, label: str, key: str) -> Text:
        """A column's heading in the operator's language (drawn again when it changes)."""
        return Text(_(label), justify="right" if key in self.RIGHT else "left")

    def relabel(self) -> None:
        """Headings again in the language now in use; the rows are read and drawn again."""
        table = self.query_one(f"#{self.TABLE_ID}", DataTable)
        for label, key, _width in self.columns():
            table.columns[ColumnKey(key)].label = self.column_label(label, key)
        table.refresh()
        self._read_at, self._shown = None, []

    RIGHT: frozenset[str] = frozenset()

    @property
    def table(self) -> Rows:
        return self.query_one(f"#{self.TABLE_ID}", Rows)

    def key_of(self, row: R) -> str:
        return str(row.id)

    def cells(self, row: R) -> list[Text]:
        raise NotImplementedError

    async def refresh_rows(self) -> None:
        """Re-read the page unless nothing was committed since it was read (an idle console
        reads nothing); touch the table only if something changed."""
        store = self.context.store
        if store is None:
            return
        stamp = await store.stamp(self.tables())
        read_at = (stamp, *self.view_state())
        if stamp is not None and read_at == self._read_at:
            return  # none of the tables this pane shows was written since it was read
        rows = await self.fetch()
        self._read_at = read_at
        if not self.is_attached:  # the app closed while the store answered
            return
        shown = list(rows)  # named tuples: equal when every field is
        if shown == self._shown:
            return
        keys = [self.key_of(row) for row in rows]
        table = self.table
        if self._shown and keys == list(self.rows) and table.row_count == len(keys):
            # the same rows in the same order (a payment credited a due): only what changed
            pairs = zip(keys, rows, shown, self._shown, strict=True)
            changed = {key: self._cells(row) for key, row, new, old in pairs if new != old}
            self._shown, self.rows = shown, dict(zip(keys, rows, strict=True))
            table.replace_rows(changed)
            return
        self._shown = shown
        selected = self.selected_key()
        self.rows = dict(zip(keys, rows, strict=True))
        with self.app.batch_update():
            table.clear()
            for key, row in zip(keys, rows, strict=True):
                table.add_row(*self._cells(row), key=key)
            if selected in self.rows:
                table.move_cursor(row=table.get_row_index(selected), animate=False)

    def _cells(self, row: Any) -> list[Any]:
        """The row's cells as the table shows them (its project first, when it shows projects)."""
        cells = self.cells(row)
        return [project_filter.cell(row), *cells] if self.by_project else cells

    def selected_key(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def selected(self) -> R | None:
        key = self.selected_key()
        return self.rows.get(key) if key is not None else None
