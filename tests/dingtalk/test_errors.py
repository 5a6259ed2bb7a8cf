"""Error classification (reason = sub_code if present else errcode) and error hygiene."""

from __future__ import annotations

import pickle

import pytest

from dingsync.dingtalk import errors as E


@pytest.mark.parametrize(
    ("body", "cls"),
    [
        ({"errcode": 88, "sub_code": "40014", "sub_msg": "不合法的access_token"}, E.TokenError),
        ({"errcode": 88, "sub_code": "40000", "sub_msg": "access_token is blank"}, E.TokenError),
        ({"errcode": 40014, "errmsg": "不合法的access_token"}, E.TokenError),
        ({"errcode": 42001, "errmsg": "access_token超时"}, E.TokenError),
        ({"errcode": 88, "sub_code": "42001"}, E.TokenError),
        ({"errcode": 40001}, E.TokenError),
        ({"errcode": 33001}, E.TokenError),
        # EB-03: 88 may wrap throttling; the reason decides
        ({"errcode": 88, "sub_code": "90018", "sub_msg": "qps"}, E.RateLimitError),
        ({"errcode": 90018}, E.RateLimitError),
        ({"errcode": 90002}, E.RateLimitError),
        ({"errcode": 90001}, E.RateLimitError),
        ({"errcode": 90006}, E.RateLimitError),
        ({"errcode": 90020}, E.QuotaExceededError),
        ({"errcode": 60011}, E.PermissionDeniedError),
        ({"errcode": 43007}, E.PermissionDeniedError),
        ({"errcode": 50002}, E.PermissionDeniedError),
        ({"errcode": 50004}, E.PermissionDeniedError),
        ({"errcode": 60121}, E.NotFoundError),
        ({"errcode": 33012}, E.NotFoundError),
        ({"errcode": 60003}, E.NotFoundError),
        ({"errcode": 400002}, E.InvalidArgumentError),
        ({"errcode": 40035}, E.InvalidArgumentError),
        ({"errcode": 40068}, E.InvalidArgumentError),
        ({"errcode": 40069}, E.InvalidArgumentError),
        ({"errcode": 40009, "success": False}, E.InvalidArgumentError),
        ({"errcode": 41041}, E.InvalidArgumentError),
        ({"errcode": 41100}, E.InvalidArgumentError),
        ({"errcode": 40078}, E.AuthCodeError),
        ({"errcode": 41026}, E.AuthCodeError),
        ({"errcode": 40091}, E.AuthCodeError),
        ({"errcode": 40079}, E.AuthCodeError),
        ({"errcode": -1, "errmsg": "系统繁忙"}, E.ServerError),
        ({"errcode": 40096}, E.CredentialsError),
        ({"errcode": 40089}, E.CredentialsError),
        ({"errcode": "40078", "errmsg": "doc-style string errcode"}, E.AuthCodeError),
        ({"errcode": 123456}, E.DingTalkError),
        (
            {"status": 1111, "wait": 5, "source": "x5", "punish": "deny", "uuid": "x"},
            E.IPBannedError,
        ),
    ],
)
def test_oapi_classification(body: dict[str, object], cls: type[E.DingTalkError]) -> None:
    err = E.error_from_oapi_body(body, api="/topapi/v2/user/list")
    assert err is not None and type(err) is cls
    assert err.api == "/topapi/v2/user/list"


def test_success_is_none() -> None:
    assert E.error_from_oapi_body({"errcode": 0, "errmsg": "ok"}) is None
    assert E.error_from_oapi_body({"errcode": "0"}) is None
    assert E.error_from_oapi_body({"dept_ids": [1]}) is None  # no errcode at all


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "InvalidAuthentication", E.TokenError),
        (401, "-", E.TokenError),
        (401, "unauthorized.client", E.CredentialsError),
        (400, "invalidClientIdOrSecret", E.CredentialsError),
        (403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", E.RateLimitError),
        (403, "Forbidden.AccessDenied.QpsLimitForApi", E.RateLimitError),
        (403, "Forbidden.AccessDenied.QpmLimitForAppkeyAndApi", E.RateLimitError),
        (403, "Forbidden.AccessDenied.ApiCountLimitForOrg", E.QuotaExceededError),
        (200, "Forbidden.AccessDenied.ApiCountLimitForOrg", E.QuotaExceededError),  # EB-27
        (403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", E.PermissionDeniedError),
        (403, "Forbidden.AccessDenied.IpNotInWhiteList", E.PermissionDeniedError),
        (404, "invalidParameter.user.notFound", E.NotFoundError),
        (404, "whatever", E.NotFoundError),
        (400, "invalidParameter.param.invalid", E.InvalidArgumentError),
        (400, "invalidParameter.cursor.invalid", E.InvalidArgumentError),
        (400, "Missingbody", E.InvalidArgumentError),
        (400, "parameter.error", E.InvalidArgumentError),
        (429, "TooMany", E.RateLimitError),
        (500, "unknownError", E.ServerError),
        (500, "system.busy", E.ServerError),
        (502, "-", E.ServerError),
        (503, "-", E.ServerError),
    ],
)
def test_api_classification(status: int, code: str, cls: type[E.DingTalkError]) -> None:
    body = {"code": code, "requestid": "01A08FE7-X", "message": "m"}
    err = E.error_from_api_body(status, body, api="/v1.0/contact/empLeaveRecords")
    assert type(err) is cls
    assert err.errcode == code and err.http_status == status and err.request_id == "01A08FE7-X"


def test_reason_and_message() -> None:
    err = E.error_from_oapi_body(
        {
            "errcode": 88,
            "sub_code": "40014",
            "sub_msg": "不合法的access_token",
            "errmsg": "ding talk error[subcode=40014,submsg=不合法的access_token]",
            "request_id": "4e7exhl6pm0t",
        },
        api="/topapi/v2/user/get",
    )
    assert err is not None
    assert err.errcode == 88 and err.sub_code == "40014" and err.reason == "40014"
    assert err.request_id == "4e7exhl6pm0t"
    text = str(err)
    assert "88/40014" in text and "/topapi/v2/user/get" in text and "4e7exhl6pm0t" in text


def test_errors_pickle() -> None:
    err = E.RateLimitError(90018, "too fast", api="/topapi/x", request_id="r1", http_status=None)
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is E.RateLimitError
    assert (clone.errcode, clone.errmsg, clone.api, clone.request_id) == (
        90018,
        "too fast",
        "/topapi/x",
        "r1",
    )
    assert str(clone) == str(err)
