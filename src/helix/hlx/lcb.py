"""LC-B, the binary wire format (spec §4), and its text form ``[0x…]``.

``dumps(value) -> bytes`` normalizes the value first (unless ``normalized=True``) and writes one
tag byte per value; ``loads(data)`` is the strict decoder. Every decode error is an ``HLXError``
carrying its code and the byte ``offset`` where the problem starts; the decoder never recurses
deeper than :data:`~helix.hlx.value.MAX_DEPTH`, never allocates more than the input holds and
reads each byte a bounded number of times (a 1 MiB hostile message fails in milliseconds).

The text form (``dumps_text`` / ``loads_text``) is ``"[0x" + lowercase hex + "]"``. Its errors
report the *character* offset in the text (plus line/col, always line 1) and name the byte offset
in the message, so a caller can point at the exact hex digit.
"""

from __future__ import annotations

import math
import re
import struct
import unicodedata

from helix.hlx.errors import HLXError, check_unicode
from helix.hlx.value import (
    CONTRACT_ID_MAX,
    DEFAULT_SIZE_LIMIT,
    FIELD_RE,
    HANDLE_PREFIX,
    HANDLE_RE,
    IDENT_RE,
    INT_MAX,
    INT_MIN,
    MAX_DEPTH,
    normalize,
)

# --- tags -------------------------------------------------------------------------------------
NULL = 0x00
INT = 0x01
FLOAT = 0x02
TEXT = 0x03
BYTES = 0x04
ARR_START = 0x05
ARR_END = 0x06
OBJ_START = 0x07
OBJ_END = 0x08
HANDLE_REF = 0x09
TRUE = 0x0A
FALSE = 0x0B

_PACK_D = struct.Struct(">d").pack
_UNPACK_D = struct.Struct(">d").unpack_from

# ULEB128 of 0..127 is the byte itself; cache them (lengths and counts are mostly small).
_ULEB_SMALL = [bytes((i,)) for i in range(128)]


def uleb(n: int) -> bytes:
    """Minimal ULEB128 of ``n >= 0``."""
    if n < 128:
        return _ULEB_SMALL[n]
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def sleb(n: int) -> bytes:
    """Minimal SLEB128 of ``n``."""
    if -64 <= n < 64:
        return _ULEB_SMALL[n & 0x7F]
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if (n == 0 and not b & 0x40) or (n == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


# --- encoder ----------------------------------------------------------------------------------

_KEY_CACHE: dict = {}  # object key -> ULEB(len) + ASCII bytes


def _key_bytes(k) -> bytes:
    kb = _KEY_CACHE.get(k)
    if kb is None:
        raw = (str(k) if isinstance(k, int) else k).encode("ascii")
        kb = uleb(len(raw)) + raw
        if len(_KEY_CACHE) < 4096:
            _KEY_CACHE[k] = kb
    return kb


_B_NULL = b"\x00"
_B_TRUE = b"\x0a"
_B_FALSE = b"\x0b"
_B_INT = b"\x01"
_B_FLOAT = b"\x02"
_B_TEXT = b"\x03"
_B_BYTES = b"\x04"
_B_ARR = b"\x05"
_B_ARR_END = b"\x06"
_B_OBJ = b"\x07"
_B_OBJ_END = b"\x08"
_B_HANDLE = b"\x09"


def _enc(v, out: list) -> None:
    """Append the encoding of a *normalized* value to ``out`` (a list of bytes chunks)."""
    t = type(v)
    if t is str:
        b = v.encode("utf-8")
        out.append(_B_HANDLE if v.startswith(HANDLE_PREFIX) else _B_TEXT)
        out.append(uleb(len(b)))
        out.append(b)
    elif t is int:
        out.append(_B_INT)
        out.append(sleb(v))
    elif t is dict:
        out.append(_B_OBJ)
        out.append(uleb(len(v)))
        for k, x in v.items():
            out.append(_key_bytes(k))
            _enc(x, out)
        out.append(_B_OBJ_END)
    elif t is list:
        out.append(_B_ARR)
        out.append(uleb(len(v)))
        for x in v:
            _enc(x, out)
        out.append(_B_ARR_END)
    elif v is None:
        out.append(_B_NULL)
    elif v is True:
        out.append(_B_TRUE)
    elif v is False:
        out.append(_B_FALSE)
    elif t is float:
        out.append(_B_FLOAT)
        out.append(_PACK_D(v))
    elif t is bytes:
        out.append(_B_BYTES)
        out.append(uleb(len(v)))
        out.append(v)
    else:  # subclasses of the basic types (normalize keeps e.g. IntEnum as is)
        if isinstance(v, bool):
            out.append(_B_TRUE if v else _B_FALSE)
        elif isinstance(v, int):
            out.append(_B_INT)
            out.append(sleb(int(v)))
        elif isinstance(v, float):
            out.append(_B_FLOAT)
            out.append(_PACK_D(float(v)))
        elif isinstance(v, str):
            _enc(str(v), out)
        elif isinstance(v, (bytes, bytearray, memoryview)):
            _enc(bytes(v), out)
        elif isinstance(v, dict):
            _enc(dict(v), out)
        elif isinstance(v, list):
            _enc(list(v), out)
        else:
            raise HLXError("E_LC_ENCODE", f"{type(v).__name__} is not an HLX value")


def dumps(value, *, normalized: bool = False, size_limit: int | None = DEFAULT_SIZE_LIMIT) -> bytes:
    """LC-B bytes of ``value``. ``normalized=True`` skips the check (the value must already be
    normalized). Over ``size_limit`` bytes (None: no limit) -> ``E_SIZE_EXCEEDED``."""
    if not normalized:
        value = normalize(value)
    out: list = []
    _enc(value, out)
    data = b"".join(out)
    if size_limit is not None and len(data) > size_limit:
        raise HLXError(
            "E_SIZE_EXCEEDED",
            f"LC-B message of {len(data)} bytes exceeds the limit of {size_limit} bytes",
            offset=size_limit,
        )
    return data


def dumps_text(value, *, normalized: bool = False,
               size_limit: int | None = DEFAULT_SIZE_LIMIT) -> str:
    """``[0x…]`` text form of the LC-B bytes."""
    return "[0x" + dumps(value, normalized=normalized, size_limit=size_limit).hex() + "]"


# --- decoder ----------------------------------------------------------------------------------

# A run of continuation bytes then one final byte; used to find where a LEB128 ends in C speed.
_LEB_RUN = re.compile(rb"[\x80-\xff]*[\x00-\x7f]", re.DOTALL)
_MINUS_ZERO = b"\x80\x00\x00\x00\x00\x00\x00\x00"
_DIGITS = frozenset(b"0123456789")


def _err(code: str, msg: str, offset: int) -> HLXError:
    return HLXError(code, f"{msg} (byte {offset})", offset=offset)


class _Decoder:
    __slots__ = ("data", "n")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.n = len(data)

    # LEB128 ---------------------------------------------------------------------------------
    def uleb(self, i: int, what: str) -> tuple[int, int]:
        data = self.data
        if i >= self.n:
            raise _err("E_LC_DECODE", f"truncated: {what} expected", i)
        b = data[i]
        if b < 0x80:
            return b, i + 1
        m = _LEB_RUN.match(data, i)
        if m is None:
            raise _err("E_LC_DECODE", f"truncated ULEB128 {what}", i)
        end = m.end()
        if data[end - 1] == 0:
            raise _err("E_LC_DECODE", f"non-minimal ULEB128 {what}", i)
        if end - i > 9:  # >= 2^63: more than any message can hold
            raise _err("E_LC_DECODE", f"{what} too large", i)
        n = 0
        shift = 0
        for j in range(i, end):
            n |= (data[j] & 0x7F) << shift
            shift += 7
        return n, end

    def sleb(self, i: int) -> tuple[int, int]:
        data = self.data
        if i >= self.n:
            raise _err("E_LC_DECODE", "truncated: SLEB128 integer expected", i)
        b = data[i]
        if b < 0x80:
            return (b - 0x80 if b & 0x40 else b), i + 1
        m = _LEB_RUN.match(data, i)
        if m is None:
            raise _err("E_LC_DECODE", "truncated SLEB128 integer", i)
        end = m.end()
        last = data[end - 1]
        prev = data[end - 2]
        if (last == 0x00 and not prev & 0x40) or (last == 0x7F and prev & 0x40):
            raise _err("E_LC_DECODE", "non-minimal SLEB128 integer", i)
        if end - i > 10:
            raise _err("E_INT_RANGE", "integer outside the signed 64-bit range", i)
        n = 0
        shift = 0
        for j in range(i, end):
            n |= (data[j] & 0x7F) << shift
            shift += 7
        if last & 0x40:
            n -= 1 << shift
        if not INT_MIN <= n <= INT_MAX:
            raise _err("E_INT_RANGE", "integer outside the signed 64-bit range", i)
        return n, end

    def length(self, i: int, what: str) -> tuple[int, int]:
        n, j = self.uleb(i, what)
        if n > self.n - j:
            raise _err("E_LC_DECODE", f"declared {what} {n} exceeds the {self.n - j} bytes left", i)
        return n, j

    # values ---------------------------------------------------------------------------------
    def value(self, i: int, depth: int):
        data = self.data
        if i >= self.n:
            raise _err("E_LC_DECODE", "truncated: value expected", i)
        tag = data[i]
        if tag == TEXT:
            n, j = self.length(i + 1, "text length")
            raw = data[j : j + n]
            try:
                s = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise _err("E_LC_DECODE", f"invalid UTF-8 in text: {e.reason}", j + e.start) from None
            if not s.isascii():
                if not unicodedata.is_normalized("NFC", s):
                    raise _err("E_LC_DECODE", "text is not in Unicode NFC", i)
            if s.startswith(HANDLE_PREFIX):
                raise _err("E_LC_DECODE", "a TEXT starting with '&h_' must be a HANDLE_REF", i)
            return s, j + n
        if tag == INT:
            return self.sleb(i + 1)
        if tag == OBJ_START:
            return self.obj(i, depth + 1)
        if tag == ARR_START:
            if depth + 1 > MAX_DEPTH:
                raise _err("E_DEPTH_EXCEEDED", f"nesting deeper than {MAX_DEPTH}", i)
            count, j = self.length(i + 1, "array count")
            items = []
            append = items.append
            value = self.value
            for _ in range(count):
                x, j = value(j, depth + 1)
                append(x)
            if j >= self.n:
                raise _err("E_LC_DECODE", "truncated: ARR_END expected", j)
            if data[j] != ARR_END:
                raise _err("E_LC_DECODE", f"ARR_END expected, found tag 0x{data[j]:02x}", j)
            return items, j + 1
        if tag == HANDLE_REF:
            n, j = self.length(i + 1, "handle length")
            raw = data[j : j + n]
            s = raw.decode("latin-1")
            if not HANDLE_RE.match(s):
                raise _err("E_HANDLE_FORMAT", f"malformed handle {s[:80]!r}", i)
            return s, j + n
        if tag == NULL:
            return None, i + 1
        if tag == TRUE:
            return True, i + 1
        if tag == FALSE:
            return False, i + 1
        if tag == FLOAT:
            j = i + 1
            if self.n - j < 8:
                raise _err("E_LC_DECODE", "truncated FLOAT (8 bytes expected)", j)
            chunk = data[j : j + 8]
            (f,) = _UNPACK_D(chunk)
            if not math.isfinite(f):
                raise _err("E_FLOAT_SPECIAL", f"float {f!r} is not finite", i)
            if chunk == _MINUS_ZERO:
                raise _err("E_LC_DECODE", "-0.0 is not canonical (0.0 is)", i)
            return f, j + 8
        if tag == BYTES:
            n, j = self.length(i + 1, "bytes length")
            return bytes(data[j : j + n]), j + n
        raise _err("E_LC_DECODE", f"unknown tag 0x{tag:02x}", i)

    def obj(self, i: int, depth: int):
        data = self.data
        if depth > MAX_DEPTH:
            raise _err("E_DEPTH_EXCEEDED", f"nesting deeper than {MAX_DEPTH}", i)
        count, j = self.length(i + 1, "object count")
        out: dict = {}
        kind = None  # 'field' | 'ident' | 'contract'
        last = None  # previous key's sort key
        for _ in range(count):
            kpos = j
            klen, j = self.length(j, "key length")
            raw = data[j : j + klen]
            j += klen
            if raw and raw[0] == 0x40:  # '@'
                try:
                    key = raw.decode("ascii")
                except UnicodeDecodeError:
                    key = ""
                if not FIELD_RE.match(key):
                    raise _err("E_KEY_FORMAT", f"bad field key {raw[:80]!r}", kpos)
                k_kind, sort = "field", (len(key), key)  # canonical decimals: by length, then digits
            elif raw and raw[0] in _DIGITS:
                if not all(c in _DIGITS for c in raw):
                    raise _err("E_KEY_FORMAT", f"bad object key {raw[:80]!r}", kpos)
                if len(raw) > 1 and raw[0] == 0x30:
                    raise _err("E_KEY_FORMAT", f"contract id {raw[:80]!r} has a leading zero", kpos)
                if len(raw) > 10 or int(raw) > CONTRACT_ID_MAX:
                    raise _err("E_CONTRACT_FORM", f"contract id {raw[:80]!r} outside 0..2^32-1", kpos)
                key = int(raw)
                k_kind, sort = "contract", key
                if count != 1:
                    raise _err("E_CONTRACT_FORM", "a contract id must be the object's only key", kpos)
            else:
                try:
                    key = raw.decode("ascii")
                except UnicodeDecodeError:
                    key = ""
                if not IDENT_RE.match(key):
                    raise _err("E_KEY_FORMAT", f"bad object key {raw[:80]!r}", kpos)
                k_kind, sort = "ident", key
            if kind is None:
                kind = k_kind
            elif k_kind != kind:
                raise _err("E_KEY_FORMAT", "object mixes field keys (@N) and identifier keys", kpos)
            elif sort <= last:
                what = "repeated" if sort == last else "out of canonical order"
                raise _err("E_FIELD_ORDER", f"key {key!r} {what}", kpos)
            last = sort
            vpos = j
            x, j = self.value(j, depth)
            if kind == "contract":
                if type(x) is not dict or (x and type(next(iter(x))) is not str) or (
                    x and next(iter(x))[0] != "@"
                ):
                    raise _err("E_CONTRACT_FORM", f"contract {key} must hold a fields object", vpos)
            out[key] = x
        if j >= self.n:
            raise _err("E_LC_DECODE", "truncated: OBJ_END expected", j)
        if data[j] != OBJ_END:
            raise _err("E_LC_DECODE", f"OBJ_END expected, found tag 0x{data[j]:02x}", j)
        return out, j + 1


def loads(data, *, size_limit: int | None = DEFAULT_SIZE_LIMIT):
    """Strictly decode one LC-B message (``bytes``-like) into a normalized value."""
    if not isinstance(data, bytes):
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        else:
            raise HLXError("E_LC_DECODE", f"LC-B input must be bytes, not {type(data).__name__}")
    if size_limit is not None and len(data) > size_limit:
        raise HLXError(
            "E_SIZE_EXCEEDED",
            f"LC-B message of {len(data)} bytes exceeds the limit of {size_limit} bytes",
            offset=size_limit,
        )
    if not data:
        raise _err("E_LC_DECODE", "empty message: a value expected", 0)
    dec = _Decoder(data)
    v, end = dec.value(0, 0)
    if end != len(data):
        raise _err("E_LC_DECODE", f"{len(data) - end} trailing byte(s) after the value", end)
    return v


_TEXT_RE = re.compile(r"\[0x((?:[0-9a-f]{2})*)\]\Z")
_HEX = frozenset("0123456789abcdef")


def _text_err(code: str, msg: str, text: str, offset: int) -> HLXError:
    return HLXError(code, msg, offset=offset, line=1, col=offset + 1)


def loads_text(text: str, *, size_limit: int | None = DEFAULT_SIZE_LIMIT):
    """Decode the ``[0x…]`` text form. Errors carry the character offset in ``text``."""
    if not isinstance(text, str):
        raise HLXError("E_LC_DECODE", f"LC-B text must be str, not {type(text).__name__}")
    check_unicode(text)
    m = _TEXT_RE.match(text)
    if m is None:
        _diagnose_text(text)
    hexs = m.group(1)
    if size_limit is not None and len(hexs) // 2 > size_limit:
        raise _text_err(
            "E_SIZE_EXCEEDED",
            f"LC-B message of {len(hexs) // 2} bytes exceeds the limit of {size_limit} bytes",
            text, 3 + 2 * size_limit,
        )
    data = bytes.fromhex(hexs)
    try:
        return loads(data, size_limit=size_limit)
    except HLXError as e:
        if e.offset is None:
            raise
        off = 3 + 2 * e.offset
        raise _text_err(e.code, e.message, text, off) from None


def _diagnose_text(text: str):
    """Raise the precise E_LC_DECODE for a malformed ``[0x…]`` text."""
    if not text.startswith("[0x"):
        i = next((k for k, c in enumerate("[0x") if k >= len(text) or text[k] != c), 0)
        raise _text_err("E_LC_DECODE", "LC-B text must start with '[0x'", text, i)
    i = 3
    n = len(text)
    while i < n and text[i] in _HEX:
        i += 1
    if i >= n:
        raise _text_err("E_LC_DECODE", "LC-B text must end with ']'", text, n)
    if text[i] != "]":
        c = text[i]
        why = "uppercase hex digit" if c in "ABCDEF" else f"unexpected character {c!r}"
        raise _text_err("E_LC_DECODE", f"{why} in LC-B text (lowercase hex only)", text, i)
    if (i - 3) % 2:
        raise _text_err("E_LC_DECODE", "odd number of hex digits in LC-B text", text, i)
    raise _text_err("E_LC_DECODE", "trailing characters after ']'", text, i + 1)


def values_equal(a, b) -> bool:
    """Equality as the spec defines it: equal LC-B encodings."""
    return dumps(a) == dumps(b)
