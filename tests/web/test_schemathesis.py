"""schemathesis against the OpenAPI spec, over loopback HTTP: no request makes a 5xx, and every
answer — successes and the error envelope alike — matches the document: its status code is
declared, its content type too, and its body validates against the declared schema.

Runs the generated cases of every operation (with a valid session, so the session-protected
routes get past authentication) against the service in front of the sandbox; the events
callback router (``/callbacks/…``) is tested on its own and left out here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from dingsync.store import db
from dingsync.web import create_app
from dingsync.web.server import WebServer

from .conftest import sandbox_settings, sync_directory

pytestmark = pytest.mark.filterwarnings("ignore")

#: What every generated request's answer must satisfy.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def served(sandbox, tmp_path_factory):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'd.db'}"
    engine = db.create_engine_for(url)
    db.migrate(engine)
    sync_directory(sandbox, engine)
    app = create_app(sandbox_settings(sandbox, url), engine=engine)
    with WebServer(app) as server:
        yield server
    engine.dispose()


@pytest.fixture(scope="module")
def session_token(served, sandbox) -> str:  # type: ignore[no-untyped-def]
    import httpx

    code = sandbox.mint_authcode(sandbox.company.main_admin_userid)
    r = httpx.post(f"{served.base_url}/api/auth/dingtalk", json={"authCode": code})
    r.raise_for_status()
    return str(r.json()["session"]["token"])


@pytest.fixture(scope="module")
def api_schema(served) -> Iterator[schemathesis.BaseSchema]:  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_url(f"{served.base_url}/openapi.json")
    yield schema.exclude(path_regex="^/callbacks")


def test_responses_follow_the_schema(api_schema, served, session_token) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {session_token}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    seen: list[str] = []
    statuses: Counter[int] = Counter()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: schemathesis.Case) -> None:
            if case.path.startswith("/api/admin/users/") and case.method.upper() == "POST":
                # Do not disable the session's own account half-way through the run.
                case.path_parameters = {**(case.path_parameters or {}), "userid": "someone-else"}
            response = case.call(base_url=served.base_url, headers=headers, timeout=30)
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS)

        run()
        seen.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /api/auth/dingtalk" in seen and "POST /api/exports" in seen
    assert statuses[200] > 0 and sum(n for s, n in statuses.items() if 400 <= s < 500) > 0
    assert not [s for s in statuses if s >= 500]
