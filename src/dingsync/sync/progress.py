"""A rich progress bar for sync runs on a terminal (nothing is drawn elsewhere)."""

from __future__ import annotations

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
