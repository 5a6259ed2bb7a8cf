"""How ``dingsync serve`` runs the app: the garbage collector set up for serving
(:func:`gc_for_serving`)."""

from __future__ import annotations

import gc

from dingsync.web.server import GC_YOUNG_THRESHOLD, gc_for_serving
from helpers.web import _plain_user

from .conftest import Web


def test_service_with_the_serving_gc_answers_the_same(web: Web) -> None:
    """``gc_for_serving`` moves what is alive out of the collector's generations (the
    service's modules, app and routes: long-lived) and collects the young generation less
    often; the service answers as before — a login, its session on an authenticated route,
    the same code again (the replay record), a forged code refused with its code — and cycles
    made afterwards are still collected."""
    userid = _plain_user(web.sb.company, 5)
    before, threshold = gc.get_freeze_count(), gc.get_threshold()
    try:
        gc_for_serving()
        assert gc.get_freeze_count() > before
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *threshold[1:])

        code = web.authcode(userid)
        first = web.http.post("/api/auth/dingtalk", json={"authCode": code})
        assert first.status_code == 200, first.text
        token = first.json()["session"]["token"]
        me = web.get("/api/me", token)
        assert me.status_code == 200 and me.json()["userid"] == userid
        again = web.http.post("/api/auth/dingtalk", json={"authCode": code})
        assert again.status_code == 200 and again.json()["session"]["token"] == token
        forged = web.http.post("/api/auth/dingtalk", json={"authCode": "forged-code"})
        assert forged.status_code == 401
        assert forged.json()["error"]["code"] == "auth.code_invalid"

        # A cycle made after the set-up is collected (only what was frozen is left alone).
        class Node:
            other: object = None

        a, b = Node(), Node()
        a.other, b.other = b, a
        del a, b
        assert gc.collect() >= 2
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
