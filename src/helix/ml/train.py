"""Training loop: AdamW + warmup/cosine, clipping, accumulation, bf16 autocast on CUDA, compile,
DDP under torchrun, quality gates, abort rules, atomic checkpoints, exact resume.

Files written into ``cfg.out`` (rank 0 only): ``status.json``, ``<brain>_training.log``,
``metrics.jsonl``, ``tb/`` (one TensorBoard event file per epoch) and ``checkpoints/``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

import torch
import torch.distributed as dist

from helix.ml import checkpoint as ckpt
from helix.ml import precision
from helix.ml import stopping
from helix.ml.config import CONTROL_FILE, TrainConfig, get_preset, original_recipe
from helix.ml.data import CORPUS_FILES, collate, dummy_batch, encode_records, epoch_batches, load_records, weight_records
from helix.ml.flops import peak_bf16_flops, train_flops
from helix.ml.gates import fixed_sample, run_gate, score_outputs
from helix.ml.generate import generate_requests, resolve_device, teacher_forced_exact
from helix.ml.model import GPT, loss_fn
from helix.ml.optim import build_optimizer, set_lr
from helix.ml.tokenizer import BRAINS, Tokenizer
from helix.util import atomic_write_json, atomic_write_text, utc_now_iso

STATUSES = ("queued", "staged", "training", "completed", "aborted", "quality_failed", "failed")


class Terminated(Exception):
    """SIGTERM arrived: the run stops, its status says so (last checkpoint stays resumable)."""


# ----------------------------------------------------------------------------------------------
# Output files
# ----------------------------------------------------------------------------------------------
class RunFiles:
    """status.json, the human log, metrics.jsonl and TensorBoard files of one run (rank 0)."""

    def __init__(self, out: Path, brain: str, preset: str, enabled: bool) -> None:
        self.out = out
        self.enabled = enabled
        self.brain = brain
        self.preset = preset
        self.status_path = out / "status.json"
        self.log_path = out / f"{brain}_training.log"
        self.metrics_path = out / "metrics.jsonl"
        self.tb_dir = out / "tb"
        self.status: dict = {
            "time": utc_now_iso(), "brain": brain, "preset": preset, "epoch": 0, "total_epochs": 0,
            "step": 0, "total_steps": 0, "train_loss": None, "val_loss": None,
            "val_exact_match": None, "tokens_per_s": None, "mfu": None, "eta_s": None,
            "gpu_mem_bytes": None, "status": "staged", "last_gate": None, "message": "",
            "pid": os.getpid(),
        }
        if enabled and self.status_path.is_file():  # what the launcher projected stays visible
            try:
                prev = json.loads(self.status_path.read_text(encoding="utf-8"))
                if isinstance(prev, dict) and isinstance(prev.get("projection"), dict):
                    self.status["projection"] = prev["projection"]
            except (OSError, ValueError):
                pass
        self.log_lines: list[str] = []
        self.metrics: list[str] = []
        self.tb_pending: list[tuple[str, float, int]] = []
        self._last_flush = 0.0
        self.echo = False
        self.progress = None
        if enabled:
            out.mkdir(parents=True, exist_ok=True)

    def load_existing(self, upto_step: int) -> None:
        """On resume: keep the earlier log and the metrics up to the resumed step."""
        if not self.enabled:
            return
        if self.log_path.exists():
            self.log_lines = self.log_path.read_text(encoding="utf-8").splitlines()
        if self.metrics_path.exists():
            for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if rec.get("step", 0) <= upto_step:
                    self.metrics.append(line)

    def set_status(self, **kw) -> None:
        self.status.update(kw)
        self.status["time"] = utc_now_iso()
        if self.enabled:
            atomic_write_json(self.status_path, self.status)

    def log(self, msg: str) -> None:
        line = f"{utc_now_iso()} {msg}"
        self.log_lines.append(line)
        if self.enabled and self.echo:
            if self.progress is not None:
                self.progress.write(line, file=sys.stderr)
            else:
                print(line, file=sys.stderr, flush=True)

    def metric(self, rec: dict) -> None:
        from helix.util import _finite

        self.metrics.append(json.dumps(_finite(rec), ensure_ascii=False, allow_nan=False))
        for k, v in rec.items():
            if k not in ("kind", "step", "epoch", "time") and isinstance(v, (int, float)) and v is not None:
                if isinstance(v, bool) or not math.isfinite(float(v)):
                    continue
                self.tb_pending.append((f"{rec.get('kind', 'train')}/{k}", float(v), int(rec.get("step", 0))))

    def flush(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last_flush < 5.0:
            return
        self._last_flush = now
        atomic_write_text(self.log_path, "\n".join(self.log_lines) + "\n")
        atomic_write_text(self.metrics_path, "\n".join(self.metrics) + ("\n" if self.metrics else ""))

    def flush_tb(self, epoch: int) -> None:
        """Write the pending scalars as one event file, built aside and renamed into tb/."""
        if not self.enabled or not self.tb_pending:
            return
        import tempfile

        try:
            from torch.utils.tensorboard import SummaryWriter
        except Exception as e:  # pragma: no cover - tensorboard is a dependency
            self.log(f"tensorboard unavailable: {e}")
            self.tb_pending = []
            return
        self.tb_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.out, prefix=".tb-") as tmp:
            w = SummaryWriter(log_dir=tmp)
            for tag, val, step in self.tb_pending:
                w.add_scalar(tag, val, step)
            w.close()
            for f in Path(tmp).iterdir():
                if "tfevents" in f.name:
                    with open(f, "rb+") as fh:
                        os.fsync(fh.fileno())
                    os.replace(f, self.tb_dir / f"events.out.tfevents.{epoch:06d}.helix")
        self.tb_pending = []


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------
def lr_at(cfg: TrainConfig, step: int, total: int, time_frac: float | None = None) -> float:
    """Learning rate for optimizer step ``step`` (0-based): linear warmup, then cosine to min_lr.

    ``time_frac`` (time-budgeted schedule): the cosine follows the elapsed fraction of the time
    budget instead of the step count, so the run ends annealed whatever the machine's speed.
    """
    if time_frac is not None and cfg.schedule != "constant":
        wf = cfg.warmup if cfg.warmup < 1 else 0.0
        if wf > 0 and time_frac < wf:
            return cfg.lr * min(1.0, max(time_frac / wf, (step + 1) / 1000))
        t = min(1.0, max(0.0, (time_frac - wf) / max(1e-9, 1 - wf)))
        return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * t))
    if cfg.schedule == "constant":
        warm = cfg.warmup if cfg.warmup >= 1 else cfg.warmup * total
        return cfg.lr * min(1.0, (step + 1) / warm) if warm >= 1 else cfg.lr
    warm = int(cfg.warmup) if cfg.warmup >= 1 else int(round(cfg.warmup * total))
    if warm > 0 and step < warm:
        return cfg.lr * (step + 1) / warm
    span = max(1, total - warm)
    t = min(1.0, (step - warm) / span)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * t))


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return world, rank, local


def _rng_state(device: torch.device) -> dict:
    st = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        st["cuda"] = torch.cuda.get_rng_state(device)
    return st


def _set_rng_state(st: dict, device: torch.device) -> None:
    torch.set_rng_state(st["torch"])
    if device.type == "cuda" and "cuda" in st:
        torch.cuda.set_rng_state(st["cuda"], device)


def _finite_or_none(x):
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def _progress_enabled(cfg: TrainConfig, rank: int) -> bool:
    if rank != 0 or cfg.progress == "off":
        return False
    return cfg.progress == "on" or sys.stderr.isatty()


def resolve_config(cfg: TrainConfig) -> TrainConfig:
    if cfg.recipe == "original":
        if not cfg.recipe_applied:
            cfg = original_recipe(cfg)
    elif cfg.recipe != "default":
        raise ValueError(f"unknown recipe {cfg.recipe!r} (default or original)")
    if cfg.brain not in BRAINS:
        raise ValueError(f"unknown brain {cfg.brain!r}")
    if cfg.gate_policy not in ("warn", "stop"):
        raise ValueError("gate_policy must be warn or stop")
    if cfg.val_check not in ("generate", "teacher"):
        raise ValueError(f"val_check must be generate or teacher, not {cfg.val_check!r}")
    if not cfg.out:
        raise ValueError("TrainConfig.out (the run folder) is required")
    if not cfg.corpus:
        raise ValueError("TrainConfig.corpus is required")
    if cfg.batch_size < 1 or cfg.grad_accum < 1 or cfg.epochs < 1:
        raise ValueError("batch_size, grad_accum and epochs must be >= 1")
    return cfg


@torch.no_grad()
def evaluate_loss(model: GPT, examples, tok: Tokenizer, device, *, batch_size: int, amp: bool) -> float:
    """Mean target-token cross-entropy over ``examples``."""
    was = model.training
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    batches = epoch_batches([len(e.ids) for e in examples], batch_size, 0, 0, shuffle=False)
    for b in batches:
        inp, tgt, w = collate([examples[i] for i in b], tok.pad_id)
        inp, tgt, w = inp.to(device), tgt.to(device), w.to(device)
        with (torch.autocast("cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext()):
            logits = model(inp)
        total += loss_fn(logits, tgt, w).double()
        count += int(w.sum().item())
    model.train(was)
    return float(total.item()) / max(1, count)


# ----------------------------------------------------------------------------------------------
# The training run
# ----------------------------------------------------------------------------------------------
def train(cfg: TrainConfig) -> dict:
    """Train one brain; returns the final summary (also written to ``status.json``)."""
    cfg = resolve_config(cfg)
    world, rank, local_rank = _dist_info()
    out = Path(cfg.out)
    files = RunFiles(out, cfg.brain, cfg.preset, enabled=rank == 0)
    files.echo = cfg.echo
    old_handler = None
    if threading.current_thread() is threading.main_thread():
        def _on_term(signum, frame):
            raise Terminated(f"terminated by signal {signum}")

        old_handler = signal.signal(signal.SIGTERM, _on_term)
    try:
        with precision.denormals_flushed():  # CPU: FTZ/DAZ while training (helix.ml.precision)
            return _train(cfg, files, world, rank, local_rank)
    except BaseException as e:
        if files.status.get("status") not in ("completed", "aborted", "quality_failed"):
            stopped = isinstance(e, (Terminated, KeyboardInterrupt))
            msg = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            if stopped:
                msg = str(e) or "interrupted"
            files.log(f"{'STOPPED' if stopped else 'FAILED'}: {msg}")
            files.set_status(status="aborted" if stopped else "failed", message=msg[:500])
            files.flush(force=True)
        raise
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _train(cfg: TrainConfig, files: RunFiles, world: int, rank: int, local_rank: int) -> dict:
    t_start = time.time()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    if cfg.device in ("auto", "cuda") and torch.cuda.is_available():
        device = torch.device("cuda", local_rank if world > 1 else torch.cuda.current_device())
    else:
        device = resolve_device("cpu" if cfg.device == "auto" else cfg.device)
        if device.type == "cuda" and world > 1:
            device = torch.device("cuda", local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")

    files.set_status(status="staged", message="loading corpus", total_epochs=cfg.epochs)
    ck_root = Path(cfg.out) / "checkpoints"
    tok = tokenizer_for(cfg, ck_root)
    mcfg = model_config(cfg, tok)
    # precision and kernels: measured on this machine (helix.ml.precision), unless forced
    choice = precision.choose(device, mcfg.d_model, mcfg.n_heads, mcfg.d_ff, autocast=cfg.amp,
                              attention=cfg.attention, muon_ns=cfg.muon_ns_dtype)
    use_amp = choice["autocast"] == "bf16"
    use_amp_cpu = use_amp and device.type != "cuda"
    if device.type == "cpu":
        choice["flush_denormal"] = torch.set_flush_denormal(True)  # set by train(); True where supported
    files.log(f"precision: {precision.describe(choice)}")
    files.status["precision"] = {k: choice.get(k) for k in ("autocast", "attention", "muon_ns", "flush_denormal",
                                                              "source", "forced")}
    if mcfg.vocab_size < tok.vocab_size:
        raise ValueError("model vocab_size is smaller than the tokenizer's vocabulary")

    if cfg.mix not in ("own", "all"):
        raise ValueError(f"mix must be 'own' or 'all', not {cfg.mix!r}")
    if cfg.mix == "all" and not Path(cfg.corpus).is_dir():
        raise ValueError("--mix all needs the corpus folder (it reads every brain's file)")
    # mix=all: every brain's training records, each encoded the way this brain sees it (the
    # coordinator tags them all with their route); validation stays on this brain's own corpus.
    # The splits are a function of the value, so no corpus's val/test value is in any train set.
    train_recs = [r for b in (BRAINS if cfg.mix == "all" else (cfg.brain,))
                  for r in load_records(cfg.corpus, b, "train")]
    # format weights: records reading or writing a slow-to-learn format (LC-B) appear n times an epoch
    train_recs = weight_records(train_recs, cfg.format_weights)
    val_recs = load_records(cfg.corpus, cfg.brain, "val")
    if not train_recs:
        raise ValueError(f"corpus {cfg.corpus} has no train records for brain {cfg.brain}")
    train_ds = encode_records(train_recs, tok, cfg.brain, mcfg.max_len)
    val_ds = encode_records(val_recs, tok, cfg.brain, mcfg.max_len)
    val_loss_examples = val_ds.examples[: cfg.val_loss_limit] if cfg.val_loss_limit else val_ds.examples
    sample = fixed_sample(val_recs, cfg.eval_sample)
    lengths = [len(e.ids) for e in train_ds.examples]
    n_batches = len(epoch_batches(lengths, cfg.batch_size, cfg.seed, 0, bucket=cfg.bucket))
    steps_per_epoch = math.ceil(n_batches / cfg.grad_accum)
    total_steps = cfg.epochs * steps_per_epoch
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)
    total_epochs = math.ceil(total_steps / steps_per_epoch)

    torch.manual_seed(cfg.seed)
    model = GPT(mcfg, run_mask=tok.run_char_mask()).to(device)
    model.set_attention(choice["attention"])
    opt = build_optimizer(model, kind=cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay,
                          betas=cfg.betas, muon_lr_mult=cfg.muon_lr_mult, muon_ns_dtype=choice["muon_ns"],
                          fused=device.type == "cuda")

    state = {
        "step": 0, "epoch": 0, "batch_in_epoch": 0, "epoch_loss_sum": 0.0, "epoch_steps": 0,
        "best_em": -1.0, "best_val_loss": float("inf"), "best_epoch": 0, "stale_epochs": 0,
        "plateau_best_loss": float("inf"), "plateau_best_em": -1.0,
        "ema": None, "min_ema": None, "elapsed_s": 0.0, "tokens": 0, "gates": [],
        "real_tokens": 0, "train_flops": 0.0, "stop_reason": None, "target_step": None, "target_s": None,
        **stopping.initial_state(),
    }
    if cfg.resume:
        if rank == 0:
            rep = ckpt.recover(ck_root) or {}
            for what in ("restored", "removed", "repaired", "problems"):
                if rep.get(what):
                    files.log(f"resume: checkpoints {what}: {rep[what]}")
        if world > 1:
            dist.barrier()
        last = ck_root / "last"
        if (last / "meta.json").exists():
            loaded = ckpt.load_checkpoint(last)
            model.load_state_dict(loaded["state_dict"])
            ts = ckpt.load_train_state(last)
            opt.load_state_dict(ts["optimizer"])
            state.update(ts["state"])
            state["gates"] = json.loads(state.pop("gates_json", "[]"))
            _set_rng_state(ts["rng"], device)
            files.load_existing(state["step"])
            files.log(f"resumed from {last} at epoch {state['epoch']} batch {state['batch_in_epoch']} "
                      f"(step {state['step']})")
        else:
            files.log(f"--resume: no checkpoint in {last}; starting fresh")
    if cfg.init_from and state["step"] == 0:
        _init_weights(model, mcfg, cfg.init_from)
        files.log(f"weights initialised from {cfg.init_from}")
    if state["gates"]:
        files.status["last_gate"] = _gate_summary(state["gates"][-1])

    raw_model = model
    fwd_model = torch.compile(model) if cfg.compile else model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        fwd_model = DDP(fwd_model, device_ids=[device.index] if device.type == "cuda" else None)

    n_params = raw_model.num_params()
    peak = peak_bf16_flops(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
    files.log(
        f"train brain={cfg.brain} preset={cfg.preset} params={n_params:,} device={device} "
        f"world={world} amp={'bf16' if use_amp else 'off'} compile={cfg.compile} recipe={cfg.recipe} "
        f"train={len(train_ds)} val={len(val_ds)} skipped_long={train_ds.skipped_long} "
        f"with_unk={train_ds.with_unk} steps/epoch={steps_per_epoch} total_steps={total_steps}"
    )
    open_ended = _open_ended(cfg)
    target = cfg.gate_min_exact + cfg.stop_margin
    files.set_status(status="training", message="", total_epochs=None if open_ended else total_epochs,
                     total_steps=None if open_ended else total_steps, step=state["step"], epoch=state["epoch"],
                     target=target, phase=state["phase"], stop_rule=_stop_rule(cfg))
    if open_ended:
        files.log(f"stops at: {_stop_rule(cfg)}")
    files.flush(force=True)

    progress = None
    if _progress_enabled(cfg, rank):
        from tqdm import tqdm

        progress = tqdm(total=None if open_ended else total_steps, initial=state["step"], desc=cfg.brain, unit="step",
                        dynamic_ncols=True)
    files.progress = progress

    sync_every = 1 if device.type == "cpu" else max(1, cfg.log_every)
    start_step = state["step"]
    run_t0 = time.time()
    elapsed0 = state["elapsed_s"]
    window_t0 = time.time()
    window_tokens = 0
    window_flops = 0.0
    final_status, final_msg = "completed", ""
    stop = False
    last_save = time.time()
    pending_losses: list[torch.Tensor] = []
    amp_ctx = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_amp and not use_amp_cpu else (
        (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if use_amp_cpu else contextlib.nullcontext)

    if state.get("stop_reason") in ("target", "plateau"):
        stop = True  # resumed after it had stopped: nothing left to train
        final_msg = f"already stopped ({state['stop_reason']}) at step {state['step']}; nothing to resume"
        files.log(final_msg)
    elif state.get("stop_reason") is not None:
        state["stop_reason"] = None  # a cap or budget: the resumed run's own cap decides again
    epoch = state["epoch"]
    while epoch < total_epochs and not stop:
        batches = epoch_batches(lengths, cfg.batch_size, cfg.seed, epoch, bucket=cfg.bucket)
        groups_ = [batches[i : i + cfg.grad_accum] for i in range(0, len(batches), cfg.grad_accum)]
        start_g = state["batch_in_epoch"]
        if start_g == 0:
            state["epoch_loss_sum"], state["epoch_steps"] = 0.0, 0
        raw_model.train()
        for gi in range(start_g, len(groups_)):
            if state["step"] >= total_steps:
                break
            micro = groups_[gi]
            global_tokens = sum(train_ds.examples[i].n_target for b in micro for i in b)
            tfrac = None
            if cfg.schedule_by_time and cfg.time_budget_s:
                tfrac = (elapsed0 + time.time() - run_t0) / cfg.time_budget_s
            if cfg.schedule == "wsd" and tfrac is None:
                lr = stopping.wsd_lr(cfg, state["step"], state, total_steps if cfg.max_steps else None)
            else:
                lr = lr_at(cfg, state["step"], total_steps, tfrac)
            set_lr(opt, lr)
            loss_acc = torch.zeros((), device=device)
            step_real = 0
            for mi, b in enumerate(micro):
                share = b[rank::world]
                if share:
                    exs = [train_ds.examples[i] for i in share]
                    inp, tgt, w = collate(exs, tok.pad_id, pad_to=cfg.pad_to, multiple=cfg.pad_multiple)
                    step_real += sum(len(e.ids) - 1 for e in exs)
                    f = train_flops(mcfg, [len(e.ids) - 1 for e in exs])
                    window_flops += f
                    state["train_flops"] = state.get("train_flops", 0.0) + f * world
                else:
                    inp, tgt, w = dummy_batch(tok.pad_id)
                inp = inp.to(device, non_blocking=True)
                tgt = tgt.to(device, non_blocking=True)
                w = w.to(device, non_blocking=True)
                sync_ctx = (fwd_model.no_sync() if world > 1 and mi < len(micro) - 1
                            else contextlib.nullcontext())
                with sync_ctx:
                    with amp_ctx():
                        logits = fwd_model(inp)
                    lsum = loss_fn(logits, tgt, w)
                    (lsum * (world / global_tokens)).backward()
                loss_acc += lsum.detach()
            step_loss_t = loss_acc / global_tokens
            state["step"] += 1
            window_tokens += step_real
            state["real_tokens"] += step_real
            sync_now = state["step"] % sync_every == 0 or gi == len(groups_) - 1
            if world > 1:
                dist.all_reduce(step_loss_t)
            pending_losses.append(step_loss_t)
            step_loss = None
            if sync_now:
                vals = torch.stack(pending_losses).tolist()
                pending_losses = []
                step_loss = vals[-1]
                bad = next((v for v in vals if not math.isfinite(v)), None)
                if bad is not None:
                    final_status, final_msg = "aborted", f"non-finite loss ({bad}) at step {state['step']}"
                    stop = True
                    break
                for v in vals:
                    state["ema"] = v if state["ema"] is None else 0.95 * state["ema"] + 0.05 * v
                    warm_done = state["step"] > max(50, int(0.05 * total_steps))
                    if warm_done:
                        state["min_ema"] = state["ema"] if state["min_ema"] is None else min(state["min_ema"], state["ema"])
                    if (state["min_ema"] is not None and state["ema"] > cfg.diverge_factor * state["min_ema"]
                            and state["ema"] > state["min_ema"] + 1.0):
                        final_status = "aborted"
                        final_msg = (f"diverged: loss EMA {state['ema']:.3f} > {cfg.diverge_factor}x its "
                                     f"minimum {state['min_ema']:.3f} at step {state['step']}")
                        stop = True
                state["epoch_loss_sum"] += sum(vals)
                state["epoch_steps"] += len(vals)
                if stop:
                    break
            if cfg.clip and cfg.clip > 0:
                gnorm = torch.nn.utils.clip_grad_norm_(raw_model.parameters(), cfg.clip)
            else:
                gnorm = None
            opt.step()
            opt.zero_grad(set_to_none=True)
            state["batch_in_epoch"] = gi + 1
            if progress is not None:
                progress.update(1)
                if step_loss is not None:
                    progress.set_postfix(loss=f"{step_loss:.4f}", epoch=epoch + 1)
            elapsed = elapsed0 + (time.time() - run_t0)
            decay_ended = stopping.advance(state, state["step"])
            if decay_ended and rank == 0:
                files.log(f"step {state['step']}: the learning rate has decayed to {cfg.min_lr:g}")
            over = bool(cfg.time_budget_s and elapsed >= cfg.time_budget_s)
            capped = bool(cfg.time_cap_s and elapsed >= cfg.time_cap_s)
            hit = state.get("target_hit") is not None  # set by rank 0's last evaluation (stop_at_target)
            plateau = state.get("plateau_hit") is not None  # likewise (patience)
            if world > 1:
                flag = torch.tensor([float(x) for x in (over, hit, capped, plateau)], device=device)
                dist.all_reduce(flag)
                over, hit, capped, plateau = (v > 0 for v in flag.tolist())
            if hit:
                final_msg = (f"target reached: val exact match {state.get('target_hit') or 0:.3f} >= "
                             f"{target:g} at step {state['step']}")
                state["stop_reason"] = "target"
                stop = True
            elif plateau:
                final_msg = state.get("plateau_hit") or f"plateau at step {state['step']}"
                state["stop_reason"] = "plateau"
                stop = True
            elif over:
                final_msg = f"time budget of {cfg.time_budget_s:.0f}s reached at step {state['step']}"
                state["stop_reason"] = "time_budget"
                stop = True
            elif capped:
                final_msg = f"cap of {cfg.time_cap_s:.0f}s of training reached at step {state['step']}"
                state["stop_reason"] = "cap"
                stop = True
            if rank == 0 and (sync_now and (state["step"] % cfg.log_every == 0 or stop)):
                dt = max(1e-9, time.time() - window_t0)
                tps = window_tokens / dt
                mfu = (window_flops * world / dt / peak) if peak else None
                rec = {"kind": "train", "step": state["step"], "epoch": epoch + 1, "loss": step_loss,
                       "lr": lr, "tokens_per_s": tps * world, "time": utc_now_iso()}
                if gnorm is not None:
                    rec["grad_norm"] = float(gnorm)
                if mfu is not None:
                    rec["mfu"] = mfu
                files.metric(rec)
                if device.type == "cpu" and world == 1:
                    _apply_thread_control(Path(cfg.out), files)
                steps_left = total_steps - state["step"]
                rate = (time.time() - run_t0) / max(1, state["step"] - start_step)
                eta = steps_left * rate
                if open_ended:  # to the target, from the live curve (or the projection)
                    proj = files.status.get("projection") or {}
                    eta = stopping.eta_to_target(state, target, 1.0 / rate if rate > 0 else None,
                                                 steps_needed=proj.get("steps_needed"), step=state["step"])
                if cfg.time_budget_s and eta is not None:
                    eta = min(eta, max(0.0, cfg.time_budget_s - (elapsed0 + time.time() - run_t0)))
                files.log(f"epoch {epoch + 1}/{total_epochs} step {state['step']}"
                          f"{'' if open_ended else '/' + str(total_steps)} "
                          f"loss {step_loss:.4f} lr {lr:.2e} tok/s {tps * world:,.0f}")
                files.set_status(step=state["step"], epoch=epoch, train_loss=_finite_or_none(step_loss),
                                 tokens_per_s=tps * world, mfu=mfu, eta_s=eta, phase=state["phase"],
                                 steps_per_s=(1.0 / rate if rate > 0 else None),
                                 gpu_mem_bytes=(torch.cuda.max_memory_allocated(device)
                                                if device.type == "cuda" else None))
                files.flush()
                window_t0, window_tokens, window_flops = time.time(), 0, 0.0
            if cfg.debug_kill_at_step and state["step"] == cfg.debug_kill_at_step:
                files.flush(force=True)
                os._exit(137)  # simulate a kill (tests): no cleanup, no final writes
            if (cfg.eval_every_steps and rank == 0 and sample
                    and (state["step"] % cfg.eval_every_steps == 0 or decay_ended) and not stop):
                te = time.time()
                res = _val_exact(cfg, raw_model, tok, sample)
                raw_model.train()
                files.metric({"kind": "eval", "step": state["step"], "epoch": epoch + 1,
                              "val_exact_match": res["exact_match"], "val_validity": res["validity"],
                              "elapsed_s": elapsed0 + (time.time() - run_t0), "eval_s": time.time() - te,
                              "time": utc_now_iso()})
                files.log(f"eval step {state['step']}: val exact {res['exact_match']} validity {res['validity']}")
                files.set_status(val_exact_match=res["exact_match"])
                if cfg.stop_at_target and (res["exact_match"] or 0) >= target:
                    state["target_hit"] = _confirm_target(cfg, raw_model, tok, val_recs, sample,
                                                         res["exact_match"], state, files)
                if state.get("target_hit") is not None:  # time to target: the confirmed evaluation
                    state["target_step"], state["target_s"] = state["step"], elapsed0 + (time.time() - run_t0)
                else:
                    _observe_curve(cfg, state, res["exact_match"] or 0.0, elapsed0 + (time.time() - run_t0), files)
            if (cfg.save_every_s and rank == 0 and time.time() - last_save >= cfg.save_every_s
                    and gi < len(groups_) - 1 and not stop):
                state["elapsed_s"] = elapsed0 + (time.time() - run_t0)
                _save_last(cfg, raw_model, mcfg, tok, opt, state, device, ck_root, epoch, files)
                last_save = time.time()
            if (cfg.save_every_steps and rank == 0 and state["step"] % cfg.save_every_steps == 0
                    and gi < len(groups_) - 1 and not stop):
                state["elapsed_s"] = elapsed0 + (time.time() - run_t0)
                _save_last(cfg, raw_model, mcfg, tok, opt, state, device, ck_root, epoch, files)
            if stop:
                break
        if final_status == "aborted":
            break
        # ---------------- end of epoch (or of the budget) -------------------------------------
        epoch_done = state["batch_in_epoch"] >= len(groups_)
        ep_no = epoch + 1
        decision = torch.zeros(1, device=device)
        if rank == 0:
            res = _end_of_epoch(cfg, raw_model, tok, files, state, ep_no, total_epochs, val_loss_examples,
                                sample, device, use_amp and not use_amp_cpu, mcfg, opt, ck_root,
                                final=(ep_no == total_epochs or stop or state["step"] >= total_steps),
                                epoch_done=epoch_done, elapsed=elapsed0 + (time.time() - run_t0))
            if res is not None:
                final_status, final_msg = res
                decision[0] = 1
        if world > 1:
            dist.broadcast(decision, 0)
        if decision.item() > 0:
            stop = True
            if rank != 0:
                final_status = "stopped"
        if epoch_done:
            epoch += 1
            state["epoch"] = epoch
            state["batch_in_epoch"] = 0
        if state["step"] >= total_steps:
            break

    if progress is not None:
        progress.close()
    if final_status == "completed" and not final_msg and state["gates"] and not state["gates"][-1]["passed"]:
        final_msg = f"last gate (epoch {state['gates'][-1]['epoch']}) failed, policy warn: {state['gates'][-1]['reason']}"
    final_status, final_msg = _quality_verdict(cfg, state["best_em"], final_status, final_msg)
    elapsed = elapsed0 + (time.time() - run_t0)
    if state.get("stop_reason") is None:
        state["stop_reason"] = "aborted" if final_status in ("aborted", "failed") else "steps"
    summary = {
        "status": final_status, "message": final_msg, "brain": cfg.brain, "preset": cfg.preset,
        "epochs_done": state["epoch"], "step": state["step"], "total_steps": total_steps,
        "best_val_exact_match": _finite_or_none(state["best_em"]) if state["best_em"] >= 0 else None,
        "best_epoch": state["best_epoch"], "best_val_loss": _finite_or_none(state["best_val_loss"]),
        "elapsed_s": elapsed, "train_wall_s": time.time() - t_start, "params": n_params,
        "records": state["step"] * cfg.batch_size * cfg.grad_accum, "real_tokens": state["real_tokens"] * world,
        "train_flops": state.get("train_flops", 0.0),
        "gates": state["gates"], "out": str(cfg.out),
        "stop_reason": state["stop_reason"], "stop_rule": _stop_rule(cfg), "target": target,
        "time_to_target": ({"steps": state["target_step"], "seconds": round(state["target_s"], 1)}
                           if state.get("target_step") is not None else None),
        "curve": stopping.curve(state), "precision": files.status.get("precision"),
        "checkpoints": {"best": str(ck_root / "best"), "last": str(ck_root / "last")},
    }
    if rank == 0:
        files.log(f"finished: {final_status}{(' — ' + final_msg) if final_msg else ''} "
                  f"best val exact match {summary['best_val_exact_match']} at epoch {state['best_epoch']} "
                  f"in {elapsed:.1f}s")
        files.set_status(status=final_status if final_status in STATUSES else "completed",
                         message=final_msg, step=state["step"], eta_s=0, stop_reason=state["stop_reason"])
        files.flush(force=True)
        atomic_write_json(Path(cfg.out) / "summary.json", summary)
    if world > 1:
        # every rank leaves together: a rank that tears gloo down while rank 0 is still writing its
        # final files can abort at exit ("terminate called without an active exception")
        dist.barrier()
    return summary


def _confirm_target(cfg: TrainConfig, model, tok: Tokenizer, val_recs: list[dict], sample: list[dict],
                    sample_em: float, state: dict, files) -> float | None:
    """The validation sample reached the target: check it on the whole validation split (up to
    ``cfg.confirm_sample`` records) before stopping, since a 200-record sample is ±2 points of
    noise at 90%. Returns the confirmed exact match, or None (training goes on)."""
    if not cfg.confirm_sample or len(val_recs) <= len(sample):
        return sample_em
    recs = fixed_sample(val_recs, cfg.confirm_sample)
    te = time.time()
    res = _val_exact(cfg, model, tok, recs)
    model.train()
    em = res["exact_match"] or 0.0
    files.metric({"kind": "confirm", "step": state["step"], "val_exact_match": em, "n": len(recs),
                  "eval_s": time.time() - te, "time": utc_now_iso()})
    ok = em >= cfg.gate_min_exact + cfg.stop_margin
    files.log(f"confirm step {state['step']}: val exact {em:.3f} on {len(recs)} validation records "
              f"({'target reached, stopping' if ok else 'below target, training goes on'})")
    return em if ok else None


def _val_exact(cfg: TrainConfig, model, tok: Tokenizer, recs: list[dict]) -> dict:
    """Exact match (and validity) of the in-training checks: greedy decoding, or with
    ``val_check="teacher"`` one teacher-forced pass that finds the same exact match without
    decoding (no validity then; ``helix.ml.generate.teacher_forced_exact``)."""
    if cfg.val_check == "teacher":
        ok = teacher_forced_exact(model, tok, cfg.brain, recs)
        return {"n": len(recs), "exact_match": sum(ok) / len(ok) if ok else None, "validity": None}
    return score_outputs(cfg.brain, recs, generate_requests(model, tok, cfg.brain,
                                                            [(r["src_fmt"], r["src"], r["tgt_fmt"]) for r in recs]))


def _open_ended(cfg: TrainConfig) -> bool:
    """A run that ends at its target, plateau or cap rather than after a known number of steps."""
    return cfg.schedule == "wsd" and not cfg.max_steps and not cfg.schedule_by_time


def _stop_rule(cfg: TrainConfig) -> str:
    """The run's stopping rule in words (recorded in status.json and summary.json)."""
    parts = []
    if cfg.stop_at_target:
        parts.append(f"target val exact match {cfg.gate_min_exact + cfg.stop_margin:g} (confirmed on up to "
                     f"{cfg.confirm_sample} validation records)")
    if cfg.patience:
        parts.append(f"plateau: {cfg.patience} evaluations (every {cfg.eval_every_steps} steps) without a gain of "
                     f"{cfg.min_delta:g}" + (", after the learning rate's decay" if cfg.schedule == "wsd" else ""))
    if cfg.time_cap_s:
        parts.append(f"cap {cfg.time_cap_s:.0f}s")
    if cfg.time_budget_s:
        parts.append(f"time budget {cfg.time_budget_s:.0f}s")
    if cfg.max_steps:
        parts.append(f"{cfg.max_steps} steps")
    return "; ".join(parts) or f"{cfg.epochs} epochs"


def _observe_curve(cfg: TrainConfig, state: dict, em: float, elapsed: float, files) -> None:
    """Feed one evaluation to the early-stopping rule (helix.ml.stopping): start the decay at the
    first plateau, stop at the plateau after it."""
    if em <= 0 and state["step"] < cfg.patience_grace_steps:
        return  # nothing right yet: learning has not begun, so no plateau either
    what = stopping.observe(cfg, state, state["step"], em, elapsed)
    if what == "decay":
        files.log(f"plateau at step {state['step']} (best val exact {state['es_best']:.3f}, no gain of "
                  f"{cfg.min_delta:g} in {cfg.patience} evaluations): the learning rate decays over "
                  f"{state['decay_steps']} steps")
        files.set_status(phase="decay")
    elif what == "plateau":
        state["plateau_hit"] = (f"plateau: best val exact match {state['es_best']:.3f}, no gain of {cfg.min_delta:g} "
                                f"in {cfg.patience} evaluations, at step {state['step']}")
        files.log(state["plateau_hit"])


def _apply_thread_control(out: Path, files) -> None:
    """Take the torch thread count the launcher writes to OUT/control.json when another job
    on this machine ends and frees its cores (``{"threads": n}``); ignored when absent or bad."""
    try:
        want = int(json.loads((out / CONTROL_FILE).read_text(encoding="utf-8"))["threads"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    have = torch.get_num_threads()
    if 1 <= want <= (os.cpu_count() or 1) and want != have:
        torch.set_num_threads(want)
        files.log(f"threads: {have} -> {want} (cores another job freed)")
        files.set_status(threads=want)


def _quality_verdict(cfg: TrainConfig, best_em: float, status: str, msg: str) -> tuple[str, str]:
    """A run that ends below the floor is ``quality_failed``, never ``completed``; one between the
    floor and the target stays completed and says it is below target."""
    if status != "completed" or best_em < 0:
        return status, msg
    extra = ""
    if best_em < cfg.gate_floor:
        status = "quality_failed"
        extra = f"best val exact match {best_em:.3f} is below the floor {cfg.gate_floor:g}"
    elif best_em < cfg.gate_min_exact:
        extra = f"below target: best val exact match {best_em:.3f} < {cfg.gate_min_exact:g}"
    return status, "; ".join(x for x in (extra, msg) if x)


def model_config(cfg: TrainConfig, tok: Tokenizer):
    """The run's model shape: the preset, the tokenizer's vocabulary (lexical), the overrides."""
    mcfg = get_preset(cfg.preset)
    if tok.kind == "lex":
        mcfg = dataclasses.replace(mcfg, vocab_size=tok.padded_vocab_size())
    overrides = dict(cfg.model_overrides)
    if cfg.dropout is not None:
        overrides["dropout"] = cfg.dropout
    return dataclasses.replace(mcfg, **overrides) if overrides else mcfg


def tokenizer_for(cfg: TrainConfig, ck_root: Path) -> Tokenizer:
    """The run's tokenizer: the resumed or warm-start checkpoint's (so that the weights fit),
    else built from the corpus's training records (``cfg.tokenizer``: lex, the corpus grammar's
    frequent words; lex-any, any frequent letter run, open words included; lex-case, lex with
    case folded into a marker; or char)."""
    if cfg.resume and (ck_root / "last" / "tokenizer.json").is_file():
        return Tokenizer.load(ck_root / "last" / "tokenizer.json")
    if cfg.init_from:
        return ckpt.load_checkpoint(cfg.init_from)["tokenizer"]
    if cfg.tokenizer == "char":
        return Tokenizer()
    if cfg.tokenizer not in ("lex", "lex-any", "lex-case"):
        raise ValueError(f"tokenizer must be lex, lex-any, lex-case or char, not {cfg.tokenizer!r}")
    # every brain's training records, so that the three brains of one corpus share a vocabulary
    brains = [cfg.brain]
    if Path(cfg.corpus).is_dir():
        brains = [b for b in BRAINS if (Path(cfg.corpus) / CORPUS_FILES[b]).is_file()]
    from helix.corpus.splits import closed_words  # the corpus grammar's words (pure Python)

    return Tokenizer.from_records((r for b in brains for r in load_records(cfg.corpus, b, "train")),
                                  keep=None if cfg.tokenizer == "lex-any" else closed_words(),
                                  case=cfg.tokenizer == "lex-case")


def _init_weights(model: GPT, mcfg, ckpt_dir: str) -> None:
    """Warm start: load a checkpoint's weights (verified, same shape) into a fresh model."""
    src = ckpt.load_checkpoint(ckpt_dir)
    mine = {k: v for k, v in mcfg.to_dict().items() if k != "dropout"}
    theirs = {k: v for k, v in src["model_cfg"].to_dict().items() if k != "dropout"}
    if mine != theirs:
        diff = ", ".join(f"{k} {theirs.get(k)!r} vs {v!r}" for k, v in mine.items() if theirs.get(k) != v)
        raise ValueError(f"--init-from {ckpt_dir}: its model has another shape ({diff})")
    model.load_state_dict(src["state_dict"])


def _gate_summary(g: dict) -> dict:
    return {"epoch": g["epoch"], "passed": g["passed"], "reason": g["reason"],
            "requests": f"{g['requests_passed']}/{g['requests_total']}",
            "val_exact_match": g["val_sample"]["exact_match"], "validity": g["val_sample"]["validity"]}


def _train_state(opt, state, device) -> dict:
    st = {k: v for k, v in state.items() if k != "gates"}
    # only primitives: floats (inf allowed by torch.save) / ints / None
    return {"optimizer": opt.state_dict(), "state": st, "rng": _rng_state(device), "version": 1}


def _save_last(cfg, model, mcfg, tok, opt, state, device, ck_root, epoch, files, meta_extra=None):
    meta = {"epoch": epoch, "step": state["step"], "batch_in_epoch": state["batch_in_epoch"],
            "time": utc_now_iso(), **(meta_extra or {})}
    ts = _train_state(opt, state, device)
    ts["state"]["gates_json"] = json.dumps(state["gates"], ensure_ascii=False)
    ckpt.save_checkpoint(ck_root / "last", model=model, brain=cfg.brain, preset=cfg.preset,
                         model_cfg=mcfg, tokenizer=tok, meta=meta, train_cfg=cfg.to_dict(),
                         train_state=ts)


def _end_of_epoch(cfg, model, tok, files, state, ep_no, total_epochs, val_examples, sample, device,
                  amp, mcfg, opt, ck_root, *, final, epoch_done, elapsed):
    """Evaluate, gate, checkpoint and report; returns (status, message) to stop, else None."""
    stop = None
    train_loss = state["epoch_loss_sum"] / max(1, state["epoch_steps"])
    val_loss = (evaluate_loss(model, val_examples, tok, device, batch_size=max(16, cfg.batch_size), amp=amp)
                if val_examples else None)
    gate = None
    if ep_no in cfg.gate_epochs or final:
        gate = run_gate(model, tok, cfg.brain, ep_no, sample=sample, min_exact=cfg.gate_min_exact)
        sample_res = gate["val_sample"]
        state["gates"].append(gate)
        verdict = "PASSED" if gate["passed"] else "FAILED"
        files.log(f"gate epoch {ep_no}: {verdict} ({gate['requests_passed']}/{gate['requests_total']} "
                  f"requests, val exact {sample_res['exact_match']}, validity {sample_res['validity']}) "
                  f"{gate['reason']}")
        for c in gate["requests"]:
            files.log(f"  gate {'ok ' if c['ok'] else 'BAD'} {c['src_fmt']}→{c['tgt_fmt']} {c['src']!r}: "
                      f"got {c['got'][:80]!r}" + ("" if c["ok"] else f" expected {c['expected'][:80]!r}"))
        if not gate["passed"] and cfg.gate_policy == "stop" and (ep_no >= cfg.gate_stop_from or final):
            stop = ("quality_failed", f"gate at epoch {ep_no} failed: {gate['reason']}")
    elif sample:
        gens = generate_requests(model, tok, cfg.brain, [(r["src_fmt"], r["src"], r["tgt_fmt"]) for r in sample])
        sample_res = score_outputs(cfg.brain, sample, gens)
    else:
        sample_res = {"n": 0, "exact_match": None, "validity": None, "route_accuracy": None}
    em = sample_res["exact_match"]
    em_v = em if em is not None else -1.0
    vl = val_loss if val_loss is not None else float("inf")

    # abort rules
    if val_loss is not None and not math.isfinite(val_loss):
        stop = ("aborted", f"non-finite validation loss at epoch {ep_no}")
    improved = vl < state["plateau_best_loss"] * (1 - 1e-3) or em_v > state["plateau_best_em"] + 1e-9
    if improved:
        state["stale_epochs"] = 0
    else:
        state["stale_epochs"] += 1
    state["plateau_best_loss"] = min(state["plateau_best_loss"], vl)
    state["plateau_best_em"] = max(state["plateau_best_em"], em_v)
    if (stop is None and cfg.plateau_patience and state["stale_epochs"] >= cfg.plateau_patience
            and em_v < 1.0):
        stop = ("aborted", f"plateau: no progress in validation loss or exact match for "
                           f"{state['stale_epochs']} epochs (epoch {ep_no})")

    is_best = em_v > state["best_em"] or (em_v == state["best_em"] and vl < state["best_val_loss"])
    if is_best:
        state["best_em"], state["best_val_loss"], state["best_epoch"] = em_v, vl, ep_no
    state["elapsed_s"] = elapsed

    meta = {"epoch": ep_no, "step": state["step"], "train_loss": train_loss, "val_loss": val_loss,
            "val_exact_match": em, "val_validity": sample_res["validity"],
            "route_accuracy": sample_res.get("route_accuracy"), "gate": gate,
            "elapsed_s": elapsed, "time": utc_now_iso()}
    # the state saved in last/ is the state at the start of the next epoch
    saved_state = dict(state)
    if epoch_done:
        saved_state["epoch"] = state["epoch"] + 1
        saved_state["batch_in_epoch"] = 0
    ts_state = {k: v for k, v in saved_state.items() if k != "gates"}
    ts_state["gates_json"] = json.dumps(state["gates"], ensure_ascii=False)
    ts = {"optimizer": opt.state_dict(), "state": ts_state, "rng": _rng_state(device), "version": 1}
    common = dict(model=model, brain=cfg.brain, preset=cfg.preset, model_cfg=mcfg, tokenizer=tok,
                  train_cfg=cfg.to_dict())
    if epoch_done:
        ckpt.save_checkpoint(ck_root / f"epoch_{ep_no:04d}", meta=meta, **common)
        _prune(ck_root, cfg.keep_last)
    written = ckpt.save_checkpoint(ck_root / "last", meta=meta, train_state=ts, **common)
    if is_best:  # best becomes the verified last in one atomic step (recover() finishes a crash)
        ckpt.promote(ck_root, "last", "best")

    files.metric({"kind": "epoch", "step": state["step"], "epoch": ep_no, "train_loss": train_loss,
                  "val_loss": val_loss, "val_exact_match": em, "val_validity": sample_res["validity"],
                  "route_accuracy": sample_res.get("route_accuracy"), "elapsed_s": elapsed,
                  "gate_passed": None if gate is None else gate["passed"], "time": utc_now_iso()})
    files.log(f"epoch {ep_no}/{total_epochs} done: train loss {train_loss:.4f} val loss "
              f"{val_loss if val_loss is None else round(val_loss, 4)} val exact {em} "
              f"(best {state['best_em']:.3f} @ {state['best_epoch']}) elapsed {elapsed:.1f}s "
              f"checkpoint {written['size_bytes']['model.safetensors']:,} B weights")
    upd = {"epoch": ep_no, "train_loss": _finite_or_none(train_loss), "val_loss": _finite_or_none(val_loss),
           "val_exact_match": em, "step": state["step"]}
    if gate is not None:
        upd["last_gate"] = _gate_summary(gate)
    files.set_status(**upd)
    files.flush_tb(ep_no)
    files.flush(force=True)
    return stop


def _prune(root: Path, keep: int) -> None:
    eps = sorted(p for p in root.glob("epoch_*") if p.is_dir())
    if keep is not None and keep >= 0:
        for p in eps[: max(0, len(eps) - keep)]:
            import shutil

            shutil.rmtree(p, ignore_errors=True)
