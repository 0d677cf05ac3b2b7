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
