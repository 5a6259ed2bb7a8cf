"""Command groups of the ``dingsync`` CLI, one module per area; part of the CLI layer."""

from __future__ import annotations

from types import ModuleType

import typer

from dingsync.commands import (
    approvals,
    attendance,
    audit,
    cluster,
    contacts,
    corps,
    events,
    reports,
    web,
)
from dingsync.commands.export_app import export_app

#: The command group of each data area (:data:`dingsync.areas.AREA_NAMES`): a module whose
#: ``register(app)`` adds ``dingsync <area> …`` (exportable areas also add
#: ``dingsync export <area>`` to :data:`~dingsync.commands.export_app.export_app`).
AREA_COMMANDS: dict[str, ModuleType] = {
    "contacts": contacts,
    "reports": reports,
    "attendance": attendance,
    "approvals": approvals,
}
#: Groups of the service itself: local accounts and roles (``users``, ``roles``, ``serve``),
#: events (``events``), the export audit (``audit``), the worker cluster (``worker``,
#: ``scheduler``, ``enqueue``, ``status``), the companies (``corps``).
SERVICE_COMMANDS: tuple[ModuleType, ...] = (web, events, audit, cluster, corps)


def register_all(app: typer.Typer) -> None:
    """Register every area's and the service's commands on ``app``, then ``dingsync export``."""
    for module in (*AREA_COMMANDS.values(), *SERVICE_COMMANDS):
        module.register(app)
    app.add_typer(export_app, name="export")
