"""detect_form: exact, one fixed preference, English is None; real example pairs when present."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helix.hlx import lcb
from helix.hlx.convert import DETECT_ORDER, VALUE_FORMS, decode, detect_form, encode_all
from helix.hlx.errors import HLXError

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "examples" / "corpus_pairs.jsonl"
FORMS = ("hlxl", "hlx", "lc_t", "lc_b", "lc_r")


def _pairs() -> list[dict]:
    if not EXAMPLES.is_file():
        return []
    return [json.loads(x) for x in EXAMPLES.read_text(encoding="utf-8").splitlines() if x.strip()]


PAIRS = _pairs()


@pytest.mark.skipif(not PAIRS, reason="../shared/examples not present")
def test_real_pairs_detect_exactly():
    for d in PAIRS:
        assert detect_form(d["english"]) is None, d["english"]
        for fmt in FORMS:
            text = d[fmt]
            found = detect_form(text)
            assert found is not None, (fmt, text)
            # the detected form reads the same value as the form the text was written in
            assert lcb.dumps(decode(text, found)) == lcb.dumps(decode(text, fmt)), (fmt, found, text)
            if fmt in ("lc_t", "lc_b"):
                assert found == fmt


@pytest.mark.parametrize("text", [
    "hello", "Hello world", "Search for error in logs", "print(1)", "go!", "a", "", "[", "{x", "0y",
    "search documents;", "Null", "TRUE", "[NULL", "[0x0", "🜃1", "◇a: 1", "\"unterminated",
])
def test_not_hlx_is_none(text):
    assert detect_form(text) is None


@pytest.mark.parametrize("text, form", [
    ("[NULL]", "lc_t"), ("[0x0a]", "lc_b"), ("[0x00ff]", "hlxl"), ("⊤", "lc_r"), ("🜊803🜂", "lc_r"),
    ("null", "hlxl"), ("42", "hlxl"), ('"x"', "hlxl"), ("True", "hlx"), ("None", "hlx"),
    ('{"a": 1}', "hlx"), ("{a: 1}", "hlxl"), ('b"\\x00"', "hlx"), ("&h_x", "hlxl"), ('"&h_x"', "hlxl"),
    ("[1, 2]", "hlxl"), ("{803: {}}", "hlxl"), ("0x", "hlxl"), ("let x = 1;", "hlxl_ls"), ("x = 1", "hlx_ls"),
])
def test_fixed_preference(text, form):
    assert detect_form(text) == form
    # exact: the detected form reads it, and every earlier form in the order does not
    earlier = DETECT_ORDER[: DETECT_ORDER.index(form)]
    for f in earlier:
        if f in VALUE_FORMS:
            with pytest.raises(HLXError):
                decode(text, f)


def test_value_texts_are_never_reported_as_programs():
    v = {1000: {"@0": "search", "@1": "&h_documents", "@2": [1, 2.5, None, True]}}
    for fmt, text in encode_all(v).items():
        assert detect_form(text) in VALUE_FORMS


def test_non_str_is_none():
    assert detect_form(None) is None  # type: ignore[arg-type]
    assert detect_form(b"[0x00]") is None  # type: ignore[arg-type]
