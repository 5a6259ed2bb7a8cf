"""``users.raw`` written through ``upsert_users`` (one JSON dump per person, shared by the
content digest and the column: ``repo.DumpedJSON``) is stored exactly as the plain column
stores the same payload, on real SQLite and PostgreSQL; the digest still tells every change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, String, cast, select

from dingsync.store import repo
from dingsync.store.schema import users

CORP, PLAIN = "ding_corp_dump", "ding_corp_plain"

PAYLOADS: list[dict[str, Any]] = [
    {"userid": "u1", "name": "刘杰", "dept_id_list": [1, 2], "active": True, "hired_date": 1},
    {"userid": "u2", "name": "a\x00b", "remark": "nul inside"},  # NUL: the escaping path
    {"userid": "u3", "name": "x", "extension": '{"爱好":"旅游"}', "\ufdd0k": "escape key"},
    {"userid": "u4", "name": "big", "n": 2**70},  # orjson refuses it: json.dumps' text
    {"userid": "u5", "name": "nested", "role_list": [{"id": 1, "name": None}], "f": 0.1},
]


def _rows(corp_id: str) -> list[dict[str, Any]]:
    return [
        {
            "corp_id": corp_id,
            "userid": p["userid"],
            "name": p["name"],
            "status": "active",
            "raw": dict(p),
        }
        for p in PAYLOADS
    ]


def _stored(engine: Engine, corp_id: str) -> dict[str, tuple[Any, str, str | None]]:
    with engine.connect() as conn:
        got = conn.execute(
            select(users.c.userid, users.c.raw, cast(users.c.raw, String), users.c.content_hash)
            .where(users.c.corp_id == corp_id)
            .order_by(users.c.userid)
        ).all()
    return {userid: (raw, text, digest) for userid, raw, text, digest in got}


def test_raw_is_stored_as_the_plain_column_stores_it(engine: Engine) -> None:
    with engine.begin() as conn:
        repo.upsert_users(conn, CORP, _rows(CORP))
        repo.upsert(conn, users, _rows(PLAIN), ["corp_id", "userid"])  # no digest, no reuse
    dumped, plain = _stored(engine, CORP), _stored(engine, PLAIN)
    assert set(dumped) == {p["userid"] for p in PAYLOADS}
    for payload in PAYLOADS:
        raw, text, digest = dumped[payload["userid"]]
        assert raw == payload and text == plain[payload["userid"]][1], payload["userid"]
        assert digest is not None and len(digest) == 32


def test_the_digest_tells_a_change_in_raw_and_in_the_columns(engine: Engine) -> None:
    with engine.begin() as conn:
        repo.upsert_users(conn, CORP, _rows(CORP))
    first = _stored(engine, CORP)
    rows = _rows(CORP)
    rows[0]["raw"]["title"] = "工程师"  # only the payload changes
    rows[1]["name"] = "renamed"  # only a column changes
    rows[3]["raw"]["n"] = 2**70 + 1  # beyond 64 bits, the json.dumps path
    with engine.begin() as conn:
        repo.upsert_users(conn, CORP, rows)
    second = _stored(engine, CORP)
    for userid in ("u1", "u2", "u4"):
        assert second[userid][2] != first[userid][2], userid
    assert second["u1"][0]["title"] == "工程师" and second["u4"][0]["n"] == 2**70 + 1
    for userid in ("u3", "u5"):
        assert second[userid] == first[userid], userid
