"""The one HLX error type (spec §11)."""

from __future__ import annotations

import re

CODES = frozenset(
    """E_INT_RANGE E_FLOAT_SPECIAL E_HANDLE_FORMAT E_KEY_FORMAT E_CONTRACT_FORM E_CONTRACT_FIELD
E_DEPTH_EXCEEDED E_SIZE_EXCEEDED E_FIELD_ORDER E_LC_ENCODE E_LC_DECODE E_LC_PARSE E_SYNTAX_ERROR
E_UNDEFINED_IDENTIFIER E_TYPE_MISMATCH E_INVALID_CONTRACT_ID E_HANDLE_NOT_FOUND E_HASH_MISMATCH
E_TRANSACTION_FAILED""".split()
)


class HLXError(ValueError):
    """Every failure in the language core is an ``HLXError``.

    ``code`` is one of :data:`CODES`. A position is given as a byte ``offset`` (LC-B),
    a character ``offset`` (single-line text forms) and/or ``line``/``col`` (1-based,
    programs and text forms), and ``path`` (where in a value, e.g. ``$.@1[0]``).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        offset: int | None = None,
        line: int | None = None,
        col: int | None = None,
        path: str | None = None,
    ) -> None:
        if code not in CODES:
            raise AssertionError(f"unknown HLX error code {code!r}")
        self.code = code
        self.message = message
        self.offset = offset
        self.line = line
        self.col = col
        self.path = path
        super().__init__(self.__str__())

    @property
    def where(self) -> str:
        """Human position: ``line:col``, ``byte N``/``offset N`` or ``path``; '' if none."""
        if self.line is not None:
            return f"{self.line}:{self.col if self.col is not None else 1}"
        if self.offset is not None:
            return f"offset {self.offset}"
        if self.path is not None:
            return self.path
        return ""

    def __str__(self) -> str:
        where = self.where
        return f"{self.code} at {where}: {self.message}" if where else f"{self.code}: {self.message}"

    def to_dict(self) -> dict:
        d: dict = {"code": self.code, "message": self.message}
        for k in ("offset", "line", "col", "path"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        return d

    def __reduce__(self):  # picklable across processes (DDP workers, multiprocessing)
        return (_rebuild, (self.code, self.message, self.offset, self.line, self.col, self.path))


def _rebuild(code, message, offset, line, col, path):
    return HLXError(code, message, offset=offset, line=line, col=col, path=path)


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset in ``text``."""
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return line, offset - start + 1


# A str that is not valid Unicode holds a lone surrogate (U+D800..U+DFFF): what Python makes of
# invalid UTF-8 bytes read with ``errors="surrogateescape"`` (argv, stdin, file names), or of a
# half of a surrogate pair. No HLX form can hold one (LC-B stores UTF-8).
_SURROGATE = re.compile("[\ud800-\udfff]")


def first_surrogate(text: str) -> int:
    """Offset of the first lone surrogate in ``text``; -1 if ``text`` is valid Unicode."""
    m = _SURROGATE.search(text)
    return -1 if m is None else m.start()


def check_unicode(text: str) -> str:
    """Return ``text``; ``E_LC_DECODE`` (with its position) if it is not valid Unicode.

    Every reader of a text form calls this first, so a lone surrogate -- typically an invalid
    UTF-8 byte that reached Python through ``surrogateescape`` -- is reported where it is,
    never passed on into a value (where printing it would raise ``UnicodeEncodeError`` or write
    invalid UTF-8).
    """
    i = first_surrogate(text)
    if i < 0:
        return text
    c = ord(text[i])
    hint = (f" (the invalid UTF-8 byte 0x{c - 0xDC00:02x} of the input)" if 0xDC80 <= c <= 0xDCFF
            else " (half of a surrogate pair)")
    line, col = line_col(text, i)
    raise HLXError("E_LC_DECODE", f"the text is not valid Unicode: lone surrogate U+{c:04X}{hint}",
                   offset=i, line=line, col=col)
