"""The OpenAPI document is the API's contract (``dingsync.web.models``): every JSON route names
its response model, every route documents the service's error envelope for its failures, and
downloads are described as files of their media types."""

from __future__ import annotations

from typing import Any

from dingsync.config import Settings
from dingsync.store import db
from dingsync.web import create_app


def _document(tmp_path: Any) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    engine = db.create_engine_for(url)
    app = create_app(Settings(database_url=url, corp_id="ding_corp_doc"), engine=engine)
    try:
        return app.openapi()
    finally:
        engine.dispose()


def test_every_route_declares_its_answers(tmp_path: Any) -> None:
    doc = _document(tmp_path)
    operations = [
        (f"{method.upper()} {path}", op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
    ]
    assert len(operations) >= 23
    for name, op in operations:
        ok = op["responses"]["200"]["content"]
        assert ok, name
        for media, body in ok.items():
            schema = body.get("schema", {})
            if media == "application/json":
                assert schema.get("$ref"), f"{name}: no response model"
            else:
                assert schema == {"type": "string", "format": "binary"}, name
        errors = {s: r for s, r in op["responses"].items() if s != "200"}
        assert errors, f"{name}: no error responses"
        for status, response in errors.items():
            schema = response["content"]["application/json"]["schema"]
            assert "HTTPValidationError" not in str(schema), f"{name} {status}"
            if not name.startswith("POST /callbacks"):
                assert schema["required"] == ["error"], f"{name} {status}"


def test_models_are_named_after_dingtalk_terms(tmp_path: Any) -> None:
    schemas = _document(tmp_path)["components"]["schemas"]
    assert "process_instance_id" in schemas["ApprovalDetail"]["properties"]
    assert "report_id" in schemas["ReportDetail"]["properties"]
    assert schemas["AttendanceResult"]["properties"]["work_date"]["type"] == "integer"
    assert "dept_id" in schemas["DepartmentNode"]["properties"]
    assert "userid" in schemas["UserDetail"]["properties"]
    assert set(schemas["Page_AuditEntry_"]["required"]) == {"items", "total", "limit", "offset"}
