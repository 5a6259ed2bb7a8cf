"""The CLI's two consoles, :data:`console` (stdout) and :data:`err_console` (stderr); part of
the CLI layer.

rich cuts tables to 80 columns when its output is not a terminal (a pipe, a file, ``| less``),
so names and ids came out as ``姓…`` and ``Us…``. :class:`FullWidthConsole` keeps the
terminal's width on a terminal and prints full width otherwise (``COLUMNS`` or an explicit
``width`` still win).
"""

from __future__ import annotations

from rich.console import Console, ConsoleDimensions

#: Width used when the output is not a terminal: wide enough that no table is cut or wrapped.
PIPED_WIDTH = 10_000


class FullWidthConsole(Console):
    """A :class:`rich.console.Console` whose width is :data:`PIPED_WIDTH` when its file is not
    a terminal and no width was set (``width=`` or ``COLUMNS``); on a terminal, rich's own."""

    @property
    def size(self) -> ConsoleDimensions:
        """The console's (width, height) in character cells, as the class docstring says."""
        dims = super().size
        if self.is_terminal or self._width is not None:
            return dims
        return ConsoleDimensions(PIPED_WIDTH, dims.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


console = FullWidthConsole()
err_console = FullWidthConsole(stderr=True)
