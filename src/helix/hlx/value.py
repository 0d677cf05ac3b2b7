"""The one value model (spec §2) that every form lowers to.

Python representation: ``None``, ``bool``, ``int``, ``float``, ``str`` (a text, or a handle when
it starts with ``&h_``), ``bytes``, ``list`` and ``dict``. Objects are records (identifier keys),
fields objects (``@N`` keys) or contracts (one ``int`` key whose value is a fields object).

:func:`normalize` checks a value and returns its canonical copy (NFC texts, ``-0.0`` → ``0.0``,
keys in canonical order). Every printer works on normalized values; every reader returns them.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

from helix.hlx.errors import HLXError

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
CONTRACT_ID_MAX = 2**32 - 1
MAX_DEPTH = 64
DEFAULT_SIZE_LIMIT = 1 << 20  # E_SIZE_EXCEEDED above this many LC-B bytes

HANDLE_PREFIX = "&h_"
HANDLE_RE = re.compile(r"&h_[A-Za-z0-9_]+\Z")
IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
FIELD_RE = re.compile(r"@(0|[1-9][0-9]*)\Z")

Value = Any  # None | bool | int | float | str | bytes | list | dict


def is_handle(v: object) -> bool:
    return isinstance(v, str) and v.startswith(HANDLE_PREFIX)


def check_handle(s: str, **pos) -> str:
    if not HANDLE_RE.match(s):
        raise HLXError("E_HANDLE_FORMAT", f"malformed handle {s[:80]!r}", **pos)
    return s


def check_int(i: int, **pos) -> int:
    if not INT_MIN <= i <= INT_MAX:
        raise HLXError("E_INT_RANGE", "integer outside the signed 64-bit range", **pos)
    return i


def check_float(f: float, **pos) -> float:
    if not math.isfinite(f):
        raise HLXError("E_FLOAT_SPECIAL", f"float {f!r} is not finite", **pos)
    return 0.0 if f == 0.0 else f  # -0.0 -> 0.0


def check_text(s: str, **pos) -> str:
    """Validate a text that is not a handle and return it in NFC."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise HLXError("E_LC_ENCODE", "text holds a lone surrogate", **pos) from None
    return unicodedata.normalize("NFC", s)


def is_nfc(s: str) -> bool:
    return unicodedata.is_normalized("NFC", s)


def field_index(key: str) -> int:
    """``'@12'`` → 12 (the key must already match FIELD_RE)."""
    return int(key[1:])


def field_order(key: str) -> tuple[int, str]:
    """Sort key giving canonical field order (``@2`` before ``@10``) without converting the
    digits to an int (no leading zeros, so numeric order is (length, digits) order; this also
    works for keys longer than Python's int-conversion digit limit)."""
    return (len(key), key)


def key_kind(key: object) -> str:
    """'field', 'ident', 'contract' or 'bad' for one object key."""
    if isinstance(key, bool):
        return "bad"
    if isinstance(key, int):
        return "contract"
    if isinstance(key, str):
        if FIELD_RE.match(key):
            return "field"
        if IDENT_RE.match(key):
            return "ident"
    return "bad"


def object_kind(d: dict, **pos) -> str:
    """'record', 'fields' or 'contract'; raises E_KEY_FORMAT / E_CONTRACT_FORM otherwise."""
    if not d:
        return "record"
    kinds = {key_kind(k) for k in d}
    if "contract" in kinds:
        if len(d) != 1:
            raise HLXError("E_CONTRACT_FORM", "an int key must be the object's only key", **pos)
        (cid, body), = d.items()
        if not 0 <= cid <= CONTRACT_ID_MAX:
            raise HLXError("E_CONTRACT_FORM", f"contract id {cid} outside 0..2^32-1", **pos)
        if not isinstance(body, dict) or (body and {key_kind(k) for k in body} != {"field"}):
            raise HLXError("E_CONTRACT_FORM", f"contract {cid} must hold a fields object", **pos)
        return "contract"
    if kinds == {"field"}:
        return "fields"
    if kinds == {"ident"}:
        return "record"
    bad = next((k for k in d if key_kind(k) == "bad"), None)
    if bad is not None:
        raise HLXError("E_KEY_FORMAT", f"bad object key {str(bad)[:80]!r}", **pos)
    raise HLXError("E_KEY_FORMAT", "object mixes field keys (@N) and identifier keys", **pos)


def sorted_keys(d: dict, kind: str) -> list:
    if kind == "fields":
        return sorted(d, key=field_order)
    return sorted(d)  # records: code point order; a contract has one key


def normalize(v: Value, _depth: int = 0, _path: str = "$") -> Value:
    """Check ``v`` against the value model and return its canonical copy."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        return check_int(v, path=_path)
    if isinstance(v, float):
        return check_float(v, path=_path)
    if isinstance(v, str):
        if v.startswith(HANDLE_PREFIX):
            return check_handle(v, path=_path)
        return check_text(v, path=_path)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, (list, dict)):
        if _depth + 1 > MAX_DEPTH:
            raise HLXError("E_DEPTH_EXCEEDED", f"nesting deeper than {MAX_DEPTH}", path=_path)
        if isinstance(v, list):
            return [normalize(x, _depth + 1, f"{_path}[{i}]") for i, x in enumerate(v)]
        kind = object_kind(v, path=_path)
        if kind == "contract":
            (cid, body), = v.items()
            return {cid: normalize(body, _depth + 1, f"{_path}.{cid}")}
        return {k: normalize(v[k], _depth + 1, f"{_path}.{k}") for k in sorted_keys(v, kind)}
    raise HLXError("E_LC_ENCODE", f"{type(v).__name__} is not an HLX value", path=_path)


def type_tag(v: Value) -> str:
    """Default collapse tag (spec §9): null bool int float text bytes array object contract<id>."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "handle" if is_handle(v) else "text"
    if isinstance(v, bytes):
        return "bytes"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        if len(v) == 1:
            (k,) = v
            if key_kind(k) == "contract":
                return f"contract{k}"
        return "object"
    raise HLXError("E_LC_ENCODE", f"{type(v).__name__} is not an HLX value")

