"""Teacher-forced exact match (issue 28): one forward pass finds, record by record, the exact match
greedy decoding gets, so the frequent in-training checks need no decoding."""

from __future__ import annotations

import json

import pytest
import test_ml_train

from helix.ml.gates import score_outputs
from helix.ml.generate import Brain, generate_requests, teacher_forced_exact
from helix.ml.synthetic import make_records
from helix.ml.train import train


def _decoded_exact(brain: Brain, recs: list[dict]) -> list[bool]:
    gens = generate_requests(brain.model, brain.tokenizer, brain.brain, [(r["src_fmt"], r["src"], r["tgt_fmt"]) for r in recs])
    return [bool(score_outputs(brain.brain, [r], [g])["exact_match"]) for r, g in zip(recs, gens)]


@pytest.fixture(scope="module", params=["ascii", "coordinator"])
def half_trained(request, tmp_path_factory):
    """A brain that gets some records right and some wrong: its training records memorised in part,
    records it never saw beside them."""
    root = tmp_path_factory.mktemp(f"tf-{request.param}")
    corpus = test_ml_train.write_corpus(root / "corpus", brain=request.param, n=24)
    train(test_ml_train.cfg_for(corpus, root / "run", brain=request.param, epochs=14, eval_sample=0,
                                log_every=50))
    seen = [r for r in map(json.loads, next((root / "corpus").glob("*.jsonl")).read_text().splitlines())
            if r["split"] == "val"]
    unseen = make_records(request.param, 40, seed=7)
    return Brain.load(root / "run/checkpoints/last"), seen + unseen


def test_teacher_forced_exact_equals_greedy_decoding_record_by_record(half_trained):
    brain, recs = half_trained
    decoded = _decoded_exact(brain, recs)
    forced = teacher_forced_exact(brain.model, brain.tokenizer, brain.brain, recs, batch_size=7)
    assert 0 < sum(decoded) < len(recs)  # both kinds of record: the comparison means something
    assert forced == decoded


def test_a_reference_the_brain_cannot_write_is_wrong(half_trained):
    brain, recs = half_trained
    r = dict(recs[0], tgt=recs[0]["tgt"] + "\u2603")  # a character no token spells
    assert teacher_forced_exact(brain.model, brain.tokenizer, brain.brain, [r]) == [False]
    assert teacher_forced_exact(brain.model, brain.tokenizer, brain.brain, []) == []


def test_the_trainer_checks_by_teacher_forcing(tmp_path):
    corpus = test_ml_train.write_corpus(tmp_path / "c", n=16, train_copies=2)
    s = train(test_ml_train.cfg_for(corpus, tmp_path / "run", epochs=4, eval_every_steps=4, val_check="teacher"))
    assert s["status"] == "completed"
    evals = [m for m in map(json.loads, (tmp_path / "run/metrics.jsonl").read_text().splitlines()) if m["kind"] == "eval"]
    assert len(evals) == 4 and all(0 <= e["val_exact_match"] <= 1 and e["val_validity"] is None for e in evals)
    with pytest.raises(ValueError, match="val_check"):
        train(test_ml_train.cfg_for(corpus, tmp_path / "bad", val_check="sampled"))
