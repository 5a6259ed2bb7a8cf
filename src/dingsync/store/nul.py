"""NUL characters (U+0000) stored on every backend, and read back exactly.

DingTalk's text may carry a NUL (a report field, an approval remark, a name). PostgreSQL's
``text`` and ``JSONB`` refuse U+0000 outright, so every text and JSON column of the schema goes
through a reversible escape instead, alike on SQLite, PostgreSQL and MySQL/MariaDB:

- U+0000 is stored as :data:`ESCAPE` followed by ``0``;
- :data:`ESCAPE` itself is stored doubled.

:data:`ESCAPE` is U+FDD0, a Unicode *noncharacter* (permanently reserved for a program's internal
use, never assigned, never sent by DingTalk), so ordinary text is stored byte for byte as it is:
existing rows, ``=`` and ``LIKE`` on normal text, and indexes are unaffected. Ids go through the
escape too; it is one-to-one, so distinct ids stay distinct. A comparison or ``LIKE`` bound
against one of these columns escapes its value the same way (``col == "a\\x00"`` finds the row).
A value stored before this escape existed that happens to hold U+FDD0 followed by ``0`` or
U+FDD0 would read back changed; nothing DingTalk sends does.

The types: :class:`NulSafeString` (``VARCHAR(n)``), :class:`NulSafeText` (``TEXT``) and
:class:`NulSafeJSON` (JSON; JSONB on PostgreSQL; every string in it, keys included, escaped).
Their DDL is the underlying type's, so the migrations do not change. SQL written by hand
(``text(...)``) bypasses them: such statements must not read or write these columns' text.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from sqlalchemy import JSON, String, Text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

#: The escape character: U+FDD0, a noncharacter.
ESCAPE = "\ufdd0"
NUL = "\x00"
_ESCAPES = str.maketrans({NUL: ESCAPE + "0", ESCAPE: ESCAPE + ESCAPE})
_ESCAPED = re.compile(ESCAPE + "([0" + ESCAPE + "])")


def _unescape_one(match: re.Match[str]) -> str:
    return NUL if match.group(1) == "0" else ESCAPE


def escape_nul(value: str) -> str:
    """``value`` with every NUL and :data:`ESCAPE` escaped (see the module docstring); ``value``
    itself when it holds neither (the usual case)."""
    if NUL in value or ESCAPE in value:
        return value.translate(_ESCAPES)
    return value


def unescape_nul(value: str) -> str:
    """The inverse of :func:`escape_nul`. An :data:`ESCAPE` followed by anything else is kept."""
    if ESCAPE in value:
        return _ESCAPED.sub(_unescape_one, value)
    return value


def _walk(value: Any, convert: Any) -> Any:
    """``value`` (parsed JSON) with ``convert`` applied to every string, keys included."""
    if isinstance(value, str):
        return convert(value)
    if isinstance(value, dict):
        return {
            (convert(k) if isinstance(k, str) else k): _walk(v, convert) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_walk(v, convert) for v in value]
    return value


def escape_json(value: Any) -> Any:
    """Parsed JSON with every string escaped by :func:`escape_nul`."""
    return _walk(value, escape_nul)


def unescape_json(value: Any) -> Any:
    """Parsed JSON with every string unescaped by :func:`unescape_nul`."""
    return _walk(value, unescape_nul)


class NulSafeString(TypeDecorator[str]):
    """``VARCHAR(length)`` whose values may hold NUL (escaped on the way in, unescaped out).
    The length counts stored characters: each NUL or U+FDD0 takes two."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return escape_nul(value) if isinstance(value, str) else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return unescape_nul(value) if isinstance(value, str) else value

    def bind_processor(self, dialect: Dialect) -> Any:
        # One plain function per value (TypeDecorator's own takes two Python calls more): every
        # id and name of every row written goes through it.
        inner = self.impl_instance.bind_processor(dialect)
        nul, escape, table = NUL, ESCAPE, _ESCAPES

        def process(value: Any) -> Any:
            if isinstance(value, str) and (nul in value or escape in value):
                value = value.translate(table)
            return value if inner is None else inner(value)

        return process

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        # One plain function per value (no TypeDecorator hop): this column type is read for
        # every id and name of every row, so its per-value cost shows in large pages.
        inner = self.impl_instance.result_processor(dialect, coltype)
        escape = ESCAPE
        sub = _ESCAPED.sub

        def process(value: Any) -> Any:
            if inner is not None:
                value = inner(value)
            if value.__class__ is str and escape in value:
                return sub(_unescape_one, value)
            return value

        return process

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        # A string compared with (or LIKE-matched against) the column is escaped like it.
        return self if isinstance(value, str) else super().coerce_compared_value(op, value)


class NulSafeText(NulSafeString):
    """``TEXT`` whose values may hold NUL (see :class:`NulSafeString`)."""

    impl = Text
    cache_ok = True


def dumps_json(value: Any) -> str:
    """``value`` as JSON text for a JSON column: orjson's compact text (several times faster
    than ``json.dumps``, the same content; non-ASCII kept as itself), or ``json.dumps`` where
    orjson refuses the value (an int beyond 64 bits, a key that is not a string). Raises
    ``TypeError``/``ValueError`` for what neither can encode."""
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, ensure_ascii=False)


class NulSafeJSON(TypeDecorator[Any]):
    """JSON (JSONB on PostgreSQL) whose strings may hold NUL: every string, keys included, is
    escaped on the way in and unescaped on the way out. Python ``None`` is SQL NULL (not JSON
    ``null``)."""

    impl = JSON
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(none_as_null=True)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSONB(none_as_null=True))
        return dialect.type_descriptor(JSON(none_as_null=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else escape_json(value)

    def bind_processor(self, dialect: Dialect) -> Any:
        # Serialise first and walk the value only when the JSON text shows a NUL (always
        # written as an escape) or an ESCAPE (as itself or escaped): a C-level dump instead of
        # a Python walk of every string of the raw payloads written with every row. Where the
        # driver takes a wrapper (psycopg's Jsonb) the check dumps once more, still cheaper.
        escaping = super().bind_processor(dialect)
        plain = self.impl_instance.bind_processor(dialect)
        if escaping is None or plain is None:
            return escaping
        escape, nul, escaped_escape = ESCAPE, "\\u0000", "\\ufdd0"

        def process(value: Any) -> Any:
            if value is None:
                return escaping(value)
            out = plain(value)
            if out.__class__ is str:
                text = out
            else:
                try:
                    text = dumps_json(value)
                except (TypeError, ValueError):
                    return escaping(value)
            if nul in text or escape in text or escaped_escape in text:
                return escaping(value)
            return out

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        # As on the way in: a C-level dump shows whether any string holds an ESCAPE (every
        # escaped NUL starts with one); without one, unescaping changes nothing, so the
        # Python walk of every string is skipped (the login reads a user's raw payload each
        # time, issue 17).
        if value is None:
            return None
        try:
            text = dumps_json(value)
        except (TypeError, ValueError):
            return unescape_json(value)
        return unescape_json(value) if ESCAPE in text else value


__all__ = [
    "ESCAPE",
    "NulSafeJSON",
    "NulSafeString",
    "NulSafeText",
    "dumps_json",
    "escape_json",
    "escape_nul",
    "unescape_json",
    "unescape_nul",
]
