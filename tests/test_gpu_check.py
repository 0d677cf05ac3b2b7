"""benchmarks/gpu_check.py (issue 17): its verdicts and table from figures, its refusal without a GPU,
and its deadline (a phase past its time is stopped and reported)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks/gpu_check.py")
gpu_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_check)


def _figures(mfu_c=0.47, mfu_s=0.41, exact=(0.995, 0.992, 0.999), wall=540.0) -> dict:
    bench = [{"loop": "helix", "preset": "coordinator-100m", "tokens_per_s": 4.1e5, "tflops": 460.0, "mfu": mfu_c},
             {"loop": "original", "preset": "coordinator-100m", "tokens_per_s": 2.2e4, "tflops": 25.0, "mfu": 0.025,
              "slowdown_vs_helix": 18.6},
             {"loop": "helix", "preset": "specialist-50m", "tokens_per_s": 7.0e5, "tflops": 400.0, "mfu": mfu_s}]
    brains = {b: {"preset": p, "raw_test_exact": e, "steps": 900, "train_s": 200.0}
              for (b, p), e in zip((("coordinator", "coordinator-100m"), ("ascii", "specialist-50m"),
                                    ("runic", "specialist-50m")), exact)}
    return {"device": {"name": "NVIDIA H100 80GB HBM3", "torch": "2.13.0"}, "bench_train": bench,
            "main_job": {"brains": brains, "train_wall_s": wall}, "wall_s": 500.0}


def test_every_target_met_and_the_table_shows_each():
    fig = _figures()
    fig["verdicts"] = gpu_check.verdicts(fig)
    assert [v["verdict"] for v in fig["verdicts"]] == ["met"] * 6
    fig["verdict"] = "every target met"
    t = gpu_check.table(fig)
    assert "MFU coordinator-100m" in t and "47.0%" in t and "18.6x slower" in t and "99.5%" in t
    assert "<= 600 s" in t and t.rstrip().endswith("verdict: every target met")


def test_a_missed_target_and_a_figure_never_measured_are_not_met():
    fig = _figures(mfu_s=0.35, exact=(0.995, None, 0.97), wall=700.0)
    fig["bench_train"] = fig["bench_train"][:2]  # the specialist's benchmark did not run
    v = {r["what"]: r["verdict"] for r in gpu_check.verdicts(fig)}
    assert v["MFU coordinator-100m"] == "met" and v["MFU specialist-50m"] == "not measured"
    assert v["ascii raw test exact"] == "not measured" and v["runic raw test exact"] == "missed"
    assert v["three trainings, wall"] == "missed" and v["coordinator raw test exact"] == "met"


def test_a_phase_past_its_time_is_stopped_and_said(tmp_path):
    clock = gpu_check.Clock(deadline_s=60, reserve_s=0)
    t = time.time()
    rec = gpu_check.run_phase("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], clock, cap_s=6,
                              log=tmp_path / "sleeper.log")
    assert rec["stopped"] and rec["rc"] != 0 and time.time() - t < 30
    rec = gpu_check.run_phase("late", [sys.executable, "-c", "pass"], gpu_check.Clock(deadline_s=1, reserve_s=0),
                              cap_s=60, log=tmp_path / "late.log")
    assert rec["rc"] is None and rec["note"] == "no time left"


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without a CUDA GPU")
def test_without_a_gpu_it_says_so_and_exits_2(tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks/gpu_check.py"), "--out", str(tmp_path / "g")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "no CUDA GPU" in p.stderr and "--device cpu" in p.stderr
    assert not (tmp_path / "g" / "gpu_check.json").exists()
