"""Corp-level HTTP-callback APIs (old host, ``access_token`` query): register, query, update,
delete a callback URL and read the failed-push list (events.md §1.7–§1.8).

Use as ``CallbackAPI(client)`` with a :class:`~dingsync.dingtalk.DingTalkClient`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dingsync.dingtalk._base import DingTalkClient

FAILED_PATH = "/call_back/get_call_back_failed_result"


class CallbackAPI:
    """The ``/call_back/*`` endpoints. Errors are the client's ``DingTalkError`` subclasses."""

    def __init__(self, client: DingTalkClient) -> None:
        self._client = client

    async def register(
        self, url: str, token: str, aes_key: str, tags: Sequence[str]
    ) -> dict[str, Any]:
        """``POST /call_back/register_call_back`` ``{call_back_tag, token, aes_key, url}``.
        DingTalk answers only after the URL answered ``check_url`` correctly; events are then
        encrypted with the **corpId** as receiver id."""
        return await self._client.oapi(
            "POST",
            "/call_back/register_call_back",
            json={"call_back_tag": list(tags), "token": token, "aes_key": aes_key, "url": url},
        )

    async def update(
        self, url: str, token: str, aes_key: str, tags: Sequence[str]
    ) -> dict[str, Any]:
        """``POST /call_back/update_call_back`` (same body as :meth:`register`)."""
        return await self._client.oapi(
            "POST",
            "/call_back/update_call_back",
            json={"call_back_tag": list(tags), "token": token, "aes_key": aes_key, "url": url},
        )

    async def get(self) -> dict[str, Any]:
        """``GET /call_back/get_call_back`` → ``call_back_tag``, ``token``, ``aes_key``, ``url``
        (secrets: do not log the result)."""
        return await self._client.oapi("GET", "/call_back/get_call_back")

    async def delete(self) -> dict[str, Any]:
        """``GET /call_back/delete_call_back``."""
        return await self._client.oapi("GET", "/call_back/delete_call_back")

    async def failed_page(self) -> tuple[list[dict[str, Any]], bool]:
        """One call of ``GET /call_back/get_call_back_failed_result``: (``failed_list`` items —
        at most 200 —, ``has_more``)."""
        body = await self._client.oapi("GET", FAILED_PATH)
        items = body.get("failed_list") or []
        return [i for i in items if isinstance(i, dict)], bool(body.get("has_more"))

    async def iter_failed(self, max_calls: int = 100) -> AsyncIterator[dict[str, Any]]:
        """Every failed-push item, calling again while ``has_more`` (reading is assumed to
        remove items, EB-77; ``max_calls`` bounds the loop)."""
        for _ in range(max_calls):
            items, more = await self.failed_page()
            for item in items:
                yield item
            if not more or not items:
                return


__all__ = ["FAILED_PATH", "CallbackAPI"]
