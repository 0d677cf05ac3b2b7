"""HLX, the contract form (spec §7): a value written as a Python literal.

Printer: ``None``, ``True``, ``False``, canonical numbers, double-quoted texts (§3, non-ASCII
kept), handles as quoted texts (``"&h_vert"``), bytes as ``b"\\xde\\xad"`` (every byte ``\\xNN``,
lowercase), lists, dicts with int contract ids and quoted keys, canonical key order, separators
``", "`` and ``": "``: ``{902: {"@0": "cube_renderer", "@1": ["&h_vert", "&h_frag"]}}``.

Reader: a hand-written literal parser (nothing is ever evaluated; ``__import__('os')``,
``float('nan')``, names, calls and operators are ``E_LC_PARSE``). It is lenient exactly where
people write HLX by hand and strict everywhere else:

* keys may come in any order and are put in canonical order; a repeated key is ``E_FIELD_ORDER``;
* numbers may use any decimal spelling Python's grammar shares with JSON (``1.50``, ``1E5``,
  ``-0``, ``-0.0`` -> ``0.0``); no ``+``, no leading zeros, no ``_``, no hex;
* texts are normalized to NFC (the value model stores NFC);
* everything else is exact: double quotes only, only the §3 escapes, separators exactly
  ``", "`` and ``": "``, no whitespace elsewhere, no trailing commas, bytes only as ``\\xNN``
  with lowercase hex.

Errors are ``HLXError`` with the character ``offset`` and ``line``/``col``.
"""

from __future__ import annotations

import re

from helix.hlx.errors import HLXError, check_unicode
from helix.hlx.escape import fail, format_float, quote, read_text
from helix.hlx.lct import _plain, read_num
from helix.hlx.value import (
    HANDLE_PREFIX,
    HANDLE_RE,
    MAX_DEPTH,
    check_text,
    normalize,
    object_kind,
)

# --- printer ----------------------------------------------------------------------------------

_BYTE_ESC = [f"\\x{i:02x}" for i in range(256)]
_KEY_TEXT: dict = {}


def _key_text(k) -> str:
    s = _KEY_TEXT.get(k)
    if s is None:
        s = f"{k}: " if type(k) is int else f'"{k}": '
        if len(_KEY_TEXT) < 4096:
            _KEY_TEXT[k] = s
    return s


def _w(v, out: list) -> None:
    t = type(v)
    if t is str:
        out.append(quote(v))
    elif t is dict:
        out.append("{")
        first = True
        for k, x in v.items():
            if first:
                first = False
            else:
                out.append(", ")
            out.append(_key_text(k))
            _w(x, out)
        out.append("}")
    elif t is int:
        out.append(str(v))
    elif t is list:
        out.append("[")
        first = True
        for x in v:
            if first:
                first = False
            else:
                out.append(", ")
            _w(x, out)
        out.append("]")
    elif v is None:
        out.append("None")
    elif v is True:
        out.append("True")
    elif v is False:
        out.append("False")
    elif t is float:
        out.append(format_float(v))
    elif t is bytes:
        out.append('b"' + "".join([_BYTE_ESC[b] for b in v]) + '"')
    else:  # subclass of a basic type
        _w(normalize(_plain(v)), out)


def dumps(value, *, normalized: bool = False) -> str:
    """HLX text of ``value`` (normalized first unless ``normalized=True``)."""
    if not normalized:
        value = normalize(value)
    out: list = []
    _w(value, out)
    return "".join(out)


# --- reader -----------------------------------------------------------------------------------

_BYTES_BODY = re.compile(r'((?:\\x[0-9a-f]{2})*)"')
_NUM_START = frozenset("-0123456789")
_WORDS = (("None", None), ("True", True), ("False", False))


class _Reader:
    __slots__ = ("text", "n")

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)

    def err(self, code: str, msg: str, at: int) -> HLXError:
        return fail(code, msg, self.text, at)

    def _sep(self, p: int, close: str, what: str) -> tuple[bool, int]:
        """After an item: (True, p+1) at ``close``; (False, p+2) after ', '."""
        t = self.text
        if p < self.n and t[p] == close:
            return True, p + 1
        if t.startswith(", ", p):
            return False, p + 2
        if p >= self.n:
            raise self.err("E_LC_PARSE", f"unexpected end of text (', ' or {close!r} expected)", p)
        if t[p] == ",":
            raise self.err("E_LC_PARSE", "a ',' must be followed by exactly one space", p)
        raise self.err("E_LC_PARSE", f"{what}: ', ' or {close!r} expected, found {t[p]!r}", p)

    def value(self, p: int, depth: int):
        t = self.text
        if p >= self.n:
            raise self.err("E_LC_PARSE", "unexpected end of text (a value expected)", p)
        c = t[p]
        if c == '"':
            s, end = read_text(t, p, code="E_LC_PARSE")
            if s.startswith(HANDLE_PREFIX):
                if not HANDLE_RE.match(s):
                    raise self.err("E_HANDLE_FORMAT", f"malformed handle {s[:80]!r}", p)
                return s, end
            if not s.isascii():
                try:
                    s = check_text(s)
                except HLXError as e:
                    raise self.err(e.code, e.message, p) from None
            return s, end
        if c in _NUM_START:
            return read_num(t, p, code="E_LC_PARSE", strict=False)
        if c == "[":
            if depth + 1 > MAX_DEPTH:
                raise self.err("E_DEPTH_EXCEEDED", f"nesting deeper than {MAX_DEPTH}", p)
            q = p + 1
            items: list = []
            if q < self.n and t[q] == "]":
                return items, q + 1
            while True:
                x, q = self.value(q, depth + 1)
                items.append(x)
                done, q = self._sep(q, "]", "in a list")
                if done:
                    return items, q
        if c == "{":
            return self.obj(p, depth + 1)
        if c == "b" and t.startswith('b"', p):
            m = _BYTES_BODY.match(t, p + 2)
            if m is None:
                q = p + 2
                while t.startswith("\\x", q) and re.match(r"[0-9a-f]{2}", t[q + 2 : q + 4]):
                    q += 4
                if q >= self.n:
                    raise self.err("E_LC_PARSE", "unterminated bytes literal", p)
                raise self.err("E_LC_PARSE", "bytes are written only as \\xNN (lowercase hex)", q)
            return bytes.fromhex(m.group(1).replace("\\x", "")), m.end()
        for word, val in _WORDS:
            if t.startswith(word, p):
                return val, p + len(word)
        raise self.err("E_LC_PARSE", f"unexpected {c!r} (an HLX literal expected)", p)

    def obj(self, p: int, depth: int):
        t = self.text
        if depth > MAX_DEPTH:
            raise self.err("E_DEPTH_EXCEEDED", f"nesting deeper than {MAX_DEPTH}", p)
        q = p + 1
        out: dict = {}
        if q < self.n and t[q] == "}":
            return out, q + 1
        while True:
            kpos = q
            if q < self.n and t[q] == '"':
                key, q = read_text(t, q, code="E_LC_PARSE")
            elif q < self.n and t[q] in _NUM_START:
                key, q = read_num(t, q, code="E_LC_PARSE", strict=True)
                if type(key) is not int:
                    raise self.err("E_KEY_FORMAT", "an object key is a quoted text or an int contract id", kpos)
            else:
                raise self.err("E_LC_PARSE", "a key expected (\"name\", \"@N\" or a contract id)", q)
            if not t.startswith(": ", q):
                raise self.err("E_LC_PARSE", "': ' expected after the key", q)
            if key in out:
                raise self.err("E_FIELD_ORDER", f"repeated key {str(key)[:80]!r}", kpos)
            out[key], q = self.value(q + 2, depth)
            done, q = self._sep(q, "}", "in a dict")
            if done:
                break
        try:
            kind = object_kind(out)
        except HLXError as e:
            raise self.err(e.code, e.message, p) from None
        if kind == "contract" or len(out) < 2:
            return out, q
        if kind == "fields":  # canonical decimals sort by (length, digits): no int() of huge N
            return {k: out[k] for k in sorted(out, key=lambda k: (len(k), k))}, q
        return {k: out[k] for k in sorted(out)}, q


def loads(text: str):
    """Read one HLX literal into a normalized value (never evaluates anything)."""
    if not isinstance(text, str):
        raise HLXError("E_LC_PARSE", f"HLX input must be str, not {type(text).__name__}")
    check_unicode(text)
    r = _Reader(text)
    v, end = r.value(0, 0)
    if end != r.n:
        raise r.err("E_LC_PARSE", "trailing characters after the value", end)
    return v

