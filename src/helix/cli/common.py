"""What the command modules share: input bytes read as text once (UTF-8 with ``surrogateescape``,
so an invalid byte is a lone surrogate that the readers report as ``E_LC_DECODE`` with its position)
and the one-line report of an unexpected error."""

from __future__ import annotations

import sys

import typer


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
