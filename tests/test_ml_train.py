"""Training, gates, checkpoints, resume, abort rules and evaluation (CPU, tiny shapes)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helix.ml import checkpoint as ckpt
from helix.ml.config import TrainConfig
from helix.ml.evaluate import evaluate
from helix.ml.gates import GATE_REQUESTS, run_gate
from helix.ml.generate import Brain
from helix.ml.synthetic import make_records
from helix.ml.train import train
from helix.util import atomic_write_text

#: "Store number 42" is the integer-literal contract {14: {@0: 42}} in every form (the seed's gates)
STORE_42_LC_B = next(want for _, src, fmt, want in GATE_REQUESTS["ascii"] if src == "Store number 42" and fmt == "lc_b")
SMALL = dict(d_model=128, n_heads=4, n_layers=2, d_ff=256)
STATUS_FIELDS = {"time", "brain", "preset", "epoch", "total_epochs", "step", "total_steps", "train_loss",
                 "val_loss", "val_exact_match", "tokens_per_s", "mfu", "eta_s", "gpu_mem_bytes", "status",
                 "last_gate", "message", "pid"}


def write_corpus(d: Path, brain: str = "ascii", n: int = 24, train_copies: int = 4, seed: int = 0) -> Path:
    """A small corpus whose val/test splits repeat the train records (for memorisation)."""
    rows = []
    for r in make_records(brain, n, seed=seed):
        for sp in ("train",) * train_copies + ("val", "test"):
            rows.append({**r, "split": sp})
    name = {"ascii": "ascii.jsonl", "runic": "runic.jsonl", "coordinator": "canonical.jsonl"}[brain]
    d.mkdir(parents=True, exist_ok=True)
    atomic_write_text(d / name, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return d


def cfg_for(corpus: Path, out: Path, **kw) -> TrainConfig:
    base = dict(brain="ascii", corpus=str(corpus), preset="specialist-tiny", out=str(out), epochs=3,
                batch_size=8, lr=3e-3, warmup=0.05, gate_epochs=(), model_overrides=SMALL, num_threads=1,
                plateau_patience=0, log_every=1, eval_sample=24, progress="off", gate_floor=0.0)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def overfit(tmp_path_factory):
    root = tmp_path_factory.mktemp("overfit")
    corpus = write_corpus(root / "corpus")
    out = root / "run"
    summary = train(cfg_for(corpus, out, epochs=45, log_every=20, gate_epochs=(1, 45)))
    return corpus, out, summary


def test_overfits_a_small_corpus_to_full_exact_match(overfit):
    corpus, out, summary = overfit
    assert summary["status"] == "completed"
    assert summary["best_val_exact_match"] == 1.0
    rep = evaluate(out / "checkpoints" / "best", corpus=corpus, split="test")
    assert rep["n"] == 24 and rep["overall"]["exact_match"] == 1.0
    assert set(rep["formats"]) == {"lc_t", "lc_b"}
    assert all(f["exact_match"] == 1.0 and f["finished"] == 1.0 for f in rep["formats"].values())


def test_run_files_status_metrics_tensorboard_and_checkpoint_layout(overfit):
    corpus, out, summary = overfit
    status = json.loads((out / "status.json").read_text())
    assert STATUS_FIELDS <= set(status)
    assert status["status"] == "completed" and status["epoch"] == 45 and status["step"] == status["total_steps"]
    assert status["time"].endswith("Z") and status["mfu"] is None and status["last_gate"]["passed"] is True
    metrics = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    epochs = [m for m in metrics if m["kind"] == "epoch"]
    assert [m["epoch"] for m in epochs] == list(range(1, 46))
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"] / 10
    log = (out / "ascii_training.log").read_text()
    assert "gate epoch 45: PASSED" in log and "gate epoch 1: FAILED" in log
    assert list((out / "tb").glob("events.out.tfevents.*"))
    cks = out / "checkpoints"
    assert sorted(p.name for p in cks.iterdir()) == ["best", "epoch_0043", "epoch_0044", "epoch_0045", "last"]
    for name in ("best", "last", "epoch_0045"):
        files = {p.name for p in (cks / name).iterdir()}
        assert {"config.json", "model.safetensors", "tokenizer.json", "meta.json"} <= files
        meta = json.loads((cks / name / "meta.json").read_text())
        assert meta["sha256"]["model.safetensors"] == ckpt.sha256_file(cks / name / "model.safetensors")
    assert "train_state.pt" in {p.name for p in (cks / "last").iterdir()}
    assert "train_state.pt" not in {p.name for p in (cks / "best").iterdir()}
    meta = json.loads((cks / "last" / "meta.json").read_text())
    assert meta["epoch"] == 45 and meta["gate"]["passed"] and math.isfinite(meta["val_loss"])
    st = ckpt.load_train_state(cks / "last")  # weights_only=True load
    assert st["state"]["step"] == status["step"] and "optimizer" in st


def test_gates_pass_on_a_good_model_and_fail_on_a_broken_one(overfit):
    corpus, out, _ = overfit
    brain = Brain.load(out / "checkpoints" / "best")
    sample = [r for r in make_records("ascii", 24)]
    good = run_gate(brain.model, brain.tokenizer, "ascii", 99, sample=sample, min_exact=0.9)
    assert good["passed"] and good["requests_passed"] == len(GATE_REQUESTS["ascii"])
    assert good["val_sample"]["exact_match"] == 1.0
    # deliberately broken: every block's attention output projection scrambled (rows permuted)
    with torch.no_grad():
        for block in brain.model.blocks:
            w = block.attn.proj.weight
            w.copy_(w[torch.randperm(w.size(0), generator=torch.Generator().manual_seed(0))])
    bad = run_gate(brain.model, brain.tokenizer, "ascii", 99, sample=sample, min_exact=0.9)
    assert not bad["passed"]
    assert bad["val_sample"]["exact_match"] < 0.9 or bad["requests_passed"] < bad["requests_total"]
    # a good model with a wrong expectation fails too: gates compare with the expected text
    wrong = [("english", "Represent true", "lc_t", "[FALSE]")]
    fresh = Brain.load(out / "checkpoints" / "best")
    r = run_gate(fresh.model, fresh.tokenizer, "ascii", 99, sample=[], min_exact=0.9, requests=wrong)
    assert not r["passed"] and r["requests"][0]["got"] == "[TRUE]"


def test_brain_api_and_corrupted_checkpoint_is_detected(overfit, tmp_path):
    import shutil

    _, out, _ = overfit
    brain = Brain.load(out)  # a run folder resolves to its best checkpoint
    assert brain.brain == "ascii" and brain.config["preset"] == "specialist-tiny"
    [g] = brain.generate([("english", "Store number 42", "lc_b")])
    assert g.text == STORE_42_LC_B and g.finished and g.route is None and g.tokens[-1] == brain.tokenizer.eos_id
    bad = tmp_path / "bad"
    shutil.copytree(out / "checkpoints" / "best", bad)
    data = bytearray((bad / "model.safetensors").read_bytes())
    data[-5] ^= 0x01  # one bit in the weights
    (bad / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ckpt.CheckpointError, match="corrupted"):
        Brain.load(bad)
    (bad / "model.safetensors").unlink()
    with pytest.raises(ckpt.CheckpointError, match="missing"):
        Brain.load(bad)
    with pytest.raises(ckpt.CheckpointError, match="not found"):
        Brain.load(tmp_path / "nowhere")


def test_eval_cli_corpus_and_pairs(overfit, tmp_path):
    corpus, out, _ = overfit
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    report = tmp_path / "rep.json"
    p = subprocess.run([sys.executable, "-m", "helix", "eval", str(out / "checkpoints" / "best"), "--corpus",
                        str(corpus), "--split", "test", "--json", "--out", str(report)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["overall"]["exact_match"] == 1.0 and json.loads(report.read_text()) == rep
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"english": "Store number 42", "lc_b": STORE_42_LC_B}) + "\n"
                     + json.dumps({"english": "Represent true", "lc_b": "[0x0a]"}) + "\n")
    p = subprocess.run([sys.executable, "-m", "helix", "eval", str(out), "--pairs", str(pairs), "--to", "lc_b"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "lc_b" in p.stdout and "100.0%" in p.stdout
    p = subprocess.run([sys.executable, "-m", "helix", "eval", str(tmp_path), "--pairs", str(pairs), "--to", "lc_b"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 2 and "error:" in p.stderr


def _losses(out: Path) -> list[tuple[int, float]]:
    return [(m["step"], m["loss"]) for m in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
            if m["kind"] == "train"]


def test_fixed_seed_cpu_training_is_reproducible(tmp_path):
    corpus = write_corpus(tmp_path / "c", n=16, train_copies=2)
    a = train(cfg_for(corpus, tmp_path / "a", epochs=2, eval_sample=0))
    b = train(cfg_for(corpus, tmp_path / "b", epochs=2, eval_sample=0))
    la, lb = _losses(tmp_path / "a"), _losses(tmp_path / "b")
    assert len(la) == a["step"] == b["step"] and la == lb
    assert ckpt.sha256_file(tmp_path / "a/checkpoints/last/model.safetensors") == \
        ckpt.sha256_file(tmp_path / "b/checkpoints/last/model.safetensors")
    c = train(cfg_for(corpus, tmp_path / "c2", epochs=2, eval_sample=0, seed=99))
    assert _losses(tmp_path / "c2") != la and c["step"] == a["step"]


@pytest.mark.parametrize("optimizer", ["adamw", "muon"])
def test_kill_and_resume_gives_the_same_losses(tmp_path, optimizer):
    corpus = write_corpus(tmp_path / "c", n=16, train_copies=2)  # 32 train records: 4 steps/epoch
    opt = dict(optimizer=optimizer)
    full = train(cfg_for(corpus, tmp_path / "full", epochs=3, eval_sample=4, save_every_steps=3, **opt))
    steps = full["step"]
    assert steps == 12
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "helix", "train", "--brain", "ascii", "--corpus", str(corpus),
           "--preset", "specialist-tiny", "--out", str(killed)]
    # the same configuration through the CLI needs the model override: run it via a tiny driver
    driver = (
        "import sys, json; from helix.ml.config import TrainConfig; from helix.ml.train import train;"
        "train(TrainConfig.from_dict(json.loads(sys.argv[1])))"
    )
    kcfg = cfg_for(corpus, killed, epochs=3, eval_sample=4, save_every_steps=3, debug_kill_at_step=7, **opt)
    p = subprocess.run([sys.executable, "-c", driver, json.dumps(kcfg.to_dict())], capture_output=True,
                       text=True, timeout=180, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 137, p.stderr[-2000:]
    del cmd
    status = json.loads((killed / "status.json").read_text())
    assert status["status"] == "training"  # killed: nobody wrote a final status
    meta = json.loads((killed / "checkpoints/last/meta.json").read_text())
    assert meta["step"] == 6 and meta["batch_in_epoch"] == 2  # mid-epoch 2 (saved every 3 steps)
    resumed = train(cfg_for(corpus, killed, epochs=3, eval_sample=4, save_every_steps=3, resume=True, **opt))
    assert resumed["status"] == "completed" and resumed["step"] == steps
    assert _losses(killed) == _losses(tmp_path / "full")
    assert ckpt.sha256_file(killed / "checkpoints/last/model.safetensors") == \
        ckpt.sha256_file(tmp_path / "full/checkpoints/last/model.safetensors")
    assert "resumed from" in (killed / "ascii_training.log").read_text()


def test_nan_loss_aborts_and_status_stays_valid_json(tmp_path, monkeypatch):
    import helix.ml.train as T

    corpus = write_corpus(tmp_path / "c", n=16, train_copies=2)
    real = T.loss_fn
    calls = {"n": 0}

    def poisoned(logits, tgt, w):
        calls["n"] += 1
        out = real(logits, tgt, w)
        return out * float("nan") if calls["n"] == 6 else out

    monkeypatch.setattr(T, "loss_fn", poisoned)
    s = train(cfg_for(corpus, tmp_path / "run", epochs=3, eval_sample=0))
    assert s["status"] == "aborted" and "non-finite loss" in s["message"]
    text = (tmp_path / "run/status.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    status = json.loads(text)
    assert status["status"] == "aborted" and "non-finite" in status["message"]
    assert all(math.isfinite(m["loss"]) for m in map(json.loads, (tmp_path / "run/metrics.jsonl").read_text().splitlines())
               if m["kind"] == "train")


def test_divergence_and_failed_gate_policy_stop(tmp_path, monkeypatch):
    import helix.ml.train as T

    corpus = write_corpus(tmp_path / "c", n=16, train_copies=8)
    # a failed gate stops the run once the gate is meant to pass
    s = train(cfg_for(corpus, tmp_path / "g", epochs=4, gate_epochs=(1, 2), gate_policy="stop",
                      gate_stop_from=2, eval_sample=4))
    assert s["status"] == "quality_failed" and "epoch 2" in s["message"] and s["epochs_done"] == 2
    st = json.loads((tmp_path / "g/status.json").read_text())
    assert st["status"] == "quality_failed" and st["last_gate"]["passed"] is False
    # warn policy: same gates, the run completes
    s = train(cfg_for(corpus, tmp_path / "w", epochs=2, gate_epochs=(1, 2), gate_policy="warn", eval_sample=4))
    assert s["status"] == "completed" and "failed" in s["message"]
    # divergence: the loss jumps far above its running minimum
    real = T.loss_fn
    calls = {"n": 0}

    def exploding(logits, tgt, w):
        calls["n"] += 1
        out = real(logits, tgt, w)
        return out * 50.0 if calls["n"] > 60 else out

    monkeypatch.setattr(T, "loss_fn", exploding)
    s = train(cfg_for(corpus, tmp_path / "d", epochs=10, eval_sample=0, lr=1e-3))
    assert s["status"] == "aborted" and s["message"].startswith("diverged")


def test_original_recipe_runs(tmp_path):
    corpus = write_corpus(tmp_path / "c", n=16, train_copies=1)
    cfg = cfg_for(corpus, tmp_path / "o", recipe="original", max_steps=3, eval_sample=2)
    s = train(cfg)
    assert s["status"] == "completed" and s["step"] == 3
    conf = json.loads((tmp_path / "o/checkpoints/last/config.json").read_text())["train"]
    assert conf["optimizer"] == "adam" and conf["lr"] == 1e-4 and conf["batch_size"] == 4
    assert conf["pad_to"] == 256 and conf["amp"] == "off" and conf["epochs"] == 100


def test_sigterm_stops_with_an_aborted_status(tmp_path):
    import signal
    import time

    corpus = write_corpus(tmp_path / "c", n=16, train_copies=8)
    cfg = cfg_for(corpus, tmp_path / "run", epochs=200, eval_sample=0)
    driver = ("import sys, json; from helix.ml.config import TrainConfig; from helix.ml.train import train;"
              "train(TrainConfig.from_dict(json.loads(sys.argv[1])))")
    p = subprocess.Popen([sys.executable, "-c", driver, json.dumps(cfg.to_dict())], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    status = tmp_path / "run/status.json"
    deadline = time.time() + 120
    while time.time() < deadline:
        if status.exists() and json.loads(status.read_text()).get("step", 0) > 0:
            break
        time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode != 0
    st = json.loads(status.read_text())
    assert st["status"] == "aborted" and "signal 15" in st["message"], (st, err[-500:])


def test_warm_start_from_a_checkpoint_and_shape_check(overfit, tmp_path):
    corpus, out, _ = overfit
    # a near-zero learning rate for one step: the run keeps the overfit model's answers
    warm = tmp_path / "warm"
    train(cfg_for(corpus, warm, max_steps=1, lr=1e-9, min_lr=1e-9, warmup=0,
                  init_from=str(out / "checkpoints" / "best")))
    assert evaluate(warm / "checkpoints" / "last", corpus=corpus, split="test")["overall"]["exact_match"] == 1.0
    assert "weights initialised from" in (warm / "ascii_training.log").read_text()
    cold = tmp_path / "cold"
    train(cfg_for(corpus, cold, max_steps=1, lr=1e-9, min_lr=1e-9, warmup=0))
    assert evaluate(cold / "checkpoints" / "last", corpus=corpus, split="test")["overall"]["exact_match"] == 0.0
    with pytest.raises(ValueError, match="another shape"):
        train(cfg_for(corpus, tmp_path / "bad", max_steps=1, init_from=str(out),
                      model_overrides={**SMALL, "d_ff": 128}))


def test_mix_all_trains_on_every_brains_records(tmp_path):
    corpus = tmp_path / "corpus"
    for b in ("coordinator", "ascii", "runic"):
        write_corpus(corpus, b, n=6, train_copies=1, seed={"coordinator": 1, "ascii": 2, "runic": 3}[b])
    counts = {f: sum(json.loads(x)["split"] == "train" for x in (corpus / f).read_text().splitlines())
              for f in ("canonical.jsonl", "ascii.jsonl", "runic.jsonl")}
    for mix, n in (("own", counts["canonical.jsonl"]), ("all", sum(counts.values()))):
        out = tmp_path / mix
        train(cfg_for(corpus, out, brain="coordinator", max_steps=1, mix=mix))
        assert f" train={n} " in (out / "coordinator_training.log").read_text()
    with pytest.raises(ValueError, match="corpus folder"):
        train(cfg_for(corpus / "ascii.jsonl", tmp_path / "file", max_steps=1, mix="all"))


def test_format_weights_repeat_the_records_of_a_target_format(tmp_path):
    from collections import Counter

    from helix.ml.config import default_train_config
    from helix.ml.data import load_records, weight_records

    corpus = write_corpus(tmp_path / "corpus", brain="coordinator", n=24, train_copies=1)
    recs = load_records(corpus, "coordinator", "train")
    before = Counter(r["tgt_fmt"] for r in recs)
    assert before["lc_b"] and len(before) > 2
    assert not any(r["src_fmt"] == "lc_b" for r in recs)
    heavy = weight_records(recs, {"lc_b": 3})
    assert Counter(r["tgt_fmt"] for r in heavy) == {**before, "lc_b": 3 * before["lc_b"]}
    # every other record appears once, in its order
    assert [r for r in heavy if r["tgt_fmt"] != "lc_b"] == [r for r in recs if r["tgt_fmt"] != "lc_b"]
    assert weight_records(recs, {}) == recs and weight_records(recs, {"lc_b": 1}) == recs
    # a record counts by the larger weight of its two formats: reading LC-B is weighted like writing it
    pairs = [("lc_b", "english"), ("english", "lc_b"), ("lc_b", "hlx"), ("hlxl", "lc_t"), ("hlx", "lc_r")]
    hand = [{"src_fmt": a, "tgt_fmt": b, "src": "s", "tgt": "t"} for a, b in pairs]
    assert [sum(x is r for x in weight_records(hand, {"lc_b": 3, "hlx": 2})) for r in hand] == [3, 3, 3, 1, 2]
    for bad, msg in (({"lc_x": 2}, "unknown format"), ({"lc_b": 0}, ">= 1"), ({"lc_b": 1.5}, ">= 1"),
                     ({"lc_b": True}, ">= 1")):
        with pytest.raises(ValueError, match=msg):
            weight_records(recs, bad)
    # the trainer trains on the weighted set, and the weights are part of the saved config
    out = tmp_path / "run"
    train(cfg_for(corpus, out, brain="coordinator", max_steps=1, format_weights={"lc_b": 3}))
    assert f" train={len(recs) + 2 * before['lc_b']} " in (out / "coordinator_training.log").read_text()
    saved = json.loads((out / "checkpoints" / "last" / "config.json").read_text())
    assert saved["train"]["format_weights"] == {"lc_b": 3}
    with pytest.raises(ValueError, match="unknown format"):
        train(cfg_for(corpus, tmp_path / "bad", brain="coordinator", max_steps=1, format_weights={"LC-B": 2}))
    # the CPU recipe weights LC-B for the two brains that write it; the runic and GPU recipes do not
    assert default_train_config("coordinator", "coordinator-tiny", "cpu").format_weights == {"lc_b": 2}
    assert default_train_config("ascii", "specialist-tiny", "cpu").format_weights == {"lc_b": 2}
    assert default_train_config("runic", "specialist-tiny", "cpu").format_weights == {}
    assert default_train_config("ascii", "specialist-50m", "cuda").format_weights == {}
