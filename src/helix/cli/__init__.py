"""The `helix` command line. Thin: every command calls a library function.

Each sub-module owns its commands and exposes ``register(app)``.
Exit codes: 0 ok, 1 HLX error (``error: E_CODE at line:col: message`` on stderr), 2 usage.

Input bytes are turned into text once (``helix.cli.common``): standard input and files are read as bytes and
decoded as UTF-8 with ``surrogateescape`` (as Python already does for argv), so an invalid byte
becomes a lone surrogate that the language core's readers report as ``E_LC_DECODE`` with its
position -- one bad line of a stream never stops the lines after it. Output is strict UTF-8:
nothing that is not valid Unicode is ever printed.
"""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    name="helix",
    help="Helix: train, watch and serve the HLX 3-brain system.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _strict_output() -> None:
    """stdout: UTF-8, strict (never surrogateescape); stderr: UTF-8, bad characters escaped."""
    for stream, errors in ((sys.stdout, "strict"), (sys.stderr, "backslashreplace")):
        reconf = getattr(stream, "reconfigure", None)
        if reconf is not None:
            try:
                reconf(encoding="utf-8", errors=errors)
            except (ValueError, OSError):  # pragma: no cover - a stream already written to
                pass


def _register_all() -> None:
    from helix.cli import lang, programs, corpus, brains, system

    for mod in (lang, programs, corpus, brains, system):
        mod.register(app)


_register_all()


def main() -> None:
    _strict_output()
    app()
