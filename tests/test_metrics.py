"""JSON log lines (``DINGSYNC_LOG_FORMAT=json``): one object per line with the company, run,
unit and request ids in effect — and never a secret, wherever it hides (the message, its
arguments, a URL's query, a JSON body, a traceback)."""

from __future__ import annotations

import io
import json
import logging

from dingsync.metrics import JsonFormatter, TextFormatter, log_context
from dingsync.sync.engine import CURRENT_UNIT

SECRET = "Zq7-app-secret-value-9f3"
TOKEN = "a1b2c3d4e5f6token"


def _lines(formatter: logging.Formatter, emit: object) -> list[str]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    log = logging.getLogger("dingsync.test_metrics")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        emit(log)  # type: ignore[operator]
    finally:
        log.removeHandler(handler)
    return stream.getvalue().splitlines()


def _emit(log: logging.Logger) -> None:
    with log_context(company="dingcorp1", run=42, request="req-7"):
        log.info("app with secret %s", SECRET)
        log.info("GET https://oapi.dingtalk.com/gettoken?appkey=k&appsecret=%s", SECRET)
        log.info('body {"accessToken": "%s", "appSecret": "%s"}', TOKEN, SECRET)
        unit = CURRENT_UNIT.set(("contacts", "dept:1"))
        try:
            raise RuntimeError(f"DingTalk refused appsecret={SECRET}")
        except RuntimeError:
            log.exception("failed with access_token=%s", TOKEN)
        finally:
            CURRENT_UNIT.reset(unit)
    log.info("outside any context")


def test_json_lines_carry_ids_and_no_secret() -> None:
    lines = _lines(JsonFormatter([SECRET]), _emit)
    assert len(lines) == 5
    parsed = [json.loads(line) for line in lines]
    for line in lines:
        assert SECRET not in line and TOKEN not in line
    first, *_, failed, outside = parsed
    assert (first["company"], first["run"], first["request"]) == ("dingcorp1", 42, "req-7")
    assert first["level"] == "info" and first["logger"] == "dingsync.test_metrics"
    assert failed["unit"] == "contacts:dept:1" and "RuntimeError" in failed["exc"]
    assert "company" not in outside


def test_text_lines_hide_secrets_too() -> None:
    lines = _lines(TextFormatter([SECRET]), _emit)
    text = "\n".join(lines)
    assert "outside any context" in text
    assert SECRET not in text and TOKEN not in text
