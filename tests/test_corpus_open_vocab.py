"""The open vocabulary: open slots, their generators, the novel split and its guarantee."""

from __future__ import annotations

import json
import random
import re

import pytest

from helix.corpus import build_corpus, verify_corpus
from helix.corpus import families as F
from helix.corpus import openwords as OW
from helix.corpus import splits as SP
from helix.corpus.english import describe, parse_english_all
from helix.corpus.grammar import _NO, Open, freeze
from helix.hlx import decode

OPEN_SLOTS = {"data": F.D, "terms": F.TERM, "files": F.FILE, "stores": F.STORE_OR_FILE,
              "globs": F.GLOB, "paths": F.PATH, "words": F.WORD, "variables": F.VAR,
              "function_names": F.FNAME, "handle_nouns": F.HANDLE_NOUNS}


def test_the_word_pool_is_real_words_outside_the_closed_grammar():
    pool = OW.word_pool()
    assert len(pool) > 5000 and len(set(pool)) == len(pool)
    assert all(re.fullmatch(r"[a-z]{3,10}", w) for w in pool)
    assert not set(pool) & SP.closed_words()
    assert {"users", "navigate", "the", "seven"} <= SP.closed_words()  # lexicon, template, number words


@pytest.mark.parametrize("name", sorted(OPEN_SLOTS))
def test_every_open_draw_reads_back_as_itself(name):
    kind = OPEN_SLOTS[name]
    assert isinstance(kind, Open)
    rng = random.Random(name)
    opened = 0
    for _ in range(300):
        sem = kind.sample(rng)
        assert kind.accepts(sem)
        surface = kind.render(sem, None)
        assert freeze(kind.parse(surface)) == freeze(sem), (name, surface, sem)
        opened += not kind.base.accepts(sem)
    assert 90 < opened < 210  # about half the draws are open


def test_a_lexicon_surface_keeps_its_meaning():
    assert F.D.parse("destination") == "&h_dest"  # not &h_destination
    assert not F.D.accepts("&h_destination")  # its surface would read as &h_dest
    assert F.D.parse("retryCount") == "&h_retryCount" and F.D.parse("max_depth2") == "&h_max_depth2"
    assert F.D.parse("Speaker") is _NO and F.D.parse("two words") is _NO  # one lower-case name


@pytest.mark.parametrize("english, value", [
    ("Navigate to /opt/app/config", {1000: {"@0": "navigate", "@1": "/opt/app/config"}}),
    ('Text "good morning 7"', "good morning 7"),
    ("Copy the speaker", {1000: {"@0": "copy", "@1": "&h_speaker"}}),
    ("Find files_*.toml", {1000: {"@0": "find", "@1": "files_*.toml"}}),
    ("Open quarterly_report.pdf", {1000: {"@0": "read", "@1": "quarterly_report.pdf"}}),
    ("Count the retryCount", {1000: {"@0": "count", "@1": "&h_retryCount"}}),
    ("Search invoices for hydrogen", {1000: {"@0": "search", "@1": "&h_invoices", "@2": "hydrogen"}}),
])
def test_words_no_lexicon_lists_have_one_reading(english, value):
    readings = parse_english_all(english)
    assert [freeze(v) for _, v in readings] == [freeze(value)], readings
    again = parse_english_all(describe(value))
    assert [freeze(v) for _, v in again] == [freeze(value)]


def test_words_of_splits_identifiers_and_paths():
    assert SP.words_of("retryCount") == ["retry", "count"]
    assert SP.words_of("/srv/max_depth2") == ["srv", "max", "depth"]
    assert SP.words_of("&h_HTTPServer") == ["h", "http", "server"]


def test_a_value_naming_a_held_out_word_goes_to_novel():
    seed = 1234
    rng = random.Random(5)
    novel = next(w for w in (OW.made_up_word(rng) for _ in range(1000)) if SP.novel_word(w, seed))
    kept = next(w for w in (OW.made_up_word(rng) for _ in range(1000))
                if not SP.novel_word(w, seed) and w not in SP.closed_words())
    assert SP.split_for_value({1000: {"@0": "copy", "@1": f"&h_{novel}"}}, "k", seed) == "novel"
    assert SP.split_for_value(f"{kept} {novel}", "k", seed) == "novel"
    assert SP.split_for_value({1000: {"@0": "copy", "@1": f"&h_{kept}Data"}}, "k", seed) != "novel"
    assert not SP.novel_word("users", seed)  # closed words never are


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("open") / "c"
    build_corpus(out, seed=7, size=2000)
    return out


def _records(corpus, name):
    return [json.loads(line) for line in (corpus / f"{name}.jsonl").read_text().splitlines()]


def test_the_corpus_has_a_novel_split_and_keeps_its_words_out_of_train(corpus):
    assert verify_corpus(corpus) == []  # includes: no train value names a held-out word
    manifest = json.loads((corpus / "manifest.json").read_text())
    assert manifest["open_words"]["pool_sha256"] == OW.pool_fingerprint()
    train_words: set[str] = set()
    for name in ("canonical", "ascii", "runic"):
        recs = _records(corpus, name)
        novel = [r for r in recs if r["split"] == "novel"]
        assert len(novel) >= 40
        for r in novel:  # each names a held-out word, and every side carries it
            words = SP.novel_words(decode(r["value"], "hlx"), 7)
            assert words
            if r["tgt_fmt"] != "lc_b":
                assert any(w in SP.words_of(r["tgt"]) for w in words), r
        for r in recs:
            if r["split"] == "train" and r["value"]:
                train_words.update(w for s in SP._strings(decode(r["value"], "hlx"), [])
                                   for w in SP.words_of(s))
    open_train = train_words - SP.closed_words()
    assert len(open_train) > 1000  # far more distinct words than the lexicon's
    assert not any(SP.novel_word(w, 7) for w in open_train)


def test_tampering_a_held_out_word_into_train_is_caught(corpus, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(corpus, bad)
    recs = _records(bad, "runic")
    novel = next(r for r in recs if r["split"] == "novel" and r["category"] == "handle")
    victim = next(r for r in recs if r["split"] == "train")
    victim.update({k: novel[k] for k in ("category", "src_fmt", "src", "tgt_fmt", "tgt", "value")})
    (bad / "runic.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))
    problems = "\n".join(verify_corpus(bad))
    assert "words held out for novel" in problems


def test_open_share_zero_builds_the_closed_lexicon_corpus(tmp_path):
    m = build_corpus(tmp_path / "closed", seed=7, size=300, open_share=0)
    assert m["open_words"]["open_share"] == 0.0
    assert all("novel" not in m["counts"][c] for c in m["counts"])
    for name in ("canonical", "ascii", "runic"):
        assert not [r for r in _records(tmp_path / "closed", name) if r["split"] == "novel"]
    with pytest.raises(Exception, match="open share"):
        build_corpus(tmp_path / "bad", seed=7, size=300, open_share=1.5)
