"""Paging: one iterator per DingTalk paging style, so callers never write a loop.

- cursor: request ``cursor`` (0 first), answer ``has_more`` + ``next_cursor`` (absent on the last
  page of most APIs, present with ``has_more: false`` on others — EB-37). ``next_cursor`` is sent
  back exactly as given; it is opaque.
- offset: request ``offset`` + ``size``, answer ``hasMore``; the next offset advances by the items
  received (never by the size asked for, so a server cap below our size cannot skip items).
- nextToken (v1.0): request ``nextToken`` (``0`` first) + ``maxResults``; the last page has no
  ``nextToken``.

A :class:`Pager` is an async iterator of items; ``pages()`` yields whole pages and
``to_list()`` collects everything. A page that fails after the client's retries raises; it is
never skipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from dingsync.dingtalk.errors import DingTalkError

T = TypeVar("T")

#: The paging marker sent with a request (cursor, offset or nextToken).
Marker = Any


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page: its items and the marker for the next request (``None`` = last page)."""

    items: Sequence[T]
    next: Marker | None


class Pager(Generic[T]):
    """Async iterator over every item of every page, fetched lazily one page at a time."""

    def __init__(self, fetch_page: Callable[[Marker], Awaitable[Page[T]]], first: Marker) -> None:
        self._fetch_page = fetch_page
        self._first = first

    @property
    def first(self) -> Marker:
        """The marker of the first page (JSON-able for every DingTalk paging style)."""
        return self._first

    async def page(self, marker: Marker) -> Page[T]:
        """The one page at ``marker`` (the first page's, or a ``Page.next`` seen before — e.g.
        stored in a checkpoint so a resumed sync goes on from that page)."""
        return await self._fetch_page(marker)

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Yield each page in order."""
        marker: Marker = self._first
        seen: set[str] = set()
        while True:
            page = await self._fetch_page(marker)
            yield page
            if page.next is None:
                return
            key = repr(page.next)
            if key in seen:
                raise DingTalkError(
                    "paging", f"DingTalk repeated the paging marker {key}; stopping to avoid a loop"
                )
            seen.add(key)
            marker = page.next

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def to_list(self) -> list[T]:
        """Every item of every page (page by page: one async generator fewer per item)."""
        out: list[T] = []
        async for page in self.pages():
            out.extend(page.items)
        return out


def _container(body: dict[str, Any], result_key: str | None) -> dict[str, Any]:
    if result_key is None:
        return body
    value = body.get(result_key)
    return value if isinstance(value, dict) else {}


def _items(container: dict[str, Any], list_key: str) -> list[Any]:
    value = container.get(list_key)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]  # doc samples show a one-item list as an object (EB-24)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


FetchPage = Callable[[Marker], Awaitable[Page[T]]]


def cursor_pager(
    call: Callable[[Marker], Awaitable[dict[str, Any]]],
    parse: Callable[[Any], T],
    *,
    result_key: str | None = "result",
    list_key: str = "list",
    has_more_key: str | None = "has_more",
    next_key: str = "next_cursor",
    first: Marker = 0,
) -> Pager[T]:
    """Cursor style. ``call(cursor)`` returns the decoded answer. Without ``has_more_key`` (or when
    the answer lacks it) the paging ends when ``next_key`` is absent (e.g. ``querydimission``)."""
    fetch = cursor_fetcher(
        call,
        parse,
        result_key=result_key,
        list_key=list_key,
        has_more_key=has_more_key,
        next_key=next_key,
    )
    return Pager(fetch, first)


def cursor_fetcher(
    call: Callable[[Marker], Awaitable[dict[str, Any]]],
    parse: Callable[[Any], T],
    *,
    result_key: str | None = "result",
    list_key: str = "list",
    has_more_key: str | None = "has_more",
    next_key: str = "next_cursor",
) -> FetchPage[T]:
    """One cursor-style page per call (see :func:`cursor_pager`)."""

    async def fetch(cursor: Marker) -> Page[T]:
        body = await call(cursor)
        container = _container(body, result_key)
        items = [parse(x) for x in _items(container, list_key)]
        nxt = container.get(next_key)
        if has_more_key is not None and has_more_key in container:
            if not _truthy(container[has_more_key]):
                return Page(items, None)
            if nxt in (None, ""):
                raise DingTalkError(
                    "paging", f"{has_more_key}=true without {next_key}; refusing to drop pages"
                )
        return Page(items, None if nxt in (None, "") else nxt)

    return fetch


def offset_pager(
    call: Callable[[int], Awaitable[dict[str, Any]]],
    parse: Callable[[Any], T] | None = None,
    *,
    result_key: str | None = "result",
    list_key: str = "list",
    has_more_key: str = "hasMore",
    first: int = 0,
    parse_page: Callable[[list[Any]], list[T]] | None = None,
) -> Pager[T]:
    """Offset style: ``call(offset)`` sends ``offset`` (and the caller's fixed ``size``).
    ``parse`` each item, or ``parse_page`` a page's items at once."""
    fetch = offset_fetcher(
        call,
        parse,
        result_key=result_key,
        list_key=list_key,
        has_more_key=has_more_key,
        parse_page=parse_page,
    )
    return Pager(fetch, first)


def offset_fetcher(
    call: Callable[[int], Awaitable[dict[str, Any]]],
    parse: Callable[[Any], T] | None = None,
    *,
    result_key: str | None = "result",
    list_key: str = "list",
    has_more_key: str = "hasMore",
    parse_page: Callable[[list[Any]], list[T]] | None = None,
) -> FetchPage[T]:
    """One offset-style page per call (see :func:`offset_pager`)."""
    if parse_page is None:
        if parse is None:
            raise TypeError("offset_fetcher needs parse or parse_page")
        each = parse

        def parse_page(raw: list[Any]) -> list[T]:
            return [each(x) for x in raw]

    parse_items = parse_page

    async def fetch(offset: Marker) -> Page[T]:
        body = await call(int(offset))
        container = _container(body, result_key)
        raw = _items(container, list_key)
        items = parse_items(raw)
        if not _truthy(container.get(has_more_key)) or not raw:
            return Page(items, None)
        return Page(items, int(offset) + len(raw))

    return fetch


def next_token_pager(
    call: Callable[[Marker], Awaitable[dict[str, Any]]],
    parse: Callable[[Any], T],
    *,
    result_key: str | None = None,
    list_key: str = "list",
    token_key: str = "nextToken",
    has_more_key: str | None = None,
    first: Marker = "0",
) -> Pager[T]:
    """v1.0 ``nextToken`` style. The paging ends when the answer has no (or an empty)
    ``nextToken``, when ``has_more_key`` says so, or when a page is empty."""
    fetch = next_token_fetcher(
        call,
        parse,
        result_key=result_key,
        list_key=list_key,
        token_key=token_key,
        has_more_key=has_more_key,
    )
    return Pager(fetch, first)


def next_token_fetcher(
    call: Callable[[Marker], Awaitable[dict[str, Any]]],
    parse: Callable[[Any], T],
    *,
    result_key: str | None = None,
    list_key: str = "list",
    token_key: str = "nextToken",
    has_more_key: str | None = None,
) -> FetchPage[T]:
    """One nextToken-style page per call (see :func:`next_token_pager`)."""

    async def fetch(token: Marker) -> Page[T]:
        body = await call(token)
        container = _container(body, result_key)
        raw = _items(container, list_key)
        items = [parse(x) for x in raw]
        nxt = container.get(token_key)
        if has_more_key is not None and has_more_key in container:
            if not _truthy(container[has_more_key]):
                return Page(items, None)
        if nxt in (None, "") or not raw or nxt == token:
            return Page(items, None)
        return Page(items, nxt)

    return fetch
