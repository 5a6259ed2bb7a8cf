"""Command groups of the ``dingsync`` CLI, one module per area; part of the CLI layer."""

from __future__ import annotations

import typer

from dingsync.commands import approvals, attendance, events, reports, web

AREAS = (reports, attendance, approvals, web, events)


def register_all(app: typer.Typer) -> None:
    """Register every area's commands on ``app``."""
    for area in AREAS:
        area.register(app)
    from dingsync.commands.export_app import export_app

    app.add_typer(export_app, name="export")
