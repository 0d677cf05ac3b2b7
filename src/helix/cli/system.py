"""CLI commands (system): launch, status, logs, ask, serve, report. Owned by the system subsystem."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer


def _die(msg: str, code: int = 2) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    @app.command()
    def launch(
        resume: Optional[Path] = typer.Option(None, "--resume", help="Continue RUN_DIR, or `latest` (after Ctrl-C, a kill or a reboot): no finished brain is retrained."),
        corpus: Optional[Path] = typer.Option(None, help="Corpus directory (built there if missing). Default: <runs-dir>/corpus."),
        corpus_size: Optional[int] = typer.Option(None, help="Corpus size when it has to be built."),
        open_share: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="Open-vocabulary share of the corpus when it has to be built (default 0.5; 0: the closed lexicon)."),
        runs_dir: Path = typer.Option(Path("runs"), help="Where runs/<UTC timestamp>/ go."),
        preset: str = typer.Option("auto", help="auto (full on GPU, tiny on CPU) | tiny | full | a preset | brain=preset,..."),
        device: str = typer.Option("auto", help="auto | cpu | cuda"),
        mode: str = typer.Option("auto", help="CPU: auto | sequential | parallel (thread budget split)."),
        epochs: Optional[int] = typer.Option(None, help="Passed to helix train."),
        batch_size: Optional[int] = typer.Option(None, help="Micro-batch, passed to helix train."),
        grad_accum: Optional[int] = typer.Option(None, help="Passed to helix train."),
        time_budget: Optional[float] = typer.Option(None, help="Clock-bound run: seconds for the job, the learning rate annealed over them (with a warm start the coordinator gets 72%, then the specialists the rest). Default: none, each brain trains to its target."),
        time_cap: Optional[float] = typer.Option(None, help="CPU: cap of the whole job's training in seconds when it trains to target (default 10800)."),
        max_steps: Optional[int] = typer.Option(None, help="Passed to helix train."),
        seed: Optional[int] = typer.Option(None, help="Corpus and training seed (default: theirs)."),
        brains: str = typer.Option("coordinator,ascii,runic", help="Which brains to train."),
        warm_start: str = typer.Option("auto", help="auto | on | off: the coordinator trains first on every brain's records, then the specialists start from its weights (auto: on CPU when the presets share a shape)."),
        max_retries: int = typer.Option(2, help="Retries of a crashed / out-of-memory job."),
        train_arg: list[str] = typer.Option([], "--train-arg", help="Extra argument for helix train (repeatable)."),
        evaluate: bool = typer.Option(True, "--evaluate/--no-evaluate", help="Test-split accuracy table and gate answers at the end."),
        eval_limit: Optional[int] = typer.Option(None, help="Evaluate at most N test records per brain (default: all)."),
        detach: bool = typer.Option(False, help="Supervise in the background; watch with helix status --watch."),
        poll: float = typer.Option(2.0, help="Seconds between supervision polls."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the schedule (which jobs start, which are staged) and stop."),
        gpu_mem: Optional[float] = typer.Option(None, help="With --dry-run: simulate one empty GPU of this many GiB."),
    ) -> None:
        """Train the coordinator, ASCII and runic brains within the machine's memory, then evaluate."""
        from helix.system.launcher import BRAINS, LaunchError, LaunchOptions
        from helix.system.pipeline import launch_main

        names = tuple(b.strip() for b in brains.split(",") if b.strip())
        bad = [b for b in names if b not in BRAINS]
        if bad or not names:
            _die(f"--brains: unknown brain(s) {bad or brains!r}; choose from {', '.join(BRAINS)}")
        if mode not in ("auto", "sequential", "parallel"):
            _die("--mode must be auto, sequential or parallel")
        if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
            _die("--device must be auto, cpu or cuda")
        opts = LaunchOptions(
            runs_dir=runs_dir, corpus=corpus, corpus_size=corpus_size, open_share=open_share, seed=seed, brains=names,
            preset=preset, device=device, mode=mode, epochs=epochs, batch_size=batch_size,
            grad_accum=grad_accum, time_budget=time_budget, time_cap=time_cap, max_steps=max_steps,
            extra_train_args=list(train_arg), max_retries=max_retries, poll_s=poll, warm_start=warm_start,
        )
        if dry_run:
            from helix.system.pipeline import dry_run as _dry_run

            _dry_run(opts, gpu_mem_gib=gpu_mem)
            return
        try:
            code = launch_main(opts, resume=resume, detach=detach, evaluate=evaluate, eval_limit=eval_limit)
        except LaunchError as e:
            _die(str(e), 1)
        except KeyboardInterrupt:
            typer.echo("interrupted: the training processes were stopped; continue with scripts/main.sh --resume "
                       "(helix launch --resume latest)", err=True)
            raise typer.Exit(130)
        raise typer.Exit(code)

    @app.command()
    def status(
        run_dir: Optional[Path] = typer.Argument(None, help="Run directory (default: the latest under runs/)."),
        watch: bool = typer.Option(False, "--watch", "-w", help="Refresh until Ctrl-C."),
        interval: float = typer.Option(2.0, help="Refresh interval for --watch (s)."),
        stall_after: Optional[float] = typer.Option(None, help="Seconds without an update before a training brain is flagged (default 300, env HELIX_STALL_S)."),
        runs_dir: Optional[Path] = typer.Option(None, help="Runs folder (default runs/, env HELIX_RUNS_DIR)."),
        as_json: bool = typer.Option(False, "--json", help="Print the statuses as JSON."),
    ) -> None:
        """One table of the brains of a run: status, epoch, losses, val exact match, gates, speed, ETA."""
        from rich.console import Console

        from helix.system import status as st

        try:
            rd = st.resolve_run(run_dir, runs_dir)
        except FileNotFoundError as e:
            _die(str(e), 1)
        thr = st.stall_threshold(stall_after)
        if as_json:
            states = st.read_run(rd, stall_after_s=thr)
            typer.echo(json.dumps({"run": str(rd), "brains": [
                {"brain": s.brain, **s.status, "age_s": s.age_s, "stalled": s.stalled, "warning": s.warning}
                for s in states]}, indent=2, ensure_ascii=False))
            return
        console = Console()
        if watch:
            try:
                st.watch(rd, interval=interval, stall_after_s=thr, console=console)
            except KeyboardInterrupt:
                pass
            return
        console.print(st.render_status(rd, stall_after_s=thr))

    @app.command()
    def logs(
        brain: str = typer.Argument(..., help="coordinator | ascii | runic"),
        follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
        run: Optional[Path] = typer.Option(None, "--run", help="Run directory (default: the latest)."),
        lines: int = typer.Option(40, "-n", "--lines", help="How many last lines to print first."),
        console_log: bool = typer.Option(False, "--console", help="The process's stdout/stderr capture instead."),
    ) -> None:
        """Print a brain's training log (`<brain>_training.log`)."""
        from helix.system import status as st

        try:
            rd = st.resolve_run(run)
            path = rd / brain / f"{brain}_console.log" if console_log else st.log_path(rd, brain)
            if not path.is_file():
                raise FileNotFoundError(f"no {path.name} in {rd / brain}")
        except FileNotFoundError as e:
            _die(str(e), 1)
        for ln in st.tail_lines(path, lines):
            typer.echo(ln)
        if follow:
            try:
                st.follow(path, sys.stdout)
            except KeyboardInterrupt:
                pass

    @app.command()
    def ask(
        text: Optional[str] = typer.Argument(None, help="The request (English or any HLX form). Omit with --batch."),
        to: Optional[str] = typer.Option(None, "--to", help="Target form: hlxl hlx lc_t lc_b lc_r hlxl_ls hlx_ls english."),
        run: Optional[Path] = typer.Option(None, "--run", help="Run directory (default: the latest)."),
        explain: bool = typer.Option(False, "--explain", help="Show the route, its reason, the candidates and their vote, and the answer's validity."),
        check: bool = typer.Option(False, "--check", help="Ask the other specialist too and compare values."),
        raw: bool = typer.Option(False, "--raw", help="The routed expert's answer alone (no candidates, no vote)."),
        as_json: bool = typer.Option(False, "--json", help="Print the whole answer as JSON."),
        batch: bool = typer.Option(False, "--batch", help="Read JSONL requests ({text, to?, id?}) on stdin, write JSONL answers."),
        device: str = typer.Option("cpu", help="cpu | cuda | auto"),
        max_new_tokens: int = typer.Option(256, help="Longest answer in tokens."),
    ) -> None:
        """Route a request to the right brain (or the language core) and print a checked answer."""
        from helix.system import status as st
        from helix.system.ask import System, describe, get_system
        from helix.hlx import HLXError
        from helix.system.router import RouteError

        try:
            system = get_system(st.resolve_run(run), device)
            system.max_new_tokens = max_new_tokens
            run_error = None
        except FileNotFoundError as e:  # HLX -> HLX conversions need no trained run
            system, run_error = System(None, device), str(e)
        if batch:
            _batch(system, check, raw)
            return
        if text is None:
            _die('give a request, e.g. helix ask "Represent true" --to lc_r (or --batch)')
        try:
            a = system.ask(text, to, check=check, raw=raw)
        except RouteError as e:
            _die(str(e), 2)
        except HLXError as e:  # e.g. text that is not valid Unicode
            _die(str(e), 1)
        if run_error and a.error and a.error.get("code") == "E_NO_MODEL":
            _die(f"{run_error}\n(only HLX -> HLX conversions work without a trained run)", 1)
        if as_json:
            typer.echo(json.dumps(a.to_dict(), ensure_ascii=False, indent=2))
        else:
            if a.ok:
                typer.echo(a.text)
                if not explain and a.copy and a.copy["missing"]:
                    from helix.system.literals import describe_missing

                    typer.echo(f"warning: the answer does not carry the request's {describe_missing(a.copy)}",
                               err=True)
            if explain or not a.ok:
                for ln in describe(a):
                    typer.echo(ln, err=not a.ok and not explain)
            if not a.ok:
                e = a.error or {}
                typer.echo(f"error: no valid answer ({e.get('code', 'invalid')}: {e.get('message', '')})", err=True)
        raise typer.Exit(0 if a.ok else 1)

    def _batch(system, check: bool, raw: bool = False) -> None:
        """JSONL in (``{"text", "to"?, "id"?}`` or a bare JSON string), JSONL out, in order."""
        from helix.system.router import RouteError, route

        items: list = []  # (id, text, to) to answer, or a ready error object
        for n, line in enumerate(sys.stdin, 1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
                if isinstance(obj, str):
                    obj = {"text": obj}
                if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                    raise ValueError('expected {"text": ..., "to": ...}')
            except ValueError as e:
                items.append({"id": n, "error": {"code": "E_REQUEST", "message": f"line {n}: {e}"}})
                continue
            rid = obj.get("id", n)
            try:
                route(obj["text"], obj.get("to"))
            except RouteError as e:
                items.append({"id": rid, "error": {"code": "E_ROUTE", "message": str(e)}})
                continue
            items.append((rid, obj["text"], obj.get("to")))
        todo = [it for it in items if isinstance(it, tuple)]
        answers = iter(system.ask_many([(t, to) for _, t, to in todo], check=check, raw=raw) if todo else ())
        for it in items:
            obj = it if isinstance(it, dict) else {"id": it[0], **next(answers).to_dict()}
            typer.echo(json.dumps(obj, ensure_ascii=False))

    @app.command()
    def serve(
        run: Optional[Path] = typer.Option(None, "--run", help="Run directory (default: the latest)."),
        host: str = typer.Option("127.0.0.1", help="Loopback address only (127.0.0.1, ::1, localhost)."),
        port: int = typer.Option(8000),
        device: str = typer.Option("cpu"),
        max_body: int = typer.Option(65536, help="Largest request body in bytes."),
    ) -> None:
        """Serve POST /ask, POST /convert, GET /status, GET /health and a web page at /."""
        from helix.system import status as st
        from helix.system.server import check_loopback, serve as _serve

        try:
            check_loopback(host)
            rd = st.resolve_run(run)
        except (ValueError, FileNotFoundError) as e:
            _die(str(e), 2)
        _serve(rd, host=host, port=port, device=device, max_body=max_body)

    @app.command()
    def report(
        run_dir: Optional[Path] = typer.Argument(None, help="Run directory (default: the latest)."),
        evaluate: bool = typer.Option(False, "--evaluate", help="Compute the test-split accuracy table first (slow)."),
        eval_limit: Optional[int] = typer.Option(None, help="With --evaluate: at most N test records per brain."),
        device: str = typer.Option("cpu", help="With --evaluate: cpu | cuda."),
    ) -> None:
        """Write RUN_DIR/report.html with loss, exact-match, gate and accuracy plots."""
        from helix.system import status as st
        from helix.system.report import write_report

        try:
            rd = st.resolve_run(run_dir)
        except FileNotFoundError as e:
            _die(str(e), 1)
        if evaluate:
            from helix.system.pipeline import evaluate_run

            evaluate_run(rd, limit=eval_limit, device=device, parallel=device == "cpu")
        try:
            out = write_report(rd)
        except FileNotFoundError as e:
            _die(str(e), 1)
        typer.echo(str(out))
