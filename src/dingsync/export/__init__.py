"""Export writers (xlsx/csv) shared by the CLI and the web service, and what both record of a
written file in the export audit."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType

from dingsync.export import approvals, attendance, reports

#: The export module of each exportable data area (:data:`dingsync.areas.AREAS` with
#: ``exportable``): its writers (``export_reports``, ``monthly_summary`` + ``write_xlsx`` /
#: ``write_csv``, ``export_approvals``) and statistics.
AREA_EXPORTS: dict[str, ModuleType] = {
    "reports": reports,
    "attendance": attendance,
    "approvals": approvals,
}


def file_digest(path: str | Path) -> tuple[str, int]:
    """SHA-256 (hex) and size in bytes of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
