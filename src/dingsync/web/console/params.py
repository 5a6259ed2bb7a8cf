"""Query parameters of the console's pages, read one way on every page.

A page's filters come from a form (text), so they are read here rather than declared as typed
FastAPI parameters: an empty field means "not given", and a malformed one is
``request.invalid`` with a message in the console's language naming the field. Dates must lie
in years :data:`~dingsync.web.export_kinds.MONTH_YEARS` (the day windows around them must
exist: a year-1 day is refused, not a 500).

How a page shows a bad filter (every page with filters, as 日志 did first): the page itself,
status 200, with its filter form and an inline ``<div class="alert bad" data-testid="error">``
per message (``console/_problems.html``) in Chinese naming the field. A malformed value is
dropped (the field's default is used: :func:`collect`); a refusal of the API function the page
calls (an end before the start, a span too long) shows no rows, its message put in the
console's words by :func:`zh`. Status 200, not 422: htmx (which swaps the results of a filter
form) does not swap a 4xx answer, so a 422 would leave the previous rows and no message. The
JSON API keeps its English messages and 422s.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, TypeVar

from dingsync.web.errors import WebError
from dingsync.web.export_kinds import MONTH_YEARS

T = TypeVar("T")


def text(value: str | None, limit: int = 255) -> str | None:
    """A parameter as given, stripped and cut to ``limit`` characters; ``None`` when empty."""
    value = (value or "").strip()
    return value[:limit] or None


def day(label: str, value: str | None) -> date | None:
    """``YYYY-MM-DD`` → a date (``None`` when empty). Raises ``request.invalid`` for anything
    else or a year outside :data:`MONTH_YEARS`."""
    raw = text(value, 32)
    if raw is None:
        return None
    try:
        found = date.fromisoformat(raw)
    except ValueError as exc:
        raise WebError("request.invalid", f"{label}不是日期（YYYY-MM-DD）：{raw}") from exc
    if not MONTH_YEARS[0] <= found.year <= MONTH_YEARS[1]:
        raise WebError(
            "request.invalid", f"{label}超出范围（{MONTH_YEARS[0]}–{MONTH_YEARS[1]} 年）：{raw}"
        )
    return found


def integer(label: str, value: str | None, *, low: int = 1) -> int | None:
    """A whole number in ``low`` … 2**62 (``None`` when empty). Raises ``request.invalid``
    otherwise."""
    raw = text(value, 32)
    if raw is None:
        return None
    try:
        number = int(raw)
    except ValueError as exc:
        raise WebError("request.invalid", f"{label}不是数字：{raw}") from exc
    if not low <= number <= 2**62:
        raise WebError("request.invalid", f"{label}超出范围（≥ {low}）：{raw}")
    return number


def department(ctx: Any, label: str, value: str | None) -> int | None:
    """A department id (:func:`integer`) that names a department of the synced directory
    (``ctx``: the page's :class:`~dingsync.web.context.WebContext`); ``None`` when empty.
    Raises ``request.invalid`` — "部门“999999”不存在…", as 通讯录 says it — for an id the
    directory does not have, so a page does not pass off 0 rows under 全部 as an answer."""
    number = integer(label, value)
    if number is None:
        return None
    with ctx.engine.connect() as conn:
        known = number in ctx.tree(conn).nodes
    if not known:
        raise WebError("request.invalid", f"{label}“{number}”不存在，或不在已同步的通讯录中。")
    return number


#: ``YYYY-MM`` with a month 01–12.
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def month(label: str, value: str | None) -> str | None:
    """``YYYY-MM`` as given (``None`` when empty). Raises ``request.invalid`` (in Chinese,
    naming ``label``) for anything else or a year outside :data:`MONTH_YEARS`."""
    raw = text(value, 32)
    if raw is None:
        return None
    if not _MONTH.match(raw):
        raise WebError("request.invalid", f"{label}不是月份（YYYY-MM，如 2026-11）：{raw}")
    if not MONTH_YEARS[0] <= int(raw[:4]) <= MONTH_YEARS[1]:
        raise WebError(
            "request.invalid", f"{label}超出范围（{MONTH_YEARS[0]}–{MONTH_YEARS[1]} 年）：{raw}"
        )
    return raw


def choice(label: str, value: str | None, allowed: Iterable[str]) -> str | None:
    """One of ``allowed`` as given (``None`` when empty). Raises ``request.invalid`` naming
    ``label`` otherwise."""
    raw = text(value, 64)
    if raw is None:
        return None
    if raw not in allowed:
        raise WebError("request.invalid", f"{label}不是可选的值：{raw}")
    return raw


def collect(problems: list[str], read: Callable[[], T | None]) -> T | None:
    """``read()`` (one of the readers above), a refusal noted in ``problems`` (shown on the
    page) instead of raised: ``None`` then, so the field's default applies."""
    try:
        return read()
    except WebError as exc:
        problems.append(zh(exc))
        return None


#: The API's English refusals of filters (``request.invalid``) in the console's words.
_ZH: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^end_date is before start_date$"), "结束日期早于开始日期"),
    (
        re.compile(r"^need start_date <= end_date, at most (\d+) days$"),
        r"结束日期不能早于开始日期，且日期跨度不能超过 \1 天",
    ),
    (re.compile(r"^the range is longer than (\d+) days$"), r"日期跨度不能超过 \1 天"),
    (re.compile(r"^start_date/end_date out of range$"), "开始日期或结束日期超出范围"),
    (re.compile(r"^no report template '(.*)'; known: .*$", re.S), r"没有名为“\1”的日志模板"),
    (re.compile(r"^month: year must be within"), "月份超出范围"),
    (
        re.compile(r"^unknown department (\d+)"),
        r"部门“\1”不存在，或不在已同步的通讯录中。",
    ),
    (re.compile(r"^invalid filters: "), "导出条件无效，请检查筛选条件后重试。"),
    (
        re.compile(r"^process_code and template name different templates$"),
        "审批模板与模板名称不是同一个模板",
    ),
)
_CJK = re.compile(r"[\u4e00-\u9fff]")
#: What a console page says for a refusal it has no words for (never the API's English).
GENERIC = "查询条件无效，请检查筛选条件后重试。"


def zh(exc: WebError) -> str:
    """``exc``'s message for a console page: a known English refusal of the API in Chinese
    (naming the field), a message of the console's own (in Chinese) as it is, anything else
    :data:`GENERIC`."""
    message = exc.message
    for pattern, words in _ZH:
        found = pattern.search(message)
        if found:
            return found.expand(words)
    # The console's own messages begin with the field's Chinese label; the API's are English
    # (they may quote a Chinese value: "no report template '日报'…").
    return message if _CJK.match(message) else GENERIC


def attempt(problems: list[str], call: Callable[[], T], empty: T) -> T:
    """``call()`` (the API function a page shows), or ``empty`` with its ``request.invalid``
    refusal noted in ``problems`` in the console's words (:func:`zh`). Other errors raise."""
    try:
        return call()
    except WebError as exc:
        if exc.code != "request.invalid":
            raise
        problems.append(zh(exc))
        return empty


#: The highest page number a console list asks for (a larger ``?page=`` is read as this one).
MAX_PAGE = 10**6


def page_number(problems: list[str], value: str | None) -> int:
    """A list's ``page`` parameter: 1 when empty or malformed (then its message in
    ``problems``), at most :data:`MAX_PAGE`."""
    return max(1, min(collect(problems, lambda: integer("页码", value)) or 1, MAX_PAGE))


def last_page(total: int, size: int) -> int:
    """The number of the last page of ``total`` rows, ``size`` a page (1 when there are none)."""
    return max(1, -(-total // size))


def clamped_page(
    fetch: Callable[[int], dict[str, Any]], number: int, size: int
) -> tuple[dict[str, Any], int]:
    """``(fetch(offset), number)`` for page ``number`` (from 1) of ``size`` rows; a page past
    the last one (a kept link of a list that shrank, a typed ``?page=99999``) fetches and shows
    the last page instead, so a pager never says "第 99999 / 1 页". ``fetch`` answers a list
    API's page (``items``, ``total``)."""
    answer = fetch((number - 1) * size)
    last = last_page(int(answer["total"]), size)
    if number > last:
        number = last
        if answer["total"]:  # nothing at all: page 1 is as empty, no second call
            answer = fetch((number - 1) * size)
    return answer, number


def empty_page() -> dict[str, Any]:
    """A list API's page with no rows (what a page shows for a refused filter)."""
    return {"items": [], "total": 0}
