"""HLXL-LS programs: parsing, the canonical printer, the interpreter (spec §8–§9)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helix.hlx import hlxl, hlxls
from helix.hlx.errors import HLXError
from helix.hlx.program import (
    ArrayExpr, Call, Const, ExprStmt, Let, ObjectExpr, Program, Return, Txn, Var, same_value,
)
from helix.hlx.hlxls import run_program
from helix.hlx.store import MemoryStore, SQLiteStore, handle_for
from helix.hlx.value import normalize


def err(text, lang="hlxl_ls", store=None) -> HLXError:
    with pytest.raises(HLXError) as e:
        run_program(text, lang, store)
    return e.value


# ------------------------------------------------------------------------------------- parser


def test_parse_builds_the_ast():
    p = hlxl.loads_program("""
        // comment line
        let h = ls.collapse([1, 2], "pair");   // trailing comment
        let x = {a: h, b: [h, 3]};
        ls.snapshot();
        return ls.resolve(h);
    """)
    assert p == Program([
        Let("h", Call("collapse", [Const([1, 2])], "pair")),
        Let("x", ObjectExpr([("a", Var("h")), ("b", ArrayExpr([Var("h"), Const(3)]))])),
        ExprStmt(Call("snapshot", [])),
        Return(Call("resolve", [Var("h")])),
    ])
    assert p.body[1].line == 4 and p.body[1].col == 9
    assert p.body[1].expr.entries[0][1].col == 21


def test_constant_parts_fold_into_one_const():
    p = hlxl.loads_program("let x = [1, {a: [2]}, contract 902 { stages: [] }];")
    assert p.body[0].expr == Const([1, {"a": [2]}, {902: {"@1": []}}])


def test_named_contract_with_variables():
    p = hlxl.loads_program('let v = 1; let c = contract 902 { stages: [v], pipeline_id: "p" };')
    e = p.body[1].expr
    assert e == ObjectExpr([(902, ObjectExpr([("@0", Const("p")),
                                              ("@1", ArrayExpr([Var("v")]))]))])
    assert hlxl.dumps_program(p) == \
        'let v = 1;\nlet c = contract 902 { pipeline_id: "p", stages: [v] };'
    # beyond the registered names -> literal form, also with variables inside
    p = hlxl.loads_program("let v = 1;\nlet c = {902: {@7: v}};")
    assert hlxl.dumps_program(p) == "let v = 1;\nlet c = {902: {@7: v}};"
    p = hlxl.loads_program("let v = {};\nlet c = {4242: v};")
    assert hlxl.dumps_program(p) == "let v = {};\nlet c = {4242: v};"


def test_canonical_printer():
    src = """let   r = ls.transaction{let a=ls.collapse(100);return [a,{y:2,x:a}];};
ls.transaction {};
return r;"""
    want = """let r = ls.transaction {
    let a = ls.collapse(100);
    return [a, {x: a, y: 2}];
};
ls.transaction {};
return r;"""
    assert hlxl.dumps_program(hlxl.loads_program(src)) == want
    assert hlxl.dumps_program(hlxl.loads_program(want)) == want
    assert hlxl.dumps_program(hlxl.loads_program("")) == ""
    assert hlxl.dumps_program(hlxl.loads_program("// only a comment\n")) == ""


@pytest.mark.parametrize("text, code, line, col", [
    ("let x = 1", "E_SYNTAX_ERROR", 1, 10),
    ("let = 1;", "E_SYNTAX_ERROR", 1, 5),
    ("let __x = 1;", "E_SYNTAX_ERROR", 1, 5),
    ("let x = __y;", "E_SYNTAX_ERROR", 1, 9),
    ("let let = 1;", "E_SYNTAX_ERROR", 1, 5),
    ("let ls = 1;", "E_SYNTAX_ERROR", 1, 5),
    ("let None = 1;", "E_SYNTAX_ERROR", 1, 5),
    ("let collapse = 1;", "E_SYNTAX_ERROR", 1, 5),
    ("let _txn1 = 1;", "E_SYNTAX_ERROR", 1, 5),
    ("let x = a.b;", "E_SYNTAX_ERROR", 1, 9),
    ("ls.delete(x);", "E_SYNTAX_ERROR", 1, 1),
    ("ls.collapse(1, 2);", "E_SYNTAX_ERROR", 1, 16),
    ("ls.collapse(1, \"bad tag\");", "E_HANDLE_FORMAT", 1, 16),
    ("ls.resolve(1, 2);", "E_SYNTAX_ERROR", 1, 13),
    ("ls.snapshot(1);", "E_SYNTAX_ERROR", 1, 13),
    ("ls.transaction { let a = 1; ", "E_SYNTAX_ERROR", 1, 29),
    ("ls.transaction ( );", "E_SYNTAX_ERROR", 1, 16),
    ("return;", "E_SYNTAX_ERROR", 1, 7),
    ("let x = {a: 1, a: y};", "E_FIELD_ORDER", 1, 16),
    ("let x = contract 77 { a: y };", "E_INVALID_CONTRACT_ID", 1, 18),
    ("let x = contract 902 { nope: y };", "E_CONTRACT_FIELD", 1, 24),
    ("let x = {1: [y]};", "E_CONTRACT_FORM", 1, 13),
    ("let x = {a: y, @0: 1};", "E_KEY_FORMAT", 1, 9),
    ("x = 1;", "E_SYNTAX_ERROR", 1, 3),
    ("let x = 1; # not a comment", "E_SYNTAX_ERROR", 1, 12),
])
def test_parse_errors(text, code, line, col):
    with pytest.raises(HLXError) as e:
        hlxl.loads_program(text)
    assert (e.value.code, e.value.line, e.value.col) == (code, line, col), str(e.value)


def test_nesting_limits_are_errors_not_crashes():
    with pytest.raises(HLXError) as e:
        hlxl.loads_program("return " + "ls.resolve(" * 5000 + "x" + ")" * 5000 + ";")
    assert e.value.code == "E_DEPTH_EXCEEDED"
    with pytest.raises(HLXError) as e:
        hlxl.loads_program("ls.transaction {" * 40 + "}" * 40 + ";")
    assert e.value.code == "E_DEPTH_EXCEEDED"


def _nested(kind, leaf, n):
    for _ in range(n):
        if kind == "call":
            leaf = Call("collapse", [leaf])
        elif kind == "array":
            leaf = ArrayExpr([leaf])
        elif kind == "record":
            leaf = ObjectExpr([("a", leaf)])
        else:
            leaf = ObjectExpr([(902, ObjectExpr([("@1", leaf)]))])
    return leaf


@pytest.mark.parametrize("kind", ["call", "array", "record", "contract"])
def test_both_forms_accept_exactly_the_same_nesting(kind):
    """One nesting rule (program.check_limits) for both readers, checked at the boundaries."""
    seen = set()
    for leaf in (Var("x"), Const([[["deep"]]])):
        for n in (0, 1, 30, 31, 32, 33, 59, 60, 61, 62, 63, 64, 65, 98, 99, 100, 101, 150):
            for txns in (0, 1, 16, 17):
                body = [Return(_nested(kind, leaf, n))]
                for _ in range(txns):
                    body = [Return(Txn(body))]
                prog = Program([Let("x", Const(1))] + body)
                got = []
                for text, reader in ((hlxl.dumps_program(prog), hlxl.loads_program),
                                     (hlxls.dumps_program(prog), hlxls.loads_program)):
                    try:
                        reader(text)
                        got.append("ok")
                    except HLXError as e:
                        got.append(e.code)
                assert got[0] == got[1], (kind, leaf, n, txns, got)
                seen.add(got[0])
    assert seen == {"ok", "E_DEPTH_EXCEEDED"}


def test_deepest_accepted_program_runs_in_both_forms():
    body = [Return(_nested("array", Call("collapse", [Var("x")]), 60))]
    for _ in range(16):
        body = [Return(Txn(body))]
    prog = Program([Let("x", Const(1))] + body)
    want = run_program(hlxl.dumps_program(prog))
    assert same_value(run_program(hlxls.dumps_program(prog), "hlx_ls"), want)
    assert str(want).startswith("[" * 60)


# -------------------------------------------------------------------------------- interpreter


def test_let_and_return():
    assert run_program("let x = 5; let y = [x, {v: x}]; return y;") == [5, {"v": 5}]
    assert run_program("let x = 1; let x = [x, x]; return x;") == [1, 1]
    assert run_program("let x = 1;") is None
    assert run_program("") is None
    assert run_program("return contract 902 { stages: [] };") == {902: {"@1": []}}


def test_return_ends_the_program():
    s = MemoryStore()
    assert run_program("return 1; ls.collapse(2);", store=s) == 1
    assert s.stats()["values"] == 0


def test_handles_equal_handle_for():
    s = MemoryStore()
    out = run_program('let a = ls.collapse({x: [1, 2]}); let b = ls.collapse(7, "seven"); '
                      'let c = ls.collapse(&h_docs); return [a, b, c, ls.collapse(a)];', store=s)
    assert out == [handle_for({"x": [1, 2]}), handle_for(7, "seven"), "&h_docs",
                   handle_for({"x": [1, 2]})]
    assert s.resolve(out[0]) == {"x": [1, 2]}
    assert run_program("return ls.resolve(ls.collapse(0x00ff));") == b"\x00\xff"


def test_undefined_identifier_has_position():
    e = err("let a = 1;\nlet b = [a,\n  c];")
    assert (e.code, e.line, e.col) == ("E_UNDEFINED_IDENTIFIER", 3, 3)


def test_type_mismatch_has_position():
    e = err("let h = 42;\n  return ls.resolve(h);")
    assert (e.code, e.line, e.col) == ("E_TYPE_MISMATCH", 2, 10)
    e = err('return ls.resolve("text");')
    assert e.code == "E_TYPE_MISMATCH"
    e = err("ls.rollback(3);")
    assert (e.code, e.line, e.col) == ("E_TYPE_MISMATCH", 1, 1)


def test_store_errors_get_positions():
    e = err("\n   ls.resolve(&h_missing);")
    assert (e.code, e.line, e.col) == ("E_HANDLE_NOT_FOUND", 2, 4)


def test_runtime_value_checks():
    deep = "[" * 60 + "]" * 60
    e = err(f"let d = {deep}; let e = [[[[[d]]]]]; return e;")
    assert e.code == "E_DEPTH_EXCEEDED" and e.line == 1
    e = err("let b = [1]; return {902: b};")
    assert (e.code, e.col) == ("E_CONTRACT_FORM", 21)
    assert run_program("let b = {@0: 1}; return {902: b};") == {902: {"@0": 1}}


def test_transaction_value_and_rollback_on_error():
    s = MemoryStore()
    assert run_program("return ls.transaction { let a = ls.collapse(1); return [a]; };",
                       store=s) == [handle_for(1)]
    assert run_program("return ls.transaction { ls.collapse(2); };", store=s) is None
    before = s.stats()
    e = err("let r = ls.transaction {\n  ls.collapse(100);\n  ls.collapse(200);\n"
            "  return ls.resolve(&h_missing);\n};", store=s)
    assert (e.code, e.line, e.col) == ("E_HANDLE_NOT_FOUND", 4, 10)
    assert s.stats() == before  # both collapses undone
    with pytest.raises(HLXError):
        s.resolve(handle_for(100))


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_transaction_rollback_both_backends(kind, tmp_path):
    s = MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "t.sqlite",
                                                            synchronous="OFF")
    run_program("ls.collapse(1);", store=s)
    before = s.stats()
    e = err("ls.transaction { ls.collapse(2); ls.transaction { ls.collapse(3); }; "
            "let x = ls.resolve(&h_missing); };", store=s)
    assert e.code == "E_HANDLE_NOT_FOUND"
    assert s.stats() == before
    s.close()


def test_rollback_past_transaction_start():
    s = MemoryStore()
    e = err("let cp = ls.snapshot(); ls.collapse(1);\n"
            "ls.transaction { ls.collapse(2); ls.rollback(cp); };", store=s)
    assert (e.code, e.line) == ("E_TRANSACTION_FAILED", 2)
    assert s.resolve(handle_for(1)) == 1
    with pytest.raises(HLXError):
        s.resolve(handle_for(2))


def test_snapshot_and_rollback_in_programs():
    s = MemoryStore()
    e = err("let cp = ls.snapshot(); let h = ls.collapse(5); ls.rollback(cp);\n"
            "return ls.resolve(h);", store=s)
    assert (e.code, e.line) == ("E_HANDLE_NOT_FOUND", 2)
    out = run_program("let a = ls.collapse(1); let cp = ls.snapshot(); ls.collapse(2); "
                      "ls.rollback(cp); return [ls.resolve(a), cp];", store=MemoryStore())
    assert out[0] == 1 and out[1].startswith("&h_checkpoint_")


def test_transaction_scope_is_like_a_python_function():
    assert run_program("let a = 1; let r = ls.transaction { return a; }; return r;") == 1
    # lets inside are local to the block
    e = err("ls.transaction { let t = 1; }; return t;")
    assert (e.code, e.col) == ("E_UNDEFINED_IDENTIFIER", 39)
    # a name let-bound in the block is local for the whole block
    e = err("let a = 1; ls.transaction { let b = a; let a = 2; };")
    assert (e.code, e.col) == ("E_UNDEFINED_IDENTIFIER", 37)
    # nested blocks read the enclosing block's variables
    assert run_program("let r = ls.transaction { let a = 3; return ls.transaction "
                       "{ return [a]; }; }; return r;") == [3]
    # the outer variable is not changed by a same-named let inside
    assert run_program("let a = 1; ls.transaction { let a = 2; }; return a;") == 1


def test_a_hostile_looking_program_is_just_data():
    assert run_program('return "__import__(\'os\').system(\'true\')";') == \
        "__import__('os').system('true')"


def test_undefined_names_are_found_when_reading():
    for text, lang in [("Hello", "hlx_ls"), ("x;", "hlxl_ls"), ("help", "hlx_ls")]:
        with pytest.raises(HLXError) as e:
            hlxls.convert_program(text, lang, lang)
        assert (e.value.code, e.value.line, e.value.col) == ("E_UNDEFINED_IDENTIFIER", 1, 1)
    # statements after a return are checked too
    with pytest.raises(HLXError) as e:
        hlxl.loads_program("return 1;\nreturn y;")
    assert (e.value.code, e.value.line, e.value.col) == ("E_UNDEFINED_IDENTIFIER", 2, 8)


def test_interpreter_checks_names_at_run_time_too():
    from helix.hlx.program import run_ast

    prog = Program([Let("a", Const(1)), Return(ArrayExpr([Var("a"), Var("b", line=7, col=3)]))])
    with pytest.raises(HLXError) as e:
        run_ast(prog)
    assert (e.value.code, e.value.line, e.value.col) == ("E_UNDEFINED_IDENTIFIER", 7, 3)
    inner = Txn([Let("b", Var("a", line=2, col=2)), Let("a", Const(2))])
    with pytest.raises(HLXError) as e:
        run_ast(Program([Let("a", Const(1)), ExprStmt(inner)]))
    assert (e.value.code, e.value.line) == ("E_UNDEFINED_IDENTIFIER", 2)


# ---------------------------------------------------------- generated programs (hypothesis)

NAMES = st.sampled_from(["a", "b", "x1", "res", "_t", "data"])
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
                   st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6),
                   st.binary(max_size=4), st.from_regex(r"&h_[a-z_]{1,6}", fullmatch=True))
SMALL = st.recursive(LEAVES, lambda c: st.lists(c, max_size=3)
                     | st.dictionaries(st.from_regex(r"[a-z]{1,3}", fullmatch=True), c,
                                       max_size=3), max_leaves=6)


def _fold_array(items):
    if all(type(x) is Const for x in items):
        return Const([x.value for x in items])
    return ArrayExpr(items)


def _fold_object(pairs, sort_key=None):
    pairs = sorted(pairs, key=sort_key)
    if all(type(x) is Const for _, x in pairs):
        return Const({k: x.value for k, x in pairs})
    return ObjectExpr(pairs)


def _contract(cid, fields):
    body = _fold_object(list(fields.items()), sort_key=lambda p: int(p[0][1:]))
    if type(body) is Const:
        return Const({cid: body.value})
    return ObjectExpr([(cid, body)])


@st.composite
def exprs(draw, avail, depth=0):
    """An expression reading only names in ``avail`` (``None``: any name, scoped or not)."""
    choices = ["const", "call", "snapshot"]
    if avail is None or avail:
        choices.append("var")
    if depth < 3:
        choices += ["array", "record", "contract", "txn", "call"]
    kind = draw(st.sampled_from(choices))
    sub = exprs(avail, depth + 1)
    if kind == "const":
        return Const(normalize(draw(SMALL)))
    if kind == "var":
        return Var(draw(NAMES if avail is None else st.sampled_from(sorted(avail))))
    if kind == "snapshot":
        return Call("snapshot", [])
    if kind == "call":
        fn = draw(st.sampled_from(["collapse", "resolve", "rollback"]))
        tag = draw(st.none() | st.sampled_from(["t", "my_tag"])) if fn == "collapse" else None
        return Call(fn, [draw(sub)], tag)
    if kind == "array":
        return _fold_array(draw(st.lists(sub, max_size=3)))
    if kind == "record":
        keys = draw(st.lists(st.from_regex(r"[a-z]{1,3}", fullmatch=True), unique=True,
                             max_size=3))
        return _fold_object([(k, draw(sub)) for k in keys])
    if kind == "contract":
        cid = draw(st.sampled_from([902, 901, 1, 14, 1000, 4242]))
        idx = draw(st.lists(st.integers(0, 6), unique=True, max_size=3))
        return _contract(cid, {f"@{i}": draw(sub) for i in idx})
    return Txn(draw(stmts(avail, depth + 1, in_txn=True)))


@st.composite
def stmts(draw, visible=frozenset(), depth=0, in_txn=False, scoped=True):
    """A block; with ``scoped`` every variable read is bound when it runs (Python rules:
    a name let-bound anywhere in a transaction block is local to the whole block)."""
    n = draw(st.integers(0 if in_txn else 1, 3))
    kinds = [draw(st.sampled_from(["let", "let", "expr", "return"])) for _ in range(n)]
    names = [draw(NAMES) if k == "let" else None for k in kinds]
    local = {x for x in names if x} if in_txn else set()
    bound: set = set()
    out = []
    for k, name in zip(kinds, names):
        avail = None if visible is None else frozenset((visible - local) | bound)
        e = draw(exprs(avail, depth))
        if k == "let":
            out.append(Let(name, e))
            bound.add(name)
        elif k == "expr":
            out.append(ExprStmt(e))
        else:
            out.append(Return(e))
    return out


PROGRAMS = st.builds(Program, stmts())
UNSCOPED = st.builds(Program, stmts(visible=None))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(PROGRAMS)
def test_generated_programs_roundtrip_both_forms(prog):
    text = hlxl.dumps_program(prog)
    parsed = hlxl.loads_program(text)
    assert parsed == prog
    assert hlxl.dumps_program(parsed) == text
    hlx = hlxls.convert_program(text, "hlxl_ls", "hlx_ls")
    assert hlxls.dumps_program(prog) == hlx
    assert hlxls.loads_program(hlx) == prog
    assert hlxls.convert_program(hlx, "hlx_ls", "hlxl_ls") == text
    assert hlxls.convert_program(hlx, "hlx_ls", "hlx_ls") == hlx


def _outcome(text, lang):
    s = MemoryStore()
    try:
        r = ("ok", run_program(text, lang, s))
    except HLXError as e:
        r = ("error", e.code)
    st_ = s.stats()
    return r, (st_["values"], st_["bindings"], st_["rows"], st_["snapshots"])


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(PROGRAMS)
def test_generated_programs_run_the_same_in_both_forms(prog):
    text = hlxl.dumps_program(prog)
    (r1, s1), (r2, s2) = _outcome(text, "hlxl_ls"), _outcome(hlxls.dumps_program(prog), "hlx_ls")
    assert s1 == s2
    assert r1[0] == r2[0]
    if r1[0] == "ok":
        assert same_value(r1[1], r2[1])
    else:
        assert r1[1] == r2[1]


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(UNSCOPED)
def test_both_readers_agree_on_undefined_names(prog):
    outcomes = []
    for text, reader in ((hlxl.dumps_program(prog), hlxl.loads_program),
                         (hlxls.dumps_program(prog), hlxls.loads_program)):
        try:
            outcomes.append(("ok", reader(text)))
        except HLXError as e:
            assert e.code == "E_UNDEFINED_IDENTIFIER"
            outcomes.append(("error", None))
    assert outcomes[0] == outcomes[1]
