"""The store's NUL escape (:mod:`dingsync.store.nul`): one-to-one, ordinary text unchanged, and
text and JSON columns round-trip U+0000 on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from dingsync.store import repo
from dingsync.store.nul import (
    ESCAPE,
    NulSafeJSON,
    escape_json,
    escape_nul,
    unescape_json,
    unescape_nul,
)
from dingsync.store.schema import sync_watermarks, users

#: Text made of the characters that matter (NUL, the escape, its follower ``0``) and others.
TRICKY = st.text(alphabet=st.sampled_from(["\x00", ESCAPE, "0", "a", "周", "\\"]), max_size=12)


@given(st.text() | TRICKY)
def test_escape_is_reversible_and_stores_no_nul(value: str) -> None:
    stored = escape_nul(value)
    assert "\x00" not in stored
    assert unescape_nul(stored) == value


@given(TRICKY, TRICKY)
def test_escape_is_one_to_one(a: str, b: str) -> None:
    assert (escape_nul(a) == escape_nul(b)) == (a == b)


@given(st.text().filter(lambda s: "\x00" not in s and ESCAPE not in s))
def test_ordinary_text_is_stored_as_it_is(value: str) -> None:
    assert escape_nul(value) is value
    assert unescape_nul(value) is value


def test_json_strings_and_keys_are_escaped() -> None:
    value = {"a\x00": ["x\x00", {"k": ESCAPE}, 1, None, True]}
    stored = escape_json(value)
    assert stored == {f"a{ESCAPE}0": [f"x{ESCAPE}0", {"k": ESCAPE * 2}, 1, None, True]}
    assert unescape_json(stored) == value


NUL_VALUES = ["名\x00字", f"{ESCAPE}0", "\x00", ESCAPE, "plain", "末尾\x00"]


def _round_trip(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": "c"})
        repo.upsert(
            conn,
            users,
            [{"corp_id": "c", "userid": f"u{i}\x00", "name": v} for i, v in enumerate(NUL_VALUES)],
            ["corp_id", "userid"],
        )
        for i, v in enumerate(NUL_VALUES):
            repo.set_watermark(conn, "c", f"e{i}", {"text": v, v: [v]})
    with engine.connect() as conn:
        names = dict(conn.execute(sa.select(users.c.userid, users.c.name)).all())
        marks = dict(
            conn.execute(sa.select(sync_watermarks.c.entity, sync_watermarks.c.value)).all()
        )
        like = conn.execute(
            sa.select(users.c.userid).where(users.c.name.like("名\x00%"))
        ).scalar_one()
    assert names == {f"u{i}\x00": v for i, v in enumerate(NUL_VALUES)}
    assert marks == {f"e{i}": {"text": v, v: [v]} for i, v in enumerate(NUL_VALUES)}
    assert like == "u0\x00"


@given(
    st.recursive(
        TRICKY | st.integers() | st.none(),
        lambda kids: st.lists(kids) | st.dictionaries(TRICKY, kids),
        max_leaves=8,
    )
)
def test_json_column_reads_back_what_was_written(value: object) -> None:
    """A JSON column's result value: the walk is skipped when no string holds an ESCAPE,
    and what comes back is what was escaped on the way in, either way."""
    assert NulSafeJSON().process_result_value(escape_json(value), sqlite.dialect()) == value


def test_text_and_json_columns_round_trip_nul(engine: sa.Engine) -> None:
    _round_trip(engine)
