"""The login's reads, separate against combined (issue 17, branch ``login21``), in one process.

The six reads of a fresh login that ``login21`` folds into two statements — the company's
status (``repo_corps.corp_status``), the replay record's existence
(``repo_sessions.login_code_known``), the user's row (``repo_contacts.get_user``), the
administrator level (``repo_contacts.admin_info``), the managed attendance groups
(``repo_attendance.managed_attendance_groups``) and the local roles
(``repo_local_access.user_roles``) — against ``repo_login.first_look_and_user`` and
``repo_login.viewer_grants``, in alternated batches on one connection of one engine, so the
machine's load hits both alike. Prints the process CPU (and wall) per login's worth of reads,
the median of the batches, and the median of the per-pair differences.

The database is made here (migrated, a company, 300 people, each in an attendance group, some
with a local role, a few administrators): SQLite in a temporary directory by default, or
``--database-url`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/dingsync_test_login21``;
it must exist and be empty — the tables are created by ``db.migrate``).

Usage: ``python benchmarks/profiles/store_hop21.py [--pairs 12] [--batch 2000]
[--database-url URL]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection

from dingsync.store import (
    db,
    repo,
    repo_attendance,
    repo_contacts,
    repo_corps,
    repo_local_access,
    repo_login,
    repo_sessions,
)
from dingsync.store.schema import utcnow

CORP = "dingbench21"


def _seed(url: str, people: int) -> None:
    engine = db.create_engine_for(url)
    db.migrate(engine)
    userids = [f"u{i:04d}" for i in range(people)]
    with engine.begin() as conn:
        repo.upsert_corp(conn, {"corp_id": CORP, "name": "Bench"})
        repo.upsert_users(
            conn,
            CORP,
            [
                {"corp_id": CORP, "userid": u, "name": u, "status": "active", "synced_at": utcnow()}
                for u in userids
            ],
        )
        for u in userids[:5]:
            repo_contacts.set_admin_level(conn, CORP, u, 2)
        for u in userids[::10]:
            repo_local_access.grant_role(conn, CORP, u, "hr", granted_by="bench")
        repo_attendance.replace_groups(
            conn,
            CORP,
            [{"group_id": g, "group_name": f"G{g}"} for g in range(10)],
            {},
            {g: userids[g::10] for g in range(10)},
        )
    engine.dispose()


def separate(conn: Connection, userid: str, key: str) -> object:
    """The six reads as ``main`` runs them."""
    return (
        repo_corps.corp_status(conn, CORP),
        repo_sessions.login_code_known(conn, key),
        repo_contacts.get_user(conn, CORP, userid),
        repo_contacts.admin_info(conn, CORP, userid)[0],
        [str(g) for g in repo_attendance.managed_attendance_groups(conn, CORP, userid)],
        repo_local_access.user_roles(conn, CORP, userid),
    )


def combined(conn: Connection, userid: str, key: str) -> object:
    """The same answers in two statements (``login21``)."""
    return (
        repo_login.first_look_and_user(conn, CORP, userid, key),
        repo_login.viewer_grants(conn, CORP, userid),
    )


def _batch(
    conn: Connection, reads: Callable[[Connection, str, str], object], n: int, people: int
) -> tuple[float, float]:
    """(CPU µs, wall µs) per login's worth of ``reads``."""
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(n):
        reads(conn, f"u{i % people:04d}", f"{i:064x}")
        if i % 50 == 49:
            conn.commit()  # a login's read transaction is short
    conn.commit()
    return (time.process_time() - cpu) * 1e6 / n, (time.perf_counter() - wall) * 1e6 / n


def main() -> None:
    parser = argparse.ArgumentParser(prog="store_hop21")
    parser.add_argument("--pairs", type=int, default=12)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'hop21.db'}"
    _seed(url, args.people)
    engine = db.create_engine_for(url)
    with engine.connect() as conn:
        for i in range(args.people):  # the same answers, checked before timing
            userid, key = f"u{i:04d}", f"{i:064x}"
            (look, user), (groups, roles) = combined(conn, userid, key)  # type: ignore[misc]
            status, known, old_user, level, old_groups, old_roles = separate(conn, userid, key)  # type: ignore[misc]
            assert tuple(look) == (status, known, level) and user == old_user, userid
            assert sorted(groups) == sorted(old_groups) and roles == old_roles, userid
        conn.commit()
        _batch(conn, separate, 200, args.people)
        _batch(conn, combined, 200, args.people)
        seps: list[tuple[float, float]] = []
        combs: list[tuple[float, float]] = []
        for pair in range(args.pairs):
            order = (separate, combined) if pair % 2 == 0 else (combined, separate)
            for reads in order:
                (seps if reads is separate else combs).append(
                    _batch(conn, reads, args.batch, args.people)
                )
    engine.dispose()
    diff = statistics.median(s[0] - c[0] for s, c in zip(seps, combs, strict=True))
    fewer = sum(c[0] < s[0] for s, c in zip(seps, combs, strict=True))
    print(f"database: {engine.dialect.name}, {args.pairs} pairs of {args.batch}-login batches")
    print(
        f"separate (6 statements): CPU {statistics.median(s[0] for s in seps):.1f} µs, "
        f"wall {statistics.median(s[1] for s in seps):.1f} µs per login (median of batches)"
    )
    print(
        f"combined (2 statements): CPU {statistics.median(c[0] for c in combs):.1f} µs, "
        f"wall {statistics.median(c[1] for c in combs):.1f} µs per login (median of batches)"
    )
    print(f"separate - combined, CPU: {diff:.1f} µs (median of pairs); combined cheaper in {fewer}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
