"""The xlsx workbook every export writes: XlsxWriter's, with text that XML 1.0 can hold.

An xlsx file is XML 1.0, which has no way to carry U+0000: XlsxWriter would write it as
``_x0000_``, which Excel turns back into a NUL it then refuses or shows as junk. A NUL that
DingTalk sent (and the store keeps exactly, :mod:`dingsync.store.nul`) is written as U+2400
SYMBOL FOR NULL ``␀`` instead, in every cell and header. CSV exports and the web API keep the
NUL itself.

The file's parts are deflated at zlib level :data:`ZIP_LEVEL` (1) instead of zipfile's default
(6): on a 100,000-row report export the sheet's 67 MB of XML deflate in 0.17 s instead of
0.77 s of CPU (about an eighth of the export) for a file about 30 % larger (7.9 MB instead of
6.1 MB). XlsxWriter has no option for it: :class:`Workbook` closes with its
``xlsxwriter.workbook.ZipFile`` replaced, for this thread's close only (a context variable), by
a ``ZipFile`` that defaults to that level; other XlsxWriter workbooks keep the default.
"""

from __future__ import annotations

import contextvars
import io
import math
import os
import re
import shutil
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import xlsxwriter
import xlsxwriter.workbook
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_col_to_name
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

    def _write_optimized_sheet_data(self) -> None:
        """XlsxWriter's ``constant_memory`` ``<sheetData>``: the rows' temp file copied into the
        sheet's XML file as bytes (XlsxWriter reads it back as text, decoding and encoding
        again every row: ~8 % of a 100,000-row report export). Same bytes; XlsxWriter's own
        way where either file is not a plain UTF-8 file on disk."""
        fh, rows_fh = self.fh, getattr(self, "row_data_fh", None)
        if (
            self.dim_rowmin is None
            or rows_fh is None
            or not isinstance(fh, io.TextIOWrapper)
            or not isinstance(rows_fh, io.TextIOWrapper)
            or fh.encoding != "utf-8"
            or rows_fh.encoding != "utf-8"
        ):
            super()._write_optimized_sheet_data()
            return
        self._xml_start_tag("sheetData")
        rows_fh.flush()
        fh.flush()
        with open(self.row_data_filename, "rb") as src:
            shutil.copyfileobj(src, fh.buffer, _COPY_CHUNK)
        rows_fh.close()
        os.unlink(self.row_data_filename)
        self._xml_end_tag("sheetData")


#: Bytes per read when :meth:`_Worksheet._write_optimized_sheet_data` copies the rows.
_COPY_CHUNK = 1 << 20


#: Text that needs XlsxWriter's control-character escaping (``_xHHHH_``; see
#: ``XMLwriter._escape_control_characters``).
_NEEDS_CONTROL_ESCAPE = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
#: Text written as it is (with no ``_x`` either): no NUL, control character, XML special
#: character, leading/trailing space or U+FDD0 (the store's NUL escape, see ``decode`` of
#: :class:`RowWriter`), and short enough never to need truncating.
_PLAIN_TEXT = re.compile(r"(?!\s)[^\x00-\x1f&<>\ufdd0\ufffe\uffff]{1,16383}(?<!\s)")
#: First characters of a text ``as_number`` may take as a number (besides blanks).
_NUMBER_FIRST = frozenset("-0123456789")
#: Numeric texts :meth:`RowWriter.write_typed` keeps; it starts over when full.
_NUMBERS_KEPT = 10_000
#: XlsxWriter's cap on a cell's text (UTF-16 units; see ``Worksheet._write_string``).
_STRMAX = 32767

#: Column kinds of :meth:`RowWriter.write_typed`: text (``str`` or ``None``); an Excel serial
#: date-time (``float`` or ``None``, e.g. :meth:`dingsync.export.WallClock.excel`) shown in the
#: ``when`` format; text written as a number where ``as_number`` turns it into one.
TEXT, SERIAL_WHEN, NUMERIC_TEXT = "text", "when", "numeric"


class RowWriter:
    """Writes whole rows of a ``constant_memory`` sheet as XML, cell by cell the way XlsxWriter
    does (same elements, escaping and formats), without its per-cell call chain: the exports'
    hot loop. Per value: ``None``/``""`` leave the cell empty; ``datetime`` is a date-time cell
    in ``when`` format, ``date`` a date cell in ``day`` format; ``int``/``float`` (not
    ``bool``) a number; in ``number_columns`` a string that ``as_number`` turns into a number is
    written as that number; anything else as text (NUL as :data:`XLSX_NUL`).

    Use on a sheet of a ``constant_memory`` workbook, rows in increasing order; the normal
    ``write*`` methods may be used on other rows.
    """

    def __init__(
        self,
        ws: Worksheet,
        *,
        when: Format,
        day: Format,
        number_columns: range = range(0),
        as_number: Any = None,
        decode: Any = None,
    ) -> None:
        if not ws.constant_memory:
            raise ValueError("RowWriter needs a constant_memory worksheet")
        self._ws = ws
        self._decode = decode
        self._when = f' s="{when._get_xf_index()}"' if when._get_xf_index() else ""
        self._day = f' s="{day._get_xf_index()}"' if day._get_xf_index() else ""
        self._numbers = number_columns
        self._as_number = as_number
        self._cols: list[str] = []
        #: :meth:`write_typed`'s numeric text → its number's cell text ("" when not a number):
        #: the same few numbers come back row after row (``as_number`` is pure).
        self._numbers_seen: dict[str, str] = {}

    def _refs(self, n: int) -> list[str]:
        """``'<c r="A'``, ``'<c r="B'``, … for the first ``n`` columns."""
        cols = self._cols
        while len(cols) < n:
            cols.append(f'<c r="{xl_col_to_name(len(cols))}')
        return cols

    def write_typed(self, row: int, values: Sequence[Any], kinds: Sequence[str]) -> None:
        """Write ``values`` as row ``row`` (0-based) when each column's kind is known
        (``kinds[c]``: :data:`TEXT`, :data:`SERIAL_WHEN` or :data:`NUMERIC_TEXT`): the same
        cells :meth:`write` makes of text, of the datetime whose serial is given, and of text
        in ``number_columns``, without finding out each value's type. Text holding U+FDD0 is
        passed through ``decode`` first (the store's NUL escape, where the caller reads the
        driver's raw text)."""
        self.write_typed_rows(row, [values], kinds)

    def write_typed_rows(
        self, first: int, rows: Sequence[Sequence[Any]], kinds: Sequence[str]
    ) -> None:
        """:meth:`write_typed` of each of ``rows`` as rows ``first``, ``first + 1``, … (0-based),
        with XlsxWriter's per-row bookkeeping (flushing a row written the normal way, the
        sheet's dimensions) done once for the batch and its XML written at once — when the
        rows are all after the sheet's last row, within its limits and no row of theirs has
        options (``set_row``) or comments; else row by row, as XlsxWriter does."""
        ws = self._ws
        if not rows:
            return
        last = first + len(rows) - 1
        widest = max(map(len, rows))
        if (
            first <= ws.previous_row
            or last >= ws.xls_rowmax
            or widest > ws.xls_colmax
            or any(first <= r <= last for r in ws.row_info)
            or any(first <= r <= last for r in ws.comments)
        ):
            for n, values in enumerate(rows, start=first):
                if n > ws.previous_row:
                    ws._write_single_row(n)
                if ws._check_dimensions(n, 0) or ws._check_dimensions(n, max(0, len(values) - 1)):
                    continue
                ws.fh.write(self._rows_xml(n, [values], kinds))
            return
        ws._write_single_row(first)  # flush a row written the normal way
        ws._check_dimensions(first, 0)
        ws._check_dimensions(last, max(0, widest - 1))
        ws.previous_row = last
        ws.fh.write(self._rows_xml(first, rows, kinds))

    def _rows_xml(self, first: int, rows: Sequence[Sequence[Any]], kinds: Sequence[str]) -> str:
        """The ``<row>`` elements of :meth:`write_typed_rows`."""
        parts: list[str] = []
        append = parts.append
        as_number = self._as_number
        plain = _PLAIN_TEXT.fullmatch
        when = self._when
        numbers = self._numbers_seen
        refs = self._refs(max(map(len, rows)))
        r = first
        for values in rows:
            r += 1
            append(f'<row r="{r}">')
            for ref, value, kind in zip(refs, values, kinds, strict=False):
                if value is None or value == "":
                    continue
                if kind is SERIAL_WHEN:
                    append(f'{ref}{r}"{when}><v>{value:.16G}</v></c>')
                    continue
                if kind is NUMERIC_TEXT and as_number is not None:
                    head = value[0]
                    # A number's text starts with a digit, "-" or blanks: other text (most of
                    # a report's fields) skips as_number.
                    if head in _NUMBER_FIRST or head.isspace():
                        number = numbers.get(value)
                        if number is None:
                            if len(numbers) >= _NUMBERS_KEPT:
                                numbers.clear()
                            num = as_number(value)
                            number = numbers[value] = "" if num is None else f"{num:.16G}"
                        if number:
                            append(f'{ref}{r}"><v>{number}</v></c>')
                            continue
                if "_x" not in value and plain(value) is not None:
                    append(f'{ref}{r}" t="inlineStr"><is><t>{value}</t></is></c>')
                else:
                    if self._decode is not None and "\ufdd0" in value:
                        value = self._decode(value)
                        if as_number is not None and kind is NUMERIC_TEXT:
                            num = as_number(value)
                            if num is not None:
                                append(f'{ref}{r}"><v>{num:.16G}</v></c>')
                                continue
                    append(self._text(ref, r, value))
            append("</row>")
        return "".join(parts)

    def write(self, row: int, values: Sequence[Any]) -> None:
        """Write ``values`` as row ``row`` (0-based), column 0 first."""
        ws = self._ws
        if row > ws.previous_row:
            ws._write_single_row(row)  # flush a row written the normal way
        if ws._check_dimensions(row, 0) or ws._check_dimensions(row, max(0, len(values) - 1)):
            return
        refs = self._refs(len(values))
        r = row + 1
        parts = [f'<row r="{r}">']
        append = parts.append
        numbers = self._numbers
        as_number = self._as_number
        plain = _PLAIN_TEXT.fullmatch
        for c, value in enumerate(values):
            if value is None or value == "":
                continue
            cls = value.__class__
            if cls is str:
                if as_number is not None and c in numbers:
                    num = as_number(value)
                    if num is not None:
                        append(f'{refs[c]}{r}"><v>{num:.16G}</v></c>')
                        continue
                if "_x" not in value and plain(value) is not None:
                    append(f'{refs[c]}{r}" t="inlineStr"><is><t>{value}</t></is></c>')
                else:
                    append(self._text(refs[c], r, value))
            elif cls is int or (cls is float and math.isfinite(value)):
                append(f'{refs[c]}{r}"><v>{value:.16G}</v></c>')
            elif isinstance(value, datetime):
                number = ws._convert_date_time(value)
                append(f'{refs[c]}{r}"{self._when}><v>{number:.16G}</v></c>')
            elif isinstance(value, date):
                number = ws._convert_date_time(value)
                append(f'{refs[c]}{r}"{self._day}><v>{number:.16G}</v></c>')
            elif isinstance(value, int | float) and not isinstance(value, bool):
                ws._write_number(row, c, value)  # inf/NaN: XlsxWriter's own answer
            else:
                text = str(value)
                if as_number is not None and c in numbers:
                    num = as_number(text)
                    if num is not None:
                        append(f'{refs[c]}{r}"><v>{num:.16G}</v></c>')
                        continue
                append(self._text(refs[c], r, text))
        append("</row>")
        ws.fh.write("".join(parts))

    @staticmethod
    def _text(ref: str, r: int, text: str) -> str:
        if not text:
            return ""
        if "\x00" in text:
            text = text.replace("\x00", XLSX_NUL)
        if len(text) > _STRMAX // 2:
            text = _truncate(text)
        if _NEEDS_CONTROL_ESCAPE.search(text):
            text = Worksheet._escape_control_characters(text)
        if "&" in text or "<" in text or ">" in text:
            text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        space = ' xml:space="preserve"' if text[0].isspace() or text[-1].isspace() else ""
        return f'{ref}{r}" t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _truncate(text: str) -> str:
    from xlsxwriter.utility import _utf16_len, _utf16_truncate

    return _utf16_truncate(text, _STRMAX) if _utf16_len(text) > _STRMAX else text


#: zlib level of the parts of the xlsx files :class:`Workbook` writes (1 fastest … 9 smallest).
ZIP_LEVEL = 1
#: The level a ``ZipFile`` XlsxWriter opens in this context takes (``None``: zlib's default).
_zip_level: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "dingsync_xlsx_zip_level", default=None
)


class _LeveledZipFile(zipfile.ZipFile):
    """XlsxWriter's ``ZipFile``: as zipfile's, deflating at :data:`_zip_level` when set."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        level = _zip_level.get()
        if level is not None and "compresslevel" not in kwargs:
            kwargs["compresslevel"] = level
        super().__init__(*args, **kwargs)


# XlsxWriter opens its zip through the module-level name (``Workbook._store_workbook``);
# outside a :class:`Workbook` close the context variable is unset and nothing changes.
xlsxwriter.workbook.ZipFile = _LeveledZipFile


class Workbook(xlsxwriter.Workbook):  # type: ignore[misc]
    """:class:`xlsxwriter.Workbook` whose sheets write a NUL as ``␀`` and whose file is
    deflated at :data:`ZIP_LEVEL` (see the module)."""

    worksheet_class = _Worksheet

    def close(self) -> None:
        """Write the file (XlsxWriter's ``close``; its errors unchanged), deflating at
        :data:`ZIP_LEVEL`."""
        token = _zip_level.set(ZIP_LEVEL)
        try:
            super().close()
        finally:
            _zip_level.reset(token)


__all__ = [
    "NUMERIC_TEXT",
    "SERIAL_WHEN",
    "TEXT",
    "XLSX_NUL",
    "ZIP_LEVEL",
    "RowWriter",
    "Workbook",
    "xlsx_text",
]
