"""HLX-LS (spec §9): the text form, its whitelist reader, conversion, the Python API."""

from __future__ import annotations

import pytest

from helix.hlx import hlxl, hlxls
from helix.hlx.errors import HLXError
from helix.hlx.hlxls import run_program
from helix.hlx.store import MemoryStore, handle_for

SPEC_HLX_LS = '''h = collapse({902: {"@0": "cube_renderer", "@1": ["&h_vert", "&h_frag"], "@2": [], "@3": "&h_fb"}})
def _txn1():
    a = collapse(100)
    b = collapse(200)
    return [a, b]
result = transaction(_txn1)'''

SPEC_HLXL_LS = '''let h = ls.collapse(contract 902 { pipeline_id: "cube_renderer", stages: [&h_vert, &h_frag], sync_barriers: [], output_image: &h_fb });
let result = ls.transaction {
    let a = ls.collapse(100);
    let b = ls.collapse(200);
    return [a, b];
};'''


def test_spec_example_converts_both_ways():
    assert hlxls.convert_program(SPEC_HLX_LS, "hlx_ls", "hlxl_ls") == SPEC_HLXL_LS
    assert hlxls.convert_program(SPEC_HLXL_LS, "hlxl_ls", "hlx_ls") == SPEC_HLX_LS
    assert hlxls.convert_program(SPEC_HLX_LS, "hlx-ls", "hlx-ls") == SPEC_HLX_LS


def test_statement_mapping():
    cases = [
        ("let x = 1;", "x = 1"),
        ("ls.snapshot();", "snapshot()"),
        ("return x;", "__result__ = x"),
        ('let h = ls.collapse(0xdead, "blob");', 'h = collapse(b"\\xde\\xad", "blob")'),
        ("ls.rollback(cp);", "rollback(cp)"),
        ("let v = ls.resolve(&h_docs);", 'v = resolve("&h_docs")'),
        ("let v = {a: [x, null, true, 1.5, -2]};", 'v = {"a": [x, None, True, 1.5, -2]}'),
        ("let v = {@0: x};", 'v = {"@0": x}'),
        ("let v = contract 901 { workgroup_size: [n, 1, 1] };", 'v = {901: {"@2": [n, 1, 1]}}'),
        ("ls.transaction {};", "def _txn1():\n    pass\ntransaction(_txn1)"),
        ("return ls.transaction {\n    return 1;\n};",
         "def _txn1():\n    return 1\n__result__ = transaction(_txn1)"),
        # N counts ls.transaction keywords in order, nested ones included
        ("let x = [ls.transaction {\n    let i = ls.transaction {};\n    return i;\n}, "
         "ls.transaction {}];",
         "def _txn1():\n    def _txn2():\n        pass\n    i = transaction(_txn2)\n"
         "    return i\ndef _txn3():\n    pass\nx = [transaction(_txn1), transaction(_txn3)]"),
    ]
    pre_hl = "let x = 1;\nlet cp = ls.snapshot();\nlet n = 2;\n"
    pre_hx = "x = 1\ncp = snapshot()\nn = 2\n"
    for hl, hx in cases:
        assert hlxls.convert_program(pre_hl + hl, "hlxl_ls", "hlx_ls") == pre_hx + hx, hl
        assert hlxls.convert_program(pre_hx + hx, "hlx_ls", "hlxl_ls") == pre_hl + hl, hx


def test_reader_is_lenient_on_python_whitespace_only():
    src = "x  =  [1,2]   # a comment\n\n\ny = {'a': 1}"
    with pytest.raises(HLXError) as e:
        hlxls.loads_program(src)
    assert (e.value.code, e.value.line, e.value.col) == ("E_SYNTAX_ERROR", 4, 6)
    assert hlxls.convert_program("x  =  [1,2]   # c\n", "hlx_ls", "hlx_ls") == "x = [1, 2]"


def test_same_results_in_both_forms():
    s1, s2 = MemoryStore(), MemoryStore()
    r1 = run_program(SPEC_HLXL_LS + "\nreturn [h, result];", "hlxl_ls", s1)
    r2 = run_program(SPEC_HLX_LS + "\n__result__ = [h, result]", "hlx_ls", s2)
    assert r1 == r2
    assert r1[1] == [handle_for(100), handle_for(200)]
    assert s1.stats() == s2.stats()


@pytest.mark.parametrize("text, line, col", [
    ("import os", 1, 1),
    ("from os import path", 1, 1),
    ("x = 1\nimport subprocess", 2, 1),
    ("__import__('os').system('true')", 1, 1),
    ('__import__("os")', 1, 1),
    ('os.system("true")', 1, 1),
    ('x = open("/etc/passwd")', 1, 5),
    ("print(1)", 1, 1),
    ('eval("1")', 1, 1),
    ('exec("x = 1")', 1, 1),
    ("x = collapse.__class__", 1, 5),
    ("x = y.z", 1, 5),
    ("x = 1 + 2", 1, 5),
    ("x = -y", 1, 5),
    ("x = not True", 1, 5),
    ("x = [i for i in [1]]", 1, 5),
    ("x = lambda: 1", 1, 5),
    ("x = (1, 2)", 1, 5),
    ("x = {1, 2}", 1, 5),
    ("x = y[0]", 1, 5),
    ('x = f"{y}"', 1, 5),
    ("x = 1 if y else 2", 1, 5),
    ("x = y = 1", 1, 1),
    ("x, y = 1, 2", 1, 1),
    ("x += 1", 1, 1),
    ("x: int = 1", 1, 1),
    ("del x", 1, 1),
    ("if True:\n    x = 1", 1, 1),
    ("while True:\n    pass", 1, 1),
    ("for i in []:\n    pass", 1, 1),
    ("with x:\n    pass", 1, 1),
    ("class C:\n    pass", 1, 1),
    ("try:\n    pass\nexcept Exception:\n    pass", 1, 1),
    ("global x", 1, 1),
    ("assert x", 1, 1),
    ("raise ValueError()", 1, 1),
    ("pass", 1, 1),
    ("return 1", 1, 1),
    ("def f():\n    return 1\nx = transaction(f)", 1, 1),
    ("def _txn1(a):\n    return a\nx = transaction(_txn1)", 1, 1),
    ("@d\ndef _txn1():\n    return 1\nx = transaction(_txn1)", 2, 1),
    ("def _txn2():\n    return 1\nx = transaction(_txn2)", 1, 1),
    ("def _txn01():\n    return 1\nx = transaction(_txn01)", 1, 1),
    ("def _txn1():\n    return 1", 1, 1),
    ("def _txn1():\n    return 1\nx = 5\ny = transaction(_txn1)", 1, 1),
    ("def _txn1():\n    return 1\ndef _txn2():\n    return 2\nx = [transaction(_txn2), "
     "transaction(_txn1)]", 5, 18),
    ("x = transaction(lambda: 1)", 1, 5),
    ("x = transaction(_txn1)", 1, 17),
    ("x = _txn1", 1, 5),
    ("def _txn1():\n    __result__ = 1\ntransaction(_txn1)", 2, 5),
    ("def _txn1():\n    return\ntransaction(_txn1)", 2, 5),
    ("x = __result__", 1, 5),
    ("__x = 1", 1, 1),
    ("collapse = 1", 1, 1),
    ("let = 1", 1, 1),
    ("x = collapse(1, tag=\"t\")", 1, 5),
    ("x = collapse(*y)", 1, 5),
    ("x = collapse(1, y)", 1, 17),
    ("x = collapse(1, \"a b\")", 1, 17),
    ("x = resolve()", 1, 5),
    ("x = snapshot(1)", 1, 5),
    ("x = {**y}", 1, 8),
    ("x = 'single'", 1, 5),
    ('x = "a" "b"', 1, 5),
    ('x = "\\x41"', 1, 5),
    ('x = u"a"', 1, 5),
    ("x = b'\\x01'", 1, 5),
    ('x = b"A"', 1, 5),
    ('x = b"\\xAB"', 1, 5),
    ("x = 0x10", 1, 5),
    ("x = 1_000", 1, 5),
    ("x = 1.", 1, 5),
    ("x = 1j", 1, 5),
    ("x = ...", 1, 5),
    ("x = - 1", 1, 5),
    ("x = [1,\n  2,\n  y.z]", 3, 3),
    ("x = (", 1, 5),
    ("x = \"\u00e9\" + [y.z]", 1, 5),
])
def test_reader_refuses(text, line, col):
    with pytest.raises(HLXError) as e:
        hlxls.loads_program(text)
    assert e.value.code in ("E_SYNTAX_ERROR", "E_HANDLE_FORMAT"), str(e.value)
    assert (e.value.line, e.value.col) == (line, col), str(e.value)


@pytest.mark.parametrize("text, code", [
    ('x = {"a-b": 1}', "E_KEY_FORMAT"),
    ("x = {True: 1}", "E_KEY_FORMAT"),
    ('x = {"a": 1, "a": y}', "E_FIELD_ORDER"),
    ('x = {1: 2}', "E_CONTRACT_FORM"),
    ('x = {1: [y]}', "E_CONTRACT_FORM"),
    ('x = {"a": y, "@0": 1}', "E_KEY_FORMAT"),
    ('x = "&h_bad-handle"', "E_HANDLE_FORMAT"),
    ("x = 99999999999999999999", "E_INT_RANGE"),
    ("x = 1e999", "E_FLOAT_SPECIAL"),
    ("x = " + "[" * 65 + "]" * 65, "E_DEPTH_EXCEEDED"),
])
def test_reader_value_errors(text, code):
    with pytest.raises(HLXError) as e:
        hlxls.loads_program(text)
    assert e.value.code == code and e.value.line == 1, str(e.value)


def test_reader_never_executes(tmp_path):
    marker = tmp_path / "pwned"
    evil = [
        f'__import__("os").system("touch {marker}")',
        f'import os\nos.system("touch {marker}")',
        f'x = open("{marker}", "w")',
        f'def _txn1():\n    __import__("os").system("touch {marker}")\nx = transaction(_txn1)',
    ]
    for text in evil:
        with pytest.raises(HLXError):
            run_program(text, "hlx_ls")
        assert not marker.exists()


def test_deep_python_nesting_is_an_error():
    for text in ("x = " + "[" * 5000 + "]" * 5000, "x = " + "resolve(" * 3000 + "y" + ")" * 3000):
        with pytest.raises(HLXError) as e:
            hlxls.loads_program(text)
        assert e.value.code in ("E_SYNTAX_ERROR", "E_DEPTH_EXCEEDED")


def test_non_ascii_columns():
    with pytest.raises(HLXError) as e:
        hlxls.loads_program('x = ["\u00e9\u00e9\u00e9", y.z]')
    assert (e.value.line, e.value.col) == (1, 13)
    assert hlxls.convert_program('y = 1\nx = ["caf\u00e9", y]', "hlx_ls", "hlxl_ls") == \
        'let y = 1;\nlet x = ["caf\u00e9", y];'


def test_module_level_api_uses_the_default_store():
    old = hlxls.default_store()
    try:
        s = MemoryStore()
        hlxls.set_default_store(s)
        h = hlxls.collapse({"a": 1})
        assert s.resolve(h) == {"a": 1} and hlxls.resolve(h) == {"a": 1}
        cp = hlxls.snapshot()
        h2 = hlxls.collapse(2)
        hlxls.rollback(cp)
        with pytest.raises(HLXError):
            hlxls.resolve(h2)
        hlxls.bind("&h_docs", [1])
        assert hlxls.resolve("&h_docs") == [1]
        with pytest.raises(KeyError):
            hlxls.transaction(lambda: (hlxls.collapse(3), {}["missing"]))
        with pytest.raises(HLXError):
            hlxls.resolve(handle_for(3))
        assert hlxls.transaction(lambda: hlxls.collapse(4)) == handle_for(4)
        import helix.hlx as hx

        assert hx.collapse is hlxls.collapse and hx.transaction is hlxls.transaction
        assert hx.run_program("return 1;", "hlxl_ls", None) == 1
    finally:
        hlxls.set_default_store(old)


def test_hlx_values_inside_match_the_hlx_form():
    from helix.hlx import hlxform

    v = {902: {"@0": "p", "@1": ["&h_a"], "@2": [{"i": 0.5}], "@3": b"\x00"}}
    text = hlxls.dumps_program(hlxl.loads_program(f"let v = {hlxl.dumps(v)};"))
    assert text == f"v = {hlxform.dumps(v)}"
