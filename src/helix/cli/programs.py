"""CLI commands for programs and the content-addressed store: ``helix run`` and ``helix cas``.

``helix run FILE`` (``-`` reads stdin) runs an HLXL-LS program (``--lang hlx-ls`` for HLX-LS;
files ending in ``.py`` or ``.hlxls`` are HLX-LS by default) against the store and prints the
result in ``--to FORM`` (default ``hlxl``). The store is ``--store PATH.sqlite``, by default
``platformdirs.user_data_dir("helix")/store.sqlite``; ``--memory`` uses a throw-away store.

``helix cas collapse TEXT --from FORM [--tag T]`` prints the handle, ``helix cas resolve HANDLE
[--to FORM]`` the value, ``helix cas bind HANDLE TEXT [--from FORM]`` binds a symbolic handle,
``helix cas verify`` checks every row and the log's whole chain (exit 1 if any problem),
``helix cas stats`` prints the counts as JSON. ``resolve``, ``verify`` and ``stats`` only read:
they open the store read-only (SQLite ``mode=ro``), never create it (a mistyped path is an
error) and work on a store without write permission.

Exit codes: 0 ok, 1 HLX error (``error: E_CODE at line:col: message`` on stderr) or a store
that cannot be used, 2 usage. Every command is a thin wrapper over a function below that tests
(and other code) can call directly; those raise ``HLXError``, ``StoreError`` or ``ValueError``
(usage) instead of exiting.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from helix.hlx.errors import HLXError
from helix.hlx.forms import VALUE_FORMS, form_name


# ======================================================================== library functions


def value_form(name: str) -> str:
    """Canonical value form name (``lc-t`` -> ``lc_t``); ValueError if unknown."""
    return form_name(name, VALUE_FORMS, what="value form")


def format_value(value, to: str = "hlxl") -> str:
    """``value`` printed in value form ``to``."""
    to = value_form(to)
    if to == "hlxl":
        from helix.hlx import hlxl

        return hlxl.dumps(value)
    from helix.hlx.convert import encode

    return encode(value, to)


def parse_value(text: str, fmt: str = "hlxl"):
    """Read a value written in value form ``fmt``."""
    fmt = value_form(fmt)
    if fmt == "hlxl":
        from helix.hlx import hlxl

        return hlxl.loads(text)
    from helix.hlx.convert import decode

    return decode(text, fmt)


def open_cli_store(store_path: str | Path | None = None, memory: bool = False, *,
                   readonly: bool = False):
    """The store a command works on: memory, ``store_path``, or the default SQLite file.

    ``readonly`` (``cas resolve``, ``cas verify``, ``cas stats``): the store must exist and is
    opened with SQLite ``mode=ro`` -- nothing is created or changed, not even for a mistyped path.
    """
    from helix.hlx.store import MemoryStore, SQLiteStore, default_store_path

    if memory:
        return MemoryStore()
    return SQLiteStore(store_path if store_path is not None else default_store_path(),
                       readonly=readonly)


def guess_lang(path: str) -> str:
    return "hlx_ls" if str(path).endswith((".py", ".hlxls", ".hlx_ls")) else "hlxl_ls"


def run_source(text: str, lang: str = "hlxl_ls", store=None, to: str = "hlxl") -> str:
    """Run program ``text`` against ``store`` (None: a fresh memory store); result as text."""
    from helix.hlx.hlxls import run_program
    from helix.hlx.program import program_lang

    to = value_form(to)
    result = run_program(text, program_lang(lang), store)
    return format_value(result, to)


def read_source(path: str) -> str:
    """Program text from a file, or stdin for ``-`` (ValueError if it cannot be read)."""
    from helix.cli.common import read_file_text, read_stdin_text

    # invalid UTF-8 is kept as lone surrogates: the program reader reports E_LC_DECODE there
    if path == "-":
        return read_stdin_text()
    try:
        return read_file_text(path)
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from None


def run_file(path: str, lang: str | None = None, store_path: str | Path | None = None,
             memory: bool = False, to: str = "hlxl") -> str:
    """``helix run``: run the program in ``path`` and return its result printed in ``to``."""
    from helix.hlx.program import program_lang

    lang = program_lang(lang) if lang else guess_lang(path)
    to = value_form(to)
    text = read_source(path)
    store = open_cli_store(store_path, memory)
    try:
        return run_source(text, lang, store, to)
    finally:
        store.close()


def _with_store(store_path, memory, fn, readonly: bool = False):
    store = open_cli_store(store_path, memory, readonly=readonly)
    try:
        return fn(store)
    finally:
        store.close()


def cas_collapse(text: str, fmt: str = "hlxl", tag: str | None = None,
                 store_path: str | Path | None = None, memory: bool = False) -> str:
    """Store the value written as ``text`` in form ``fmt``; return its handle."""
    value = parse_value(text, fmt)
    return _with_store(store_path, memory, lambda s: s.collapse(value, tag))


def cas_resolve(handle: str, to: str = "hlxl", store_path: str | Path | None = None,
                memory: bool = False) -> str:
    """The value behind ``handle``, printed in form ``to``."""
    to = value_form(to)
    value = _with_store(store_path, memory, lambda s: s.resolve(handle), readonly=True)
    return format_value(value, to)


def cas_bind(handle: str, text: str, fmt: str = "hlxl", store_path: str | Path | None = None,
             memory: bool = False) -> None:
    """Bind the symbolic ``handle`` to the value written as ``text``."""
    value = parse_value(text, fmt)
    _with_store(store_path, memory, lambda s: s.bind(handle, value))


def cas_verify(store_path: str | Path | None = None, memory: bool = False) -> list[dict]:
    """Problems found by re-hashing every row (empty: the store is sound)."""
    return _with_store(store_path, memory, lambda s: s.verify(), readonly=True)


def cas_stats(store_path: str | Path | None = None, memory: bool = False) -> dict:
    return _with_store(store_path, memory, lambda s: s.stats(), readonly=True)


# =================================================================================== typer


def error_line(e: HLXError) -> str:
    where = e.where
    return f"error: {e.code} at {where}: {e.message}" if where else f"error: {e.code}: {e.message}"


def _guard(fn):
    """Run ``fn``; map errors to the exit codes (1 HLX/store, 2 usage)."""
    from helix.hlx.store import StoreError

    from helix.cli.common import internal_error

    try:
        return fn()
    except HLXError as e:
        typer.echo(error_line(e), err=True)
        raise typer.Exit(1)
    except StoreError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    except OSError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    except (RecursionError, MemoryError) as e:
        typer.echo(f"error: E_DEPTH_EXCEEDED: the input could not be processed "
                   f"({type(e).__name__})", err=True)
        raise typer.Exit(1)
    except ValueError as e:
        typer.echo(f"usage error: {e}", err=True)
        raise typer.Exit(2)
    except typer.Exit:
        raise
    except Exception as e:  # noqa: BLE001 - never a traceback
        internal_error(e)


_STORE_HELP = "SQLite store file (default: the user data dir's helix/store.sqlite)."

cas_app = typer.Typer(
    name="cas",
    help="The content-addressed store: collapse, resolve, bind, verify, stats.",
    no_args_is_help=True,
    add_completion=False,
)


@cas_app.command("collapse")
def _cas_collapse(
    text: str = typer.Argument(..., help="The value, written in --from form."),
    from_: str = typer.Option("hlxl", "--from", help="Value form of TEXT."),
    tag: Optional[str] = typer.Option(None, "--tag", help="Handle tag (default: the type)."),
    store: Optional[Path] = typer.Option(None, "--store", help=_STORE_HELP),
    memory: bool = typer.Option(False, "--memory", help="Use a throw-away in-memory store."),
) -> None:
    """Store a value; print its handle."""
    typer.echo(_guard(lambda: cas_collapse(text, from_, tag, store, memory)))


@cas_app.command("resolve")
def _cas_resolve(
    handle: str = typer.Argument(..., help="The handle to look up."),
    to: str = typer.Option("hlxl", "--to", help="Value form to print."),
    store: Optional[Path] = typer.Option(None, "--store", help=_STORE_HELP),
    memory: bool = typer.Option(False, "--memory", help="Use a throw-away in-memory store."),
) -> None:
    """Print the value behind a handle (re-hashed on the way out)."""
    typer.echo(_guard(lambda: cas_resolve(handle, to, store, memory)))


@cas_app.command("bind")
def _cas_bind(
    handle: str = typer.Argument(..., help="A symbolic handle such as &h_documents."),
    text: str = typer.Argument(..., help="The value, written in --from form."),
    from_: str = typer.Option("hlxl", "--from", help="Value form of TEXT."),
    store: Optional[Path] = typer.Option(None, "--store", help=_STORE_HELP),
    memory: bool = typer.Option(False, "--memory", help="Use a throw-away in-memory store."),
) -> None:
    """Bind a symbolic handle to a value."""
    _guard(lambda: cas_bind(handle, text, from_, store, memory))


@cas_app.command("verify")
def _cas_verify(
    store: Optional[Path] = typer.Option(None, "--store", help=_STORE_HELP),
    memory: bool = typer.Option(False, "--memory", help="Use a throw-away in-memory store."),
) -> None:
    """Re-hash every stored row; list problems (exit 1 if any)."""
    problems = _guard(lambda: cas_verify(store, memory))
    for p in problems:
        at = f" at seq {p['seq']}" if p.get("seq") is not None else ""
        typer.echo(f"error: {p['code']}{at}: {p['message']}", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo("ok")


@cas_app.command("stats")
def _cas_stats(
    store: Optional[Path] = typer.Option(None, "--store", help=_STORE_HELP),
    memory: bool = typer.Option(False, "--memory", help="Use a throw-away in-memory store."),
) -> None:
    """Print the store's counts as JSON."""
    typer.echo(json.dumps(_guard(lambda: cas_stats(store, memory)), sort_keys=True))


def _run(
    file: str = typer.Argument(..., help="Program file (.hlxl), or - for stdin."),
    lang: Optional[str] = typer.Option(None, "--lang",
                                       help="hlxl-ls or hlx-ls (default: by file name)."),
    store: Optional[Path] = typer.Option(None, "--store", help=_STORE_HELP),
    memory: bool = typer.Option(False, "--memory", help="Use a throw-away in-memory store."),
    to: str = typer.Option("hlxl", "--to", help="Value form of the printed result."),
) -> None:
    """Run an HLXL-LS (or HLX-LS) program; print its result."""
    typer.echo(_guard(lambda: run_file(file, lang, store, memory, to)))


def register(app: typer.Typer) -> None:
    app.command("run")(_run)
    app.add_typer(cas_app, name="cas")
