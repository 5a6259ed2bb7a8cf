"""The sandbox's ``/attendance/list`` window cache (branch att20): the pages of a window are
sliced from the rows computed once, over loopback HTTP — byte for byte what a fresh computation
answers (order, ``offset``/``limit``/``hasMore``), bounded, and dropped by a punch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from dingsync.sandbox import SandboxServer
from dingsync.sandbox.attendance import state as state_mod
from dingsync.sandbox.attendance.limits import ERR_DATE, ERR_PARAM, ERR_SPAN
from dingsync.sandbox.attendance.wire import result_rows
from dingsync.sandbox.config import SandboxConfig
from dingsync.sandbox.wire import PlainJSON, dumps, oapi_response, plain_rows
from helpers.attendance import area_of, last_work_date, make_client
from helpers.sandboxes import mutate


@pytest.fixture
def sb() -> Iterator[SandboxServer]:  # per test: a punch changes the data
    with SandboxServer(SandboxConfig(seed=23, users=70, days=14, qps_limit=None)) as server:
        yield server


def _token(sb: SandboxServer) -> str:
    import asyncio

    async def go() -> str:
        async with make_client(sb) as client:
            return str(await client.get_access_token())

    return asyncio.run(go())


def _page(
    sb: SandboxServer, token: str, users: list[str], start: date, end: date, offset: int, limit: int
) -> bytes:
    """The raw body of one ``/attendance/list`` call."""
    resp = httpx.post(
        f"{sb.base_url}/attendance/list",
        params={"access_token": token},
        json={
            "workDateFrom": f"{start.isoformat()} 00:00:00",
            "workDateTo": f"{end.isoformat()} 00:00:00",
            "userIdList": users,
            "offset": offset,
            "limit": limit,
        },
        timeout=30,
    )
    assert resp.status_code == 200
    return resp.content


def _fresh(sb: SandboxServer, users: list[str], start: date, end: date) -> list[dict[str, Any]]:
    """The window's rows computed from the world now, as the handler did before the cache:
    people in request order (first occurrence), their days in date order, each day's rows."""
    area = area_of(sb)
    rows: list[dict[str, Any]] = []
    for userid in dict.fromkeys(users):
        per = area.world.by_user.get(userid, {})
        for n in range((end - start).days + 1):
            day = per.get(start + timedelta(days=n))
            if day is not None:
                rows.extend(result_rows(sb.app.corp_id, day))
    return rows


def _expected(rows: list[dict[str, Any]], offset: int, limit: int) -> bytes:
    page = rows[offset : offset + limit]
    return dumps(
        {"errcode": 0, "errmsg": "ok", "recordresult": page, "hasMore": offset + limit < len(rows)}
    )


def _all_pages(
    sb: SandboxServer, token: str, users: list[str], start: date, end: date, limit: int
) -> list[bytes]:
    fresh = _fresh(sb, users, start, end)
    pages = []
    for offset in range(0, len(fresh) + limit, limit):
        got = _page(sb, token, users, start, end, offset, limit)
        assert got == _expected(fresh, offset, limit), (offset, limit, got[:300].decode())
        pages.append(got)
    return pages


def test_pages_of_a_cached_window_are_a_fresh_computations_bytes(sb: SandboxServer) -> None:
    area = area_of(sb)
    token = _token(sb)
    people = sorted(area.world.by_user)[:50]
    end = last_work_date(sb)
    start = end - timedelta(days=6)
    first = _all_pages(sb, token, people, start, end, 50)
    assert len(first) >= 3 and b'"hasMore":true' in first[0] and b'"hasMore":false' in first[-1]
    assert len(area._windows) == 1  # every page sliced the one computed window
    assert [plain for _, plain in area._windows.values()] == [True]  # orjson wrote the pages
    assert _all_pages(sb, token, people, start, end, 50) == first  # served from the cache
    _all_pages(sb, token, people, start, end, 7)  # another limit, same window
    assert len(area._windows) == 1
    # The same people in another order (with a duplicate) is another answer, computed anew.
    shuffled = people[::-1][:47] + people[:3]
    _all_pages(sb, token, shuffled, start, end, 50)
    assert len(area._windows) == 2
    # A shorter window and an offset past the end.
    _all_pages(sb, token, people[:5], end - timedelta(days=1), end, 3)
    fresh = _fresh(sb, people, start, end)
    assert _page(sb, token, people, start, end, len(fresh) + 10, 50) == _expected(
        fresh, len(fresh) + 10, 50
    )


def test_bad_input_is_refused_as_before(sb: SandboxServer) -> None:
    token = _token(sb)
    people = sorted(area_of(sb).world.by_user)[:3]
    end = last_work_date(sb)
    refused = {
        ERR_DATE: _page(sb, token, people, end, end - timedelta(days=1), 0, 50),
        ERR_SPAN: _page(sb, token, people, end - timedelta(days=7), end, 0, 50),
        ERR_PARAM: _page(sb, token, people, end, end, 0, 51),  # limit ≤ 50
    }
    for errcode, body in refused.items():
        assert body.startswith(b'{"errcode":%d,' % errcode), body
    assert area_of(sb)._windows == {}  # refused calls compute nothing


def test_a_punch_drops_the_cached_windows(sb: SandboxServer) -> None:
    area = area_of(sb)
    token = _token(sb)
    people = sorted(area.world.by_user)[:50]
    end = last_work_date(sb)
    start = end - timedelta(days=6)
    # Someone of the window with a check point nobody punched (SYSTEM: NotSigned) in it.
    target = next(
        (day, point)
        for userid in people
        for n in range(7)
        if (day := area.world.by_user[userid].get(start + timedelta(days=n))) is not None
        for point in day.points
        if point.source_type == "SYSTEM"
    )
    day, point = target
    before = _all_pages(sb, token, people, start, end, 50)
    assert area._windows
    punch = mutate(
        sb,
        "attendance/punch",
        userid=day.userid,
        check_time=point.base_ms - 5 * 60_000,
        check_type=point.check_type,
    )
    assert punch["punch"]["decides"] and punch["punch"]["result_id"] == point.result_id
    assert not area._windows  # dropped by the punch
    after = _all_pages(sb, token, people, start, end, 50)  # equal to the world after the punch
    assert after != before
    mine = [
        r for r in _fresh(sb, people, start, end) if r["id"] == point.result_id
    ]  # the punched point's row now says USER with the punch's time
    assert mine and mine[0]["sourceType"] == "USER"
    assert mine[0]["userCheckTime"] == point.base_ms - 5 * 60_000


def test_the_cache_keeps_at_most_its_size(sb: SandboxServer, monkeypatch: Any) -> None:
    monkeypatch.setattr(state_mod, "WINDOW_CACHE_SIZE", 2)
    area = area_of(sb)
    token = _token(sb)
    people = sorted(area.world.by_user)
    end = last_work_date(sb)
    for i in range(4):  # four windows: 10 people each
        chunk = people[10 * i : 10 * i + 10]
        _all_pages(sb, token, chunk, end - timedelta(days=6), end, 50)
        assert len(area._windows) <= 2
    assert [k[4] for k in area._windows] == [tuple(people[20:30]), tuple(people[30:40])]


def _json_text(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def test_plain_json_bodies_are_json_dumps_bytes() -> None:
    text = "".join(map(chr, range(0x80))) + "\u2028\u2029考勤\ufdd0\U0001f600"
    body = {
        "errcode": 0,
        "floats": [30.285413, 120.017139, 0.0, -0.0, 1e-4, 9.999999999999998e15, 0.1 + 0.2],
        "rows": [{"k": text, "n": 2**64 - 1, "m": -(2**63), "b": True, "z": None}],
        "nested": {"list": [[1, "a"], []], "empty": {}},
    }
    assert dumps(PlainJSON(body)) == _json_text(body)
    huge = {"id": 2**64}  # orjson refuses it: json.dumps writes it
    assert dumps(PlainJSON(huge)) == _json_text(huge) == b'{"id":18446744073709551616}'
    assert plain_rows([{"a": 1, "b": "x", "c": None, "d": False}])
    assert plain_rows([{"lat": 30.285413, "zero": 0.0, "neg": -0.0, "small": 1e-4}])
    for odd in (1e-5, 1e16, -2.5e20, float("nan"), float("inf")):  # json.dumps: exponent, NaN
        assert not plain_rows([{"a": 1}, {"x": odd}])
        assert dumps(PlainJSON({"x": 1.5})) == _json_text({"x": 1.5})
    assert not plain_rows([{1: "a"}])  # non-str keys too
    assert not plain_rows([{"a": [1]}])  # rows are flat


def test_an_answer_page_is_plain_json_and_a_topapi_body_keeps_its_request_id() -> None:
    page = PlainJSON({"recordresult": [{"id": 1}], "hasMore": False})
    resp = oapi_response(PlainJSON({"errcode": 0, "errmsg": "ok", **page}), "topapi", "rid1")
    assert resp.body == _json_text(
        {
            "errcode": 0,
            "errmsg": "ok",
            "recordresult": [{"id": 1}],
            "hasMore": False,
            "request_id": "rid1",
        }
    )


def test_punches_and_schedules_of_a_window_are_json_dumps_bytes(sb: SandboxServer) -> None:
    """``listRecord`` (floats: coordinates) and ``schedule/listbyusers`` (a ``/topapi`` body
    with its ``request_id``) answer the text ``json.dumps`` writes for their content."""
    from dingsync.dingtalk.attendance import gmt8_ms

    token = _token(sb)
    people = sorted(area_of(sb).world.by_user)[:50]
    end = last_work_date(sb)
    start = end - timedelta(days=6)
    answers = [
        httpx.post(
            f"{sb.base_url}/attendance/listRecord",
            params={"access_token": token},
            json={
                "userIds": people,
                "checkDateFrom": f"{start.isoformat()} 00:00:00",
                "checkDateTo": f"{end.isoformat()} 23:59:59",
            },
            timeout=30,
        ),
        httpx.post(
            f"{sb.base_url}/topapi/attendance/schedule/listbyusers",
            params={"access_token": token},
            json={
                "op_user_id": people[0],
                "userids": ",".join(people),
                "from_date_time": gmt8_ms(start),
                "to_date_time": gmt8_ms(end, end_of_day=True),
            },
            timeout=30,
        ),
    ]
    for resp in answers:
        body = json.loads(resp.content)
        assert body["errcode"] == 0 and len(resp.content) > 10_000
        assert resp.content == _json_text(body)
    punches = json.loads(answers[0].content)["recordresult"]
    assert any(isinstance(p.get("userLatitude"), float) for p in punches)
    assert json.loads(answers[1].content)["request_id"]
