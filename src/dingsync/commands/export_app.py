"""The shared ``dingsync export <kind>`` sub-app: each area adds its command to it."""

from __future__ import annotations

import typer

export_app = typer.Typer(help="Export data to xlsx/csv.", no_args_is_help=True)
