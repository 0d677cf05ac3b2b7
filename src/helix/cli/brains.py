"""CLI commands (brains): ``helix train``, ``helix eval``, ``helix model info``.

Owned by the brains subsystem. Thin: each command builds a config and calls ``helix.ml``.
torch is imported inside the commands so that ``helix --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Optional

import typer

model_app = typer.Typer(help="Model presets: shapes, parameter counts, memory.", no_args_is_help=True)


def _parse_epochs(s: str | None) -> tuple[int, ...] | None:
    if s is None:
        return None
    try:
        vals = tuple(sorted({int(x) for x in s.replace(" ", "").split(",") if x}))
    except ValueError:
        raise typer.BadParameter(f"--gate-epochs expects comma-separated integers, got {s!r}") from None
    if any(v < 1 for v in vals):
        raise typer.BadParameter("--gate-epochs values must be >= 1")
    return vals


def _parse_format_weights(items: list[str]) -> dict[str, int]:
    from helix.ml.data import check_format_weights

    out: dict[str, int] = {}
    for item in items:
        fmt, sep, n = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[fmt.strip()] = int(n)
        except ValueError:
            raise typer.BadParameter(f"--format-weight expects FMT=N (e.g. lc_b=2), got {item!r}") from None
    try:
        return check_format_weights(out)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None


def train_cmd(
    brain: str = typer.Option(..., "--brain", help="coordinator | ascii | runic"),
    corpus: Path = typer.Option(..., "--corpus", help="corpus folder (or the brain's JSONL file)"),
    out: Path = typer.Option(..., "--out", help="run folder (status.json, logs, checkpoints/)"),
    preset: Optional[str] = typer.Option(None, "--preset", help="model preset (see `helix model info`)"),
    epochs: Optional[int] = typer.Option(None, "--epochs"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="examples per micro-batch, all ranks together"),
    grad_accum: Optional[int] = typer.Option(None, "--grad-accum"),
    lr: Optional[float] = typer.Option(None, "--lr"),
    optimizer: Optional[str] = typer.Option(
        None, "--optimizer", help="adamw | adam | muon (Muon on the blocks' matrices, AdamW on the rest)"),
    muon_lr_mult: Optional[float] = typer.Option(
        None, "--muon-lr-mult", help="muon: the matrices' learning rate is --lr times this"),
    min_lr: Optional[float] = typer.Option(None, "--min-lr"),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay"),
    warmup: Optional[float] = typer.Option(None, "--warmup", help="steps, or a fraction of all steps if < 1"),
    clip: Optional[float] = typer.Option(None, "--clip", help="gradient clipping norm (0: off)"),
    dropout: Optional[float] = typer.Option(None, "--dropout"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N"),
    seed: Optional[int] = typer.Option(None, "--seed"),
    compile: Optional[bool] = typer.Option(None, "--compile/--no-compile", help="torch.compile the model"),
    amp: Optional[str] = typer.Option(None, "--amp", help="bf16 autocast: auto (measured on this machine) | bf16 | off"),
    attention: Optional[str] = typer.Option(None, "--attention", help="auto (measured) | sdpa | explicit"),
    tokenizer: Optional[str] = typer.Option(
        None, "--tokenizer", help="lex (the forms' lexical units and the corpus grammar's words; default) | lex-any (any "
             "frequent word, open words included) | lex-case (lex, capitals folded into a <cap> marker) | char (one token per character)"),
    muon_ns: Optional[str] = typer.Option(
        None, "--muon-ns", help="precision of Muon's Newton-Schulz step: auto (measured) | bf16 | fp32"),
    max_steps: Optional[int] = typer.Option(None, "--max-steps"),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="seconds"),
    time_cap: Optional[float] = typer.Option(None, "--time-cap", help="stop after this many seconds of training (the schedule does not follow it)"),
    schedule: Optional[str] = typer.Option(None, "--schedule", help="cosine | constant | wsd (warmup-stable-decay, the decay started by the first plateau)"),
    patience: Optional[int] = typer.Option(None, "--patience", help="evaluations without a gain of --min-delta: the plateau (0: off)"),
    min_delta: Optional[float] = typer.Option(None, "--min-delta", help="smallest rise of the best val exact match that counts"),
    save_every_s: Optional[float] = typer.Option(None, "--save-every-s", help="refresh checkpoints/last every N seconds"),
    decay_frac: Optional[float] = typer.Option(None, "--decay-frac", help="wsd: the decay lasts this fraction of the steps trained when it starts"),
    decay_min_steps: Optional[int] = typer.Option(None, "--decay-min-steps", help="wsd: and at least this many steps"),
    patience_grace_steps: Optional[int] = typer.Option(None, "--patience-grace-steps", help="before this step an evaluation with nothing right does not count towards the plateau"),
    schedule_by_time: Optional[bool] = typer.Option(
        None, "--schedule-by-time/--schedule-by-steps",
        help="run the warmup+cosine schedule over --time-budget instead of the step count "
             "(ends annealed when the budget ends; not bit-reproducible)"),
    recipe: str = typer.Option("default", "--recipe", help="default | original"),
    mix: Optional[str] = typer.Option(
        None, "--mix", help="own: this brain's corpus | all: every brain's training records"),
    init_from: Optional[Path] = typer.Option(
        None, "--init-from", help="start from this checkpoint's weights (same model shape)"),
    format_weight: Optional[list[str]] = typer.Option(
        None, "--format-weight",
        help="FMT=N: each training record that reads or writes FMT counts N times an epoch (repeatable; "
             "replaces the recipe's weights; lc_b=1 turns the default off)"),
    resume: bool = typer.Option(False, "--resume", help="continue from RUN_DIR/checkpoints/last"),
    gate_epochs: Optional[str] = typer.Option(None, "--gate-epochs", help="e.g. 1,5,10,20,50,100"),
    gate_policy: Optional[str] = typer.Option(None, "--gate-policy", help="warn | stop"),
    gate_stop_from: Optional[int] = typer.Option(None, "--gate-stop-from", help="first epoch a failed gate may stop"),
    gate_min_exact: Optional[float] = typer.Option(None, "--gate-min-exact", help="the target val exact match"),
    gate_floor: Optional[float] = typer.Option(
        None, "--gate-floor", help="a run ending below this val exact match is quality_failed (default 0.5)"),
    keep_last: Optional[int] = typer.Option(None, "--keep-last", help="epoch checkpoints kept"),
    eval_sample: Optional[int] = typer.Option(None, "--eval-sample", help="val records decoded per epoch"),
    eval_every_steps: Optional[int] = typer.Option(
        None, "--eval-every-steps", help="also decode the val sample every N steps (time-to-accuracy)"),
    val_check: Optional[str] = typer.Option(
        None, "--val-check", help="generate (greedy decoding; default) | teacher (the same exact match from one "
                                  "teacher-forced pass) for those checks and the target's confirmation"),
    stop_at_target: Optional[bool] = typer.Option(
        None, "--stop-at-target/--no-stop-at-target",
        help="stop once an evaluation reaches --gate-min-exact (a budget of work under --time-budget)"),
    confirm_sample: Optional[int] = typer.Option(
        None, "--confirm-sample", help="val records that confirm the target before --stop-at-target stops (0: off)"),
    stop_margin: Optional[float] = typer.Option(
        None, "--stop-margin", help="--stop-at-target stops at --gate-min-exact plus this"),
    plateau_patience: Optional[int] = typer.Option(None, "--plateau-patience", help="epochs (0: off)"),
    save_every_steps: Optional[int] = typer.Option(None, "--save-every-steps"),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads"),
    log_every: Optional[int] = typer.Option(None, "--log-every", help="steps between metric lines"),
    progress: str = typer.Option("auto", "--progress", help="auto | on | off"),
    quiet: bool = typer.Option(False, "--quiet", help="do not echo the log on stderr"),
    debug_kill_at_step: Optional[int] = typer.Option(None, "--debug-kill-at-step", hidden=True),
) -> None:
    """Train one brain (also under `torchrun --nproc_per_node N -m helix train ...`)."""
    from helix.ml.config import default_train_config
    from helix.ml.train import train

    try:
        cfg = default_train_config(brain, preset, device)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    upd = dict(corpus=str(corpus), out=str(out), recipe=recipe, resume=resume, progress=progress,
               echo=not quiet)
    for k, v in dict(epochs=epochs, batch_size=batch_size, grad_accum=grad_accum, lr=lr, min_lr=min_lr,
                     optimizer=optimizer, muon_lr_mult=muon_lr_mult,
                     weight_decay=weight_decay, warmup=warmup, clip=clip, dropout=dropout, seed=seed,
                     compile=compile, amp=amp, attention=attention, muon_ns_dtype=muon_ns, tokenizer=tokenizer, max_steps=max_steps, time_budget_s=time_budget,
                     time_cap_s=time_cap, schedule=schedule, patience=patience, min_delta=min_delta,
                     save_every_s=save_every_s, decay_frac=decay_frac, decay_min_steps=decay_min_steps,
                     patience_grace_steps=patience_grace_steps,
                     schedule_by_time=schedule_by_time, mix=mix,
                     init_from=str(init_from) if init_from is not None else None,
                     gate_policy=gate_policy, gate_stop_from=gate_stop_from, gate_min_exact=gate_min_exact,
                     gate_floor=gate_floor,
                     keep_last=keep_last, eval_sample=eval_sample, eval_every_steps=eval_every_steps, val_check=val_check,
                     stop_at_target=stop_at_target, confirm_sample=confirm_sample, stop_margin=stop_margin,
                     plateau_patience=plateau_patience,
                     save_every_steps=save_every_steps, num_threads=threads, log_every=log_every,
                     debug_kill_at_step=debug_kill_at_step).items():
        if v is not None:
            upd[k] = v
    ge = _parse_epochs(gate_epochs)
    if ge is not None:
        upd["gate_epochs"] = ge
    if format_weight:
        upd["format_weights"] = _parse_format_weights(format_weight)
    if recipe == "original":
        # the original recipe fixes optimizer, lr, batch, epochs...; explicit flags still win
        from helix.ml.config import original_recipe

        cfg = original_recipe(cfg)
    elif recipe != "default":
        raise typer.BadParameter("--recipe must be default or original")
    cfg = dataclasses.replace(cfg, **upd, recipe_applied=True)
    from helix.ml.checkpoint import CheckpointError

    try:
        summary = train(cfg)
    except CheckpointError as e:  # a damaged or hostile checkpoint or training state
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    except (ValueError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        typer.echo(json.dumps({k: v for k, v in summary.items() if k != "gates"}, indent=2))
    if summary["status"] not in ("completed",):
        raise typer.Exit(3)


def eval_cmd(
    checkpoint: Path = typer.Argument(..., help="checkpoint folder (or a run folder: its best checkpoint; with --system, the run)"),
    corpus: Optional[Path] = typer.Option(None, "--corpus"),
    split: str = typer.Option("test", "--split"),
    pairs: Optional[Path] = typer.Option(None, "--pairs", help="JSONL with an `english` key and one key per format"),
    to: Optional[str] = typer.Option(None, "--to", help="target format (required with --pairs)"),
    limit: Optional[int] = typer.Option(None, "--limit"),
    batch_size: int = typer.Option(64, "--batch-size"),
    device: str = typer.Option("cpu", "--device"),
    as_json: bool = typer.Option(False, "--json", help="print JSON only"),
    out: Optional[Path] = typer.Option(None, "--out", help="write the JSON report here"),
    examples: int = typer.Option(0, "--examples", help="include up to N wrong outputs in the report"),
    system: bool = typer.Option(False, "--system", help="CHECKPOINT is a run: each brain alone and the system side by side per target form (--limit: records per form)"),
) -> None:
    """Evaluate a checkpoint: exact match, semantic match and validity per target format."""
    from helix.ml.checkpoint import CheckpointError
    from helix.ml.evaluate import evaluate, format_table
    from helix.util import atomic_write_json

    if (corpus is None) == (pairs is None):
        raise typer.BadParameter("give exactly one of --corpus DIR or --pairs FILE")
    from helix.system.syseval import evaluate_system, format_system_table

    try:
        if system:
            rep = evaluate_system(checkpoint, corpus=corpus, split=split, pairs=pairs, to=to, limit=limit,
                                  device=device)
        else:
            rep = evaluate(checkpoint, corpus=corpus, split=split, pairs=pairs, to=to, limit=limit,
                           batch_size=batch_size, device=device, examples=examples)
    except (CheckpointError, ValueError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    if out is not None:
        atomic_write_json(out, rep)
    if as_json:
        typer.echo(json.dumps(rep, indent=2, ensure_ascii=False))
    else:
        typer.echo(format_system_table(rep) + "\n" + format_system_table(rep, "semantic_match") if system
                   else format_table(rep))
        if out is not None:
            typer.echo(f"report written to {out}")


@model_app.command("info")
def model_info(
    preset: str = typer.Argument(..., help="preset name"),
    batch_size: int = typer.Option(128, "--batch-size"),
    seq_len: int = typer.Option(256, "--seq-len"),
    fp32: bool = typer.Option(False, "--fp32", help="estimate without bf16 autocast"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Parameter count and training-memory estimate of a preset."""
    from helix.ml.config import PRESETS, get_preset
    from helix.ml.memory import estimate_train_memory, fmt_bytes

    try:
        cfg = get_preset(preset)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    est = estimate_train_memory(cfg, batch_size, seq_len, amp_bf16=not fp32)
    n = cfg.num_params()
    if as_json:
        typer.echo(json.dumps({"preset": preset, "params": n, "config": cfg.to_dict(),
                               "batch_size": batch_size, "seq_len": seq_len, "memory": est}, indent=2))
        return
    typer.echo(f"{preset}: {n:,} parameters ({n / 1e6:.1f}M; non-embedding "
               f"{cfg.num_params(exclude_embeddings=True):,})")
    typer.echo(f"  d_model {cfg.d_model}, heads {cfg.n_heads}, layers {cfg.n_layers}, d_ff {cfg.d_ff}, "
               f"context {cfg.max_len}, positions {cfg.pos}"
               + (f" + run positions (K {cfg.run_pos})" if cfg.run_pos else "")
               + f", vocab {cfg.vocab_size}")
    typer.echo(f"  training memory at batch {batch_size} x {seq_len} ({'fp32' if fp32 else 'bf16 autocast'}, AdamW):")
    for k in ("params", "grads", "optimizer", "activations", "workspace", "total"):
        typer.echo(f"    {k:<12} {fmt_bytes(est[k]):>10}")
    typer.echo(f"  known presets: {', '.join(PRESETS)}")


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
    app.command("eval")(eval_cmd)
    app.add_typer(model_app, name="model")
