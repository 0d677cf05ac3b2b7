"""HLX-LS, the latent-space API and its text form (spec §9).

Python API
----------
The store objects (:class:`~helix.hlx.store.MemoryStore`, :class:`~helix.hlx.store.SQLiteStore`)
*are* the store-bound API: ``store.collapse(value, tag=None) -> handle``,
``store.resolve(handle)``, ``store.snapshot() -> checkpoint``, ``store.rollback(checkpoint)``,
``store.transaction(fn) -> fn()`` and ``store.bind(handle, value)``.

This module offers the same six names as module-level functions working on a *default store*:
a process-local :class:`~helix.hlx.store.MemoryStore` created on first use (nothing is written to
disk unless you choose to). ``set_default_store(store)`` replaces it (for example with
``open_store(default_store_path())``), ``default_store()`` returns it.

Text form
---------
``dumps_program(program) -> str`` prints a program AST as HLX-LS: the Python that calls this
API, one statement per HLXL statement, values in HLX form (``hlxform``), variables as bare
names. ``let x = e;`` -> ``x = e``; ``e;`` -> ``e``; a top-level ``return e;`` ->
``__result__ = e``; a transaction -> ``def _txnN():`` (its statements indented four spaces,
``pass`` for an empty one) placed right before the statement that uses it, which calls
``transaction(_txnN)`` in its place. N counts the program's transactions from 1 in the order
their ``ls.transaction`` keywords appear (so the ``def`` lines appear in increasing N).

``loads_program(text) -> Program`` reads it back with ``ast.parse`` (parsing only: nothing is
compiled or executed) and a fixed whitelist: ``Module``; statements ``Assign`` (one plain name),
``Expr``, ``FunctionDef`` (``_txnN``, no arguments, no decorators), ``Return`` (inside a
``def`` only) and ``Pass`` (as the whole body of a ``def``); expressions ``Constant``
(``None``/``True``/``False``, ints, floats, texts, bytes), unary minus on a number, ``List``,
``Dict``, ``Name`` and ``Call`` of exactly ``collapse``, ``resolve``, ``snapshot``,
``rollback`` and ``transaction``. Literals must be spelled as HLX writes them (double-quoted
texts with §3 escapes, ``b"\\xNN"`` bytes, decimal numbers); whitespace follows Python. Anything
else — imports, attribute access, other calls, operators, comprehensions, ``lambda`` … — is
``E_SYNTAX_ERROR`` with line and column.

``parse_program(text, lang)`` reads either program form and ``run_program(text, lang, store)`` runs it.
``convert_program(text, src, dst)`` converts ``hlxl_ls`` <-> ``hlx_ls`` (either direction, or to
itself to canonicalise). Canonical text -> other form -> back gives the same text.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Callable

from helix.hlx import hlxform, hlxl
from helix.hlx.errors import HLXError, check_unicode
from helix.hlx.escape import quote, read_text
from helix.hlx.hlxl import TAG_RE
from helix.hlx.program import (
    TXN_NAME_RE, ArrayExpr, Call, Const, Expr, ExprStmt, Let, ObjectExpr, Program, Return,
    MAX_NEST, MAX_TXN_DEPTH, PARSE_GUARD, Txn, Var, check_program, check_variable_name, iter_txns,
    make_object, program_lang, run_ast,
)
from helix.hlx.value import (
    FIELD_RE, HANDLE_PREFIX, IDENT_RE, INT_MAX, Value, check_float, check_handle,
    check_text, normalize,
)

__all__ = [
    "collapse", "resolve", "snapshot", "rollback", "transaction", "bind",
    "default_store", "set_default_store",
    "dumps_program", "loads_program", "convert_program", "parse_program", "run_program",
]

# ================================================================================ Python API

_default_store = None


def default_store():
    """The store the module-level functions use (a MemoryStore made on first use)."""
    global _default_store
    if _default_store is None:
        from helix.hlx.store import MemoryStore

        _default_store = MemoryStore()
    return _default_store


def set_default_store(store) -> None:
    """Use ``store`` for the module-level functions (``None``: a fresh MemoryStore next time)."""
    global _default_store
    _default_store = store


def collapse(value: Value, tag: str | None = None) -> str:
    """Store ``value`` in the default store; return its handle."""
    return default_store().collapse(value, tag)


def resolve(handle: str) -> Value:
    """The value behind ``handle`` in the default store."""
    return default_store().resolve(handle)


def snapshot() -> str:
    """A checkpoint of the default store."""
    return default_store().snapshot()


def rollback(checkpoint: str) -> None:
    """Undo the default store's writes made after ``checkpoint``."""
    default_store().rollback(checkpoint)


def transaction(fn: Callable[[], Any]) -> Any:
    """Run ``fn()`` as a transaction on the default store (undo and re-raise on error)."""
    return default_store().transaction(fn)


def bind(handle: str, value: Value) -> None:
    """Bind a symbolic handle to ``value`` in the default store."""
    default_store().bind(handle, value)


# ================================================================================== printer

_INDENT = "    "


def _expr(e: Expr, names: dict) -> str:
    t = type(e)
    if t is Const:
        return hlxform.dumps(e.value, normalized=True)
    if t is Var:
        return e.name
    if t is ArrayExpr:
        return "[" + ", ".join(_expr(x, names) for x in e.items) + "]"
    if t is ObjectExpr:
        return "{" + ", ".join(
            f"{k if type(k) is int else quote(k)}: {_expr(x, names)}" for k, x in e.entries
        ) + "}"
    if t is Call:
        if e.fn == "snapshot":
            return "snapshot()"
        arg = _expr(e.args[0], names)
        if e.tag is not None:
            return f"{e.fn}({arg}, {quote(e.tag)})"
        return f"{e.fn}({arg})"
    if t is Txn:
        return f"transaction(_txn{names[id(e)]})"
    raise TypeError(f"not an HLX-LS expression: {e!r}")


def _block(body: list, indent: int, lines: list, counter: list, top: bool) -> None:
    pad = _INDENT * indent
    if not body and not top:
        lines.append(pad + "pass")
        return
    for st in body:
        names: dict = {}
        for t in iter_txns(st.expr):
            counter[0] += 1
            names[id(t)] = counter[0]
            lines.append(f"{pad}def _txn{counter[0]}():")
            _block(t.body, indent + 1, lines, counter, top=False)
        text = _expr(st.expr, names)
        ts = type(st)
        if ts is Let:
            lines.append(f"{pad}{st.name} = {text}")
        elif ts is Return:
            lines.append(f"{pad}__result__ = {text}" if top else f"{pad}return {text}")
        elif ts is ExprStmt:
            lines.append(pad + text)
        else:
            raise TypeError(f"not an HLX-LS statement: {st!r}")


def dumps_program(program: Program) -> str:
    """The canonical HLX-LS text of a program (no trailing newline)."""
    lines: list[str] = []
    _block(program.body, 0, lines, [0], top=True)
    return "\n".join(lines)


# =================================================================================== reader

_API = {"collapse": (1, 2), "resolve": (1, 1), "snapshot": (0, 0), "rollback": (1, 1)}
_INT_SPELLING = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_FLOAT_SPELLING = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_BYTES_SPELLING = re.compile(r'b"(?:\\x[0-9a-f]{2})*"\Z')

_WHY = {
    ast.Import: "imports are not allowed in HLX-LS",
    ast.ImportFrom: "imports are not allowed in HLX-LS",
    ast.Attribute: "attribute access is not allowed in HLX-LS",
    ast.Tuple: "tuples are not HLX values (use a list)",
    ast.Set: "sets are not HLX values",
    ast.Lambda: "lambda is not allowed in HLX-LS",
    ast.JoinedStr: "f-strings are not allowed in HLX-LS",
}


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")
        starts = [0]
        for ln in self.lines[:-1]:
            starts.append(starts[-1] + len(ln) + 1)
        self.starts = starts
        self.next_txn = 1
        self.txn_depth = 0

    # positions -----------------------------------------------------------------------------
    def _char_col(self, lineno: int, col_offset: int) -> int:
        """0-based character column of a UTF-8 byte column."""
        line = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        if line.isascii():
            return col_offset
        return len(line.encode("utf-8")[:col_offset].decode("utf-8", "replace"))

    def pos(self, node: ast.AST) -> dict:
        line = getattr(node, "lineno", 1)
        col = self._char_col(line, getattr(node, "col_offset", 0)) + 1
        return {"line": line, "col": col}

    def segment(self, node: ast.AST) -> str:
        a = self.starts[node.lineno - 1] + self._char_col(node.lineno, node.col_offset)
        b = self.starts[node.end_lineno - 1] + self._char_col(node.end_lineno,
                                                              node.end_col_offset)
        return self.text[a:b]

    def err(self, code: str, message: str, node: ast.AST) -> HLXError:
        return HLXError(code, message, **self.pos(node))

    def placed(self, e: HLXError, node: ast.AST) -> HLXError:
        if e.line is not None:
            return e
        return HLXError(e.code, e.message, path=e.path, **self.pos(node))

    def refuse(self, node: ast.AST, where: str = "") -> HLXError:
        why = _WHY.get(type(node))
        if why is None:
            why = f"{type(node).__name__} is not allowed in HLX-LS{where}"
        return self.err("E_SYNTAX_ERROR", why, node)

    # statements ----------------------------------------------------------------------------
    def block(self, stmts: list, in_txn: bool) -> list:
        body = []
        pending: list = []  # [(N, Txn, def node)] waiting for the statement that uses them
        if in_txn and len(stmts) == 1 and type(stmts[0]) is ast.Pass:
            return []
        for node in stmts:
            if type(node) is ast.FunctionDef:
                pending.append(self.txn_def(node))
                continue
            st = self.stmt(node, in_txn, pending)
            if pending:
                n, _, dn = pending[0]
                raise self.err("E_SYNTAX_ERROR",
                               f"_txn{n} must be used, as transaction(_txn{n}), by the "
                               "statement right after its def", dn)
            body.append(st)
        if pending:
            n, _, dn = pending[0]
            raise self.err("E_SYNTAX_ERROR",
                           f"_txn{n} is defined but no statement uses it", dn)
        return body

    def txn_def(self, node: ast.FunctionDef) -> tuple:
        a = node.args
        if (not TXN_NAME_RE.match(node.name) or node.decorator_list or node.returns
                or a.args or a.posonlyargs or a.kwonlyargs or a.vararg or a.kwarg
                or a.defaults or a.kw_defaults or getattr(node, "type_params", None)):
            raise self.err("E_SYNTAX_ERROR",
                           "the only def allowed is a transaction: def _txnN(): with no "
                           "arguments or decorators", node)
        n = int(node.name[4:])
        if node.name != f"_txn{n}" or n != self.next_txn:
            raise self.err("E_SYNTAX_ERROR",
                           f"expected def _txn{self.next_txn}(): transactions are numbered from "
                           "1 in order of appearance", node)
        if self.txn_depth >= MAX_TXN_DEPTH:
            raise self.err("E_DEPTH_EXCEEDED",
                           f"transactions nested deeper than {MAX_TXN_DEPTH}", node)
        self.next_txn += 1
        self.txn_depth += 1
        body = self.block(node.body, in_txn=True)
        self.txn_depth -= 1
        return n, Txn(body, **self.pos(node)), node

    def stmt(self, node: ast.stmt, in_txn: bool, pending: list):
        t = type(node)
        if t is ast.Assign:
            if len(node.targets) != 1 or type(node.targets[0]) is not ast.Name:
                raise self.err("E_SYNTAX_ERROR",
                               "an assignment binds exactly one plain name", node)
            name = node.targets[0].id
            if name == "__result__":
                if in_txn:
                    raise self.err("E_SYNTAX_ERROR",
                                   "__result__ is set at the top level only (use return "
                                   "inside a transaction)", node)
                return Return(self.expr_node(node.value, pending, 0), **self.pos(node))
            check_variable_name(name, **self.pos(node.targets[0]))
            return Let(name, self.expr_node(node.value, pending, 0), **self.pos(node))
        if t is ast.Expr:
            return ExprStmt(self.expr_node(node.value, pending, 0), **self.pos(node))
        if t is ast.Return:
            if not in_txn:
                raise self.err("E_SYNTAX_ERROR",
                               "return is allowed inside a transaction def only (set "
                               "__result__ at the top level)", node)
            if node.value is None:
                raise self.err("E_SYNTAX_ERROR", "return needs a value (return None)", node)
            return Return(self.expr_node(node.value, pending, 0), **self.pos(node))
        if t is ast.Pass:
            raise self.err("E_SYNTAX_ERROR",
                           "pass is allowed only as the whole body of an empty transaction",
                           node)
        raise self.refuse(node)

    # expressions ---------------------------------------------------------------------------
    def expr_node(self, node: ast.expr, pending: list, nest: int) -> Expr:
        x = self.expr(node, pending, nest)
        if isinstance(x, Expr):
            return x
        return self.const(x, node)

    def const(self, raw: Value, node: ast.AST) -> Const:
        try:
            return Const(normalize(raw), **self.pos(node))
        except HLXError as e:
            raise self.placed(e, node) from None

    def expr(self, node: ast.expr, pending: list, nest: int):
        """A plain (not yet normalized) value for a constant part, else an Expr."""
        if nest > PARSE_GUARD:
            raise self.err("E_DEPTH_EXCEEDED", f"expression nested deeper than {MAX_NEST}",
                           node)
        t = type(node)
        if t is ast.Constant:
            return self.literal(node)
        if t is ast.UnaryOp and type(node.op) is ast.USub and type(node.operand) is ast.Constant \
                and type(node.operand.value) in (int, float):
            seg = self.segment(node)
            if seg != "-" + self.segment(node.operand):
                raise self.err("E_SYNTAX_ERROR", "write a negative number as -N", node)
            v = self.literal(node.operand)
            if type(v) is int and v == INT_MAX + 1:
                return -v
            try:
                return normalize(-v)
            except HLXError as e:
                raise self.placed(e, node) from None
        if t is ast.List:
            items = [self.expr(x, pending, nest + 1) for x in node.elts]
            if not any(isinstance(x, Expr) for x in items):
                return items
            return ArrayExpr([x if isinstance(x, Expr) else self.const(x, n)
                              for x, n in zip(items, node.elts)], **self.pos(node))
        if t is ast.Dict:
            return self.dict_(node, pending, nest)
        if t is ast.Name:
            name = node.id
            if TXN_NAME_RE.match(name):
                raise self.err("E_SYNTAX_ERROR",
                               f"{name} can only be passed to transaction()", node)
            if name == "__result__":
                raise self.err("E_SYNTAX_ERROR", "__result__ cannot be read", node)
            check_variable_name(name, **self.pos(node))
            return Var(name, **self.pos(node))
        if t is ast.Call:
            return self.call(node, pending, nest)
        if t is ast.Starred:
            raise self.err("E_SYNTAX_ERROR", "* unpacking is not allowed in HLX-LS", node)
        raise self.refuse(node)

    def literal(self, node: ast.Constant) -> Value:
        v = node.value
        seg = self.segment(node)
        tv = type(v)
        if v is None or tv is bool:
            return v
        if tv is str:
            try:
                s, end = read_text(seg, 0, code="E_SYNTAX_ERROR")
            except HLXError:
                s, end = None, -1
            if end != len(seg):
                raise self.err("E_SYNTAX_ERROR",
                               "texts are written in double quotes with the HLX escapes "
                               "(\\\\ \\\" \\n \\t \\r \\u00XX)", node)
            try:
                if s.startswith(HANDLE_PREFIX):
                    return check_handle(s)
                return check_text(s)
            except HLXError as e:
                raise self.placed(e, node) from None
        if tv is bytes:
            if _BYTES_SPELLING.match(seg) is None:
                raise self.err("E_SYNTAX_ERROR",
                               'bytes are written b"\\xNN..." (every byte, lowercase hex)', node)
            return v
        if tv is int:
            if _INT_SPELLING.match(seg) is None:
                raise self.err("E_SYNTAX_ERROR", f"integer {seg[:40]!r} is not decimal", node)
            if v > INT_MAX + 1:
                raise self.err("E_INT_RANGE", "integer outside the signed 64-bit range", node)
            return v  # INT_MAX + 1 is only valid negated; normalize checks the rest
        if tv is float:
            if _FLOAT_SPELLING.match(seg) is None:
                raise self.err("E_SYNTAX_ERROR", f"float {seg[:40]!r} is not a decimal float",
                               node)
            try:
                return check_float(v)
            except HLXError as e:
                raise self.placed(e, node) from None
        raise self.err("E_SYNTAX_ERROR", f"{tv.__name__} literals are not HLX values", node)

    def dict_key(self, node: ast.AST | None, value_node: ast.AST):
        if node is None:
            raise self.err("E_SYNTAX_ERROR", "** unpacking is not allowed in HLX-LS",
                           value_node)
        if type(node) is not ast.Constant or type(node.value) not in (str, int):
            raise self.err("E_KEY_FORMAT",
                           'object keys are "name", "@N" or an int contract id', node)
        seg = self.segment(node)
        if type(node.value) is int:
            if _INT_SPELLING.match(seg) is None:
                raise self.err("E_SYNTAX_ERROR", f"contract id {seg[:40]!r} is not decimal",
                               node)
            return node.value
        k = self.literal(node)  # spelling of a text: double quotes, §3 escapes
        if seg != f'"{k}"' or not (FIELD_RE.match(k) or IDENT_RE.match(k)):
            raise self.err("E_KEY_FORMAT", f"bad object key {seg[:80]}", node)
        return k

    def dict_(self, node: ast.Dict, pending: list, nest: int):
        entries: dict = {}
        nodes: dict = {}
        for kn, vn in zip(node.keys, node.values):
            key = self.dict_key(kn, vn)
            if key in entries:
                raise self.err("E_FIELD_ORDER", f"key {key} repeated", kn)
            entries[key] = self.expr(vn, pending, nest + 1)
            nodes[key] = vn

        def wrap(k, x):
            return x if isinstance(x, Expr) else self.const(x, nodes[k])

        try:
            return make_object(entries, wrap, **self.pos(node))
        except HLXError as e:
            key = getattr(e, "key", None)
            raise self.placed(e, node if key is None else nodes[key]) from None

    def call(self, node: ast.Call, pending: list, nest: int) -> Expr:
        f = node.func
        if type(f) is not ast.Name:
            if type(f) is ast.Attribute:
                raise self.err("E_SYNTAX_ERROR",
                               "attribute access is not allowed in HLX-LS", f)
            raise self.err("E_SYNTAX_ERROR", "only the HLX-LS API can be called", node)
        name = f.id
        if node.keywords:
            raise self.err("E_SYNTAX_ERROR", f"{name}() takes no keyword arguments", node)
        if any(type(a) is ast.Starred for a in node.args):
            raise self.err("E_SYNTAX_ERROR", "* unpacking is not allowed in HLX-LS", node)
        if name == "transaction":
            if len(node.args) != 1 or type(node.args[0]) is not ast.Name \
                    or not TXN_NAME_RE.match(node.args[0].id):
                raise self.err("E_SYNTAX_ERROR", "transaction() takes one _txnN function",
                               node)
            arg = node.args[0].id
            if not pending or f"_txn{pending[0][0]}" != arg:
                want = f"_txn{pending[0][0]}" if pending else "a _txnN defined right before"
                raise self.err("E_SYNTAX_ERROR",
                               f"transaction({arg}): expected {want} (each def is used once, "
                               "in order, by the next statement)", node.args[0])
            return pending.pop(0)[1]
        arity = _API.get(name)
        if arity is None:
            raise self.err("E_SYNTAX_ERROR",
                           f"calls to {name!r} are not allowed (only collapse, resolve, "
                           "snapshot, rollback, transaction)", node)
        lo, hi = arity
        if not lo <= len(node.args) <= hi:
            raise self.err("E_SYNTAX_ERROR",
                           f"{name}() takes {lo if lo == hi else f'{lo} or {hi}'} "
                           f"argument{'s' if hi != 1 else ''}", node)
        args = [self.expr_node(a, pending, nest + 1) for a in node.args[:1]]
        tag = None
        if len(node.args) == 2:
            tn = node.args[1]
            if type(tn) is not ast.Constant or type(tn.value) is not str:
                raise self.err("E_SYNTAX_ERROR", "the tag of collapse is a text literal", tn)
            tag = self.literal(tn)
            if TAG_RE.match(tag) is None:
                raise self.err("E_HANDLE_FORMAT",
                               f"collapse tag {tag[:40]!r} must be letters, digits or _", tn)
        return Call(name, args, tag, **self.pos(node))


def loads_program(text: str) -> Program:
    """Parse HLX-LS text into the shared program AST (never executes anything)."""
    if not isinstance(text, str):
        raise HLXError("E_SYNTAX_ERROR", "HLX-LS text must be a str")
    check_unicode(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        tree = ast.parse(text, mode="exec")
    except SyntaxError as e:
        code = "E_DEPTH_EXCEEDED" if "too many nested" in (e.msg or "") else "E_SYNTAX_ERROR"
        raise HLXError(code, f"Python syntax error: {e.msg}", line=e.lineno or 1,
                       col=e.offset or 1) from None
    except (RecursionError, MemoryError):
        raise HLXError("E_DEPTH_EXCEEDED", "program nested too deeply", line=1, col=1) from None
    except ValueError as e:
        raise HLXError("E_SYNTAX_ERROR", str(e), line=1, col=1) from None
    if type(tree) is not ast.Module:  # pragma: no cover
        raise HLXError("E_SYNTAX_ERROR", "not a module", line=1, col=1)
    r = _Reader(text)
    try:
        body = r.block(tree.body, in_txn=False)
    except RecursionError:
        raise HLXError("E_DEPTH_EXCEEDED", "program nested too deeply", line=1, col=1) from None
    return check_program(Program(body, line=1, col=1))


# ================================================================================ conversion


def convert_program(text: str, src: str, dst: str) -> str:
    """Convert a program between ``hlxl_ls`` and ``hlx_ls`` (or canonicalise in one form)."""
    src = program_lang(src)
    dst = program_lang(dst)
    prog = hlxl.loads_program(text) if src == "hlxl_ls" else loads_program(text)
    return hlxl.dumps_program(prog) if dst == "hlxl_ls" else dumps_program(prog)


def parse_program(text: str, lang: str = "hlxl_ls") -> Program:
    """Read a program in either form (``hlxl_ls`` or ``hlx_ls``, any spelling of them)."""
    return hlxl.loads_program(text) if program_lang(lang) == "hlxl_ls" else loads_program(text)


def run_program(text: str, lang: str = "hlxl_ls", store: Any = None) -> Value:
    """Parse ``text`` (``hlxl_ls`` or ``hlx_ls``) and run it; return its result value.

    ``store=None`` uses a fresh in-memory store (so the run leaves nothing behind).
    """
    return run_ast(parse_program(text, lang), store)
