"""Lexical rules shared by the text forms (spec §3): quoted texts and numbers.

``quote`` prints a text; ``read_text`` reads one back, accepting exactly the escapes the spec
lists. ``format_float`` / ``read_number`` do the same for numbers. Readers raise ``HLXError``
with the caller's error code and the character offset (plus line and column).
"""

from __future__ import annotations

import re

from helix.hlx.errors import HLXError, line_col
from helix.hlx.value import check_float, check_int, is_nfc

_SHORT = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_UNSHORT = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
_NEEDS = re.compile(r'[\\"\x00-\x1f\x7f]')
_NEEDS_ASCII = re.compile(r'[\\"\x00-\x1f\x7f-\U0010ffff]')


def _esc(m: re.Match) -> str:
    ch = m.group()
    short = _SHORT.get(ch)
    if short is not None:
        return short
    o = ord(ch)
    if o < 0x10000:
        return f"\\u{o:04x}"
    return f"\\U{o:08x}"


def quote(s: str, ascii_only: bool = False) -> str:
    """``"..."`` with §3 escapes; with ``ascii_only`` (LC-T) every non-ASCII char is escaped."""
    pat = _NEEDS_ASCII if ascii_only else _NEEDS
    if pat.search(s) is None:
        return f'"{s}"'
    return '"' + pat.sub(_esc, s) + '"'


def fail(code: str, message: str, text: str, offset: int) -> HLXError:
    line, col = line_col(text, offset)
    return HLXError(code, message, offset=offset, line=line, col=col)


# Inside quotes: a run of plain characters, then a quote, backslash or bad character.
_PLAIN = re.compile(r'[^\\"\x00-\x1f\x7f]*')
_PLAIN_ASCII = re.compile(r'[\x20-\x21\x23-\x5b\x5d-\x7e]*')


def read_text(text: str, pos: int, *, code: str, ascii_only: bool = False,
              require_nfc: bool = False) -> tuple[str, int]:
    """Read a quoted text starting at ``text[pos] == '"'``; return (value, end offset)."""
    if pos >= len(text) or text[pos] != '"':
        raise fail(code, "expected '\"'", text, pos)
    plain = _PLAIN_ASCII if ascii_only else _PLAIN
    parts: list[str] = []
    i = pos + 1
    n = len(text)
    while True:
        m = plain.match(text, i)
        j = m.end()
        if j > i:
            parts.append(text[i:j])
        if j >= n:
            raise fail(code, "unterminated text", text, pos)
        ch = text[j]
        if ch == '"':
            i = j + 1
            break
        if ch != "\\":
            what = "non-ASCII character" if ord(ch) > 0x7E else "control character"
            raise fail(code, f"unescaped {what} U+{ord(ch):04X} in text", text, j)
        e = text[j + 1 : j + 2]
        if e in _UNSHORT:
            parts.append(_UNSHORT[e])
            i = j + 2
            continue
        if e in ("u", "U"):
            width = 4 if e == "u" else 8
            hexs = text[j + 2 : j + 2 + width]
            if len(hexs) != width or not all(c in "0123456789abcdef" for c in hexs):
                raise fail(code, f"\\{e} needs {width} lowercase hex digits", text, j)
            o = int(hexs, 16)
            if not _escape_allowed(o, e, ascii_only):
                raise fail(code, f"escape \\{e}{hexs} is not the canonical spelling", text, j)
            parts.append(chr(o))
            i = j + 2 + width
            continue
        raise fail(code, f"unknown escape \\{e}", text, j)
    s = "".join(parts)
    if require_nfc and not is_nfc(s):
        raise fail(code, "text is not in Unicode NFC", text, pos)
    return s, i


def _escape_allowed(o: int, kind: str, ascii_only: bool) -> bool:
    """Exactly the escapes a printer writes (§3)."""
    if o < 0x20 or o == 0x7F:
        return kind == "u" and chr(o) not in "\n\t\r"
    if not ascii_only or o < 0x7F:
        return False
    if 0xD800 <= o <= 0xDFFF or o > 0x10FFFF:
        return False
    return (kind == "u") == (o < 0x10000)


def format_float(f: float) -> str:
    """Python's shortest round-trip repr; always holds '.' or 'e'."""
    return "0.0" if f == 0.0 else repr(f)


_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def read_number(text: str, pos: int, *, code: str, strict: bool) -> tuple[int | float, int]:
    """Read an int or float literal at ``pos``. ``strict``: only canonical spellings."""
    m = _NUMBER.match(text, pos)
    if m is None:
        raise fail(code, "expected a number", text, pos)
    lit = m.group()
    end = m.end()
    if m.group(1) is None and m.group(2) is None:
        return check_int(int(lit), offset=pos), end
    f = float(lit)
    out = check_float(f, offset=pos)
    if strict and (lit != format_float(out) or lit == "-0.0"):
        raise fail(code, f"float {lit} is not in canonical form ({format_float(out)})", text, pos)
    return out, end
