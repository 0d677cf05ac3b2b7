"""Learned routing: a coordinator trained briefly on a real corpus emits the right route tag
(its first output token) for >= 99% of the corpus's test split."""

from __future__ import annotations

import dataclasses
import json

from helix.corpus import build_corpus
from helix.ml.config import default_train_config
from helix.ml.generate import Brain
from helix.ml.train import train
from helix.system.router import expert_for


def test_route_tag_accuracy_on_the_test_split(tmp_path):
    corpus = tmp_path / "corpus"
    build_corpus(corpus, seed=7, size=3000)
    cfg = default_train_config("coordinator", "coordinator-tiny", "cpu")
    cfg = dataclasses.replace(
        cfg, corpus=str(corpus), out=str(tmp_path / "run"), max_steps=200, batch_size=32, lr=3e-3,
        warmup=10, gate_epochs=(), eval_sample=0, progress="off", plateau_patience=0, keep_last=1,
    )
    train(cfg)
    brain = Brain.load(tmp_path / "run")
    recs = [json.loads(line) for line in (corpus / "canonical.jsonl").read_text().splitlines()]
    test = [r for r in recs if r["split"] == "test"]
    assert len(test) >= 100
    assert {expert_for(r["tgt_fmt"]) for r in test} == {"coordinator", "ascii", "runic"}
    gens = brain.generate([(r["src_fmt"], r["src"], r["tgt_fmt"]) for r in test], max_new_tokens=1)
    right = sum(g.route == expert_for(r["tgt_fmt"]) for g, r in zip(gens, test))
    assert right / len(test) >= 0.99, f"route-tag accuracy {right}/{len(test)}"
