"""The main job behind `helix launch`: corpus -> three training jobs -> test-split accuracy
table -> the seed's gate requests answered through `helix ask` -> report.

Files written into the run directory besides the launcher's: ``accuracy.json`` (per brain and
target format: exact / semantic / validity on the test split, the coordinator's route-tag
accuracy, the ASCII-vs-runic ``--check`` agreement), ``summary.json`` (gate answers, timings)
and ``report.html`` with its PNGs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from helix.system.launcher import BRAINS, MAIN_JOB_CORPUS_SIZE, Launcher, LaunchError, LaunchOptions, read_json
from helix.system.scheduler import fmt_bytes
from helix.system.syseval import spread
from helix.util import atomic_write_json, utc_now_iso

#: English test requests for the ASCII-vs-runic --check agreement.
CHECK_LIMIT = 200
#: Test records per target form for the main job's system figures (each brain alone beside the system).
SYSTEM_LIMIT = 300
#: Each brain's target test exact match (LC-B held-out-number records apart), and the floor
#: below which it has failed outright.
TARGET_EXACT = 0.9
FLOOR_EXACT = 0.5

console = Console()
if not console.is_terminal:  # a log file: no 80-column wrapping of tables and lines
    console = Console(width=160)


def _log(msg: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {msg}", highlight=False, soft_wrap=True)


def _log_plain(msg: str) -> None:
    """For text that is not rich markup (launcher events start with "[brain]")."""
    _log(escape(msg))


# ----------------------------------------------------------------------------- corpus


def default_corpus_dir(opts: LaunchOptions) -> Path:
    """``<runs>/corpus`` for the builder's defaults, else a name that says which corpus it is."""
    parts = ["corpus"]
    if opts.seed is not None:
        parts.append(f"seed{opts.seed}")
    parts.append(f"n{corpus_size(opts)}")
    parts.append(f"open{open_share(opts):g}")  # a closed-lexicon corpus of earlier versions is not reused
    return Path(opts.runs_dir) / "-".join(parts)


def open_share(opts: LaunchOptions) -> float:
    from helix.corpus.openwords import OPEN_SHARE

    return float(OPEN_SHARE if opts.open_share is None else opts.open_share)


def corpus_size(opts: LaunchOptions) -> int:
    """Training records per corpus of the corpus the main job builds (MAIN_JOB_CORPUS_SIZE)."""
    return int(opts.corpus_size or MAIN_JOB_CORPUS_SIZE)


def ensure_corpus(opts: LaunchOptions, log=_log) -> Path:
    corpus = Path(opts.corpus) if opts.corpus else default_corpus_dir(opts)
    if (corpus / "manifest.json").is_file():
        log(f"corpus {corpus} (exists)")
        return corpus
    from helix.corpus import build_corpus

    t = time.time()
    kw = {}
    if opts.seed is not None:
        kw["seed"] = opts.seed
    kw["size"] = corpus_size(opts)
    kw["open_share"] = open_share(opts)
    log(f"building the corpus in {corpus} ({', '.join(f'{k} {v}' for k, v in kw.items()) or 'default seed and size'}) ...")
    build_corpus(corpus, **kw)
    log(f"corpus built in {time.time() - t:.1f}s")
    return corpus


# ----------------------------------------------------------------------------- evaluation


def _records(corpus: Path, brain: str, split: str = "test") -> list[dict]:
    from helix.ml.data import load_records

    return load_records(corpus, brain, split)


def _eval_one(ckpt: Path, corpus: Path, limit: int | None, device: str, max_new_tokens: int, brain=None,
              split: str = "test") -> dict:
    from helix.ml.evaluate import evaluate

    return evaluate(ckpt, corpus=corpus, split=split, brain=brain, limit=limit or None, device=device,
                    max_new_tokens=max_new_tokens)


def _eval_brain(ckpt: Path, corpus: Path, out: Path, limit: int | None, device: str, max_new_tokens: int,
                brain=None) -> dict:
    """Evaluate one brain on the test split (written to ``out``) and, where its corpus has one, on the
    ``novel`` split (words no training record holds; written beside it as ``novel_eval.json``)."""
    from helix.ml.generate import Brain

    b = brain if brain is not None else Brain.load(ckpt, device=device)
    (Path(out).parent / "novel_eval.json").unlink(missing_ok=True)  # never a stale figure
    rep = _eval_one(ckpt, corpus, limit, device, max_new_tokens, brain=b)
    atomic_write_json(out, rep)
    if _records(corpus, b.brain, "novel"):
        atomic_write_json(Path(out).parent / "novel_eval.json",
                          _eval_one(ckpt, corpus, limit, device, max_new_tokens, brain=b, split="novel"))
    return rep


def accuracy_rows(run_dir: Path, corpus: Path, *, limit: int | None = None, device: str = "cpu",
                  max_new_tokens: int = 256, parallel: bool = False, log=_log) -> dict:
    """Per brain and target format: exact / semantic / validity on the test split (the first
    ``limit`` records of each brain's split when given: the split is not ordered by format).

    ``parallel`` (CPU): one evaluation process per brain, the cores split between them, as the
    training jobs run (it finishes sooner than one process doing the three in turn). Each brain's
    report is kept as ``<brain>/test_eval.json``.
    """
    from helix.system.ask import checkpoint_dir, get_system
    from helix.system.scheduler import cpu_count

    ckpts = {}
    for brain in BRAINS:
        try:
            ckpts[brain] = checkpoint_dir(run_dir, brain)
        except FileNotFoundError as e:
            log(f"[yellow]{escape(str(e))}; {brain} not evaluated[/yellow]")
    t = time.time()
    reports: dict[str, dict] = {}
    if parallel and device == "cpu" and len(ckpts) > 1:
        threads = str(max(1, cpu_count() // len(ckpts)))
        env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        procs = {
            b: subprocess.Popen(
                [sys.executable, "-m", "helix.system.pipeline", "eval-worker", str(ck), str(corpus),
                 str(run_dir / b / "test_eval.json"), str(limit or 0), str(max_new_tokens), threads],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )
            for b, ck in ckpts.items()
        }
        for b, p in procs.items():
            _, err = p.communicate()
            rep = read_json(run_dir / b / "test_eval.json") if p.returncode == 0 else None
            if rep is None:
                log(f"[yellow]evaluation of {b} failed: {escape(err.strip()[-500:])}[/yellow]")
            else:
                reports[b] = rep
    else:
        system = get_system(run_dir, device)
        for b, ck in ckpts.items():
            reports[b] = _eval_brain(ck, corpus, run_dir / b / "test_eval.json", limit, device, max_new_tokens,
                                     brain=system.brain(b))
    rows, route_acc, route_n = [], None, 0
    brains = {}
    for brain, rep in reports.items():
        novel = read_json(run_dir / brain / "novel_eval.json")
        brains[brain] = {"n": rep["n"], "exact": rep["overall"]["exact_match"],
                         "target_exact": rep.get("target_exact_match", rep["overall"]["exact_match"]),
                         "target_n": rep.get("target_n", rep["n"]),
                         "lcb_heldout_number": rep.get("lcb_heldout_number"),
                         "novel_exact": novel["overall"]["exact_match"] if novel else None,
                         "novel_n": novel["n"] if novel else 0,
                         "novel_formats": {f: s["exact_match"] for f, s in novel["formats"].items()} if novel else {}}
        for fmt, s in rep["formats"].items():
            rows.append({"brain": brain, "fmt": fmt, "n": s["n"], "exact": s["exact_match"],
                         "semantic": s["semantic_match"], "validity": s["validity"],
                         "route_accuracy": s.get("route_accuracy")})
        if brain == "coordinator":
            route_acc, route_n = rep.get("route_accuracy"), rep["n"]
    done = ", ".join(f"{b} ({r['n']} records)" for b, r in reports.items())
    log(f"evaluated {done} on the test split in {time.time() - t:.0f}s")
    return {"rows": rows, "route_accuracy": route_acc, "route_n": route_n, "brains": brains}


def check_agreement(run_dir: Path, corpus: Path, *, limit: int | None = CHECK_LIMIT, device: str = "cpu",
                    max_new_tokens: int = 256) -> dict:
    """ASCII-vs-runic ``--check`` on the test split: for English requests of the ASCII corpus,
    the ASCII brain answers in LC-T and the runic brain in LC-R (greedy; an answer that does not
    parse counts as a disagreement); both are decoded to values and compared."""
    import helix.hlx as h

    from helix.system.ask import get_system

    system = get_system(run_dir, device)
    seen, reqs = set(), []
    for r in _records(corpus, "ascii"):
        if r["src_fmt"] == "english" and r.get("value") and r["src"] not in seen:
            seen.add(r["src"])
            reqs.append(r)
    reqs = spread(reqs, limit)
    if not reqs:
        return {"n": 0, "agreement": None}
    t = time.time()
    lt = system.brain("ascii").generate([("english", r["src"], "lc_t") for r in reqs], max_new_tokens=max_new_tokens)
    lr = system.brain("runic").generate([("english", r["src"], "lc_r") for r in reqs], max_new_tokens=max_new_tokens)
    agree = both_valid = both_right = 0
    for r, a, b in zip(reqs, lt, lr):
        try:
            va, vb = h.decode(a.text, "lc_t"), h.decode(b.text, "lc_r")
        except Exception:  # noqa: BLE001 - an invalid answer simply does not agree
            continue
        both_valid += 1
        if h.values_equal(va, vb):
            agree += 1
            try:
                both_right += bool(h.values_equal(va, h.decode(r["value"], "hlx")))
            except Exception:  # noqa: BLE001
                pass
    n = len(reqs)
    return {"n": n, "agreement": agree / n, "both_valid": both_valid / n, "agree_and_right": both_right / n,
            "seconds": round(time.time() - t, 1)}


def gate_requests() -> list[tuple[str, str, str, str]]:
    """The seed's gate requests of every brain, without repeats: (src_fmt, src, tgt_fmt, expected)."""
    from helix.ml.gates import GATE_REQUESTS

    out, seen = [], set()
    for brain in BRAINS:
        for req in GATE_REQUESTS.get(brain, []):
            if (req[1], req[2]) not in seen:
                seen.add((req[1], req[2]))
                out.append(tuple(req))
    return out


def answer_gates(run_dir: Path, device: str = "cpu", max_new_tokens: int = 256) -> list[dict]:
    from helix.system.ask import get_system

    system = get_system(run_dir, device)
    reqs = gate_requests()
    answers = system.ask_many([(src, tgt) for _, src, tgt, _ in reqs], max_new_tokens=max_new_tokens)
    out = []
    for (sf, src, tgt, want), a in zip(reqs, answers):
        out.append({"text": src, "to": tgt, "answer": a.text if a.ok else None, "status": a.status,
                    "expert": "core" if a.route.direct else a.route.expert, "src_fmt": a.route.src_fmt,
                    "expected": want, "right": bool(a.ok and a.text == want), "model_route": a.model_route,
                    "route_agrees": a.route_agrees, "ms": a.ms.get("total")})
    return out


def evaluate_run(run_dir: Path, *, limit: int | None = None, device: str = "cpu", corpus: Path | None = None,
                 check_limit: int | None = CHECK_LIMIT, max_new_tokens: int = 256, parallel: bool = False,
                 system_limit: int | None = None, log=_log) -> dict:
    """Write RUN_DIR/accuracy.json and summary.json; returns the accuracy dict."""
    run_dir = Path(run_dir)
    launch = read_json(run_dir / "launch.json") or {}
    corpus = Path(corpus or launch.get("corpus") or "")
    if not (corpus / "manifest.json").is_file():
        raise LaunchError(f"cannot evaluate {run_dir}: corpus {corpus} not found")
    t = time.time()
    acc = accuracy_rows(run_dir, corpus, limit=limit, device=device, max_new_tokens=max_new_tokens,
                        parallel=parallel, log=log)
    acc.update({"split": "test", "corpus": str(corpus), "limit_per_brain": limit, "time": utc_now_iso()})
    try:
        chk = check_agreement(run_dir, corpus, limit=check_limit, device=device, max_new_tokens=max_new_tokens)
        acc["check_agreement"], acc["check_n"], acc["check"] = chk["agreement"], chk["n"], chk
    except Exception as e:  # noqa: BLE001
        log(f"[yellow]--check agreement not measured: {escape(str(e))}[/yellow]")
    try:
        acc["system"] = system_figures(run_dir, corpus, limit=system_limit or min(SYSTEM_LIMIT, limit or SYSTEM_LIMIT),
                                       device=device,
                                       max_new_tokens=max_new_tokens)
    except Exception as e:  # noqa: BLE001
        log(f"[yellow]system figures not measured: {escape(str(e))}[/yellow]")
    acc["eval_seconds"] = round(time.time() - t, 1)
    atomic_write_json(run_dir / "accuracy.json", acc)
    try:
        gates = answer_gates(run_dir, device, max_new_tokens)
    except Exception as e:  # noqa: BLE001
        log(f"[yellow]gate requests not answered: {escape(str(e))}[/yellow]")
        gates = []
    summ = read_json(run_dir / "summary.json") or {}
    summ.update({"gate_answers": gates, "evaluated": utc_now_iso()})
    atomic_write_json(run_dir / "summary.json", summ)
    return acc


def system_figures(run_dir: Path, corpus: Path, *, limit: int | None = SYSTEM_LIMIT, device: str = "cpu",
                   max_new_tokens: int = 256) -> dict:
    """Store the answer path's forms, measured on the test split (``answer_forms.json``), then
    each brain alone and the system on ``limit`` test records per value form (helix.system.syseval)."""
    from helix.system import answer as ans
    from helix.system.ask import get_system
    from helix.system.syseval import evaluate_system

    reports = {b: r for b in BRAINS if (r := read_json(run_dir / b / "test_eval.json"))}
    if reports:
        ans.write_answer_forms(run_dir, reports)
    system = get_system(run_dir, device)
    system.answer_forms, system.forms_from = ans.answer_forms(run_dir)
    return evaluate_system(run_dir, corpus=corpus, split="test", limit=limit, system=system,
                           max_new_tokens=max_new_tokens)


def brain_verdicts(acc: dict, jobs: dict, *, target: float = TARGET_EXACT, floor: float = FLOOR_EXACT) -> dict:
    """Per brain: test exact match (LC-B held-out-number records left out) against the target,
    and a verdict: ``met``, ``below target`` or ``quality_failed`` (below the floor, or no figure)."""
    out = {}
    for brain, job in jobs.items():
        b = (acc.get("brains") or {}).get(brain)
        te = b.get("target_exact") if b else None
        if te is None:
            verdict, why = "quality_failed", f"not evaluated (training {job.get('state')})"
        elif te >= target:
            verdict, why = "met", f"{te * 100:.1f}% >= {target * 100:.0f}%"
        elif te >= floor:
            verdict, why = "below target", f"{te * 100:.1f}% < {target * 100:.0f}%"
        else:
            verdict, why = "quality_failed", f"{te * 100:.1f}% is below the floor {floor * 100:.0f}%"
        h = (b or {}).get("lcb_heldout_number") or {}
        line = f"test exact {'-' if te is None else f'{te * 100:.1f}%'} (target {target * 100:.0f}%): {verdict}"
        if h.get("n"):
            line += f"; LC-B held-out numbers apart: {h['exact_match'] * 100:.1f}% of {h['n']}"
        if (b or {}).get("novel_n"):
            line += f"; novel words: {b['novel_exact'] * 100:.1f}% of {b['novel_n']}"
        out[brain] = {"verdict": verdict, "met": verdict == "met", "target": target, "floor": floor,
                      "test_exact": te, "why": why, "line": line, "lcb_heldout_number": h or None,
                      "novel_exact": (b or {}).get("novel_exact"), "novel_n": (b or {}).get("novel_n") or 0}
    return out


def time_to_accuracy(run_dir: Path, brain: str) -> list[tuple[float, int, float]]:
    """(seconds since the run's training began, step, val exact match) of each evaluation of a
    brain (its metrics.jsonl); a warm-started specialist's clock starts where the coordinator's
    training ended."""
    from helix.system.status import iter_metrics

    offset = 0.0
    launch = read_json(run_dir / "launch.json") or {}
    job = (launch.get("jobs") or {}).get(brain) or {}
    if job.get("init_from") or job.get("after"):
        offset = float(((launch.get("jobs") or {}).get("coordinator") or {}).get("run_s") or 0.0)
    pts = []
    for m in iter_metrics(run_dir, brain):
        if m.get("kind") in ("eval", "epoch") and isinstance(m.get("val_exact_match"), (int, float)) \
                and isinstance(m.get("elapsed_s"), (int, float)):
            pts.append((round(offset + m["elapsed_s"]), int(m.get("step") or 0), float(m["val_exact_match"])))
    return pts


def training_outcomes(run_dir: Path, jobs: dict) -> dict[str, dict]:
    """Per brain, from its summary.json: steps, training seconds, why it stopped, time to target."""
    out = {}
    for b in jobs:
        s = read_json(Path(run_dir) / b / "summary.json") or {}
        out[b] = {"steps": s.get("step"), "seconds": s.get("elapsed_s"), "stop_reason": s.get("stop_reason"),
                  "time_to_target": s.get("time_to_target"), "precision": s.get("precision"),
                  "best_val_exact_match": s.get("best_val_exact_match"), "stop_rule": s.get("stop_rule")}
    return out


def record_history(L: Launcher, outcomes: dict[str, dict], verdicts: dict | None = None) -> None:
    """Each run teaches the next: this machine's time to target per brain (helix.system.projection).
    A brain reached its target when the whole validation split confirmed it (its steps then) or
    when it met its target on the test split (all the steps it trained)."""
    from helix.system.projection import record_time_to_target

    machine = L.state.get("machine")
    if not machine or L.state.get("time_budget"):
        return  # a clock-bound run does not measure time to target
    for b, o in outcomes.items():
        if o.get("stop_reason") not in ("target", "plateau", "cap") or o.get("steps") is None:
            continue
        ttt = o.get("time_to_target") or {}
        met = bool(((verdicts or {}).get(b) or {}).get("met"))
        record_time_to_target(b, {"reached": bool(ttt) or met, "test_met": met if verdicts else None,
                                  "steps": ttt.get("steps", o["steps"]),
                                  "seconds": ttt.get("seconds", o["seconds"]), "stop_reason": o["stop_reason"],
                                  "precision": o.get("precision"), "run": str(L.run_dir),
                                  "train_args": list(L.state.get("extra_train_args") or []),
                                  "projected_eta_s": ((L.jobs.get(b) or {}).get("projection") or {}).get("eta_s")},
                              machine)


def print_verdicts(verdicts: dict, run_dir: Path, outcomes: dict[str, dict] | None = None) -> None:
    outcomes = outcomes or {}
    t = Table(title="Closing summary: each brain against its target", title_justify="left")
    for c in ("brain", "test exact", "target", "verdict", "novel exact", "steps", "training", "stopped at"):
        t.add_column(c)
    for b, v in verdicts.items():
        o = outcomes.get(b) or {}
        style = "green" if v["met"] else ("yellow" if v["verdict"] == "below target" else "red")
        novel = f"{_pct(v.get('novel_exact'))} (n {v['novel_n']:,})" if v.get("novel_n") else "-"
        t.add_row(b, _pct(v["test_exact"]), f"{v['target'] * 100:.0f}%", f"[{style}]{v['verdict']}[/{style}]", novel,
                  "-" if o.get("steps") is None else f"{o['steps']:,}",
                  "-" if o.get("seconds") is None else f"{o['seconds']:.0f} s", o.get("stop_reason") or "-")
    console.print(t)
    for b, v in verdicts.items():
        h = v.get("lcb_heldout_number") or {}
        if h.get("n"):
            console.print(f"LC-B held-out numbers, {b} (apart from the target figure): "
                          f"{_pct(h.get('exact_match'))} of {h['n']}")
    for b in verdicts:
        pts = time_to_accuracy(run_dir, b)
        if pts:
            console.print(f"time to accuracy, {b} (val sample): "
                          + ", ".join(f"{em * 100:.1f}% at {s}s (step {st})" for s, st, em in pts))


def _human(s) -> str:
    from helix.system.projection import human_s

    return human_s(s)


def _pct(v) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def print_accuracy(acc: dict) -> None:
    lim = acc.get("limit_per_brain")
    t = Table(title=f"Test-split accuracy ({acc.get('corpus')}"
              + (f"; first {lim} test records of each brain" if lim else "; every test record") + ")",
              title_justify="left")
    for c in ("brain", "target", "n", "exact", "semantic", "validity"):
        t.add_column(c, justify="left" if c in ("brain", "target") else "right")
    for r in acc["rows"]:
        t.add_row(r["brain"], r["fmt"], str(r["n"]), _pct(r["exact"]), _pct(r["semantic"]), _pct(r["validity"]))
    console.print(t)
    for brain, b in (acc.get("brains") or {}).items():
        if b.get("novel_n"):
            cells = ", ".join(f"{f} {_pct(e)}" for f, e in sorted(b["novel_formats"].items()))
            console.print(f"novel split, {brain} (words no training record holds): exact {_pct(b['novel_exact'])} "
                          f"of {b['novel_n']:,} ({cells})")
    if acc.get("route_accuracy") is not None:
        console.print(f"coordinator route-tag accuracy: {_pct(acc['route_accuracy'])} (n={acc['route_n']})")
    if acc.get("check_agreement") is not None:
        c = acc["check"]
        console.print(f"ASCII-vs-runic --check agreement: {_pct(c['agreement'])} of n={c['n']} English test "
                      f"requests (both valid {_pct(c['both_valid'])}, agree and right {_pct(c['agree_and_right'])})")


def print_gates(gates: list[dict]) -> None:
    t = Table(title="The seed's gate requests, answered through helix ask", title_justify="left")
    for c in ("request", "to", "answer", "validity", "route", "expected", "ok"):
        t.add_column(c)
    for g in gates:
        t.add_row(*(escape(x.replace("\n", "\\n")) for x in (g["text"], g["to"], g["answer"] or "(no valid answer)",
                                                                g["status"], g["expert"], g["expected"])),
                  "[green]yes[/green]" if g["right"] else "[red]NO[/red]")
    console.print(t)


# ----------------------------------------------------------------------------- launch


def print_plan(L: Launcher) -> None:
    st = L.state
    devs = ", ".join(f"{d['name']} {fmt_bytes(d['free_bytes'])} free of {fmt_bytes(d['total_bytes'])}"
                     for d in st.get("devices") or [])
    _log(f"run {L.run_dir}")
    _log(f"device {st['device_kind']} ({devs}); mode {st['mode']}"
         + (f", {st['slots']} job(s) at a time x {st['threads_per_job']} thread(s)" if st.get("slots") else ""))
    if st.get("warm_start"):
        _log("warm start: the coordinator trains first on every brain's records; the specialists "
             "then start from its weights when it has reached its target or its plateau")
    if st.get("time_cap") and not st.get("time_budget"):
        from helix.system.projection import human_s

        _log(f"each brain trains to its target (90% val exact match, confirmed on the validation split), "
             f"or until its curve stops rising; the whole job's training is capped at {human_s(st['time_cap'])}")
    for b, j in L.jobs.items():
        budget = j.get("time_budget", st.get("time_budget"))
        threads = j.get("threads") or st.get("threads_per_job")
        _log(f"  {b:<12} preset {j['preset']:<17} micro-batch {j['batch_size']} x {j['grad_accum']}  "
             f"est. peak {fmt_bytes(j['est_bytes'])}" + (f"  budget {budget:.0f}s" if budget else "")
             + (f"  {threads} thread(s)" if threads else "")
             + ("  on every brain's records" if j.get("mix") == "all" else "")
             + (f"  after the {j['after']}" if j.get("after") else ""))
    _log(f"watch: helix status --watch {L.run_dir}   logs: helix logs BRAIN -f --run {L.run_dir}")


def print_precision() -> None:
    """The measured precision choice for the CPU presets (helix.ml.precision), with its figures."""
    import torch

    from helix.ml.config import get_preset
    from helix.ml.precision import choose, describe

    cfg = get_preset("coordinator-tiny")
    c = choose(torch.device("cpu"), cfg.d_model, cfg.n_heads, cfg.d_ff)
    m = c.get("measured") or {}
    figs = ""
    if m:
        figs = (f" — matmul fp32 {m['matmul_fp32_gflops']:.0f} GFLOP/s, bf16 {m['matmul_bf16_gflops']:.1f}; "
                f"Newton-Schulz fp32 {m['newton_schulz_fp32_ms']:.1f} ms, bf16 {m['newton_schulz_bf16_ms']:.1f} ms")
    _log_plain(f"precision ({torch.get_num_threads()} threads): {describe(c)}{figs}")


def dry_run(opts: LaunchOptions, *, gpu_mem_gib: float | None = None):
    """Print what `helix launch` would start now and what it would stage; start nothing.
    ``gpu_mem_gib`` simulates one empty GPU of that size."""
    from helix.system.launcher import plan_setup
    from helix.system.scheduler import GiB, Device, plan_jobs

    devices_fn = None
    if gpu_mem_gib:
        size = int(gpu_mem_gib * GiB)
        devices_fn = lambda: [Device("cuda:0", size, size)]  # noqa: E731
    setup = plan_setup(opts, devices_fn=devices_fn)
    plan = plan_jobs(setup["specs"], setup["devices"], max_concurrent=setup["slots"],
                     estimator=setup["estimator"])
    devs = ", ".join(f"{d.name} {fmt_bytes(d.free_bytes)} free of {fmt_bytes(d.total_bytes)}"
                     for d in setup["devices"])
    t = Table(title=f"helix launch plan on {devs}" + (" (simulated)" if gpu_mem_gib else ""), title_justify="left")
    for c in ("brain", "preset", "micro-batch", "est. peak", "decision", "device", "why"):
        t.add_column(c)
    for p in plan.placements:
        j = p.job
        t.add_row(j.brain, j.preset, f"{j.batch_size} x {j.grad_accum}", fmt_bytes(j.est_bytes),
                  {"run": "[green]start now[/green]", "staged": "[magenta]staged[/magenta]"}.get(p.state, "[red]impossible[/red]"),
                  p.device or "-", escape(p.reason))
    console.print(t)
    if setup["kind"] == "cpu":
        console.print(f"CPU mode {setup['mode']}: {setup['slots']} job(s) at a time x {setup['threads']} thread(s)")
    return plan


def _detach(run_dir: Path, evaluate: bool, eval_limit: int | None) -> None:
    argv = [sys.executable, "-m", "helix", "launch", "--resume", str(run_dir)]
    if not evaluate:
        argv.append("--no-evaluate")
    if eval_limit:
        argv += ["--eval-limit", str(eval_limit)]
    log = open(run_dir / "launcher.log", "ab")
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    log.close()
    _log(f"supervising in the background (pid {p.pid}, log {run_dir / 'launcher.log'})")


def progress_lines(L: Launcher) -> list[str]:
    """One line per training brain: its progress towards its target and the ETA (live curve)."""
    from helix.system.projection import human_s

    lines = []
    for b, j in L.jobs.items():
        if j["state"] != "running":
            continue
        st = read_json(L.brain_dir(b) / "status.json") or {}
        target = st.get("target") or TARGET_EXACT
        em = st.get("val_exact_match")
        frac = 0.0 if not isinstance(em, (int, float)) else max(0.0, min(1.0, em / target))
        bar = "#" * round(20 * frac) + "-" * (20 - round(20 * frac))
        lines.append(f"[{b}] [{bar}] val exact {_pct(em)} of {target * 100:.0f}% · step {st.get('step') or 0:,} · "
                     f"{st.get('phase') or '-'} · ETA {human_s(st.get('eta_s'))}")
    return lines


def launch_main(opts: LaunchOptions, *, resume: Path | None = None, detach: bool = False, evaluate: bool = True,
                eval_limit: int | None = None, progress_every_s: float = 60.0) -> int:
    """The whole main job; returns the exit code (0: every brain met its target)."""
    t0 = time.time()
    timings: dict[str, float] = {}
    if resume is not None and str(resume) == "latest":
        from helix.system.status import latest_run

        resume = latest_run(opts.runs_dir)
        if resume is None:
            raise LaunchError(f"--resume latest: no run under {opts.runs_dir}")
    if resume is not None:
        L = Launcher.load(resume, log=_log_plain)
        L.requeue_unfinished()
        L.adopt_or_restart()
        _log(f"resuming {L.run_dir}")
    else:
        corpus = ensure_corpus(opts)
        timings["corpus_s"] = round(time.time() - t0, 1)
        L = Launcher.create(opts, corpus_dir=corpus, log=_log_plain)
        print_plan(L)
        if L.state.get("device_kind") == "cpu":
            print_precision()
            L.project_jobs()
            if L.state.get("eta_s") is not None:
                _log(f"the whole job should take about {_human(L.state['eta_s'])} of training on this machine "
                     "(each brain stops at its target, its plateau or the cap)")
    if detach:
        L.save()
        _detach(L.run_dir, evaluate, eval_limit)
        return 0
    t1 = time.time()
    shown = [0.0]

    def show_progress() -> None:
        if time.time() - shown[0] >= progress_every_s:
            shown[0] = time.time()
            for line in progress_lines(L):
                _log_plain(line)

    L.run(on_poll=show_progress)
    timings["train_s"] = round(time.time() - t1, 1)
    outcomes = training_outcomes(L.run_dir, L.jobs)
    L.state["outcomes"] = outcomes
    ok = [b for b, j in L.jobs.items() if j["state"] in ("completed", "quality_failed")]
    for b, j in L.jobs.items():
        _log_plain(f"{b}: {j['state']}" + (f" — {j['message']}" if j.get("message") else ""))
    _log(f"training took {timings['train_s']:.0f}s")
    if evaluate and ok:
        L.state["phase"] = "evaluating"
        L.save()
        t2 = time.time()
        acc = evaluate_run(L.run_dir, limit=eval_limit or None, parallel=L.state.get("device_kind") == "cpu")
        timings["evaluate_s"] = round(time.time() - t2, 1)
        print_accuracy(acc)
        if acc.get("system"):
            from helix.system.syseval import format_system_table

            _log_plain(format_system_table(acc["system"]))
        summ = read_json(L.run_dir / "summary.json") or {}
        if summ.get("gate_answers"):
            print_gates(summ["gate_answers"])
    verdicts = {}
    if evaluate:  # --no-evaluate: no test figures, so no verdict (the exit code still tells training's)
        verdicts = brain_verdicts(acc if ok else {}, L.jobs)
        L.state["verdicts"] = verdicts
        for b, v in verdicts.items():
            L._write_brain_status(b, L.jobs[b]["state"], L.jobs[b].get("message") or "", verdict=v)
        print_verdicts(verdicts, L.run_dir, outcomes)
        summ = read_json(L.run_dir / "summary.json") or {}
        summ["verdicts"] = verdicts
        summ["time_to_accuracy"] = {b: time_to_accuracy(L.run_dir, b) for b in L.jobs}
        gates = summ.get("gate_answers") or []
        summ["gates_right"] = f"{sum(g['right'] for g in gates)}/{len(gates)}"
        atomic_write_json(L.run_dir / "summary.json", summ)
    record_history(L, outcomes, verdicts if evaluate else None)
    try:
        from helix.system.report import write_report

        _log(f"report: {write_report(L.run_dir)}")
    except Exception as e:  # noqa: BLE001 - the report is a convenience, never fails the run
        _log_plain(f"report not written: {e}")
    L.state["phase"] = "done"
    timings["total_s"] = round(time.time() - t0, 1)
    L.state["timings"] = timings
    L.save()
    _log(f"done in {timings['total_s']:.0f}s ({', '.join(f'{k[:-2]} {v:.0f}s' for k, v in timings.items())}): "
         f"{L.run_dir}")
    failed = [f"{b}: training {j['state']}" + (f" ({j['message']})" if j.get("message") else "")
              for b, j in L.jobs.items() if j["state"] != "completed"]
    if evaluate:
        failed += [f"{b}: {v['why']} ({v['verdict']})" for b, v in verdicts.items()
                   if not v["met"] and L.jobs[b]["state"] == "completed"]
    else:  # no test figures: a brain that trained to a plateau below its target has still failed
        failed += [f"{b}: best val exact match {o['best_val_exact_match'] * 100:.1f}% < {TARGET_EXACT * 100:.0f}% "
                   f"(stopped at its {o.get('stop_reason')}; not evaluated)"
                   for b, o in outcomes.items() if L.jobs[b]["state"] == "completed"
                   and isinstance(o.get("best_val_exact_match"), (int, float))
                   and o["best_val_exact_match"] < TARGET_EXACT]
    if failed:
        _log_plain("NOT SUCCESSFUL: " + "; ".join(failed))
        return 1
    _log("every brain met its target")
    return 0


def _eval_worker(argv: list[str]) -> int:
    """``python -m helix.system.pipeline eval-worker CKPT CORPUS OUT LIMIT MAX_NEW THREADS``."""
    ckpt, corpus, out, limit, max_new, threads = argv
    import torch

    torch.set_num_threads(int(threads))
    _eval_brain(Path(ckpt), Path(corpus), Path(out), int(limit) or None, "cpu", int(max_new))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 8 and sys.argv[1] == "eval-worker":
        raise SystemExit(_eval_worker(sys.argv[2:]))
    raise SystemExit("usage: python -m helix.system.pipeline eval-worker CKPT CORPUS OUT LIMIT MAX_NEW THREADS")
