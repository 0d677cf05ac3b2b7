"""Shared helpers of the system tests (no tests here): scripted brains, a tiny trained run."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from helix.system.ask import System


class ScriptedBrain:
    """Stands in for helix.ml.generate.Brain: answers from a table, records its calls."""

    def __init__(self, name, answers, constrained=None, route=None):
        self.brain = name
        self.answers = answers
        self.constrained = constrained or {}
        self.route = route
        self.calls = []

    def generate(self, requests, *, max_new_tokens=256, constraint=None, **kw):
        from helix.ml.generate import Generation
        from helix.ml.tokenizer import route_for

        self.calls.append({"requests": list(requests), "constrained": constraint is not None,
                           "max_new_tokens": max_new_tokens})
        out = []
        for sf, src, tf in requests:
            route = (self.route or route_for(tf)) if self.brain == "coordinator" else None
            if max_new_tokens == 1:
                out.append(Generation("", route, [], False))
                continue
            table = self.constrained if constraint is not None and (src, tf) in self.constrained else self.answers
            text = table.get((src, tf), "???")
            if constraint is not None:  # what a constrained decoder guarantees when it finishes
                assert constraint(tf, text) == (True, True), text
            out.append(Generation(text, route, [], True))
        return out


#: "Store number 42" is the integer-literal contract {14: {@0: 42}} (the seed's gate request).
STORE_42_LCB = "[0x07010231340701024030012a0808]"


def scripted_system(**brains):
    defaults = {
        "coordinator": ScriptedBrain("coordinator", {("Represent true", "hlxl"): "true",
                                                     ("True", "english"): "Represent true"}),
        "ascii": ScriptedBrain("ascii", {("Represent true", "lc_t"): "[TRUE]",
                                         ("Store number 42", "lc_b"): STORE_42_LCB}),
        "runic": ScriptedBrain("runic", {("Represent true", "lc_r"): "⊤"}),
    }
    defaults.update(brains)
    return System(None, brains=defaults)




# ----------------------------------------------------------------------------- a tiny trained run

#: The tiny run the integration tests share: the real corpus builder (a small corpus), the real
#: `helix launch` supervising the real `helix train` of the three brains with the tiny presets,
#: a few optimizer steps each. Plumbing only: the answers are not expected to be right.
TINY_ARGS = ["--corpus-size", "200", "--max-steps", "6", "--batch-size", "8",
             "--preset", "tiny", "--device", "cpu", "--no-evaluate", "--poll", "0.2",
             "--train-arg=--eval-sample=0", "--train-arg=--log-every=2", "--train-arg=--keep-last=1"]


def _shared_base(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # every worker's basetemp sits in one session folder
        base = base.parent
    return base


def tiny_run(tmp_path_factory=None) -> Path:
    """Launch the tiny run once per test session (a file lock serializes xdist workers) and
    return its run directory. Raises with the launcher's output if the launch failed."""
    import fcntl
    import subprocess
    import sys

    base = _shared_base(tmp_path_factory) if tmp_path_factory is not None else Path(tempfile.mkdtemp())
    root = base / "helix-tiny-run"
    base.mkdir(parents=True, exist_ok=True)
    with open(base / "helix-tiny-run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / "RUN_DIR"
        if done.is_file():
            return Path(done.read_text().strip())
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        proc = subprocess.run(
            [sys.executable, "-m", "helix", "launch", "--runs-dir", str(root / "runs"), *TINY_ARGS],
            capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"},
        )
        (root / "launch.out").write_text(proc.stdout + proc.stderr)
        runs = sorted(p for p in (root / "runs").iterdir() if p.is_dir() and (p / "launch.json").is_file())
        if proc.returncode != 0 or not runs:
            raise RuntimeError(f"tiny launch failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        (root / "RUN_DIR").write_text(str(runs[-1]) + "\n")
        return runs[-1]
