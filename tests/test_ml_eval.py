"""Validity / semantic checks used by evaluation, and the pairs-file reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helix.ml import hlxcheck
from helix.ml.evaluate import pairs_to_records

PAIRS = Path(__file__).resolve().parents[1] / ".." / "shared" / "examples" / "corpus_pairs.jsonl"
needs_hlx = pytest.mark.skipif(not hlxcheck.available()[0], reason="helix.hlx not importable")


@needs_hlx
def test_semantic_match_and_validity():
    assert hlxcheck.is_valid("lc_r", "🜃1, 2🜄") and not hlxcheck.is_valid("lc_r", "🜃1, 2")
    assert hlxcheck.is_valid("lc_b", "[0x012a]") and not hlxcheck.is_valid("lc_b", "[0x01]")
    # same value, different text: semantic match without exact match
    assert hlxcheck.semantic_match("hlx", '{"b": 1, "a": 2}', '{"a": 2, "b": 1}') is True
    assert hlxcheck.semantic_match("hlx", '{"a": 2, "b": 3}', '{"a": 2, "b": 1}') is False
    assert hlxcheck.semantic_match("lc_t", "[INT(42)", "[INT(42)]") is False  # does not parse
    assert hlxcheck.is_valid("english", "anything") is None
    assert hlxcheck.semantic_match("english", "a", "a") is None
    ok, complete = hlxcheck.prefix_constraint("lc_r", "🜃1, ")
    assert ok and not complete
    assert hlxcheck.prefix_constraint("lc_r", "🜃1, 2🜄") == (True, True)


@needs_hlx
@pytest.mark.skipif(not PAIRS.exists(), reason="shared example pairs not present")
def test_shared_pairs_are_read_and_their_references_parse():
    for fmt in ("lc_r", "lc_t", "lc_b"):
        recs = pairs_to_records(PAIRS, fmt)
        assert len(recs) > 100 and all(r["src_fmt"] == "english" and r["tgt_fmt"] == fmt for r in recs)
        valid = sum(bool(hlxcheck.is_valid(fmt, r["tgt"])) for r in recs)
        assert valid / len(recs) > 0.95
        same = [hlxcheck.semantic_match(fmt, r["tgt"], r["tgt"]) for r in recs[:50]]
        assert all(s in (True, None) for s in same)


def test_pairs_reader_errors(tmp_path):
    p = tmp_path / "p.jsonl"
    p.write_text(json.dumps({"english": "x", "hlx": "1"}) + "\n")
    with pytest.raises(ValueError, match="no pair"):
        pairs_to_records(p, "lc_r")
    with pytest.raises(ValueError, match="unknown target format"):
        pairs_to_records(p, "yaml")
    assert pairs_to_records(p, "hlx")[0]["tgt"] == "1"


@needs_hlx
def test_grammar_constrained_generation_yields_valid_output():
    import torch

    from helix.ml.config import ModelConfig
    from helix.ml.generate import generate_requests
    from helix.ml.model import GPT
    from helix.ml.tokenizer import Tokenizer

    torch.manual_seed(0)
    model = GPT(ModelConfig(d_model=32, n_heads=4, n_layers=2, d_ff=64)).eval()
    reqs = [("english", "Represent true", "lc_r"), ("english", "Store number 42", "lc_t"),
            ("english", "Create array [1,2]", "hlx")]
    gens = generate_requests(model, Tokenizer(), "runic", reqs, max_new_tokens=40,
                             constraint=hlxcheck.prefix_constraint)
    import helix.hlx as h

    for (_, _, fmt), g in zip(reqs, gens):
        assert h.is_valid_prefix(g.text, fmt), (fmt, g.text)
        if g.finished:
            assert hlxcheck.is_valid(fmt, g.text), (fmt, g.text)


@needs_hlx
def test_brain_alone_is_greedy_and_unconstrained_and_scores_what_it_wrote(tmp_path):
    """``evaluate`` measures one brain as it writes: one unconstrained pass, no second try; an
    answer that does not parse is scored invalid (the system's candidates are ``eval --system``)."""
    from helix.ml.evaluate import evaluate
    from helix.ml.generate import Generation

    recs = [
        {"id": "a", "split": "test", "src_fmt": "english", "src": "Represent true", "tgt_fmt": "lc_r", "tgt": "⊤"},
        {"id": "b", "split": "test", "src_fmt": "english", "src": "Store number 42", "tgt_fmt": "lc_b", "tgt": "[0x012a]"},
        {"id": "c", "split": "test", "src_fmt": "english", "src": "Number 7", "tgt_fmt": "lc_t", "tgt": "[INT(7)]"},
        {"id": "d", "split": "test", "src_fmt": "hlx", "src": "true", "tgt_fmt": "english", "tgt": "Represent true"},
    ]
    (tmp_path / "runic.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    first = {"Represent true": ("⊤", True), "Store number 42": ("[0x012", True),  # does not parse
             "Number 7": ("[INT(7)", False), "true": ("Represent tru", True)}  # unfinished; English

    class FakeBrain:
        brain, path, batch_size = "runic", None, 64
        calls: list = []

        def generate(self, reqs, max_new_tokens=256, constraint=None):
            self.calls.append(([r[1] for r in reqs], constraint))
            return [Generation(first[s][0], None, finished=first[s][1]) for _, s, _ in reqs]

    fake = FakeBrain()
    rep = evaluate(None, corpus=tmp_path, brain=fake)
    assert fake.calls == [(["Represent true", "Store number 42", "Number 7", "true"], None)]
    assert rep["decoding"] == "greedy" and "retried" not in rep
    assert rep["overall"]["exact_match"] == 0.25
    assert rep["formats"]["lc_b"]["validity"] == 0.0 and rep["formats"]["lc_t"]["validity"] == 0.0
    assert rep["formats"]["lc_r"]["exact_match"] == 1.0 and rep["formats"]["english"]["validity"] is None
