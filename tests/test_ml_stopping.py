"""Training to a target, not to a clock (helix.ml.stopping): a run stops at its target, at its
plateau (after the warmup-stable-decay schedule's decay) or at its cap, says which, resumes in the
phase it was in, and gives an ETA from its live curve."""

from __future__ import annotations

import json
import math

import pytest

from helix.ml import stopping
from helix.ml.config import TrainConfig, default_train_config
from helix.ml.train import train
from test_ml_train import cfg_for, write_corpus


def _metrics(out, kind=None):
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return [m for m in rows if kind is None or m["kind"] == kind]


def _wsd(corpus, out, **kw):
    base = dict(epochs=200, eval_sample=8, eval_every_steps=2, schedule="wsd", warmup=2, patience=2,
                min_delta=0.01, decay_frac=0.5, decay_min_steps=4, patience_grace_steps=0, stop_at_target=True,
                confirm_sample=24)
    base.update(kw)
    return cfg_for(corpus, out, **base)


# ------------------------------------------------------------------------------ the schedule
def test_wsd_holds_the_peak_until_the_decay_then_anneals_to_min_lr():
    cfg = TrainConfig(lr=1e-3, min_lr=1e-5, warmup=10, schedule="wsd", decay_frac=0.25, decay_min_steps=4)
    st = stopping.initial_state()
    assert stopping.wsd_lr(cfg, 0, st, None) == pytest.approx(1e-4)
    assert stopping.wsd_lr(cfg, 500, st, None) == 1e-3 and st["phase"] == "stable"  # no horizon: no decay
    assert stopping.start_decay(cfg, st, 800) == 200  # a quarter of the steps so far
    assert stopping.wsd_lr(cfg, 800, st, None) == pytest.approx(1e-3)
    assert stopping.wsd_lr(cfg, 900, st, None) == pytest.approx((1e-3 + 1e-5) / 2)
    assert stopping.wsd_lr(cfg, 1000, st, None) == pytest.approx(1e-5)
    assert not stopping.advance(st, 999) and stopping.advance(st, 1000) and st["phase"] == "annealed"
    assert stopping.wsd_lr(cfg, 5000, st, None) == pytest.approx(1e-5)


def test_wsd_with_a_step_cap_ends_annealed_at_the_cap():
    cfg = TrainConfig(lr=1e-3, min_lr=0.0, warmup=0, schedule="wsd", decay_frac=0.2, max_steps=100)
    st = stopping.initial_state()
    lrs = [stopping.wsd_lr(cfg, s, st, 100) for s in range(100)]
    assert lrs[79] == 1e-3 and st["decay_start"] == 80 and lrs[99] < 1e-4


def test_patience_and_min_delta_follow_lightnings_early_stopping():
    cfg = TrainConfig(schedule="wsd", patience=2, min_delta=0.05, decay_frac=0.5, decay_min_steps=1)
    st = stopping.initial_state()
    assert stopping.observe(cfg, st, 10, 0.50, 1.0) is None  # first value: the best
    assert stopping.observe(cfg, st, 20, 0.54, 2.0) is None and st["es_wait"] == 1  # +0.04 < min_delta
    assert stopping.observe(cfg, st, 30, 0.60, 3.0) is None and st["es_wait"] == 0  # +0.10 counts
    assert stopping.observe(cfg, st, 40, 0.61, 4.0) is None
    assert stopping.observe(cfg, st, 50, 0.62, 5.0) == "decay"  # first plateau: the decay starts
    assert st["phase"] == "decay" and st["decay_start"] == 50 and st["decay_steps"] == 25
    assert [stopping.observe(cfg, st, s, 0.6, 6.0) for s in (55, 60, 65)] == [None] * 3  # never mid-decay
    assert stopping.advance(st, 75)
    assert stopping.observe(cfg, st, 80, 0.62, 7.0) is None
    assert stopping.observe(cfg, st, 90, 0.62, 8.0) == "plateau"  # the plateau after the decay stops
    assert [p[0] for p in stopping.curve(st)] == [10, 20, 30, 40, 50, 55, 60, 65, 80, 90]


def test_eta_from_the_live_curve_falls_back_to_the_projection():
    st = stopping.initial_state()
    assert stopping.eta_to_target(st, 0.9, 2.0) is None  # no curve, no projection: unknown
    assert stopping.eta_to_target(st, 0.9, 2.0, steps_needed=1000, step=200) == pytest.approx(400)
    cfg = TrainConfig(patience=0)
    for step, em in ((100, 0.3), (200, 0.5), (300, 0.7)):
        stopping.observe(cfg, st, step, em, 0.0)
    # 0.2 per 100 steps: 0.2 to go is 100 steps, 50 s at 2 steps/s
    assert stopping.eta_to_target(st, 0.9, 2.0) == pytest.approx(50)
    stopping.observe(cfg, st, 400, 0.6, 0.0)
    stopping.observe(cfg, st, 500, 0.5, 0.0)  # falling: the projection again
    assert stopping.eta_to_target(st, 0.9, 2.0, steps_needed=900, step=500) == pytest.approx(200)
    stopping.observe(cfg, st, 600, 0.95, 0.0)
    assert stopping.eta_to_target(st, 0.9, 2.0) == 0.0
    flat = stopping.initial_state()  # a flattening curve: its gains shrink by half each interval
    for step, em in ((100, 0.5), (200, 0.7), (300, 0.8)):
        stopping.observe(cfg, flat, step, em, 0.0)
    assert stopping.eta_to_target(flat, 0.85, 2.0) == pytest.approx(50)  # +0.05 in the next interval
    assert stopping.eta_to_target(flat, 0.875, 2.0) == pytest.approx(100)  # +0.05, then +0.025
    # it would level off at 0.9: a target above that is the projection's (the decay closes it)
    assert stopping.eta_to_target(flat, 0.95, 2.0, steps_needed=1300, step=300) == pytest.approx(500)


def test_the_cpu_recipe_trains_to_its_target_not_to_a_clock():
    for brain in ("coordinator", "ascii", "runic"):
        cfg = default_train_config(brain, device="cpu")
        assert cfg.schedule == "wsd" and cfg.stop_at_target and cfg.patience > 0 and cfg.min_delta > 0
        assert cfg.time_budget_s is None and cfg.max_steps is None and cfg.epochs >= 100
        assert cfg.save_every_s and cfg.save_every_s <= 120  # at most a minute or two lost to a kill


# ------------------------------------------------------------------------------ real runs
def test_stop_at_target(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", n=24)
    out = tmp_path / "run"
    s = train(_wsd(corpus, out, gate_min_exact=0.0))
    assert s["stop_reason"] == "target" and s["time_to_target"]["steps"] == 2
    assert s["status"] == "completed" and "target reached" in s["message"]
    st = json.loads((out / "status.json").read_text())
    assert st["stop_reason"] == "target" and st["total_steps"] is None and st["target"] == 0.0


def test_a_target_it_cannot_reach_stops_on_its_plateau_below_target(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", n=24)
    out = tmp_path / "run"
    # nothing counts as progress (min_delta 2): plateau, decay, plateau again
    s = train(_wsd(corpus, out, gate_min_exact=1.01, min_delta=2.0, gate_floor=0.0))
    assert s["stop_reason"] == "plateau" and s["status"] == "completed" and "below target" in s["message"]
    log = (out / "ascii_training.log").read_text()
    assert "the learning rate decays over" in log and "has decayed" in log and "plateau: best val" in log
    lrs = [m["lr"] for m in _metrics(out, "train")]
    assert max(lrs) == pytest.approx(3e-3) and lrs[-1] < 1e-3  # it decayed before it stopped
    # no evaluation counts as a gain: the plateau after two (steps 2, 4) starts the decay over
    # max(4, 0.5 * 4) steps, to step 8; two evaluations after it (8, 10) stop the run a step later
    assert s["step"] == 11 and [p[0] for p in s["curve"]] == [2, 4, 6, 8, 10]


def test_stop_at_the_cap(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", n=24)
    out = tmp_path / "run"
    s = train(_wsd(corpus, out, gate_min_exact=1.01, time_cap_s=1e-6))
    assert s["stop_reason"] == "cap" and s["step"] == 1 and "cap of" in s["message"]


@pytest.mark.parametrize("kind", ["target", "plateau", "cap"])
def test_resume_after_each_kind_of_stop(tmp_path, kind):
    corpus = write_corpus(tmp_path / "corpus", n=24)
    out = tmp_path / "run"
    kw = {"target": dict(gate_min_exact=0.0), "plateau": dict(gate_min_exact=1.01, min_delta=2.0),
          "cap": dict(gate_min_exact=1.01, time_cap_s=1e-6)}[kind]
    first = train(_wsd(corpus, out, **kw))
    assert first["stop_reason"] == kind
    if kind == "cap":
        kw["time_cap_s"], kw["max_steps"] = None, first["step"] + 3  # a larger cap: it goes on
    again = train(_wsd(corpus, out, resume=True, **kw))
    steps = [m["step"] for m in _metrics(out, "train")]
    assert steps == sorted(set(steps))  # no step logged twice
    if kind == "cap":
        assert again["step"] == first["step"] + 3 and again["stop_reason"] == "steps"
    else:  # a run that stopped at its target or plateau has nothing left to train
        assert again["step"] == first["step"] and again["stop_reason"] == kind
        assert "nothing to resume" in (out / "ascii_training.log").read_text()


def test_a_kill_loses_at_most_the_time_since_the_last_save_and_resumes_in_its_phase(tmp_path):
    import subprocess
    import sys

    corpus = write_corpus(tmp_path / "corpus", n=24)
    out = tmp_path / "run"
    cfg = _wsd(corpus, out, gate_min_exact=1.01, min_delta=2.0, save_every_s=1e-6, debug_kill_at_step=7)
    code = ("import json, sys; from helix.ml.config import TrainConfig; from helix.ml.train import train; "
            "train(TrainConfig.from_dict(json.loads(sys.argv[1])))")
    r = subprocess.run([sys.executable, "-c", code, json.dumps(cfg.to_dict())], capture_output=True, text=True)
    assert r.returncode == 137, r.stderr[-2000:]
    from helix.ml import checkpoint as ckpt

    ts = ckpt.load_train_state(out / "checkpoints" / "last")
    assert ts["state"]["step"] == 6 and ts["state"]["phase"] == "decay"  # saved a step before the kill
    s = train(_wsd(corpus, out, gate_min_exact=1.01, min_delta=2.0, resume=True))
    fresh = train(_wsd(corpus, tmp_path / "fresh", gate_min_exact=1.01, min_delta=2.0))
    assert s["stop_reason"] == fresh["stop_reason"] == "plateau" and s["step"] == fresh["step"]
    assert [p[0] for p in s["curve"]] == [p[0] for p in fresh["curve"]]
    steps = [m["step"] for m in _metrics(out, "train")]
    assert steps == sorted(set(steps))
    assert all(math.isfinite(m["loss"]) for m in _metrics(out, "train"))
