"""Small repositories over :mod:`dingsync.store.schema`.

Every function takes a :class:`~sqlalchemy.Connection` inside the caller's transaction (``with
engine.begin() as conn:``) and never commits. Rows are plain dicts keyed by column name (see
``schema.py``); a row may leave columns out, and a column left out is neither written nor
overwritten (so ``upsert_corp(conn, {"corp_id": c})`` keeps the corp's name).

Writes are set-based idempotent upserts: one ``INSERT … ON CONFLICT DO UPDATE`` (SQLite,
PostgreSQL) or ``INSERT … ON DUPLICATE KEY UPDATE`` (MySQL/MariaDB) statement, compiled once and
executed with the whole chunk of rows as its parameter sets (the driver's ``executemany``: psycopg
pipelines it, sqlite3 loops in C, PyMySQL rewrites it to multi-row VALUES). That is about ten
times faster than rendering multi-row VALUES through SQLAlchemy, whose compile cost grows with
every bound parameter, and no statement carries more than one row's parameters, so SQLite's
variable limit cannot be hit. ``IN (…)`` lists are cut to stay under that limit. Applying the
same rows twice leaves the same table.

Times are aware UTC datetimes (DingTalk's epoch ms converted with ``schema.from_ms``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import operator
import sqlite3
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from itertools import islice, repeat
from operator import itemgetter
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    Connection,
    Date,
    Dialect,
    Executable,
    Table,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import mysql as mysql_dialect
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.exc import StatementError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

import dingsync.timeutil as timeutil
from dingsync.store.nul import ESCAPE, NUL, NulSafeJSON, NulSafeString
from dingsync.store.schema import (
    SYNC_RUN_KINDS,
    SYNC_RUN_STATUSES,
    UTCDateTime,
    admin_scopes,
    admins,
    corps,
    departments,
    former_memberships,
    leavers,
    sync_checkpoints,
    sync_runs,
    sync_watermarks,
    synced_user,
    user_departments,
    users,
    utcnow,
)
from dingsync.store.schema_roles import role_members, roles

log = logging.getLogger(__name__)

Row = Mapping[str, Any]
T = TypeVar("T")

#: Rows per ``executemany`` call and values per ``IN (…)`` list (bounds memory and packets).
MAX_ROWS_PER_STATEMENT = 1000

#: Dimission ``status`` values that mean the person has gone (2 已离职). ``None`` — a departure
#: record (empLeaveRecords) with no dimission detail — counts as gone too. 1 待离职 (serving
#: notice), 3 未离职, 4 审批中 and 5 失效 do not.
DEPARTED_DIMISSION_STATUSES = (2,)


# --------------------------------------------------------------------------------------------
# Generic upsert
# --------------------------------------------------------------------------------------------
def max_bind_params(dialect: Dialect) -> int:
    """How many bound parameters one statement may carry on ``dialect`` (with headroom)."""
    if dialect.name == "sqlite":
        # SQLITE_MAX_VARIABLE_NUMBER: 999 before 3.32, 32766 since.
        return 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
    return 30_000  # PostgreSQL and MySQL protocols cap at 65535


def _batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


#: Built statements by (dialect, table, keys, update columns): building one (its ``excluded``
#: column collection) costs about a millisecond, more than writing a typical batch of rows.
_STATEMENTS: dict[tuple[str, Table, tuple[str, ...], tuple[str, ...]], Executable] = {}


def upsert_statement(
    dialect: Dialect, table: Table, key_columns: Sequence[str], update_columns: Sequence[str]
) -> Executable:
    """The dialect's ``INSERT … ON CONFLICT``/``ON DUPLICATE KEY`` statement for ``table``,
    without values: execute it with a list of row dicts. ``update_columns`` take the new row's
    values; none means insert-or-ignore. Built once per shape and reused."""
    cache_key = (dialect.name, table, tuple(key_columns), tuple(update_columns))
    statement = _STATEMENTS.get(cache_key)
    if statement is None:
        statement = _STATEMENTS[cache_key] = _build_upsert(
            dialect, table, key_columns, update_columns
        )
    return statement


def _build_upsert(
    dialect: Dialect, table: Table, key_columns: Sequence[str], update_columns: Sequence[str]
) -> Executable:
    name = dialect.name
    if name == "postgresql":
        pg = pg_dialect.insert(table)
        if not update_columns:
            return pg.on_conflict_do_nothing(index_elements=list(key_columns))
        return pg.on_conflict_do_update(
            index_elements=list(key_columns), set_={c: pg.excluded[c] for c in update_columns}
        )
    if name == "sqlite":
        lite = sqlite_dialect.insert(table)
        if not update_columns:
            return lite.on_conflict_do_nothing(index_elements=list(key_columns))
        return lite.on_conflict_do_update(
            index_elements=list(key_columns), set_={c: lite.excluded[c] for c in update_columns}
        )
    if name in ("mysql", "mariadb"):
        my = mysql_dialect.insert(table)
        # With nothing to update, "update" a key column to itself: a no-op that still absorbs
        # the duplicate (INSERT IGNORE would also swallow unrelated errors).
        targets = list(update_columns) or [key_columns[0]]
        return my.on_duplicate_key_update({c: my.inserted[c] for c in targets})
    raise NotImplementedError(f"upsert is not implemented for the {name!r} dialect")


_COLUMNS: dict[Table, frozenset[str]] = {}


def _columns_of(table: Table) -> frozenset[str]:
    names = _COLUMNS.get(table)
    if names is None:
        names = _COLUMNS[table] = frozenset(table.c.keys())
    return names


def upsert(
    conn: Connection,
    table: Table,
    rows: Iterable[Row],
    key_columns: Sequence[str],
    update_columns: Sequence[str] | None = None,
) -> int:
    """Insert ``rows`` into ``table``, updating those whose ``key_columns`` already exist.

    - ``rows``: dicts keyed by column name; unknown names raise ``ValueError``. Rows may carry
      different column sets: each set is written by its own statement, and a column a row does
      not carry is left as it is on update (its default applies on insert).
    - ``key_columns``: the primary key or a unique key; each row must give them all.
    - ``update_columns``: what an existing row gets from the new one; by default every column the
      row carries except the keys and ``created_at``. ``[]`` means insert-or-ignore.
    - ``updated_at``, ``synced_at`` and ``created_at``, where the table has them and a row
      leaves them out, are set to now (``created_at`` only on insert).
    - Rows with the same key: the last one wins.

    Returns the number of distinct rows written. The rows go in chunks of
    :data:`MAX_ROWS_PER_STATEMENT` through one compiled statement (see the module docstring).
    """
    keys = list(key_columns)
    if not keys:
        raise ValueError("upsert needs at least one key column")
    known = _columns_of(table)
    bad_keys = [k for k in keys if k not in known]
    if bad_keys:
        raise ValueError(f"{table.name}: unknown key column(s) {bad_keys}")
    explicit = None if update_columns is None else list(update_columns)
    if explicit is not None:
        unknown = [c for c in explicit if c not in known]
        if unknown:
            raise ValueError(f"{table.name}: unknown update column(s) {unknown}")

    now = utcnow()
    stamps = [c for c in ("created_at", "updated_at", "synced_at") if c in known]
    by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
    for source in rows:
        row = dict(source)
        if not known.issuperset(row):
            unknown = [c for c in row if c not in known]
            raise ValueError(f"{table.name}: unknown column(s) {sorted(unknown)}")
        key = tuple([row.get(k) for k in keys])
        if None in key:
            missing = [k for k in keys if row.get(k) is None]
            raise ValueError(f"{table.name}: row without key column(s) {missing}: {row!r}")
        for stamp in stamps:
            if stamp not in row:
                row[stamp] = now
        by_key[key] = row
    if not by_key:
        return 0
    analyze_when_grown(conn, table, len(by_key))

    # Key order gives concurrent writers the same lock order (no deadlocks on PostgreSQL).
    try:
        ordered = [by_key[k] for k in sorted(by_key)]
    except TypeError:  # keys of mixed types: keep the given order
        ordered = list(by_key.values())
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    # Rows of one writer list their columns in one order: sort each order once, not each row.
    sorted_of: dict[tuple[str, ...], tuple[str, ...]] = {}
    for row in ordered:
        given = tuple(row)
        columns = sorted_of.get(given)
        if columns is None:
            columns = sorted_of[given] = tuple(sorted(given))
        groups.setdefault(columns, []).append(row)

    for columns, group in groups.items():
        if explicit is None:
            targets = [c for c in columns if c not in keys and c != "created_at"]
        else:
            absent = [c for c in explicit if c not in columns]
            if absent:
                raise ValueError(f"{table.name}: update column(s) {absent} missing from rows")
            targets = list(explicit)
            # Whatever else changes, an updated row says when it changed.
            if targets and "updated_at" in columns and "updated_at" not in targets:
                targets.append("updated_at")
        statement = upsert_statement(conn.dialect, table, keys, targets)
        driver = _driver_statement(conn.dialect, statement, columns)
        for chunk in _batched(group, MAX_ROWS_PER_STATEMENT):
            if driver is None:
                conn.execute(statement, list(chunk))
            else:
                driver.execute(conn, chunk)
    return len(by_key)


# --------------------------------------------------------------------------------------------
# Column processors: one column of many rows at a time
# --------------------------------------------------------------------------------------------
_EPOCH_NAIVE = datetime(1970, 1, 1)
_MS_PER_DAY = 86_400_000


#: Texts of :func:`_sqlite_ms_formatter`'s arithmetic by epoch ms (a pure function of the ms),
#: emptied when it reaches :data:`_SQLITE_MS_TEXTS_MAX` entries (~10 MB).
_SQLITE_MS_TEXTS: dict[int, str] = {}
_SQLITE_MS_TEXTS_MAX = 65_536


def _sqlite_ms_formatter(process: Any) -> Any:
    """Epoch ms (``int``) → the text SQLite's ``UTCDateTime`` processor writes for
    ``from_ms(ms)`` (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC), computed with integer arithmetic and
    the date part cached per day and each text kept for the next writes
    (:data:`_SQLITE_MS_TEXTS`); ``None`` unless ``process`` gives exactly that text for a set of
    probes (the arithmetic is then the same function, minus the datetime objects)."""
    days: dict[int, str] = {}

    def fmt(ms: int) -> str:
        day, rest = divmod(ms, _MS_PER_DAY)
        prefix = days.get(day)
        if prefix is None:
            d = _EPOCH_NAIVE + timedelta(days=day)
            prefix = days[day] = f"{d.year:04d}-{d.month:02d}-{d.day:02d} "
        seconds, milli = divmod(rest, 1000)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        return f"{prefix}{hours:02d}:{minutes:02d}:{seconds:02d}.{milli:03d}000"

    texts = _SQLITE_MS_TEXTS

    def cached(ms: int) -> str:
        # Shared by every column and write: a punch's time is both its record's and its
        # result's ``user_check_time``, and a shift's plan times recur across people.
        text = texts.get(ms)
        if text is None:
            if len(texts) >= _SQLITE_MS_TEXTS_MAX:
                texts.clear()
            text = texts[ms] = fmt(ms)
        return text

    probes = (0, 1, 999, 86_399_999, 1_764_547_200_000, 1_764_604_799_123, -1, -86_400_001)
    try:
        if all(process(timeutil.from_ms(ms)) == fmt(ms) for ms in probes):
            return cached
    except (TypeError, ValueError, OverflowError):
        pass
    return None


def _epoch_ms_converter(dialect: Dialect, process: Any) -> Any:
    """Epoch ms → what ``process`` (a ``UTCDateTime`` processor) gives for ``from_ms(ms)``: on
    SQLite the arithmetic formatter where it is exact, else through the datetime."""
    if dialect.name == "sqlite":
        fmt = _sqlite_ms_formatter(process)
        if fmt is not None:
            return fmt

    def convert(ms: int) -> Any:
        return process(timeutil.from_ms(ms))

    return convert


#: A JSON value whose text tells orjson's output from ``json.dumps``' (spacing, non-ASCII).
_JSON_PROBE = {"a": [1, 2.5, None, True], "名": "é"}


def _orjson_text(value: Any) -> str:
    return orjson.dumps(value).decode()


class DumpedJSON(dict[str, Any]):
    """A JSON object together with its orjson text (``text``: ``orjson.dumps(self).decode()``,
    taken when it was made; the object is not changed afterwards). A JSON column of
    :class:`DriverStatement` takes the text instead of dumping the object again where it would
    have used orjson; anywhere else it is the plain ``dict`` it holds (the column's own
    processor, ``json.dumps``, reads it as one). :func:`_upsert_users` makes one per person from
    the dump its content digest needed (:func:`_user_digest`): one JSON dump of ``raw`` per
    person instead of two."""

    __slots__ = ("text",)

    def __init__(self, value: dict[str, Any], text: str) -> None:
        super().__init__(value)
        self.text = text


def _same_method(bind_type: Any, base: type, *names: str) -> bool:
    """Whether ``bind_type``'s class processes binds with ``base``'s own methods (a subclass
    that overrides them gets the column's processor value by value)."""
    cls = type(bind_type)
    return all(getattr(cls, name) is getattr(base, name) for name in names)


class _Column:
    """How one column (one bound parameter) turns the values of many rows into the driver's,
    for :class:`DriverStatement` (every repository write) and :class:`TupleUpsert`: the same
    values the column's bind processor gives value by value, with less work per value — a
    NUL-safe text column is checked once on its joined text, datetimes and dates are converted
    once per distinct value, JSON is dumped by orjson where the column's serializer gives
    orjson's text. ``epoch_ms``: a ``UTCDateTime`` column also takes DingTalk's epoch ms
    (``int``; only :class:`TupleUpsert` asks for it — the column's processor refuses an int).
    A value the processor refuses raises its ``TypeError``/``ValueError``."""

    __slots__ = ("kind", "ms", "process", "wrap")

    def __init__(self, dialect: Dialect, bind_type: Any, *, epoch_ms: bool = False) -> None:
        impl = bind_type.dialect_impl(dialect)
        self.process = impl.bind_processor(dialect)
        self.ms: Any = None
        self.wrap: Any = None
        self.kind = "plain"
        if self.process is None:
            return
        if isinstance(bind_type, NulSafeString) and _same_method(
            bind_type, NulSafeString, "bind_processor", "process_bind_param"
        ):
            inner = impl.impl_instance.bind_processor(dialect)
            self.kind = "text" if inner is None else "plain"
        elif isinstance(bind_type, UTCDateTime) and _same_method(
            bind_type, UTCDateTime, "bind_processor", "process_bind_param"
        ):
            self.kind = "time"
            if epoch_ms:
                self.ms = _epoch_ms_converter(dialect, self.process)
        elif isinstance(bind_type, Date):
            self.kind = "memo"
        elif isinstance(bind_type, NulSafeJSON) and _same_method(
            bind_type, NulSafeJSON, "bind_processor", "process_bind_param"
        ):
            probe = self.process(_JSON_PROBE)
            expected = _orjson_text(_JSON_PROBE)
            if probe.__class__ is str:
                if probe == expected:  # the driver takes the JSON text (SQLite, MySQL/MariaDB)
                    self.kind = "json"
            elif dialect.name == "postgresql" and type(probe).__name__ == "Jsonb":
                serializer = getattr(dialect, "_json_serializer", None)
                if serializer is not None and serializer(_JSON_PROBE) == expected:
                    self.kind = "json"  # psycopg's Jsonb wrapper, given the text already dumped
                    self.wrap = type(probe)

    def convert(self, values: list[Any]) -> list[Any]:
        """``values`` (one column of every row) as the driver takes them."""
        process = self.process
        if process is None:
            return values
        kind = self.kind
        if kind == "text":
            # NUL-safe text: one look at the column's joined text; escaped only if it holds a
            # NUL or the escape character (never, for what DingTalk sends).
            try:
                joined = "".join(filter(None, values))
            except TypeError:
                return list(map(process, values))
            if NUL in joined or ESCAPE in joined:
                return list(map(process, values))
            return values
        if kind == "time":
            return self._times(values, process)
        if kind == "json":
            return self._json(values, process)
        if kind == "memo":
            # Dates only (a datetime given to a DATE column is processed as itself: equal
            # aware datetimes in other zones have other calendar dates).
            cache: dict[Any, Any] = {}
            out = []
            for value in values:
                if value.__class__ is not date:
                    out.append(process(value))
                elif value in cache:
                    out.append(cache[value])
                else:
                    out.append(cache.setdefault(value, process(value)))
            return out
        return list(map(process, values))

    def _json(self, values: list[Any], process: Any) -> list[Any]:
        """JSON values dumped by orjson (about ten times faster than ``json.dumps``; compact
        text, the same content), checked for NUL/escape once on the column's joined text; the
        column's own processor (``json.dumps``, NUL escape) whenever orjson refuses a value (an
        int beyond 64 bits, a non-string key) or the text shows a NUL or the escape."""
        dumps = orjson.dumps
        try:
            texts = [
                None if v is None else v.text if v.__class__ is DumpedJSON else dumps(v).decode()
                for v in values
            ]
        except (TypeError, orjson.JSONEncodeError):
            return list(map(process, values))
        joined = "".join(filter(None, texts))
        if "\\u0000" in joined or ESCAPE in joined or "\\ufdd0" in joined:
            return list(map(process, values))
        wrap = self.wrap
        if wrap is None:
            return texts
        return [None if t is None else wrap(t, dumps=_same) for t in texts]

    def _times(self, values: list[Any], process: Any) -> list[Any]:
        """Aware datetimes (or, with ``epoch_ms``, epoch ms as :func:`~dingsync.timeutil.from_ms`
        reads them), each distinct value converted once. Equal datetimes are the same instant,
        and the processor's value depends on the instant alone (UTC)."""
        from_ms = self.ms
        cache: dict[Any, Any] = {}
        out = []
        for value in values:
            cls = value.__class__
            if cls is datetime or (cls is int and from_ms is not None):
                got = cache.get(value, _MISSING)
                if got is _MISSING:
                    got = cache[value] = from_ms(value) if cls is int else process(value)
                out.append(got)
            else:  # None, or what the processor refuses (an int unless epoch_ms)
                out.append(None if value is None else process(value))
        return out


_MISSING = object()


def _same(text: str) -> str:
    """psycopg's ``Jsonb(text, dumps=_same)``: the text was dumped already."""
    return text


class DriverStatement:
    """An upsert or insert compiled once for a dialect and a set of row columns, run with the
    driver's own ``executemany`` (:meth:`~sqlalchemy.Connection.exec_driver_sql`).

    SQLAlchemy's ``execute`` looks the compiled form up in its cache and builds each row's
    parameters from scratch on every call (about 0.2 ms per statement before the driver does
    any work, plus a TypeDecorator hop per value); here the SQL text, the parameter order, the
    columns' bind processors and the Python-side column defaults are worked out once, and the
    rows' values are processed column by column (:class:`_Column`: the values SQLAlchemy's own
    processors give — NUL escape, UTC datetimes, JSON — with one NUL check per column of a
    chunk, one conversion per distinct datetime, orjson for JSON). A value a processor refuses
    raises :class:`sqlalchemy.exc.StatementError` with the processor's error as ``orig``, as
    SQLAlchemy does (the sync quarantines such a unit). ``epoch_ms``: ``UTCDateTime``
    parameters also take epoch ms (``int``; :class:`TupleUpsert`).
    """

    __slots__ = ("converters", "defaults", "getters", "names", "positional", "sql")

    def __init__(
        self,
        dialect: Dialect,
        statement: Executable,
        columns: Sequence[str],
        *,
        epoch_ms: bool = False,
    ) -> None:
        if not isinstance(statement, ClauseElement):
            raise NotImplementedError(f"not a compilable statement: {statement!r}")
        compiled = statement.compile(dialect=dialect, column_keys=list(columns))
        if not isinstance(compiled, SQLCompiler):
            raise NotImplementedError(f"not compiled to SQL: {statement!r}")
        self.sql = compiled.string
        self.positional = bool(dialect.positional)
        binds = compiled.binds
        names = list(compiled.positiontup or []) if self.positional else list(binds)
        self.names = names
        #: (parameter index, its column processor), for the parameters that have a processor.
        self.converters: list[tuple[int, _Column]] = []
        for i, name in enumerate(names):
            converter = _Column(dialect, binds[name].type, epoch_ms=epoch_ms)
            if converter.process is not None:
                self.converters.append((i, converter))
        given = set(columns)
        self.defaults: dict[str, Any] = {}
        for column in compiled.insert_prefetch:
            default = column.default
            if column.key in given:
                continue
            if default is None or not (default.is_scalar or default.is_callable):
                raise NotImplementedError(f"{column}: default {default!r}")
            self.defaults[column.key] = default
        self.getters = [itemgetter(name) for name in names]

    def _columns(self, rows: Sequence[Row]) -> list[list[Any]]:
        """The parameters' values of ``rows``, one list per parameter (``names`` order), the
        Python-side defaults filled in (a callable one called once per row)."""
        columns: list[list[Any]] = []
        defaults = self.defaults
        for name, getter in zip(self.names, self.getters, strict=True):
            default = defaults.get(name) if defaults else None
            if default is None:
                columns.append(list(map(getter, rows)))
            elif default.is_scalar:
                columns.append([default.arg] * len(rows))
            else:
                columns.append([default.arg(None) for _ in rows])
        return columns

    def column_params(self, columns: list[list[Any]], n: int) -> list[Any]:
        """The driver's parameter sets (tuples, or dicts for named paramstyles) of ``n`` rows
        given as ``columns`` (one list of ``n`` values per parameter, ``names`` order; the lists
        may be replaced). A value a processor refuses raises
        :class:`~sqlalchemy.exc.StatementError`."""
        return self.rows_of(self.convert_columns(columns), n)

    def convert_columns(self, columns: list[list[Any]]) -> list[list[Any]]:
        """``columns`` (one list of values per parameter, ``names`` order) with each processed
        as the driver takes it (the lists may be replaced; returned). A value a processor
        refuses raises :class:`~sqlalchemy.exc.StatementError`."""
        try:
            for i, converter in self.converters:
                columns[i] = converter.convert(columns[i])
        except (TypeError, ValueError) as exc:
            raise StatementError(f"({type(exc).__name__}) {exc}", self.sql, None, exc) from exc
        return columns

    def rows_of(self, columns: list[list[Any]], n: int) -> list[Any]:
        """The driver's parameter sets of ``n`` rows given as converted ``columns``."""
        if not columns:
            return [() if self.positional else {} for _ in range(n)]
        params: list[Any] = list(zip(*columns, strict=True))
        if not self.positional:
            names = self.names
            params = [dict(zip(names, p, strict=True)) for p in params]
        return params

    def params_of(self, rows: Sequence[Row]) -> list[Any]:
        """The driver's parameter sets for ``rows`` (dicts keyed by column name, all with this
        statement's columns): tuples, or dicts for named paramstyles. Raises
        :class:`~sqlalchemy.exc.StatementError` for a value a processor refuses."""
        return self.column_params(self._columns(rows), len(rows))

    def params(self, row: Mapping[str, Any]) -> Any:
        """The driver's parameters for one ``row`` (see :meth:`params_of`)."""
        return self.params_of([row])[0]

    def execute(self, conn: Connection, rows: Sequence[Row]) -> None:
        """Run the statement once per row of ``rows`` (one ``executemany``)."""
        conn.exec_driver_sql(self.sql, self.params_of(rows))


def dialect_cache(dialect: Dialect, name: str) -> dict[Any, Any]:
    """The cache called ``name`` of ``dialect``: a dict kept on the dialect object itself, so it
    lives exactly as long as the engine's dialect (statements compiled for it, its columns'
    processors).

    Not a ``WeakKeyDictionary`` keyed by the dialect: what is cached (a
    :class:`DriverStatement`, the processors' closures) refers to the dialect, so the weak key
    never died — every engine ever created stayed in memory with everything compiled for it
    (~9,000 objects for a contacts + attendance sync; a test run grew past 1 GB, and
    ``sync --corp … --every`` opens an engine per run)."""
    caches: dict[str, dict[Any, Any]] | None = dialect.__dict__.get("_dingsync_caches")
    if caches is None:
        caches = dialect.__dict__.setdefault("_dingsync_caches", {})
    found = caches.get(name)
    if found is None:
        found = caches.setdefault(name, {})
    return found


def _driver_statement(
    dialect: Dialect, statement: Executable, columns: tuple[str, ...]
) -> DriverStatement | None:
    """The driver statement of (``statement``, row ``columns``) for ``dialect``, built once;
    ``None`` when SQLAlchemy's own path is needed (a default computed in SQL, a dialect that
    cannot say its parameter order)."""
    per_dialect = dialect_cache(dialect, "driver")
    key = (statement, columns)
    if key not in per_dialect:
        try:
            per_dialect[key] = DriverStatement(dialect, statement, columns)
        except NotImplementedError:
            per_dialect[key] = None
    found: DriverStatement | None = per_dialect[key]
    return found


# --------------------------------------------------------------------------------------------
# Upsert of rows given as tuples
# --------------------------------------------------------------------------------------------
class TupleUpsert:
    """:func:`upsert` for rows given as tuples in a fixed column order, for the hot writers
    (attendance results, punches, schedules: ~100 rows per DingTalk call).

    Same statement, same outcome as :func:`upsert` with the same rows as dicts (rows with the
    same key: the last wins; written in key order; ``created_at``/``updated_at``/``synced_at``
    set to now where the table has them and ``columns`` do not), but no dict per row: the
    columns go straight to the :class:`DriverStatement`'s column processors (:class:`_Column`,
    as for every writer), and a ``UTCDateTime`` column also takes DingTalk's epoch ms
    (``int``) — on SQLite formatted arithmetically. A value a processor
    refuses raises :class:`~sqlalchemy.exc.StatementError`, as :class:`DriverStatement` does.
    Raises ``NotImplementedError`` where the statement cannot be run this way (use
    :func:`upsert`)."""

    __slots__ = ("arrays", "columns", "driver", "key_index", "names", "order", "stamps", "table")

    #: Whether PostgreSQL takes the rows as column arrays (:attr:`arrays`); ``False`` sends one
    #: parameter set per row through ``executemany`` (benchmarks and tests compare the two).
    ARRAYS = True

    def __init__(
        self, dialect: Dialect, table: Table, columns: Sequence[str], key_columns: Sequence[str]
    ) -> None:
        known = _columns_of(table)
        unknown = [c for c in (*columns, *key_columns) if c not in known]
        if unknown or len(set(columns)) != len(columns):
            raise ValueError(f"{table.name}: bad column(s) {unknown or list(columns)}")
        if not key_columns or any(k not in columns for k in key_columns):
            raise ValueError(f"{table.name}: key columns {list(key_columns)} not in the rows")
        self.table = table
        self.columns = tuple(columns)
        self.stamps = [c for c in ("created_at", "updated_at", "synced_at") if c in known]
        self.stamps = [c for c in self.stamps if c not in columns]
        written = (*self.columns, *self.stamps)
        targets = [c for c in written if c not in key_columns and c != "created_at"]
        statement = upsert_statement(dialect, table, key_columns, targets)
        self.driver = DriverStatement(dialect, statement, sorted(written), epoch_ms=True)
        if self.driver.defaults:
            raise NotImplementedError(f"{table.name}: defaults {self.driver.defaults}")
        if any(name not in written for name in self.driver.names):
            raise NotImplementedError(f"{table.name}: parameters {self.driver.names}")
        self.names = list(self.driver.names)
        self.order = [written.index(name) for name in self.names]
        self.key_index = [self.columns.index(k) for k in key_columns]
        #: PostgreSQL: the statement that writes many rows at once (:func:`_array_sql`).
        self.arrays = (
            _array_sql(dialect, table, self.driver) if dialect.name == "postgresql" else None
        )

    def execute(self, conn: Connection, rows: Iterable[Sequence[Any]]) -> int:
        """Upsert ``rows`` (tuples in ``columns`` order); returns the distinct rows written."""
        width = len(self.columns)
        rows = rows if rows.__class__ is list else list(rows)
        if any(map(width.__ne__, map(len, rows))):
            bad = next(row for row in rows if len(row) != width)
            raise ValueError(f"{self.table.name}: a row of {len(bad)} values, not {width}")
        key_of = itemgetter(*self.key_index)
        # The last row of each key wins (dict keeps the last value, at the first one's place).
        by_key: dict[Any, Sequence[Any]] = dict(zip(map(key_of, rows), rows, strict=True))
        if not by_key:
            return 0
        keys = list(by_key)
        if None in by_key or (
            len(self.key_index) > 1 and any(map(operator.contains, keys, repeat(None)))
        ):
            for key in keys:
                if key is None or (key.__class__ is tuple and None in key):
                    raise ValueError(f"{self.table.name}: row without a key: {by_key[key]!r}")
        try:
            keys.sort()
        except TypeError:  # keys of mixed types: keep the given order
            pass
        ordered = list(map(by_key.__getitem__, keys))
        now = utcnow()
        n = len(ordered)
        given = list(zip(*ordered, strict=True)) if ordered else []
        columns: list[list[Any]] = [list(c) for c in given] + [[now] * n for _ in self.stamps]
        self._write(conn, [columns[i] for i in self.order], n)
        return n

    def _write(self, conn: Connection, columns: list[list[Any]], n: int) -> None:
        """Write ``n`` rows given as ``columns`` (``names`` order, not converted yet)."""
        driver = self.driver
        columns = driver.convert_columns(columns)
        step = MAX_ROWS_PER_STATEMENT
        if self.arrays is not None and self.ARRAYS and all(map(_one_class, columns)):
            # PostgreSQL: one statement per ``step`` rows, each column one array parameter.
            names = self.names
            for start in range(0, n, step):
                end = start + step
                arrays = {name: c[start:end] for name, c in zip(names, columns, strict=True)}
                conn.exec_driver_sql(self.arrays, arrays)
            return
        params = driver.rows_of(columns, n)
        for start in range(0, n, step):
            conn.exec_driver_sql(driver.sql, params[start : start + step])


_NONE = type(None)


def _one_class(values: list[Any]) -> bool:
    """Whether ``values`` hold one class of value besides ``None`` (psycopg dumps a list of
    mixed classes — ``int`` and ``str``, ``bool`` and ``int`` — as no array)."""
    classes = set(map(type, values))
    classes.discard(_NONE)
    return len(classes) <= 1


def _array_sql(dialect: Dialect, table: Table, driver: DriverStatement) -> str | None:
    """PostgreSQL: ``driver``'s one-row ``INSERT … VALUES (%(a)s::A, …) ON CONFLICT …`` as one
    statement for many rows, each column an array — ``INSERT … SELECT * FROM unnest(%(a)s::A[],
    …) AS v ON CONFLICT …``: same columns, the casts SQLAlchemy renders for one row (the
    column's type where it renders none: ``BOOLEAN``, ``FLOAT``), same conflict clause.
    ``None`` when the statement is not of that exact shape."""
    sql, names = driver.sql, driver.names
    if driver.positional or not names:
        return None
    head, sep, rest = sql.partition(") VALUES (")
    if not sep or not head.startswith("INSERT INTO "):
        return None
    values, sep, tail = rest.partition(") ON CONFLICT ")
    if not sep:
        return None
    casts: list[str] = []
    for i, name in enumerate(names):
        marker = f"%({name})s"
        if not values.startswith(marker):
            return None
        values = values[len(marker) :]
        following = f", %({names[i + 1]})s" if i + 1 < len(names) else None
        if following is None:
            value, values = values, ""
        else:
            value, sep, values = values.partition(following)
            if not sep:
                return None
            values = following[2:] + values
        if value.startswith("::"):
            cast = value[2:]
        elif not value and name in table.c:
            cast = table.c[name].type.compile(dialect=dialect)
        else:
            return None
        # Only plain type names (``VARCHAR``, ``TIMESTAMP WITH TIME ZONE``): an array of a
        # sized type (``VARCHAR(64)[]``) would cut long values where the column refuses them.
        if not cast or not all(part.isalpha() for part in cast.split(" ")):
            return None
        casts.append(cast)
    arrays = ", ".join(f"%({name})b::{cast}[]" for name, cast in zip(names, casts, strict=True))
    return f"{head}) SELECT * FROM unnest({arrays}) AS v ON CONFLICT {tail}"


#: PostgreSQL: rows written since the last :func:`analyze_when_grown` of a table, and the
#: table's size then (``pg_class.reltuples``), per engine and table name.
_GROWTH: weakref.WeakKeyDictionary[Any, dict[str, list[float]]] = weakref.WeakKeyDictionary()

#: Rows written to a table before :func:`analyze_when_grown` first considers it.
ANALYZE_MIN_ROWS = 5_000


def analyze_when_grown(
    conn: Connection, table: Table, rows: int, columns: Sequence[str] | None = None
) -> None:
    """PostgreSQL: count ``rows`` about to be written to ``table`` and ``ANALYZE`` its
    ``columns`` (``None``: all of them) once the rows written by this process since the last
    time reach the table's size then (at least :data:`ANALYZE_MIN_ROWS`): the table doubled. A
    no-op elsewhere. :func:`upsert` and :func:`insert_rows` call it for every table they write
    (all columns); the attendance writers with their window's columns.

    Why: a first sync fills the attendance tables in minutes, and autovacuum's statistics lag
    (a table never analyzed has none). With none, the planner takes the window's ``DELETE``
    (``userid IN (…) AND work_date BETWEEN …``) through the ``(corp_id, work_date)`` index and
    reads every person's rows of the window, not the chunk's 50 people's — on 2,000 people half
    the writer's time (branch ``pgatt19``). Foreign keys suffer the same way: PostgreSQL plans
    a foreign key's check once per connection, so one planned while the parent table was
    nearly empty (a sequential scan) stays in use as the table grows — on a first directory
    sync of 20,000 people each ``user_departments`` row's check of ``users`` came to cost
    ~3 ms, the writer fell ~17 s behind the calls, wall ÷ bound 1.29. ``ANALYZE`` gives the
    table statistics and invalidates the cached plans. It samples at most 30,000 rows; doubling
    keeps it to a few per table and run. Without the right to analyze the table, PostgreSQL
    skips it with a warning."""
    if conn.dialect.name != "postgresql" or rows <= 0:
        return
    per_engine = _GROWTH.get(conn.engine)
    if per_engine is None:
        per_engine = _GROWTH[conn.engine] = {}
    name = table.name
    seen = per_engine.get(name)
    if seen is None:
        size = conn.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%(t)s)", {"t": name}
        ).scalar()
        seen = per_engine[name] = [0.0, max(0.0, float(size or 0.0))]
    seen[0] += rows
    if seen[0] < max(ANALYZE_MIN_ROWS, seen[1]):
        return
    quote = conn.dialect.identifier_preparer.quote
    listed = f" ({', '.join(map(quote, columns))})" if columns else ""
    conn.exec_driver_sql(f"ANALYZE {quote(name)}{listed}")
    size = conn.exec_driver_sql(
        "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%(t)s)", {"t": name}
    ).scalar()
    seen[0], seen[1] = 0.0, max(0.0, float(size or 0.0))


def upsert_tuples(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    key_columns: Sequence[str],
) -> int:
    """:func:`upsert` of ``rows`` given as tuples in ``columns`` order (see
    :class:`TupleUpsert`; built once per dialect, table, columns and keys). Every column is
    written on insert and update but the keys (and ``created_at``). Returns the distinct rows
    written; ``ValueError`` for unknown columns, a row of another width or a row without a key."""
    per_dialect = dialect_cache(conn.dialect, "tuple_upserts")
    cache_key = (table, tuple(columns), tuple(key_columns))
    writer = per_dialect.get(cache_key)
    if writer is None:
        writer = per_dialect[cache_key] = TupleUpsert(conn.dialect, table, columns, key_columns)
    return writer.execute(conn, rows)


#: Plain ``INSERT`` statements by table (:func:`insert_rows`), built once.
_INSERTS: dict[Table, Executable] = {}


def insert_rows(conn: Connection, table: Table, rows: Iterable[Row]) -> int:
    """Insert ``rows`` (dicts keyed by column name) into ``table`` with a plain ``INSERT``.

    For the per-parent lists that are replaced (deleted by :func:`delete_in`, then inserted):
    report contents and receivers, approval children. The statement is compiled once per
    (dialect, table, row columns) and run with the driver's ``executemany``
    (:class:`DriverStatement`), in chunks of :data:`MAX_ROWS_PER_STATEMENT`, in the rows'
    order; rows with another column set go through a statement of their own. Errors are
    SQLAlchemy's: a key already stored raises :class:`sqlalchemy.exc.IntegrityError`, a value a
    column's processor refuses :class:`sqlalchemy.exc.StatementError`, an unknown column
    :class:`sqlalchemy.exc.CompileError`. Returns the number of rows given.
    """
    statement = _INSERTS.get(table)
    if statement is None:
        statement = _INSERTS[table] = insert(table)
    groups: dict[tuple[str, ...], list[Row]] = {}
    n = 0
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
        n += 1
    analyze_when_grown(conn, table, n)
    for columns, group in groups.items():
        driver = _driver_statement(conn.dialect, statement, columns)
        for chunk in _batched(group, MAX_ROWS_PER_STATEMENT):
            if driver is None:
                conn.execute(statement, list(chunk))
            else:
                driver.execute(conn, chunk)
    return n


#: ``DELETE … WHERE corp_id = :b_corp_id AND <column> IN (:b_values)`` by (table, column).
_DELETES_IN: dict[tuple[Table, str], Executable] = {}


def delete_in(
    conn: Connection, table: Table, corp_id: str, column: str, values: Sequence[Any]
) -> None:
    """Delete the rows of ``corp_id`` in ``table`` whose ``column`` is one of ``values`` (e.g.
    the children of the parents about to be rewritten). The statement is built once with bind
    parameters (an expanding ``IN``); ``values`` are cut to fit the dialect's parameter limit."""
    key = (table, column)
    statement = _DELETES_IN.get(key)
    if statement is None:
        statement = _DELETES_IN[key] = delete(table).where(
            table.c.corp_id == bindparam("b_corp_id"),
            table.c[column].in_(bindparam("b_values", expanding=True)),
        )
    for chunk in _in_chunks(conn, values):
        conn.execute(statement, {"b_corp_id": corp_id, "b_values": list(chunk)})


#: The comparisons :func:`delete_in_window` takes, by their SQL operator.
_WINDOW_OPS: dict[str, Any] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def delete_in_window(
    conn: Connection,
    table: Table,
    corp_id: str,
    column: str,
    values: Sequence[Any],
    *bounds: tuple[str, str, Any],
) -> None:
    """``DELETE FROM table WHERE corp_id = :corp AND column IN (values) AND b1 op1 :v1 AND …``
    for ``bounds`` given as ``(column, operator, value)`` (``<``, ``<=``, ``>``, ``>=``): the
    rows of a window about to be rewritten (an attendance chunk's people and work dates).

    The same statement :func:`~sqlalchemy.delete` builds with those conditions, compiled once
    per dialect, table, shape and number of values (one bind parameter per value, each of the
    column's type) and run through the driver with the columns' own bind processors
    (:class:`DriverStatement`): SQLAlchemy's construction, cache-key and expanding-``IN``
    work per call was ~0.4 ms of CPU, ten times SQLite's own for a 50-person window. ``values``
    are cut to fit the dialect's parameter limit."""
    # (statement, driver statement or None) by table, column, bounds and number of values
    per_dialect = dialect_cache(conn.dialect, "deletes_in_window")
    shape = tuple((name, op) for name, op, _ in bounds)
    fixed = {f"w_b{i}": value for i, (_, _, value) in enumerate(bounds)}
    for chunk in _in_chunks(conn, values):
        n = len(chunk)
        key = (table, column, shape, n)
        found = per_dialect.get(key)
        if found is None:
            target = table.c[column]
            statement: Executable = delete(table).where(
                table.c.corp_id == bindparam("w_corp", type_=table.c.corp_id.type),
                target.in_([bindparam(f"w_in{i}", type_=target.type) for i in range(n)]),
                *(
                    _WINDOW_OPS[op](table.c[name], bindparam(f"w_b{i}", type_=table.c[name].type))
                    for i, (name, op) in enumerate(shape)
                ),
            )
            driver: DriverStatement | None
            try:
                driver = DriverStatement(conn.dialect, statement, ())
            except NotImplementedError:
                driver = None
            found = per_dialect[key] = (statement, driver)
        statement, driver = found
        params = {"w_corp": corp_id, **fixed}
        params.update((f"w_in{i}", value) for i, value in enumerate(chunk))
        if driver is None:
            conn.execute(statement, params)
        else:
            driver.execute(conn, [params])


def _for_corp(
    corp_id: str, rows: Iterable[Row], *, copy: bool = True, **fixed: Any
) -> list[dict[str, Any]]:
    """Copies of ``rows`` with ``corp_id`` (and ``fixed`` columns) filled in; a row that says
    otherwise is a caller bug and raises ``ValueError``. ``copy=False``: the rows themselves,
    filled in place (dicts the caller made for this write)."""
    expected = {"corp_id": corp_id, **fixed}
    out: list[dict[str, Any]] = []
    for source in rows:
        row = dict(source) if copy or not isinstance(source, dict) else source
        for column, value in expected.items():
            given = row.setdefault(column, value)
            if given != value:
                raise ValueError(f"row has {column}={given!r}, this call is for {value!r}")
        out.append(row)
    return out


def _in_chunks(conn: Connection, values: Sequence[T]) -> Iterator[Sequence[T]]:
    """``values`` cut to fit an ``IN (…)`` list with room for a few other parameters."""
    return _batched(values, max(1, min(MAX_ROWS_PER_STATEMENT, max_bind_params(conn.dialect) - 8)))


# --------------------------------------------------------------------------------------------
# Directory
# --------------------------------------------------------------------------------------------
def upsert_corp(conn: Connection, corp: Row) -> None:
    """Insert or update one ``corps`` row (``corp_id`` required; other columns optional and
    left as they are when not given)."""
    upsert(conn, corps, [corp], ["corp_id"])


def upsert_departments(conn: Connection, corp_id: str, rows: Iterable[Row]) -> int:
    """Insert or update ``departments`` rows of ``corp_id`` (key ``dept_id``).

    A row normally carries ``status='active'`` and ``last_seen_run_id`` (the run that saw it),
    which is what :func:`mark_unseen` looks at. Returns the number of rows written.
    """
    return upsert(conn, departments, _for_corp(corp_id, rows), ["corp_id", "dept_id"])


def upsert_users(
    conn: Connection,
    corp_id: str,
    rows: Iterable[Row],
    *,
    conflicts: list[dict[str, str]] | None = None,
) -> int:
    """Insert or update ``users`` rows of ``corp_id`` (key ``userid``).

    ``hired_date`` is an aware datetime (``from_ms`` of DingTalk's ms). A row with
    ``status='active'`` and no ``left_at`` clears ``left_at``/``leave_reason`` (the person is in
    the directory again). ``local_disabled`` is never touched unless a row gives it. Unionids
    are made way for first (:func:`release_unionids`); ``conflicts``, when given, is set to the
    conflicts found. Returns the number of rows written.
    """
    return _upsert_users(conn, corp_id, _for_corp(corp_id, rows), conflicts)


def _upsert_users(
    conn: Connection,
    corp_id: str,
    prepared: list[dict[str, Any]],
    conflicts: list[dict[str, str]] | None,
) -> int:
    """:func:`upsert_users` of ``prepared``: rows of ``corp_id`` the caller made for this write
    (changed in place)."""
    for row in prepared:
        if row.get("status") == "active" and "left_at" not in row:
            row["left_at"] = None
            row.setdefault("leave_reason", None)
    found = release_unionids(conn, corp_id, prepared)
    if conflicts is not None:
        conflicts[:] = found
    latest: dict[str, dict[str, Any]] = {}
    for row in prepared:  # the last row of a person wins (as in upsert)
        latest.pop(row["userid"], None)
        latest[row["userid"]] = row
        row["content_hash"], raw = _user_digest(row)
        if raw is not None:
            row["raw"] = raw
    stored: dict[str, str | None] = {}
    for chunk in _in_chunks(conn, sorted(latest)):
        stored.update(conn.execute(_USER_HASHES, {"corp_id": corp_id, "userids": chunk}).all())
    changed = [r for r in latest.values() if stored.get(r["userid"]) != r["content_hash"]]
    same = [r for r in latest.values() if stored.get(r["userid"]) == r["content_hash"]]
    _touch_users(conn, corp_id, same)
    upsert(conn, users, changed, ["corp_id", "userid"])
    return len(latest)


#: Columns :func:`content_hash` leaves out: when the row was written, not what it says.
_UNHASHED = frozenset({"content_hash", "synced_at", "last_seen_run_id", "created_at", "updated_at"})


def content_hash(row: Mapping[str, Any]) -> str:
    """A digest (32 hex characters) of a ``users`` row's columns but ``synced_at``,
    ``last_seen_run_id`` (and ``content_hash``): equal digests, same columns with the same
    values. Stored by :func:`upsert_users` in ``users.content_hash``."""
    return _user_digest(row)[0]


def _user_digest(row: Mapping[str, Any]) -> tuple[str, DumpedJSON | None]:
    """:func:`content_hash` of ``row``, and its ``raw`` as a :class:`DumpedJSON` holding the
    text the digest was taken over (``None`` when ``raw`` is not a ``dict`` or orjson refused
    it: the column dumps it itself then).

    The digest is blake2b over the other columns' JSON (keys sorted) and ``raw``'s orjson text
    as the column stores it (keys in the payload's order: the same person's payload in another
    key order only rewrites the row, a change never goes unseen). Branch ``dir20`` changed the
    formula (it dumped ``raw`` inside the sorted row before): after the upgrade every person is
    rewritten once by the next sync, then skipped again while unchanged."""
    content = {k: v for k, v in row.items() if k not in _UNHASHED and k != "raw"}
    raw = row.get("raw")
    try:
        data = orjson.dumps(content, default=str, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):  # an int beyond 64 bits, a non-string key
        data = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str).encode()
    dumped: DumpedJSON | None = None
    try:
        text = orjson.dumps(raw)
    except (TypeError, orjson.JSONEncodeError):
        text = json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str).encode()
    else:
        if raw.__class__ is dict:
            dumped = DumpedJSON(raw, text.decode())
    return hashlib.blake2b(data + b"\n" + text, digest_size=16).hexdigest(), dumped


#: Stamps unchanged people as seen (:func:`_touch_users`), built once.
_TOUCH_USERS = (
    update(users)
    .where(
        users.c.corp_id == bindparam("b_corp_id"),
        users.c.userid.in_(bindparam("b_userids", expanding=True)),
    )
    .values(synced_at=bindparam("b_synced_at"))
)
_TOUCH_USERS_SEEN = _TOUCH_USERS.values(last_seen_run_id=bindparam("b_run_id"))


def _touch_users(conn: Connection, corp_id: str, rows: Sequence[Row]) -> None:
    """Stamp unchanged ``users`` rows as seen: ``synced_at`` now (the latest of the rows'),
    ``last_seen_run_id`` where the row gives one; one ``UPDATE … IN (…)`` per run id."""
    groups: dict[Any, list[str]] = {}
    synced_at = utcnow()
    for row in rows:
        groups.setdefault(row.get("last_seen_run_id"), []).append(row["userid"])
        stamp = row.get("synced_at")
        if stamp is not None and stamp > synced_at:
            synced_at = stamp
    for run_id, userids in groups.items():
        statement = _TOUCH_USERS if run_id is None else _TOUCH_USERS_SEEN
        for chunk in _in_chunks(conn, userids):
            params = {"b_corp_id": corp_id, "b_userids": chunk, "b_synced_at": synced_at}
            conn.execute(statement, {**params, "b_run_id": run_id})


#: Statements run once per unit of a sync, built once (building a ``select`` and its cache key
#: costs more than running it on a small batch).
_UNIONID_HOLDERS = select(users.c.userid, users.c.unionid).where(
    users.c.corp_id == bindparam("corp_id"),
    users.c.unionid.in_(bindparam("unionids", expanding=True)),
)
_USER_HASHES = select(users.c.userid, users.c.content_hash).where(
    users.c.corp_id == bindparam("corp_id"),
    users.c.userid.in_(bindparam("userids", expanding=True)),
)
_DEPT_MEMBER_IDS = select(user_departments.c.userid).where(
    user_departments.c.corp_id == bindparam("corp_id"),
    user_departments.c.dept_id == bindparam("dept_id"),
)


def release_unionids(
    conn: Connection, corp_id: str, rows: list[dict[str, Any]]
) -> list[dict[str, str]]:
    """Make way for ``rows`` (``users`` dicts about to be upserted) under the unique
    ``(corp_id, unionid)`` index: a unionid is one person per company.

    The newer row wins: the last of ``rows`` carrying a unionid keeps it. An earlier row of
    ``rows``, or a stored row, of another userid with the same unionid is *marked*, never
    silently duplicated: its ``unionid`` becomes NULL and the unionid moves to
    ``unionid_conflict`` (rows of ``rows`` are changed in place; stored rows are updated now).
    A row of ``rows`` that keeps its unionid has ``unionid_conflict`` cleared (it won). Each
    conflict is logged as a warning. Returns them as
    ``{"unionid", "userid" (the winner), "older_userid"}``.
    """
    winner: dict[str, str] = {}
    for row in rows:
        if row.get("unionid"):
            winner[str(row["unionid"])] = str(row["userid"])
    conflicts: list[dict[str, str]] = []
    for row in rows:
        unionid = row.get("unionid")
        if not unionid:
            continue
        if winner[unionid] != row["userid"]:
            row["unionid"], row["unionid_conflict"] = None, unionid
            conflicts.append(
                {"unionid": unionid, "userid": winner[unionid], "older_userid": row["userid"]}
            )
        else:
            row["unionid_conflict"] = None
    for chunk in _in_chunks(conn, sorted(winner)):
        stored = conn.execute(_UNIONID_HOLDERS, {"corp_id": corp_id, "unionids": chunk}).all()
        for userid, unionid in stored:
            if userid == winner[unionid]:
                continue
            conn.execute(
                update(users)
                .where(users.c.corp_id == corp_id, users.c.userid == userid)
                .values(unionid=None, unionid_conflict=unionid, content_hash=None)
            )
            conflicts.append(
                {"unionid": unionid, "userid": winner[unionid], "older_userid": userid}
            )
    for c in conflicts:
        log.warning(
            "unionid conflict in %s: %s now belongs to %s; %s keeps it as unionid_conflict",
            corp_id,
            c["unionid"],
            c["userid"],
            c["older_userid"],
        )
    return conflicts


def keep_former_memberships(conn: Connection, corp_id: str, *where: Any) -> int:
    """Copy the ``user_departments`` rows of ``corp_id`` matching ``where`` (about to be deleted)
    into ``former_memberships``, stamped ``removed_at`` now. A person who is not active counts
    in their former departments (:func:`dingsync.store.visibility.members_in`), so a leaver's
    attendance, reports and approvals stay in the views picked by department. Call it before
    every delete of memberships. Returns the number of rows kept."""
    ud = user_departments
    rows = [
        {**dict(r), "corp_id": corp_id, "removed_at": utcnow()}
        for r in conn.execute(
            select(ud.c.userid, ud.c.dept_id, ud.c.dept_order, ud.c.is_leader).where(
                ud.c.corp_id == corp_id, *where
            )
        ).mappings()
    ]
    return upsert(conn, former_memberships, rows, ["corp_id", "userid", "dept_id"])


def replace_department_members(
    conn: Connection, corp_id: str, dept_id: int, rows: Iterable[Row]
) -> int:
    """Make ``rows`` the complete membership of department ``dept_id``.

    ``rows``: ``user_departments`` dicts (``userid``, ``dept_order``, ``is_leader``, optional
    ``synced_at``); ``corp_id``/``dept_id`` are filled in. The users must exist (foreign key).
    Memberships of this department not in ``rows`` are deleted (and kept in
    ``former_memberships``); other departments' are not touched. Returns the number of
    memberships removed.
    """
    prepared = _for_corp(corp_id, rows, dept_id=dept_id)
    upsert(conn, user_departments, prepared, ["corp_id", "userid", "dept_id"])
    keep = {r["userid"] for r in prepared}
    existing = conn.execute(_DEPT_MEMBER_IDS, {"corp_id": corp_id, "dept_id": dept_id}).scalars()
    stale = sorted(set(existing) - keep)
    removed = 0
    for chunk in _in_chunks(conn, stale):
        keep_former_memberships(
            conn,
            corp_id,
            user_departments.c.dept_id == dept_id,
            user_departments.c.userid.in_(chunk),
        )
        removed += conn.execute(
            delete(user_departments).where(
                user_departments.c.corp_id == corp_id,
                user_departments.c.dept_id == dept_id,
                user_departments.c.userid.in_(chunk),
            )
        ).rowcount
    return removed


_MEMBERS_OF_DEPTS = select(
    user_departments.c.userid,
    user_departments.c.dept_id,
    user_departments.c.dept_order,
    user_departments.c.is_leader,
).where(
    user_departments.c.corp_id == bindparam("corp_id"),
    user_departments.c.dept_id.in_(bindparam("dept_ids", expanding=True)),
)


class DirectoryBatch:
    """The directory rows of several sync units, written with one statement per table.

    A full walk commits a unit per department (its row) and per member list (the people and
    that department's memberships); a write batch of the sync engine holds several of them in
    one transaction. Written one unit at a time, each costs five statements or so; gathered
    here, :meth:`flush` writes them all with the same outcome as the units one after another:
    departments upserted, people upserted after making way for their unionids (a later row
    wins, as in :func:`release_unionids`; rows of one person merged, later columns winning),
    each listed department's memberships made exactly its rows (as
    :func:`replace_department_members`; a membership stored with the same order and leader
    flag is left as it is). ``conflicts`` lists given to :meth:`add_members` get
    the unionid conflicts whose winning row they brought.
    """

    def __init__(self, corp_id: str) -> None:
        self.corp_id = corp_id
        self.departments: list[Row] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.members: dict[int, list[Row]] = {}
        self._conflicts: dict[str, list[dict[str, str]]] = {}

    def add_department(self, row: Row) -> None:
        """Queue a ``departments`` row (as :func:`upsert_departments`)."""
        self.departments.append(row)

    def add_members(
        self,
        dept_id: int,
        user_rows: Iterable[Row],
        memberships: Iterable[Row],
        conflicts: list[dict[str, str]] | None = None,
    ) -> None:
        """Queue a department's member list: ``users`` rows (as :func:`upsert_users`) and the
        department's complete memberships (as :func:`replace_department_members`)."""
        for row in user_rows:
            userid = str(row["userid"])
            merged = self.users.pop(userid, None)
            self.users[userid] = {**merged, **row} if merged else dict(row)
            if conflicts is not None:
                self._conflicts[userid] = conflicts
        self.members[int(dept_id)] = list(memberships)

    def flush(self, conn: Connection) -> None:
        """Write what is queued (inside the caller's transaction) and empty the batch."""
        corp_id = self.corp_id
        if self.departments:
            upsert_departments(conn, corp_id, self.departments)
        if self.users:
            found: list[dict[str, str]] = []
            # The batch's own copies (add_members): filled in place, not copied again.
            prepared = _for_corp(corp_id, self.users.values(), copy=False)
            _upsert_users(conn, corp_id, prepared, found)
            for conflict in found:
                owner = self._conflicts.get(conflict["userid"])
                if owner is not None:
                    owner.append(conflict)
        if self.members:
            self._replace_members(conn)
        self.departments, self.users, self.members, self._conflicts = [], {}, {}, {}

    def _replace_members(self, conn: Connection) -> None:
        corp_id = self.corp_id
        rows = [
            {**r, "corp_id": corp_id, "dept_id": dept_id}
            for dept_id, given in self.members.items()
            for r in given
        ]
        stored: dict[tuple[str, int], tuple[Any, bool]] = {}
        for chunk in _in_chunks(conn, sorted(self.members)):
            for userid, dept_id, order, leader in conn.execute(
                _MEMBERS_OF_DEPTS, {"corp_id": corp_id, "dept_ids": chunk}
            ):
                stored[(userid, int(dept_id))] = (order, bool(leader))
        # A membership stored with the same order and leader flag is not written again (its
        # synced_at says when it last changed).
        changed = [
            r
            for r in rows
            if stored.get((r["userid"], r["dept_id"]))
            != (r.get("dept_order"), bool(r.get("is_leader", False)))
        ]
        upsert(conn, user_departments, changed, ["corp_id", "userid", "dept_id"])
        keep = {(r["userid"], r["dept_id"]) for r in rows}
        stale: dict[int, list[str]] = {}
        for userid, dept_id in stored:
            if (userid, dept_id) not in keep:
                stale.setdefault(dept_id, []).append(userid)
        for dept_id, userids in sorted(stale.items()):
            for part in _in_chunks(conn, sorted(userids)):
                where = (user_departments.c.dept_id == dept_id, user_departments.c.userid.in_(part))
                keep_former_memberships(conn, corp_id, *where)
                conn.execute(
                    delete(user_departments).where(user_departments.c.corp_id == corp_id, *where)
                )


def replace_admins(
    conn: Connection,
    corp_id: str,
    admin_rows: Iterable[Row],
    scopes: Mapping[str, Iterable[int]],
) -> None:
    """Make ``admin_rows`` and ``scopes`` the complete administrator list of ``corp_id``.

    - ``admin_rows``: ``admins`` dicts (``userid``, ``sys_level`` 1 main / 2 sub, ``raw``,
      optional ``synced_at``); administrators not listed are deleted with their scopes.
    - ``scopes``: ``{userid: [dept_id, …]}`` — each sub-administrator's departments
      (``/topapi/user/get_admin_scope``). An administrator absent from it has no scope rows.
      A userid not among ``admin_rows`` raises ``ValueError``.
    """
    prepared = _for_corp(corp_id, admin_rows)
    listed = {r["userid"] for r in prepared}
    strangers = sorted(set(scopes) - listed)
    if strangers:
        raise ValueError(f"admin scopes for userids that are not administrators: {strangers}")
    upsert(conn, admins, prepared, ["corp_id", "userid"])

    wanted = {(userid, int(dept)) for userid, depts in scopes.items() for dept in depts}
    have = {
        (r.userid, int(r.dept_id))
        for r in conn.execute(
            select(admin_scopes.c.userid, admin_scopes.c.dept_id).where(
                admin_scopes.c.corp_id == corp_id
            )
        )
    }
    dropped: dict[str, list[int]] = {}
    for userid, dept in sorted(have - wanted):
        dropped.setdefault(userid, []).append(dept)
    for userid, depts in dropped.items():
        for chunk in _in_chunks(conn, depts):
            conn.execute(
                delete(admin_scopes).where(
                    admin_scopes.c.corp_id == corp_id,
                    admin_scopes.c.userid == userid,
                    admin_scopes.c.dept_id.in_(chunk),
                )
            )
    upsert(
        conn,
        admin_scopes,
        [{"corp_id": corp_id, "userid": u, "dept_id": d} for u, d in sorted(wanted - have)],
        ["corp_id", "userid", "dept_id"],
        update_columns=[],
    )

    gone = sorted(
        set(conn.execute(select(admins.c.userid).where(admins.c.corp_id == corp_id)).scalars())
        - listed
    )
    for chunk in _in_chunks(conn, gone):
        # Scopes first: SQLite enforces ON DELETE CASCADE only with foreign_keys=ON.
        conn.execute(
            delete(admin_scopes).where(
                admin_scopes.c.corp_id == corp_id, admin_scopes.c.userid.in_(chunk)
            )
        )
        conn.execute(delete(admins).where(admins.c.corp_id == corp_id, admins.c.userid.in_(chunk)))


def upsert_leavers(
    conn: Connection,
    corp_id: str,
    rows: Iterable[Row],
    *,
    seen_in_run: int | None = None,
    unless_active_since_leave: bool = False,
) -> int:
    """Insert or update departure records (``leavers``) and mark the people as gone.

    Each leaver whose dimission ``status`` is ``None`` or in :data:`DEPARTED_DIMISSION_STATUSES`
    and who has a ``users`` row gets ``status='left'``, ``left_at`` = ``leave_time`` (else
    ``last_work_day``) and ``leave_reason``. Nothing is ever deleted. With ``seen_in_run``, users
    whose ``last_seen_run_id`` is that run are left alone: the directory listed them in this
    very run, so they are (again) employed. With ``unless_active_since_leave``, active users
    whose row was written (``synced_at``) after the departure are left alone: the directory or
    an event showed them employed since, so they rejoined (``leave_time`` has second
    precision, ``last_work_day`` day precision: the departure counts from the end of that
    second or day). Returns the number of leaver rows
    written.
    """
    prepared = _for_corp(corp_id, rows)
    written = upsert(conn, leavers, prepared, ["corp_id", "userid"])
    userids = sorted({r["userid"] for r in prepared})
    match = and_(leavers.c.corp_id == users.c.corp_id, leavers.c.userid == users.c.userid)
    departed = exists().where(
        match,
        or_(leavers.c.status.is_(None), leavers.c.status.in_(DEPARTED_DIMISSION_STATUSES)),
    )
    left_at = (
        select(func.coalesce(leavers.c.leave_time, leavers.c.last_work_day))
        .where(match)
        .scalar_subquery()
    )
    reason = select(leavers.c.leave_reason).where(match).scalar_subquery()
    for chunk in _in_chunks(conn, userids):
        stmt = update(users).where(users.c.corp_id == corp_id, users.c.userid.in_(chunk), departed)
        if seen_in_run is not None:
            stmt = stmt.where(
                or_(users.c.last_seen_run_id.is_(None), users.c.last_seen_run_id != seen_in_run)
            )
        if unless_active_since_leave:
            rejoined = _rejoined_since_leave(conn, corp_id, chunk)
            if rejoined:
                stmt = stmt.where(users.c.userid.not_in(sorted(rejoined)))
        conn.execute(
            stmt.values(status="left", left_at=left_at, leave_reason=reason, content_hash=None)
        )
    return written


def _rejoined_since_leave(conn: Connection, corp_id: str, userids: Sequence[str]) -> set[str]:
    """Of ``userids``, the active users whose row was written after their departure."""
    out: set[str] = set()
    rows = conn.execute(
        select(users.c.userid, users.c.synced_at, leavers.c.leave_time, leavers.c.last_work_day)
        .join(
            leavers, and_(leavers.c.corp_id == users.c.corp_id, leavers.c.userid == users.c.userid)
        )
        .where(
            users.c.corp_id == corp_id,
            users.c.userid.in_(list(userids)),
            users.c.status == "active",
        )
    )
    for userid, synced_at, leave_time, last_work_day in rows:
        if leave_time is not None:
            departed = leave_time + timedelta(seconds=1)
        elif last_work_day is not None:
            departed = last_work_day + timedelta(days=1)
        else:
            continue
        if synced_at is not None and synced_at >= departed:
            out.add(userid)
    return out


def load_leaver_parts(
    conn: Connection, corp_id: str, userids: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Stored departure data per userid as fetched: ``{userid: {"record": {...}, "info":
    {...}, "event_time_ms": int | None}}`` (the ``raw`` of each ``leavers`` row; empty dicts
    where a part was never read; ``event_time_ms`` the epoch-ms time of the ``user_leave_org``
    event that stored it, if one did). ``userids`` limits it to those people."""
    out: dict[str, dict[str, Any]] = {}
    stmt = select(leavers.c.userid, leavers.c.raw).where(leavers.c.corp_id == corp_id)
    chunks: list[Sequence[str] | None] = (
        [None] if userids is None else list(_in_chunks(conn, sorted(set(userids))))
    )
    for chunk in chunks:
        query = stmt if chunk is None else stmt.where(leavers.c.userid.in_(chunk))
        for userid, raw in conn.execute(query):
            raw = raw if isinstance(raw, dict) else {}
            out[userid] = {
                "record": raw.get("record") or {},
                "info": raw.get("info") or {},
                "event_time_ms": raw.get("event_time_ms"),
            }
    return out


def mark_unseen(conn: Connection, corp_id: str, run_id: int) -> dict[str, int]:
    """After a complete directory walk by ``run_id``: what it did not see is gone from DingTalk.

    Active departments whose ``last_seen_run_id`` is not ``run_id`` become ``'removed'`` and
    their membership rows are deleted (kept in ``former_memberships``, see
    :func:`keep_former_memberships`); active users not seen become ``'inactive'`` (users marked
    ``'left'`` stay so); the former memberships of people still active are dropped (they
    moved). Department and user rows are never deleted. Only call it when the run
    walked the whole tree. Returns ``{"departments": n, "users": n, "memberships": n}`` (rows
    changed).
    """
    unseen_dept = or_(
        departments.c.last_seen_run_id.is_(None), departments.c.last_seen_run_id != run_id
    )
    removed = conn.execute(
        update(departments)
        .where(departments.c.corp_id == corp_id, departments.c.status == "active", unseen_dept)
        .values(status="removed")
    ).rowcount
    unseen_user = or_(users.c.last_seen_run_id.is_(None), users.c.last_seen_run_id != run_id)
    inactive = conn.execute(
        update(users)
        .where(users.c.corp_id == corp_id, users.c.status == "active", unseen_user)
        .values(status="inactive", content_hash=None)
    ).rowcount
    removed_ids = (
        select(departments.c.dept_id)
        .where(departments.c.corp_id == corp_id, departments.c.status == "removed")
        .scalar_subquery()
    )
    keep_former_memberships(conn, corp_id, user_departments.c.dept_id.in_(removed_ids))
    memberships = conn.execute(
        delete(user_departments).where(
            user_departments.c.corp_id == corp_id, user_departments.c.dept_id.in_(removed_ids)
        )
    ).rowcount
    # People still employed moved: only a leaver's former departments count (a mover who
    # leaves later counts in the departments they left from, not in every one they were in).
    active = select(users.c.userid).where(users.c.corp_id == corp_id, users.c.status == "active")
    conn.execute(
        delete(former_memberships).where(
            former_memberships.c.corp_id == corp_id, former_memberships.c.userid.in_(active)
        )
    )
    return {"departments": removed, "users": inactive, "memberships": memberships}


# --------------------------------------------------------------------------------------------
# Sync runs, checkpoints, watermarks
# --------------------------------------------------------------------------------------------
def start_sync_run(conn: Connection, corp_id: str, kind: str, entities: Sequence[str]) -> int:
    """Record a new ``running`` sync run and return its id.

    ``kind``: ``'full'`` or ``'incremental'``; ``entities``: entity names, e.g. ``["contacts"]``.
    """
    if kind not in SYNC_RUN_KINDS:
        raise ValueError(f"unknown sync kind {kind!r}; known: {', '.join(SYNC_RUN_KINDS)}")
    result = conn.execute(
        insert(sync_runs).values(
            corp_id=corp_id,
            kind=kind,
            entities=list(entities),
            status="running",
            started_at=utcnow(),
        )
    )
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def set_sync_run_calls(conn: Connection, run_id: int, api_calls: Mapping[str, int]) -> None:
    """Store the DingTalk calls (HTTP requests per path) run ``run_id`` made so far, while it
    is ``running`` (a finished run keeps what :func:`finish_sync_run` stored)."""
    conn.execute(
        update(sync_runs)
        .where(sync_runs.c.id == run_id, sync_runs.c.status == "running")
        .values(api_calls=dict(api_calls))
    )


def finish_sync_run(
    conn: Connection,
    run_id: int,
    status: str,
    counts: Mapping[str, int],
    api_calls: Mapping[str, int],
    wall_ms: int,
    error: str | None = None,
) -> None:
    """Close run ``run_id``: ``status`` (``succeeded``/``failed``/``interrupted``), ``counts``
    per entity kind, ``api_calls`` (HTTP requests per DingTalk path), ``wall_ms`` (elapsed
    milliseconds, of this attempt), ``error`` (text, no secrets). ``finished_at`` = now.
    Raises ``LookupError`` for an unknown run."""
    if status not in SYNC_RUN_STATUSES:
        raise ValueError(f"unknown status {status!r}; known: {', '.join(SYNC_RUN_STATUSES)}")
    changed = conn.execute(
        update(sync_runs)
        .where(sync_runs.c.id == run_id)
        .values(
            status=status,
            counts=dict(counts),
            api_calls=dict(api_calls),
            wall_ms=int(wall_ms),
            error=error,
            finished_at=utcnow(),
        )
    ).rowcount
    if changed != 1:
        raise LookupError(f"no sync run {run_id}")


#: Statuses of a run that the next run of the same kind and entities continues.
RESUMABLE_STATUSES = ("running", "interrupted", "failed")


def find_resumable_run(
    conn: Connection, corp_id: str, kind: str, entities: Sequence[str]
) -> int | None:
    """The run to resume for (``corp_id``, ``kind``, ``entities``), or ``None``.

    Looks at the latest run with that kind and the same entities (in any order): its id when it
    is ``running`` (its process died), ``interrupted`` or ``failed`` (a page failed after the
    client's retries: the next run goes on from the checkpoints); ``None`` when it succeeded —
    an older unfinished run is stale by then and is not resumed — or when a later run of any
    kind (e.g. ``--incremental``) succeeded for one of its entities (stale too: resuming it would
    mark everything that later run saw as removed).
    """
    wanted = sorted(entities)
    runs = conn.execute(
        select(sync_runs.c.id, sync_runs.c.entities, sync_runs.c.status)
        .where(sync_runs.c.corp_id == corp_id, sync_runs.c.kind == kind)
        .order_by(sync_runs.c.id.desc())
    )
    for run in runs:
        if sorted(run.entities or []) == wanted:
            if run.status not in RESUMABLE_STATUSES:
                return None
            return None if _superseded(conn, corp_id, int(run.id), wanted) else int(run.id)
    return None


def _superseded(conn: Connection, corp_id: str, run_id: int, entities: Sequence[str]) -> bool:
    """Whether a later run of any kind succeeded for one of ``entities``: its rows then carry
    newer ``last_seen_run_id`` stamps, and finishing the older run would mark them not seen
    (the whole directory gone). Such an unfinished run is stale."""
    later = conn.execute(
        select(sync_runs.c.entities).where(
            sync_runs.c.corp_id == corp_id,
            sync_runs.c.id > run_id,
            sync_runs.c.status == "succeeded",
        )
    )
    wanted = set(entities)
    return any(wanted & set(row.entities or []) for row in later)


def get_sync_run(conn: Connection, run_id: int) -> dict[str, Any] | None:
    """One ``sync_runs`` row as a dict (``None`` if unknown)."""
    row = conn.execute(select(sync_runs).where(sync_runs.c.id == run_id)).mappings().first()
    return dict(row) if row is not None else None


def last_sync_run(conn: Connection, corp_id: str, kind: str | None = None) -> dict[str, Any] | None:
    """The latest ``sync_runs`` row of ``corp_id`` (of ``kind`` if given) as a dict, or ``None``.

    Keys: ``id, corp_id, kind, entities, status, started_at, finished_at, wall_ms, counts,
    api_calls, error``.
    """
    stmt = select(sync_runs).where(sync_runs.c.corp_id == corp_id)
    if kind is not None:
        stmt = stmt.where(sync_runs.c.kind == kind)
    row = conn.execute(stmt.order_by(sync_runs.c.id.desc()).limit(1)).mappings().first()
    return dict(row) if row is not None else None


def save_checkpoint(conn: Connection, run_id: int, entity: str, key: str, state: Any) -> None:
    """Record that unit ``key`` of ``entity`` is committed in run ``run_id``; ``state`` is any
    JSON value the entity needs to continue (e.g. child department ids). Save it in the same
    transaction as the unit's rows."""
    upsert(
        conn,
        sync_checkpoints,
        [{"run_id": run_id, "entity": entity, "key": key, "state": state}],
        ["run_id", "entity", "key"],
    )


def save_checkpoints(conn: Connection, run_id: int, items: Iterable[tuple[str, str, Any]]) -> None:
    """:func:`save_checkpoint` of several ``(entity, key, state)`` in one statement (the last
    of a repeated unit wins)."""
    upsert(
        conn,
        sync_checkpoints,
        [{"run_id": run_id, "entity": e, "key": k, "state": st} for e, k, st in items],
        ["run_id", "entity", "key"],
    )


def load_checkpoints(conn: Connection, run_id: int, entity: str) -> dict[str, Any]:
    """``{key: state}`` of the units of ``entity`` already committed in run ``run_id``."""
    rows = conn.execute(
        select(sync_checkpoints.c.key, sync_checkpoints.c.state).where(
            sync_checkpoints.c.run_id == run_id, sync_checkpoints.c.entity == entity
        )
    )
    return {r.key: r.state for r in rows}


def get_watermark(conn: Connection, corp_id: str, entity: str) -> Any:
    """The watermark (any JSON value, e.g. epoch ms) stored for ``entity``, or ``None``."""
    return conn.execute(
        select(sync_watermarks.c.value).where(
            sync_watermarks.c.corp_id == corp_id, sync_watermarks.c.entity == entity
        )
    ).scalar_one_or_none()


def set_watermark(conn: Connection, corp_id: str, entity: str, value: Any) -> None:
    """Store ``value`` (JSON) as ``entity``'s watermark for ``corp_id``."""
    upsert(
        conn,
        sync_watermarks,
        [{"corp_id": corp_id, "entity": entity, "value": value}],
        ["corp_id", "entity"],
    )


# --------------------------------------------------------------------------------------------
# Reads
# --------------------------------------------------------------------------------------------
def _count(conn: Connection, table: Table, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _count_by(conn: Connection, column: Any, *where: Any) -> dict[Any, int]:
    rows = conn.execute(select(column, func.count()).where(*where).group_by(column))
    return {value: int(n) for value, n in rows}


def count_summary(conn: Connection, corp_id: str) -> dict[str, int]:
    """Row counts for ``corp_id`` (the CLI summary and sync tests).

    Keys: ``departments`` (active), ``removed_departments``, ``users`` (every person synced;
    not the stub of a userid disabled before it was synced, :func:`~dingsync.store.schema.
    synced_user`),
    ``active_users``, ``inactive_users``, ``left_users``, ``multi_department_users`` (users with
    more than one membership), ``memberships``, ``admins``, ``sub_admins`` (sys_level 2),
    ``leavers`` (departure records), ``roles`` (active roles), ``role_members`` (one per role
    and member).
    """
    ud = user_departments
    per_user = (
        select(ud.c.userid)
        .where(ud.c.corp_id == corp_id)
        .group_by(ud.c.userid)
        .having(func.count() > 1)
        .subquery()
    )
    multi = int(conn.execute(select(func.count()).select_from(per_user)).scalar_one())
    by_status = _count_by(conn, users.c.status, users.c.corp_id == corp_id, synced_user())
    dept_status = _count_by(conn, departments.c.status, departments.c.corp_id == corp_id)
    return {
        "departments": int(dept_status.get("active", 0)),
        "removed_departments": int(dept_status.get("removed", 0)),
        "users": int(sum(by_status.values())),
        "active_users": int(by_status.get("active", 0)),
        "inactive_users": int(by_status.get("inactive", 0)),
        "left_users": int(by_status.get("left", 0)),
        "multi_department_users": multi,
        "memberships": _count(conn, ud, ud.c.corp_id == corp_id),
        "admins": _count(conn, admins, admins.c.corp_id == corp_id),
        "sub_admins": _count(conn, admins, admins.c.corp_id == corp_id, admins.c.sys_level == 2),
        "leavers": _count(conn, leavers, leavers.c.corp_id == corp_id),
        "roles": _count(conn, roles, roles.c.corp_id == corp_id, roles.c.status == "active"),
        "role_members": _count(conn, role_members, role_members.c.corp_id == corp_id),
    }


def _rows_by(conn: Connection, table: Table, corp_id: str, key: str) -> dict[Any, dict[str, Any]]:
    rows = conn.execute(
        select(table).where(table.c.corp_id == corp_id).order_by(table.c[key])
    ).mappings()
    return {row[key]: dict(row) for row in rows}


def load_directory(conn: Connection, corp_id: str) -> dict[str, Any]:
    """Everything stored about ``corp_id``'s directory, as plain dicts (for comparisons).

    - ``departments``: ``{dept_id: row}`` (every column, ``removed`` ones included)
    - ``users``: ``{userid: row}`` (every column, any status)
    - ``memberships``: ``{userid: {dept_id: {"dept_order": int|None, "is_leader": bool}}}``
    - ``admins``: ``{userid: row}`` (``sys_level`` 1 main, 2 sub)
    - ``scopes``: ``{userid: [dept_id, …]}`` sorted
    - ``leavers``: ``{userid: row}``
    """
    memberships: dict[str, dict[int, dict[str, Any]]] = {}
    ud = user_departments
    for m in conn.execute(
        select(ud.c.userid, ud.c.dept_id, ud.c.dept_order, ud.c.is_leader)
        .where(ud.c.corp_id == corp_id)
        .order_by(ud.c.userid, ud.c.dept_id)
    ):
        memberships.setdefault(m.userid, {})[int(m.dept_id)] = {
            "dept_order": m.dept_order,
            "is_leader": bool(m.is_leader),
        }
    scopes: dict[str, list[int]] = {}
    for s in conn.execute(
        select(admin_scopes.c.userid, admin_scopes.c.dept_id)
        .where(admin_scopes.c.corp_id == corp_id)
        .order_by(admin_scopes.c.userid, admin_scopes.c.dept_id)
    ):
        scopes.setdefault(s.userid, []).append(int(s.dept_id))
    return {
        "departments": _rows_by(conn, departments, corp_id, "dept_id"),
        "users": _rows_by(conn, users, corp_id, "userid"),
        "memberships": memberships,
        "admins": _rows_by(conn, admins, corp_id, "userid"),
        "scopes": scopes,
        "leavers": _rows_by(conn, leavers, corp_id, "userid"),
    }


__all__ = [
    "DEPARTED_DIMISSION_STATUSES",
    "MAX_ROWS_PER_STATEMENT",
    "DirectoryBatch",
    "DriverStatement",
    "count_summary",
    "find_resumable_run",
    "finish_sync_run",
    "get_sync_run",
    "get_watermark",
    "last_sync_run",
    "load_checkpoints",
    "load_directory",
    "load_leaver_parts",
    "mark_unseen",
    "max_bind_params",
    "replace_admins",
    "replace_department_members",
    "save_checkpoint",
    "set_sync_run_calls",
    "set_watermark",
    "start_sync_run",
    "upsert",
    "upsert_corp",
    "upsert_departments",
    "upsert_leavers",
    "upsert_statement",
    "upsert_users",
]


# --------------------------------------------------------------------------------------------
# Sync runs for the console's 概览 and 设置 (issue #13)
# --------------------------------------------------------------------------------------------
def list_sync_runs(conn: Connection, corp_id: str, *, limit: int = 10) -> list[dict[str, Any]]:
    """The latest ``limit`` ``sync_runs`` rows of ``corp_id``, newest first (keys as
    :func:`last_sync_run`)."""
    rows = conn.execute(
        select(sync_runs)
        .where(sync_runs.c.corp_id == corp_id)
        .order_by(sync_runs.c.id.desc())
        .limit(limit)
    ).mappings()
    return [dict(r) for r in rows]


def count_checkpoints(conn: Connection, run_id: int) -> int:
    """How many units run ``run_id`` has committed (its ``sync_checkpoints`` rows)."""
    return _count(conn, sync_checkpoints, sync_checkpoints.c.run_id == run_id)


def skipped_units(conn: Connection, run_id: int) -> list[dict[str, Any]]:
    """The units run ``run_id`` skipped because DingTalk would not give them (a department
    answering 60003/50004, a member list or an authorised person it may not read): their
    checkpoint state holds ``{"skipped": errcode}``. ``[{"entity", "key", "reason"}]`` by
    entity and key."""
    out: list[dict[str, Any]] = []
    rows = conn.execute(
        select(sync_checkpoints.c.entity, sync_checkpoints.c.key, sync_checkpoints.c.state)
        .where(
            sync_checkpoints.c.run_id == run_id,
            # Only rows whose JSON mentions it are read and decoded (a run has thousands).
            cast(sync_checkpoints.c.state, Text).contains('"skipped"'),
        )
        .order_by(sync_checkpoints.c.entity, sync_checkpoints.c.key)
    )
    for r in rows:
        state = r.state
        if isinstance(state, dict) and state.get("skipped"):
            out.append({"entity": r.entity, "key": r.key, "reason": str(state["skipped"])})
    return out


def last_run_per_entity(conn: Connection, corp_id: str) -> dict[str, dict[str, Any]]:
    """Per entity name: the latest run that included it (``{id, kind, status, started_at,
    finished_at, wall_ms, error}``) and the latest that succeeded (``last_success``: the same
    keys, or absent). Reads the runs newest first until every entity seen has both."""
    out: dict[str, dict[str, Any]] = {}
    rows = conn.execute(
        select(
            sync_runs.c.id,
            sync_runs.c.kind,
            sync_runs.c.status,
            sync_runs.c.entities,
            sync_runs.c.started_at,
            sync_runs.c.finished_at,
            sync_runs.c.wall_ms,
            sync_runs.c.error,
        )
        .where(sync_runs.c.corp_id == corp_id)
        .order_by(sync_runs.c.id.desc())
        .limit(500)
    ).mappings()
    for r in rows:
        brief = {k: r[k] for k in r.keys() if k != "entities"}
        for name in r["entities"] or []:
            entry = out.setdefault(str(name), {"last": brief})
            if "last_success" not in entry and r["status"] == "succeeded":
                entry["last_success"] = brief
    return out
