"""Statements compiled once per dialect and run through the driver
(:meth:`~sqlalchemy.Connection.exec_driver_sql`) — for the few statements every login and
every authenticated request runs (issue 17, ``benchmarks/profiles/README.md``).

``conn.execute(statement)`` with a statement built once still costs about 0.085 ms on SQLite
before the driver does any work (cache key, compiled-cache lookup, bind and result processing,
the row mapping); through ``exec_driver_sql`` on SQL compiled once it is about 0.04 ms. The
statement still runs on the caller's :class:`~sqlalchemy.Connection` (its transaction, its
error wrapping and invalidation of a dead connection), only the per-call work is skipped.

- :class:`DriverSelect`: a ``SELECT`` whose bind parameters and result columns go through
  their types' own processors, worked out once (``NulSafeString``'s escape of NUL, SQLite's
  booleans and datetimes, ``UTCDateTime``); rows come back as tuples.
- :func:`insert_one`: one row into a table, with the columns' own bind processors (UTC
  datetimes, NUL checks) and Python-side defaults, compiled by
  :class:`dingsync.store.repo.DriverStatement` and its one row's values processed one by one
  (``_OneRow``: the statement's column-wise path is made for many rows).

On SQLite both run on the driver's own cursor (:func:`run_on_cursor`) when nothing listens to
the connection's statements (no ``before_cursor_execute`` or other connection event, no
``echo``): ``exec_driver_sql`` still builds an execution context, a cursor result and its
metadata per statement, about 0.04 ms where the SQLite cursor answers a read by key in about
0.005 ms (issue 17, branch ``login18``: a login runs eight of them). The connection's
transaction is begun as ``exec_driver_sql`` would (``Connection.begin``), and a statement the
driver refuses is run once more through ``exec_driver_sql``, so its error reaches the caller
wrapped (and a dead connection invalidated) as before. Other backends keep ``exec_driver_sql``:
their round trip dominates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import CompoundSelect, Connection, Insert, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import StatementError
from sqlalchemy.sql.compiler import SQLCompiler

from dingsync.store.repo import DriverStatement, dialect_cache


class _Compiled:
    __slots__ = ("binds", "defaults", "names", "positional", "results", "sql")

    def __init__(self, dialect: Dialect, statement: Select[Any] | CompoundSelect[Any]) -> None:
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler):
            raise TypeError(f"not compiled to SQL: {statement!r}")
        binds = compiled.binds
        if any(b.expanding for b in binds.values()):
            raise TypeError("an IN list (expanding bind parameter) cannot be compiled once")
        self.sql = compiled.string
        self.positional = bool(dialect.positional)
        self.names: list[str] = list(compiled.positiontup or []) if self.positional else list(binds)
        # Literal values of the statement (``status == "active"``): their anonymous binds.
        self.defaults = {
            name: b.value
            for name, b in binds.items()
            if not b.required and b.value is not None and b.callable is None
        }
        # The processors SQLAlchemy would call, by parameter and by result column (SQLite
        # reports no column types, so ``coltype`` is None as it is there).
        self.binds: list[tuple[str, Any]] = []
        for name in dict.fromkeys(self.names):
            process = binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self.binds.append((name, process))
        self.results: list[tuple[int, Any]] = []
        for i, column in enumerate(statement.selected_columns):
            process = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if process is not None:
                self.results.append((i, process))


class DriverSelect:
    """A ``SELECT`` compiled once per dialect, run with ``exec_driver_sql`` (see the module
    docstring).

    ``statement`` (a ``SELECT``, or a ``UNION`` of them) uses named
    :func:`~sqlalchemy.bindparam` values; :meth:`execute` takes them as a mapping and returns
    the driver's rows as tuples, in the statement's column order.
    """

    __slots__ = ("statement",)

    def __init__(self, statement: Select[Any] | CompoundSelect[Any]) -> None:
        self.statement = statement

    def _compiled(self, dialect: Dialect) -> _Compiled:
        per_dialect = dialect_cache(dialect, "selects")
        found: _Compiled | None = per_dialect.get(self)
        if found is None:
            found = per_dialect[self] = _Compiled(dialect, self.statement)
        return found

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row of the statement for ``params`` (a tuple per row)."""
        compiled = self._compiled(conn.dialect)
        values = {**compiled.defaults, **params}
        for name, process in compiled.binds:
            values[name] = process(values[name])
        args: Any
        if compiled.positional:
            args = tuple(values[name] for name in compiled.names)
        else:
            args = {name: values[name] for name in compiled.names}
        rows = run_on_cursor(conn, compiled.sql, args)
        if not compiled.results:
            return [tuple(r) for r in rows]
        out = []
        for r in rows:
            row = list(r)
            for i, process in compiled.results:
                row[i] = process(row[i])
            out.append(tuple(row))
        return out

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row for ``params``, or ``None``."""
        rows = self.execute(conn, params)
        return rows[0] if rows else None


def _plain(conn: Connection) -> bool:
    """Whether ``conn``'s statements may skip SQLAlchemy's execution path: SQLite, and nothing
    listening (connection events, ``echo``). Private attributes read defensively: when one is
    missing, SQLAlchemy's path is taken."""
    return (
        conn.dialect.name == "sqlite"
        and getattr(conn, "_has_events", True) is False
        and getattr(conn.engine, "_has_events", True) is False
        and getattr(conn, "_echo", True) is False
    )


def run_on_cursor(conn: Connection, sql: str, args: Any) -> list[Any]:
    """Run ``sql`` (driver SQL, one parameter set ``args``) on ``conn`` and return the rows the
    driver gives (tuples; ``[]`` for a statement that returns none) — on the driver's cursor
    for :func:`_plain` connections, else through ``exec_driver_sql``. Errors are SQLAlchemy's
    (``sqlalchemy.exc.DBAPIError`` subclasses), as from ``exec_driver_sql``."""
    if not _plain(conn):
        result = conn.exec_driver_sql(sql, args)
        return list(result.fetchall()) if result.returns_rows else []
    if not conn.in_transaction():
        conn.begin()  # what exec_driver_sql's autobegin does (a no-op on the SQLite driver)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, args)
        rows: Any = cursor.fetchall() if cursor.description is not None else []
    except Exception:
        # Once more through SQLAlchemy: the same refusal is then raised wrapped, and a dead
        # connection invalidated, exactly as before (one row: nothing was written).
        result = conn.exec_driver_sql(sql, args)
        return list(result.fetchall()) if result.returns_rows else []
    finally:
        cursor.close()
    return list(rows)


class _OneRow:
    """The parameters of one row for a :class:`DriverStatement`: each value through its
    column's own bind processor (as SQLAlchemy's ``execute`` does it) and the Python-side
    defaults — the statement's column-wise machinery (lists per column, one pass per column,
    made for many rows) costs more than the values themselves for a single row."""

    __slots__ = ("names", "plan", "positional", "sql")

    def __init__(self, driver: DriverStatement) -> None:
        self.sql = driver.sql
        self.positional = driver.positional
        self.names = driver.names
        processors = {i: column.process for i, column in driver.converters}
        self.plan = [
            (name, processors.get(i), driver.defaults.get(name))
            for i, name in enumerate(driver.names)
        ]

    def params(self, row: Mapping[str, Any]) -> Any:
        """The driver's parameters of ``row`` (a tuple, or a dict for named paramstyles).
        Raises :class:`~sqlalchemy.exc.StatementError` for a value a processor refuses, as
        :meth:`DriverStatement.params` does."""
        values = []
        try:
            for name, process, default in self.plan:
                if default is None:
                    value = row[name]
                else:
                    value = default.arg if default.is_scalar else default.arg(None)
                values.append(value if process is None else process(value))
        except (TypeError, ValueError) as exc:
            raise StatementError(f"({type(exc).__name__}) {exc}", self.sql, None, exc) from exc
        if self.positional:
            return tuple(values)
        return dict(zip(self.names, values, strict=True))


def insert_one(conn: Connection, statement: Insert, row: Mapping[str, Any]) -> None:
    """Insert ``row`` with ``statement`` (a plain ``insert(table)``), compiled once per dialect
    and set of columns; values go through the columns' bind processors as with
    ``conn.execute``. A value a processor refuses raises
    :class:`sqlalchemy.exc.StatementError`; a constraint, ``IntegrityError``."""
    columns = tuple(row)
    # the one-row inserts of each insert statement and set of columns
    per_dialect = dialect_cache(conn.dialect, "one_row_inserts")
    key = (statement, columns)
    one = per_dialect.get(key)
    if one is None:
        one = per_dialect[key] = _OneRow(DriverStatement(conn.dialect, statement, columns))
    run_on_cursor(conn, one.sql, one.params(row))


__all__ = ["DriverSelect", "insert_one", "run_on_cursor"]
