"""An unexpected failure behind a console page (here a real one: a table the page reads is
gone from the database) is the console's HTML error page with the stable code ``internal`` and
nothing of the error; the JSON API keeps its JSON body for the same failure."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import Engine, text

from dingsync.sandbox import SandboxServer
from dingsync.store import db
from dingsync.web import create_app
from dingsync.web.console.session import COOKIE
from dingsync.web.options import WebOptions
from dingsync.web.server import WebServer
from helpers.web import _plain_user
from web.conftest import FakeClock, sandbox_settings


def test_a_failing_console_page_is_the_consoles_500_page(
    console_sandbox: tuple[SandboxServer, Engine], tmp_path: Path
) -> None:
    sb, _synced = console_sandbox
    engine = db.create_engine_for(f"sqlite:///{tmp_path / 'broken.db'}")
    db.migrate(engine)
    app = create_app(
        sandbox_settings(sb, str(engine.url)),
        engine=engine,
        options=WebOptions(),
        clock=FakeClock(),
    )
    userid = _plain_user(sb.state.company, 0)
    with WebServer(app) as server:
        code = httpx.post(f"{sb.base_url}/sandbox/authcode", json={"userid": userid}).json()["code"]
        login = httpx.post(f"{server.base_url}/api/auth/dingtalk", json={"authCode": code})
        assert login.status_code == 200, login.text
        token = login.json()["session"]["token"]
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE reports"))
        r = httpx.get(f"{server.base_url}/console/reports", cookies={COOKIE: token}, timeout=30)
        assert r.status_code == 500
        assert r.headers["content-type"].startswith("text/html")
        assert 'data-error-code="internal"' in r.text
        assert "no such table" not in r.text and "Traceback" not in r.text
        api = httpx.get(
            f"{server.base_url}/api/reports",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert api.status_code == 500 and api.json()["error"]["code"] == "internal"
    engine.dispose()
