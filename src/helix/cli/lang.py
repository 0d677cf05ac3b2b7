"""CLI commands (lang). Owned by the lang subsystem."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
