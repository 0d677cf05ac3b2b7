"""CLI commands of the corpus builder: ``helix corpus build | verify | stats``.

* ``helix corpus build --out DIR [--seed S] [--size N]`` builds the three corpora, their
  reference cards and the manifest into DIR (replaced atomically); ``--size`` is the number of
  training records per corpus (val and test add 5% each).
* ``helix corpus verify DIR`` re-checks everything; prints each problem, exit 1 if any.
* ``helix corpus stats DIR`` prints counts and shares as tables.

Exit codes: 0 ok, 1 corpus problems / build failure, 2 usage.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from helix.cli.common import internal_error

corpus_app = typer.Typer(help="Build, verify and inspect the training corpora.",
                         no_args_is_help=True, add_completion=False)


@corpus_app.command("build")
def build_cmd(
    out: Path = typer.Option(..., "--out", help="Output folder (replaced atomically)."),
    seed: int = typer.Option(None, "--seed", help="Random seed (default 1234)."),
    size: int = typer.Option(None, "--size", min=20,
                             help="Training records per corpus (default 22000)."),
    open_share: float = typer.Option(None, "--open-share", min=0.0, max=1.0,
                                     help="Share of name, path and text draws from the open word "
                                          "generators (default 0.5; 0: the closed lexicon, no novel split)."),
) -> None:
    """Build canonical.jsonl, ascii.jsonl, runic.jsonl, *.md and manifest.json."""
    from helix.corpus import DEFAULT_SEED, DEFAULT_SIZE, CorpusError, build_corpus

    seed = DEFAULT_SEED if seed is None else seed
    size = DEFAULT_SIZE if size is None else size
    t0 = time.perf_counter()
    try:
        from helix.corpus.openwords import OPEN_SHARE

        m = build_corpus(out, seed=seed, size=size, open_share=OPEN_SHARE if open_share is None else open_share,
                         progress=lambda s: typer.echo(s, err=True))
    except CorpusError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    except OSError as e:
        typer.echo(f"error: cannot write the corpus to {out}: {e}", err=True)
        raise typer.Exit(1)
    except Exception as e:  # noqa: BLE001 - never a traceback
        internal_error(e)
    dt = time.perf_counter() - t0
    total = sum(f.get("records", 0) for f in m["files"].values())
    typer.echo(f"built {out} in {dt:.1f} s: {total} records, seed {seed}, size {size}")
    for name, info in m["files"].items():
        extra = f", {info['records']} records" if "records" in info else ""
        typer.echo(f"  {name}: {info['bytes']} bytes{extra}")
    typer.echo(f"verification hash {m['verification_hash']}")


@corpus_app.command("verify")
def verify_cmd(directory: Path = typer.Argument(..., help="Corpus folder.")) -> None:
    """Re-parse and re-check every record, hash and count; exit 1 on any mismatch."""
    from helix.corpus import verify_corpus

    if not directory.is_dir():
        typer.echo(f"error: {directory} is not a folder", err=True)
        raise typer.Exit(2)
    try:
        problems = verify_corpus(directory)
    except OSError as e:
        typer.echo(f"error: cannot read {directory}: {e}", err=True)
        raise typer.Exit(1)
    except Exception as e:  # noqa: BLE001 - a hostile file is a failed check, not a traceback
        typer.echo(f"error: {directory} cannot be verified: {type(e).__name__}: "
                   f"{str(e)[:300]}", err=True)
        raise typer.Exit(1)
    for p in problems:
        typer.echo(p)
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {directory}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{directory}: OK")


@corpus_app.command("stats")
def stats_cmd(directory: Path = typer.Argument(..., help="Corpus folder.")) -> None:
    """Counts and shares per corpus, split, target format and category."""
    from helix.corpus import corpus_stats

    try:
        st = corpus_stats(directory)
        _print_stats(st)
    except (OSError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    except Exception as e:  # noqa: BLE001 - a damaged manifest or record, not a traceback
        typer.echo(f"error: {directory} is not a readable corpus: {type(e).__name__}: "
                   f"{str(e)[:300]}", err=True)
        raise typer.Exit(1)


def _print_stats(st: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(file=sys.stdout)
    if st.get("seed") is not None:
        con.print(f"generator {st.get('generator_version')}, seed {st['seed']}, size "
                  f"{st['size']}, verification hash {st.get('verification_hash')}")
    for corpus, e in st["corpora"].items():
        t = Table(title=f"{e['file']} ({e['brain']} brain): {e['records']} records, "
                        f"{e['train_records']} train")
        t.add_column("target format")
        t.add_column("records", justify="right")
        t.add_column("share", justify="right")
        for fmt, c in e["tgt_fmt"].items():
            t.add_row(fmt, str(c["count"]), f"{100 * c['share']:.1f}%")
        con.print(t)
        g = Table(title=f"{e['file']}: mix vs target")
        g.add_column("group")
        g.add_column("formats")
        g.add_column("share", justify="right")
        g.add_column("target", justify="right")
        for name, x in e["mix"].items():
            g.add_row(name, "+".join(x["formats"]), f"{100 * x['share']:.1f}%",
                      f"{100 * x['target']:.0f}%")
        con.print(g)
        s = Table(title=f"{e['file']}: splits and categories")
        s.add_column("split / category")
        s.add_column("records", justify="right")
        s.add_column("share", justify="right")
        for k, c in e["split"].items():
            s.add_row(f"split {k}", str(c["count"]), f"{100 * c['share']:.1f}%")
        for k, c in e["category"].items():
            s.add_row(k, str(c["count"]), f"{100 * c['share']:.1f}%")
        con.print(s)
        lengths = st.get("lengths", {}).get(corpus, {}).get("example")
        if lengths:
            con.print(f"length (src+tgt+6): min {lengths['min']}, p50 {lengths['p50']}, "
                      f"p90 {lengths['p90']}, p99 {lengths['p99']}, max {lengths['max']} "
                      f"(budget 256)")


def register(app: typer.Typer) -> None:
    app.add_typer(corpus_app, name="corpus")
