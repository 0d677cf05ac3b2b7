"""`helix launch`: train the three brains from one corpus, within the machine's memory.

A run lives in ``runs/<UTC timestamp>/``::

    launch.json              the launcher's state (jobs, attempts, events); rewritten atomically
    launcher.pid             the supervising process while it runs
    <brain>.pid              a training process while it runs
    <brain>/                 `helix train --out` of that brain: status.json, <brain>_training.log,
                             metrics.jsonl, tb/, checkpoints/{best,last,epoch_NNNN}/
    <brain>/<brain>_console.log   the training process's stdout/stderr (tracebacks, OOM)
    accuracy.json, summary.json   written after training (test-split evaluation, gate answers)

The launcher is a loop: poll the running jobs, classify the ones that ended (completed,
quality_failed, crash, out-of-memory), retry crashes from the last checkpoint up to
``max_retries`` times (an OOM retry halves the micro-batch and doubles accumulation), then ask
:func:`helix.system.scheduler.plan_jobs` which pending jobs fit the memory left and start them.
``helix launch --resume RUN_DIR`` reloads launch.json, adopts training processes that are
still alive and restarts the others with ``--resume``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from helix.ml.config import CONTROL_FILE
from helix.ml.tokenizer import BRAINS
from helix.system.scheduler import (
    Device,
    JobSpec,
    cpu_count,
    cpu_slots,
    fmt_bytes,
    plan_jobs,
    probe_devices,
)
from helix.util import atomic_write_json, atomic_write_text, parse_utc_iso, utc_now_iso

#: Job states the launcher will not touch again.
TERMINAL = frozenset({"completed", "quality_failed", "failed", "aborted"})
TINY_PRESETS = {"coordinator": "coordinator-tiny", "ascii": "specialist-tiny", "runic": "specialist-tiny"}
FULL_PRESETS = {"coordinator": "coordinator-100m", "ascii": "specialist-50m", "runic": "specialist-50m"}

#: The CPU main job trains each brain to its target (helix.ml.stopping: target, plateau or cap),
#: not to a clock. This caps the whole job's training (seconds) when neither --time-budget nor
#: --epochs/--max-steps is given: the coordinator may use all of it, each specialist what the
#: coordinator left. ``--time-cap`` changes it.
CPU_JOB_CAP_S = 3 * 3600
#: The clock-bound run (``--time-budget``, the recipe before training to target): 1,150 s.
CPU_TIME_BUDGET_S = 1150
#: Training records per corpus that the main job builds (``--corpus-size`` changes it). Measured
#: (issue 26, AMD EPYC with AVX512-BF16): the ascii brain memorised the default 22,000 (training
#: loss 0.0027 against 0.098 on validation) and scored 87.5% test exact match in 1,200 s; four
#: times as many records gave 93.5% in the same time.
MAIN_JOB_CORPUS_SIZE = 88_000
#: How CPU jobs share the cores when --mode is auto. Measured (docs/SYSTEM.md): side by side with
#: one thread each finishes the same work 3.6x sooner than one after another on 2 cores.
CPU_DEFAULT_MODE = "parallel"
#: Warm start (CPU, tiny presets, all three brains): the coordinator first trains on every brain's
#: training records with all cores for this share of the budget, then the two specialists start
#: from its weights and fine-tune on their own corpora side by side for the rest. Measured
#: (docs/BRAINS.md): one model on the three training sets learns each brain's test split faster
#: than three separate models sharing the same CPU time. 72% rather than 65%: the coordinator is
#: the brain that is short on training (docs/BRAINS.md, "Why the coordinator is wrong"), and the
#: specialists lose little with 322 s instead of 402 s.
WARM_START_SHARE = 0.72

OOM_MARKERS = ("out of memory", "outofmemoryerror", "cuda error: out of memory", "cannot allocate memory")


class LaunchError(RuntimeError):
    pass


@dataclass
class LaunchOptions:
    runs_dir: Path = Path("runs")
    corpus: Path | None = None  # default: <runs_dir>/corpus (built if missing)
    corpus_size: int | None = None
    open_share: float | None = None  # open-vocabulary share of the corpus built (helix.corpus.openwords)
    seed: int | None = None  # None: the corpus builder's and the trainer's defaults
    brains: tuple[str, ...] = BRAINS
    preset: str = "auto"  # auto | tiny | full | a preset name | brain=preset,brain=preset
    device: str = "auto"  # auto | cpu | cuda
    mode: str = "auto"  # CPU only: auto | sequential | parallel
    epochs: int | None = None
    batch_size: int | None = None
    grad_accum: int | None = None
    time_budget: float | None = None  # seconds per brain, clock-bound (the schedule follows it)
    time_cap: float | None = None  # cap of the whole job's training on CPU (default CPU_JOB_CAP_S)
    max_steps: int | None = None
    extra_train_args: list[str] = field(default_factory=list)
    warm_start: str = "auto"  # auto (CPU, shared shape, all three brains) | on | off
    max_retries: int = 2
    poll_s: float = 2.0
    run_name: str | None = None  # default: UTC timestamp


def resolve_presets(spec: str, brains: Sequence[str], device_kind: str) -> dict[str, str]:
    """Map each brain to a preset from ``--preset`` (auto/tiny/full/name/brain=name,...)."""
    spec = (spec or "auto").strip()
    if spec == "auto":
        spec = "full" if device_kind == "cuda" else "tiny"
    if spec == "tiny":
        return {b: TINY_PRESETS[b] for b in brains}
    if spec == "full":
        return {b: FULL_PRESETS[b] for b in brains}
    if "=" in spec:
        out = {b: (TINY_PRESETS if device_kind != "cuda" else FULL_PRESETS)[b] for b in brains}
        for part in spec.split(","):
            b, _, p = part.partition("=")
            b, p = b.strip(), p.strip()
            if b not in BRAINS or not p:
                raise LaunchError(f"bad --preset entry {part!r}: use brain=preset with brain in {BRAINS}")
            out[b] = p
        return out
    return {b: spec for b in brains}


def default_estimator(device_kind: str, seq_len: int = 256) -> Callable[[JobSpec], int]:
    """Peak-memory estimate of a job from helix.ml.memory: bf16 autocast on CUDA, and on the CPU
    where the job's recipe asks for it (then with the explicit attention's T×T probabilities)."""

    def est(job: JobSpec) -> int:
        from helix.ml.config import PRESETS, default_train_config
        from helix.ml.memory import estimate_train_memory

        cpu_bf16 = device_kind == "cpu" and default_train_config(job.brain, job.preset, "cpu").amp == "bf16"
        return int(
            estimate_train_memory(
                PRESETS[job.preset], job.batch_size, seq_len,
                amp_bf16=(device_kind == "cuda" or cpu_bf16), explicit_attention=cpu_bf16,
            )["total"]
        )

    return est


def default_batch_size(brain: str, preset: str, device_kind: str) -> tuple[int, int]:
    from helix.ml.config import default_train_config

    cfg = default_train_config(brain, preset, device_kind)
    return int(cfg.batch_size), int(getattr(cfg, "grad_accum", 1) or 1)


# A warm-started job starts from trained weights: a quarter of its recipe's learning rate.
# Measured (ASCII brain fine-tuned 378 s from the main job's coordinator, Muon recipe, test exact
# match of 300 test records): full rate 54.7%, half 59.7%, quarter 64.7%, eighth 64.0%.
FINE_TUNE_LR_FACTOR = 0.25


def fine_tune_lr(brain: str, preset: str, device_kind: str) -> float:
    """Learning rate of a warm-started job: FINE_TUNE_LR_FACTOR × its recipe's."""
    from helix.ml.config import default_train_config

    return default_train_config(brain, preset, device_kind).lr * FINE_TUNE_LR_FACTOR


def default_train_cmd() -> list[str]:
    return [sys.executable, "-m", "helix", "train"]


def pid_alive(pid: int | None, expect: str | None = None) -> bool:
    """Whether ``pid`` runs (not a zombie) and, if ``expect`` is given, has it in its argv."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
        if expect is not None:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return expect in f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except (OSError, IndexError):
        return expect is None
    return True


def read_json(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
        return obj if isinstance(obj, dict) else None
    except (OSError, ValueError):
        return None


def new_run_dir(runs_dir: Path, name: str | None = None) -> Path:
    """``runs/<UTC timestamp>`` (a suffix keeps two launches in one second apart)."""
    base = name or utc_now_iso().replace(":", "").replace("-", "")  # 20261125T205040Z
    cand = Path(runs_dir) / base
    n = 1
    while cand.exists():
        n += 1
        cand = Path(runs_dir) / f"{base}-{n}"
    cand.mkdir(parents=True)
    return cand


def plan_setup(
    opts: LaunchOptions,
    *,
    devices_fn: Callable[[], list[Device]] | None = None,
    estimator: Callable[[JobSpec], int] | None = None,
    batch_fn: Callable[[str, str, str], tuple[int, int]] | None = None,
) -> dict:
    """Devices, device kind, CPU mode/slots/threads and the job specs (with their estimates) of a
    launch: what `Launcher.create` starts from and what `helix launch --dry-run` shows."""
    devices = (devices_fn or (lambda: probe_devices(opts.device)))()
    kind = "cuda" if devices and devices[0].kind == "cuda" and opts.device != "cpu" else "cpu"
    presets = resolve_presets(opts.preset, opts.brains, kind)
    est = estimator or default_estimator(kind)
    batch_fn = batch_fn or default_batch_size
    mode, slots, threads = "memory", None, None
    if kind == "cpu":
        mode = CPU_DEFAULT_MODE if opts.mode == "auto" else opts.mode
        slots, threads = cpu_slots(len(opts.brains), cpu_count(), mode)
    specs = []
    for prio, brain in enumerate(opts.brains):
        bs, ga = batch_fn(brain, presets[brain], kind)
        bs, ga = opts.batch_size or bs, opts.grad_accum or ga
        spec = JobSpec(brain, presets[brain], bs, ga, priority=prio)
        specs.append(JobSpec(brain, presets[brain], bs, ga, int(est(spec)), prio))
    return {"devices": devices, "kind": kind, "estimator": est, "mode": mode, "slots": slots,
            "threads": threads, "specs": specs}


def warm_start_applies(opts: LaunchOptions, kind: str, presets: dict[str, str]) -> bool:
    """Whether the specialists start from the coordinator (see WARM_START_SHARE)."""
    if opts.warm_start not in ("auto", "on", "off"):
        raise LaunchError(f"--warm-start must be auto, on or off, not {opts.warm_start!r}")
    if opts.warm_start == "off" or set(opts.brains) != set(BRAINS):
        return False
    from helix.ml.config import get_preset

    try:
        shapes = {json.dumps(get_preset(p).to_dict(), sort_keys=True) for p in presets.values()}
    except ValueError as e:
        raise LaunchError(str(e)) from None
    if len(shapes) != 1:
        if opts.warm_start == "on":
            raise LaunchError("--warm-start on needs one model shape for all brains; presets: "
                              + ", ".join(f"{b}={p}" for b, p in presets.items()))
        return False
    return opts.warm_start == "on" or kind == "cpu"


class Launcher:
    """Supervises the training jobs of one run directory."""

    def __init__(
        self,
        run_dir: Path,
        state: dict,
        *,
        train_cmd: Sequence[str] | None = None,
        devices_fn: Callable[[], list[Device]] | None = None,
        estimator: Callable[[JobSpec], int] | None = None,
        log: Callable[[str], None] = print,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.state = state
        self.train_cmd = list(train_cmd or state.get("train_cmd") or default_train_cmd())
        kind = state.get("device_kind", "cpu")
        self.devices_fn = devices_fn or (lambda: probe_devices(kind))
        self.estimator = estimator or default_estimator(kind)
        self.log = log
        self.sleep = sleep
        self.procs: dict[str, subprocess.Popen] = {}
        self._consoles: dict[str, object] = {}

    # ------------------------------------------------------------------ creation / loading

    @classmethod
    def create(
        cls,
        opts: LaunchOptions,
        *,
        corpus_dir: Path,
        train_cmd: Sequence[str] | None = None,
        devices_fn: Callable[[], list[Device]] | None = None,
        estimator: Callable[[JobSpec], int] | None = None,
        batch_fn: Callable[[str, str, str], tuple[int, int]] | None = None,
        log: Callable[[str], None] = print,
        sleep: Callable[[float], None] = time.sleep,
    ) -> "Launcher":
        setup = plan_setup(opts, devices_fn=devices_fn, estimator=estimator, batch_fn=batch_fn)
        devices, kind, est = setup["devices"], setup["kind"], setup["estimator"]
        mode, slots, threads = setup["mode"], setup["slots"], setup["threads"]
        time_budget = opts.time_budget
        time_cap = opts.time_cap
        if time_cap is None and time_budget is None and kind == "cpu" and opts.epochs is None \
                and opts.max_steps is None:
            time_cap = CPU_JOB_CAP_S
        run_dir = new_run_dir(opts.runs_dir, opts.run_name)
        jobs = {}
        for spec in setup["specs"]:
            jobs[spec.brain] = {
                "brain": spec.brain,
                "preset": spec.preset,
                "batch_size": spec.batch_size,
                "grad_accum": spec.grad_accum,
                "est_bytes": spec.est_bytes,
                "priority": spec.priority,
                "state": "queued",
                "device": None,
                "attempts": 0,
                "restarts": 0,
                "oom_retries": 0,
                "pid": None,
                "returncode": None,
                "run_s": 0.0,
                "started": None,
                "ended": None,
                "message": "",
            }
        warm = warm_start_applies(opts, kind, {s.brain: s.preset for s in setup["specs"]})
        if warm:
            cores = cpu_count() if kind == "cpu" else None
            specialists = [b for b in opts.brains if b != "coordinator"]
            jobs["coordinator"].update(mix="all", threads=cores)
            side_by_side = mode != "sequential"
            for b in specialists:
                per = max(1, cores // len(specialists)) if side_by_side and cores else cores
                jobs[b].update(after="coordinator", init_from=str(run_dir.resolve() / "coordinator"), threads=per,
                               lr=fine_tune_lr(b, jobs[b]["preset"], kind), budget_after="coordinator")
            if time_budget is not None:
                first = round(time_budget * WARM_START_SHARE)
                jobs["coordinator"]["time_budget"] = first
                for b in specialists:
                    jobs[b]["time_budget"] = time_budget - first
            if slots is not None and side_by_side:
                slots = len(specialists)
        state = {
            "version": 1,
            "created": utc_now_iso(),
            "updated": utc_now_iso(),
            "corpus": str(Path(corpus_dir).resolve()),
            "device": opts.device,
            "device_kind": kind,
            "devices": [d.__dict__ for d in devices],
            "mode": mode,
            "warm_start": warm,
            "slots": slots,
            "threads_per_job": threads,
            "max_retries": opts.max_retries,
            "poll_s": opts.poll_s,
            "seed": opts.seed,
            "epochs": opts.epochs,
            "time_budget": time_budget,
            "time_cap": time_cap,
            "max_steps": opts.max_steps,
            "extra_train_args": list(opts.extra_train_args),
            "train_cmd": list(train_cmd) if train_cmd else None,
            "launcher_pid": os.getpid(),
            "phase": "training",
            "jobs": jobs,
            "events": [],
        }
        self = cls(
            run_dir, state, train_cmd=train_cmd, devices_fn=devices_fn, estimator=est, log=log, sleep=sleep
        )
        for brain in opts.brains:
            self._write_brain_status(brain, "queued", "waiting for the scheduler")
        self.save()
        return self

    def project_jobs(self, measure: Callable[[str, dict], dict] | None = None) -> None:
        """Measure each job's training-step rate here and project its steps in its budget
        (helix.system.projection); recorded in launch.json and the brain's status.json."""
        from helix.ml.precision import machine_summary
        from helix.system.projection import measure_step_rate, project

        if measure is None:
            def measure(brain: str, job: dict) -> dict:
                return measure_step_rate(brain, job["preset"], Path(self.state["corpus"]),
                                         threads=self._threads(brain), batch_size=int(job["batch_size"]),
                                         mix=job.get("mix") or "own")
        self.state["machine"] = machine_summary()
        for brain, job in self.jobs.items():
            rate = measure(brain, job)
            budget = job.get("time_budget", self.state.get("time_budget"))
            proj = project(brain, rate, None if budget is None else float(budget), cap_s=self.state.get("time_cap"),
                           machine=self.state["machine"], train_args=self.state.get("extra_train_args") or [])
            proj["precision"] = rate.get("precision")
            job["projection"] = proj
            self.event(brain, "projection", proj["line"])
            self._write_brain_status(brain, "queued", job.get("message") or "waiting for the scheduler",
                                     projection=proj, precision=rate.get("precision"))
        from helix.system.projection import human_s, job_eta

        eta = job_eta({b: j["projection"] for b, j in self.jobs.items()}, bool(self.state.get("warm_start")))
        self.state["eta_s"] = eta
        if eta is not None:
            self.event(None, "projection", f"the whole job: ETA {human_s(eta)}")
        else:
            unknown = [b for b, j in self.jobs.items() if j["projection"].get("eta_s") is None]
            known = {b: j["projection"] for b, j in self.jobs.items() if b not in unknown}
            floor = job_eta(known, bool(self.state.get("warm_start"))) if known else None
            self.event(None, "projection", f"the whole job: ETA unknown ({', '.join(unknown)}: no measured time to "
                       f"target)" + (f"; at least {human_s(floor)}" if floor else ""))
        self.save()

    @classmethod
    def load(cls, run_dir: Path, **kw) -> "Launcher":
        run_dir = Path(run_dir)
        state = read_json(run_dir / "launch.json")
        if state is None:
            raise LaunchError(f"{run_dir}: no readable launch.json (not a run made by `helix launch`)")
        return cls(run_dir, state, **kw)

    # ------------------------------------------------------------------ bookkeeping

    @property
    def jobs(self) -> dict[str, dict]:
        return self.state["jobs"]

    def brain_dir(self, brain: str) -> Path:
        return self.run_dir / brain

    def console_log(self, brain: str) -> Path:
        return self.brain_dir(brain) / f"{brain}_console.log"

    def pid_file(self, brain: str) -> Path:
        return self.run_dir / f"{brain}.pid"

    def save(self) -> None:
        self.state["updated"] = utc_now_iso()
        atomic_write_json(self.run_dir / "launch.json", self.state)

    def event(self, brain: str | None, what: str, detail: str = "") -> None:
        self.state["events"].append({"time": utc_now_iso(), "brain": brain, "event": what, "detail": detail})
        self.log(f"[{brain or 'launch'}] {what}{': ' + detail if detail else ''}")

    def _write_brain_status(self, brain: str, status: str, message: str, **extra) -> None:
        """Status file of a job the trainer is not writing (queued, staged, failed...)."""
        job = self.jobs[brain]
        path = self.brain_dir(brain) / "status.json"
        prev = read_json(path) or {}
        prev.update(
            {
                "time": utc_now_iso(),
                "brain": brain,
                "preset": job["preset"],
                "status": status,
                "message": message,
                "pid": None,
            }
        )
        prev.setdefault("epoch", 0)
        prev.setdefault("step", 0)
        prev.update(extra)
        atomic_write_json(path, prev)

    # ------------------------------------------------------------------ starting jobs

    def _threads(self, brain: str) -> int | None:
        """Torch threads of a job: its own (warm start) or the run's per-job share."""
        return self.jobs[brain].get("threads") or self.state.get("threads_per_job")

    def _train_argv(self, brain: str) -> list[str]:
        job = self.jobs[brain]
        st = self.state
        argv = list(self.train_cmd) + [
            "--brain", brain,
            "--corpus", st["corpus"],
            "--preset", job["preset"],
            "--out", str(self.brain_dir(brain)),
            "--batch-size", str(job["batch_size"]),
            "--grad-accum", str(job["grad_accum"]),
        ]  # fmt: skip
        if st.get("seed") is not None:
            argv += ["--seed", str(st["seed"])]
        if job.get("device"):
            argv += ["--device", job["device"]]
        if st.get("epochs") is not None:
            argv += ["--epochs", str(st["epochs"])]
        if st.get("max_steps") is not None:
            argv += ["--max-steps", str(st["max_steps"])]
        threads = self._threads(brain)
        if threads:
            argv += ["--threads", str(threads)]
        budget = job.get("time_budget", st.get("time_budget"))
        dep = self.jobs.get(job.get("budget_after") or "")
        if budget is not None and dep is not None and st.get("time_budget") and dep.get("run_s"):
            # a budget of work: what the job it waited for left of the run's budget (more than its
            # share when that job stopped early at its target)
            budget = max(float(budget), float(st["time_budget"]) - float(dep["run_s"]))
        if budget is not None:
            # the whole budget also on a retry: `helix train --resume` counts the time already
            # trained (saved in its checkpoint) against it
            argv += ["--time-budget", f"{float(budget):g}"]
            if st.get("epochs") is None and st.get("max_steps") is None:
                # the budget is what ends the run: anneal the learning rate over it, so the
                # brain ends trained rather than cut off mid-schedule
                argv.append("--schedule-by-time")
        cap = self._time_cap(brain)
        if cap is not None:
            argv += ["--time-cap", f"{cap:g}"]
        if job.get("mix"):
            argv += ["--mix", job["mix"]]
        if job.get("lr") and job.get("init_from"):
            argv += ["--lr", f"{float(job['lr']):g}"]
        if (self.brain_dir(brain) / "checkpoints" / "last").is_dir():
            argv.append("--resume")
        elif job.get("init_from"):
            argv += ["--init-from", job["init_from"]]
        argv += list(st.get("extra_train_args") or [])
        return argv

    def _time_cap(self, brain: str) -> float | None:
        """The job's cap of training seconds: the run's cap less what the job it waited for used."""
        cap = self.state.get("time_cap")
        if cap is None:
            return None
        dep = self.jobs.get(self.jobs[brain].get("budget_after") or "")
        used = float(dep.get("run_s") or 0.0) if dep is not None else 0.0
        return round(max(60.0, float(cap) - used))

    def _start(self, brain: str, device: str) -> None:
        job = self.jobs[brain]
        job["device"] = device
        bdir = self.brain_dir(brain)
        bdir.mkdir(parents=True, exist_ok=True)
        argv = self._train_argv(brain)
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        threads = self._threads(brain)
        if threads:
            for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "HELIX_NUM_THREADS"):
                env[var] = str(threads)
        console = open(self.console_log(brain), "ab")
        job["console_offset"] = console.tell()
        console.write(f"\n=== {utc_now_iso()} attempt {job['attempts'] + 1}: {' '.join(argv)}\n".encode())
        console.flush()
        proc = subprocess.Popen(
            argv,
            stdout=console,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # survives the launcher; adopted by `--resume`
        )
        self.procs[brain] = proc
        self._consoles[brain] = console
        job.update(
            {
                "state": "running",
                "pid": proc.pid,
                "started": utc_now_iso(),
                "started_ts": time.time(),
                "ended": None,
                "returncode": None,
                "attempts": job["attempts"] + 1,
                "argv": argv,
            }
        )
        atomic_write_text(self.pid_file(brain), f"{proc.pid}\n")
        self.event(
            brain,
            "started",
            f"pid {proc.pid} on {device}, preset {job['preset']}, micro-batch {job['batch_size']} x "
            f"{job['grad_accum']}, est. {fmt_bytes(job['est_bytes'])}, attempt {job['attempts']}",
        )

    # ------------------------------------------------------------------ polling

    def _ended(self, brain: str) -> tuple[bool, int | None]:
        """(ended, returncode or None when the process was adopted and its code is unknown)."""
        proc = self.procs.get(brain)
        if proc is not None:
            rc = proc.poll()
            return (rc is not None, rc)
        job = self.jobs[brain]
        return (not pid_alive(job.get("pid"), str(self.brain_dir(brain))), None)

    def _attempt_output(self, brain: str) -> str:
        """The console output of the current attempt (the log is appended across attempts)."""
        off = int(self.jobs[brain].get("console_offset") or 0)
        try:
            with open(self.console_log(brain), "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(off, size - 65536))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _classify(self, brain: str, rc: int | None) -> tuple[str, str]:
        """What an ended job came to: completed/quality_failed/aborted/oom/crash, and why.

        ``rc`` is None for an adopted process (not our child: its exit code is unknown), and
        then the status file alone decides.
        """
        st = read_json(self.brain_dir(brain) / "status.json") or {}
        status = st.get("status")
        msg = str(st.get("message") or "")
        if status == "quality_failed" or (status == "completed" and rc in (0, None)):
            return status, msg  # `helix train` exits 3 after a failed quality gate: not a crash
        out = self._attempt_output(brain)
        if any(m in (out + "\n" + msg).lower() for m in OOM_MARKERS):
            return "oom", "out of memory"
        if status == "aborted" or rc in (-signal.SIGINT, -signal.SIGTERM, 130, 143):
            return "aborted", msg or f"stopped by a signal (exit code {rc})"
        what = f"exit code {rc}" if rc is not None else "process gone"
        if rc == 0:
            what += f" with status {status!r}"
        last = [ln.strip() for ln in out.strip().splitlines() if ln.strip()]
        if last:
            what += f"; last output: {last[-1][:200]}"
        return "crash", what

    def _finish(self, brain: str, rc: int | None) -> None:
        job = self.jobs[brain]
        self.procs.pop(brain, None)
        con = self._consoles.pop(brain, None)
        if con is not None:
            con.close()
        t0 = job.get("started_ts")
        if t0 is None and job.get("started"):  # adopted after a restart: 1-second resolution
            try:
                t0 = parse_utc_iso(job["started"]).timestamp()
            except ValueError:
                t0 = None
        if t0 is not None:
            job["run_s"] = float(job.get("run_s") or 0.0) + max(0.0, time.time() - float(t0))
        job["started_ts"] = None
        job.update({"ended": utc_now_iso(), "returncode": rc, "pid": None})
        try:
            self.pid_file(brain).unlink()
        except FileNotFoundError:
            pass
        outcome, why = self._classify(brain, rc)
        if outcome in ("completed", "quality_failed", "aborted"):
            job["state"] = outcome
            job["message"] = why
            self.event(brain, outcome, why)
            if outcome == "aborted":
                self._write_brain_status(brain, "aborted", why or "aborted")
            else:
                self._hand_over_threads(brain)
            return
        retries_used = job["attempts"] - 1 - job.get("restarts", 0)
        if retries_used >= int(self.state["max_retries"]):
            job["state"] = "failed"
            job["message"] = f"{why} (gave up after {job['attempts']} attempts)"
            self.event(brain, "failed", job["message"])
            self._write_brain_status(brain, "failed", job["message"])
            return
        note = why
        if outcome == "oom" and job["batch_size"] > 1:
            old = job["batch_size"]
            job["batch_size"] = max(1, old // 2)
            job["grad_accum"] = int(job["grad_accum"]) * 2
            job["oom_retries"] = job.get("oom_retries", 0) + 1
            spec = JobSpec(brain, job["preset"], job["batch_size"], job["grad_accum"])
            job["est_bytes"] = int(self.estimator(spec))
            note = (
                f"out of memory: micro-batch {old} -> {job['batch_size']}, accumulation "
                f"{job['grad_accum'] // 2} -> {job['grad_accum']}"
            )
        has_ckpt = (self.brain_dir(brain) / "checkpoints" / "last").is_dir()
        job["state"] = "queued"
        job["message"] = f"retry after {note}"
        self.event(
            brain,
            "retry",
            f"{note}; attempt {job['attempts'] + 1} "
            f"{'resumes from checkpoints/last' if has_ckpt else 'starts over (no checkpoint yet)'}",
        )
        self._write_brain_status(brain, "queued", job["message"])

    def _hand_over_threads(self, brain: str) -> None:
        """On CPU, a job that ended leaves its cores to the jobs still running: each gets an even
        share of the freed threads through its ``control.json``, which the trainer reads at its
        next log step (a 1-thread specialist left alone on 2 cores goes to 2 threads)."""
        freed = self._threads(brain)
        running = [b for b, j in self.jobs.items() if j["state"] == "running" and self._threads(b)]
        if self.state.get("device_kind") != "cpu" or not freed or not running:
            return
        for i, b in enumerate(running):
            extra = freed // len(running) + (1 if i < freed % len(running) else 0)
            if not extra:
                continue
            new = self._threads(b) + extra
            self.jobs[b]["threads"] = new
            atomic_write_json(self.brain_dir(b) / CONTROL_FILE, {"threads": new, "from": brain,
                                                                 "time": utc_now_iso()})
            self.event(b, "threads", f"{new - extra} -> {new} (the {brain} brain's cores)")

    def _waiting(self, brain: str) -> bool:
        """A job that starts from another's weights waits until that job has ended."""
        job = self.jobs[brain]
        dep = job.get("after")
        if not dep or dep not in self.jobs:
            return False
        dstate = self.jobs[dep]["state"]
        if dstate not in TERMINAL:
            if job.get("message") != f"waits for the {dep} (warm start)":
                job["message"] = f"waits for the {dep} (warm start)"
                self._write_brain_status(brain, "queued", job["message"])
            return True
        if dstate not in ("completed", "quality_failed") and job.get("init_from"):
            job["init_from"] = None
            self.event(brain, "warm start skipped", f"the {dep} ended {dstate}; training from scratch")
        job["after"] = None
        return False

    def _schedule(self) -> None:
        pending = [b for b, j in self.jobs.items()
                   if j["state"] in ("queued", "staged") and not self._waiting(b)]
        if not pending:
            return
        running = [b for b, j in self.jobs.items() if j["state"] == "running"]
        reserved: dict[str, int] = {}
        for b in running:
            dev = self.jobs[b].get("device") or "cpu"
            reserved[dev] = reserved.get(dev, 0) + int(self.jobs[b]["est_bytes"])
        devices = self.devices_fn()
        if running:
            # Safe view: what the device had free before our jobs, less their peak estimates, and
            # never more than it has free now (another process may have taken memory meanwhile).
            devices = [
                Device(d.name, d.total_bytes, min(self._baseline_free(d), d.free_bytes + reserved.get(d.name, 0)))
                for d in devices
            ]
        slots = self.state.get("slots")
        max_conc = None if slots is None else max(0, int(slots) - len(running))
        specs = [
            JobSpec(
                b,
                self.jobs[b]["preset"],
                int(self.jobs[b]["batch_size"]),
                int(self.jobs[b]["grad_accum"]),
                int(self.jobs[b]["est_bytes"]),
                int(self.jobs[b].get("priority", 0)),
            )
            for b in pending
        ]
        plan = plan_jobs(specs, devices, reserved=reserved, max_concurrent=max_conc, estimator=self.estimator)
        for p in plan.placements:
            b = p.job.brain
            job = self.jobs[b]
            if (p.job.batch_size, p.job.grad_accum) != (job["batch_size"], job["grad_accum"]):
                job.update(
                    batch_size=p.job.batch_size, grad_accum=p.job.grad_accum, est_bytes=p.job.est_bytes
                )
            if p.state == "run":
                self._start(b, p.device or "cpu")
            elif p.state == "staged":
                if job["state"] != "staged" or job.get("message") != p.reason:
                    job["state"] = "staged"
                    job["message"] = p.reason
                    self.event(b, "staged", p.reason)
                    self._write_brain_status(b, "staged", p.reason)
            else:
                job["state"] = "failed"
                job["message"] = p.reason
                self.event(b, "failed", p.reason)
                self._write_brain_status(b, "failed", p.reason)

    def _baseline_free(self, d: Device) -> int:
        """Free memory of ``d`` recorded at launch, before any of this run's jobs."""
        for rec in self.state.get("devices") or []:
            if rec.get("name") == d.name:
                return int(rec.get("free_bytes") or 0)
        return d.free_bytes

    def adopt_or_restart(self) -> None:
        """After a launcher restart: adopt live training processes, requeue dead ones."""
        self.state["launcher_pid"] = os.getpid()
        for brain, job in self.jobs.items():
            if job["state"] != "running":
                continue
            if pid_alive(job.get("pid"), str(self.brain_dir(brain))):
                self.event(brain, "adopted", f"pid {job['pid']} still training")
                continue
            outcome, why = self._classify(brain, None)
            if outcome in ("completed", "quality_failed"):
                job["state"] = outcome
                job["message"] = why
                job["pid"] = None
                self.event(brain, outcome, "finished while the launcher was away")
                continue
            job["state"] = "queued"
            job["pid"] = None
            job["restarts"] = job.get("restarts", 0) + 1  # not the job's fault: no retry counted
            job["message"] = "resumed after the launcher stopped"
            self.event(brain, "requeued", "training process gone (reboot?); resumes from its last checkpoint")
        self.save()

    def poll_once(self) -> bool:
        """One supervision step. Returns True while there is work left."""
        changed = False
        for brain, job in list(self.jobs.items()):
            if job["state"] != "running":
                continue
            ended, rc = self._ended(brain)
            if ended:
                self._finish(brain, rc)
                changed = True
        before = {b: j["state"] for b, j in self.jobs.items()}
        self._schedule()
        if changed or before != {b: j["state"] for b, j in self.jobs.items()}:
            self.save()
        return any(j["state"] not in TERMINAL for j in self.jobs.values())

    def run(self, on_poll: Callable[[], None] | None = None) -> dict:
        """Supervise until every job is completed, failed or aborted; returns the job table.
        ``on_poll`` is called after each supervision step (the main job's progress lines)."""
        atomic_write_text(self.run_dir / "launcher.pid", f"{os.getpid()}\n")
        try:
            while self.poll_once():
                if on_poll is not None:
                    on_poll()
                self.sleep(float(self.state.get("poll_s") or 2.0))
        except KeyboardInterrupt:
            self.event(None, "interrupted", "stopping the training processes (resume with --resume)")
            self.stop_all()
            self.save()
            raise
        finally:
            try:
                (self.run_dir / "launcher.pid").unlink()
            except FileNotFoundError:
                pass
        self.state["phase"] = "trained"
        self.save()
        return self.jobs

    def stop_all(self, timeout: float = 20.0) -> None:
        for brain, job in self.jobs.items():
            if job["state"] != "running":
                continue
            pid = job.get("pid")
            if pid and pid_alive(pid):
                try:
                    os.killpg(pid, signal.SIGTERM)
                except (ProcessLookupError, PermissionError):
                    pass
        deadline = time.time() + timeout
        for brain, job in self.jobs.items():
            if job["state"] != "running":
                continue
            proc = self.procs.get(brain)
            while time.time() < deadline and pid_alive(job.get("pid")):
                if proc is not None and proc.poll() is not None:
                    break
                time.sleep(0.1)
            if pid_alive(job.get("pid")):
                try:
                    os.killpg(job["pid"], signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            if proc is not None:
                proc.wait()
            job["state"] = "aborted"
            job["pid"] = None
            job["message"] = "stopped by the user; `helix launch --resume` continues"
            self._write_brain_status(brain, "aborted", job["message"])
            try:
                self.pid_file(brain).unlink()
            except FileNotFoundError:
                pass
        for con in self._consoles.values():
            con.close()
        self._consoles.clear()
        self.procs.clear()

    def requeue_unfinished(self) -> None:
        """`--resume` of a run whose jobs were aborted or failed: give them another go, with a
        fresh retry allowance, from their last checkpoint."""
        for brain, job in self.jobs.items():
            if job["state"] in ("aborted", "failed"):
                self.event(brain, "requeued", f"was {job['state']}; resumes from its last checkpoint")
                job["state"] = "queued"
                job["restarts"] = job.get("attempts", 0)
                self._write_brain_status(brain, "queued", "requeued by --resume")
        self.save()
