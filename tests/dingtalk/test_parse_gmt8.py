"""``parse_gmt8`` reads what ``datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")`` reads (GMT+8)
and refuses what it refuses — full-width texts by their fields, anything else by ``strptime``."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dingsync.dingtalk.models.attendance import GMT8, parse_gmt8


def _strptime(text: str) -> datetime | BaseException:
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=GMT8)
    except ValueError as exc:
        return exc


def _parsed(text: str) -> datetime | BaseException:
    try:
        got = parse_gmt8(text)
    except ValueError as exc:
        return exc
    assert got is not None
    return got


def _same(text: str) -> None:
    expected, got = _strptime(text), _parsed(text)
    if isinstance(expected, BaseException):
        assert isinstance(got, ValueError), (text, got)
        assert str(got) == str(expected)
    else:
        assert isinstance(got, datetime)
        assert (got, got.tzinfo) == (expected, expected.tzinfo), text


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01 09:00:00",
        " 2026-12-01 23:59:59 ",
        "1970-01-01 00:00:00",
        "2024-02-29 12:00:00",
        "2025-02-29 12:00:00",  # no such day
        "2026-13-01 00:00:00",
        "2026-00-10 00:00:00",
        "2026-12-00 00:00:00",
        "2026-12-01 24:00:00",
        "2026-12-01 23:60:00",
        "2026-12-01 23:59:60",  # strptime's leap second, refused by datetime
        "2026-12-01 23:59:61",
        "0000-01-01 00:00:00",
        "2026-1-5 8:00:00",  # short fields: strptime reads them
        "２０２６-12-01 09:00:00",  # non-ASCII digits
        "2026-12-01T09:00:00",
        "2026-12-01 09:00",
        "2026-12-01 09:00:00.5",
        "x",
    ],
)
def test_texts(text: str) -> None:
    _same(text)


@given(
    st.tuples(
        st.integers(0, 10000),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 25),
        st.integers(0, 61),
        st.integers(0, 62),
    )
)
def test_any_fields(fields: tuple[int, ...]) -> None:
    y, mo, d, h, mi, s = fields
    _same(f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}")
    _same(f"{y}-{mo}-{d} {h}:{mi}:{s}")


def test_empty() -> None:
    assert parse_gmt8(None) is None
    assert parse_gmt8("") is None
