"""The interactive API documentation at ``/docs``, served entirely from the package.

FastAPI's default ``/docs`` page loads Swagger UI's script, stylesheet and favicon from a CDN,
so it is blank offline and on intranets. Here the page references only this service: Swagger
UI 5 (vendored from the ``swagger-ui-dist`` npm package, Apache-2.0, under
``web/static/swagger-ui/``) is served at :data:`ASSETS_PATH`, and the online spec validator
badge (validator.swagger.io) is off. ``/redoc``, a second renderer of the same document, is
not served (it would need another vendored bundle).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: Where the vendored Swagger UI files are mounted.
ASSETS_PATH = "/docs-assets"
ASSETS_DIR = Path(__file__).parent / "static" / "swagger-ui"
DOCS_PATH = "/docs"


def add_docs(app: FastAPI) -> None:
    """Serve ``GET /docs`` (Swagger UI for ``app.openapi_url``) and its assets under
    :data:`ASSETS_PATH` on ``app``, which must be created with ``docs_url=None`` and
    ``redoc_url=None``. Paths honour the ASGI ``root_path`` (a service behind a prefix)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} — API",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
