"""Valid-prefix checks for grammar-constrained decoding of model output.

``is_valid_prefix(text, fmt)`` is True iff ``text`` can be continued into a complete, valid value
text of form ``fmt`` (``lc_t``, ``lc_b``, ``lc_r``, ``hlx``, ``hlxl``). Whether ``text`` already is
one is ``helix.hlx.convert.is_complete`` (the form's strict reader accepts it).

How it works: for each form an incremental character automaton (a pushdown machine with an
immutable state, so a state can be stepped by one character many times) accepts exactly the
prefixes of a language ``S`` with

    canonical printer output  ⊆  S  ⊆  texts the strict reader accepts.

So every prefix of every ``dumps()`` output is accepted, and every accepted prefix can be
completed into a valid text. ``S`` is the canonical syntax: exact separators, keys in strictly
increasing canonical order, canonical number spellings (the check knows exactly which digit
strings start some ``repr(float)``), NFC texts, handles and bytes as the printers write them,
depth <= 64. For the HLX and HLXL forms, whose readers also accept other spellings (keys in any
order, ``1.50``), prefixes of only-non-canonical texts are rejected: a model is steered to the
canonical text. One approximation: the 1 MiB LC-B size limit is only checked with a lower
bound (each declared length or count must fit in what is left of the limit), so an LC-B prefix
whose declarations *together* need more than 1 MiB (e.g. 128 entries whose keys must each be
longer than 256 KiB) is accepted although no completion fits. Nothing else is approximated.

LC-R, HLX and HLXL are one bracket machine (``_Bracketed``: values, numbers, texts, arrays,
objects, keys in canonical order) driven by a frozen ``_Syntax`` record per form (its brackets,
words, key quoting, text rule), each adding only what it alone has (LC-R's contract glyphs, HLX's
escaped bytes and quoted keys, HLXL's named contracts); LC-T (tokens) and LC-B (bytes) have their
own machines.

Cost: one automaton step per new character. States are cached by prefix, so the usual decoding
pattern -- ask about ``prefix + c`` for many ``c``, then extend the prefix by one of them -- costs
one step per call. For the program forms (``hlxl_ls``, ``hlx_ls``) there is no automaton:
``is_valid_prefix`` accepts every text (``is_complete`` asks the program converter).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from helix.hlx import lcr
from helix.hlx.contracts import NAMED_FIELDS
from helix.hlx.errors import first_surrogate
from helix.hlx.escape import format_float
from helix.hlx.forms import PROGRAM_FORMS, VALUE_FORMS
from helix.hlx.value import CONTRACT_ID_MAX, DEFAULT_SIZE_LIMIT, INT_MAX, INT_MIN, MAX_DEPTH

# ============================================================================ numbers

_INT_FULL = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_FLOAT_PARTS = re.compile(r"([0-9]+)(?:(\.)([0-9]*))?(?:(e)([+-]?)([0-9]*))?\Z")
_NUM_CHARS = frozenset("0123456789.e+-")


def _int_ok(s: str) -> bool:
    """``s`` is a canonical int in range."""
    if not _INT_FULL.match(s) or s == "-0":
        return False
    digits = len(s) - (s[0] == "-")
    return digits <= 19 and INT_MIN <= int(s) <= INT_MAX


def _float_ok(s: str) -> bool:
    """``s`` is exactly ``repr`` of a finite float (and not ``-0.0``)."""
    if "." not in s and "e" not in s:
        return False
    try:
        f = float(s)
    except ValueError:
        return False
    return math.isfinite(f) and format_float(f) == s


def _candidates(lo: Decimal, hi: Decimal):
    """Doubles near ``lo``, the midpoint and ``hi`` (a few neighbours each)."""
    for d in (lo, (lo + hi) / 2, hi):
        try:
            base = float(d)
        except OverflowError:  # pragma: no cover
            continue
        if not math.isfinite(base):
            base = 1.7976931348623157e308
        c = base
        for _ in range(4):
            yield c
            c = math.nextafter(c, math.inf)
        c = base
        for _ in range(3):
            c = math.nextafter(c, -math.inf)
            yield c


def _some_repr_starts(target: str, lo: Decimal, hi: Decimal, neg: bool) -> bool:
    for c in _candidates(lo, hi):
        if c < 0 or not math.isfinite(c) or (neg and c == 0.0):
            continue
        if format_float(c).startswith(target):
            return True
    return False


def _exponents(sign: str | None, digits: str):
    """Exponents ``repr`` writes in e-notation (+16…+308, -5…-324) matching a partial spelling."""
    pos = range(16, 309) if sign in (None, "", "+") else ()
    neg = range(5, 325) if sign in (None, "", "-") else ()
    for e in pos:
        if f"{e:02d}".startswith(digits):
            yield e
    for e in neg:
        if f"{e:02d}".startswith(digits):
            yield -e


@lru_cache(maxsize=65536)
def _float_prefix_ok(s: str) -> bool:
    """Is ``s`` a prefix of ``repr`` of some finite float (sign included, no ``-0.0``)?"""
    neg = s.startswith("-")
    b = s[1:] if neg else s
    if not b:
        return True
    m = _FLOAT_PARTS.match(b)
    if m is None:
        return False
    i_part, dot, f_part, e, sign, e_digits = m.groups()
    if len(i_part) > 1 and i_part[0] == "0":
        return False
    f_part = f_part or ""
    if len((i_part + f_part).lstrip("0")) > 17:
        return False
    mant = Decimal(i_part + ("." + f_part if f_part else ""))
    step = Decimal(1).scaleb(-len(f_part))
    if e is None:
        # fixed notation: "I." + F
        target = b if dot else b + "."
        if len(i_part) <= 16 and _some_repr_starts(target, mant, mant + step, neg):
            return True
    elif dot and not f_part:
        return False
    # e-notation: one non-zero digit, optional fraction, e±XX
    if len(i_part) != 1 or i_part == "0":
        return False
    for x in _exponents(sign if e else None, e_digits or ""):
        if _some_repr_starts(b, mant.scaleb(x), (mant + step).scaleb(x), neg):
            return True
    return False


@lru_cache(maxsize=65536)
def num_prefix_ok(s: str, allow_int: bool = True, allow_float: bool = True) -> bool:
    """Can ``s`` be continued into a canonical int (in range) or a canonical float?"""
    if s in ("", "-"):
        return True
    if allow_int and _INT_FULL.match(s) and s != "-0":
        if len(s) - (s[0] == "-") <= 19 and INT_MIN <= int(s) <= INT_MAX:
            return True
    return allow_float and _float_prefix_ok(s)


def num_complete(s: str, allow_int: bool = True, allow_float: bool = True) -> bool:
    return (allow_int and _int_ok(s)) or (allow_float and _float_ok(s))


# ============================================================================ quoted texts

_SIMPLE_ESC = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
_U_BASIC = ((0x00, 0x08), (0x0B, 0x0C), (0x0E, 0x1F), (0x7F, 0x7F))
_U_ASCII = _U_BASIC + ((0x80, 0xD7FF), (0xE000, 0xFFFF))
_UU = ((0x10000, 0x10FFFF),)
_HEXDIGITS = frozenset("0123456789abcdef")
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_IDENT_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_DIGITS = frozenset("0123456789")

CLOSED = "closed"  # a text lexer's answer to its closing quote

# text lexer state: (esc, head, tail, n): pending escape, first <= 3 chars, the content since its
# last ASCII character (NFC is decided there: an ASCII character never composes with what is
# before it), number of characters.
TEXT0 = ("", "", "", 0)


def _ranges_hit(ranges, lo: int, hi: int) -> bool:
    return any(a <= hi and lo <= b for a, b in ranges)


def _text_add(st, c: str, amp: str):
    _, head, tail, n = st
    if n < 3:
        head += c
        if head == "&h_" and amp == "reject":
            return None
    elif amp == "handle" and head == "&h_" and c not in _NAME_CHARS:
        return None
    if c < "\x80":
        tail = c
    else:
        tail += c
        if not unicodedata.is_normalized("NFC", tail):
            return None
    return ("", head, tail, n + 1)


def text_step(st, ch: str, ascii_only: bool, amp: str):
    """One character inside a quoted text (after the opening quote).

    ``amp``: ``"reject"`` (a text may not start with ``&h_``) or ``"handle"`` (HLX: a text that
    starts with ``&h_`` is a handle and must match the handle pattern).
    Returns the new state, :data:`CLOSED` for the closing quote, or None.
    """
    esc = st[0]
    if not esc:
        if ch == '"':
            if amp == "handle" and st[1] == "&h_" and st[3] == 3:
                return None
            return CLOSED
        if ch == "\\":
            if amp == "handle" and st[1] == "&h_":
                return None  # every escape gives a character a handle cannot hold
            return ("\\",) + st[1:]
        o = ord(ch)
        if o < 0x20 or o == 0x7F or (ascii_only and o > 0x7E):
            return None
        return _text_add(st, ch, amp)
    if esc == "\\":
        if ch in _SIMPLE_ESC:
            return _text_add(st, _SIMPLE_ESC[ch], amp)
        if ch == "u" or (ch == "U" and ascii_only):
            return ("\\" + ch,) + st[1:]
        return None
    # \u / \U with some hex digits
    if ch not in _HEXDIGITS:
        return None
    hexs = esc[2:] + ch
    width = 4 if esc[1] == "u" else 8
    ranges = (_U_ASCII if ascii_only else _U_BASIC) if width == 4 else _UU
    rest = 4 * (width - len(hexs))
    lo = int(hexs, 16) << rest
    if not _ranges_hit(ranges, lo, lo + (1 << rest) - 1):
        return None
    if len(hexs) < width:
        return (esc + ch,) + st[1:]
    return _text_add(st, chr(lo), amp)


# ============================================================================ keys


def ident_prefix_ok(p: str, last: str | None) -> bool:
    """An identifier key being typed (any length to come) can still end up > ``last``."""
    return last is None or p > last or last.startswith(p)


def field_prefix_ok(d: str, last) -> bool:
    """Digits of a field index being typed (``last``: (len, digits) of the previous key)."""
    if d == "":
        return True
    if len(d) > 1 and d[0] == "0":
        return False
    if d == "0":
        return last is None
    return True


def field_done_ok(d: str, last) -> bool:
    if d == "" or (len(d) > 1 and d[0] == "0"):
        return False
    return last is None or (len(d), d) > last


def cid_prefix_ok(d: str) -> bool:
    if d == "":
        return True
    if len(d) > 1 and d[0] == "0":
        return False
    return len(d) <= 10 and int(d) <= CONTRACT_ID_MAX


# ============================================================================ machines
#
# A state is (mode, data, stack); stack is a tuple of frames, each a tuple whose [0] is the kind
# and [1] the container's depth. Values inside a frame of depth d that open a container get d+1
# (a contract takes two levels: the contract object and its fields object).


class _Machine:
    """Base: ``start()`` and ``step(state, ch)`` (-> new state or None)."""

    def start(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self, st, ch):  # pragma: no cover - abstract
        raise NotImplementedError

    def run(self, text: str):
        st = self.start()
        for ch in text:
            st = self.step(st, ch)
            if st is None:
                return None
        return st


def _child_depth(stack) -> int:
    return (stack[-1][1] if stack else 0) + 1


def _ident_char_ok(q: str, ch: str, kind, last) -> bool:
    """An identifier key ``q`` (its new last character ``ch``) in an object of ``kind`` so far."""
    return kind != "field" and q[0] in _IDENT_START and ch in _NAME_CHARS and ident_prefix_ok(q, last)


def _key_char_ok(q: str, ch: str, kind, last) -> bool:
    """A key being typed: ``@`` and a field index, or an identifier (LC-R, HLX, HLXL)."""
    if q[0] == "@":
        return kind != "ident" and (len(q) == 1 or (ch in _DIGITS and field_prefix_ok(q[1:], last)))
    return _ident_char_ok(q, ch, kind, last)


def _key_frame(p: str, d: int, last):
    """The object frame after the whole key ``p`` (None: the key is not allowed there)."""
    if p[:1] == "@":
        return ("O", d, "field", (len(p) - 1, p[1:]), False) if field_done_ok(p[1:], last) else None
    if p == "" or not (last is None or p > last):
        return None
    return ("O", d, "ident", p, False)


@dataclass(frozen=True)
class _Syntax:
    """What a bracketed value form (LC-R, HLX, HLXL) spells its own way; the rest is shared."""

    arr: tuple[str, str]  # an array's opener and closer
    obj: tuple[str, str]  # an object's
    words: dict  # first character -> (the word it starts, the mode after it)
    key_end: str  # the character that ends a key (its opening quote, if any, is the form's)
    after_comma_key: str  # the mode after ", " in an object
    text_amp: str  # "reject" (a text may not start with &h_) | "handle" (HLX: it is a handle)
    braced_contracts: bool  # ``{1000: {...}}`` (HLX, HLXL), not LC-R's own glyphs
    hex_after_zero: bool = False  # HLXL bytes: ``0x`` and hex pairs


#: the data a mode starts with when a word or a space leads into it (None for the others)
_MODE_DATA = {"ESC": 0, "NAME": 0, "HEX": 0, "NCID": "", "NNAME": "", "KEY": ""}


class _Bracketed(_Machine):
    """The machine LC-R, HLX and HLXL share: values, numbers, texts, hex and name runs, arrays,
    objects and their keys in canonical order; each form adds its own modes in ``_more``, its own
    values in ``_more_value`` and its own frames in ``_after_frame``.

    Frames: ("A", d) array; ("O", d, kind, last, may_be_contract) object; ("C", d, ...) contract.
    """

    syntax: _Syntax

    def start(self):
        return ("V", None, ())

    def step(self, st, ch):
        mode, data, stack = st
        syn = self.syntax
        if mode == "V":
            return self._value(stack, ch)
        if mode == "AV":
            return self._after(stack, ch)
        if mode == "NUM":
            if syn.hex_after_zero and data == "0" and ch == "x":
                return ("HEX", 0, stack)
            s = data + ch
            if ch in _NUM_CHARS and num_prefix_ok(s):
                return ("NUM", s, stack)
            if not num_complete(data):
                return None
            return self._after(stack, ch)
        if mode == "TXT":
            r = text_step(data, ch, False, syn.text_amp)
            if r is None:
                return None
            if r is CLOSED:
                return ("AV", None, stack)
            return ("TXT", r, stack)
        if mode == "LIT":  # data: (word, i, mode after)
            word, i, then = data
            if ch != word[i]:
                return None
            if i + 1 < len(word):
                return ("LIT", (word, i + 1, then), stack)
            return (then, _MODE_DATA.get(then), stack)
        if mode == "HEX":  # hex pairs; data 1 half-way through a pair
            if ch in _HEXDIGITS:
                return ("HEX", data ^ 1, stack)
            if data:
                return None
            return self._after(stack, ch)
        if mode == "NAME":  # a handle's name; data 1 once it has a character
            if ch in _NAME_CHARS:
                return ("NAME", 1, stack)
            if not data:
                return None
            return self._after(stack, ch)
        if mode == "SP":  # exactly one space, then the mode in data
            if ch != " ":
                return None
            return (data, _MODE_DATA.get(data), stack)
        if mode == "ARR0":
            if ch == syn.arr[1]:
                return ("AV", None, stack[:-1])
            return self._value(stack, ch)
        if mode == "OBJ0":
            if ch == syn.obj[1]:
                return ("AV", None, stack[:-1])
            if ch in _DIGITS and stack[-1][4]:
                return ("CID", ch, stack)
            return self._key_start(stack, ch)
        if mode == "KEY":
            return self._key(stack, data, ch)
        return self._more(mode, data, stack, ch)

    def _value(self, stack, ch):
        syn = self.syntax
        w = syn.words.get(ch)
        if w is not None:
            word, then = w
            if len(word) == 1:
                return (then, _MODE_DATA.get(then), stack)
            return ("LIT", (word, 1, then), stack)
        if ch == "-" or ch in _DIGITS:
            return ("NUM", ch, stack) if num_prefix_ok(ch) else None
        if ch == '"':
            return ("TXT", TEXT0, stack)
        st = self._more_value(stack, ch)
        if st is not None:
            return st
        d = _child_depth(stack)
        if d > MAX_DEPTH:
            return None
        if ch == syn.arr[0]:
            return ("ARR0", None, stack + (("A", d),))
        if ch == syn.obj[0]:
            return ("OBJ0", None, stack + (("O", d, None, None, syn.braced_contracts),))
        return None

    def _after(self, stack, ch):
        if not stack:
            return None
        k = stack[-1][0]
        if k == "A":
            if ch == ",":
                return ("SP", "V", stack)
            return ("AV", None, stack[:-1]) if ch == self.syntax.arr[1] else None
        if k == "O":
            if ch == ",":
                return ("SP", self.syntax.after_comma_key, stack)
            return ("AV", None, stack[:-1]) if ch == self.syntax.obj[1] else None
        return self._after_frame(stack, ch)

    def _key_start(self, stack, ch):
        return self._key(stack, "", ch)

    def _key(self, stack, p, ch):
        _, d, kind, last, _c = stack[-1]
        if ch == self.syntax.key_end:
            frame = _key_frame(p, d, last)
            return None if frame is None else self._key_done(stack[:-1] + (frame,))
        q = p + ch
        return ("KEY", q, stack) if _key_char_ok(q, ch, kind, last) else None

    def _key_done(self, stack):
        return ("SP", "V", stack)

    def _more(self, mode, data, stack, ch):
        return None

    def _more_value(self, stack, ch):
        return None

    def _after_frame(self, stack, ch):
        return None


class _Braced(_Bracketed):
    """HLX and HLXL: a contract is an object whose one key is its id, ``{1000: {"@0": …}}``."""

    def _more(self, mode, data, stack, ch):
        if mode == "CID":
            if ch in _DIGITS:
                d = data + ch
                return ("CID", d, stack) if cid_prefix_ok(d) else None
            if ch != ":":
                return None
            d = stack[-1][1]
            if d + 1 > MAX_DEPTH:
                return None
            return ("SP", "BODY", stack[:-1] + (("C", d),))
        if mode == "BODY":
            if ch != "{":
                return None
            d = stack[-1][1] + 1
            return ("OBJ0", None, stack + (("O", d, "field", None, False),))
        return None

    def _after_frame(self, stack, ch):
        return ("AV", None, stack[:-1]) if ch == "}" else None  # "C": the contract's own '}'


# ---------------------------------------------------------------------------- LC-R


class _LCR(_Bracketed):
    # contract frames: ("C", d, last field)
    syntax = _Syntax(arr=(lcr.A_START, lcr.A_END), obj=(lcr.O_START, lcr.O_END),
                     words={lcr.NULL_G: (lcr.NULL_G, "AV"), lcr.TRUE_G: (lcr.TRUE_G, "AV"),
                            lcr.FALSE_G: (lcr.FALSE_G, "AV"), lcr.BYTES_G: (lcr.BYTES_G, "HEX"),
                            lcr.HANDLE_G: (lcr.HANDLE_G, "NAME")},
                     key_end=":", after_comma_key="KEY", text_amp="reject", braced_contracts=False)

    def _more(self, mode, data, stack, ch):
        if mode == "CID":
            if ch in _DIGITS:
                d = data + ch
                return ("CID", d, stack) if cid_prefix_ok(d) else None
            if data == "":
                return None
            return self._after(stack, ch)
        if mode == "FIDX":
            top = stack[-1]
            if ch in _DIGITS:
                d = data + ch
                return ("FIDX", d, stack) if field_prefix_ok(d, top[2]) else None
            if ch != " " or not field_done_ok(data, top[2]):
                return None
            return ("V", None, stack[:-1] + (("C", top[1], (len(data), data)),))
        return None

    def _more_value(self, stack, ch):
        d = _child_depth(stack)
        if ch == lcr.C_START and d + 1 <= MAX_DEPTH:
            return ("CID", "", stack + (("C", d + 1, None),))
        return None

    def _after_frame(self, stack, ch):
        if ch == lcr.C_FIELD:
            return ("FIDX", "", stack)
        if ch == lcr.C_END:
            return ("AV", None, stack[:-1])
        return None


# ---------------------------------------------------------------------------- HLX


class _HLX(_Braced):
    syntax = _Syntax(arr=("[", "]"), obj=("{", "}"),
                     words={"N": ("None", "AV"), "T": ("True", "AV"), "F": ("False", "AV"),
                            "b": ('b"', "ESC")},
                     key_end='"', after_comma_key="KEYQ", text_amp="handle", braced_contracts=True)

    def _more(self, mode, data, stack, ch):
        if mode == "ESC":  # bytes b"\xNN…": position in \xNN, 0 '\\' or '"', 1 'x', 2-3 hex
            if data == 0:
                if ch == '"':
                    return ("AV", None, stack)
                return ("ESC", 1, stack) if ch == "\\" else None
            if data == 1:
                return ("ESC", 2, stack) if ch == "x" else None
            if ch not in _HEXDIGITS:
                return None
            return ("ESC", 3 if data == 2 else 0, stack)
        if mode == "KEYQ":
            return ("KEY", "", stack) if ch == '"' else None
        if mode == "COLON":
            return ("SP", data, stack) if ch == ":" else None
        return super()._more(mode, data, stack, ch)

    def _key_start(self, stack, ch):
        return ("KEY", "", stack) if ch == '"' else None

    def _key_done(self, stack):
        return ("COLON", "V", stack)


# ---------------------------------------------------------------------------- HLXL


class _HLXL(_Braced):
    # named contract frames: ("N", d, cid, last field index)
    syntax = _Syntax(arr=("[", "]"), obj=("{", "}"),
                     words={"n": ("null", "AV"), "t": ("true", "AV"), "f": ("false", "AV"),
                            "&": ("&h_", "NAME")},
                     key_end=":", after_comma_key="KEY", text_amp="reject", braced_contracts=True,
                     hex_after_zero=True)

    def __init__(self) -> None:
        self.named = dict(NAMED_FIELDS)
        self.named_ids = tuple(str(c) for c in self.named)

    def _more(self, mode, data, stack, ch):
        if mode == "NCID":  # digits of a named contract's id
            if ch in _DIGITS:
                d = data + ch
                if any(i.startswith(d) for i in self.named_ids):
                    return ("NCID", d, stack)
                return None
            if ch != " " or data not in self.named_ids:
                return None
            top = stack[-1]
            return ("LIT", ("{ ", 0, "NNAME"), stack[:-1] + (("N", top[1], int(data), -1),))
        if mode == "NNAME":
            _, d, cid, last = stack[-1]
            names = self.named[cid]
            if ch == ":":
                if data not in names[last + 1 :]:
                    return None
                idx = names.index(data, last + 1)
                return ("SP", "V", stack[:-1] + (("N", d, cid, idx),))
            q = data + ch
            if any(n.startswith(q) for n in names[last + 1 :]):
                return ("NNAME", q, stack)
            return None
        if mode == "NCLOSE":
            return ("AV", None, stack[:-1]) if ch == "}" else None
        return super()._more(mode, data, stack, ch)

    def _more_value(self, stack, ch):
        d = _child_depth(stack)
        if ch == "c" and self.named and d + 1 <= MAX_DEPTH:
            return ("LIT", ("contract ", 1, "NCID"), stack + (("N", d + 1, None, -1),))
        return None

    def _after_frame(self, stack, ch):
        if stack[-1][0] == "N":
            if ch == ",":
                return ("SP", "NNAME", stack)
            return ("NCLOSE", None, stack) if ch == " " else None
        return super()._after_frame(stack, ch)

# ---------------------------------------------------------------------------- LC-T

_T_VALUE_HEADS = ("NULL", "TRUE", "FALSE", "ARR_START", "OBJ_START",
                  "INT(", "FLOAT(", "TEXT(", "BYTES(", "HANDLE(")
_T_CTX_HEADS = {
    "value": _T_VALUE_HEADS,
    "item": _T_VALUE_HEADS + ("ARR_END",),
    "key": ("FIELD_", "KEY(", "OBJ_END"),
    "obj_start": ("OBJ_START",),
    "obj_end": ("OBJ_END",),
}
_T_WORDS = frozenset(("NULL", "TRUE", "FALSE", "ARR_START", "OBJ_START", "ARR_END", "OBJ_END"))


class _LCT(_Machine):
    # frames: ("A", d); ("O", d, kind, last, may_be_contract); ("C", d)
    def start(self):
        return ("OPEN", None, ())

    def step(self, st, ch):
        mode, data, stack = st
        if mode == "TOK":  # data: (ctx, head so far)
            ctx, head = data
            h = head + ch
            heads = _T_CTX_HEADS[ctx]
            if ctx == "key":  # a fields object takes no KEY(, an identifier object no FIELD_
                kind = stack[-1][2]
                heads = tuple(x for x in heads if (x, kind) not in (("KEY(", "field"), ("FIELD_", "ident")))
            if not any(x.startswith(h) for x in heads):
                return None
            if h in _T_WORDS:
                return self._word(stack, h)
            if h == "INT(":
                return ("INT", "", stack)
            if h == "FLOAT(":
                return ("FLT", "", stack)
            if h == "TEXT(":
                return ("TQ", None, stack)
            if h == "BYTES(":
                return ("BYT", 0, stack)
            if h == "HANDLE(":
                return ("HLIT", 0, stack)
            if h == "FIELD_":
                return ("FIELD", "", stack)
            if h == "KEY(":
                return ("KEY", "", stack)
            return ("TOK", (ctx, h), stack)
        if mode == "SEP":  # data: (ctx, chars of ", " seen)
            ctx, i = data
            if ch != ", "[i]:
                return None
            return ("SEP", (ctx, 1), stack) if i == 0 else ("TOK", (ctx, ""), stack)
        if mode == "AV":
            return self._after(stack, ch)
        if mode == "OPEN":
            return ("TOK", ("value", ""), stack) if ch == "[" else None
        if mode == "INT" or mode == "FLT":
            is_int = mode == "INT"
            if ch == ")":
                return self._done(stack) if num_complete(data, is_int, not is_int) else None
            s = data + ch
            if ch in _NUM_CHARS and num_prefix_ok(s, is_int, not is_int):
                return (mode, s, stack)
            return None
        if mode == "TQ":
            return ("TXT", TEXT0, stack) if ch == '"' else None
        if mode == "TXT":
            r = text_step(data, ch, True, "reject")
            if r is None:
                return None
            if r is CLOSED:
                return ("RP", None, stack)
            return ("TXT", r, stack)
        if mode == "RP":
            return self._done(stack) if ch == ")" else None
        if mode == "BYT":
            if ch in _HEXDIGITS:
                return ("BYT", data ^ 1, stack)
            if ch == ")" and not data:
                return self._done(stack)
            return None
        if mode == "HLIT":
            if data < 3:
                return ("HLIT", data + 1, stack) if ch == "&h_"[data] else None
            if ch in _NAME_CHARS:
                return ("HLIT", 4, stack)
            if ch == ")" and data == 4:
                return self._done(stack)
            return None
        if mode == "FIELD":
            top = stack[-1]
            if ch in _DIGITS:
                d = data + ch
                return ("FIELD", d, stack) if field_prefix_ok(d, top[3]) else None
            if ch != "," or not field_done_ok(data, top[3]):
                return None
            new = stack[:-1] + (("O", top[1], "field", (len(data), data), False),)
            return ("SEP", ("value", 1), new)
        if mode == "KEY":
            return self._key(stack, data, ch)
        if mode == "END":
            return None
        return None

    def _word(self, stack, w):
        if w in ("NULL", "TRUE", "FALSE"):
            return self._done(stack)
        if w == "ARR_START" or w == "OBJ_START":
            top = stack[-1] if stack else None
            if w == "OBJ_START" and top is not None and top[0] == "C":
                # the contract's fields object
                d = top[1] + 1
                return self._opened(stack + (("O", d, "field", None, False),), "key")
            d = _child_depth(stack)
            if d > MAX_DEPTH:
                return None
            if w == "ARR_START":
                return self._opened(stack + (("A", d),), "item")
            return self._opened(stack + (("O", d, None, None, True),), "key")
        # ARR_END / OBJ_END close the top frame
        return self._done(stack[:-1])

    @staticmethod
    def _opened(stack, ctx):
        return ("SEP", (ctx, 0), stack)

    def _done(self, stack):
        """A value (or a closing token) is complete."""
        if not stack:
            return ("AV", None, stack)
        k = stack[-1][0]
        if k == "A":
            return ("SEP", ("item", 0), stack)
        if k == "O":
            return ("SEP", ("key", 0), stack)
        return ("SEP", ("obj_end", 0), stack)  # "C": after its fields object

    def _after(self, stack, ch):
        # only at top level: the closing bracket
        if not stack and ch == "]":
            return ("END", None, stack)
        return None

    def _key(self, stack, p, ch):
        top = stack[-1]
        _, d, kind, last, may_c = top
        if ch == ")":
            if p == "":
                return None
            if p[0] in _DIGITS:  # a contract id
                if d + 1 > MAX_DEPTH:
                    return None
                return ("SEP", ("obj_start", 0), stack[:-1] + (("C", d),))
            if last is not None and not p > last:
                return None
            return ("SEP", ("value", 0), stack[:-1] + (("O", d, "ident", p, False),))
        q = p + ch
        if q[0] in _DIGITS:
            if not may_c or kind is not None or ch not in _DIGITS or not cid_prefix_ok(q):
                return None
        elif not _ident_char_ok(q, ch, kind, last):
            return None
        return ("KEY", q, stack)


# ---------------------------------------------------------------------------- LC-B


def _utf8_need(lead: int) -> int:
    """Bytes in the sequence a lead byte starts (0: not a lead byte)."""
    if lead < 0x80:
        return 1
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0


def _utf8_second_ok(lead: int, b: int) -> bool:
    if lead == 0xE0:
        return 0xA0 <= b <= 0xBF
    if lead == 0xED:
        return 0x80 <= b <= 0x9F
    if lead == 0xF0:
        return 0x90 <= b <= 0xBF
    if lead == 0xF4:
        return 0x80 <= b <= 0x8F
    return 0x80 <= b <= 0xBF


def _sleb_prefix_ok(bs: tuple) -> bool:
    """Continuation bytes so far of a SLEB128 int: can a final byte make it minimal and in range?"""
    k = len(bs)
    if k <= 8:
        return True
    if k >= 10:
        return False
    return any(_sleb_final_ok(bs + (f,)) for f in range(0x80))


def _sleb_final_ok(bs: tuple) -> bool:
    last = bs[-1]
    if len(bs) > 1:
        prev = bs[-2]
        if (last == 0 and not prev & 0x40) or (last == 0x7F and prev & 0x40):
            return False
    if len(bs) > 10:
        return False
    n = 0
    for i, b in enumerate(bs):
        n |= (b & 0x7F) << (7 * i)
    if last & 0x40:
        n -= 1 << (7 * len(bs))
    return INT_MIN <= n <= INT_MAX


def _chars(linked) -> str:
    out = []
    while linked is not None:
        out.append(linked[0])
        linked = linked[1]
    return "".join(reversed(out))


def _next_below(s: str, top: str) -> tuple:
    """``t[k]`` = smallest j >= k with ``s[j] != top`` (``len(s)`` if none), for k in 0..len(s)."""
    n = len(s)
    t = [n] * (n + 1)
    for k in range(n - 1, -1, -1):
        t[k] = k if s[k] != top else t[k + 1]
    return tuple(t)


class _LCBBytes:
    """Byte automaton of canonical LC-B messages.

    State: (mode, data, stack, pos). Frames: ("A", d, items left); ("O", d, entries left, kind,
    last, count); a contract is an "O" frame of kind "contract" whose one value is forced to be
    a fields object.
    """

    def __init__(self, size_limit: int | None) -> None:
        self.limit = size_limit if size_limit is not None else 1 << 62

    def start(self):
        return ("V", None, (), 0)

    def step(self, st, b: int):
        mode, data, stack, pos = st
        pos += 1
        if pos > self.limit:
            return None
        if mode == "V":
            return self._value(stack, pos, b, data)
        if mode == "SLEB":
            bs = data + (b,)
            if b & 0x80:
                return ("SLEB", bs, stack, pos) if _sleb_prefix_ok(bs) else None
            return self._done(stack, pos) if _sleb_final_ok(bs) else None
        if mode == "ULEB":  # data: (purpose, bytes)
            purpose, bs = data
            bs = bs + (b,)
            n = 0
            for i, x in enumerate(bs):
                n |= (x & 0x7F) << (7 * i)
            room = self.limit - pos
            if b & 0x80:
                if n + (1 << (7 * len(bs))) > room:  # the smallest minimal completion
                    return None
                return ("ULEB", (purpose, bs), stack, pos)
            if len(bs) > 1 and b == 0:
                return None
            return self._length(purpose, n, stack, pos)
        if mode == "FLT":
            bs = data + (b,)
            if len(bs) == 2 and ((bs[0] & 0x7F) << 4 | bs[1] >> 4) == 0x7FF:
                return None
            if len(bs) < 8:
                return ("FLT", bs, stack, pos)
            if bs == (0x80, 0, 0, 0, 0, 0, 0, 0):
                return None
            return self._done(stack, pos)
        if mode == "BYT":
            left = data - 1
            return ("BYT", left, stack, pos) if left else self._done(stack, pos)
        if mode == "HDL":  # data: (left, index)
            left, i = data
            if i < 3:
                if b != b"&h_"[i]:
                    return None
            elif chr(b) not in _NAME_CHARS:
                return None
            left -= 1
            return ("HDL", (left, i + 1), stack, pos) if left else self._done(stack, pos)
        if mode == "TXT":  # data: (left, pending utf-8 bytes, text-lexer state)
            left, pend, tst = data
            left -= 1
            pend = pend + (b,)
            need = _utf8_need(pend[0])
            if need == 0:
                return None
            if len(pend) >= 2 and not (
                _utf8_second_ok(pend[0], pend[1]) if len(pend) == 2 else 0x80 <= b <= 0xBF
            ):
                return None
            if len(pend) < need:
                if need - len(pend) > left:
                    return None
                return ("TXT", (left, pend, tst), stack, pos)
            c = bytes(pend).decode("utf-8")
            tst = _text_add(tst, c, "reject")
            if tst is None:
                return None
            return ("TXT", (left, (), tst), stack, pos) if left else self._done(stack, pos)
        if mode == "KEY":  # data: (left, L, key so far)
            return self._key(stack, pos, data, b)
        if mode == "CLOSE":  # data: the end tag expected
            if b != data:
                return None
            return self._done(stack[:-1], pos)
        return None  # "END"

    def _value(self, stack, pos, b, want):
        if want == "fields":  # a contract's body must be an object of field keys
            if b != 0x07:
                return None
            d = stack[-1][1] + 1
            return ("ULEB", ("fobj", ()), stack + (("O", d, 0, "field", None, 0, None),), pos)
        if b == 0x00 or b == 0x0A or b == 0x0B:
            return self._done(stack, pos)
        if b == 0x01:
            return ("SLEB", (), stack, pos)
        if b == 0x02:
            return ("FLT", (), stack, pos)
        if b == 0x03:
            return ("ULEB", ("text", ()), stack, pos)
        if b == 0x04:
            return ("ULEB", ("bytes", ()), stack, pos)
        if b == 0x09:
            return ("ULEB", ("handle", ()), stack, pos)
        d = _child_depth(stack)
        if d > MAX_DEPTH:
            return None
        if b == 0x05:
            return ("ULEB", ("arr", ()), stack + (("A", d, 0),), pos)
        if b == 0x07:
            return ("ULEB", ("obj", ()), stack + (("O", d, 0, None, None, 0, None),), pos)
        return None

    def _length(self, purpose, n, stack, pos):
        room = self.limit - pos
        if purpose == "text":
            if n > room:
                return None
            return ("TXT", (n, (), TEXT0), stack, pos) if n else self._done(stack, pos)
        if purpose == "bytes":
            if n > room:
                return None
            return ("BYT", n, stack, pos) if n else self._done(stack, pos)
        if purpose == "handle":
            if n < 4 or n > room:
                return None
            return ("HDL", (n, 0), stack, pos)
        if purpose == "arr":
            if n + 1 > room:
                return None
            top = stack[-1]
            if n == 0:
                return ("CLOSE", 0x06, stack, pos)
            return ("V", None, stack[:-1] + (("A", top[1], n),), pos)
        if purpose in ("obj", "fobj"):
            if 3 * n + 1 > room:
                return None
            top = stack[-1]
            if n == 0:
                return ("CLOSE", 0x08, stack, pos)
            return ("ULEB", ("klen", ()), stack[:-1] + (("O", top[1], n, top[3], None, n, None),), pos)
        if purpose == "klen":
            _, d, left, kind, last, count, nxt = stack[-1]
            if n == 0 or n > room:
                return None
            if kind == "field":  # n-1 canonical digits that must be able to exceed the last index
                if n < 2 or (last is not None and (n - 1 < last[0] or (n - 1 == last[0] and nxt[0] >= n - 1))):
                    return None
            elif kind == "ident" and last is not None and not (n > len(last) or nxt[0] < n):
                return None
            return ("KEY", (n, n, 0, None, None, None), stack, pos)
        return None  # pragma: no cover

    def _key(self, stack, pos, data, b):
        """One byte of an object key. ``data``: (bytes left, key length L, bytes seen, key kind,
        comparison with the previous key so far -- "gt" or "eq" --, the bytes as a linked list).
        Each step is O(1): the frame keeps, for its previous key, the table ``nxt`` of the next
        position holding a character below the maximum ('9' for indices, 'z' for names)."""
        left, L, i, kk, cmp, chars = data
        _, d, eleft, kind, last, count, nxt = stack[-1]
        c = chr(b)
        rem = left - 1
        if i == 0:
            if c == "@":
                if kind not in (None, "field") or L < 2:
                    return None
                kk = "field"
                if last is None or L - 1 > last[0]:
                    cmp = "gt"
                elif L - 1 < last[0] or nxt[0] >= L - 1:
                    return None
                else:
                    cmp = "eq"
            elif c in _DIGITS:
                if kind is not None or count != 1 or L > 10 or (L > 1 and c == "0"):
                    return None
                if int(c + "0" * rem) > CONTRACT_ID_MAX:
                    return None
                kk, cmp = "contract", "gt"
            elif c in _IDENT_START:
                if kind not in (None, "ident"):
                    return None
                kk = "ident"
                cmp = "gt" if last is None else "eq"
                if cmp == "eq":
                    cmp = self._cmp_step(last, nxt, 0, c, L, "z")
                    if cmp is None:
                        return None
            else:
                return None
        elif kk == "field":
            j = i - 1  # digit position
            if c not in _DIGITS or (j == 0 and L > 2 and c == "0"):
                return None
            if cmp == "eq":
                cmp = self._cmp_step(last[1], nxt, j, c, L - 1, "9")
                if cmp is None:
                    return None
        elif kk == "contract":
            if c not in _DIGITS:
                return None
            digits = _chars(chars) + c
            if int(digits + "0" * rem) > CONTRACT_ID_MAX:
                return None
        else:  # ident
            if c not in _NAME_CHARS:
                return None
            if cmp == "eq":
                cmp = self._cmp_step(last, nxt, i, c, L, "z")
                if cmp is None:
                    return None
        chars = (c, chars)
        if rem:
            return ("KEY", (rem, L, i + 1, kk, cmp, chars), stack, pos)
        if cmp != "gt":
            return None
        key = _chars(chars)
        if kk == "field":
            new_last = (L - 1, key[1:])
            new_nxt = _next_below(key[1:], "9")
        elif kk == "ident":
            new_last = key
            new_nxt = _next_below(key, "z")
        else:
            new_last, new_nxt = key, None
        frame = ("O", d, eleft, kk, new_last, count, new_nxt)
        want = "fields" if kk == "contract" else None
        if want and d + 1 > MAX_DEPTH:
            return None
        return ("V", want, stack[:-1] + (frame,), pos)

    @staticmethod
    def _cmp_step(last: str, nxt, j: int, c: str, n: int, top: str):
        """Key equal to ``last`` up to position j gets ``c`` at j; n = its final length.
        Returns "gt", "eq" (still completable to something greater) or None (dead)."""
        if j >= len(last):
            return "gt"  # ``last`` is a proper prefix: anything longer is greater
        lc = last[j]
        if c > lc:
            return "gt"
        if c < lc:
            return None
        # still equal: some later position must be able to go higher, or the key must be longer
        if n > len(last) or nxt[j + 1] < n:
            return "eq"
        return None

    def _done(self, stack, pos):
        if not stack:
            return ("END", None, stack, pos)
        top = stack[-1]
        if top[0] == "A":
            left = top[2] - 1
            if left == 0:
                return ("CLOSE", 0x06, stack, pos)
            return ("V", None, stack[:-1] + (("A", top[1], left),), pos)
        _, d, left, kind, last, count, nxt = top
        left -= 1
        if left == 0:
            return ("CLOSE", 0x08, stack[:-1] + (("O", d, 0, kind, last, count, nxt),), pos)
        return ("ULEB", ("klen", ()), stack[:-1] + (("O", d, left, kind, last, count, nxt),), pos)


class _LCB(_Machine):
    """``[0x`` + lowercase hex of a canonical LC-B message + ``]``, character by character."""

    def __init__(self, size_limit: int | None = DEFAULT_SIZE_LIMIT) -> None:
        self.bm = _LCBBytes(size_limit)

    def start(self):
        return ("PRE", 0, None)

    def step(self, st, ch):
        mode, data, bst = st
        if mode == "PRE":
            if ch != "[0x"[data]:
                return None
            if data < 2:
                return ("PRE", data + 1, None)
            return ("HEX", None, self.bm.start())
        if mode == "HEX":
            if ch == "]":
                return ("DONE", None, None) if data is None and bst[0] == "END" else None
            if ch not in _HEXDIGITS:
                return None
            nib = int(ch, 16)
            if data is None:
                bm = self.bm
                if any(bm.step(bst, nib << 4 | lo) is not None for lo in range(16)):
                    return ("HEX", nib, bst)
                return None
            nb = self.bm.step(bst, data << 4 | nib)
            return None if nb is None else ("HEX", None, nb)
        return None


# ============================================================================ API

_MACHINES: dict = {}
_CACHE: dict = {}
_CACHE_MAX = 50000
_PIECE_BACK = 32
_UNSET = object()


def _machine(fmt: str) -> _Machine:
    m = _MACHINES.get(fmt)
    if m is None:
        if fmt == "lc_r":
            m = _LCR()
        elif fmt == "hlx":
            m = _HLX()
        elif fmt == "hlxl":
            m = _HLXL()
        elif fmt == "lc_t":
            m = _LCT()
        elif fmt == "lc_b":
            m = _LCB()
        else:
            raise ValueError(f"no prefix automaton for form {fmt!r} (value forms: {', '.join(VALUE_FORMS)})")
        _MACHINES[fmt] = m
    return m


def prefix_state(text: str, fmt: str):
    """The automaton state after ``text`` (None: not a valid prefix). Cached by prefix."""
    key = (fmt, text)
    st = _CACHE.get(key, _UNSET)
    if st is not _UNSET:
        return st
    m = _machine(fmt)
    # decoding extends a text by a piece of one or more characters: run on from the nearest
    # prefix already seen (a piece is at most _PIECE_BACK characters), else from the start
    cut, st = 0, _UNSET
    for k in range(1, min(len(text), _PIECE_BACK) + 1):
        st = _CACHE.get((fmt, text[:-k]), _UNSET)
        if st is not _UNSET:
            cut = len(text) - k
            break
    if st is _UNSET:
        st = m.start()
    for ch in text[cut:]:
        if st is None:
            break
        st = m.step(st, ch)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[key] = st
    return st


def is_valid_prefix(text: str, fmt: str) -> bool:
    """True iff ``text`` can be continued into a complete valid text of form ``fmt``.

    Exact for the canonical printer output (every prefix of every ``dumps()`` text is accepted);
    never accepts a prefix that cannot be completed. Program forms are not constrained (True).
    """
    if not isinstance(text, str):
        return False
    if first_surrogate(text) >= 0:  # not valid Unicode: no continuation makes it valid
        return False
    if fmt in PROGRAM_FORMS:
        return True
    return prefix_state(text, fmt) is not None


def automaton_complete(text: str, fmt: str) -> bool:
    """True iff the automaton accepts ``text`` as a whole canonical-syntax text (for tests)."""
    st = prefix_state(text, fmt)
    if st is None:
        return False
    m = _machine(fmt)
    if fmt == "lc_b":
        return st[0] == "DONE"
    if fmt == "lc_t":
        return st[0] == "END"
    mode, data, stack = st
    if stack:
        return False
    if mode == "AV":
        return True
    # a number, bytes or handle that is still open at the very end
    if mode == "NUM":
        return num_complete(data)
    if mode == "HEX":
        return data == 0
    if mode == "NAME":
        return data == 1
    del m
    return False
