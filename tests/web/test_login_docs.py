"""The error tables say what a reused authCode gets (issue #12, rough edges): within the replay
window (``WebOptions.replay_window_s``, 60 s) the same session, a 401 ``auth.code_invalid`` only
later. The behaviour itself is tested in test_login.py
(``test_same_code_twice_within_60_s_gives_the_same_session``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dingsync.web.errors import ERRORS
from dingsync.web.options import WebOptions

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("doc", ["README.md", "docs/web.md"])
def test_error_tables_say_a_reused_code_within_the_window_is_the_same_session(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d{3}) \| `auth\.code_invalid` \| (.+) \|$", text, flags=re.M)
    assert len(rows) == 1, rows
    status, when = rows[0]
    assert int(status) == ERRORS["auth.code_invalid"][0] == 401
    window = f"{WebOptions().replay_window_s:g} s"
    assert f"already used more than {window} ago" in when, when
    assert f"within {window}" in when and "same session (200)" in when, when
