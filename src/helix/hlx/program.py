"""Programs (HLXL-LS and HLX-LS, spec §8–§9): the AST and the interpreter.

Both program forms parse into the same AST (``hlxl.loads_program`` and ``hlxls.loads_program``)
and print from it (``hlxl.dumps_program``, ``hlxls.dumps_program``), which is what makes the two
forms convert into each other without loss.

AST
---
``Program(body)`` holds statements: ``Let(name, expr)``, ``Return(expr)``, ``ExprStmt(expr)``.
Expressions: ``Const(value)`` (a value with no variables or calls in it, already normalized),
``Var(name)``, ``ArrayExpr(items)``, ``ObjectExpr(entries)`` (keys in canonical order; a contract
is an ``ObjectExpr`` with one int key), ``Call(fn, args, tag)`` for ``collapse``, ``resolve``,
``snapshot`` and ``rollback``, and ``Txn(body)`` for ``ls.transaction { ... }``. A compound whose
parts are all constants is always folded into one ``Const``, by both readers. Every node keeps
``line``/``col`` (1-based) for error messages; equality ignores them.

Semantics (the same for both forms)
-----------------------------------
* Statements run in order. ``let x = e;`` binds ``x`` (rebinding is allowed); ``e;`` evaluates
  ``e`` for its effect; a top-level ``return e;`` (``__result__ = e`` in HLX-LS) ends the program
  with ``e`` as its result. A program that ends without ``return`` has result ``null``.
* ``ls.transaction { S }`` runs ``S`` in a store transaction and evaluates to the value of its
  ``return`` (``null`` without one; a ``return`` ends the block). If anything inside fails, every
  store write made inside is undone and the error re-raised.
* A transaction block has its own scope, exactly like the Python function it is in HLX-LS: names
  bound by ``let`` directly in the block are local to it (for the whole block, so reading one
  before its ``let`` is ``E_UNDEFINED_IDENTIFIER``); other names are read from the enclosing
  blocks.
* ``ls.collapse(v[, "tag"])`` returns the handle, ``ls.resolve(h)`` the value
  (``E_TYPE_MISMATCH`` when ``h`` is not a handle), ``ls.snapshot()`` a checkpoint (a handle
  ``&h_checkpoint_<n>``), ``ls.rollback(cp)`` returns ``null`` (``E_TYPE_MISMATCH`` when ``cp``
  is not a checkpoint).
* Every error carries the line and column of the expression that failed.
* Both readers apply one nesting rule (:func:`check_limits`) and check variables statically
  (:func:`check_names`): reading a variable that would be unbound when the program runs is
  ``E_UNDEFINED_IDENTIFIER`` when the text is read. The interpreter checks again at run time
  (for ASTs built by hand).
* Reserved names (never a variable, in either form): names beginning with ``__``, the HLXL
  keywords (``let return null true false contract ls``), Python's keywords, the API names
  (``collapse resolve snapshot rollback transaction``) and ``_txn<digits>``.

``run_program(text, lang, store)`` parses and runs; ``store=None`` runs against a fresh
:class:`~helix.hlx.store.MemoryStore`.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from helix.hlx.errors import HLXError
from helix.hlx.value import (
    CONTRACT_ID_MAX, MAX_DEPTH, Value, field_order, key_kind, normalize, type_tag,
)

__all__ = [
    "Node", "Expr", "Stmt", "Const", "Var", "ArrayExpr", "ObjectExpr", "Call", "Txn",
    "Let", "Return", "ExprStmt", "Program", "Interpreter", "run_ast",
    "same_value", "check_variable_name", "RESERVED_NAMES", "API_FUNCTIONS",
    "at", "make_object", "iter_txns", "check_names", "check_limits", "check_program",
    "MAX_NEST", "MAX_TXN_DEPTH", "value_depth",
]

# ------------------------------------------------------------------------------------ names

API_FUNCTIONS = ("collapse", "resolve", "snapshot", "rollback")
HLXL_KEYWORDS = frozenset({"let", "return", "null", "true", "false", "contract", "ls"})
# Names no program variable may take, in either form, so that every program converts:
# HLXL keywords, Python keywords, the HLX-LS API names and the transaction function names.
RESERVED_NAMES = frozenset(HLXL_KEYWORDS | set(keyword.kwlist) | set(API_FUNCTIONS)
                           | {"transaction"})
TXN_NAME_RE = re.compile(r"_txn[0-9]+\Z")
VAR_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_variable_name(name: str, line: int | None = None, col: int | None = None) -> str:
    """Raise ``E_SYNTAX_ERROR`` unless ``name`` may be a program variable."""
    why = None
    if not VAR_RE.match(name):
        why = "is not an identifier"
    elif name.startswith("__"):
        why = "is reserved (identifiers beginning with '__' are reserved)"
    elif name in RESERVED_NAMES:
        why = "is a reserved word"
    elif TXN_NAME_RE.match(name):
        why = "is reserved for HLX-LS transaction functions"
    if why:
        raise HLXError("E_SYNTAX_ERROR", f"{name!r} {why}", line=line, col=col)
    return name


# -------------------------------------------------------------------------------------- AST


def same_value(a: Value, b: Value) -> bool:
    """Type-exact structural equality of two normalized values (``True`` is not ``1``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_value(a[k], b[k]) for k in a)
    return a == b


@dataclass(eq=False)
class Node:
    line: int | None = field(default=None, kw_only=True, repr=False)
    col: int | None = field(default=None, kw_only=True, repr=False)

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        return self._key() == other._key()  # type: ignore[attr-defined]

    def _key(self) -> tuple:
        raise NotImplementedError


class Expr(Node):
    pass


class Stmt(Node):
    pass


@dataclass(eq=False)
class Const(Expr):
    value: Value = None

    def __eq__(self, other: object) -> bool:
        if type(other) is not Const:
            return NotImplemented
        return same_value(self.value, other.value)

    def _key(self) -> tuple:  # pragma: no cover - __eq__ overridden
        return (self.value,)


@dataclass(eq=False)
class Var(Expr):
    name: str = ""

    def _key(self) -> tuple:
        return (self.name,)


@dataclass(eq=False)
class ArrayExpr(Expr):
    items: list = field(default_factory=list)

    def _key(self) -> tuple:
        return (self.items,)


@dataclass(eq=False)
class ObjectExpr(Expr):
    """Entries ``[(key, Expr)]`` in canonical key order; a contract has one ``(int, Expr)``."""

    entries: list = field(default_factory=list)

    def _key(self) -> tuple:
        return ([k for k, _ in self.entries], [type(k).__name__ for k, _ in self.entries],
                [e for _, e in self.entries])


@dataclass(eq=False)
class Call(Expr):
    fn: str = ""  # collapse | resolve | snapshot | rollback
    args: list = field(default_factory=list)
    tag: str | None = None  # collapse only

    def _key(self) -> tuple:
        return (self.fn, self.args, self.tag)


@dataclass(eq=False)
class Txn(Expr):
    body: list = field(default_factory=list)

    def _key(self) -> tuple:
        return (self.body,)


@dataclass(eq=False)
class Let(Stmt):
    name: str = ""
    expr: Expr | None = None

    def _key(self) -> tuple:
        return (self.name, self.expr)


@dataclass(eq=False)
class Return(Stmt):
    expr: Expr | None = None

    def _key(self) -> tuple:
        return (self.expr,)


@dataclass(eq=False)
class ExprStmt(Stmt):
    expr: Expr | None = None

    def _key(self) -> tuple:
        return (self.expr,)


@dataclass(eq=False)
class Program(Node):
    body: list = field(default_factory=list)

    def _key(self) -> tuple:
        return (self.body,)


def iter_txns(expr: Expr):
    """Transactions inside ``expr`` in source order, not descending into their bodies."""
    stack = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, Txn):
            yield e
        elif isinstance(e, ArrayExpr):
            stack.extend(reversed(e.items))
        elif isinstance(e, ObjectExpr):
            stack.extend(reversed([x for _, x in e.entries]))
        elif isinstance(e, Call):
            stack.extend(reversed(e.args))


def _is_fields_body(body) -> bool:
    """Can ``body`` (a raw value or an Expr) be the body of a contract?"""
    if isinstance(body, dict):
        return all(type(k) is str and k.startswith("@") for k in body)
    if isinstance(body, ObjectExpr):
        return all(type(k) is str and k.startswith("@") for k, _ in body.entries)
    # a variable, a call or a transaction: checked when the program runs
    return isinstance(body, (Var, Call, Txn))


def make_object(entries: dict, wrap, line: int | None = None, col: int | None = None):
    """Build an object from parsed ``{key: raw value | Expr}`` (each key already well formed).

    Returns a plain dict in canonical key order when every value is a constant, else an
    :class:`ObjectExpr` (values passed through ``wrap(key, x) -> Expr``). Raises
    ``E_CONTRACT_FORM`` / ``E_KEY_FORMAT`` (without a position) for a bad mix of keys; when a
    contract's body is at fault the error's ``key`` attribute names the contract id.
    """
    const = not any(isinstance(x, Expr) for x in entries.values())
    kinds = {key_kind(k) for k in entries}
    if "contract" in kinds:
        if len(entries) != 1:
            raise HLXError("E_CONTRACT_FORM", "an int key must be the object's only key")
        (cid, body), = entries.items()
        if not 0 <= cid <= CONTRACT_ID_MAX:
            raise HLXError("E_CONTRACT_FORM", f"contract id {cid} outside 0..2^32-1")
        if not _is_fields_body(body):
            err = HLXError("E_CONTRACT_FORM", f"contract {cid} must hold a fields object")
            err.key = cid  # type: ignore[attr-defined]  # lets the caller point at the body
            raise err
        if const:
            return dict(entries)
        return ObjectExpr([(cid, wrap(cid, body))], line=line, col=col)
    if "bad" in kinds:
        bad = next(k for k in entries if key_kind(k) == "bad")
        raise HLXError("E_KEY_FORMAT", f"bad object key {str(bad)[:80]!r}")
    if len(kinds) > 1:
        raise HLXError("E_KEY_FORMAT", "object mixes field keys (@N) and identifier keys")
    keys = sorted(entries, key=field_order) if "field" in kinds else sorted(entries)
    if const:
        return {k: entries[k] for k in keys}
    return ObjectExpr([(k, wrap(k, entries[k])) for k in keys], line=line, col=col)


MAX_NEST = 100  # nested expressions in a program (calls, arrays, objects, transactions)
MAX_TXN_DEPTH = 16  # nested ls.transaction blocks
PARSE_GUARD = 200  # readers stop recursing here (always above what check_limits accepts)


def value_depth(v: Value) -> int:
    """Nesting of arrays and objects in a value (a contract counts two: it and its fields)."""
    if isinstance(v, list):
        return 1 + max((value_depth(x) for x in v), default=0)
    if isinstance(v, dict):
        return 1 + max((value_depth(x) for x in v.values()), default=0)
    return 0


def check_limits(program: Program) -> Program:
    """Raise ``E_DEPTH_EXCEEDED`` (with line and column) where the program is nested too deeply;
    return the program. One rule on the AST, so both program forms accept the same programs:

    * values: arrays and objects (constant or not) nest at most ``MAX_DEPTH`` (64) deep; a call's
      argument and a statement's expression start a new value;
    * expressions: at most ``MAX_NEST`` (100) calls, arrays, objects and transactions inside one
      another, counted through transaction bodies;
    * transactions: at most ``MAX_TXN_DEPTH`` (16) inside one another.
    """
    for st in program.body:
        _limits(st.expr, 0, 0, 0)
    return program


def _too_deep(e: Node, what: str) -> HLXError:
    return HLXError("E_DEPTH_EXCEEDED", what, line=e.line, col=e.col)


def _limits(e: Expr, nest: int, vdepth: int, tdepth: int) -> None:
    t = type(e)
    if t is Const:
        if vdepth + value_depth(e.value) > MAX_DEPTH:
            raise _too_deep(e, f"value nested deeper than {MAX_DEPTH}")
        return
    if t is Var:
        return
    nest += 1
    if nest > MAX_NEST:
        raise _too_deep(e, f"expressions nested deeper than {MAX_NEST}")
    if t is ArrayExpr or t is ObjectExpr:
        vdepth += 1
        if vdepth > MAX_DEPTH:
            raise _too_deep(e, f"value nested deeper than {MAX_DEPTH}")
        for x in (e.items if t is ArrayExpr else [x for _, x in e.entries]):
            _limits(x, nest, vdepth, tdepth)
    elif t is Call:
        for x in e.args:
            _limits(x, nest, 0, tdepth)
    elif t is Txn:
        if tdepth + 1 > MAX_TXN_DEPTH:
            raise _too_deep(e, f"ls.transaction nested deeper than {MAX_TXN_DEPTH}")
        for st in e.body:
            _limits(st.expr, nest, 0, tdepth + 1)


def check_program(program: Program) -> Program:
    """What both readers check after parsing: :func:`check_limits`, then :func:`check_names`."""
    return check_names(check_limits(program))


class _Names:
    __slots__ = ("bound", "local_names", "parent")

    def __init__(self, local_names: frozenset | None, parent: "_Names | None") -> None:
        self.bound: set[str] = set()
        self.local_names = local_names
        self.parent = parent


def check_names(program: Program) -> Program:
    """Raise ``E_UNDEFINED_IDENTIFIER`` (with line and column) for the first variable read
    where running the program would find it unbound; return the program.

    Programs have no branches, so this static check follows the interpreter's scope rules
    exactly (every statement is checked, also those after a top-level ``return``). Both
    readers call it, which keeps a bare word such as ``Hello`` from being a valid program.
    """
    _names_block(program.body, _Names(None, None))
    return program


def _names_block(body: list, scope: _Names) -> None:
    for st in body:
        _names_expr(st.expr, scope)
        if type(st) is Let:
            scope.bound.add(st.name)


def _names_expr(e: Expr, scope: _Names) -> None:
    stack = [e]
    while stack:
        x = stack.pop()
        t = type(x)
        if t is Var:
            s: _Names | None = scope
            while s is not None:
                if s.local_names is None or x.name in s.local_names:
                    if x.name in s.bound:
                        break
                    if s.local_names is not None:
                        raise HLXError("E_UNDEFINED_IDENTIFIER",
                                       f"{x.name!r} is used before its let in this transaction",
                                       line=x.line, col=x.col)
                s = s.parent
            else:
                raise HLXError("E_UNDEFINED_IDENTIFIER", f"{x.name!r} is not defined",
                               line=x.line, col=x.col)
        elif t is ArrayExpr:
            stack.extend(reversed(x.items))
        elif t is ObjectExpr:
            stack.extend(reversed([v for _, v in x.entries]))
        elif t is Call:
            stack.extend(reversed(x.args))
        elif t is Txn:
            local = frozenset(st.name for st in x.body if type(st) is Let)
            _names_block(x.body, _Names(local, scope))


# ------------------------------------------------------------------------------ interpreter


def at(err: HLXError, node: Node | None) -> HLXError:
    """``err`` with the node's line/col when it has no line yet (a new error object)."""
    if err.line is not None or node is None or node.line is None:
        return err
    new = HLXError(err.code, err.message, line=node.line, col=node.col, path=err.path)
    new.__cause__ = err.__cause__ or err
    return new


class _Return(Exception):
    """Carries a ``return`` value out of a block (never escapes the interpreter)."""

    def __init__(self, value: Value) -> None:
        self.value = value


class _Scope:
    __slots__ = ("vars", "local_names", "parent")

    def __init__(self, local_names: frozenset | None, parent: "_Scope | None") -> None:
        self.vars: dict[str, Value] = {}
        self.local_names = local_names  # None: the top level (names bound dynamically)
        self.parent = parent


_UNBOUND = object()


class Interpreter:
    """Runs a :class:`Program` against a store (anything with the store API)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def run(self, program: Program) -> Value:
        top = _Scope(None, None)
        try:
            self._block(program.body, top)
        except _Return as r:
            return r.value
        return None

    # statements ------------------------------------------------------------------------
    def _block(self, body: list, scope: _Scope) -> None:
        for st in body:
            if isinstance(st, Let):
                scope.vars[st.name] = self._eval(st.expr, scope)
            elif isinstance(st, ExprStmt):
                self._eval(st.expr, scope)
            elif isinstance(st, Return):
                raise _Return(self._eval(st.expr, scope))
            else:  # pragma: no cover - parsers never build anything else
                raise HLXError("E_SYNTAX_ERROR", f"unknown statement {type(st).__name__}")

    # expressions -----------------------------------------------------------------------
    def _lookup(self, node: Var, scope: _Scope) -> Value:
        name = node.name
        s: _Scope | None = scope
        while s is not None:
            if s.local_names is None or name in s.local_names:
                v = s.vars.get(name, _UNBOUND)
                if v is not _UNBOUND:
                    return v
                if s.local_names is not None:
                    raise HLXError("E_UNDEFINED_IDENTIFIER",
                                   f"{name!r} is used before its let in this transaction",
                                   line=node.line, col=node.col)
            s = s.parent
        raise HLXError("E_UNDEFINED_IDENTIFIER", f"{name!r} is not defined",
                       line=node.line, col=node.col)

    def _eval(self, e: Expr, scope: _Scope) -> Value:
        t = type(e)
        if t is Const:
            return e.value
        if t is Var:
            return self._lookup(e, scope)
        try:
            if t is ArrayExpr:
                return normalize([self._eval(x, scope) for x in e.items])
            if t is ObjectExpr:
                return normalize({k: self._eval(x, scope) for k, x in e.entries})
            if t is Call:
                return self._call(e, scope)
            if t is Txn:
                return self._txn(e, scope)
        except HLXError as err:
            raise at(err, e) from None
        raise HLXError("E_SYNTAX_ERROR", f"unknown expression {t.__name__}",  # pragma: no cover
                       line=e.line, col=e.col)

    def _call(self, e: Call, scope: _Scope) -> Value:
        args = [self._eval(a, scope) for a in e.args]
        st = self.store
        if e.fn == "collapse":
            return st.collapse(args[0], e.tag)
        if e.fn == "resolve":
            h = args[0]
            if not (isinstance(h, str) and h.startswith("&h_")):
                raise HLXError("E_TYPE_MISMATCH",
                               f"ls.resolve needs a handle, got {_describe(h)}",
                               line=e.line, col=e.col)
            return st.resolve(h)
        if e.fn == "snapshot":
            return st.snapshot()
        if e.fn == "rollback":
            st.rollback(args[0])
            return None
        raise HLXError("E_SYNTAX_ERROR", f"unknown function ls.{e.fn}",  # pragma: no cover
                       line=e.line, col=e.col)

    def _txn(self, e: Txn, scope: _Scope) -> Value:
        local = frozenset(s.name for s in e.body if isinstance(s, Let))
        inner = _Scope(local, scope)

        def body() -> Value:
            try:
                self._block(e.body, inner)
            except _Return as r:
                return r.value
            return None

        return self.store.transaction(body)


def _describe(v: Value) -> str:
    try:
        return type_tag(v)
    except HLXError:
        return type(v).__name__


# ------------------------------------------------------------------------------ entry points

_LANGS = {
    "hlxl_ls": "hlxl_ls", "hlxl-ls": "hlxl_ls", "hlxl": "hlxl_ls",
    "hlx_ls": "hlx_ls", "hlx-ls": "hlx_ls",
}


def program_lang(lang: str) -> str:
    """Canonical program form name (``hlxl_ls`` / ``hlx_ls``) for a spelling of it."""
    try:
        return _LANGS[lang.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"unknown program form {lang!r} (use hlxl_ls or hlx_ls)") from None


def run_ast(program: Program, store: Any = None) -> Value:
    if store is None:
        from helix.hlx.store import MemoryStore

        store = MemoryStore()
    return Interpreter(store).run(program)
