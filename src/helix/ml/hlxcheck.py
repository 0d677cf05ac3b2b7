"""Validity and semantic checks of generated text, through the language core ``helix.hlx``.

- valid = the form's strict reader accepts the text (``helix.hlx.read_error``, the one check);
- value forms (hlxl, hlx, lc_t, lc_b, lc_r): semantic = the decoded value ``values_equal`` the
  expected one; program forms (hlxl_ls, hlx_ls): both convert to the same canonical text.
- english: no parser, so validity and semantic match are ``None`` (only exact match counts).

If the language core lacks one of the functions used here the checks return ``None`` and
``available()`` says why (the form names come from ``helix.hlx.forms``, imported with this module).
"""

from __future__ import annotations

from helix.hlx.forms import PROGRAM_FORMS, VALUE_FORMS

_OTHER = {"hlxl_ls": "hlx_ls", "hlx_ls": "hlxl_ls"}

_hlx = None
_import_error: str | None = None


def _core():
    global _hlx, _import_error
    if _hlx is None and _import_error is None:
        try:
            import helix.hlx as h

            for name in ("decode", "values_equal", "convert", "read_error", "HLXError"):
                getattr(h, name)
            _hlx = h
        except (ImportError, AttributeError) as e:
            _import_error = f"helix.hlx is not available ({e}); validity and semantic match skipped"
    return _hlx


def available() -> tuple[bool, str | None]:
    return _core() is not None, _import_error


def _parse(fmt: str, text: str):
    """The canonical parse of ``text`` in ``fmt`` (a value, or the program's other-form text)."""
    h = _core()
    if fmt in VALUE_FORMS:
        return h.decode(text, fmt)
    return h.convert(text, fmt, _OTHER[fmt])


def check(fmt: str, text: str) -> tuple[bool | None, dict | None]:
    """(``text`` reads in form ``fmt``, the reader's error as a dict): ``helix.hlx.read_error``.
    (None, None) for English, or without the language core."""
    h = _core()
    if h is None or fmt not in VALUE_FORMS + PROGRAM_FORMS:
        return None, None
    try:
        e = h.read_error(text, fmt)
    except Exception as x:  # noqa: BLE001 - a checker bug is the text's error, never a pass
        return False, {"code": "E_MODEL", "message": f"{type(x).__name__}: {x}"}
    return e is None, None if e is None else e.to_dict()


def is_valid(fmt: str, text: str) -> bool | None:
    return check(fmt, text)[0]


def semantic_match(fmt: str, text: str, expected: str) -> bool | None:
    """Does ``text`` mean the same as ``expected`` (both in ``fmt``)?"""
    h = _core()
    if h is None or fmt not in VALUE_FORMS + PROGRAM_FORMS:
        return None
    try:
        want = _parse(fmt, expected)
    except Exception:
        return None  # the reference itself does not parse: not judgeable
    try:
        got = _parse(fmt, text)
    except Exception:
        return False
    if fmt in VALUE_FORMS:
        try:
            return bool(h.values_equal(got, want))
        except Exception:
            return False
    return got == want


def prefix_ok(tgt_fmt: str, text: str) -> bool:
    """The first half of :func:`prefix_constraint` alone: ``text`` is a valid prefix in ``tgt_fmt``."""
    h = _core()
    if h is None or tgt_fmt not in VALUE_FORMS + PROGRAM_FORMS:
        return True
    try:
        return bool(h.is_valid_prefix(text, tgt_fmt))
    except Exception:  # a checker bug must not pass a prefix as valid
        return False


def prefix_constraint(tgt_fmt: str, text: str) -> tuple[bool, bool]:
    """The grammar constraint of constrained decoding (``helix ask``'s candidates, ``helix eval
    --system``): (``text`` is a valid prefix in ``tgt_fmt``, ``text`` is complete), by
    ``helix.hlx.is_valid_prefix`` and the format's parser. English, or no language core: anything
    goes. Decoding asks :func:`prefix_ok` alone for a token that does not end the text (its
    ``prefix_ok`` attribute), and the parser only where ``<eos>`` would end it."""
    h = _core()
    if h is None or tgt_fmt not in VALUE_FORMS + PROGRAM_FORMS:
        return True, True
    if not prefix_ok(tgt_fmt, text):
        return False, False
    return True, bool(is_valid(tgt_fmt, text))


prefix_constraint.prefix_ok = prefix_ok  # type: ignore[attr-defined]
