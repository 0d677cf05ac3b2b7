"""CLI commands (corpus). Owned by the corpus subsystem."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
