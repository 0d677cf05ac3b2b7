"""A brain stops at its target only once the whole validation split confirms it, and a CPU job
takes the cores the launcher hands it (``control.json``) while it trains."""

from __future__ import annotations

import json

import pytest
import torch

import helix.ml.train as train_mod
from helix.ml.train import _apply_thread_control, train
from test_ml_train import cfg_for, write_corpus


def _metrics(out, kind):
    return [m for m in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if m["kind"] == kind]


def test_the_target_is_confirmed_on_the_whole_validation_split_before_stopping(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", n=24)
    out = tmp_path / "run"
    s = train(cfg_for(corpus, out, epochs=4, eval_sample=8, eval_every_steps=2, stop_at_target=True,
                      gate_min_exact=0.0, confirm_sample=24))
    [c] = _metrics(out, "confirm")
    assert c["n"] == 24 and c["step"] == 2  # the first evaluation met the (zero) target: confirmed once
    assert s["step"] == 3 and s["message"].startswith("target reached")  # stops at the next step
    assert "confirm step 2" in (out / "ascii_training.log").read_text()


def test_a_lucky_sample_does_not_stop_the_run_when_the_split_disagrees(tmp_path, monkeypatch):
    real = train_mod.score_outputs

    def score(brain, recs, gens):  # the 8-record sample looks perfect, the whole split does not
        res = real(brain, recs, gens)
        return {**res, "exact_match": 1.0 if len(recs) <= 8 else 0.25}

    monkeypatch.setattr(train_mod, "score_outputs", score)
    corpus = write_corpus(tmp_path / "corpus", n=24)
    out = tmp_path / "run"
    s = train(cfg_for(corpus, out, epochs=2, max_steps=8, eval_sample=8, eval_every_steps=2,
                      stop_at_target=True, gate_min_exact=0.9, confirm_sample=24))
    confirms = _metrics(out, "confirm")
    assert len(confirms) >= 2 and all(c["val_exact_match"] == 0.25 for c in confirms)
    assert s["step"] == 8 and "target reached" not in s["message"]
    assert "below target, training goes on" in (out / "ascii_training.log").read_text()


class _Files:
    def __init__(self):
        self.lines, self.status = [], {}

    def log(self, s):
        self.lines.append(s)

    def set_status(self, **kw):
        self.status.update(kw)


@pytest.mark.parametrize("body, applied", [('{"threads": 2}', True), ('{"threads": 99}', False),
                                           ('{"threads": "x"}', False), ("{not json", False), (None, False)])
def test_thread_control_file(tmp_path, monkeypatch, body, applied):
    monkeypatch.setattr(train_mod.os, "cpu_count", lambda: 2)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if body is not None:
            (tmp_path / "control.json").write_text(body)
        f = _Files()
        _apply_thread_control(tmp_path, f)
        assert torch.get_num_threads() == (2 if applied else 1)
        assert bool(f.lines) == applied and (f.status.get("threads") == 2) == applied
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("margin, stops", [(0.02, True), (0.1, False)])
def test_the_stop_margin_is_added_to_the_target(tmp_path, monkeypatch, margin, stops):
    real = train_mod.score_outputs
    monkeypatch.setattr(train_mod, "score_outputs",
                        lambda brain, recs, gens: {**real(brain, recs, gens), "exact_match": 0.95})
    corpus = write_corpus(tmp_path / "corpus", n=24)
    out = tmp_path / "run"
    s = train(cfg_for(corpus, out, epochs=2, max_steps=6, eval_sample=8, eval_every_steps=2,
                      stop_at_target=True, gate_min_exact=0.9, stop_margin=margin, confirm_sample=24))
    assert (s["step"] == 3) == stops
    assert ("target reached: val exact match 0.950 >= 0.92 at step 3" in s["message"]) == stops
