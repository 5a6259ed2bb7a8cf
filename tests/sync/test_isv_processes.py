"""Company tokens of one suite in two real processes, one company each, sharing the database
token cache (``DatabaseTokenStore``) and the stored ``suite_ticket``: each gets its own
company's token under its own key (``isv:<suiteKey>:corp:<corpId>``) and its own company's data,
both share one suite token (``isv:<suiteKey>:suite``), nothing collides — on SQLite and
PostgreSQL, against the sandbox suite over loopback HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import sqlalchemy as sa

from dingsync.sandbox.isv import IsvConfig, IsvSandboxServer
from dingsync.store.isv import SuiteTicketStore
from dingsync.store.schema import token_cache

WORKER = textwrap.dedent(
    """
    import asyncio, json, sys
    from dingsync.dingtalk.isv import SuiteClient
    from dingsync.store import db
    from dingsync.store.isv import SuiteTicketStore
    from dingsync.store.tokens import DatabaseTokenStore

    db_url, base, suite_key, secret, corp_id, rounds = sys.argv[1:7]

    async def main() -> None:
        engine = db.create_engine_for(db_url)
        client = SuiteClient(suite_key, secret, SuiteTicketStore(engine), oapi_url=base,
                             api_url=base, token_store=DatabaseTokenStore(engine),
                             qps_per_api=None)
        counts, tokens = [], set()
        async with client:
            api = client.corp_client(corp_id)
            for _ in range(int(rounds)):
                body = await api.oapi("POST", "/topapi/user/count", json={"only_active": False})
                counts.append(body["result"]["count"])
                tokens.add(await api.get_access_token())
                info = await client.get_auth_info(corp_id)
                assert info.corp_id == corp_id
            print(json.dumps({"counts": counts, "tokens": sorted(tokens),
                              "suite_token": await client.suite_access_token(),
                              "calls": dict(api.calls)}))
        engine.dispose()

    asyncio.run(main())
    """
)


def test_two_processes_one_company_each_share_the_database_cache(
    engine: sa.Engine, db_url: str, tmp_path: Path
) -> None:
    cfg = IsvConfig(seed=31, corps=[(931, 22), (932, 37)], days=1)
    with IsvSandboxServer(cfg) as sb:
        ticket = httpx.get(f"{sb.base_url}/sandbox/isv").json()["suite_ticket"]
        assert SuiteTicketStore(engine).offer_sync(sb.suite_key, ticket, 1, "manual")
        script = tmp_path / "worker.py"
        script.write_text(WORKER, encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        procs = {
            corp_id: subprocess.Popen(
                [
                    sys.executable,
                    str(script),
                    db_url,
                    sb.base_url,
                    sb.suite_key,
                    sb.suite_secret,
                    corp_id,
                    "20",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for corp_id in sb.corps
        }
        results = {}
        for corp_id, proc in procs.items():
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            results[corp_id] = json.loads(out.strip().splitlines()[-1])

    with engine.connect() as conn:
        cached = dict(conn.execute(sa.select(token_cache.c.cache_key, token_cache.c.token)).all())
    suite_key = f"isv:{sb.suite_key}:suite"
    assert set(cached) == {suite_key} | {f"isv:{sb.suite_key}:corp:{c}" for c in sb.corps}
    for corp_id, result in results.items():
        company = sb.corps[corp_id].state.company
        assert result["counts"] == [len(company.users)] * 20  # its own company, every time
        assert result["tokens"] == [cached[f"isv:{sb.suite_key}:corp:{corp_id}"]]
        assert result["suite_token"] == cached[suite_key]  # one suite token for both
    tokens = [r["tokens"][0] for r in results.values()]
    assert len(set(tokens)) == 2  # no company got the other's token
