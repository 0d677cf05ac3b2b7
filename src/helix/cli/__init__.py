"""The `helix` command line. Thin: every command calls a library function.

Each sub-module owns its commands and exposes ``register(app)``.
Exit codes: 0 ok, 1 HLX error (``error: E_CODE at line:col: message`` on stderr), 2 usage.

Input bytes are turned into text once, here: standard input and files are read as bytes and
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


def decode_input(data: bytes) -> str:
    """Text of input bytes: UTF-8, invalid bytes kept as lone surrogates (``surrogateescape``)."""
    return data.decode("utf-8", "surrogateescape")


def read_stdin_text() -> str:
    """The whole of standard input as text (see :func:`decode_input`)."""
    buf = getattr(sys.stdin, "buffer", None)
    if buf is None:  # a text-only stream (tests that swap sys.stdin)
        return sys.stdin.read()
    return decode_input(buf.read())


def stdin_lines():
    """Standard input line by line, each decoded on its own: a bad byte costs only its line."""
    buf = getattr(sys.stdin, "buffer", None)
    if buf is None:
        yield from sys.stdin
        return
    for raw in buf:
        yield decode_input(raw)


def read_file_text(path) -> str:
    """A file's text (see :func:`decode_input`); ``OSError`` if it cannot be read."""
    from pathlib import Path

    return decode_input(Path(path).read_bytes())


def internal_error(e: BaseException, code: int = 1):
    """Report an unexpected exception as one ``error:`` line (no traceback) and exit ``code``.

    ``HELIX_TRACEBACK=1`` re-raises it instead, for debugging.
    """
    import os

    if os.environ.get("HELIX_TRACEBACK") == "1":
        raise e
    msg = str(e).splitlines()[0][:300] if str(e) else ""
    typer.echo(f"error: internal error ({type(e).__name__}){': ' + msg if msg else ''}", err=True)
    raise typer.Exit(code)


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
