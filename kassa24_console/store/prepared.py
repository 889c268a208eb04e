"""Statements built once, for the paths every payment takes.

Building a SQLAlchemy statement costs more than running it (a callback's statements cost
~580 µs built per call against ~14 µs as prepared driver text). So each statement here is
built once with bound parameters; on SQLite it runs as its compiled text straight on the
driver (the connection's own transaction, the same parameters), and elsewhere as the
prebuilt statement, which SQLAlchemy's compiled cache answers without building anything.

Only columns without type conversion pass through the driver path (text, integers,
booleans); JSON columns keep SQLAlchemy's processing and are not prepared here.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from itertools import chain
from operator import itemgetter
from typing import Any, Generic, TypeVar, cast, overload

from sqlalchemy import Connection, bindparam, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

from .sqlite import driver

R = TypeVar("R", bound=tuple[Any, ...])


class Prepared(Generic[R]):
    """One statement: its SQLite text and parameter order, and the statement itself.

    A statement that returns rows returns them as ``R`` on either path: the ``row`` class
    given (a named tuple of the selected columns, in order), else a named tuple made from the
    columns' names (untyped: give ``row`` where a caller reads the fields)."""

    @overload
    def __init__(
        self: Prepared[tuple[Any, ...]],
        statement: Executable,
        *,
        postgres: Executable | None = None,
        defaults: Mapping[str, Any] | None = None,
        row: None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        statement: Executable,
        *,
        postgres: Executable | None = None,
        defaults: Mapping[str, Any] | None = None,
        row: type[R],
    ) -> None: ...

    def __init__(
        self,
        statement: Executable,
        *,
        postgres: Executable | None = None,
        defaults: Mapping[str, Any] | None = None,
        row: type[R] | None = None,
    ) -> None:
        """``row``: the class of its rows (a named tuple of the selected columns in order);
        by default one is made from the columns' names."""
        self.defaults = dict(defaults or {})  # what a parameter left out means (None if not here)
        self.postgres = postgres if postgres is not None else statement
        # Every statement here is a select, insert or update (Executable and ClauseElement both),
        # and compiled for SQLite by SQL compiler (which holds the parameters' order).
        compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=sqlite.dialect()))
        self.sqlite_text = str(compiled)
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        # Values written into the statement (``state = 'pending'``) are parameters too.
        self._driver_defaults = {**compiled.params, **self.defaults}
        columns = getattr(statement, "selected_columns", None)
        returning = getattr(statement, "_returning", ())
        keys = [c.key for c in (columns if columns is not None else returning)]
        self._texts: dict[int, str] = {}
        # A row's parameters in order, in C, when the row names them all (a 1-tuple otherwise).
        self._getter = _tuple_getter(self.names)
        # The row's class (attribute access by column name); a statement without rows has none.
        made = cast("type[R] | None", namedtuple("Row", keys, rename=True) if keys else None)
        self.row: type[R] | None = row or made

    def _args(self, params: Mapping[str, Any]) -> list[Any]:
        defaults = self._driver_defaults
        return [params[name] if name in params else defaults.get(name) for name in self.names]

    def run(self, connection: Connection, params: Mapping[str, Any]) -> int:
        """Execute; the number of rows it changed."""
        if connection.dialect.name == "sqlite":
            return driver(connection).execute(self.sqlite_text, self._args(params)).rowcount
        return connection.execute(self.postgres, {**self.defaults, **params}).rowcount

    def _rows(self) -> type[R]:
        if self.row is None:
            raise TypeError(f"not a statement that returns rows: {self.sqlite_text}")
        return self.row

    def first(self, connection: Connection, params: Mapping[str, Any]) -> R | None:
        """Execute; the first row (attribute access by column name) or None."""
        if connection.dialect.name == "sqlite":
            found = driver(connection).execute(self.sqlite_text, self._args(params)).fetchone()
        else:
            found = connection.execute(self.postgres, {**self.defaults, **params}).first()
        return None if found is None else tuple.__new__(self._rows(), found)

    def all(self, connection: Connection, params: Mapping[str, Any]) -> list[R]:
        """Execute; every row (attribute access by column name)."""
        # tuple.__new__ straight from C: a namedtuple's _make is a Python call a row
        make = partial(tuple.__new__, self._rows())
        if connection.dialect.name == "sqlite":
            return list(map(make, driver(connection).execute(self.sqlite_text, self._args(params))))
        return list(map(make, connection.execute(self.postgres, {**self.defaults, **params})))

    def many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert many rows: on SQLite as multi-row ``VALUES`` in slices (one call to the
        driver a slice, where ``executemany`` gives up the interpreter for every row)."""
        if connection.dialect.name == "sqlite":
            raw, width = driver(connection), max(1, len(self.names))
            step = max(1, MAX_DRIVER_PARAMETERS // width)
            for start in range(0, len(rows), step):
                part = rows[start : start + step]
                raw.execute(self._rows_text(len(part)), self._flat_args(part))
        else:
            connection.execute(self.postgres, [{**self.defaults, **row} for row in rows])

    def _flat_args(self, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Every row's parameters in order, one list; rows that hold every parameter (the
        traffic record's) are read in C (``itemgetter``), a row short of one as ``_args``."""
        try:
            return list(chain.from_iterable(map(self._getter, rows)))
        except KeyError:
            return [v for row in rows for v in self._args(row)]

    def _rows_text(self, count: int) -> str:
        text = self._texts.get(count)
        if text is None:
            head, row = self.sqlite_text.rsplit(" VALUES ", 1)
            text = self._texts[count] = f"{head} VALUES {', '.join([row] * count)}"
        return text


def _tuple_getter(names: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if not names:
        return lambda row: ()
    if len(names) == 1:
        one = itemgetter(names[0])
        return lambda row: (one(row),)
    return itemgetter(*names)


# SQLite before 3.32 takes at most 999 parameters a statement.
MAX_DRIVER_PARAMETERS = 999


def inserting(table: Any, columns: Sequence[str]) -> Prepared[tuple[Any, ...]]:
    """``INSERT INTO table (columns) VALUES (:column, …)``; a column left out of a row takes
    its model default (or NULL)."""
    defaults = {c: _scalar_default(table.c[c]) for c in columns}
    return Prepared(insert(table).values({c: bindparam(c) for c in columns}), defaults=defaults)


def _scalar_default(column: Any) -> Any:
    default = column.default
    return default.arg if default is not None and default.is_scalar else None


def upserting(
    table: Any, columns: Sequence[str], key: str, set_: dict[str, Any], returning: Sequence[Any], row: type[R]
) -> Prepared[R]:
    """Insert, or on a conflict of ``key`` update ``set_`` (values may name ``excluded``);
    the ``returning`` columns come back as ``row``."""

    def build(dialect: Any) -> Any:
        statement = dialect.insert(table).values({c: bindparam(c) for c in columns})
        values = {name: value(statement.excluded) if callable(value) else value for name, value in set_.items()}
        return statement.on_conflict_do_update(index_elements=[key], set_=values).returning(*returning)

    return Prepared(build(sqlite), postgres=build(postgresql), row=row)
