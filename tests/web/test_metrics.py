"""``GET /metrics`` on the service: Prometheus text with the DingTalk calls of a login by API and
outcome, the login latency, sync lag per company and entity and the event inbox — and nothing
of the app secret or a session token."""

from __future__ import annotations

import re

from helpers.web import _plain_user

from .conftest import Web


def _value(text: str, series: str) -> float:
    found = re.search(rf"^{re.escape(series)} ([0-9.e+-]+)$", text, re.MULTILINE)
    assert found, f"{series} not in /metrics"
    return float(found.group(1))


def test_metrics_count_a_login_and_show_lag_and_inbox(web: Web) -> None:
    before = web.http.get("/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain")
    logins = 0.0
    if 'dingsync_login_seconds_count{outcome="ok"}' in before.text:
        logins = _value(before.text, 'dingsync_login_seconds_count{outcome="ok"}')

    userid = _plain_user(web.sb.state.company)
    r = web.login(userid)
    assert r.status_code == 200, r.text
    token = r.json()["session"]["token"]

    text = web.http.get("/metrics").text
    assert _value(text, 'dingsync_login_seconds_count{outcome="ok"}') == logins + 1
    assert (
        _value(
            text, 'dingsync_dingtalk_calls_total{api="/topapi/v2/user/getuserinfo",outcome="ok"}'
        )
        >= 1
    )
    corp = web.sb.app.corp_id
    assert _value(text, f'dingsync_sync_lag_seconds{{corp_id="{corp}",entity="contacts"}}') >= 0
    assert _value(text, f'dingsync_inbox_depth{{corp_id="{corp}"}}') >= 0
    assert web.sb.app.app_secret not in text and token not in text
    assert "/metrics" not in web.http.get("/openapi.json").text  # not part of the API
