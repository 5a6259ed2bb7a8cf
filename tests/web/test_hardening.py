"""A tester's findings on the web service, each as a regression test over loopback HTTP on
SQLite and PostgreSQL: out-of-range dates, NUL characters and over-long ids (PostgreSQL 500s),
Asia/Shanghai default dates, sessions of people who left, the body-size limit, strict export
filters, error codes outside the table, admin lock-outs, and getuserinfo's ``sys_level``."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
import sqlalchemy as sa

from dingsync.export.attendance import TIME_RESULT_LABELS
from dingsync.sandbox import SandboxServer
from dingsync.store import db, repo_contacts, repo_events
from dingsync.store.schema import admins, users
from dingsync.store.schema_web import web_export_audit, web_user_roles
from dingsync.web import create_app
from dingsync.web.console.pages import approvals as approval_pages
from dingsync.web.console.pages import attendance as attendance_pages
from dingsync.web.data import ApprovalResult, ApprovalStatus, CheckType, TimeResult
from dingsync.web.errors import ERRORS
from dingsync.web.server import WebServer
from helpers.web import _error, _plain_user

from .conftest import Web, sandbox_settings, sync_report_templates

ROOT = Path(__file__).resolve().parents[2]

#: 20:00 UTC on 2026-11-30 is 04:00 on 2026-12-01 in Shanghai.
EVENING_UTC = datetime(2026, 11, 30, 20, 0, tzinfo=UTC).timestamp()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _audit_count(web: Web) -> int:
    with web.engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(web_export_audit)).scalar_one()
        )


# --------------------------------------------------------------------------------------------
# 3. Days out of range are a 422, not an OverflowError (500)
# --------------------------------------------------------------------------------------------
def test_days_out_of_range_are_request_invalid(web: Web) -> None:
    token = web.token(web.sb.company.main_admin_userid)
    for path in ("/api/attendance/results", "/api/attendance/summary", "/api/reports"):
        for params in (
            {"end_date": "9999-12-31"},
            {"start_date": "9999-12-31", "end_date": "9999-12-31"},
            {"start_date": "0001-01-01", "end_date": "0001-01-05"},
            {"start_date": "0001-01-01"},
        ):
            r = web.get(path, token, params=params)
            assert _error(r) == (422, "request.invalid"), (path, params, r.text)
    assert web.get("/api/attendance/summary", token).status_code == 200


#: Every data route with ``start_date`` / ``end_date`` query parameters.
DAY_ROUTES = (
    ("/api/reports", {}),
    ("/api/reports/stats", {"template": "日报"}),
    ("/api/attendance/results", {}),
    ("/api/attendance/summary", {}),
    ("/api/attendance/daily", {}),
    ("/api/attendance/records", {}),
    ("/api/approvals", {}),
    ("/api/approvals/stats", {}),
)


def test_query_days_are_iso_dates_only(web: Web) -> None:
    """``start_date`` / ``end_date`` are ``YYYY-MM-DD`` (README) as the export filters are: a
    Unix time (``0`` was read as 1970-01-01, ``1796572800`` refused with a datetime message) or
    a datetime is 422 ``request.invalid`` naming the parameter; a plain day still answers."""
    sync_report_templates(web.sb, web.engine)  # /api/reports/stats needs 日报 known
    token = web.token(web.sb.company.main_admin_userid)
    for path, base in DAY_ROUTES:
        for name in ("start_date", "end_date"):
            for bad in ("0", "86400", "1796572800", "2026-12-01T00:00:00", "20261201", "2026-1-5"):
                r = web.get(path, token, params={**base, name: bad})
                assert _error(r) == (422, "request.invalid"), (path, name, bad, r.text)
                assert r.json()["error"]["details"][0]["loc"] == ["query", name], r.text
        ok = web.get(
            path, token, params={**base, "start_date": "2026-11-30", "end_date": "2026-12-06"}
        )
        assert ok.status_code == 200, (path, ok.text)


def test_query_and_filter_days_lie_in_years_1900_to_9998(web: Web) -> None:
    """The days a filter may name are the console's and the CLI's (README: years 1900 …
    9998): one just outside — even one the API could turn into instants (1899-12-31 was
    answered 200 with every row, 9999-01-01 alone 200) — is 422 ``request.invalid`` naming
    the parameter and the range, on every data route and in the export filters; the bounds
    themselves answer."""
    sync_report_templates(web.sb, web.engine)  # /api/reports/stats needs 日报 known
    token = web.token(web.sb.company.main_admin_userid)
    for path, base in DAY_ROUTES:
        for name in ("start_date", "end_date"):
            for bad in ("1899-12-31", "9999-01-01", "0001-01-01"):
                r = web.get(path, token, params={**base, name: bad})
                assert _error(r) == (422, "request.invalid"), (path, name, bad, r.text)
                detail = r.json()["error"]["details"][0]
                assert detail["loc"] == ["query", name], r.text
                assert "1900-01-01 … 9998-12-31" in detail["msg"], r.text
        for first, last in (("1900-01-01", "1900-01-07"), ("9998-12-25", "9998-12-31")):
            r = web.get(path, token, params={**base, "start_date": first, "end_date": last})
            assert r.status_code == 200, (path, first, r.text)
    before = _audit_count(web)
    for name in ("start_date", "end_date"):
        filters = {"template": "日报", name: "1899-12-31"}
        r = web.post("/api/exports", token, json={"kind": "reports", "filters": filters})
        assert _error(r) == (422, "request.invalid"), (filters, r.text)
        assert f"filters.{name}" in r.json()["error"]["message"], r.text
    assert _audit_count(web) == before


# --------------------------------------------------------------------------------------------
# 4. NUL characters and over-long userids (PostgreSQL 500s, SQLite junk rows)
# --------------------------------------------------------------------------------------------
def test_nul_characters_and_long_userids_are_refused(web: Web) -> None:
    admin = web.token(web.sb.company.main_admin_userid)
    h = _auth(admin)
    refused = [
        web.http.post("/api/admin/users/a%00b/disable", headers=h),
        web.http.post("/api/admin/users/a%00b/enable", headers=h),
        web.http.put("/api/admin/roles/a%00b/hr", headers=h),
        web.http.get("/api/users/a%00b", headers=h),
        web.http.get("/api/reports/a%00b", headers=h),
        web.http.get("/api/approvals/a%00b", headers=h),
        web.http.get("/api/reports", headers=h, params={"creator": "a\x00"}),
        web.http.get("/api/users", headers=h, params={"q": "a\x00"}),
        web.http.get("/api/attendance/results", headers=h, params={"time_result": "\x00"}),
        web.http.get("/api/jsapi/config", headers=h, params={"url": "https://a.example/\x00"}),
        web.http.post(
            "/api/exports", headers=h, json={"kind": "reports", "filters": {"template": "日\x00报"}}
        ),
        web.http.post("/api/exports", headers=h, json={"kind": "users", "filters": {"\x00": 1}}),
        web.http.post("/api/exports", headers=h, json={"kind": "us\x00ers"}),
        web.http.post("/api/admin/users/" + "x" * 65 + "/disable", headers=h),
        web.http.post("/api/admin/users/" + "x" * 5000 + "/enable", headers=h),
        web.http.put("/api/admin/roles/" + "y" * 5000 + "/hr", headers=h),
        web.http.delete("/api/admin/roles/" + "y" * 65 + "/hr", headers=h),
    ]
    for r in refused:
        assert _error(r) == (422, "request.invalid"), (r.request.url, r.text)
        assert r.json()["error"]["details"], r.text
    with web.engine.connect() as conn:
        stored = conn.execute(sa.select(users.c.userid)).scalars().all()
        stored += conn.execute(sa.select(web_user_roles.c.userid)).scalars().all()
    assert not [u for u in stored if "\x00" in u or len(u) > 64 or u == "ab"]
    # A userid of exactly the column's length is accepted (and unknown: 404).
    assert _error(web.http.post("/api/admin/users/" + "z" * 64 + "/enable", headers=h)) == (
        404,
        "not_found",
    )


# --------------------------------------------------------------------------------------------
# 4b. Enumerated filters take only their values: an unknown one is a 422, not an empty 200
# --------------------------------------------------------------------------------------------
def test_unknown_enumerated_filter_values_are_request_invalid(web: Web) -> None:
    admin = web.token(web.sb.company.main_admin_userid)
    enums = {
        ("/api/approvals", "status"): get_args(ApprovalStatus),
        ("/api/approvals", "result"): get_args(ApprovalResult),
        ("/api/attendance/results", "time_result"): get_args(TimeResult),
        ("/api/attendance/records", "check_type"): get_args(CheckType),
    }
    for (path, name), values in enums.items():
        for bad in ("BOGUS", values[0].swapcase()):
            r = web.get(path, admin, params={name: bad})
            assert _error(r) == (422, "request.invalid"), (path, name, bad, r.text)
            assert r.json()["error"]["details"][0]["loc"] == ["query", name], r.text
        for good in values:
            r = web.get(path, admin, params={name: good})
            assert r.status_code == 200, (path, name, good, r.text)
    # The console's choices are the API's values (its pages pass them through).
    assert set(approval_pages.STATUS_LABELS) == set(get_args(ApprovalStatus))
    assert set(approval_pages.RESULT_LABELS) == set(get_args(ApprovalResult))
    assert set(TIME_RESULT_LABELS) == set(get_args(TimeResult))
    assert set(attendance_pages.CHECK_LABELS) == set(get_args(CheckType))


# --------------------------------------------------------------------------------------------
# 5. Default dates are Asia/Shanghai calendar days, whatever the host's zone or UTC says
# --------------------------------------------------------------------------------------------
@pytest.fixture
def evening(web: Web) -> Iterator[Web]:
    """The same store and sandbox, served by an app whose clock says 20:00 UTC, 2026-11-30;
    the sandbox's report templates synced (an export of a template never synced is refused)."""
    sync_report_templates(web.sb, web.engine)
    url = web.engine.url.render_as_string(hide_password=False)
    app = create_app(sandbox_settings(web.sb, url), engine=web.engine, clock=lambda: EVENING_UTC)
    with WebServer(app) as server, httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield Web(web.sb, web.engine, server, web.clock, http)


def test_default_dates_are_shanghai_days(evening: Web) -> None:
    token = evening.token(evening.sb.company.main_admin_userid)
    summary = evening.get("/api/attendance/summary", token).json()
    assert (summary["start_date"], summary["end_date"]) == ("2026-12-01", "2026-12-01")
    assert evening.get("/api/attendance/results", token).status_code == 200

    r = evening.post(
        "/api/exports", token, json={"kind": "reports", "filters": {"template": "日报"}}
    )
    assert r.status_code == 200, r.text
    assert "reports-20261201-040000" in r.headers["content-disposition"]
    audit = evening.get("/api/exports/audit", token, params={"limit": 1}).json()["items"][0]
    assert audit["id"] == int(r.headers["x-export-audit-id"])
    assert audit["filters"]["requested"] == {"template": "日报"}
    assert audit["filters"]["applied"] == {
        "template": "日报",
        "start_date": "2026-11-01",
        "end_date": "2026-12-01",
    }

    r = evening.post("/api/exports", token, json={"kind": "attendance", "format": "csv"})
    assert r.status_code == 200, r.text
    audit = evening.get("/api/exports/audit", token, params={"limit": 1}).json()["items"][0]
    assert audit["kind"] == "attendance" and audit["filters"]["applied"] == {"month": "2026-12"}


# --------------------------------------------------------------------------------------------
# 6. Someone who left keeps no working session
# --------------------------------------------------------------------------------------------
def test_sessions_of_people_who_left_are_refused(web: Web) -> None:
    corp = web.sb.app.corp_id
    leaver = _plain_user(web.sb.company, 60)
    code = web.authcode(leaver)
    r = web.http.post("/api/auth/dingtalk", json={"authCode": code})
    assert r.status_code == 200, r.text
    token = r.json()["session"]["token"]
    assert web.get("/api/me", token).status_code == 200
    with web.engine.begin() as conn:  # what the user_leave_org event handler stores
        assert repo_events.mark_user_left(conn, corp, leaver, datetime.now(UTC))
    for path in ("/api/me", "/api/users", "/api/reports", "/api/exports/kinds"):
        assert _error(web.get(path, token)) == (401, "session.user_inactive"), path
    # The same code again (a double tap within 60 s) does not bring the session back.
    again = web.http.post("/api/auth/dingtalk", json={"authCode": code})
    assert _error(again) == (403, "auth.user_not_found")
    # DingTalk still knows them here (only the store heard of a leave): a new login asks
    # DingTalk again, stores them active, and works.
    fresh = web.login(leaver)
    assert fresh.status_code == 200, fresh.text
    assert web.get("/api/me", fresh.json()["session"]["token"]).status_code == 200


# --------------------------------------------------------------------------------------------
# 7. Request bodies are limited before anything is parsed, before and after login
# --------------------------------------------------------------------------------------------
def _raw_request(web: Web, head: bytes) -> tuple[int, dict[str, Any]]:
    """Send only the request head (a huge Content-Length, no body) and read the answer."""
    with socket.create_connection((web.server.host, web.server.port), timeout=10) as s:
        s.sendall(head)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                headers, _, body = data.partition(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", headers)
                if length and len(body) >= int(length.group(1)):
                    break
    status = int(data.split(b" ", 2)[1])
    return status, json.loads(data.partition(b"\r\n\r\n")[2])


def test_request_bodies_are_limited(web: Web) -> None:
    limit = 1 << 20
    for path in ("/api/auth/dingtalk", "/api/exports"):
        status, body = _raw_request(
            web,
            f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            "Content-Length: 209715200\r\n\r\n{".encode(),
        )
        assert (status, body["error"]["code"]) == (413, "request.too_large")
        assert body["error"]["limit"] == limit
    big = {"authCode": "x", "pad": "a" * (limit + 10)}
    r = web.http.post("/api/auth/dingtalk", json=big)
    assert _error(r) == (413, "request.too_large")
    token = web.token(web.sb.company.main_admin_userid)
    r = web.post("/api/exports", token, json={"kind": "users", "filters": {"x": "a" * limit}})
    assert _error(r) == (413, "request.too_large")

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"authCode": "x", "pad": "'
        for _ in range(20):
            yield b"a" * 65536
        yield b'"}'

    r = web.http.post(
        "/api/auth/dingtalk", content=chunked(), headers={"content-type": "application/json"}
    )
    assert _error(r) == (413, "request.too_large")
    # Just under the limit is read and answered as usual.
    fits = {"authCode": "not-a-code", "pad": "a" * (limit - 100)}
    assert _error(web.http.post("/api/auth/dingtalk", json=fits)) == (401, "auth.code_invalid")


# --------------------------------------------------------------------------------------------
# 8. Export filters are checked strictly, per kind
# --------------------------------------------------------------------------------------------
BAD_FILTERS: list[tuple[str, dict[str, Any], str]] = [
    ("users", {"dept": 1}, "dept"),
    ("users", {"include_inactive": "false"}, "include_inactive"),
    ("users", {"recursive": "no"}, "recursive"),
    ("users", {"recursive": 0}, "recursive"),
    ("users", {"dept_id": 1.5}, "dept_id"),
    ("users", {"dept_id": "abc"}, "dept_id"),
    ("users", {"dept_id": "5"}, "dept_id"),
    ("users", {"dept_id": 2**70}, "dept_id"),
    ("users", {"dept_id": -1}, "dept_id"),
    ("users", {"dept_id": True}, "dept_id"),
    ("users", {"dept_id": [1]}, "dept_id"),
    ("reports", {}, "template"),
    ("reports", {"template": 123}, "template"),
    ("reports", {"template": "日报", "start_date": "2026-13-01"}, "start_date"),
    ("reports", {"template": "日报", "start_date": "2026-02-30"}, "start_date"),
    ("reports", {"template": "日报", "start_date": 20261101}, "start_date"),
    ("reports", {"template": "日报", "start_date": "2026-11-01T00:00:00"}, "start_date"),
    ("reports", {"template": "日报", "end_date": ["2026-11-01"]}, "end_date"),
    ("reports", {"template": "日报", "creator": ["a"]}, "creator"),
    ("reports", {"template": "日报", "creator": "x" * 65}, "creator"),
    ("reports", {"template": "日报", "dept_id": 2**63}, "dept_id"),
    ("reports", {"template": "日报", "tempalte": "周报"}, "tempalte"),
    ("attendance", {"month": "2026-1"}, "month"),
    ("attendance", {"month": "2026-13"}, "month"),
    ("attendance", {"month": "2026-11-05"}, "month"),
    ("attendance", {"month": "0000-01"}, "month"),
    ("attendance", {"month": "9999-12"}, "month"),
    ("attendance", {"month": 202611}, "month"),
    ("attendance", {"month": "2026-11", "dept_id": "x"}, "dept_id"),
    ("attendance", {"month": "2026-11", "userid": "u"}, "userid"),
    ("approvals", {}, "(object)"),
    ("approvals", {"template": "报销", "status": 5}, "status"),
    ("approvals", {"template": "报销", "status": "BOGUS"}, "status"),
    ("approvals", {"template": "报销", "result": "approved"}, "result"),
    ("approvals", {"template": "报销", "start_date": "x"}, "start_date"),
    ("approvals", {"template": "报销", "originator": 1}, "originator"),
]


def test_export_filters_are_strict(web: Web) -> None:
    token = web.token(web.sb.company.main_admin_userid)
    before = _audit_count(web)
    for kind, filters, field in BAD_FILTERS:
        r = web.post("/api/exports", token, json={"kind": kind, "filters": filters})
        assert _error(r) == (422, "request.invalid"), (kind, filters, r.text)
        error = r.json()["error"]
        assert f"filters.{field}" in error["message"], (kind, filters, error)
        if field != "(object)":
            assert ["body", "filters", field] in [d["loc"][:3] for d in error["details"]]
    # Out-of-range days in otherwise valid filters are refused too.
    for filters in (
        {"template": "日报", "end_date": "9999-12-31"},
        {"template": "日报", "start_date": "0001-01-01", "end_date": "0001-01-05"},
        {"template": "日报", "start_date": "2026-11-28", "end_date": "2026-11-01"},
    ):
        r = web.post("/api/exports", token, json={"kind": "reports", "filters": filters})
        assert _error(r) == (422, "request.invalid"), (filters, r.text)
    assert _audit_count(web) == before  # nothing refused was audited
    # Valid filters (null meaning "not given") still export.
    ok = web.post(
        "/api/exports",
        token,
        json={
            "kind": "users",
            "format": "csv",
            "filters": {"dept_id": None, "recursive": False, "include_inactive": False},
        },
    )
    assert ok.status_code == 200, ok.text
    kinds = {k["kind"]: k["filters"] for k in web.get("/api/exports/kinds", token).json()["kinds"]}
    assert set(kinds["attendance"]) == {"month", "dept_id"}
    assert "Asia/Shanghai" in kinds["reports"]["end_date"]


# --------------------------------------------------------------------------------------------
# 9. Every answer's code is in the table (docs/web.md and the README)
# --------------------------------------------------------------------------------------------
def test_http_level_refusals_use_the_table(web: Web) -> None:
    token = web.token(_plain_user(web.sb.company, 61))
    r = web.http.delete("/api/me", headers=_auth(token))
    assert _error(r) == (405, "method_not_allowed") and "GET" in r.headers["allow"]
    deep = b'{"kind": "users", "filters": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    r = web.http.post(
        "/api/exports", content=deep, headers={**_auth(token), "content-type": "application/json"}
    )
    assert _error(r) == (422, "request.invalid")
    assert _error(web.http.get("/api/nope")) == (404, "not_found")
    assert _error(web.http.post("/api/auth/dingtalk")) == (400, "auth.code_missing")


def _table_codes(text: str) -> dict[str, int]:
    return {
        m.group(2): int(m.group(1))
        for m in re.finditer(r"^\| (\d{3}) \| `([a-z_.]+)` \|", text, flags=re.MULTILINE)
    }


def test_every_error_code_is_documented() -> None:
    table = {code: status for code, (status, _message) in ERRORS.items()}
    assert _table_codes((ROOT / "docs" / "web.md").read_text(encoding="utf-8")) == table
    assert _table_codes((ROOT / "README.md").read_text(encoding="utf-8")) == table


# --------------------------------------------------------------------------------------------
# 10. No lock-out through the admin API
# --------------------------------------------------------------------------------------------
def test_admin_api_refuses_lock_outs(web: Web) -> None:
    company = web.sb.company
    main = company.main_admin_userid
    main_token = web.token(main)
    local_admin = _plain_user(company, 62)
    granted = web.http.put(f"/api/admin/roles/{local_admin}/admin", headers=_auth(main_token))
    assert granted.status_code == 200, granted.text
    try:
        local_token = web.token(local_admin)
        r = web.post(f"/api/admin/users/{main}/disable", local_token)
        assert _error(r) == (409, "admin.main_admin_protected")
        r = web.post(f"/api/admin/users/{main}/disable", main_token)
        assert _error(r) == (409, "admin.self_disable")
        r = web.post(f"/api/admin/users/{local_admin}/disable", local_token)
        assert _error(r) == (409, "admin.self_disable")
        assert web.get("/api/me", main_token).status_code == 200
        assert web.get("/api/me", local_token).status_code == 200
        # Unknown people get no role and cannot be "enabled"; disabling ahead stays possible.
        r = web.http.put("/api/admin/roles/nobody-here/hr", headers=_auth(main_token))
        assert _error(r) == (404, "not_found")
        r = web.post("/api/admin/users/nobody-here/enable", main_token)
        assert _error(r) == (404, "not_found")
        with web.engine.connect() as conn:
            assert repo_contacts.get_user(conn, web.sb.app.corp_id, "nobody-here") is None
    finally:
        web.http.delete(f"/api/admin/roles/{local_admin}/admin", headers=_auth(main_token))


# --------------------------------------------------------------------------------------------
# 11. getuserinfo's sys_level on a database that was never synced
# --------------------------------------------------------------------------------------------
def test_sys_level_of_the_login_counts_on_an_unsynced_database(
    sandbox: SandboxServer, data_db_url: str
) -> None:
    engine = db.create_engine_for(data_db_url)
    db.migrate(engine)
    corp = sandbox.app.corp_id
    company = sandbox.company
    stale = _plain_user(company, 63)
    with engine.begin() as conn:  # a main administrator DingTalk no longer lists
        conn.execute(sa.insert(admins).values(corp_id=corp, userid=stale, sys_level=1))
    app = create_app(sandbox_settings(sandbox, data_db_url), engine=engine)
    try:
        with WebServer(app) as server, httpx.Client(base_url=server.base_url) as http:

            def login(userid: str) -> dict[str, Any]:
                code = sandbox.mint_authcode(userid)
                r = http.post("/api/auth/dingtalk", json={"authCode": code})
                assert r.status_code == 200, r.text
                return dict(r.json())

            main = login(company.main_admin_userid)
            assert "main_admin" in main["roles"] and main["permissions"]["admin"] is True
            assert main["permissions"]["reports"]["export"] == "all"
            sub = login(company.sub_admin_userids[0])  # no scope known: nothing extra
            assert "main_admin" not in sub["roles"] and sub["permissions"]["admin"] is False
            assert "main_admin" not in login(stale)["roles"]
        with engine.connect() as conn:
            levels = dict(
                conn.execute(
                    sa.select(admins.c.userid, admins.c.sys_level).where(admins.c.corp_id == corp)
                ).all()
            )
        assert levels == {company.main_admin_userid: 1}
    finally:
        engine.dispose()
