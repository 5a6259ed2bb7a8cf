"""CLI commands for approvals (审批).

Registered on the ``dingsync`` app by ``dingsync.cli``.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands and sub-commands to ``app``."""
    return None
