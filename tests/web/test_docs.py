"""``/docs`` works offline: the page names no outside host and its assets come from the
package (issue #12, rough edges)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from dingsync.web.docs import ASSETS_PATH

from .conftest import Web


def test_docs_page_references_no_external_host_and_its_assets_load(web: Web) -> None:
    page = web.http.get("/docs")
    assert page.status_code == 200
    html = page.text
    refs = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", html)
    assert refs, html
    external = [r for r in refs if urlsplit(r).netloc]
    assert external == [], external  # no CDN, no favicon from fastapi.tiangolo.com
    assert "validator.swagger.io" not in html and '"validatorUrl": null' in html
    assets = [r for r in refs if r.startswith(ASSETS_PATH)]
    assert {a.rsplit("/", 1)[-1] for a in assets} == {
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "favicon-32x32.png",
    }
    for asset in assets:
        r = web.http.get(asset)
        assert r.status_code == 200, asset
        assert len(r.content) > 500, asset
    assert "SwaggerUIBundle" in web.http.get(f"{ASSETS_PATH}/swagger-ui-bundle.js").text
    assert "/openapi.json" in refs or "'/openapi.json'" in html or '"/openapi.json"' in html
    assert web.http.get("/openapi.json").json()["openapi"].startswith("3.")
    assert web.http.get("/redoc").status_code == 404  # not served: it would load a CDN too


def test_openapi_lists_paths_in_the_documented_order_and_the_login_is_routed(web: Web) -> None:
    """The login's router is matched first (``create_app``), yet ``/openapi.json`` lists the
    data areas' paths, then the service's (login, JSAPI, admin, exports, callbacks), then the
    rest — the order of ``AREA_ROUTERS`` and ``SERVICE_ROUTERS`` — and every path still
    reaches its own route."""
    from dingsync.web.app import AREA_ROUTERS, SERVICE_ROUTERS

    doc = web.http.get("/openapi.json")
    assert doc.status_code == 200
    paths = list(doc.json()["paths"])
    routers = (*AREA_ROUTERS.values(), *SERVICE_ROUTERS)
    expected = list(
        dict.fromkeys(getattr(route, "path", "") for r in routers for route in r.routes)
    )
    assert paths[: len(expected)] == expected
    assert (
        paths.index("/api/me") < paths.index("/api/approvals") < paths.index("/api/auth/dingtalk")
    )
    assert paths[len(expected) :] == ["/healthz"]

    assert web.http.get("/api/auth/dingtalk").status_code == 405  # the login route, not 404
    logout = web.http.post("/api/auth/logout")
    assert logout.status_code == 401 and logout.json()["error"]["code"] == "session.missing"
    assert web.http.get("/api/me").json()["error"]["code"] == "session.missing"
    assert web.http.get("/healthz").json()["ok"] is True
