"""Progress of sync runs: rich bars on a terminal (:class:`RichProgress`), plain lines when the
output is a file or a pipe (:class:`PlainProgress`); :func:`progress_for` picks one."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class RichProgress:
    """Implements :class:`dingsync.sync.engine.ProgressSink` with one bar per entity kind.

    Totals grow as work is discovered (the department tree is learnt while walking it).
    Use as a context manager; on a non-terminal console it draws nothing.
    """

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
            disable=not self.console.is_terminal,
        )
        self._tasks: dict[str, TaskID] = {}
        self._totals: dict[str, int] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def _task(self, entity: str) -> TaskID:
        if entity not in self._tasks:
            self._tasks[entity] = self._progress.add_task(entity, total=0)
        return self._tasks[entity]

    def add_total(self, entity: str, n: int) -> None:
        self._totals[entity] = self._totals.get(entity, 0) + n
        self._progress.update(self._task(entity), total=self._totals[entity])

    def advance(self, entity: str, n: int = 1) -> None:
        self._progress.advance(self._task(entity), n)


class PlainProgress:
    """Implements :class:`dingsync.sync.engine.ProgressSink` as plain lines for output that is
    not a terminal (a file, a pipe, a CI log): one line when an entity kind starts
    (``sync: reports started``), one when its work is done (``sync: reports done: 31/31 in
    78.7 s``: when the next kind starts, or at the end of a run that did not fail), and at most
    one line every ``every_s`` seconds in between with the kinds still running
    (``sync: reports 25/31``) — no bar redrawn, no control characters. ``clock``: seconds
    (monotonic), for tests."""

    def __init__(
        self,
        console: Console | None = None,
        *,
        prefix: str = "sync",
        every_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console or Console(stderr=True)
        self.prefix = prefix
        self.every_s = every_s
        self._clock = clock
        self._totals: dict[str, int] = {}
        self._done: dict[str, int] = {}
        self._started: dict[str, float] = {}
        self._finished: set[str] = set()
        self._last_line = clock()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:  # interrupted or failed: the caller says so, not a "done" line
            for entity in self._started:
                if entity not in self._finished:
                    self._finish(entity)

    def _line(self, text: str) -> None:
        self.console.print(f"{self.prefix}: {text}", markup=False, highlight=False)
        self._last_line = self._clock()

    def _start(self, entity: str) -> None:
        if entity not in self._started:
            # Totals grow as work is found, so an entity is "done" once another one starts
            # with all its work done so far (or at the end), not each time it catches up.
            for other in self._started:
                total, done = self._totals.get(other, 0), self._done.get(other, 0)
                if other not in self._finished and total and done >= total:
                    self._finish(other)
            self._started[entity] = self._clock()
            self._line(f"{entity} started")

    def _finish(self, entity: str) -> None:
        self._finished.add(entity)
        took = self._clock() - self._started[entity]
        self._line(
            f"{entity} done: {self._done.get(entity, 0)}/{self._totals.get(entity, 0)} "
            f"in {took:.1f} s"
        )

    def _check(self, entity: str) -> None:
        if entity in self._finished and self._done.get(entity, 0) < self._totals.get(entity, 0):
            self._finished.discard(entity)  # more work was found after all
        if self._clock() - self._last_line >= self.every_s:
            running = [e for e in self._started if e not in self._finished]
            if running:
                self._line(
                    ", ".join(
                        f"{e} {self._done.get(e, 0)}/{self._totals.get(e, 0)}" for e in running
                    )
                )

    def add_total(self, entity: str, n: int) -> None:
        self._start(entity)
        self._totals[entity] = self._totals.get(entity, 0) + n
        self._check(entity)

    def advance(self, entity: str, n: int = 1) -> None:
        self._start(entity)
        self._done[entity] = self._done.get(entity, 0) + n
        self._check(entity)


def progress_for(console: Console, *, prefix: str = "sync") -> RichProgress | PlainProgress:
    """The progress display for ``console``: bars on a terminal (:class:`RichProgress`), plain
        lines elsewhere (:class:`PlainProgress`: output to a file or a pipe). ``prefix`` starts each
    plain line."""
    if console.is_terminal:
        return RichProgress(console)
    return PlainProgress(console, prefix=prefix)
