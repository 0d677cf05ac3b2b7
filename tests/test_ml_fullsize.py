"""The seed's full-size brains on the CPU (issue 17): coordinator-100m and specialist-50m take real
optimizer steps with the GPU recipe's optimizer, checkpoint, load and resume exactly; KV-cache
generation equals uncached generation at full shape; a compiled tiny preset trains like eager; the
scheduler's memory estimate holds against the measured peak of a real step.

The shapes are the GPU presets; the CPU stands in for the device (fp32, SDPA, no compile), so a
GPU run starts from code that has taken these steps.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import test_ml_train
import torch

from helix.ml import checkpoint as ckpt
from helix.ml.config import PRESETS, TrainConfig, default_train_config, get_preset
from helix.ml.generate import generate_ids
from helix.ml.memory import estimate_train_memory
from helix.ml.model import GPT, KVCache
from helix.ml.tokenizer import Tokenizer
from helix.ml.train import train

pytestmark = pytest.mark.slow
FULL = {"coordinator-100m": "coordinator", "specialist-50m": "ascii"}
#: the CPU's settings for the GPU recipe: the same optimizer and schedule, fp32, no compile
CPU_STAND_IN = dict(device="cpu", compile=False, amp="off", attention="sdpa", muon_ns_dtype="fp32")
#: the measured peak RSS of a training step lies within 15% of the estimate (measured on machine B,
#: fp32, batch 2-4, length 128-256: 0.95-1.08 of it; the RSS holds what glibc keeps of freed blocks)
ESTIMATE_MARGIN = (0.85, 1.15)


def _full_cfg(preset: str, corpus: Path, out: Path, **kw) -> TrainConfig:
    """The default GPU recipe for a full preset, shrunk in data only: 16 records, batch 4."""
    gpu = default_train_config(FULL[preset], preset)
    assert gpu.compile and gpu.optimizer == "adamw"  # what a GPU runs; the CPU leaves compile out
    return dataclasses.replace(
        gpu, corpus=str(corpus), out=str(out), epochs=1, batch_size=4, eval_sample=0, gate_epochs=(),
        val_loss_limit=4, num_threads=1, log_every=1, progress="off", gate_floor=0.0, plateau_patience=0,
        keep_last=1, **CPU_STAND_IN, **kw)


@pytest.mark.parametrize("preset", list(FULL))
def test_full_preset_steps_checkpoints_and_resumes_to_the_same_loss(tmp_path, preset):
    corpus = test_ml_train.write_corpus(tmp_path / "c", brain=FULL[preset], n=8, train_copies=2)
    full = train(_full_cfg(preset, corpus, tmp_path / "full"))
    steps = full["step"]  # one epoch of 16 records in length buckets of at most 4
    assert full["status"] == "completed" and 4 <= steps <= 8, full
    losses = test_ml_train._losses(tmp_path / "full")
    assert len(losses) == steps and all(0 < x < 20 for _, x in losses)

    loaded = ckpt.load_checkpoint(tmp_path / "full/checkpoints/last")
    shape = get_preset(preset)
    mc = loaded["model_cfg"]
    assert (mc.d_model, mc.n_layers, mc.n_heads, mc.d_ff) == (shape.d_model, shape.n_layers, shape.n_heads, shape.d_ff)
    n = sum(t.numel() for t in loaded["state_dict"].values())
    assert n == mc.num_params() and n > (90e6 if preset == "coordinator-100m" else 45e6)
    torch.manual_seed(default_train_config(FULL[preset], preset).seed)  # the trainer's initial weights
    init = GPT(mc).state_dict()
    moved = [k for k, t in loaded["state_dict"].items() if not torch.equal(t, init[k])]
    assert set(moved) == set(init)  # every tensor took the optimizer's steps

    killed = tmp_path / "killed"
    driver = ("import sys, json; from helix.ml.config import TrainConfig; from helix.ml.train import train;"
              "train(TrainConfig.from_dict(json.loads(sys.argv[1])))")
    kcfg = _full_cfg(preset, corpus, killed, save_every_steps=2, debug_kill_at_step=3)  # saved at 2, killed at 3
    p = subprocess.run([sys.executable, "-c", driver, json.dumps(kcfg.to_dict())], capture_output=True, text=True,
                       timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 137, p.stderr[-2000:]
    assert json.loads((killed / "checkpoints/last/meta.json").read_text())["step"] == 2
    resumed = train(_full_cfg(preset, corpus, killed, resume=True))
    assert resumed["status"] == "completed" and resumed["step"] == steps
    assert test_ml_train._losses(killed) == losses  # the steps after the resume: the same losses
    assert ckpt.sha256_file(killed / "checkpoints/last/model.safetensors") == \
        ckpt.sha256_file(tmp_path / "full/checkpoints/last/model.safetensors")


@pytest.mark.parametrize("preset", list(FULL))
def test_kv_cache_generation_equals_uncached_at_full_shape(preset):
    tok = Tokenizer()
    torch.manual_seed(0)
    model = GPT(get_preset(preset)).eval()
    g = torch.Generator().manual_seed(1)
    lo, hi = tok.eos_id + 1, tok.vocab_size
    prompts = [torch.randint(lo, hi, (n,), generator=g).tolist() for n in (5, 11, 8)]
    with torch.no_grad():
        # logits, teacher-forced: one pass over the sequence against token-by-token with the cache
        seq = torch.tensor([prompts[1]])
        whole = model(seq)
        cache = KVCache(model.cfg, 1, seq.shape[1], "cpu", torch.float32)
        steps = [model(seq[:, :4], cache=cache)] + [model(seq[:, t : t + 1], cache=cache) for t in range(4, seq.shape[1])]
        torch.testing.assert_close(torch.cat(steps, 1), whole, rtol=1e-4, atol=1e-4)
        cached = generate_ids(model, tok, prompts, max_new_tokens=12, use_cache=True)
        plain = generate_ids(model, tok, prompts, max_new_tokens=12, use_cache=False)
    assert cached == plain
    assert all(len(ids) == 12 or fin for ids, fin in cached)


def test_compiled_tiny_preset_trains_like_eager(tmp_path):
    if not (shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")):
        pytest.skip("torch.compile on the CPU needs a C++ compiler (inductor's C++ backend); none is installed")
    corpus = test_ml_train.write_corpus(tmp_path / "c", n=16, train_copies=2)
    # fixed-length batches: one compiled graph (bucketed lengths would recompile per length)
    kw = dict(epochs=2, eval_sample=0, pad_to=64, bucket=False, attention="sdpa", amp="off", muon_ns_dtype="fp32")
    eager = train(test_ml_train.cfg_for(corpus, tmp_path / "eager", **kw))
    compiled = train(test_ml_train.cfg_for(corpus, tmp_path / "compiled", compile=True, **kw))
    assert compiled["status"] == eager["status"] == "completed" and compiled["step"] == eager["step"] == 8
    le, lc = test_ml_train._losses(tmp_path / "eager"), test_ml_train._losses(tmp_path / "compiled")
    assert [s for s, _ in le] == [s for s, _ in lc]
    assert lc[-1][1] < lc[0][1]
    for (_, a), (_, b) in zip(le, lc):
        assert b == pytest.approx(a, rel=2e-3, abs=2e-3)
    assert "compile=True" in (tmp_path / "compiled/ascii_training.log").read_text()


_PEAK_SCRIPT = r"""
import json, sys, torch
from helix.ml.config import get_preset
from helix.ml.model import GPT, loss_fn
from helix.ml.optim import build_optimizer
torch.set_num_threads(1)

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024

preset, batch, seq = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
x = torch.randint(5, 100, (batch, seq + 1))  # the process's own working set first
before = rss("VmRSS")
open("/proc/self/clear_refs", "w").write("5")  # reset VmHWM (the peak) to the current RSS
cfg = get_preset(preset)
model = GPT(cfg)
opt = build_optimizer(model, kind="adamw", lr=1e-4, weight_decay=0.1, betas=(0.9, 0.95))
for _ in range(2):  # the optimizer's moments exist from the first step: the second is the steady peak
    loss = loss_fn(model(x[:, :-1]), x[:, 1:], torch.ones(batch, seq)) / (batch * seq)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=False)
print(json.dumps({"peak": rss("VmHWM") - before}))
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc to read the peak RSS")
@pytest.mark.parametrize("preset", list(FULL))
def test_memory_estimate_holds_against_the_measured_peak_of_a_step(preset):
    batch, seq = 4, 256
    p = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, preset, str(batch), str(seq)], capture_output=True,
                       text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr[-2000:]
    peak = json.loads(p.stdout.strip().splitlines()[-1])["peak"]
    est = estimate_train_memory(PRESETS[preset], batch, seq, amp_bf16=False, optimizer="adamw")
    lo, hi = ESTIMATE_MARGIN
    # the scheduler packs jobs by the estimate: it must not be below what a step really takes,
    # and not so far above it that a job that fits is staged for nothing
    assert lo * est["total"] <= peak <= hi * est["total"], (peak, est)
