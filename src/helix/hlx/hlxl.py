"""HLXL, the high-level syntax (spec §8): values and HLXL-LS programs.

Values
------
``dumps(value) -> str`` prints the one canonical HLXL text of a value: ``null``, ``true``,
``false``, numbers (floats as §3), ``"texts"`` (§3 escapes, non-ASCII kept), bytes ``0xdead``
(``0x`` when empty), handles bare (``&h_documents``), ``[a, b]``, records ``{name: v}``, fields
``{@0: v}``, and contracts: ``contract 902 { pipeline_id: "x", stages: [] }`` when the registry
gives the contract the named form, it has at least one field and every field present has a
registered name, else ``{902: {@0: "x", @9: 1}}``. Keys are always printed in canonical order.
The printer checks the value model as it goes (no copy of the value is made).

``loads(text) -> value`` is a strict reader returning a normalized value. It accepts whitespace
between tokens, keys in any order (canonicalised), non-canonical float spellings (``1.50``) and
quoted handles (``"&h_x"`` is the handle ``&h_x``), and nothing else: every error is an
``HLXError`` with line and column — ``E_SYNTAX_ERROR`` for malformed text, ``E_FIELD_ORDER`` for
a repeated key, ``E_CONTRACT_FIELD`` for an unknown field name in the named form,
``E_INVALID_CONTRACT_ID`` for ``contract N {...}`` where N is not a named registered contract,
and the value model's codes (``E_INT_RANGE``, ``E_KEY_FORMAT``, ``E_CONTRACT_FORM``, …).
``// comments`` are allowed in programs only. The reader does not run the contract validator
(``contracts.validate``).

Programs (HLXL-LS)
------------------
``loads_program(text) -> program.Program`` parses statements (``let x = e;``, ``return e;``,
``e;``) whose expressions are values that may hold variables and ``ls.collapse(e[, "tag"])``,
``ls.resolve(e)``, ``ls.snapshot()``, ``ls.rollback(e)`` and ``ls.transaction { ... }``.
Variables may not begin with ``__`` nor be a reserved word (``program.RESERVED_NAMES``).
``dumps_program(program) -> str`` prints the canonical text: one statement per line, no
comments, a transaction's statements indented four spaces per level, no trailing newline.
"""

from __future__ import annotations

import bisect
import re
import unicodedata

from helix.hlx.contracts import NAMED_FIELDS, NAMED_INDEX
from helix.hlx.errors import HLXError, check_unicode
from helix.hlx.escape import format_float, quote, read_number, read_text
from helix.hlx.program import (
    ArrayExpr, Call, Const, Expr, ExprStmt, Let, ObjectExpr, Program, Return, Txn, Var,
    MAX_NEST, MAX_TXN_DEPTH, PARSE_GUARD, check_program, check_variable_name, make_object,
)
from helix.hlx.value import (
    CONTRACT_ID_MAX, FIELD_RE, HANDLE_RE, IDENT_RE, INT_MAX, INT_MIN, MAX_DEPTH, Value,
    check_text, normalize, object_kind,
)

__all__ = ["dumps", "loads", "dumps_program", "loads_program", "format_expr", "TAG_RE",
           "MAX_NEST", "MAX_TXN_DEPTH"]

TAG_RE = re.compile(r"[A-Za-z0-9_]+\Z")

# =============================================================================== value printer

_is_normalized = unicodedata.is_normalized
_handle_match = HANDLE_RE.match
_field_match = FIELD_RE.match
_ident_match = IDENT_RE.match


def dumps(value: Value, *, normalized: bool = False) -> str:
    """The canonical HLXL text of ``value`` (``normalized`` is accepted for symmetry with the
    other printers; the value model is checked while printing either way)."""
    out: list[str] = []
    try:
        _dump(value, out, 0)
    except HLXError as err:
        # The fast printer has no paths; the reference checker gives the same error with one.
        try:
            normalize(value)
        except HLXError as ref:
            raise ref from None
        raise err
    return "".join(out)


def _fail_value(code: str, message: str) -> HLXError:
    return HLXError(code, message)


def _text(s: str) -> str:
    if s.startswith("&h_"):
        if _handle_match(s) is None:
            raise _fail_value("E_HANDLE_FORMAT", f"malformed handle {s[:80]!r}")
        return s
    if not s.isascii():
        s = check_text(s)
    return quote(s)


def _dump(v: Value, out: list, depth: int) -> None:
    t = type(v)
    if t is str:
        out.append(_text(v))
    elif t is int:
        if not INT_MIN <= v <= INT_MAX:
            raise _fail_value("E_INT_RANGE", "integer outside the signed 64-bit range")
        out.append(str(v))
    elif v is None:
        out.append("null")
    elif t is bool:
        out.append("true" if v else "false")
    elif t is float:
        if v != v or v in (float("inf"), float("-inf")):
            raise _fail_value("E_FLOAT_SPECIAL", f"float {v!r} is not finite")
        out.append(format_float(v))
    elif t is list:
        if depth >= MAX_DEPTH:
            raise _fail_value("E_DEPTH_EXCEEDED", f"nesting deeper than {MAX_DEPTH}")
        if not v:
            out.append("[]")
            return
        out.append("[")
        first = True
        for x in v:
            if first:
                first = False
            else:
                out.append(", ")
            _dump(x, out, depth + 1)
        out.append("]")
    elif t is dict:
        _dump_dict(v, out, depth)
    elif t is bytes:
        out.append("0x" + v.hex())
    elif isinstance(v, (bytes, bytearray, memoryview)):
        out.append("0x" + bytes(v).hex())
    elif isinstance(v, bool):
        out.append("true" if v else "false")
    elif isinstance(v, int):
        _dump(int(v), out, depth)
    elif isinstance(v, float):
        _dump(float(v), out, depth)
    elif isinstance(v, str):
        _dump(str(v), out, depth)
    elif isinstance(v, (list, dict)):
        _dump(list(v) if isinstance(v, list) else dict(v), out, depth)
    else:
        raise _fail_value("E_LC_ENCODE", f"{t.__name__} is not an HLX value")


def _field_order(d: dict) -> list:
    """Field keys of ``d`` in canonical order (E_KEY_FORMAT if any key is not ``@N``)."""
    idx = []
    for k in d:
        if type(k) is not str or _field_match(k) is None:
            object_kind(d)  # raises the precise error
            raise _fail_value("E_KEY_FORMAT", "object mixes key kinds")
        idx.append((int(k[1:]), k))
    idx.sort()
    return idx


def _dump_dict(d: dict, out: list, depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise _fail_value("E_DEPTH_EXCEEDED", f"nesting deeper than {MAX_DEPTH}")
    if not d:
        out.append("{}")
        return
    if len(d) == 1:
        (k, body), = d.items()
        if type(k) is int:
            if not 0 <= k <= CONTRACT_ID_MAX:
                raise _fail_value("E_CONTRACT_FORM", f"contract id {k} outside 0..2^32-1")
            if type(body) is not dict:
                raise _fail_value("E_CONTRACT_FORM", f"contract {k} must hold a fields object")
            if depth + 1 >= MAX_DEPTH:
                raise _fail_value("E_DEPTH_EXCEEDED", f"nesting deeper than {MAX_DEPTH}")
            if not body:
                out.append(f"{{{k}: {{}}}}")
                return
            for key in body:
                if type(key) is not str or _field_match(key) is None:
                    raise _fail_value("E_CONTRACT_FORM", f"contract {k} must hold a fields object")
            order = _field_order(body)
            names = NAMED_FIELDS.get(k)
            if names is not None and order[-1][0] < len(names):
                _dump_entries([(names[i], body[key]) for i, key in order], out, depth + 2,
                              f"contract {k} {{ ", " }")
            else:
                _dump_entries([(key, body[key]) for _, key in order], out, depth + 2,
                              f"{{{k}: {{", "}}")
            return
    first_key = next(iter(d))
    if type(first_key) is str and first_key.startswith("@"):
        keys = [k for _, k in _field_order(d)]
    else:
        for k in d:
            if type(k) is not str or _ident_match(k) is None:
                object_kind(d)
                raise _fail_value("E_KEY_FORMAT", f"bad object key {str(k)[:80]!r}")
        keys = sorted(d)
    _dump_entries([(k, d[k]) for k in keys], out, depth + 1, "{", "}")


def _dump_entries(pairs: list, out: list, depth: int, open_: str, close: str) -> None:
    """``open_ k: v, k: v close`` with each value printed at ``depth``."""
    out.append(open_)
    first = True
    for k, v in pairs:
        if first:
            first = False
        else:
            out.append(", ")
        out.append(k)
        out.append(": ")
        _dump(v, out, depth)
    out.append(close)

# ===================================================================================== lexer

_SKIP_VALUE = re.compile(r"[ \t\r\n]*")
_SKIP_PROGRAM = re.compile(r"(?:[ \t\r\n]+|//[^\n]*)*")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_BYTES = re.compile(r"0x([0-9A-Za-z_]*)")
_HEX_PAIRS = re.compile(r"(?:[0-9a-f]{2})*\Z")
_HANDLE = re.compile(r"&h_[A-Za-z0-9_]+")
_FIELD = re.compile(r"@([0-9A-Za-z_]*)")
_DIGITS = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_PUNCT = frozenset("[]{}(),:;=")
_NUM_START = frozenset("-0123456789")
_WORD_CHAR = re.compile(r"[A-Za-z0-9_.&@\"]")
_IDENT_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")

# token kinds
NUM, BYTES, STR, HANDLE, FIELD, IDENT, EOF = "num", "bytes", "str", "handle", "field", "ident", "eof"
_ATOM_KINDS = frozenset({NUM, BYTES, STR, HANDLE})


class _Lexer:
    __slots__ = ("text", "starts")

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: list[int] | None = None

    def lc(self, offset: int) -> tuple[int, int]:
        if self.starts is None:
            t = self.text
            starts = [0]
            i = t.find("\n")
            while i >= 0:
                starts.append(i + 1)
                i = t.find("\n", i + 1)
            self.starts = starts
        k = bisect.bisect_right(self.starts, offset) - 1
        return k + 1, offset - self.starts[k] + 1

    def error(self, code: str, message: str, offset: int) -> HLXError:
        line, col = self.lc(offset)
        return HLXError(code, message, offset=offset, line=line, col=col)

    def with_pos(self, err: HLXError, offset: int) -> HLXError:
        if err.line is not None:
            return err
        return self.error(err.code, err.message, offset)

    def tokens(self, program: bool) -> list[tuple]:
        """[(kind, value, start, end)], ending with an EOF token."""
        text = self.text
        n = len(text)
        skip = (_SKIP_PROGRAM if program else _SKIP_VALUE).match
        toks: list[tuple] = []
        append = toks.append
        i = 0
        while True:
            i = skip(text, i).end()
            if i >= n:
                append((EOF, None, n, n))
                return toks
            c = text[i]
            if c in _PUNCT:
                append((c, None, i, i + 1))
                i += 1
            elif c == '"':
                try:
                    s, j = read_text(text, i, code="E_SYNTAX_ERROR")
                except HLXError as e:
                    raise self.with_pos(e, i) from None
                if s.startswith("&h_"):
                    if HANDLE_RE.match(s) is None:
                        raise self.error("E_HANDLE_FORMAT", f"malformed handle {s[:80]!r}", i)
                    append((HANDLE, s, i, j))
                else:
                    if not s.isascii():
                        try:
                            s = check_text(s)
                        except HLXError as e:
                            raise self.with_pos(e, i) from None
                    append((STR, s, i, j))
                i = j
            elif c in _NUM_START:
                if text.startswith("0x", i):
                    m = _BYTES.match(text, i)
                    hexs = m.group(1)
                    if _HEX_PAIRS.match(hexs) is None:
                        raise self.error("E_SYNTAX_ERROR",
                                         "bytes are 0x followed by pairs of lowercase hex digits",
                                         i)
                    j = m.end()
                    append((BYTES, bytes.fromhex(hexs), i, j))
                else:
                    try:
                        num, j = read_number(text, i, code="E_SYNTAX_ERROR", strict=False)
                    except HLXError as e:
                        raise self.with_pos(e, i) from None
                    if j < n and _WORD_CHAR.match(text, j):
                        raise self.error("E_SYNTAX_ERROR", "malformed number", i)
                    append((NUM, num, i, j))
                i = j
            elif c == "&":
                m = _HANDLE.match(text, i)
                if m is None or (m.end() < n and (text[m.end()] in "-.&@\"'"
                                                  or not text[m.end()].isascii())):
                    j = i + 1
                    while j < n and not text[j].isspace() and text[j] not in _PUNCT:
                        j += 1
                    raise self.error("E_HANDLE_FORMAT",
                                     f"malformed handle {text[i:j][:80]!r}", i)
                append((HANDLE, m.group(), i, m.end()))
                i = m.end()
            elif c == "@":
                m = _FIELD.match(text, i)
                if _DIGITS.match(m.group(1)) is None:
                    raise self.error("E_KEY_FORMAT",
                                     f"bad field key {m.group()!r} (field keys are @N, N a "
                                     "decimal without leading zeros)", i)
                append((FIELD, m.group(), i, m.end()))
                i = m.end()
            elif c in _IDENT_START:
                m = _IDENT.match(text, i)
                append((IDENT, m.group(), i, m.end()))
                i = m.end()
            elif c == "/" and text.startswith("//", i):
                raise self.error("E_SYNTAX_ERROR", "comments are allowed in programs only", i)
            else:
                raise self.error("E_SYNTAX_ERROR", f"unexpected character {c!r}", i)


# ==================================================================================== parser

_LS_FUNCS = {"ls.collapse": "collapse", "ls.resolve": "resolve", "ls.snapshot": "snapshot",
             "ls.rollback": "rollback"}
_KEYWORD_VALUES = {"null": None, "true": True, "false": False}


def _describe(tok: tuple) -> str:
    kind = tok[0]
    if kind == EOF:
        return "end of input"
    if kind == IDENT:
        return repr(tok[1])
    if kind in _PUNCT:
        return repr(kind)
    return {NUM: "a number", BYTES: "bytes", STR: "a text", HANDLE: "a handle",
            FIELD: f"field key {tok[1]}"}[kind]


class _Parser:
    """Recursive descent over a token list. Expressions come back as a plain value (a constant
    part) or an :class:`Expr` node (a part holding variables or calls)."""

    def __init__(self, text: str, program: bool) -> None:
        self.lex = _Lexer(text)
        self.program = program
        self.toks = self.lex.tokens(program)
        self.i = 0
        self.txn_depth = 0

    # helpers ------------------------------------------------------------------------------
    def err(self, code: str, message: str, tok: tuple) -> HLXError:
        return self.lex.error(code, message, tok[2])

    def expect(self, kind: str, context: str) -> tuple:
        tok = self.toks[self.i]
        if tok[0] != kind:
            raise self.err("E_SYNTAX_ERROR",
                           f"expected {kind!r} {context}, found {_describe(tok)}", tok)
        self.i += 1
        return tok

    def pos(self, tok: tuple) -> dict:
        line, col = self.lex.lc(tok[2])
        return {"line": line, "col": col}

    def wrap(self, x, tok: tuple) -> Expr:
        return x if isinstance(x, Expr) else Const(x, **self.pos(tok))

    # values / expressions -----------------------------------------------------------------
    def expr(self, vdepth: int, nest: int):
        tok = self.toks[self.i]
        kind = tok[0]
        if kind in _ATOM_KINDS:
            self.i += 1
            return tok[1]
        if nest > PARSE_GUARD:
            raise self.err("E_DEPTH_EXCEEDED", f"expression nested deeper than {MAX_NEST}", tok)
        if kind == "[":
            return self.array(tok, vdepth, nest)
        if kind == "{":
            return self.obj(tok, vdepth, nest)
        if kind == IDENT:
            name = tok[1]
            if name in _KEYWORD_VALUES:
                self.i += 1
                return _KEYWORD_VALUES[name]
            if name == "contract":
                return self.named(tok, vdepth, nest)
            if not self.program:
                raise self.err("E_SYNTAX_ERROR",
                               f"unexpected identifier {name!r} (texts are written in double "
                               "quotes, handles as &h_name)", tok)
            if "." in name:
                return self.ls_call(tok, nest)
            check_variable_name(name, **self.pos(tok))
            self.i += 1
            return Var(name, **self.pos(tok))
        raise self.err("E_SYNTAX_ERROR", f"expected a value, found {_describe(tok)}", tok)

    def array(self, start: tuple, vdepth: int, nest: int):
        if vdepth >= MAX_DEPTH:
            raise self.err("E_DEPTH_EXCEEDED", f"nesting deeper than {MAX_DEPTH}", start)
        self.i += 1
        toks = self.toks
        if toks[self.i][0] == "]":
            self.i += 1
            return []
        items = []
        tok_of = []
        const = True
        while True:
            tok_of.append(toks[self.i])
            x = self.expr(vdepth + 1, nest + 1)
            if const and isinstance(x, Expr):
                const = False
            items.append(x)
            t = toks[self.i]
            self.i += 1
            if t[0] == ",":
                continue
            if t[0] == "]":
                break
            raise self.err("E_SYNTAX_ERROR", f"expected ',' or ']' in an array, found "
                           f"{_describe(t)}", t)
        if const:
            return items
        return ArrayExpr([self.wrap(x, tk) for x, tk in zip(items, tok_of)], **self.pos(start))

    def key(self) -> tuple:
        tok = self.toks[self.i]
        kind = tok[0]
        if (kind == IDENT and "." not in tok[1]) or kind == FIELD:
            key = tok[1]
        elif kind == NUM and type(tok[1]) is int and self.lex.text[tok[2]] != "-":
            key = tok[1]
        elif kind == STR or kind == HANDLE:
            raise self.err("E_SYNTAX_ERROR", "object keys are not quoted in HLXL "
                           "(write {name: v}, {@0: v} or {902: {...}})", tok)
        elif kind == NUM:
            raise self.err("E_CONTRACT_FORM", "a contract id is a decimal int in 0..2^32-1", tok)
        else:
            raise self.err("E_SYNTAX_ERROR", f"expected an object key, found {_describe(tok)}",
                           tok)
        self.i += 1
        return key, tok

    def obj(self, start: tuple, vdepth: int, nest: int):
        if vdepth >= MAX_DEPTH:
            raise self.err("E_DEPTH_EXCEEDED", f"nesting deeper than {MAX_DEPTH}", start)
        self.i += 1
        toks = self.toks
        if toks[self.i][0] == "}":
            self.i += 1
            return {}
        entries: dict = {}
        tok_of: dict = {}
        while True:
            key, ktok = self.key()
            self.expect(":", "after an object key")
            if key in entries:
                raise self.err("E_FIELD_ORDER", f"key {key} repeated", ktok)
            tok_of[key] = toks[self.i]
            entries[key] = self.expr(vdepth + 1, nest + 1)
            t = toks[self.i]
            self.i += 1
            if t[0] == ",":
                continue
            if t[0] == "}":
                break
            raise self.err("E_SYNTAX_ERROR", f"expected ',' or '}}' in an object, found "
                           f"{_describe(t)}", t)
        try:
            return make_object(entries, lambda k, x: self.wrap(x, tok_of[k]), **self.pos(start))
        except HLXError as e:
            key = getattr(e, "key", None)
            raise self.err(e.code, e.message, start if key is None else tok_of[key]) from None

    def named(self, kw: tuple, vdepth: int, nest: int):
        self.i += 1
        nt = self.toks[self.i]
        if nt[0] != NUM or type(nt[1]) is not int or self.lex.text[nt[2]] == "-":
            raise self.err("E_SYNTAX_ERROR",
                           f"expected a contract id after 'contract', found {_describe(nt)}", nt)
        cid = nt[1]
        index = NAMED_INDEX.get(cid)
        if index is None:
            raise self.err("E_INVALID_CONTRACT_ID",
                           f"contract {cid} has no named form in the registry (write the "
                           f"literal form {{{cid}: {{@0: ...}}}})", nt)
        self.i += 1
        start = self.expect("{", f"after 'contract {cid}'")
        if vdepth + 1 >= MAX_DEPTH:
            raise self.err("E_DEPTH_EXCEEDED", f"nesting deeper than {MAX_DEPTH}", start)
        toks = self.toks
        entries: dict = {}
        tok_of: dict = {}
        const = True
        if toks[self.i][0] == "}":
            self.i += 1
        else:
            while True:
                ft = toks[self.i]
                if ft[0] != IDENT or "." in ft[1]:
                    if ft[0] == FIELD:
                        raise self.err("E_CONTRACT_FIELD",
                                       f"the named form takes field names, not {ft[1]} (use "
                                       f"the literal form {{{cid}: {{...}}}})", ft)
                    raise self.err("E_SYNTAX_ERROR",
                                   f"expected a field name, found {_describe(ft)}", ft)
                idx = index.get(ft[1])
                if idx is None:
                    raise self.err("E_CONTRACT_FIELD",
                                   f"contract {cid} has no field {ft[1]!r}; fields: "
                                   f"{', '.join(NAMED_FIELDS[cid])}", ft)
                self.i += 1
                self.expect(":", "after a field name")
                if idx in entries:
                    raise self.err("E_FIELD_ORDER", f"field {ft[1]} repeated", ft)
                tok_of[idx] = toks[self.i]
                x = self.expr(vdepth + 2, nest + 1)
                if const and isinstance(x, Expr):
                    const = False
                entries[idx] = x
                t = toks[self.i]
                self.i += 1
                if t[0] == ",":
                    continue
                if t[0] == "}":
                    break
                raise self.err("E_SYNTAX_ERROR",
                               f"expected ',' or '}}' in contract {cid}, found {_describe(t)}", t)
        order = sorted(entries)
        if const:
            return {cid: {f"@{i}": entries[i] for i in order}}
        body = ObjectExpr([(f"@{i}", self.wrap(entries[i], tok_of[i])) for i in order],
                          **self.pos(start))
        return ObjectExpr([(cid, body)], **self.pos(kw))

    def ls_call(self, tok: tuple, nest: int) -> Expr:
        name = tok[1]
        if name == "ls.transaction":
            return self.txn(tok, nest)
        fn = _LS_FUNCS.get(name)
        if fn is None:
            if name.startswith("ls."):
                raise self.err("E_SYNTAX_ERROR",
                               f"unknown function {name!r} (ls.collapse, ls.resolve, "
                               "ls.snapshot, ls.rollback, ls.transaction)", tok)
            raise self.err("E_SYNTAX_ERROR",
                           f"attribute access {name!r} is not HLXL", tok)
        self.i += 1
        self.expect("(", f"after {name}")
        args = []
        tag = None
        if fn != "snapshot":
            at = self.toks[self.i]
            args.append(self.wrap(self.expr(0, nest + 1), at))
            if fn == "collapse" and self.toks[self.i][0] == ",":
                self.i += 1
                tt = self.toks[self.i]
                if tt[0] != STR:
                    raise self.err("E_SYNTAX_ERROR",
                                   f"the tag of ls.collapse is a text, found {_describe(tt)}",
                                   tt)
                if TAG_RE.match(tt[1]) is None:
                    raise self.err("E_HANDLE_FORMAT",
                                   f"collapse tag {tt[1][:40]!r} must be letters, digits or _",
                                   tt)
                tag = tt[1]
                self.i += 1
        self.expect(")", f"to close {name}(")
        return Call(fn, args, tag, **self.pos(tok))

    def txn(self, tok: tuple, nest: int) -> Txn:
        if self.txn_depth >= MAX_TXN_DEPTH:
            raise self.err("E_DEPTH_EXCEEDED",
                           f"ls.transaction nested deeper than {MAX_TXN_DEPTH}", tok)
        self.i += 1
        self.expect("{", "after ls.transaction")
        self.txn_depth += 1
        body = self.stmts("}", nest + 1)
        self.txn_depth -= 1
        self.i += 1  # the '}'
        return Txn(body, **self.pos(tok))

    # statements ---------------------------------------------------------------------------
    def stmts(self, end: str, nest: int) -> list:
        body = []
        toks = self.toks
        while True:
            kind = toks[self.i][0]
            if kind == end:
                return body
            if kind == EOF:
                raise self.err("E_SYNTAX_ERROR",
                               "unterminated ls.transaction block (missing '}')", toks[self.i])
            body.append(self.stmt(nest))

    def stmt(self, nest: int):
        tok = self.toks[self.i]
        if tok[0] == IDENT and tok[1] == "let":
            self.i += 1
            nt = self.toks[self.i]
            if nt[0] != IDENT:
                raise self.err("E_SYNTAX_ERROR",
                               f"expected a variable name after 'let', found {_describe(nt)}", nt)
            name = check_variable_name(nt[1], **self.pos(nt))
            self.i += 1
            self.expect("=", f"after 'let {name}'")
            et = self.toks[self.i]
            e = self.wrap(self.expr(0, nest), et)
            self.expect(";", "at the end of the statement")
            return Let(name, e, **self.pos(tok))
        if tok[0] == IDENT and tok[1] == "return":
            self.i += 1
            et = self.toks[self.i]
            e = self.wrap(self.expr(0, nest), et)
            self.expect(";", "at the end of the statement")
            return Return(e, **self.pos(tok))
        e = self.wrap(self.expr(0, nest), tok)
        self.expect(";", "at the end of the statement")
        return ExprStmt(e, **self.pos(tok))


def loads(text: str) -> Value:
    """Read one HLXL value (strict; see the module doc)."""
    if not isinstance(text, str):
        raise HLXError("E_SYNTAX_ERROR", "HLXL text must be a str")
    check_unicode(text)
    p = _Parser(text, program=False)
    v = p.expr(0, 0)
    t = p.toks[p.i]
    if t[0] != EOF:
        raise p.err("E_SYNTAX_ERROR", f"unexpected {_describe(t)} after the value", t)
    return v


def loads_program(text: str) -> Program:
    """Parse an HLXL-LS program into the shared AST."""
    if not isinstance(text, str):
        raise HLXError("E_SYNTAX_ERROR", "HLXL-LS text must be a str")
    check_unicode(text)
    p = _Parser(text, program=True)
    body = p.stmts(EOF, 0)
    return check_program(Program(body, line=1, col=1))


# ============================================================================ program printer

_INDENT = "    "


def format_expr(e: Expr, indent: int = 0) -> str:
    """HLXL-LS text of one expression (``indent``: the level of the enclosing statement)."""
    t = type(e)
    if t is Const:
        return dumps(e.value)
    if t is Var:
        return e.name
    if t is ArrayExpr:
        return "[" + ", ".join(format_expr(x, indent) for x in e.items) + "]"
    if t is ObjectExpr:
        ent = e.entries
        if len(ent) == 1 and type(ent[0][0]) is int:
            cid, body = ent[0]
            names = NAMED_FIELDS.get(cid)
            if names is not None:
                if type(body) is ObjectExpr:
                    fields = [(int(k[1:]), x) for k, x in body.entries]
                elif type(body) is Const and type(body.value) is dict:
                    fields = [(int(k[1:]), Const(x)) for k, x in body.value.items()]
                else:
                    fields = None
                if fields and all(i < len(names) for i, _ in fields):
                    inner = ", ".join(f"{names[i]}: {format_expr(x, indent)}"
                                      for i, x in sorted(fields, key=lambda p: p[0]))
                    return f"contract {cid} {{ {inner} }}"
            return f"{{{cid}: {format_expr(body, indent)}}}"
        return "{" + ", ".join(f"{k}: {format_expr(x, indent)}" for k, x in ent) + "}"
    if t is Call:
        if e.fn == "snapshot":
            return "ls.snapshot()"
        arg = format_expr(e.args[0], indent)
        if e.tag is not None:
            return f"ls.{e.fn}({arg}, {quote(e.tag)})"
        return f"ls.{e.fn}({arg})"
    if t is Txn:
        if not e.body:
            return "ls.transaction {}"
        inner = "\n".join(_format_stmt(s, indent + 1) for s in e.body)
        return "ls.transaction {\n" + inner + "\n" + _INDENT * indent + "}"
    raise TypeError(f"not an HLXL-LS expression: {e!r}")


def _format_stmt(s, indent: int) -> str:
    pad = _INDENT * indent
    t = type(s)
    if t is Let:
        return f"{pad}let {s.name} = {format_expr(s.expr, indent)};"
    if t is Return:
        return f"{pad}return {format_expr(s.expr, indent)};"
    if t is ExprStmt:
        return f"{pad}{format_expr(s.expr, indent)};"
    raise TypeError(f"not an HLXL-LS statement: {s!r}")


def dumps_program(program: Program) -> str:
    """The canonical HLXL-LS text of a program (no trailing newline)."""
    return "\n".join(_format_stmt(s, 0) for s in program.body)

