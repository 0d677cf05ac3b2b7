"""HLXL values (spec §8): conformance vectors, the strict reader, the canonical printer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helix.hlx import hlxform, hlxl
from helix.hlx.errors import HLXError
from helix.hlx.program import same_value
from helix.hlx.value import INT_MAX, INT_MIN, normalize

REPO = Path(__file__).resolve().parents[1]


def _conformance(name: str) -> Path | None:
    for p in (REPO / "tests" / "data" / name, REPO.parent / "shared" / "conformance" / name):
        if p.is_file():
            return p
    return None


def _load(name: str) -> list[dict]:
    p = _conformance(name)
    if p is None:
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line]


VECTORS = _load("vectors.jsonl")
ERRORS = [d for d in _load("errors.jsonl") if d["form"] == "hlxl"]
needs_vectors = pytest.mark.skipif(not VECTORS, reason="conformance vectors not found")


# ------------------------------------------------------------------------------ conformance


@needs_vectors
@pytest.mark.parametrize("vec", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector(vec):
    value = hlxform.loads(vec["hlx"])
    assert hlxl.dumps(value) == vec["hlxl"]  # byte for byte
    back = hlxl.loads(vec["hlxl"])
    assert same_value(back, value)
    assert hlxl.dumps(back) == vec["hlxl"]


@pytest.mark.skipif(not ERRORS, reason="conformance error vectors not found")
@pytest.mark.parametrize("case", ERRORS, ids=[e["input"] for e in ERRORS])
def test_error_vector(case):
    with pytest.raises(HLXError) as e:
        hlxl.loads(case["input"])
    assert e.value.code == case["code"]
    assert e.value.line is not None and e.value.col is not None


def test_vector_sanity_without_files():
    # a few spec examples that hold whether or not the shared files are present
    v = {902: {"@0": "cube_renderer", "@1": ["&h_vert", "&h_frag"], "@2": [{"stage_idx": 0}],
               "@3": "&h_fb"}}
    text = ('contract 902 { pipeline_id: "cube_renderer", stages: [&h_vert, &h_frag], '
            'sync_barriers: [{stage_idx: 0}], output_image: &h_fb }')
    assert hlxl.dumps(v) == text
    assert same_value(hlxl.loads(text), v)
    assert hlxl.dumps({1000: {"@0": "search", "@1": "&h_documents"}}) == \
        '{1000: {@0: "search", @1: &h_documents}}'


def _corpus_pairs() -> list[dict]:
    p = REPO.parent / "shared" / "examples" / "corpus_pairs.jsonl"
    if not p.is_file():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line]


def test_real_corpus_pairs():
    pairs = _corpus_pairs()
    if not pairs:
        pytest.skip("shared/examples/corpus_pairs.jsonl not found")
    for d in pairs:
        value = hlxform.loads(d["hlx"])
        assert hlxl.dumps(value) == d["hlxl"]
        assert same_value(hlxl.loads(d["hlxl"]), value)


# ----------------------------------------------------------------------------------- printer


@pytest.mark.parametrize("value, text", [
    (None, "null"), (True, "true"), (False, "false"), (-5, "-5"), (0.0, "0.0"), (-0.0, "0.0"),
    (1e16, "1e+16"), (1e-05, "1e-05"), (b"", "0x"), (b"\x00\xff", "0x00ff"),
    ("&h_x_1", "&h_x_1"), ('a"b\\c\n\t\r\x07\x7f', '"a\\"b\\\\c\\n\\t\\r\\u0007\\u007f"'),
    ("cafe\u0301", '"caf\u00e9"'),  # NFC on the way out
    ({"b": 1, "a": 2, "_": 3}, "{_: 3, a: 2, b: 1}"),
    ({"@10": 1, "@2": 2}, "{@2: 2, @10: 1}"),
    ({902: {}}, "{902: {}}"),  # named form needs >= 1 field
    ({902: {"@3": 1, "@1": 2}}, "contract 902 { stages: 2, output_image: 1 }"),
    ({902: {"@4": 1}}, "{902: {@4: 1}}"),  # a field the registry does not name
    ({14: {"@0": 1}}, "{14: {@0: 1}}"),  # literal-form contract
    ({1: {"@0": "k"}}, 'contract 1 { kind: "k" }'),
    ({"null": None, "true": [], "contract": {}}, "{contract: {}, null: null, true: []}"),
    ([[[]], {}], "[[[]], {}]"),
])
def test_printer_canonical(value, text):
    assert hlxl.dumps(value) == text


@pytest.mark.parametrize("value, code", [
    (2**63, "E_INT_RANGE"), (float("nan"), "E_FLOAT_SPECIAL"), (float("inf"), "E_FLOAT_SPECIAL"),
    ("&h_bad-x", "E_HANDLE_FORMAT"), ({"a": 1, "@0": 2}, "E_KEY_FORMAT"),
    ({"a-b": 1}, "E_KEY_FORMAT"), ({1: 2}, "E_CONTRACT_FORM"), ({1: {}, 2: {}}, "E_CONTRACT_FORM"),
    ({902: {"x": 1}}, "E_CONTRACT_FORM"), ({2**32: {}}, "E_CONTRACT_FORM"),
    (object(), "E_LC_ENCODE"), ((1, 2), "E_LC_ENCODE"),
])
def test_printer_rejects_bad_values(value, code):
    with pytest.raises(HLXError) as e:
        hlxl.dumps(value)
    assert e.value.code == code


def test_printer_depth_limit():
    v = []
    for _ in range(64):
        v = [v]
    with pytest.raises(HLXError) as e:
        hlxl.dumps(v)
    assert e.value.code == "E_DEPTH_EXCEEDED"
    assert hlxl.dumps(v[0]).count("[") == 64


# ------------------------------------------------------------------------------------ reader


@pytest.mark.parametrize("text, value", [
    ("  [ 1 ,\n\t2 ]  ", [1, 2]),
    ("{b: 1, a: 2}", {"a": 2, "b": 1}),  # any order, canonicalised
    ("{@10: 1, @2: 2}", {"@2": 2, "@10": 1}),
    ("contract 902 { output_image: &h_fb, pipeline_id: \"p\" }", {902: {"@0": "p", "@3": "&h_fb"}}),
    ("contract 902 {}", {902: {}}),
    ('"&h_docs"', "&h_docs"),  # a quoted handle is still the handle
    ("1.50", 1.5), ("1E5", 100000.0), ("-0", 0), ("-0.0", 0.0),
    ('"cafe\u0301"', "caf\u00e9"),
    ("0x", b""), ("0xdeadBEEF".lower(), b"\xde\xad\xbe\xef"),
    ("{null: null, let: true, ls: 0x00}", {"let": True, "ls": b"\x00", "null": None}),
    ("-9223372036854775808", INT_MIN),
])
def test_reader_accepts(text, value):
    assert same_value(hlxl.loads(text), normalize(value))


@pytest.mark.parametrize("text, code, line, col", [
    ("", "E_SYNTAX_ERROR", 1, 1),
    ("[1, 2", "E_SYNTAX_ERROR", 1, 6),
    ("[1,]", "E_SYNTAX_ERROR", 1, 4),
    ("{a: 1,}", "E_SYNTAX_ERROR", 1, 7),
    ("[1 2]", "E_SYNTAX_ERROR", 1, 4),
    ("1 2", "E_SYNTAX_ERROR", 1, 3),
    ("0xABCD", "E_SYNTAX_ERROR", 1, 1),
    ("0xabc", "E_SYNTAX_ERROR", 1, 1),
    ("0x12g", "E_SYNTAX_ERROR", 1, 1),
    ("12abc", "E_SYNTAX_ERROR", 1, 1),
    ("007", "E_SYNTAX_ERROR", 1, 1),
    (".5", "E_SYNTAX_ERROR", 1, 1),
    ("1.", "E_SYNTAX_ERROR", 1, 1),
    ("+1", "E_SYNTAX_ERROR", 1, 1),
    ("'x'", "E_SYNTAX_ERROR", 1, 1),
    ('"\\x41"', "E_SYNTAX_ERROR", 1, 2),
    ('"a\nb"', "E_SYNTAX_ERROR", 1, 3),
    ("foo", "E_SYNTAX_ERROR", 1, 1),
    ("[1, x]", "E_SYNTAX_ERROR", 1, 5),
    ("None", "E_SYNTAX_ERROR", 1, 1),
    ('{"x": 1}', "E_SYNTAX_ERROR", 1, 2),
    ("[1] // no comments in values", "E_SYNTAX_ERROR", 1, 5),
    ("ls.collapse(1)", "E_SYNTAX_ERROR", 1, 1),
    ("\n\n   [1,\n  @x]", "E_KEY_FORMAT", 4, 3),
    ("{@01: 1}", "E_KEY_FORMAT", 1, 2),
    ("{a: 1, @0: 2}", "E_KEY_FORMAT", 1, 1),
    ("{x: 1, x: 2}", "E_FIELD_ORDER", 1, 8),
    ("{@1: 1, @1: 2}", "E_FIELD_ORDER", 1, 9),
    ("contract 902 { stages: [], stages: [] }", "E_FIELD_ORDER", 1, 28),
    ("contract 902 { bogus: 1 }", "E_CONTRACT_FIELD", 1, 16),
    ("contract 902 { @0: 1 }", "E_CONTRACT_FIELD", 1, 16),
    ("contract 77 { a: 1 }", "E_INVALID_CONTRACT_ID", 1, 10),
    ("contract 14 { value: 1 }", "E_INVALID_CONTRACT_ID", 1, 10),
    ("contract x { a: 1 }", "E_SYNTAX_ERROR", 1, 10),
    ("{1: 2}", "E_CONTRACT_FORM", 1, 5),
    ("{1: {a: 1}}", "E_CONTRACT_FORM", 1, 5),
    ("{1: {}, 2: {}}", "E_CONTRACT_FORM", 1, 1),
    ("{4294967296: {}}", "E_CONTRACT_FORM", 1, 1),
    ("{-1: {}}", "E_CONTRACT_FORM", 1, 2),
    ("&h_bad-handle", "E_HANDLE_FORMAT", 1, 1),
    ('"&h_"', "E_HANDLE_FORMAT", 1, 1),
    ("&x", "E_HANDLE_FORMAT", 1, 1),
    ("99999999999999999999", "E_INT_RANGE", 1, 1),
    ("[1,\n 1e999]", "E_FLOAT_SPECIAL", 2, 2),
])
def test_reader_errors(text, code, line, col):
    with pytest.raises(HLXError) as e:
        hlxl.loads(text)
    assert (e.value.code, e.value.line, e.value.col) == (code, line, col), str(e.value)


def test_reader_depth():
    ok = "[" * 64 + "]" * 64
    assert hlxl.dumps(hlxl.loads(ok)) == ok
    with pytest.raises(HLXError) as e:
        hlxl.loads("[" * 65 + "]" * 65)
    assert e.value.code == "E_DEPTH_EXCEEDED"
    # a named contract is two levels (the contract and its fields object)
    deep = "[" * 62 + "contract 902 { stages: 1 }" + "]" * 62
    assert hlxl.loads(deep)
    with pytest.raises(HLXError) as e:
        hlxl.loads("[" + deep + "]")
    assert e.value.code == "E_DEPTH_EXCEEDED"
    with pytest.raises(HLXError) as e:  # never a RecursionError
        hlxl.loads("[" * 100000)
    assert e.value.code == "E_DEPTH_EXCEEDED"


# ------------------------------------------------------------------------------- properties

IDENT = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
FIELD = st.integers(0, 12).map(lambda i: f"@{i}")
HANDLE = st.from_regex(r"&h_[A-Za-z0-9_]{1,10}", fullmatch=True)
LEAF = (st.none() | st.booleans() | st.integers(INT_MIN, INT_MAX)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=10).filter(lambda s: not s.startswith("&h_"))
        | st.binary(max_size=6) | HANDLE)
CIDS = st.sampled_from([0, 1, 14, 100, 800, 900, 901, 902, 1000, 4242, 2**32 - 1])


def _extend(children):
    return (st.lists(children, max_size=4)
            | st.dictionaries(IDENT, children, max_size=4)
            | st.dictionaries(FIELD, children, max_size=4)
            | st.builds(lambda c, b: {c: b}, CIDS, st.dictionaries(FIELD, children, max_size=5)))


VALUES = st.recursive(LEAF, _extend, max_leaves=16)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES)
def test_roundtrip_random_values(raw):
    v = normalize(raw)
    text = hlxl.dumps(raw)  # the printer canonicalises un-normalized input itself
    assert text == hlxl.dumps(v)
    back = hlxl.loads(text)
    assert same_value(back, v)
    assert hlxl.dumps(back) == text
    # HLXL agrees with the HLX form about the value
    assert same_value(hlxform.loads(hlxform.dumps(v)), back)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('[]{}(),:;=@&h_x0123456789.-"\\ \nabc/e'))
               | st.characters(), max_size=30))
def test_reader_never_crashes(text):
    try:
        v = hlxl.loads(text)
    except HLXError as e:
        assert e.line is not None and e.col is not None
    else:
        assert same_value(hlxl.loads(hlxl.dumps(v)), v)


@settings(max_examples=150, deadline=None)
@given(VALUES, st.data())
def test_reader_rejects_or_accepts_mutations_cleanly(raw, data):
    text = hlxl.dumps(normalize(raw))
    if not text:
        return
    i = data.draw(st.integers(0, len(text) - 1))
    mutated = text[:i] + text[i + 1:]
    try:
        v = hlxl.loads(mutated)
    except HLXError as e:
        assert e.code and e.line is not None
    else:
        assert hlxl.dumps(hlxl.loads(hlxl.dumps(v))) == hlxl.dumps(v)
