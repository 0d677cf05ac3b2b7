"""LC-B (spec §4): encoder, strict decoder (codes and byte offsets), text form, limits."""

from __future__ import annotations

import struct

import pytest

from helix.hlx import lcb
from helix.hlx.errors import HLXError
from helix.hlx.value import DEFAULT_SIZE_LIMIT, MAX_DEPTH


def err(data: bytes, **kw) -> HLXError:
    with pytest.raises(HLXError) as ei:
        lcb.loads(data, **kw)
    return ei.value


def key(k: str) -> bytes:
    return lcb.uleb(len(k)) + k.encode()


def obj(*pairs) -> bytes:
    return b"\x07" + lcb.uleb(len(pairs)) + b"".join(key(k) + v for k, v in pairs) + b"\x08"


I1 = b"\x01\x01"  # INT 1


# ------------------------------------------------------------------ LEB128


@pytest.mark.parametrize("n", [0, 1, 63, 64, -64, -65, 127, 128, -129, 2**31, -(2**31), 2**63 - 1, -(2**63)])
def test_sleb_round_trip_and_minimal(n):
    b = lcb.sleb(n)
    assert lcb.loads(b"\x01" + b) == n
    # minimal: dropping a byte is a different number or invalid, never a shorter spelling of n
    if len(b) > 1:
        assert not (b[-1] in (0x00, 0x7F) and ((b[-2] & 0x40) == (b[-1] & 0x40)))


@pytest.mark.parametrize("n", [0, 1, 127, 128, 300, 2**21, 2**40])
def test_uleb(n):
    b = lcb.uleb(n)
    assert (len(b) == 1) == (n < 128)
    assert b[-1] < 0x80 and all(x & 0x80 for x in b[:-1])
    assert sum((x & 0x7F) << (7 * i) for i, x in enumerate(b)) == n


@pytest.mark.parametrize("payload", [b"\x80\x00", b"\xff\x7f", b"\xaa\x00", b"\x81\x80\x00", b"\xc0\x7f"])
def test_non_minimal_sleb_rejected(payload):
    e = err(b"\x01" + payload)
    assert e.code == "E_LC_DECODE" and e.offset == 1


def test_sleb_minimal_boundaries_accepted():
    assert lcb.loads(b"\x01\xc0\x00") == 64  # 64 needs the 0x00 (bit 6 of 0x40 is set)
    assert lcb.loads(b"\x01\xbf\x7f") == -65


def test_non_minimal_uleb_length_rejected():
    e = err(b"\x03\x80\x00")  # text of length 0 spelled with 2 bytes
    assert e.code == "E_LC_DECODE" and e.offset == 1 and "non-minimal" in e.message
    e = err(b"\x05\x81\x00\x00\x06")
    assert e.code == "E_LC_DECODE" and e.offset == 1


def test_int_out_of_range():
    too_big = b"\x01" + b"\x80" * 9 + b"\x01"  # 2^63
    assert err(too_big).code == "E_INT_RANGE"
    assert lcb.loads(b"\x01" + b"\xff" * 9 + b"\x00") == 2**63 - 1  # the 10-byte maximum
    assert err(b"\x01" + b"\xff" * 9 + b"\x01").code == "E_INT_RANGE"  # 2^64 - 1
    assert err(b"\x01" + b"\x80" * 9 + b"\x7e").code == "E_INT_RANGE"  # below -2^63
    assert err(b"\x01" + b"\x80" * 10 + b"\x01").code == "E_INT_RANGE"  # 11 bytes, minimal


def test_long_leb_runs_fail_fast():
    e = err(b"\x01" + b"\x80" * 100_000 + b"\x00")
    assert e.code == "E_LC_DECODE"
    e = err(b"\x03" + b"\xff" * 100_000 + b"\x01")
    assert e.code == "E_LC_DECODE" and e.offset == 1
    e = err(b"\x01" + b"\x80" * 50)  # never terminated
    assert e.code == "E_LC_DECODE"


# ------------------------------------------------------------------ scalars


def test_float_rules():
    assert lcb.loads(b"\x02" + struct.pack(">d", 0.0)) == 0.0
    assert err(b"\x02" + struct.pack(">d", -0.0)).code == "E_LC_DECODE"
    for f in (float("nan"), float("inf"), float("-inf")):
        e = err(b"\x02" + struct.pack(">d", f))
        assert e.code == "E_FLOAT_SPECIAL" and e.offset == 0
    assert err(b"\x02\x40\x09").code == "E_LC_DECODE"  # truncated
    assert lcb.dumps(-0.0) == lcb.dumps(0.0)


def test_text_rules():
    assert lcb.loads(b"\x03\x02\xc3\xa9") == "é"
    e = err(b"\x03\x03e\xcc\x81")  # NFD
    assert e.code == "E_LC_DECODE" and "NFC" in e.message
    e = err(b"\x03\x02\xc3\x28")
    assert e.code == "E_LC_DECODE" and e.offset == 2  # byte offset of the bad sequence
    assert err(b"\x03\x03\xed\xa0\x80").code == "E_LC_DECODE"  # encoded surrogate
    assert err(b"\x03\x02\xc0\xaf").code == "E_LC_DECODE"  # overlong
    e = err(b"\x03\x05&h_ab")
    assert e.code == "E_LC_DECODE" and "HANDLE_REF" in e.message
    assert lcb.loads(b"\x03\x02&h") == "&h"


def test_handle_rules():
    assert lcb.loads(b"\x09\x04&h_x") == "&h_x"
    for bad in (b"&h_", b"&h-x", b"&h_a b", b"&h_\xc3\xa9", b"abcd"):
        e = err(b"\x09" + lcb.uleb(len(bad)) + bad)
        assert e.code == "E_HANDLE_FORMAT" and e.offset == 0
    # an encoder never writes a handle as TEXT nor a text as HANDLE_REF
    assert lcb.dumps("&h_x")[0] == 0x09 and lcb.dumps("&hx")[0] == 0x03


def test_unknown_tags_and_structure_bytes_out_of_place():
    for tag in (0x0C, 0x10, 0xFF, 0x06, 0x08):
        e = err(bytes([tag]))
        assert e.code == "E_LC_DECODE" and e.offset == 0
    e = err(b"\x05\x01\x00\x08")  # array closed with OBJ_END
    assert e.code == "E_LC_DECODE" and e.offset == 3


def test_truncation_and_trailing_bytes():
    full = lcb.dumps({1000: {"@0": "search", "@1": "&h_documents", "@2": [1.5, None, b"\x00"]}})
    for cut in range(len(full)):
        with pytest.raises(HLXError) as ei:
            lcb.loads(full[:cut])
        assert ei.value.code == "E_LC_DECODE"
        assert 0 <= ei.value.offset <= cut
    e = err(full + b"\x00")
    assert e.code == "E_LC_DECODE" and e.offset == len(full)
    assert err(b"").code == "E_LC_DECODE"


def test_declared_sizes_beyond_the_input():
    e = err(b"\x05\xff\xff\xff\xff\x0f\x06")
    assert e.code == "E_LC_DECODE" and "exceeds" in e.message
    e = err(b"\x07\xff\xff\xff\x7f\x08")
    assert e.code == "E_LC_DECODE"
    e = err(b"\x04\x10abc")
    assert e.code == "E_LC_DECODE" and e.offset == 1


# ------------------------------------------------------------------ objects and keys


def test_key_order_and_repeats():
    assert lcb.loads(obj(("a", I1), ("b", I1))) == {"a": 1, "b": 1}
    e = err(obj(("b", I1), ("a", I1)))
    assert e.code == "E_FIELD_ORDER" and e.offset == 6
    assert err(obj(("a", I1), ("a", I1))).code == "E_FIELD_ORDER"
    assert lcb.loads(obj(("@2", I1), ("@10", I1))) == {"@2": 1, "@10": 1}
    assert err(obj(("@10", I1), ("@2", I1))).code == "E_FIELD_ORDER"
    assert err(obj(("@1", I1), ("@1", I1))).code == "E_FIELD_ORDER"
    assert lcb.loads(obj(("B", I1), ("_", I1), ("a", I1))) == {"B": 1, "_": 1, "a": 1}  # code points
    assert err(obj(("a", I1), ("_", I1))).code == "E_FIELD_ORDER"


@pytest.mark.parametrize(
    "data, code",
    [
        (obj(("a-b", I1)), "E_KEY_FORMAT"),
        (obj(("", I1)), "E_KEY_FORMAT"),
        (obj(("@01", I1)), "E_KEY_FORMAT"),
        (obj(("@", I1)), "E_KEY_FORMAT"),
        (obj(("@x", I1)), "E_KEY_FORMAT"),
        (obj(("1a", I1)), "E_KEY_FORMAT"),
        (obj(("007", obj())), "E_KEY_FORMAT"),
        (obj(("@0", I1), ("a", I1)), "E_KEY_FORMAT"),
        (obj(("a", I1), ("@0", I1)), "E_KEY_FORMAT"),
        (obj(("caf\xe9", I1)), "E_KEY_FORMAT"),
        (obj(("14", I1)), "E_CONTRACT_FORM"),
        (obj(("14", obj(("a", I1)))), "E_CONTRACT_FORM"),
        (obj(("14", b"\x05\x00\x06")), "E_CONTRACT_FORM"),
        (obj(("14", obj()), ("15", obj())), "E_CONTRACT_FORM"),
        (obj(("a", I1), ("14", obj())), "E_CONTRACT_FORM"),
        (obj(("4294967296", obj())), "E_CONTRACT_FORM"),
        (obj(("99999999999999999999999", obj())), "E_CONTRACT_FORM"),
    ],
)
def test_bad_keys(data, code):
    e = err(data)
    assert e.code == code and e.offset is not None


def test_contracts():
    assert lcb.loads(obj(("4294967295", obj()))) == {4294967295: {}}
    assert lcb.loads(obj(("0", obj(("@0", I1))))) == {0: {"@0": 1}}
    v = {902: {"@0": "x", "@3": [1]}}
    assert lcb.loads(lcb.dumps(v)) == v


def test_huge_field_index_keys_compare_without_int_conversion():
    big = "@" + "9" * 5000
    data = obj(("@1", I1), (big, I1))
    assert list(lcb.loads(data)) == ["@1", big]
    assert err(obj((big, I1), ("@1", I1))).code == "E_FIELD_ORDER"


# ------------------------------------------------------------------ depth and size


def nested_arrays(n: int) -> bytes:
    return b"\x05\x01" * n + b"\x00" + b"\x06" * n


def test_depth_limit():
    assert lcb.loads(nested_arrays(MAX_DEPTH)) is not None
    e = err(nested_arrays(MAX_DEPTH + 1))
    assert e.code == "E_DEPTH_EXCEEDED" and e.offset == 2 * MAX_DEPTH
    # a contract takes two levels, as in the value model
    c = obj(("14", obj(("@0", I1))))
    assert lcb.loads(nested_arrays(MAX_DEPTH - 2)[: 2 * (MAX_DEPTH - 2)] + c + b"\x06" * (MAX_DEPTH - 2))
    deep = b"\x05\x01" * (MAX_DEPTH - 1) + c + b"\x06" * (MAX_DEPTH - 1)
    assert err(deep).code == "E_DEPTH_EXCEEDED"
    with pytest.raises(HLXError) as ei:
        v = 0
        for _ in range(MAX_DEPTH + 1):
            v = [v]
        lcb.dumps(v)
    assert ei.value.code == "E_DEPTH_EXCEEDED"


def test_size_limit_encode_and_decode():
    big = b"\x00" * DEFAULT_SIZE_LIMIT
    with pytest.raises(HLXError) as ei:
        lcb.dumps(big)
    assert ei.value.code == "E_SIZE_EXCEEDED"
    data = lcb.dumps(big, size_limit=None)
    assert err(data).code == "E_SIZE_EXCEEDED"
    assert lcb.loads(data, size_limit=None) == big
    assert lcb.loads(lcb.dumps("x" * 100), size_limit=102) == "x" * 100
    assert err(lcb.dumps("x" * 100), size_limit=101).code == "E_SIZE_EXCEEDED"
    with pytest.raises(HLXError) as ei:
        lcb.loads_text(lcb.dumps_text("x" * 100), size_limit=50)
    assert ei.value.code == "E_SIZE_EXCEEDED"


# ------------------------------------------------------------------ text form


def test_text_form():
    assert lcb.dumps_text(42) == "[0x012a]"
    assert lcb.dumps_text("hello") == "[0x030568656c6c6f]"
    assert lcb.loads_text("[0x012a]") == 42


@pytest.mark.parametrize(
    "text, offset",
    [
        ("[0x012A]", 6),  # uppercase hex
        ("[0x012]", 6),  # odd length
        ("0x012a", 0),
        ("[0x012a", 7),
        ("[0x012a] ", 8),
        (" [0x012a]", 0),
        ("[0X012a]", 2),
        ("[0x01 2a]", 5),
        ("[0x]", 3),
        ("[0x0c]", 3),
        ("[0x012a00]", 7),  # trailing byte 2 -> char 3 + 2*2
    ],
)
def test_text_form_strict_with_char_offsets(text, offset):
    with pytest.raises(HLXError) as ei:
        lcb.loads_text(text)
    e = ei.value
    assert e.code == "E_LC_DECODE"
    assert e.offset == offset and e.line == 1 and e.col == offset + 1


def test_non_bytes_input():
    with pytest.raises(HLXError):
        lcb.loads("[0x00]")  # type: ignore[arg-type]
    assert lcb.loads(bytearray(b"\x00")) is None
    assert lcb.loads(memoryview(b"\x0a")) is True


def test_encoder_rejects_non_values():
    for bad in (object(), {1.5: 1}, {"a": 1, "@0": 2}, float("nan"), 2**63, "&h_bad-x", {(1,): 2}):
        with pytest.raises(HLXError):
            lcb.dumps(bad)
