"""The lexical tokenizer: the forms' own units, exact round trips, persistence, run positions."""

from __future__ import annotations

import pytest
import torch

import helix.hlx as h
from helix.ml.model import GPT
from helix.ml.config import ModelConfig
from helix.ml.tokenizer import HEX_PAIRS, LCT_WORDS, Tokenizer, corpus_words

VALUES = [None, True, 42, -7, 3.5, "search", b"\x00\xff", [1, 2, "x"], {"host": "river", "score": 5},
          {1000: {"@0": "find", "@1": "docs/*.md"}}, {"@0": "&h_documents"}, [], {}]
FORMS = ("hlxl", "hlx", "lc_t", "lc_b", "lc_r")


def _tok():
    return Tokenizer.lexical(["find", "docs", "search", "host", "river", "score", "documents", "Represent"])


def _pieces(tok, text, fmt=None):
    ids, unk = tok.encode_text(text, fmt)
    assert unk == 0
    return [tok.tokens[i] for i in ids]


def test_every_form_of_every_value_round_trips_exactly():
    tok = _tok()
    for v in VALUES:
        for f in FORMS:
            text = h.encode(v, f)
            ids, unk = tok.encode_text(text, f)
            assert unk == 0 and tok.decode(ids) == text, (f, text)
            assert len(ids) <= len(text)


def test_units_are_the_forms_own():
    tok = _tok()
    lct = h.encode({"host": "river", "score": 5}, "lc_t")
    assert _pieces(tok, lct, "lc_t") == ["[", "OBJ_START", ", ", "KEY(", "host", ")", ", ", "TEXT(", '"', "river",
                                         '"', ")", ", ", "KEY(", "score", ")", ", ", "INT(", "5", ")", ", ",
                                         "OBJ_END", "]"]
    lcb = h.encode("search", "lc_b")  # [0x0306736561726368]
    assert _pieces(tok, lcb, "lc_b") == ["[0x", "03", "06", "73", "65", "61", "72", "63", "68", "]"]
    # digits stay one per token; an unknown word is spelled; the same text outside LC-B is no hex
    assert _pieces(tok, "Represent 1234 zork") == ["Represent", " ", "1", "2", "3", "4", " ", "z", "o", "r", "k"]
    assert _pieces(tok, "[0x0a]", "hlxl") == ["[", "0", "x", "0", "a", "]"]
    # a malformed LC-B text still encodes (character by character) and decodes to itself
    assert tok.decode(tok.encode_text("[0x0a", "lc_b")[0]) == "[0x0a"


def test_vocabulary_is_deduplicated_persisted_and_checked(tmp_path):
    tok = Tokenizer.lexical(["ab", "find", "find"])  # "ab" is also a hex pair
    assert tok.tokens.count("ab") == 1 and tok.tokens.count("find") == 1
    assert set(LCT_WORDS) <= set(tok.tokens) and set(HEX_PAIRS) <= set(tok.tokens)
    tok.save(tmp_path / "tokenizer.json")
    back = Tokenizer.load(tmp_path / "tokenizer.json")
    assert back == tok and back.kind == "lex"
    char = Tokenizer()
    char.save(tmp_path / "char.json")
    assert Tokenizer.load(tmp_path / "char.json") == char and char != tok
    with pytest.raises(ValueError, match="multi-character"):
        Tokenizer(char.tokens + ["ARR_START"], kind="char")
    with pytest.raises(ValueError, match="not a helix tokenizer"):
        Tokenizer.from_dict({"type": "bpe", "tokens": []})


def test_corpus_words_keeps_frequent_letter_runs_in_a_fixed_order():
    texts = ["find the docs", "find docs", "Find x9 docs", "a b"] * 5
    assert corpus_words(texts, min_count=5) == ["docs", "find", "Find", "the"]
    recs = [{"src_fmt": "english", "src": "find docs", "tgt_fmt": "lc_b", "tgt": "[0xdeadbeef]"}] * 20
    tok = Tokenizer.from_records(recs)
    assert "find" in tok.tokens and "deadbeef" not in tok.tokens


def test_open_words_are_spelled_in_characters_like_words_never_seen():
    """With ``keep`` (the corpus grammar's words), a frequent open word gets no token of its own, so
    a held-out word is encoded the way the training words were."""
    from helix.corpus.splits import closed_words

    recs = [{"src_fmt": "english", "src": "Copy the harbor and testData", "tgt_fmt": "hlxl",
             "tgt": "&h_harbor"}] * 30
    tok = Tokenizer.from_records(recs, keep=closed_words())
    assert {"Copy", "the", "testData"} <= set(tok.tokens) and "harbor" not in tok.tokens
    assert _pieces(tok, "Copy the quokka")[-7:] == list(" quokka")
    assert "harbor" in Tokenizer.from_records(recs).tokens  # without keep: any frequent run


def test_run_mask_follows_the_vocabulary_and_fits_the_model():
    tok = _tok()
    mask = tok.run_char_mask()
    ix = tok.text_ids
    assert mask[ix["search"]] and mask[ix["7"]] and mask[ix["ff"]] and mask[ix["ARR_START"]]
    assert not mask[ix[", "]] and not mask[ix["INT("]] and not mask[tok.eos_id]
    cfg = ModelConfig(vocab_size=tok.padded_vocab_size(), d_model=32, n_heads=2, n_layers=1, d_ff=64, run_pos=4)
    model = GPT(cfg, run_mask=mask)
    ids, _ = tok.encode_text(h.encode("search", "lc_b"), "lc_b")
    logits = model(torch.tensor([ids]))
    assert logits.shape == (1, len(ids), cfg.vocab_size)
    with pytest.raises(ValueError, match="run mask"):
        GPT(ModelConfig(vocab_size=128, d_model=32, n_heads=2, n_layers=1, d_ff=64, run_pos=4), run_mask=mask)


def _case_tok():
    return Tokenizer.lexical(["find", "docs", "search", "Search", "host", "river", "score", "scroll", "get"],
                             case=True)


def test_case_marker_folds_capitals_into_shared_pieces_and_round_trips():
    tok = _case_tok()
    assert "<cap>" in tok.tokens and "Search" not in tok.tokens and tok.tokens.count("search") == 1
    assert _pieces(tok, "Scroll the scroll") == ["<cap>", "scroll", " ", "t", "h", "e", " ", "scroll"]
    # a capital inside a word, an all-capitals word, a word never seen: marker + lower-case piece
    assert _pieces(tok, "retryCount")[5:] == ["<cap>", "c", "o", "u", "n", "t"]
    assert _pieces(tok, "Zork OK") == ["<cap>", "z", "o", "r", "k", " ", "<cap>", "o", "<cap>", "k"]
    # the forms' own units keep their case (LC-T words are upper case)
    assert _pieces(tok, "[TRUE, NULL]", "lc_t") == ["[", "TRUE", ", ", "NULL", "]"]
    for text in ("Get the Value of retryCount", "HTTP 2 Scroll", "Ab", "x<cap>y", "<cap>"):
        ids, unk = tok.encode_text(text)
        assert tok.decode(ids) == text, text
    for v in VALUES + ["Quiet Harbor", {"Host": "River"}, "&h_retryCount"]:
        for f in FORMS:
            text = h.encode(v, f)
            ids, unk = tok.encode_text(text, f)
            assert unk == 0 and tok.decode(ids) == text, (f, text)
    # extend is decode, one token at a time (what generation and its constraint see)
    ids, _ = tok.encode_text("Get retryCount Scroll")
    text, cap = "", False
    for i in ids:
        text, cap = tok.extend(text, cap, i)
    assert text == "Get retryCount Scroll" and not cap
    assert tok.decode(ids, strip_specials=False).startswith("<cap>get")


def test_case_tokenizer_is_its_own_type_and_old_files_load_unchanged(tmp_path):
    tok = _case_tok()
    tok.save(tmp_path / "tokenizer.json")
    back = Tokenizer.load(tmp_path / "tokenizer.json")
    assert back == tok and back.case and back.to_dict()["type"] == "helix-lexcase"
    plain = Tokenizer.lexical(["find"])
    assert not plain.case and plain.cap_id is None and plain.to_dict()["type"] == "helix-lex"
    with pytest.raises(ValueError, match="lacks the case marker"):
        Tokenizer.from_dict({"type": "helix-lexcase", "tokens": plain.tokens})
    with pytest.raises(ValueError, match="holds the case marker"):
        Tokenizer.from_dict({"type": "helix-lex", "tokens": tok.tokens})
    # corpus words counted in lower case: "Find" and "find" are one word
    recs = [{"src_fmt": "english", "src": "Find docs", "tgt_fmt": "hlxl", "tgt": "&h_docs"},
            {"src_fmt": "english", "src": "find docs", "tgt_fmt": "hlxl", "tgt": "&h_docs"}] * 10
    folded = Tokenizer.from_records(recs, case=True)
    assert "find" in folded.tokens and "Find" not in folded.tokens and folded.case
    assert "find" not in Tokenizer.from_records(recs).tokens  # 10 of each: below min_count apart
    assert folded.run_char_mask()[folded.cap_id]  # the marker belongs to the word it starts


def test_constrained_generation_with_the_case_marker_keeps_every_prefix_valid():
    """A model that always prefers <cap>, then "z", then a quote, under the grammar constraint: the
    marker is taken at most once before each piece, capitalises it, and every text stays a valid
    prefix of its form."""
    from types import SimpleNamespace

    from helix.ml.generate import generate_ids
    from helix.ml.hlxcheck import prefix_constraint

    tok = _case_tok()
    pref = torch.full((tok.padded_vocab_size(),), -5.0)
    for rank, t in enumerate(["<cap>", "z", '"', "]", "🜂"]):
        pref[tok.index[t]] = 10.0 - rank

    class Prefers(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.cfg = SimpleNamespace(vocab_size=len(pref), max_len=64)

        def forward(self, idx, **kw):
            return pref.expand(idx.size(0), 1, -1).clone()

    fmts = ["lc_r", "hlxl", "lc_t"]
    prompts = [tok.encode_prompt("english", "Text Zork", f)[0] for f in fmts]
    outs = generate_ids(Prefers(), tok, prompts, max_new_tokens=12, constraint=prefix_constraint,
                        tgt_fmts=fmts, use_cache=False, amp=False)
    for (ids, fin), f in zip(outs, fmts):
        text = tok.decode(ids)
        assert prefix_constraint(f, text)[0], (f, text)
        assert tok.cap_id in ids and any(c.isupper() for c in text), (f, text)
        assert all(not (a == b == tok.cap_id) for a, b in zip(ids, ids[1:]))  # never two in a row
    assert tok.decode(outs[0][0]).startswith('"Z')  # LC-R: a text, its capital from the marker
    assert tok.decode(outs[2][0]).startswith("[BYTES")  # LC-T: its words spelled with markers too
