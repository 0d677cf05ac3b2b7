"""CLI commands (system). Owned by the system subsystem."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
