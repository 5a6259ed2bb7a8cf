"""The order the attendance sync starts its chunks in (:func:`chunk_order`): every chunk once,
the longest date windows first, so a range's short last window fills the end of the run."""

from __future__ import annotations

from datetime import date

from dingsync.dingtalk.attendance import LIST_MAX_DAYS, LIST_MAX_USERS, batches
from dingsync.sync.attendance import chunk_order
from dingsync.timeutil import split_dates


def test_chunks_start_longest_window_first_and_each_once() -> None:
    people = [f"u{n:04d}" for n in range(120)]  # 3 groups: 50, 50, 20
    groups = batches(people, LIST_MAX_USERS)
    windows = split_dates(date(2026, 11, 7), date(2026, 12, 6), LIST_MAX_DAYS)  # 4 × 7 + 2 days
    order = chunk_order(groups, windows)

    as_keys = [(g[0], a, b) for g, a, b in order]
    expected = {(g[0], a, b) for g in groups for a, b in windows}
    assert len(as_keys) == len(expected) == 15
    assert set(as_keys) == expected
    lengths = [(b - a).days + 1 for _, a, b in order]
    assert lengths == sorted(lengths, reverse=True)
    assert lengths[-3:] == [2, 2, 2]  # the partial week: every group's, at the end
    # Within a length, earlier windows first, every group of a window together.
    assert [a for _, a, _ in order[:6]] == [date(2026, 11, 7)] * 3 + [date(2026, 11, 14)] * 3


def test_a_single_short_range_is_one_window_per_group() -> None:
    groups = batches(["a", "b"], LIST_MAX_USERS)
    windows = split_dates(date(2026, 12, 5), date(2026, 12, 6), LIST_MAX_DAYS)
    assert chunk_order(groups, windows) == [(["a", "b"], date(2026, 12, 5), date(2026, 12, 6))]
