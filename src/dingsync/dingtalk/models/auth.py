"""Tokens, login-free (免登) user info and JSAPI tickets."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from dingsync.dingtalk.models._base import CamelModel, DingTalkModel

#: ``sys_level`` of the company's boss (老板) in login user info.
BOSS = 100


class AccessToken(DingTalkModel):
    """App access token from ``POST /v1.0/oauth2/accessToken`` (``accessToken``/``expireIn``),
    ``GET /gettoken`` or ``POST /v1.0/oauth2/{corpId}/token`` (``access_token``/``expires_in``).
    ``expires_in`` in seconds (7200)."""

    access_token: str = Field(validation_alias=AliasChoices("accessToken", "access_token"))
    expires_in: int = Field(7200, validation_alias=AliasChoices("expireIn", "expires_in"))

    def __repr__(self) -> str:
        return f"AccessToken(access_token='***', expires_in={self.expires_in})"


class UserAccessToken(CamelModel):
    """``POST /v1.0/oauth2/userAccessToken``: a *user* token (7200 s; refresh token 30 days)."""

    access_token: str
    refresh_token: str | None = None
    expire_in: int | None = None
    corp_id: str | None = None

    def __repr__(self) -> str:
        return f"UserAccessToken(access_token='***', corp_id={self.corp_id!r})"


class LoginUserInfo(DingTalkModel):
    """``POST /topapi/v2/user/getuserinfo`` → ``result``: who a login-free code belongs to.

    ``sys_level``: 1 main administrator, 2 sub-administrator, 100 boss, 0 anyone else
    (Number or numeric String accepted, EB-06).
    """

    userid: str
    device_id: str | None = None
    sys: bool | None = None
    sys_level: int | None = None
    associated_unionid: str | None = None
    unionid: str | None = None
    name: str | None = None


class LegacyLoginUserInfo(DingTalkModel):
    """``GET /user/getuserinfo`` (archived): top-level ``userid``, ``name``, ``deviceId``,
    ``is_sys``, ``sys_level`` (Number, or String in the legacy SDK — EB-06)."""

    userid: str
    name: str | None = None
    device_id: str | None = Field(None, alias="deviceId")
    is_sys: bool | None = None
    sys_level: int | None = None

    def to_login_user_info(self) -> LoginUserInfo:
        data = {
            "userid": self.userid,
            "name": self.name,
            "device_id": self.device_id,
            "sys": self.is_sys,
            "sys_level": self.sys_level,
        }
        return LoginUserInfo.model_validate({k: v for k, v in data.items() if v is not None})


class SnsUser(DingTalkModel):
    """``/sns/getuserinfo_bycode`` → ``user_info``."""

    nick: str | None = None
    unionid: str | None = None
    openid: str | None = None
    main_org_auth_high_level: bool | None = None
    ding_id: str | None = Field(None, alias="dingId")


class SnsUserInfo(DingTalkModel):
    """``POST /sns/getuserinfo_bycode`` (archived SNS login)."""

    user_info: SnsUser


class JsapiTicket(DingTalkModel):
    """JSAPI ticket from ``POST /v1.0/oauth2/jsapiTickets`` (``jsapiTicket``/``expireIn``) or
    ``GET /get_jsapi_ticket`` (``ticket``/``expires_in``). 7200 s, extended by re-fetching, at
    most 24 h from creation."""

    ticket: str = Field(validation_alias=AliasChoices("jsapiTicket", "ticket"))
    expires_in: int = Field(7200, validation_alias=AliasChoices("expireIn", "expires_in"))


class JsapiConfig(CamelModel):
    """What the page passes to ``dd.config``: ``agentId``, ``corpId``, ``timeStamp``,
    ``nonceStr``, ``signature`` (plus the signed ``url`` and the hash used, for reference)."""

    agent_id: str | None = None
    corp_id: str | None = None
    time_stamp: str
    nonce_str: str
    signature: str
    url: str
    type: int = 0
    algorithm: str = "sha256"
