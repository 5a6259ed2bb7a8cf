"""One DingTalk API call as a handler sees it (:class:`Call`), the handler type, and the JSON body
rule of the new (``api``) host.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from dingsync.sandbox.state import SandboxState
from dingsync.sandbox.wire import ApiError, Params

#: Marks a new-family body that was sent but is not JSON (a form body → ``Missingbody``).
NOT_JSON = object()


@dataclass
class Call:
    """One API call as a handler sees it: parameters (old family), JSON body and query (new
    family), path parameters, and the request itself."""

    state: SandboxState
    request: Request
    params: Params
    query: dict[str, str]
    path_params: dict[str, Any] = field(default_factory=dict)
    json_body: Any = None


Handler = Callable[[Call], dict[str, Any]]


def json_object(call: Call) -> dict[str, Any]:
    """The JSON object body of a new-family call; a form or empty body → 400 ``Missingbody``."""
    body = call.json_body
    if body is None or body is NOT_JSON:
        raise ApiError(400, "Missingbody", "body is mandatory for this action.")
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidParameter", "body must be a JSON object")
    return body
