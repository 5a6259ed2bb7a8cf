"""Export writers (xlsx/csv) shared by the CLI and the web service, and what both record of a
written file in the export audit."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from types import ModuleType

from dingsync.timeutil import SHANGHAI


def file_digest(path: str | Path) -> tuple[str, int]:
    """SHA-256 (hex) and size in bytes of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def local(moment: datetime | None, tz: tzinfo = SHANGHAI) -> datetime | None:
    """An instant as naive wall time in the company's zone ``tz`` (what a spreadsheet shows and
    people read in DingTalk); ``None`` stays ``None``. The store's times are UTC: a naive one is
    taken as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).replace(tzinfo=None)


# The area modules import the helpers above, so they come last.
from dingsync.export import approvals, attendance, reports  # noqa: E402

#: The export module of each exportable data area (:data:`dingsync.areas.AREAS` with
#: ``exportable``): its writers (``export_reports``, ``monthly_summary`` + ``write_xlsx`` /
#: ``write_csv``, ``export_approvals``) and statistics.
AREA_EXPORTS: dict[str, ModuleType] = {
    "reports": reports,
    "attendance": attendance,
    "approvals": approvals,
}
