"""One entry point for every surface form: ``encode``, ``decode``, ``convert``, ``detect_form``.

Value forms: ``hlxl``, ``hlx``, ``lc_t``, ``lc_b`` (the ``[0x…]`` text form), ``lc_r``.
Program forms: ``hlxl_ls`` <-> ``hlx_ls`` (delegated to :func:`helix.hlx.hlxls.convert_program`).

``encode(value, fmt)`` normalizes ``value`` once and prints it; ``decode(text, fmt)`` is the
form's strict reader and returns a normalized value; ``convert(text, src, dst)`` is
``encode(decode(text, src), dst)`` without re-checking the already normalized value. An unknown
form name, or a value form mixed with a program form, is a ``ValueError`` (a usage error); bad
input is always an ``HLXError``.
"""

from __future__ import annotations

from helix.hlx import hlxform, hlxl, hlxls, lcb, lcr, lct
from helix.hlx.errors import HLXError, check_unicode
from helix.hlx.forms import FORMS, PROGRAM_FORMS, VALUE_FORMS
from helix.hlx.value import normalize

# Order in which detect_form tries the forms; the first that reads the text wins.
DETECT_ORDER = ("lc_b", "lc_t", "hlxl", "hlx", "lc_r", "hlxl_ls", "hlx_ls")


def _printer(fmt: str):
    if fmt == "hlx":
        return hlxform.dumps
    if fmt == "lc_t":
        return lct.dumps
    if fmt == "lc_r":
        return lcr.dumps
    if fmt == "lc_b":
        return lcb.dumps_text
    return None


def _check_form(fmt: str, allowed=VALUE_FORMS) -> None:
    if fmt not in allowed:
        kinds = "value form" if allowed is VALUE_FORMS else "form"
        raise ValueError(f"unknown {kinds} {fmt!r} (expected one of: {', '.join(allowed)})")


def encode(value, fmt: str) -> str:
    """Text of ``value`` in value form ``fmt`` (normalizes first; bad values -> HLXError)."""
    _check_form(fmt)
    v = normalize(value)
    return _encode_normalized(v, fmt)


def _encode_normalized(v, fmt: str) -> str:
    if fmt == "hlxl":
        return hlxl.dumps(v, normalized=True)
    return _printer(fmt)(v, normalized=True)


def encode_all(value, forms=VALUE_FORMS) -> dict:
    """``{fmt: encode(value, fmt)}`` for several forms, normalizing only once."""
    for fmt in forms:
        _check_form(fmt)
    v = normalize(value)
    return {fmt: _encode_normalized(v, fmt) for fmt in forms}


def decode(text: str, fmt: str):
    """Strictly read ``text`` in value form ``fmt``; returns a normalized value."""
    _check_form(fmt)
    if fmt == "hlx":
        return hlxform.loads(text)
    if fmt == "lc_t":
        return lct.loads(text)
    if fmt == "lc_r":
        return lcr.loads(text)
    if fmt == "lc_b":
        return lcb.loads_text(text)
    return hlxl.loads(text)


def convert(text: str, src: str, dst: str) -> str:
    """Convert ``text`` from form ``src`` to form ``dst``.

    Value forms convert among themselves (A3); ``hlxl_ls`` and ``hlx_ls`` convert to each
    other (and to themselves, which canonicalises) through the programs subsystem.
    """
    if src in PROGRAM_FORMS or dst in PROGRAM_FORMS:
        _check_form(src, FORMS)
        _check_form(dst, FORMS)
        if src not in PROGRAM_FORMS or dst not in PROGRAM_FORMS:
            raise ValueError(f"cannot convert between a value form and a program form ({src} -> {dst})")
        return hlxls.convert_program(text, src, dst)
    _check_form(src)
    _check_form(dst)
    v = decode(text, src)
    return _encode_normalized(v, dst)


def read_error(text: str, fmt: str) -> HLXError | None:
    """Why form ``fmt``'s strict reader refuses ``text`` (None: it reads, a complete valid text).
    The one check of "does this text read in form F" (``helix ask``, evaluation, the gates)."""
    if fmt not in FORMS:
        raise ValueError(f"unknown form {fmt!r}")
    try:
        if fmt in PROGRAM_FORMS:
            convert(text, fmt, fmt)
        else:
            decode(text, fmt)
    except HLXError as e:
        return e
    return None


def is_complete(text: str, fmt: str) -> bool:
    """True iff ``text`` is a complete valid text of form ``fmt`` (its strict reader accepts it)."""
    return read_error(text, fmt) is None


def detect_form(text: str) -> str | None:
    """The form ``text`` is written in, or ``None`` (English, or anything that is not HLX).

    Rule (exact, deterministic):

    1. A text is reported as form F only if F's strict reader accepts the whole text
       (``decode(text, F)`` for value forms; for programs, ``convert(text, F, F)``).
       Nothing is stripped; each reader decides (HLXL and the program forms allow whitespace
       between tokens, the other value forms allow none).
    2. The forms are tried in the fixed order ``lc_b, lc_t, hlxl, hlx, lc_r, hlxl_ls, hlx_ls``
       and the first that accepts the text wins.
    3. Where several value forms accept one text they read the same value (numbers, quoted
       texts, lists of them, ``{}``, literal contracts: HLXL and HLX, sometimes LC-R), so
       the choice does not change the meaning -- with one exception the spec makes
       unavoidable: ``[0x…]`` is also HLXL for a one-element array of bytes (``[0x0a]`` is
       ``true`` in LC-B and ``[b"\\n"]`` in HLXL). Such a text is LC-B whenever it decodes as
       LC-B; it is HLXL only when it does not (e.g. ``[0x00ff]``, trailing bytes in LC-B).
    4. Value forms come before program forms: a value text (``42``, ``[1, 2]``) is also a
       one-statement HLX-LS program, and it is reported as a value form.

    A text that is not valid Unicode (a lone surrogate, e.g. an invalid UTF-8 byte read with
    ``surrogateescape``) is neither HLX nor English: ``E_LC_DECODE`` with its position.
    """
    if not isinstance(text, str) or not text:
        return None
    check_unicode(text)
    first = text[0]
    for fmt in DETECT_ORDER:
        if fmt == "lc_b" and not text.startswith("[0x"):
            continue
        if fmt == "lc_t" and not (first == "[" and text[1:2].isupper()):
            continue
        if is_complete(text, fmt):
            return fmt
    return None
