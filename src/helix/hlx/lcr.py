"""LC-R, the runic form (spec §6).

=========  ==========================================================================
value      LC-R
=========  ==========================================================================
null       ``∅``     true ``⊤``    false ``⊥``
int/float  bare canonical decimal (``42``, ``-2.5``, ``1e+16``)
text       quoted (§3 escapes, non-ASCII kept, NFC), never starting with ``&h_``
bytes      ``⊠`` + lowercase hex (``⊠`` alone is empty bytes)
handle     ``⟁name`` for ``&h_name``
array      ``🜃a, b🜄``
record     ``◇k: v, …◆`` (``◇◆`` is the empty object)
fields     ``◇@0: v, @2: w◆``
contract   ``🜊ID`` then ``🜁N value`` per field (N the index, one space), then ``🜂``;
           the empty contract is ``🜊803🜂``
=========  ==========================================================================

**How a contract's fields object is told from the rest.** A contract's body is never written
with ``◇…◆``: everything between ``🜊ID`` and its ``🜂`` *is* the body, as ``🜁N value`` entries, so
only a fields object can appear there and it needs no delimiters of its own. Any ``◇…◆``
(including one holding ``@N`` keys) is a free-standing record or fields object, which can only be
a contract's body by being a field's value (``🜊5🜁0 ◇@0: 1◆🜂`` is ``{5: {"@0": {"@0": 1}}}``).

The reader is strict: separators exactly ``", "``/``": "``, canonical numbers, keys in canonical
order (out of order or repeated -> ``E_FIELD_ORDER``), exactly one value. Syntax errors are
``E_LC_PARSE`` with the character ``offset`` and ``line``/``col``.
"""

from __future__ import annotations

import re

from helix.hlx.errors import HLXError, check_unicode
from helix.hlx.escape import fail, format_float, quote, read_text
from helix.hlx.lct import _plain, read_num
from helix.hlx.value import CONTRACT_ID_MAX, HANDLE_PREFIX, MAX_DEPTH, normalize

NULL_G = "\u2205"  # ∅
TRUE_G = "\u22a4"  # ⊤
FALSE_G = "\u22a5"  # ⊥
BYTES_G = "\u22a0"  # ⊠
HANDLE_G = "\u27c1"  # ⟁
C_START = "\U0001f70a"  # 🜊
C_FIELD = "\U0001f701"  # 🜁
C_END = "\U0001f702"  # 🜂
A_START = "\U0001f703"  # 🜃
A_END = "\U0001f704"  # 🜄
O_START = "\u25c7"  # ◇
O_END = "\u25c6"  # ◆

# --- printer ----------------------------------------------------------------------------------


def _w(v, out: list) -> None:
    t = type(v)
    if t is str:
        if v.startswith(HANDLE_PREFIX):
            out.append(HANDLE_G + v[3:])
        else:
            out.append(quote(v))
    elif t is dict:
        if len(v) == 1:
            (k,) = v
            if type(k) is int:
                out.append(f"{C_START}{k}")
                for fk, fv in v[k].items():
                    out.append(f"{C_FIELD}{fk[1:]} ")
                    _w(fv, out)
                out.append(C_END)
                return
        out.append(O_START)
        first = True
        for k, x in v.items():
            out.append(f"{k}: " if first else f", {k}: ")
            first = False
            _w(x, out)
        out.append(O_END)
    elif t is int:
        out.append(str(v))
    elif t is list:
        out.append(A_START)
        first = True
        for x in v:
            if not first:
                out.append(", ")
            first = False
            _w(x, out)
        out.append(A_END)
    elif v is None:
        out.append(NULL_G)
    elif v is True:
        out.append(TRUE_G)
    elif v is False:
        out.append(FALSE_G)
    elif t is float:
        out.append(format_float(v))
    elif t is bytes:
        out.append(BYTES_G + v.hex())
    else:  # subclass of a basic type
        _w(normalize(_plain(v)), out)


def dumps(value, *, normalized: bool = False) -> str:
    """LC-R text of ``value`` (normalized first unless ``normalized=True``)."""
    if not normalized:
        value = normalize(value)
    out: list = []
    _w(value, out)
    return "".join(out)


# --- reader -----------------------------------------------------------------------------------

_HEX_RUN = re.compile(r"[0-9a-f]*")
_NAME_RUN = re.compile(r"[A-Za-z0-9_]*")
_KEY = re.compile(r"@(0|[1-9][0-9]*)(?![0-9])|[A-Za-z_][A-Za-z0-9_]*")
_DEC = re.compile(r"0|[1-9][0-9]*")
_NUM_START = frozenset("-0123456789")


class _Reader:
    __slots__ = ("text", "n")

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)

    def err(self, code: str, msg: str, at: int) -> HLXError:
        return fail(code, msg, self.text, at)

    def _expect(self, p: int, s: str, what: str) -> int:
        if self.text.startswith(s, p):
            return p + len(s)
        if p >= self.n:
            raise self.err("E_LC_PARSE", f"unexpected end of text ({what} expected)", p)
        raise self.err("E_LC_PARSE", f"{what} expected, found {self.text[p]!r}", p)

    def value(self, p: int, depth: int):
        t = self.text
        if p >= self.n:
            raise self.err("E_LC_PARSE", "unexpected end of text (a value expected)", p)
        c = t[p]
        if c == '"':
            s, end = read_text(t, p, code="E_LC_PARSE", require_nfc=True)
            if s.startswith(HANDLE_PREFIX):
                raise self.err("E_LC_PARSE", "a quoted text may not start with '&h_' (use ⟁)", p)
            return s, end
        if c in _NUM_START:
            return read_num(t, p, code="E_LC_PARSE", strict=True)
        if c == HANDLE_G:
            end = _NAME_RUN.match(t, p + 1).end()
            if end == p + 1:
                raise self.err("E_HANDLE_FORMAT", "⟁ must be followed by a handle name [A-Za-z0-9_]+", p)
            return HANDLE_PREFIX + t[p + 1 : end], end
        if c == C_START:
            return self.contract(p, depth + 2)
        if c == A_START:
            if depth + 1 > MAX_DEPTH:
                raise self.err("E_DEPTH_EXCEEDED", f"nesting deeper than {MAX_DEPTH}", p)
            q = p + 1
            items: list = []
            if t.startswith(A_END, q):
                return items, q + 1
            while True:
                x, q = self.value(q, depth + 1)
                items.append(x)
                if t.startswith(A_END, q):
                    return items, q + 1
                q = self._expect(q, ", ", "', ' or 🜄")
        if c == O_START:
            return self.obj(p, depth + 1)
        if c == NULL_G:
            return None, p + 1
        if c == TRUE_G:
            return True, p + 1
        if c == FALSE_G:
            return False, p + 1
        if c == BYTES_G:
            end = _HEX_RUN.match(t, p + 1).end()
            if (end - p - 1) % 2:
                raise self.err("E_LC_PARSE", "odd number of hex digits after ⊠", p)
            return bytes.fromhex(t[p + 1 : end]), end
        raise self.err("E_LC_PARSE", f"unexpected {c!r} (a value expected)", p)

    def obj(self, p: int, depth: int):
        t = self.text
        if depth > MAX_DEPTH:
            raise self.err("E_DEPTH_EXCEEDED", f"nesting deeper than {MAX_DEPTH}", p)
        q = p + 1
        out: dict = {}
        if t.startswith(O_END, q):
            return out, q + 1
        fields = None
        last = None
        while True:
            m = _KEY.match(t, q)
            if m is None:
                if q < self.n and t[q].isdigit():
                    raise self.err("E_KEY_FORMAT", "a contract id key is written 🜊ID…🜂, not inside ◇◆", q)
                raise self.err("E_LC_PARSE", "a key (identifier or @N) expected", q)
            key = m.group()
            is_field = key[0] == "@"
            if fields is None:
                fields = is_field
            elif fields != is_field:
                raise self.err("E_KEY_FORMAT", "object mixes field keys (@N) and identifier keys", q)
            sort = (len(key), key) if is_field else (0, key)
            if last is not None and sort <= last:
                what = "repeated" if sort == last else "out of canonical order"
                raise self.err("E_FIELD_ORDER", f"key {key!r} {what}", q)
            last = sort
            q = self._expect(m.end(), ": ", "': '")
            out[key], q = self.value(q, depth)
            if t.startswith(O_END, q):
                return out, q + 1
            q = self._expect(q, ", ", "', ' or ◆")

    def contract(self, p: int, depth: int):
        t = self.text
        if depth > MAX_DEPTH:
            raise self.err("E_DEPTH_EXCEEDED", f"nesting deeper than {MAX_DEPTH}", p)
        m = _DEC.match(t, p + 1)
        if m is None:
            raise self.err("E_LC_PARSE", "🜊 must be followed by a contract id", p + 1)
        lit = m.group()
        if len(lit) > 10 or int(lit) > CONTRACT_ID_MAX:
            raise self.err("E_CONTRACT_FORM", f"contract id {lit[:40]} outside 0..2^32-1", p + 1)
        cid = int(lit)
        q = m.end()
        body: dict = {}
        last = (0, "")  # canonical decimals compare as (length, digits): no int() of huge indices
        while True:
            if t.startswith(C_END, q):
                return {cid: body}, q + 1
            if not t.startswith(C_FIELD, q):
                if q >= self.n:
                    raise self.err("E_LC_PARSE", "unexpected end of text (🜁 or 🜂 expected)", q)
                raise self.err("E_LC_PARSE", f"🜁 or 🜂 expected, found {t[q]!r}", q)
            m = _DEC.match(t, q + 1)
            if m is None:
                raise self.err("E_LC_PARSE", "🜁 must be followed by a field index", q + 1)
            idx = (len(m.group()), m.group())
            if idx <= last and last != (0, ""):
                what = "repeated" if idx == last else "out of canonical order"
                raise self.err("E_FIELD_ORDER", f"field {m.group()[:40]} {what}", q)
            last = idx
            q = self._expect(m.end(), " ", "' ' after the field index")
            body["@" + m.group()], q = self.value(q, depth)


def loads(text: str):
    """Strictly read one LC-R value into a normalized value."""
    if not isinstance(text, str):
        raise HLXError("E_LC_PARSE", f"LC-R input must be str, not {type(text).__name__}")
    check_unicode(text)
    r = _Reader(text)
    v, end = r.value(0, 0)
    if end != r.n:
        raise r.err("E_LC_PARSE", "trailing characters after the value (exactly one value expected)", end)
    return v
