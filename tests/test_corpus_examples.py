"""The public example pairs: every pair the language can express is a mapping the generator
could produce, except where the examples name no argument or contradict each other.

Reads ../shared/examples/corpus_pairs.jsonl (skips when it is absent); nothing of it is stored in
the project.
"""

from __future__ import annotations

import pytest

from pathlib import Path

from helix.corpus import build_corpus
from helix.corpus.examples import (classify, corpus_sentences, coverage_report, load_pairs,
                                   unmentioned)

# ../shared relative to the repository (this file is tests/test_corpus_examples.py)
PAIRS = Path(__file__).resolve().parents[1].parent / "shared" / "examples" / "corpus_pairs.jsonl"
pytestmark = pytest.mark.skipif(not PAIRS.is_file(), reason=f"{PAIRS} not present")


@pytest.fixture(scope="module")
def pairs():
    return load_pairs(PAIRS)


def test_every_expressible_pair_is_generated_or_explained(pairs):
    rows = classify(pairs)
    by = {}
    for r in rows:
        by.setdefault(r["status"], []).append(r)
    print({k: len(v) for k, v in sorted(by.items())})
    assert not by.get("uncovered"), by.get("uncovered")
    assert not by.get("inexpressible"), by.get("inexpressible")
    expressible = len(rows)
    generated = len(by.get("generated", []))
    print(f"generated {generated}/{expressible} = {generated / expressible:.1%}")
    assert generated / expressible >= 0.85
    # a contradiction needs a sibling pair the corpus does produce (one convention was chosen)
    assert len(by.get("contradiction", [])) <= 3


def test_unmentioned_detects_implicit_arguments():
    assert unmentioned("Search logs for error",
                       {1000: {"@0": "search", "@1": "&h_logs", "@2": "error"}}) == []
    assert unmentioned("Limit orders to twelve",
                       {1000: {"@0": "limit", "@1": "&h_orders", "@2": 12}}) == []
    assert unmentioned("A large number", -250) == ["-250"]
    assert unmentioned("Make a point", {"x": 1}) == ["key x", "1"]


def test_verbatim_share_is_reported(pairs, tmp_path):
    out = tmp_path / "c"
    build_corpus(out, seed=3, size=400)
    rep = coverage_report(pairs, out)
    sents = corpus_sentences(out)
    assert rep["verbatim"] == sum(1 for p in pairs if p["english"] in sents)
    assert 0 <= rep["verbatim_share"] <= 1
    print(f"verbatim in a size-400 corpus: {rep['verbatim']}/{rep['pairs']}")
