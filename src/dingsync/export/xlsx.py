"""The xlsx workbook every export writes: XlsxWriter's, with text that XML 1.0 can hold.

An xlsx file is XML 1.0, which has no way to carry U+0000: XlsxWriter would write it as
``_x0000_``, which Excel turns back into a NUL it then refuses or shows as junk. A NUL that
DingTalk sent (and the store keeps exactly, :mod:`dingsync.store.nul`) is written as U+2400
SYMBOL FOR NULL ``␀`` instead, in every cell and header. CSV exports and the web API keep the
NUL itself.
"""

from __future__ import annotations

from typing import Any

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

#: What a NUL becomes in an xlsx cell.
XLSX_NUL = "\u2400"


def xlsx_text(value: str) -> str:
    """``value`` as an xlsx cell can hold it: every NUL as :data:`XLSX_NUL`."""
    return value.replace("\x00", XLSX_NUL) if "\x00" in value else value


class _Worksheet(Worksheet):  # type: ignore[misc]  # xlsxwriter has no type hints here
    """A worksheet whose strings go through :func:`xlsx_text` (``write``, ``write_row``,
    ``write_string`` and the headers alike all end in ``_write_string``)."""

    def _write_string(self, row: int, col: int, string: str, cell_format: Any = None) -> Any:
        if isinstance(string, str):
            string = xlsx_text(string)
        return super()._write_string(row, col, string, cell_format)


class Workbook(xlsxwriter.Workbook):  # type: ignore[misc]
    """:class:`xlsxwriter.Workbook` whose sheets write a NUL as ``␀`` (see the module)."""

    worksheet_class = _Worksheet


__all__ = ["XLSX_NUL", "Workbook", "xlsx_text"]
