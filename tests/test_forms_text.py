"""LC-T (§5), LC-R (§6) and HLX (§7): printers and strict readers, with codes and positions."""

from __future__ import annotations

import pytest

from helix.hlx import hlxform, lcr, lct
from helix.hlx.errors import HLXError
from helix.hlx.value import MAX_DEPTH


def fails(mod, text: str, code: str, offset: int | None = None) -> HLXError:
    with pytest.raises(HLXError) as ei:
        mod.loads(text)
    e = ei.value
    assert e.code == code, (text, e)
    assert e.offset is not None and e.line is not None and e.col is not None
    if offset is not None:
        assert e.offset == offset, (text, e)
    return e


# ------------------------------------------------------------------ LC-T


def test_lct_printer():
    assert lct.dumps({14: {"@0": 42}}) == "[OBJ_START, KEY(14), OBJ_START, FIELD_0, INT(42), OBJ_END, OBJ_END]"
    assert lct.dumps(b"") == "[BYTES()]"
    assert lct.dumps("\U0001f701\u00e9\x7f") == '[TEXT("\\U0001f701\\u00e9\\u007f")]'
    assert lct.dumps(["&h_x", 1e16, -0.0]) == "[ARR_START, HANDLE(&h_x), FLOAT(1e+16), FLOAT(0.0), ARR_END]"
    assert lct.dumps("cafe\u0301") == '[TEXT("caf\\u00e9")]'
    assert lct.dumps(lct.loads("[TEXT(\"\\U0001f701\")]")).isascii()


@pytest.mark.parametrize(
    "text, code, offset",
    [
        ("[INT(01)]", "E_LC_PARSE", 1),
        ("[INT(-0)]", "E_LC_PARSE", 5),
        ("[INT(+1)]", "E_LC_PARSE", 1),
        ("[INT(1.5)]", "E_LC_PARSE", 5),
        ("[INT(9223372036854775808)]", "E_INT_RANGE", 5),
        ("[INT(" + "9" * 5000 + ")]", "E_INT_RANGE", 5),
        ("[FLOAT(1)]", "E_LC_PARSE", 7),
        ("[FLOAT(1.50)]", "E_LC_PARSE", 7),
        ("[FLOAT(-0.0)]", "E_LC_PARSE", 7),
        ("[FLOAT(1e5)]", "E_LC_PARSE", 7),
        ("[FLOAT(1E+16)]", "E_LC_PARSE", 7),
        ("[FLOAT(inf)]", "E_LC_PARSE", 7),
        ("[FLOAT(1e999)]", "E_FLOAT_SPECIAL", 7),
        ("[TEXT(\"\\u0041\")]", "E_LC_PARSE", 7),  # 'A' needs no escape
        ("[TEXT(\"\\u000a\")]", "E_LC_PARSE", 7),  # LF is \n
        ("[TEXT(\"\\U0000e9\")]", "E_LC_PARSE", 7),
        ("[TEXT(\"\\u00E9\")]", "E_LC_PARSE", 7),
        ("[TEXT(\"e\\u0301\")]", "E_LC_PARSE", 6),  # not NFC
        ("[TEXT(\"&h_x\")]", "E_LC_PARSE", 1),
        ("[TEXT(\"a)]", "E_LC_PARSE", 6),
        ("[BYTES(ABCD)]", "E_LC_PARSE", 1),
        ("[BYTES(abc)]", "E_LC_PARSE", 1),
        ("[HANDLE(&h_)]", "E_HANDLE_FORMAT", 8),
        ("[HANDLE(&h_a-b)]", "E_HANDLE_FORMAT", 8),
        ("[HANDLE(x)]", "E_LC_PARSE", 1),
        ("[NULL,INT(1)]", "E_LC_PARSE", 5),
        ("[NULL ]", "E_LC_PARSE", 5),
        ("[ NULL]", "E_LC_PARSE", 1),
        ("[NULL]]", "E_LC_PARSE", 6),
        ("[null]", "E_LC_PARSE", 1),
        ("[ARR_START, INT(1) ARR_END]", "E_LC_PARSE", 18),
        ("[ARR_START, ARR_END, ARR_END]", "E_LC_PARSE", 19),
        ("[OBJ_START, FIELD_01, INT(1), OBJ_END]", "E_LC_PARSE", None),
        ("[OBJ_START, FIELD_1, INT(1), FIELD_0, INT(2), OBJ_END]", "E_FIELD_ORDER", 29),
        ("[OBJ_START, FIELD_1, INT(1), FIELD_1, INT(2), OBJ_END]", "E_FIELD_ORDER", 29),
        ("[OBJ_START, KEY(a), INT(1), FIELD_0, INT(2), OBJ_END]", "E_KEY_FORMAT", 28),
        ("[OBJ_START, KEY(a-b), INT(1), OBJ_END]", "E_LC_PARSE", 12),
        ("[OBJ_START, KEY(14), INT(1), OBJ_END]", "E_CONTRACT_FORM", 21),
        ("[OBJ_START, KEY(14), OBJ_START, KEY(a), INT(1), OBJ_END, OBJ_END]", "E_CONTRACT_FORM", 21),
        ("[OBJ_START, KEY(14), OBJ_START, OBJ_END, KEY(15), OBJ_START, OBJ_END, OBJ_END]", "E_CONTRACT_FORM", 41),
        ("[OBJ_START, KEY(a), INT(1), KEY(14), OBJ_START, OBJ_END, OBJ_END]", "E_CONTRACT_FORM", 28),
        ("[OBJ_START, KEY(4294967296), OBJ_START, OBJ_END, OBJ_END]", "E_CONTRACT_FORM", 16),
        # a contract as a contract body (found by the mutation fuzzer: it was a TypeError)
        ("[OBJ_START, KEY(14), OBJ_START, KEY(15), OBJ_START, OBJ_END, OBJ_END, OBJ_END]", "E_CONTRACT_FORM", 21),
        ("[OBJ_START, KEY(007), OBJ_START, OBJ_END, OBJ_END]", "E_LC_PARSE", 12),
        ("[FIELD_0]", "E_LC_PARSE", 1),
        ("", "E_LC_PARSE", 0),
        ("[", "E_LC_PARSE", 1),
    ],
)
def test_lct_strict_reader(text, code, offset):
    fails(lct, text, code, offset)


def test_lct_accepts_canonical_escapes():
    assert lct.loads('[TEXT("\\u0007\\u007f\\n\\t\\r\\"\\\\")]') == '\x07\x7f\n\t\r"\\'
    assert lct.loads('[TEXT("\\U0001f701")]') == "\U0001f701"
    assert lct.loads('[TEXT("a\\u00e9")]') == "a\u00e9"  # \u00e9 is the canonical LC-T spelling
    assert lct.loads("[FLOAT(1e-05)]") == 1e-05
    assert lct.loads("[INT(-9223372036854775808)]") == -(2**63)


def test_lct_depth():
    ok = "[" + "ARR_START, " * MAX_DEPTH + "NULL" + ", ARR_END" * MAX_DEPTH + "]"
    assert lct.loads(ok) is not None
    bad = "[" + "ARR_START, " * (MAX_DEPTH + 1) + "NULL" + ", ARR_END" * (MAX_DEPTH + 1) + "]"
    fails(lct, bad, "E_DEPTH_EXCEEDED", 1 + 11 * MAX_DEPTH)


def test_lct_error_has_line_and_col():
    e = fails(lct, "[INT(1), INT(2)]", "E_LC_PARSE", 7)
    assert (e.line, e.col) == (1, 8)
    assert "1:8" in str(e)


# ------------------------------------------------------------------ LC-R


def test_lcr_printer():
    assert lcr.dumps({803: {}}) == "🜊803🜂"
    assert lcr.dumps({"@0": 1, "@2": 2}) == "◇@0: 1, @2: 2◆"
    assert lcr.dumps({5: {"@0": {"@0": 1}}}) == "🜊5🜁0 ◇@0: 1◆🜂"
    assert lcr.dumps(["&h_x", b"\x01", None, True, False]) == "🜃⟁x, ⊠01, ∅, ⊤, ⊥🜄"
    assert lcr.dumps("caf\u00e9\U0001f701\x07") == '"café🜁\\u0007"'


def test_lcr_fields_object_vs_contract_body():
    # a fields object written with ◇◆ is a free-standing value, never a contract body
    assert lcr.loads("◇@0: 1◆") == {"@0": 1}
    assert lcr.loads("🜊5🜁0 ◇@0: 1◆🜂") == {5: {"@0": {"@0": 1}}}
    assert lcr.loads("🜊5🜂") == {5: {}}


@pytest.mark.parametrize(
    "text, code, offset",
    [
        ("⊤ ", "E_LC_PARSE", 1),
        (" ⊤", "E_LC_PARSE", 0),
        ("01", "E_LC_PARSE", 1),
        ("-0", "E_LC_PARSE", 0),
        ("1.50", "E_LC_PARSE", 0),
        ("1e5", "E_LC_PARSE", 0),
        ("-0.0", "E_LC_PARSE", 0),
        ("9223372036854775808", "E_INT_RANGE", 0),
        ("1e400", "E_FLOAT_SPECIAL", 0),
        ('"&h_x"', "E_LC_PARSE", 0),
        ('"e\u0301"', "E_LC_PARSE", 0),
        ('"\\u00e9"', "E_LC_PARSE", 1),  # non-ASCII is kept raw in LC-R
        ("⊠abc", "E_LC_PARSE", 0),
        ("⊠AB", "E_LC_PARSE", 1),
        ("⟁", "E_HANDLE_FORMAT", 0),
        ("⟁a-b", "E_LC_PARSE", 2),
        ("🜃1,2🜄", "E_LC_PARSE", 2),
        ("🜃1, 2,🜄", "E_LC_PARSE", 5),
        ("🜃, 🜄", "E_LC_PARSE", 1),
        ("◇a:1◆", "E_LC_PARSE", 2),
        ("◇b: 1, a: 2◆", "E_FIELD_ORDER", 7),
        ("◇a: 1, a: 2◆", "E_FIELD_ORDER", 7),
        ("◇@1: 1, @0: 2◆", "E_FIELD_ORDER", 8),
        ("◇a: 1, @0: 2◆", "E_KEY_FORMAT", 7),
        ("◇1: 2◆", "E_KEY_FORMAT", 1),
        ("◇a-b: 2◆", "E_LC_PARSE", 2),
        ("🜊14🜁1 1🜁0 2🜂", "E_FIELD_ORDER", 7),
        ("🜊14🜁0 1🜁0 2🜂", "E_FIELD_ORDER", 7),
        ("🜊14🜁01 1🜂", "E_LC_PARSE", 5),
        ("🜊14🜁0  1🜂", "E_LC_PARSE", 6),
        ("🜊014🜂", "E_LC_PARSE", 2),
        ("🜊4294967296🜂", "E_CONTRACT_FORM", 1),
        ("🜊🜂", "E_LC_PARSE", 1),
        ("🜊14 🜂", "E_LC_PARSE", 3),
        ("", "E_LC_PARSE", 0),
    ],
)
def test_lcr_strict_reader(text, code, offset):
    fails(lcr, text, code, offset)


def test_lcr_depth_counts_contracts_twice():
    ok = "🜃" * (MAX_DEPTH - 2) + "🜊1🜂" + "🜄" * (MAX_DEPTH - 2)
    assert lcr.loads(ok) is not None
    bad = "🜃" * (MAX_DEPTH - 1) + "🜊1🜂" + "🜄" * (MAX_DEPTH - 1)
    fails(lcr, bad, "E_DEPTH_EXCEEDED", MAX_DEPTH - 1)


def test_lcr_multiline_error_position():
    e = fails(lcr, '"a\nb"', "E_LC_PARSE", 2)  # raw LF in a text
    assert (e.line, e.col) == (1, 3)


# ------------------------------------------------------------------ HLX


def test_hlx_printer():
    v = {902: {"@3": "&h_fb", "@0": "cube_renderer", "@2": [], "@1": ["&h_vert", "&h_frag"]}}
    assert hlxform.dumps(v) == (
        '{902: {"@0": "cube_renderer", "@1": ["&h_vert", "&h_frag"], "@2": [], "@3": "&h_fb"}}'
    )
    assert hlxform.dumps(b"\xde\xad\x00") == 'b"\\xde\\xad\\x00"'
    assert hlxform.dumps([None, True, False, 1.0, -0.0]) == "[None, True, False, 1.0, 0.0]"


def test_hlx_leniency_where_people_write_it():
    assert hlxform.loads('{"b": 1, "a": 2}') == {"a": 2, "b": 1}
    assert list(hlxform.loads('{"b": 1, "a": 2}')) == ["a", "b"]
    assert list(hlxform.loads('{"@10": 1, "@2": 2}')) == ["@2", "@10"]
    assert hlxform.loads("1.50") == 1.5
    assert hlxform.loads("1E5") == 100000.0
    assert hlxform.loads("-0.0") == 0.0 and str(hlxform.loads("-0.0")) == "0.0"
    assert hlxform.loads('"cafe\u0301"') == "caf\u00e9"
    assert hlxform.loads('{902: {"@1": 2, "@0": 1}}') == {902: {"@0": 1, "@1": 2}}


@pytest.mark.parametrize(
    "text, code",
    [
        ("__import__('os').system('true')", "E_LC_PARSE"),
        ("float('nan')", "E_LC_PARSE"),
        ("float('inf')", "E_LC_PARSE"),
        ("1e999", "E_FLOAT_SPECIAL"),
        ("None; 1", "E_LC_PARSE"),
        ("Nonesuch", "E_LC_PARSE"),
        ("none", "E_LC_PARSE"),
        ("'single'", "E_LC_PARSE"),
        ('"a" "b"', "E_LC_PARSE"),
        ("[1,2]", "E_LC_PARSE"),
        ("[1, 2,]", "E_LC_PARSE"),
        ("[1 , 2]", "E_LC_PARSE"),
        ("{\"a\":1}", "E_LC_PARSE"),
        ("+1", "E_LC_PARSE"),
        ("0x10", "E_LC_PARSE"),
        ("1_000", "E_LC_PARSE"),
        ("007", "E_LC_PARSE"),
        ("9223372036854775808", "E_INT_RANGE"),
        ('b"\\xDE"', "E_LC_PARSE"),
        ('b"\\x0"', "E_LC_PARSE"),
        ('b"ab"', "E_LC_PARSE"),
        ("b'\\x00'", "E_LC_PARSE"),
        ('"\\x41"', "E_LC_PARSE"),
        ('"\\u0041"', "E_LC_PARSE"),
        ('"&h_bad-handle"', "E_HANDLE_FORMAT"),
        ('"&h_"', "E_HANDLE_FORMAT"),
        ("{1: 2}", "E_CONTRACT_FORM"),
        ("{4294967296: {}}", "E_CONTRACT_FORM"),
        ("{-1: {}}", "E_CONTRACT_FORM"),
        ('{1: {"a": 1}}', "E_CONTRACT_FORM"),
        ('{1: {}, 2: {}}', "E_CONTRACT_FORM"),
        ('{"a-b": 1}', "E_KEY_FORMAT"),
        ('{"a": 1, "@0": 2}', "E_KEY_FORMAT"),
        ('{"@01": 1}', "E_KEY_FORMAT"),
        ('{1.5: 1}', "E_KEY_FORMAT"),
        ('{"x": 1, "x": 2}', "E_FIELD_ORDER"),
        ('{"@0": 1, "@0": 2}', "E_FIELD_ORDER"),
        ("{True: 1}", "E_LC_PARSE"),
        ("[", "E_LC_PARSE"),
        ("", "E_LC_PARSE"),
        ("lambda: 1", "E_LC_PARSE"),
        ("(1, 2)", "E_LC_PARSE"),
        ("{1, 2}", "E_LC_PARSE"),
    ],
)
def test_hlx_strict_elsewhere(text, code):
    fails(hlxform, text, code)


def test_hlx_depth():
    assert hlxform.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    fails(hlxform, "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "E_DEPTH_EXCEEDED", MAX_DEPTH)
    deep = "[" * 10_000  # never a RecursionError
    fails(hlxform, deep, "E_DEPTH_EXCEEDED", MAX_DEPTH)


def test_hlx_error_position_is_the_bad_character():
    e = fails(hlxform, '{"a": 1, "b": [1, 2, x]}', "E_LC_PARSE", 21)
    assert (e.line, e.col) == (1, 22)
