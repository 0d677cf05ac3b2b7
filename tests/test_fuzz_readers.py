"""Fuzz every reader (LC-B bytes and text, LC-T, LC-R, HLX, HLXL) with random and mutated input:
the only exception that may ever escape is HLXError. Plus adversarial 1 MiB LC-B messages
(correctness here; their timings are printed by fuzz/fuzz_readers.py and the benchmark)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helix.hlx import hlxform, hlxl, lcb, lcr, lct
from helix.hlx.convert import VALUE_FORMS, decode, detect_form, encode, encode_all
from helix.hlx.errors import CODES, HLXError
from helix.hlx.prefix import is_valid_prefix
from helix.hlx.value import DEFAULT_SIZE_LIMIT, MAX_DEPTH

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
from strategies import values  # noqa: E402

READERS = {
    "lc_b": lcb.loads_text,
    "lc_t": lct.loads,
    "lc_r": lcr.loads,
    "hlx": hlxform.loads,
    "hlxl": hlxl.loads,
}
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ALPHABET = list('[](){}<>,:; "\\\'0123456789abcdefxABCDEF.-+e_@&hNULTRFSIKYOBJ') + list("∅⊤⊥⊠⟁🜊🜁🜂🜃🜄◇◆\u0301é\x00\n")


def only_hlx_errors(fn, arg):
    """Call a reader; it returns a value or raises HLXError with a known code, nothing else."""
    try:
        fn(arg)
    except HLXError as e:
        assert e.code in CODES
        return e
    return None


@FUZZ
@given(st.binary(max_size=64))
def test_lcb_random_bytes(data):
    e = only_hlx_errors(lcb.loads, data)
    if e is not None:
        assert e.offset is not None and 0 <= e.offset <= len(data)


@FUZZ
@given(st.lists(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x40, 0x61, 0x80, 0xFF, 0x7F, 0x30]), max_size=40))
def test_lcb_random_tag_soup(bs):
    only_hlx_errors(lcb.loads, bytes(bs))


@FUZZ
@given(st.one_of(st.text(max_size=40), st.text(alphabet=ALPHABET, max_size=40)))
def test_text_readers_random_text(text):
    for fmt, reader in READERS.items():
        e = only_hlx_errors(reader, text)
        if e is not None:
            assert e.offset is not None or e.line is not None, (fmt, e)
    assert detect_form(text) in (None, *VALUE_FORMS, "hlxl_ls", "hlx_ls")
    for fmt in VALUE_FORMS:
        assert isinstance(is_valid_prefix(text, fmt), bool)


@st.composite
def mutated(draw):
    v = draw(values(max_leaves=10))
    fmt = draw(st.sampled_from(VALUE_FORMS))
    text = encode(v, fmt)
    chars = list(text)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.integers(0, 3))
        i = draw(st.integers(0, len(chars)))
        if op == 0 and chars:
            chars[min(i, len(chars) - 1)] = draw(st.sampled_from(ALPHABET))
        elif op == 1:
            chars.insert(i, draw(st.sampled_from(ALPHABET)))
        elif op == 2 and chars:
            del chars[min(i, len(chars) - 1)]
        else:  # duplicate a slice (repeated keys, extra items)
            j = draw(st.integers(0, len(chars)))
            a, b = sorted((i, j))
            chars[b:b] = chars[a:b]
    return fmt, "".join(chars)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_texts(case):
    fmt, text = case
    for reader in READERS.values():
        only_hlx_errors(reader, text)
    # whatever a reader accepts, it returns a value that every form can print and read back
    try:
        v = decode(text, fmt)
    except HLXError:
        return
    for f, t in encode_all(v).items():
        assert lcb.dumps(decode(t, f)) == lcb.dumps(v)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values(max_leaves=10), st.data())
def test_mutated_lcb_bytes(v, data):
    raw = bytearray(lcb.dumps(v))
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(raw)))
        op = data.draw(st.integers(0, 2))
        b = data.draw(st.integers(0, 255))
        if op == 0 and raw:
            raw[min(i, len(raw) - 1)] = b
        elif op == 1:
            raw.insert(i, b)
        elif raw:
            del raw[min(i, len(raw) - 1)]
    e = only_hlx_errors(lcb.loads, bytes(raw))
    if e is None:  # accepted: it is canonical, re-encoding gives the same bytes
        assert lcb.dumps(lcb.loads(bytes(raw))) == bytes(raw)


# ------------------------------------------------------------------ adversarial 1 MiB LC-B

M = DEFAULT_SIZE_LIMIT


def _many_fields() -> bytes:
    parts, size, i = [], 0, 0
    while size < M - 100:
        kb = f"@{i}".encode()
        e = lcb.uleb(len(kb)) + kb + b"\x00"
        parts.append(e)
        size += len(e)
        i += 1
    return b"\x07" + lcb.uleb(i) + b"".join(parts) + b"\x08"


ADVERSARIAL = {
    "many nulls": (lambda: b"\x05" + lcb.uleb(M - 10) + b"\x00" * (M - 10) + b"\x06", None),
    "many tiny texts": (lambda: b"\x05" + lcb.uleb((M - 10) // 3) + b"\x03\x01a" * ((M - 10) // 3) + b"\x06", None),
    "many fields": (_many_fields, None),
    "huge declared count": (lambda: b"\x05\xff\xff\xff\xff\x0f" + b"\x00" * (M - 10), "E_LC_DECODE"),
    "huge declared text": (lambda: b"\x03\xff\xff\xff\xff\x0f" + b"a" * (M - 10), "E_LC_DECODE"),
    "long SLEB run": (lambda: b"\x01" + b"\x80" * (M - 2) + b"\x00", "E_LC_DECODE"),
    "long ULEB run": (lambda: b"\x03" + b"\xff" * (M - 2) + b"\x01", "E_LC_DECODE"),
    "deep nesting": (lambda: (b"\x05\x01" * (MAX_DEPTH + 1) + b"\x00" + b"\x06" * (MAX_DEPTH + 1)).ljust(M, b"\x00"), "E_DEPTH_EXCEEDED"),
    "deep objects": (lambda: (b"\x07\x01\x01a" * (M // 4))[:M], "E_DEPTH_EXCEEDED"),
    "over the limit": (lambda: b"\x04" + lcb.uleb(M) + b"\x00" * M, "E_SIZE_EXCEEDED"),
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_adversarial_megabyte_messages(name):
    make, code = ADVERSARIAL[name]
    data = make()
    assert len(data) >= M - 200
    if code is None:
        v = lcb.loads(data)
        assert lcb.dumps(v) == data  # decoded fully and canonical
    else:
        with pytest.raises(HLXError) as ei:
            lcb.loads(data)
        assert ei.value.code == code


def test_deep_text_inputs_never_hit_the_recursion_limit():
    for fmt, text in [("lc_t", "[" + "ARR_START, " * 5000), ("lc_r", "🜃" * 5000), ("hlx", "[" * 5000),
                      ("hlxl", "[" * 5000), ("lc_r", "🜊1🜁0 " * 5000), ("hlx", '{"a": ' * 5000)]:
        with pytest.raises(HLXError) as ei:
            READERS[fmt](text)
        assert ei.value.code in ("E_DEPTH_EXCEEDED", "E_SYNTAX_ERROR", "E_LC_PARSE"), (fmt, ei.value)
