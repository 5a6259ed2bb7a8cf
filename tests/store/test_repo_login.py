"""The login's combined reads (``store/repo_login.py``) on SQLite, PostgreSQL and MariaDB: for
every case a login meets — a fresh user, a stale one, one disabled locally, one who left, no
such user, the main and a sub-administrator, someone else's company, a relieved company, a
known and an unknown login code, attendance groups and local roles or none — they answer exactly
what the separate reads answer, and the user's row read with the first look is
``get_user``'s."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, Engine

from dingsync.store import (
    repo,
    repo_attendance,
    repo_contacts,
    repo_corps,
    repo_local_access,
    repo_login,
    repo_sessions,
)
from dingsync.store.schema import utcnow

ODD = "u\x00\ufdd0-1"  # a userid holding NUL and the escape character itself
PEOPLE = (ODD, "fresh", "stale", "disabled", "left", "main", "sub", "nobody")


def _seed(engine: Engine) -> None:
    now = utcnow()
    with engine.begin() as conn:
        for corp in ("c", "other"):
            repo.upsert_corp(conn, {"corp_id": corp, "name": f"Co {corp}"})
        repo_corps.register_corp(conn, {"corp_id": "c", "status": "active"})
        repo_corps.register_corp(conn, {"corp_id": "other", "status": "relieved"})

        def person(corp: str, userid: str, status: str = "active", age_s: int = 0) -> dict:
            return {
                "corp_id": corp,
                "userid": userid,
                "name": userid,
                "status": status,
                "synced_at": now - timedelta(seconds=age_s),
                "boss": userid == ODD,
                "raw": {"userid": userid, "name": f"{userid}\x00", "dept_id_list": [1]},
            }

        repo.upsert_users(
            conn,
            "c",
            [
                person("c", ODD),
                person("c", "fresh"),
                person("c", "stale", age_s=10**6),
                person("c", "disabled"),
                person("c", "left", status="inactive"),
                person("c", "main"),
                person("c", "sub"),
            ],
        )
        repo.upsert_users(conn, "other", [person("other", "fresh"), person("other", "main")])
        repo_local_access.set_local_disabled(conn, "c", "disabled", True)
        repo_contacts.set_admin_level(conn, "c", "main", 1)
        repo_contacts.set_admin_level(conn, "c", "sub", 2)
        repo_contacts.set_admin_level(conn, "other", "fresh", 1)  # the same userid elsewhere
        repo_local_access.grant_role(conn, "c", ODD, "hr", granted_by="admin")
        repo_local_access.grant_role(conn, "c", "main", "hr", granted_by="admin")
        repo_local_access.grant_role(conn, "c", "main", "admin", granted_by="admin")
        repo_local_access.grant_role(conn, "other", "fresh", "admin", granted_by="admin")
        repo_attendance.replace_groups(
            conn,
            "c",
            [{"group_id": 5, "group_name": "A"}, {"group_id": 9_000_000_001, "group_name": "B"}],
            {},
            {5: [ODD, "sub"], 9_000_000_001: [ODD]},
        )
        repo_attendance.replace_groups(
            conn, "other", [{"group_id": 7, "group_name": "C"}], {}, {7: ["fresh"]}
        )
        repo_sessions.create_session(
            conn,
            token_hash="h" * 64,
            corp_id="c",
            userid="fresh",
            created_at=now,
            expires_at=now + timedelta(hours=1),
        )
        repo_sessions.remember_login_code(
            conn,
            code_hash="k" * 64,
            corp_id="c",
            userid="fresh",
            session_hash="h" * 64,
            sealed_token=b"sealed",
            created_at=now - timedelta(days=2),
            expires_at=now - timedelta(days=2) + timedelta(seconds=60),  # expired, still known
        )


def _separate(conn: Connection, corp: str, userid: str, key: str | None) -> tuple:
    level, _scope = repo_contacts.admin_info(conn, corp, userid)
    return (
        repo_corps.corp_status(conn, corp),
        key is not None and repo_sessions.login_code_known(conn, key),
        level,
    )


def test_first_look_equals_the_separate_reads(engine: Engine) -> None:
    _seed(engine)
    seen = set()
    with engine.connect() as conn:
        for corp in ("c", "other", "unregistered"):
            for userid in PEOPLE:
                for key in ("k" * 64, "x" * 64, None):
                    look = repo_login.first_look(conn, corp, userid, key)
                    assert tuple(look) == _separate(conn, corp, userid, key), (corp, userid, key)
                    seen.add(tuple(look))
                    # With the user's row: the same look, and the row get_user gives (every
                    # column: JSON, NUL, booleans, aware datetimes), None when not stored.
                    both, user = repo_login.first_look_and_user(conn, corp, userid, key)
                    assert both == look, (corp, userid, key)
                    assert user == repo_contacts.get_user(conn, corp, userid), (corp, userid)
    # The cases did differ: every status, both answers for the code, every level.
    assert {s[0] for s in seen} == {"active", "relieved", None}
    assert {s[1] for s in seen} == {True, False}
    assert {s[2] for s in seen} == {1, 2, None}
    with engine.connect() as conn:
        _look, user = repo_login.first_look_and_user(conn, "c", ODD, None)
        assert user is not None and user["userid"] == ODD and user["name"] == ODD
        assert user["synced_at"].utcoffset() == timedelta(0)
        assert user["boss"] is True and user["raw"]["name"] == f"{ODD}\x00"
        assert repo_login.first_look_and_user(conn, "c", "nobody", None)[1] is None
        assert repo_login.first_look_and_user(conn, "other", "stale", None)[1] is None
    with engine.connect() as conn:
        look = repo_login.first_look(conn, "c", "main", "k" * 64)
        assert look == repo_login.FirstLook("active", True, 1)
        assert isinstance(look.admin_level, int)


def test_viewer_grants_equal_the_separate_reads(engine: Engine) -> None:
    _seed(engine)
    with engine.connect() as conn:
        for corp in ("c", "other", "unregistered"):
            for userid in PEOPLE:
                groups, roles = repo_login.viewer_grants(conn, corp, userid)
                expected = repo_attendance.managed_attendance_groups(conn, corp, userid)
                assert sorted(groups) == sorted(str(g) for g in expected), (corp, userid)
                assert len(groups) == len(expected)
                assert roles == repo_local_access.user_roles(conn, corp, userid), (corp, userid)
        groups, roles = repo_login.viewer_grants(conn, "c", ODD)
        assert sorted(groups) == ["5", "9000000001"] and roles == ["hr"]
        assert repo_login.viewer_grants(conn, "c", "main") == ([], ["admin", "hr"])
        assert repo_login.viewer_grants(conn, "other", "fresh") == (["7"], ["admin"])
        assert repo_login.viewer_grants(conn, "c", "nobody") == ([], [])
