"""Settings of the web service (environment variables ``DINGSYNC_WEB_*`` or arguments)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebOptions(BaseSettings):
    """Web service knobs.

    - ``session_ttl_s``: session lifetime in seconds (``DINGSYNC_WEB_SESSION_TTL_S``, 8 h).
    - ``replay_window_s``: how long the same authCode posted again returns the same session
      (the double-tap rule, 60 s).
    - ``replay_wait_s``: how long a login whose authCode DingTalk refuses waits for another
      process's login of the same code to store its session (a double tap answered by two
      workers of ``serve --workers N``, or by two services on one database: the second
      exchange is refused while the first is still being stored). 0 (default) in one process,
      where a double tap waits for the first in memory; ``serve --workers N`` sets 2 s unless
      ``DINGSYNC_WEB_REPLAY_WAIT_S`` is given. A refused code with no login behind it is
      answered 401 after this long.
    - ``user_fresh_s``: a user row synced this recently is used as is at login (no
      ``/topapi/v2/user/get``), 1 h.
    - ``jsapi_algorithm``: ``sha256`` (default, current docs) or ``sha1`` (legacy clients).
    - ``warm_up``: fetch the access token and the JSAPI ticket when the service starts, so a
      login only makes the code exchange (and the user detail when needed).
    - ``tree_cache_s``: how long the department tree is cached in memory.
    - ``max_page_size``: cap of ``limit`` on paged lists.
    - ``max_body_bytes``: largest request body accepted (1 MiB); larger ones are answered 413
      ``request.too_large`` before anything is parsed.
    - ``public_url``: the service's own URL as browsers reach it (e.g.
      ``https://hr.example.com``), for the console's login ``redirect_uri``
      (``{public_url}/console/login/callback``, the URL registered in DingTalk's developer
      console); default: the host and scheme of the request.
    - ``max_attachment_bytes``: largest approval attachment ``GET /api/approvals/{id}/
      attachments/{file_id}`` streams (``DINGSYNC_WEB_MAX_ATTACHMENT_BYTES``, 100 MiB); a
      larger one is 413 ``attachment.too_large``.
    """

    model_config = SettingsConfigDict(env_prefix="DINGSYNC_WEB_", extra="ignore")

    session_ttl_s: float = Field(8 * 3600.0, gt=0)
    replay_window_s: float = Field(60.0, ge=0)
    replay_wait_s: float = Field(0.0, ge=0, le=30)
    user_fresh_s: float = Field(3600.0, ge=0)
    jsapi_algorithm: Literal["sha256", "sha1"] = "sha256"
    warm_up: bool = True
    tree_cache_s: float = Field(10.0, ge=0)
    max_page_size: int = Field(500, ge=1)
    max_body_bytes: int = Field(1 << 20, ge=1024)
    public_url: str | None = None
    max_attachment_bytes: int = Field(100 << 20, ge=1)

    @field_validator("public_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        """``http(s)://host[:port][/path]``: the console login's ``redirect_uri`` is built on
        it (``hr.example.com`` without a scheme sent DingTalk a relative URL)."""
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises for a port that is not a number
        except ValueError:
            raise ValueError("must be an http(s) URL: https://HOST[:PORT]") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL: https://HOST[:PORT]")
        return value


def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is this machine: ``localhost`` or a loopback address
    (127.0.0.0/8, ``::1``)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class DemoLogin:
    """One of the console's one-click demo logins: ``key`` (``hr``, ``employee``,
    ``main_admin``, ``leader``, ``sub_admin``; ``<role>-<corpId>`` with several companies),
    the button's ``label``, the sandbox person ``userid`` and their ``name`` (shown beside the
    button)."""

    key: str
    label: str
    userid: str
    name: str | None = None
    #: Several companies (``dingsync demo --isv``): the person's company, its name, and where
    #: its sandbox mints a login-free code (``…/sandbox/corps/{corpId}/authcode``).
    corp_id: str | None = None
    corp_name: str | None = None
    authcode_url: str | None = None


@dataclass(frozen=True)
class DemoLogins:
    """One-click logins on the console's login page, for ``dingsync demo`` **only**: each
    button runs the real browser login against the sandbox's login page (a sandbox login code,
    ``POST {sandbox_url}/sandbox/oauth/logincode``, makes it pick the person), and the page
    loads the sandbox's DingTalk client emulator (``/sandbox/dd.js``) instead of DingTalk's
    JSAPI. Never read from the environment: :func:`dingsync.web.create_app` takes it as an
    argument and refuses it unless ``DINGTALK_LOGIN_URL`` is ``sandbox_url`` on a loopback
    address (:func:`check_demo_logins`)."""

    sandbox_url: str
    people: tuple[DemoLogin, ...]
    #: The logins as of now (``dingsync demo``: people who left the sandbox's company are
    #: replaced by others still in it); ``None``: always ``people``.
    refresh: Callable[[], tuple[DemoLogin, ...]] | None = field(default=None, compare=False)

    def current(self) -> tuple[DemoLogin, ...]:
        """The logins to offer now: ``refresh()`` when given, else ``people``."""
        return self.refresh() if self.refresh is not None else self.people

    def person(self, key: str) -> DemoLogin | None:
        """The login of ``key`` among :meth:`current`, ``None`` for none."""
        return next((p for p in self.current() if p.key == key), None)


def check_demo_logins(demo: DemoLogins, login_url: str) -> None:
    """``ValueError`` unless the demo logins may be offered: the login host is the sandbox
    (``login_url`` is ``demo.sandbox_url``) and a loopback address — never real DingTalk."""
    if not is_loopback_url(login_url) or not is_loopback_url(demo.sandbox_url):
        raise ValueError(
            f"demo logins are for the sandbox only: DINGTALK_LOGIN_URL {login_url!r} is not a "
            "loopback address"
        )
    if login_url.rstrip("/") != demo.sandbox_url.rstrip("/"):
        raise ValueError(
            f"demo logins need DINGTALK_LOGIN_URL to be the sandbox ({demo.sandbox_url}), not "
            f"{login_url!r}"
        )
