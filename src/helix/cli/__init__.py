"""The `helix` command line. Thin: every command calls a library function.

Each sub-module owns its commands and exposes ``register(app)``.
Exit codes: 0 ok, 1 HLX error (``error: E_CODE at line:col: ...`` on stderr), 2 usage.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="helix",
    help="Helix: train, watch and serve the HLX 3-brain system.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_all() -> None:
    from helix.cli import lang, programs, corpus, brains, system

    for mod in (lang, programs, corpus, brains, system):
        mod.register(app)


_register_all()


def main() -> None:
    app()
