"""CLI commands (brains). Owned by the brains subsystem."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
