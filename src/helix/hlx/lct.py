"""LC-T, the text wire format (spec §5): ``[OBJ_START, KEY(14), OBJ_START, FIELD_0, INT(42), …]``.

One token per LC-B tag, separated by exactly ``", "``, inside ``[`` … ``]``. The text is ASCII-only
(texts use ``\\uXXXX`` / ``\\UXXXXXXXX`` escapes). The reader is strict: only the canonical
spelling of every token is accepted (canonical numbers, lowercase hex, NFC texts, keys in
canonical order — out of order or repeated is ``E_FIELD_ORDER``); a quoted text may not start
with ``&h_`` (handles are ``HANDLE(&h_…)``). Errors are ``HLXError`` with the character
``offset`` and ``line``/``col``; syntax errors are ``E_LC_PARSE``.
"""

from __future__ import annotations

import re

from helix.hlx.errors import HLXError, check_unicode
from helix.hlx.escape import fail, format_float, quote, read_text
from helix.hlx.value import (
    CONTRACT_ID_MAX,
    HANDLE_PREFIX,
    INT_MAX,
    INT_MIN,
    MAX_DEPTH,
    normalize,
)

# --- shared lexical helper (also used by lcr and hlxform) -------------------------------------

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def read_num(text: str, pos: int, *, code: str, strict: bool) -> tuple[int | float, int]:
    """Read an int or float literal at ``pos``; return (value, end).

    ``strict``: only canonical spellings (``str(int)``, ``repr(float)``; no ``-0``, ``-0.0``,
    ``1.50``, ``1E5``). Never converts an absurdly long digit string (E_INT_RANGE instead).
    """
    m = _NUMBER.match(text, pos)
    if m is None:
        raise fail(code, "expected a number", text, pos)
    lit = m.group()
    end = m.end()
    if m.group(1) is None and m.group(2) is None:
        digits = len(lit) - (lit[0] == "-")
        if digits > 19:
            raise fail("E_INT_RANGE", "integer outside the signed 64-bit range", text, pos)
        i = int(lit)
        if not INT_MIN <= i <= INT_MAX:
            raise fail("E_INT_RANGE", "integer outside the signed 64-bit range", text, pos)
        if strict and lit == "-0":
            raise fail(code, "-0 is not canonical (0 is)", text, pos)
        return i, end
    f = float(lit)
    if f != f or f in (float("inf"), float("-inf")):
        raise fail("E_FLOAT_SPECIAL", f"float literal {lit[:40]} is not finite", text, pos)
    if f == 0.0:
        f = 0.0
    if strict and lit != format_float(f):
        raise fail(code, f"float {lit[:40]} is not in canonical form ({format_float(f)})", text, pos)
    return f, end

# --- printer ----------------------------------------------------------------------------------

_KEY_TOKEN: dict = {}


def _key_token(k) -> str:
    t = _KEY_TOKEN.get(k)
    if t is None:
        if isinstance(k, int):
            t = f"KEY({k})"
        elif k[0] == "@":
            t = "FIELD_" + k[1:]
        else:
            t = f"KEY({k})"
        if len(_KEY_TOKEN) < 4096:
            _KEY_TOKEN[k] = t
    return t


def _toks(v, out: list) -> None:
    t = type(v)
    if t is str:
        if v.startswith(HANDLE_PREFIX):
            out.append(f"HANDLE({v})")
        else:
            out.append(f"TEXT({quote(v, True)})")
    elif t is dict:
        out.append("OBJ_START")
        for k, x in v.items():
            out.append(_key_token(k))
            _toks(x, out)
        out.append("OBJ_END")
    elif t is int:
        out.append(f"INT({v})")
    elif t is list:
        out.append("ARR_START")
        for x in v:
            _toks(x, out)
        out.append("ARR_END")
    elif v is None:
        out.append("NULL")
    elif v is True:
        out.append("TRUE")
    elif v is False:
        out.append("FALSE")
    elif t is float:
        out.append(f"FLOAT({format_float(v)})")
    elif t is bytes:
        out.append(f"BYTES({v.hex()})")
    else:  # subclass of a basic type: print its plain equivalent
        _toks(normalize(_plain(v)), out)


def _plain(v):
    for base in (bool, int, float, str, bytes, list, dict):
        if isinstance(v, base):
            return base(v)
    return v


def dumps(value, *, normalized: bool = False) -> str:
    """LC-T text of ``value`` (normalized first unless ``normalized=True``)."""
    if not normalized:
        value = normalize(value)
    out: list = []
    _toks(value, out)
    return "[" + ", ".join(out) + "]"


# --- reader -----------------------------------------------------------------------------------

# One token (the ones whose payload needs a dedicated reader stop at the opening parenthesis).
_TOKEN = re.compile(
    r"(?P<w>NULL|TRUE|FALSE|ARR_START|ARR_END|OBJ_START|OBJ_END)"
    r"|FIELD_(?P<field>0|[1-9][0-9]*)(?![0-9])"
    r"|INT\((?P<int>-?(?:0|[1-9][0-9]*))\)"
    r"|KEY\((?:(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<cid>0|[1-9][0-9]*))\)"
    r"|HANDLE\((?P<handle>&h_[A-Za-z0-9_]+)\)"
    r"|BYTES\((?P<bytes>(?:[0-9a-f]{2})*)\)"
    r"|(?P<open>FLOAT|TEXT)\("
)
_INT_MAX_DIGITS = 19
_INTFLOAT = re.compile(r"-?[0-9]+[.eE]")


class _Reader:
    __slots__ = ("text", "n", "pos")

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.pos = 0

    def err(self, code: str, msg: str, at: int | None = None) -> HLXError:
        return fail(code, msg, self.text, self.pos if at is None else at)

    def sep(self) -> None:
        """After a token: ', ' (another token follows) -- the caller handles ']' at the end."""
        t = self.text
        p = self.pos
        if t.startswith(", ", p):
            self.pos = p + 2
            return
        if p >= self.n:
            raise self.err("E_LC_PARSE", "unexpected end of LC-T stream (missing tokens or ']')")
        if t[p] == "]":
            raise self.err("E_LC_PARSE", "stream ends before the value is complete")
        raise self.err("E_LC_PARSE", "expected ', ' between tokens")

    def token(self):
        """Read one token at pos; returns (kind, payload, start)."""
        t = self.text
        p = self.pos
        m = _TOKEN.match(t, p)
        if m is None:
            raise self._bad_token(p)
        g = m.lastgroup
        if g == "open":
            if m.group("open") == "TEXT":
                s, end = read_text(t, m.end(), code="E_LC_PARSE", ascii_only=True, require_nfc=True)
                if s.startswith(HANDLE_PREFIX):
                    raise self.err("E_LC_PARSE", "a TEXT may not start with '&h_' (use HANDLE)", p)
                val = ("v", s)
            else:
                f, end = read_num(t, m.end(), code="E_LC_PARSE", strict=True)
                if type(f) is not float:
                    raise self.err("E_LC_PARSE", "FLOAT needs '.' or an exponent (use INT)", m.end())
                val = ("v", f)
            if end >= self.n or t[end] != ")":
                raise self.err("E_LC_PARSE", "expected ')'", end)
            self.pos = end + 1
            return val[0], val[1], p
        self.pos = m.end()
        if g == "w":
            return m.group("w"), None, p
        if g == "field":
            return "key", "@" + m.group("field"), p
        if g == "int":
            lit = m.group("int")
            if len(lit.lstrip("-")) > _INT_MAX_DIGITS:
                raise self.err("E_INT_RANGE", "integer outside the signed 64-bit range", p + 4)
            i = int(lit)
            if lit == "-0":
                raise self.err("E_LC_PARSE", "INT(-0) is not canonical (INT(0) is)", p + 4)
            if not INT_MIN <= i <= INT_MAX:
                raise self.err("E_INT_RANGE", "integer outside the signed 64-bit range", p + 4)
            return "v", i, p
        if g == "ident":
            return "key", m.group("ident"), p
        if g == "cid":
            lit = m.group("cid")
            if len(lit) > 10 or int(lit) > CONTRACT_ID_MAX:
                raise self.err("E_CONTRACT_FORM", f"contract id {lit[:40]} outside 0..2^32-1", p + 4)
            return "cid", int(lit), p
        if g == "handle":
            return "v", m.group("handle"), p
        if g == "bytes":
            return "v", bytes.fromhex(m.group("bytes")), p
        raise AssertionError(g)  # pragma: no cover

    def _bad_token(self, p: int) -> HLXError:
        t = self.text
        if p >= self.n:
            return self.err("E_LC_PARSE", "unexpected end of LC-T stream (a token expected)", p)
        for name in ("HANDLE(", "KEY(", "FIELD_", "INT(", "BYTES("):
            if t.startswith(name, p):
                if name == "HANDLE(" and t.startswith(HANDLE_PREFIX, p + 7):
                    close = t.find(")", p + 7)
                    if close != -1 and close - p < 1000:
                        return self.err("E_HANDLE_FORMAT", f"malformed handle {t[p + 7:close]!r}", p + 7)
                if name == "INT(" and _INTFLOAT.match(t, p + 4):
                    return self.err("E_LC_PARSE", "INT needs an integer (use FLOAT)", p + 4)
                return self.err("E_LC_PARSE", f"malformed {name.rstrip('(_')} token", p)
        return self.err("E_LC_PARSE", f"unknown LC-T token at {t[p:p + 12]!r}", p)

    # structure -------------------------------------------------------------------------------
    def value(self, depth: int, first=None):
        kind, payload, start = first if first is not None else self.token()
        if kind == "v":
            return payload
        if kind == "NULL":
            return None
        if kind == "TRUE":
            return True
        if kind == "FALSE":
            return False
        if kind == "ARR_START":
            if depth + 1 > MAX_DEPTH:
                raise self.err("E_DEPTH_EXCEEDED", f"nesting deeper than {MAX_DEPTH}", start)
            items = []
            while True:
                self.sep()
                tok = self.token()
                if tok[0] == "ARR_END":
                    return items
                items.append(self.value(depth + 1, tok))
        if kind == "OBJ_START":
            return self.obj(depth + 1, start)
        if kind in ("key", "cid"):
            raise self.err("E_LC_PARSE", "a key token outside an object", start)
        raise self.err("E_LC_PARSE", f"unexpected {kind}", start)

    def obj(self, depth: int, start: int):
        if depth > MAX_DEPTH:
            raise self.err("E_DEPTH_EXCEEDED", f"nesting deeper than {MAX_DEPTH}", start)
        out: dict = {}
        self.sep()
        kind, key, kpos = self.token()
        if kind == "OBJ_END":
            return out
        if kind == "cid":
            self.sep()
            vkind, _, vpos = tok = self.token()
            if vkind != "OBJ_START":
                raise self.err("E_CONTRACT_FORM", f"contract {key} must hold a fields object", vpos)
            body = self.obj(depth + 1, vpos)
            first = next(iter(body), "@")
            if type(first) is not str or first[0] != "@":
                raise self.err("E_CONTRACT_FORM", f"contract {key} must hold a fields object", vpos)
            self.sep()
            end_kind, _, epos = self.token()
            if end_kind == "key" or end_kind == "cid":
                raise self.err("E_CONTRACT_FORM", "a contract id must be the object's only key", epos)
            if end_kind != "OBJ_END":
                raise self.err("E_LC_PARSE", "OBJ_END expected", epos)
            del tok
            return {key: body}
        if kind != "key":
            raise self.err("E_LC_PARSE", "a key token (FIELD_N or KEY(name)) expected", kpos)
        fields = key[0] == "@"
        last = None
        while True:
            if fields != (key[0] == "@"):
                raise self.err("E_KEY_FORMAT", "object mixes field keys (@N) and identifier keys", kpos)
            sort = (len(key), key) if fields else key
            if last is not None and sort <= last:
                what = "repeated" if sort == last else "out of canonical order"
                raise self.err("E_FIELD_ORDER", f"key {key!r} {what}", kpos)
            last = sort
            self.sep()
            out[key] = self.value(depth)
            self.sep()
            kind, key, kpos = self.token()
            if kind == "OBJ_END":
                return out
            if kind == "cid":
                raise self.err("E_CONTRACT_FORM", "a contract id must be the object's only key", kpos)
            if kind != "key":
                raise self.err("E_LC_PARSE", "a key token or OBJ_END expected", kpos)


def loads(text: str):
    """Strictly read one LC-T stream into a normalized value."""
    if not isinstance(text, str):
        raise HLXError("E_LC_PARSE", f"LC-T input must be str, not {type(text).__name__}")
    check_unicode(text)
    if not text.startswith("["):
        raise fail("E_LC_PARSE", "an LC-T stream starts with '['", text, 0)
    r = _Reader(text)
    r.pos = 1
    v = r.value(0)
    if r.pos >= r.n:
        raise r.err("E_LC_PARSE", "unexpected end of LC-T stream (']' expected)")
    if text[r.pos] != "]":
        if text.startswith(", ", r.pos):
            raise r.err("E_LC_PARSE", "an LC-T stream holds exactly one value", r.pos)
        raise r.err("E_LC_PARSE", "expected ']'")
    if r.pos + 1 != r.n:
        raise r.err("E_LC_PARSE", "trailing characters after ']'", r.pos + 1)
    return v
