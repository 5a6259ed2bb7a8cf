"""The web service (C5): DingTalk login (免登), sessions, JSAPI config, the data API filtered by
DingTalk's visibility rules (:mod:`dingsync.web.rules`), audited exports.

``create_app(settings, *, engine=None, client=None) -> FastAPI``; ``dingsync serve``.
"""

from dingsync.web.app import create_app

__all__ = ["create_app"]
