"""Property tests over random nested values: A1 determinism, A2 round trip per form, A3 conversion
for every ordered pair of forms, INV-003 key order, values_equal semantics, detect_form overlaps."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helix.hlx import lcb
from helix.hlx.convert import VALUE_FORMS, convert, decode, detect_form, encode, encode_all
from helix.hlx.errors import HLXError
from helix.hlx.lcb import values_equal
from helix.hlx.value import normalize

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
from strategies import operations, values  # noqa: E402

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(values())
def test_a2_round_trip_every_form(v):
    ref = normalize(v)
    ref_bytes = lcb.dumps(ref)
    for fmt in VALUE_FORMS:
        text = encode(v, fmt)
        back = decode(text, fmt)
        assert lcb.dumps(back) == ref_bytes, (fmt, text)
        # the reader returns a normalized value: encoding it again is the identity
        assert encode(back, fmt) == text


@FAST
@given(values())
def test_a1_determinism_and_normalization_invariance(v):
    texts = encode_all(v)
    assert texts == encode_all(v)
    # encoding the normalized copy gives the same texts (NFC, -0.0, key order never matter)
    assert texts == encode_all(normalize(v))
    assert texts == {f: encode(v, f) for f in VALUE_FORMS}


@settings(max_examples=60, deadline=None)
@given(values(max_leaves=12))
def test_a3_every_ordered_pair_converts_without_loss(v):
    texts = encode_all(v)
    for src in VALUE_FORMS:
        for dst in VALUE_FORMS:
            assert convert(texts[src], src, dst) == texts[dst], (src, dst)


@FAST
@given(values())
def test_inv003_keys_in_canonical_order(v):
    def check(x):
        if isinstance(x, list):
            for y in x:
                check(y)
        elif isinstance(x, dict):
            keys = list(x)
            if keys and isinstance(keys[0], str):
                if keys[0].startswith("@"):
                    idx = [int(k[1:]) for k in keys]
                    assert idx == sorted(idx) and len(set(idx)) == len(idx)
                else:
                    assert keys == sorted(keys)
            for y in x.values():
                check(y)

    for fmt in VALUE_FORMS:
        check(decode(encode(v, fmt), fmt))


@FAST
@given(st.dictionaries(st.sampled_from(["b", "a", "zz", "_x", "A"]), st.integers(-99, 99), min_size=2),
       st.randoms())
def test_key_order_never_changes_the_encoding(d, rnd):
    items = list(d.items())
    rnd.shuffle(items)
    shuffled = dict(items)
    assert values_equal(d, shuffled)
    for fmt in VALUE_FORMS:
        assert encode(d, fmt) == encode(shuffled, fmt)


def test_values_equal_semantics():
    assert values_equal(-0.0, 0.0)
    assert values_equal("cafe\u0301", "caf\u00e9")
    assert values_equal({"b": 1, "a": 2}, {"a": 2, "b": 1})
    assert values_equal({"@10": 1, "@2": 2}, {"@2": 2, "@10": 1})
    assert not values_equal(1, 1.0)
    assert not values_equal(1, True)
    assert not values_equal(0, False)
    assert not values_equal("&h_x", "&h_y")
    assert not values_equal(b"", "")
    assert not values_equal([], {})
    assert not values_equal({14: {"@0": 1}}, {15: {"@0": 1}})
    assert not values_equal({"@0": 1}, {"@1": 1})
    with pytest.raises(HLXError) as ei:
        values_equal(float("nan"), 1.0)
    assert ei.value.code == "E_FLOAT_SPECIAL"


@FAST
@given(values(), values())
def test_values_equal_is_encoding_equality(a, b):
    same = values_equal(a, b)
    assert same == (encode(a, "lc_b") == encode(b, "lc_b"))
    assert same == (encode(a, "lc_t") == encode(b, "lc_t"))  # LC-T mirrors LC-B one-to-one
    assert values_equal(a, a)


# ------------------------------------------------------------------ detect_form overlaps


def _accepting_forms(text: str) -> list[str]:
    ok = []
    for fmt in VALUE_FORMS:
        try:
            decode(text, fmt)
            ok.append(fmt)
        except HLXError:
            pass
    return ok


def _is_lcb_hlxl_pair(text: str, forms: list[str]) -> bool:
    """The one overlap the spec makes unavoidable: [0x…] is LC-B and an HLXL bytes array."""
    return text.startswith("[0x") and set(forms) == {"lc_b", "hlxl"}


@settings(max_examples=120, deadline=None)
@given(st.one_of(values(), operations()))
def test_detect_form_is_exact_and_overlaps_agree(v):
    ref = lcb.dumps(normalize(v))
    for fmt, text in encode_all(v).items():
        forms = _accepting_forms(text)
        assert fmt in forms
        found = detect_form(text)
        assert found in forms  # exact: the detected form reads the text
        decoded = {f: lcb.dumps(decode(text, f)) for f in forms}
        if _is_lcb_hlxl_pair(text, forms):
            assert found == "lc_b"
            continue
        # every form that accepts the text reads the same value
        assert set(decoded.values()) == {ref}, (text, forms)


@pytest.mark.parametrize("b", [b"", b"\x00", b"\x0a", b"\x01\x2a", b"\x00\xff", b"\x03\x01"])
def test_lcb_hlxl_overlap_rule(b):
    text = encode([b], "hlxl")  # '[0x…]': an HLXL array holding bytes
    assert decode(text, "hlxl") == [b]
    try:
        lcb_value = decode(text, "lc_b")
    except HLXError:
        assert detect_form(text) == "hlxl"  # not LC-B: HLXL wins
    else:
        assert detect_form(text) == "lc_b"  # LC-B wins whenever it decodes
        assert encode(lcb_value, "lc_b") == text


@settings(max_examples=60, deadline=None)
@given(operations())
def test_operations_round_trip(v):
    for fmt, text in encode_all(v).items():
        assert values_equal(decode(text, fmt), v)
        assert detect_form(text) in ("hlxl", "hlx", "lc_t", "lc_b", "lc_r")
