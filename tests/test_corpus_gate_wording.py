"""The seed's gate requests, verbatim: one English request means one value in every form
("Store number N" is the integer-literal contract), arrays may be spelled with braces, and every
brain's gate request is in its corpus's train split with exactly the gate's expected text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helix.corpus import build_corpus
from helix.corpus import mixes as M
from helix.corpus import splits as SP
from helix.corpus.english import describe, parse_english_all
from helix.corpus.grammar import freeze
from helix.hlx import decode, encode
from helix.ml.gates import GATE_REQUESTS

from test_corpus_build import _records

SIZE = 3000
SEED = 5
BRACE_LIST = re.compile(r"\{[^{}\[\]]*\}(?!\.)")  # not the glob {a,b,c}.csv


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gate_wording") / "c"
    build_corpus(out, seed=SEED, size=SIZE)
    return out


def _english_texts(r: dict) -> list[str]:
    return [t for f, t in ((r["src_fmt"], r["src"]), (r["tgt_fmt"], r["tgt"])) if f == "english"]


def test_store_number_is_the_integer_literal_contract_everywhere(corpus):
    seen = 0
    for c in M.CORPORA:
        for r in _records(corpus, c):
            for text in _english_texts(r):
                m = re.fullmatch(r"Store number (\S+)", text)
                if m is None:
                    continue
                seen += 1
                v = decode(r["value"], "hlx")
                assert isinstance(v, dict) and list(v) == [14] and list(v[14]) == ["@0"], r
                assert type(v[14]["@0"]) is int, r
                [(fid, reading)] = parse_english_all(text)
                assert fid == "lit_int" and freeze(reading) == freeze(v), r
    assert seen > 0
    # the canonical English of the contract stays "Integer literal N"; 42 itself is "Number 42"
    assert describe({14: {"@0": 42}}) == "Integer literal 42"
    assert describe(42) == "Number 42"


def test_brace_spelled_arrays_read_as_the_bracket_spelling(corpus):
    braces = 0
    for c in M.CORPORA:
        for r in _records(corpus, c):
            if r["src_fmt"] == "english" and BRACE_LIST.search(r["src"]):
                braces += 1
                bracket = BRACE_LIST.sub(lambda m: "[" + m.group(0)[1:-1] + "]", r["src"])
                a, b = parse_english_all(r["src"]), parse_english_all(bracket)
                assert len(a) == 1 and len(b) == 1, r
                assert freeze(a[0][1]) == freeze(b[0][1]) == freeze(decode(r["value"], "hlx")), r
            if r["tgt_fmt"] == "english":  # English targets stay canonical: brackets only
                assert not BRACE_LIST.search(r["tgt"]), r
    assert braces >= 10
    assert parse_english_all("Create array {1,2}") == parse_english_all("Create array [1,2]")
    assert parse_english_all("Create array {1, 2}") == parse_english_all("Create array [1, 2]")
    assert describe([1, 2]) == "Create array [1, 2]"


@pytest.mark.parametrize("corpus_name", M.CORPORA)
def test_every_gate_request_is_in_train_with_its_expected_text(corpus, corpus_name):
    recs = _records(corpus, corpus_name)
    index: dict[tuple[str, str, str], set[tuple[str, str]]] = {}
    for r in recs:
        index.setdefault((r["src_fmt"], r["src"], r["tgt_fmt"]), set()).add((r["split"], r["tgt"]))
    for src_fmt, src, tgt_fmt, want in GATE_REQUESTS[M.BRAIN_OF[corpus_name]]:
        got = index.get((src_fmt, src, tgt_fmt))
        assert got == {("train", want)}, (src, tgt_fmt, got, want)


def test_the_seeds_gate_requests_verbatim():
    ascii_, runic = GATE_REQUESTS["ascii"], GATE_REQUESTS["runic"]
    contract = {14: {"@0": 42}}
    assert ("english", "Store number 42", "lc_b", encode(contract, "lc_b")) in ascii_
    assert ("english", "Create array [1,2]", "lc_t", "[ARR_START, INT(1), INT(2), ARR_END]") in ascii_
    assert ("english", "Represent true", "lc_t", "[TRUE]") in ascii_
    assert ("english", "Represent true", "lc_r", "⊤") in runic
    assert ("english", "Create array {1,2}", "lc_r", "🜃1, 2🜄") in runic
    assert ("english", "Store number 42", "lc_r", "🜊14🜁0 42🜂") in runic
    assert encode(contract, "lc_r") == "🜊14🜁0 42🜂"
    assert ("english", "Store number 42", "lc_b", encode(contract, "lc_b")) in GATE_REQUESTS["coordinator"]
    # one English request, one value: every gate request in the corpus's list reads as its value
    for english, value in SP.GATE_REQUESTS:
        [(_, reading)] = parse_english_all(english)
        assert freeze(reading) == freeze(value), english
    for reqs in GATE_REQUESTS.values():
        for src_fmt, src, tgt_fmt, want in reqs:
            if src_fmt == "english" and tgt_fmt in M.VALUE_FORMS:
                [(_, reading)] = parse_english_all(src)
                assert encode(reading, tgt_fmt) == want, (src, tgt_fmt)
