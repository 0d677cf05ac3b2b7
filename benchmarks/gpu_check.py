"""The GPU check (issue 17): the full-size brains on one CUDA GPU, every figure in one JSON and one table.

    scripts/gpu_check.sh                      # set-up, then this script with its defaults
    .venv/bin/python benchmarks/gpu_check.py --out gpu_check --deadline-s 540

Phases, each bounded by what is left of the deadline (a phase that overruns is stopped and
reported as such; the check always ends with its table):

1. the device: name, memory, its dense bf16 peak (helix.ml.flops);
2. ``benchmarks/bench_train.py``: coordinator-100m and specialist-50m (bf16, compiled, fused AdamW:
   tokens/s and MFU) with the earlier system's fp32 batch-4 loop beside each;
3. the main job with the full presets on a GPU time budget: ``helix launch --device cuda --preset
   full --time-budget T`` (the scheduler stages the three trainings within the GPU's memory), then
   its test-split evaluation (raw exact match per brain);
4. ``benchmarks/bench_ask.py`` on the trained run, on the GPU.

Targets (issue 17): each full-size brain >= 99% raw test exact match with the three trainings
together in at most 600 s; MFU >= 45% for coordinator-100m and >= 40% for specialist-50m. Exit
code 0 only when every target is met; 2 when there is no CUDA device (``--device cpu`` runs the same
phases with the tiny presets, as a smoke test of the check itself, and gives no verdict).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

TARGETS = {"raw_test_exact": 0.99, "train_s": 600.0, "mfu": {"coordinator-100m": 0.45, "specialist-50m": 0.40}}
FULL = ("coordinator-100m", "specialist-50m")


class Clock:
    """The check's own deadline: each phase gets what is left, less a reserve for the table."""

    def __init__(self, deadline_s: float, reserve_s: float = 20.0) -> None:
        self.t0, self.deadline_s, self.reserve_s = time.time(), deadline_s, reserve_s

    def left(self) -> float:
        return self.deadline_s - (time.time() - self.t0) - self.reserve_s


def _default_sigint() -> None:
    """In the child before exec: SIGINT back to its default, so that Python turns it into
    KeyboardInterrupt (the launcher then stops its trainings). A check started in the background
    (``nohup … &``) inherits SIGINT ignored, and Python keeps an ignored SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_phase(name: str, argv: list[str], clock: Clock, *, cap_s: float, log: Path, env: dict | None = None) -> dict:
    """Run one phase in its own process group; past its time, SIGINT (the launcher stops its
    trainings on it), then SIGKILL. Returns rc, seconds and whether it was stopped."""
    limit = min(cap_s, clock.left())
    rec = {"phase": name, "argv": argv, "limit_s": round(limit, 1), "log": str(log)}
    if limit < 5:
        return {**rec, "rc": None, "seconds": 0.0, "stopped": True, "note": "no time left"}
    t = time.time()
    with open(log, "w") as fh:
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, **(env or {})}, preexec_fn=_default_sigint)
        stopped = False
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            stopped = True
            for sig, grace in ((signal.SIGINT, 30), (signal.SIGKILL, 10)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
    rec.update(rc=proc.returncode, seconds=round(time.time() - t, 1), stopped=stopped)
    print(f"[gpu_check] {name}: rc {proc.returncode}, {rec['seconds']:.0f} s" + (" (stopped at its limit)" if stopped else ""),
          flush=True)
    return rec


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def device_info(device: str) -> dict:
    import torch

    from helix.ml.flops import peak_bf16_flops

    if device == "cpu":
        return {"device": "cpu", "name": "cpu", "torch": torch.__version__}
    p = torch.cuda.get_device_properties(0)
    peak = peak_bf16_flops(p.name)
    return {"device": "cuda", "name": p.name, "memory_gib": round(p.total_memory / 2**30, 1), "torch": torch.__version__,
            "cuda": torch.version.cuda, "bf16_peak_tflops": peak / 1e12 if peak else None}


def main_job_figures(run_dir: Path | None) -> dict:
    """Per brain from a run: raw test exact match, steps, training seconds; the jobs' wall time."""
    if run_dir is None:
        return {}
    summ = read_json(run_dir / "summary.json") or {}
    acc = read_json(run_dir / "accuracy.json") or {}
    launch = read_json(run_dir / "launch.json") or {}
    brains = {}
    for b in ("coordinator", "ascii", "runic"):
        a = (acc.get("brains") or {}).get(b) or {}
        s = read_json(run_dir / b / "summary.json") or {}
        brains[b] = {"preset": ((launch.get("jobs") or {}).get(b) or {}).get("preset"),
                     "raw_test_exact": a.get("target_exact"), "steps": s.get("step"), "train_s": s.get("elapsed_s")}
    timings = launch.get("timings") or {}
    return {"run": str(run_dir), "brains": brains, "train_wall_s": timings.get("train_s"),
            "system": (acc.get("system") or {}).get("overall"), "gates_right": summ.get("gates_right")}


def verdicts(fig: dict) -> list[dict]:
    """Each target against its figure: met, missed, or not measured (a phase that did not finish)."""
    rows = []

    def add(what, value, target, met, shown):
        rows.append({"what": what, "value": value, "target": target,
                     "verdict": "not measured" if value is None else ("met" if met else "missed"), "shown": shown})

    for r in fig.get("bench_train") or []:
        if r.get("loop") == "helix" and r.get("preset") in TARGETS["mfu"]:
            t = TARGETS["mfu"][r["preset"]]
            m = r.get("mfu")
            add(f"MFU {r['preset']}", m, t, m is not None and m >= t, "-" if m is None else f"{100 * m:.1f}%")
    for p in FULL:
        if not any(r.get("preset") == p and r.get("loop") == "helix" for r in fig.get("bench_train") or []):
            add(f"MFU {p}", None, TARGETS["mfu"][p], False, "-")
    mj = fig.get("main_job") or {}
    for b in ("coordinator", "ascii", "runic"):
        te = ((mj.get("brains") or {}).get(b) or {}).get("raw_test_exact")
        add(f"{b} raw test exact", te, TARGETS["raw_test_exact"], te is not None and te >= TARGETS["raw_test_exact"],
            "-" if te is None else f"{100 * te:.1f}%")
    w = mj.get("train_wall_s")
    add("three trainings, wall", w, TARGETS["train_s"], w is not None and w <= TARGETS["train_s"],
        "-" if w is None else f"{w:.0f} s")
    return rows


def table(fig: dict) -> str:
    d = fig.get("device") or {}
    lines = [f"GPU check — {d.get('name', '?')}, torch {d.get('torch', '?')}, {fig.get('wall_s', 0):.0f} s", ""]
    lines.append(f"{'loop':<9}{'preset':<18}{'tokens/s':>12}{'TFLOP/s':>9}{'MFU':>8}  note")
    for r in fig.get("bench_train") or []:
        mfu = "-" if r.get("mfu") is None else f"{100 * r['mfu']:.1f}%"
        note = f"{r['slowdown_vs_helix']:.1f}x slower" if "slowdown_vs_helix" in r else ""
        lines.append(f"{r.get('loop', '?'):<9}{r.get('preset', '?'):<18}{r.get('tokens_per_s', 0):>12,.0f}"
                     f"{r.get('tflops', 0):>9.1f}{mfu:>8}  {note}")
    mj = fig.get("main_job") or {}
    if mj.get("brains"):
        lines += ["", f"{'brain':<13}{'preset':<18}{'steps':>7}{'train s':>9}{'raw test exact':>16}"]
        for b, r in mj["brains"].items():
            te = "-" if r.get("raw_test_exact") is None else f"{100 * r['raw_test_exact']:.1f}%"
            lines.append(f"{b:<13}{str(r.get('preset')):<18}{str(r.get('steps') or '-'):>7}"
                         f"{(r.get('train_s') or 0):>9.0f}{te:>16}")
    a = fig.get("bench_ask") or {}
    for path in ("system", "raw"):
        if a.get(path):
            r = a[path]
            lines.append(f"ask {path:<7} p50 {r['single_p50_ms']:.1f} ms, p95 {r['single_p95_ms']:.1f} ms, "
                         f"batched {r['batch_req_per_s']:.1f} req/s")
    lines += ["", f"{'target':<30}{'figure':>10}{'needs':>10}  verdict"]
    for v in fig.get("verdicts") or []:
        need = f">= {100 * v['target']:.0f}%" if v["target"] <= 1 else f"<= {v['target']:.0f} s"
        lines.append(f"{v['what']:<30}{v['shown']:>10}{need:>10}  {v['verdict']}")
    for p in fig.get("phases") or []:
        if p.get("stopped") or p.get("rc"):
            lines.append(f"phase {p['phase']}: rc {p.get('rc')}{', stopped at its limit' if p.get('stopped') else ''}"
                         f" (log {p.get('log')})")
    lines.append("")
    lines.append(f"verdict: {fig.get('verdict')}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("gpu_check"), help="folder for the JSON, the logs and the run")
    ap.add_argument("--deadline-s", type=float, default=540.0, help="the whole check stops by then (default 9 min)")
    ap.add_argument("--train-budget-s", type=float, default=240.0, help="the main job's GPU time budget")
    ap.add_argument("--eval-limit", type=int, default=400, help="test records per brain")
    ap.add_argument("--device", default="cuda", help="cuda (default) | cpu: the same phases, tiny presets (smoke)")
    a = ap.parse_args(argv)
    import torch

    from helix.util import atomic_write_json

    cpu = a.device == "cpu"
    if not cpu and not torch.cuda.is_available():
        print("error: no CUDA GPU visible to torch (torch.cuda.is_available() is False); the GPU check needs one. "
              "`--device cpu` runs its phases with the tiny presets as a smoke test.", file=sys.stderr)
        return 2
    clock = Clock(a.deadline_s)
    out = a.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    fig: dict = {"device": device_info("cpu" if cpu else "cuda"), "targets": TARGETS, "phases": [],
                 "deadline_s": a.deadline_s}
    print(f"[gpu_check] device: {fig['device']}", flush=True)

    # 2. training throughput of the full presets (tiny on the CPU smoke), the original loop beside
    bt = out / "bench_train.json"
    bt.unlink(missing_ok=True)
    bench_args = ["--presets", "coordinator-tiny", "--steps", "2", "--threads", "2"] if cpu else ["--original"]
    fig["phases"].append(run_phase("bench_train", [py, "benchmarks/bench_train.py", "--device", a.device, *bench_args,
                                                   "--json-out", str(bt)], clock, cap_s=150 if not cpu else 120,
                                   log=out / "bench_train.log"))
    fig["bench_train"] = [] if cpu else (read_json(bt) or [])

    # 3. the main job with the full presets on a time budget, then its test-split evaluation
    runs = out / "runs"
    launch = [py, "-m", "helix", "launch", "--device", a.device, "--preset", "tiny" if cpu else "full",
              "--time-budget", str(a.train_budget_s), "--eval-limit", str(a.eval_limit), "--runs-dir", str(runs),
              "--corpus", str(out / "corpus")]
    if cpu:
        launch += ["--corpus-size", "3000"]
    fig["phases"].append(run_phase("main_job", launch, clock, cap_s=a.train_budget_s + 200, log=out / "main_job.log"))
    run_dirs = sorted((p for p in runs.glob("*") if (p / "launch.json").is_file()), key=lambda p: p.name) if runs.is_dir() else []
    fig["main_job"] = main_job_figures(run_dirs[-1] if run_dirs else None)

    # 4. helix ask on the GPU, the system path and the raw path side by side
    ba = out / "bench_ask.json"
    ba.unlink(missing_ok=True)
    if run_dirs:
        fig["phases"].append(run_phase("bench_ask", [py, "benchmarks/bench_ask.py", "--run", str(run_dirs[-1]), "--device",
                                                     a.device, "--n", "30", "--json", str(ba)], clock, cap_s=90,
                                       log=out / "bench_ask.log"))
    fig["bench_ask"] = read_json(ba)

    fig["verdicts"] = [] if cpu else verdicts(fig)
    if cpu:
        fig["verdict"] = "smoke run on the CPU (tiny presets): no verdict against the GPU targets"
    else:
        missed = [v["what"] for v in fig["verdicts"] if v["verdict"] != "met"]
        fig["verdict"] = "every target met" if not missed else "NOT MET: " + "; ".join(missed)
    fig["wall_s"] = round(time.time() - clock.t0, 1)
    atomic_write_json(out / "gpu_check.json", fig)
    print(table(fig), flush=True)
    print(f"[gpu_check] figures: {out / 'gpu_check.json'}")
    if cpu:  # the smoke checks the check: every phase ran to its end and left its figures
        ran = all(not p.get("stopped") and p.get("rc") in (0, 1) for p in fig["phases"])
        return 0 if ran and (fig["main_job"] or {}).get("brains") and fig["bench_ask"] else 1
    return 0 if fig["verdict"] == "every target met" else 1


if __name__ == "__main__":
    raise SystemExit(main())
