"""Settings of the web service (environment variables ``DINGSYNC_WEB_*`` or arguments)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebOptions(BaseSettings):
    """Web service knobs.

    - ``session_ttl_s``: session lifetime in seconds (``DINGSYNC_WEB_SESSION_TTL_S``, 8 h).
    - ``replay_window_s``: how long the same authCode posted again returns the same session
      (the double-tap rule, 60 s).
    - ``user_fresh_s``: a user row synced this recently is used as is at login (no
      ``/topapi/v2/user/get``), 1 h.
    - ``jsapi_algorithm``: ``sha256`` (default, current docs) or ``sha1`` (legacy clients).
    - ``warm_up``: fetch the access token and the JSAPI ticket when the service starts, so a
      login only makes the code exchange (and the user detail when needed).
    - ``tree_cache_s``: how long the department tree is cached in memory.
    - ``max_page_size``: cap of ``limit`` on paged lists.
    - ``max_body_bytes``: largest request body accepted (1 MiB); larger ones are answered 413
      ``request.too_large`` before anything is parsed.
    - ``max_attachment_bytes``: largest approval attachment ``GET /api/approvals/{id}/
      attachments/{file_id}`` streams (``DINGSYNC_WEB_MAX_ATTACHMENT_BYTES``, 100 MiB); a
      larger one is 413 ``attachment.too_large``.
    """

    model_config = SettingsConfigDict(env_prefix="DINGSYNC_WEB_", extra="ignore")

    session_ttl_s: float = Field(8 * 3600.0, gt=0)
    replay_window_s: float = Field(60.0, ge=0)
    user_fresh_s: float = Field(3600.0, ge=0)
    jsapi_algorithm: Literal["sha256", "sha1"] = "sha256"
    warm_up: bool = True
    tree_cache_s: float = Field(10.0, ge=0)
    max_page_size: int = Field(500, ge=1)
    max_body_bytes: int = Field(1 << 20, ge=1024)
    max_attachment_bytes: int = Field(100 << 20, ge=1)
