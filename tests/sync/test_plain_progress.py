"""Plain progress lines (output that is not a terminal): a line when an entity starts, one when
it is done — once, though its total grew while it ran — and at most one line every
``every_s`` seconds in between."""

from __future__ import annotations

import io

from rich.console import Console

from dingsync.sync.progress import PlainProgress, RichProgress, progress_for


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=120), buffer


def test_start_done_and_a_bounded_heartbeat() -> None:
    console, buffer = _console()
    now = [0.0]
    with PlainProgress(console, every_s=10, clock=lambda: now[0]) as progress:
        progress.add_total("departments", 1)
        progress.advance("departments")  # all done so far, but the tree is still being walked
        progress.add_total("departments", 25)
        for _ in range(25):
            now[0] += 0.1
            progress.advance("departments")
        progress.add_total("reports", 300)
        for _ in range(300):  # 300 steps over 60 s: a heartbeat line every 10 s, not 300
            now[0] += 0.2
            progress.advance("reports")
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "sync: departments started"
    assert lines[1] == "sync: departments done: 26/26 in 2.5 s"
    assert lines[2] == "sync: reports started"
    assert lines[-1] == "sync: reports done: 300/300 in 60.0 s"
    heartbeats = [line for line in lines if line.startswith("sync: reports ") and "/" in line]
    assert 4 <= len(heartbeats) - 1 <= 6, lines  # one every 10 s of the 60
    assert "\x1b[" not in buffer.getvalue()


def test_an_interrupted_run_prints_no_done_line() -> None:
    console, buffer = _console()
    try:
        with PlainProgress(console) as progress:
            progress.add_total("reports", 3)
            progress.advance("reports")
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert buffer.getvalue().splitlines() == ["sync: reports started"]


def test_bars_on_a_terminal_lines_elsewhere() -> None:
    console, _ = _console()
    assert isinstance(progress_for(console), PlainProgress)
    assert isinstance(progress_for(Console(file=io.StringIO(), force_terminal=True)), RichProgress)
