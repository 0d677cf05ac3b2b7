"""CLI commands (programs). Owned by the programs subsystem."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
