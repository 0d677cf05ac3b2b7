"""`helix status` and `helix logs`: read a run's per-brain status files, show one table.

Stall detection: a brain whose status is ``training`` and whose status.json ``time`` (UTC) is
older than the threshold is flagged, as is one whose training process is gone.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, TextIO

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from helix.system.launcher import BRAINS, pid_alive, read_json
from helix.system.scheduler import fmt_bytes
from helix.util import parse_utc_iso

DEFAULT_STALL_S = 300.0
DEFAULT_RUNS_DIR = "runs"


def runs_root(runs_dir: str | os.PathLike | None = None) -> Path:
    return Path(runs_dir or os.environ.get("HELIX_RUNS_DIR") or DEFAULT_RUNS_DIR)


def stall_threshold(value: float | None = None) -> float:
    if value is not None:
        return float(value)
    env = os.environ.get("HELIX_STALL_S")
    try:
        return float(env) if env else DEFAULT_STALL_S
    except ValueError:
        return DEFAULT_STALL_S


def is_run_dir(path: Path) -> bool:
    if (path / "launch.json").is_file():
        return True
    return any((path / b / "status.json").is_file() for b in BRAINS)


def list_runs(runs_dir: str | os.PathLike | None = None) -> list[Path]:
    """Run directories under the runs folder, oldest first (names are UTC timestamps)."""
    root = runs_root(runs_dir)
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir() if p.is_dir() and is_run_dir(p)]
    return sorted(runs, key=lambda p: (p.name, p.stat().st_mtime))


def latest_run(runs_dir: str | os.PathLike | None = None) -> Path | None:
    runs = list_runs(runs_dir)
    return runs[-1] if runs else None


def resolve_run(run: str | os.PathLike | None, runs_dir: str | os.PathLike | None = None) -> Path:
    """RUN_DIR as given, else the latest run; a clear error when there is none."""
    if run:
        p = Path(run)
        if not p.is_dir():
            raise FileNotFoundError(f"run directory {p} does not exist")
        return p
    p = latest_run(runs_dir)
    if p is None:
        raise FileNotFoundError(
            f"no runs under {runs_root(runs_dir)}/ yet: start one with `helix launch`"
        )
    return p


def brain_names(run_dir: Path) -> list[str]:
    """The run's brains: the launcher's order, then any other folder holding a status.json."""
    names = []
    st = read_json(run_dir / "launch.json")
    if st and isinstance(st.get("jobs"), dict):
        names = list(st["jobs"])
    for b in BRAINS:
        if b not in names and (run_dir / b / "status.json").is_file():
            names.append(b)
    if run_dir.is_dir():
        for p in sorted(run_dir.iterdir()):
            if p.is_dir() and p.name not in names and (p / "status.json").is_file():
                names.append(p.name)
    return names


@dataclass
class BrainState:
    brain: str
    status: dict  # status.json as written (empty if missing)
    age_s: float | None  # seconds since status.json's time (UTC)
    stalled: bool
    warning: str


def age_seconds(status: dict, now: datetime | None = None) -> float | None:
    t = status.get("time")
    if not isinstance(t, str):
        return None
    try:
        then = parse_utc_iso(t)
    except ValueError:
        try:  # tolerate fractional seconds / +00:00
            then = datetime.fromisoformat(t.replace("Z", "+00:00")).astimezone(timezone.utc)
        except ValueError:
            return None
    now = now or datetime.now(timezone.utc)
    return (now - then).total_seconds()


def check_brain(
    brain: str,
    status: dict,
    *,
    now: datetime | None = None,
    stall_after_s: float = DEFAULT_STALL_S,
    check_pid: bool = True,
) -> BrainState:
    """Classify one brain's status: stalled (no update for ``stall_after_s``) or process gone."""
    age = age_seconds(status, now)
    stalled = False
    warning = ""
    if status.get("status") == "training":
        if age is not None and age > stall_after_s:
            stalled = True
            warning = f"no update for {human_duration(age)} (threshold {human_duration(stall_after_s)}): stalled?"
        pid = status.get("pid")
        if check_pid and isinstance(pid, int) and not pid_alive(pid):
            stalled = True
            warning = (warning + "; " if warning else "") + f"training process {pid} is gone"
    return BrainState(brain, status, age, stalled, warning)


def read_run(
    run_dir: Path, *, now: datetime | None = None, stall_after_s: float = DEFAULT_STALL_S
) -> list[BrainState]:
    out = []
    for b in brain_names(run_dir):
        st = read_json(run_dir / b / "status.json") or {}
        out.append(check_brain(b, st, now=now, stall_after_s=stall_after_s))
    return out


def human_duration(s: float | int | None) -> str:
    if s is None:
        return "-"
    s = int(round(float(s)))
    if s < 0:
        return "-"
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _num(v, fmt: str) -> str:
    if isinstance(v, bool) or v is None:
        return "-"
    if isinstance(v, (int, float)):
        return format(v, fmt)
    return str(v)


def _frac(a, b) -> str:
    if a is None and b is None:
        return "-"
    return f"{a if a is not None else '-'}/{b if b is not None else '?'}"


def _gate(v) -> str:
    """`helix train`'s last_gate ({epoch, passed, requests: "2/3", ...}) in a few characters."""
    if v is None:
        return "-"
    if isinstance(v, dict):
        parts = []
        if v.get("epoch") is not None:
            parts.append(f"ep{v['epoch']}")
        if v.get("passed") is not None:
            parts.append("PASS" if v["passed"] else "FAIL")
        if v.get("requests") is not None:
            parts.append(str(v["requests"]))
        return " ".join(parts) or "-"
    return str(v)


STATUS_STYLE = {
    "training": "bold cyan",
    "completed": "bold green",
    "quality_failed": "bold yellow",
    "failed": "bold red",
    "aborted": "red",
    "staged": "magenta",
    "queued": "dim",
}


def status_table(run_dir: Path, states: list[BrainState]) -> Table:
    """One row per brain in seven short columns, so that it fits an 80-column terminal; the
    gate, memory, projection and verdict follow as lines under the table (``brain_notes``)."""
    t = Table(expand=False, padding=(0, 1), box=None, pad_edge=False, header_style="bold underline")
    for col, just in (
        ("brain", "left"), ("status", "left"), ("epoch", "right"), ("step", "right"),
        ("loss", "right"), ("val EM", "right"), ("tok/s", "right"), ("ETA", "right"),
    ):  # fmt: skip
        t.add_column(col, justify=just, no_wrap=True)
    for s in states:
        st = s.status
        status = st.get("status") or "missing"
        if s.stalled:
            status_txt = Text(f"{status}?", style="bold red")
        else:
            status_txt = Text(status, style=STATUS_STYLE.get(status, ""))
        em = st.get("val_exact_match")
        loss = st.get("val_loss") if st.get("val_loss") is not None else st.get("train_loss")
        t.add_row(
            s.brain,
            status_txt,
            _frac(st.get("epoch"), st.get("total_epochs")),
            _frac(st.get("step"), st.get("total_steps")),
            _num(loss, ".3f"),
            f"{em * 100:.1f}%" if isinstance(em, (int, float)) and not isinstance(em, bool) else "-",
            _num(st.get("tokens_per_s"), ",.0f"),
            human_duration(st.get("eta_s")) if st.get("status") == "training" else "-",
        )
    return t


def brain_notes(s: BrainState) -> list[tuple[str, str]]:
    """(text, style) lines about one brain: updated, gate, memory, projection, verdict."""
    st = s.status
    out = []
    bits = []
    if s.age_s is not None:
        bits.append(f"updated {human_duration(s.age_s)} ago")
    if st.get("last_gate"):
        bits.append(f"gate {_gate(st.get('last_gate'))}")
    if st.get("gpu_mem_bytes"):
        bits.append(f"GPU memory {fmt_bytes(st.get('gpu_mem_bytes'))}")
    prec = st.get("precision")
    if isinstance(prec, dict) and prec.get("autocast"):
        bits.append(f"{'bf16' if prec['autocast'] == 'bf16' else 'fp32'} {prec.get('attention')} NS-{prec.get('muon_ns')}")
    if bits:
        out.append((f"{s.brain}: " + "; ".join(bits), "dim"))
    target, em = st.get("target"), st.get("val_exact_match")
    if st.get("status") == "training" and isinstance(target, (int, float)) and target > 0:
        frac = max(0.0, min(1.0, em / target)) if isinstance(em, (int, float)) and not isinstance(em, bool) else 0.0
        bar = "#" * round(12 * frac) + "-" * (12 - round(12 * frac))
        out.append((f"{s.brain}: to target [{bar}] {'-' if em is None else f'{em * 100:.1f}%'} of "
                    f"{target * 100:.0f}%, {st.get('phase') or '-'}, ETA {human_duration(st.get('eta_s'))}", "cyan"))
    if st.get("stop_reason") and st.get("status") != "training":
        out.append((f"{s.brain}: stopped at its {st['stop_reason']}", "dim"))
    proj = st.get("projection")
    if isinstance(proj, dict) and proj.get("line"):
        out.append((f"{s.brain}: {proj['line']}", "bold yellow" if proj.get("short") else "dim"))
    verdict = st.get("verdict")
    if isinstance(verdict, dict) and verdict.get("line"):
        out.append((f"{s.brain}: {verdict['line']}", "bold green" if verdict.get("met") else "bold red"))
    return out


def render_status(run_dir: Path, *, stall_after_s: float = DEFAULT_STALL_S, now: datetime | None = None) -> Group:
    states = read_run(run_dir, now=now, stall_after_s=stall_after_s)
    parts: list = [Text(f"helix run {run_dir}", style="bold"), status_table(run_dir, states)]
    for s in states:
        for line, style in brain_notes(s):
            parts.append(Text(line, style=style))
        if s.warning:
            parts.append(Text(f"WARNING {s.brain}: {s.warning}", style="bold red"))
        msg = s.status.get("message")
        if msg and s.status.get("status") in ("staged", "failed", "quality_failed", "queued", "aborted"):
            parts.append(Text(f"{s.brain}: {msg}", style="dim"))
    launch = read_json(run_dir / "launch.json")
    if launch:
        pid = None
        try:
            pid = int((run_dir / "launcher.pid").read_text().strip())
        except (OSError, ValueError):
            pass
        phase = launch.get("phase", "?")
        alive = pid is not None and pid_alive(pid)
        parts.append(
            Text(
                f"launcher: {'running (pid %d)' % pid if alive else 'not running'}, phase {phase}, "
                f"mode {launch.get('mode')}, device {launch.get('device_kind')}",
                style="dim",
            )
        )
        if not alive and phase == "training" and any(
            j.get("state") not in ("completed", "quality_failed", "failed", "aborted")
            for j in (launch.get("jobs") or {}).values()
        ):
            parts.append(Text(f"the launcher is gone: continue with `helix launch --resume {run_dir}`", style="yellow"))
    return Group(*parts)


def watch(run_dir: Path, *, interval: float = 2.0, stall_after_s: float = DEFAULT_STALL_S, console: Console | None = None) -> None:
    from rich.live import Live

    console = console or Console()
    with Live(render_status(run_dir, stall_after_s=stall_after_s), console=console, refresh_per_second=4) as live:
        while True:
            time.sleep(interval)
            live.update(render_status(run_dir, stall_after_s=stall_after_s))


# ----------------------------------------------------------------------------- logs


def log_path(run_dir: Path, brain: str) -> Path:
    """The brain's training log (written by `helix train`), else its console capture."""
    for p in (run_dir / brain / f"{brain}_training.log", run_dir / f"{brain}_training.log",
              run_dir / brain / f"{brain}_console.log"):  # fmt: skip
        if p.is_file():
            return p
    raise FileNotFoundError(f"no log for brain {brain!r} in {run_dir} (has it started?)")


def tail_lines(path: Path, n: int = 40) -> list[str]:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        block = 8192
        data = b""
        pos = size
        while pos > 0 and data.count(b"\n") <= n:
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[-n:] if n > 0 else []


def follow(path: Path, out: TextIO, *, interval: float = 0.5, stop: Callable[[], bool] | None = None) -> None:
    """Print lines appended to ``path`` until ``stop()`` (or Ctrl-C)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        buf = b""
        while not (stop and stop()):
            chunk = f.read()
            if chunk:
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for ln in lines:
                    out.write(ln.decode("utf-8", "replace") + "\n")
                out.flush()
            else:
                time.sleep(interval)


def iter_metrics(run_dir: Path, brain: str) -> Iterator[dict]:
    path = run_dir / brain / "metrics.jsonl"
    if not path.is_file():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a half-written last line while training runs
            if isinstance(rec, dict):
                yield rec
