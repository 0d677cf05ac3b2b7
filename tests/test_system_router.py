"""The router: exact source-form detection, target phrases, expert rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helix.system.router import RouteError, expert_for, normalize_format, route, split_target

hlx = pytest.importorskip("helix.hlx")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
VALUE_FORMS = ("hlxl", "hlx", "lc_t", "lc_b", "lc_r")


def vectors():
    path = SHARED / "conformance" / "vectors.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def test_every_value_form_of_the_conformance_vectors_is_detected():
    seen = dict.fromkeys(VALUE_FORMS, 0)
    for v in vectors():
        for fmt in VALUE_FORMS:
            text = v.get(fmt)
            if not isinstance(text, str):
                continue
            r = route(text)
            assert r.src_fmt in VALUE_FORMS, (v["name"], fmt, text)
            # the detected form reads the same value
            assert hlx.values_equal(hlx.decode(text, r.src_fmt), hlx.decode(text, fmt)), (fmt, text)
            # wire forms have their own syntax: never taken for another form
            if fmt in ("lc_t", "lc_b") or (fmt == "lc_r" and text[0] in "∅⊤⊥⊠⟁🜊🜁🜂🜃🜄◇◆"):
                assert r.src_fmt == fmt, (v["name"], fmt, text, r.src_fmt)
            seen[fmt] += r.src_fmt == fmt
            assert r.direct and r.expert == "core"  # HLX -> HLX (the default target)
    assert all(seen.values()), seen


def test_program_forms_are_detected_and_converted_without_a_model():
    src = "let x = ls.collapse(42);\nreturn ls.resolve(x);"
    r = route(src)
    assert (r.src_fmt, r.tgt_fmt, r.expert, r.direct) == ("hlxl_ls", "hlx_ls", "core", True)
    back = hlx.convert(src, "hlxl_ls", "hlx_ls")
    r2 = route(back)
    assert (r2.src_fmt, r2.tgt_fmt) == ("hlx_ls", "hlxl_ls")


def test_english_is_english():
    for text in ("Represent true", "Create array [1,2]", "Store number 42", "Search documents for error",
                 "Integer literal 42"):
        r = route(text)
        assert r.src_fmt == "english" and r.tgt_fmt == "hlxl" and r.expert == "coordinator", text
        assert r.target_from == "default" and not r.direct


def test_english_of_the_real_corpus_pairs_is_english_and_never_loses_words():
    path = SHARED / "examples" / "corpus_pairs.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    n = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        p = json.loads(line)
        r = route(p["english"])
        assert r.src_fmt == "english", p["english"]
        assert r.text == p["english"].strip()  # no target phrase was cut out of a real sentence
        for fmt in VALUE_FORMS:
            if isinstance(p.get(fmt), str):
                assert route(p[fmt]).src_fmt in VALUE_FORMS
        n += 1
    assert n > 100


@pytest.mark.parametrize(
    "text,tgt,stripped",
    [
        ("Represent true in runic", "lc_r", "Represent true"),
        ("Represent true in LC-R", "lc_r", "Represent true"),
        ("Represent true as runes.", "lc_r", "Represent true"),
        ("Represent true as LC-T", "lc_t", "Represent true"),
        ("Create array [1,2] in lc_t", "lc_t", "Create array [1,2]"),
        ("Store number 42 in binary", "lc_b", "Store number 42"),
        ("Store number 42, as LC-B please", "lc_b", "Store number 42"),
        ("Store number 42 as HLX", "hlx", "Store number 42"),
        ("Store number 42 in HLXL", "hlxl", "Store number 42"),
        ("Store number 42 in the HLXL syntax", "hlxl", "Store number 42"),
        ("In runic: Represent true", "lc_r", "Represent true"),
        ("as HLX: Create array [1,2]", "hlx", "Create array [1,2]"),
        ("Represent true, written in the runic form", "lc_r", "Represent true"),
    ],
)
def test_target_phrases(text, tgt, stripped):
    r = route(text)
    assert (r.src_fmt, r.tgt_fmt, r.text, r.target_from) == ("english", tgt, stripped, "phrase")
    assert r.expert == expert_for(tgt)


def test_to_english_from_hlx():
    r = route("True to English")
    assert (r.src_fmt, r.tgt_fmt, r.text, r.expert) == ("hlx", "english", "True", "coordinator")
    r = route("⊤", to="english")
    assert (r.src_fmt, r.tgt_fmt, r.expert) == ("lc_r", "english", "coordinator")


def test_hlx_payload_with_a_phrase_is_converted_exactly():
    r = route("Convert [TRUE] to HLX")
    assert (r.src_fmt, r.tgt_fmt, r.direct, r.text) == ("lc_t", "hlx", True, "[TRUE]")
    assert hlx.convert(r.text, r.src_fmt, r.tgt_fmt) == "True"
    r = route("[ARR_START, INT(1), INT(2), ARR_END] in runic")
    assert (r.src_fmt, r.tgt_fmt, r.expert) == ("lc_t", "lc_r", "core")
    r = route("🜃1, 2🜄 as binary")
    assert (r.src_fmt, r.tgt_fmt, r.expert) == ("lc_r", "lc_b", "core")


def test_words_that_only_look_like_targets_stay():
    for text in ("Assign Alice to name", "Write data to the binary file", "Copy the text to output",
                 "Convert celsius to fahrenheit"):
        assert split_target(text) == (text, None, None), text
        assert route(text).tgt_fmt == "hlxl"


def test_to_overrides_the_phrase_and_routes_by_target():
    r = route("Represent true in runic", to="lc_t")
    assert (r.tgt_fmt, r.expert, r.target_from, r.text) == ("lc_t", "ascii", "--to", "Represent true")
    assert route("Represent true", to="LC-B").expert == "ascii"
    assert route("Represent true", to="runic").expert == "runic"
    assert route("Represent true", to="hlx").expert == "coordinator"
    assert route("Represent true", to="hlx_ls").expert == "coordinator"
    assert route("Represent true", to="english").expert == "coordinator"


def test_reasons_say_why():
    r = route("Represent true in runic")
    assert "English" in r.reason and "runic specialist" in r.reason and "'in runic'" in r.reason
    r = route("[TRUE]", to="hlx")
    assert "language core converts exactly" in r.reason and "--to" in r.reason


def test_bad_requests():
    with pytest.raises(RouteError):
        route("   ")
    with pytest.raises(RouteError, match="unknown target format"):
        route("Represent true", to="klingon")
    with pytest.raises(RouteError, match="is a value in LC-T"):
        route("[TRUE]", to="hlx_ls")
    with pytest.raises(RouteError, match="is a program in HLXL-LS"):
        route("let x = 1;\nreturn x;", to="lc_r")
    assert normalize_format("LC-T") == "lc_t" and normalize_format("hlxl-ls") == "hlxl_ls"
    assert normalize_format("Binary") == "lc_b" and normalize_format("HLX") == "hlx"
