"""CLI commands of the language core: ``helix convert``.

``helix convert --from SRC --to DST [TEXT]``

* Forms: ``hlxl hlx lc_t lc_b lc_r`` (values), ``hlxl_ls hlx_ls`` (programs); ``-`` may stand
  for ``_`` (``lc-t``). ``--from auto`` detects the source form (:func:`helix.hlx.detect_form`).
* ``TEXT`` given: converts it and prints one line.
* ``--file PATH``: converts the whole file as one text (multi-line programs; for a value form a
  trailing line break is dropped).
* Neither: reads standard input. For value forms, one value per line (line endings dropped) and
  exactly one output line per input line, so outputs stay aligned with inputs:

  - default: a failed line prints an empty line on stdout and
    ``error: line N: E_CODE at L:C: message`` on stderr; the exit code is 1 if any line failed;
  - ``--jsonl``: every output line is ``{"ok": true, "out": "..."}`` or
    ``{"ok": false, "code": "E_...", "message": "...", ...position}``; the exit code is 0 (the
    errors are in the data).

  For program forms standard input is read whole, as one program.

  Input that is not valid UTF-8 (stdin, ``--file``, an argument) is reported by the reader as
  ``E_LC_DECODE`` at the bad byte's position (per line in line mode); it is never printed.

Exit codes: 0 ok, 1 HLX error (``error: E_CODE at line:col: message`` on stderr), 2 usage.
Every command is a thin wrapper over a function here that tests can call directly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterable, Iterator, Optional

import typer

from helix.cli.common import internal_error, read_file_text, read_stdin_text, stdin_lines
from helix.hlx import forms
from helix.hlx.convert import PROGRAM_FORMS, convert, detect_form
from helix.hlx.errors import HLXError


# ======================================================================== library functions


def form_name(name: str, *, allow_auto: bool = False) -> str:
    """Canonical form name (``lc-t`` -> ``lc_t``); ValueError if unknown."""
    return forms.form_name(name, forms.FORMS, extra=("auto",) if allow_auto else ())


def convert_text(text: str, src: str, dst: str) -> str:
    """Convert one text; ``src`` may be ``auto``. Raises HLXError (bad text) or ValueError."""
    src = form_name(src, allow_auto=True)
    dst = form_name(dst)
    if src == "auto":
        found = detect_form(text)
        if found is None:
            raise HLXError("E_LC_PARSE", "the text is not written in any HLX form (auto-detect found none)")
        if (found in PROGRAM_FORMS) != (dst in PROGRAM_FORMS):
            # a detected form is a fact about the text, not a usage error: it costs only its line
            kind = "a program" if found in PROGRAM_FORMS else "a value"
            raise HLXError("E_LC_PARSE", f"the text reads as {kind} ({found}), which cannot be "
                                         f"converted to {dst}")
        src = found
    return convert(text, src, dst)


def error_line(e: HLXError, line_no: int | None = None) -> str:
    """``error: [line N: ]E_CODE at where: message``."""
    where = e.where
    head = f"line {line_no}: " if line_no is not None else ""
    loc = f" at {where}" if where else ""
    return f"error: {head}{e.code}{loc}: {e.message}"


def convert_lines(lines: Iterable[str], src: str, dst: str, *, jsonl: bool = False) -> Iterator[tuple[str, str | None]]:
    """Convert one value per line; yields ``(stdout_line, stderr_line_or_None)`` per input line.

    Line endings (``\\n``, ``\\r\\n``) are dropped before converting. An error never shifts the
    alignment: it yields an empty stdout line (or a JSON error object with ``jsonl``).
    """
    src = form_name(src, allow_auto=True)
    dst = form_name(dst)
    for n, raw in enumerate(lines, 1):
        text = raw[:-1] if raw.endswith("\n") else raw
        if text.endswith("\r"):
            text = text[:-1]
        try:
            out = convert_text(text, src, dst)
        except (HLXError, RecursionError, MemoryError) as e:
            if not isinstance(e, HLXError):  # a reader bug must cost only its line
                e = HLXError("E_DEPTH_EXCEEDED", f"the text could not be read ({type(e).__name__})")
            if jsonl:
                yield json.dumps({"ok": False, **e.to_dict()}, ensure_ascii=False), None
            else:
                yield "", error_line(e, n)
            continue
        if jsonl:
            yield json.dumps({"ok": True, "out": out}, ensure_ascii=False), None
        else:
            yield out, None


# ======================================================================== commands


def _usage(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    @app.command("convert")
    def convert_cmd(
        text: Optional[str] = typer.Argument(None, help="The text to convert (omit to read stdin)."),
        src: str = typer.Option(..., "--from", help="Source form: hlxl hlx lc_t lc_b lc_r hlxl_ls hlx_ls, or auto."),
        dst: str = typer.Option(..., "--to", help="Target form: hlxl hlx lc_t lc_b lc_r hlxl_ls hlx_ls."),
        file: Optional[Path] = typer.Option(None, "--file", help="Convert the whole file as one text."),
        jsonl: bool = typer.Option(False, "--jsonl", help="stdin mode: one JSON object per output line."),
    ) -> None:
        """Convert HLX texts between forms (one value per stdin line without TEXT/--file)."""
        try:
            s = form_name(src, allow_auto=True)
            d = form_name(dst)
        except ValueError as e:
            _usage(str(e))
        if text is not None and file is not None:
            _usage("give TEXT or --file, not both")
        whole = text
        if file is not None:
            try:
                whole = read_file_text(file)  # invalid UTF-8 -> E_LC_DECODE from the reader
            except OSError as e:
                _usage(f"cannot read {file}: {e.strerror or e}")
            if s not in PROGRAM_FORMS:
                whole = whole.rstrip("\r\n")
        elif text is None and (s in PROGRAM_FORMS or d in PROGRAM_FORMS):
            whole = read_stdin_text()
        if whole is not None:
            try:
                out = convert_text(whole, s, d)
            except HLXError as e:
                typer.echo(error_line(e), err=True)
                raise typer.Exit(1)
            except ValueError as e:
                _usage(str(e))
            except Exception as e:  # noqa: BLE001 - a bug must still not print a traceback
                internal_error(e)
            typer.echo(out)
            return
        failed = 0
        try:
            for out, err in convert_lines(stdin_lines(), s, d, jsonl=jsonl):
                typer.echo(out)
                if err is not None:
                    failed += 1
                    typer.echo(err, err=True)
        except ValueError as e:
            _usage(str(e))
        if failed:
            raise typer.Exit(1)
