"""`helix run` and `helix cas` (the library functions and the commands)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from helix.cli import app
from helix.cli import programs as cli
from helix.hlx import lcb
from helix.hlx.errors import HLXError
from helix.hlx.store import handle_for

runner = CliRunner()


def invoke(*args, input=None):
    return runner.invoke(app, list(args), input=input)


@pytest.fixture
def prog(tmp_path):
    p = tmp_path / "p.hlxl"
    p.write_text("let h = ls.collapse([1, 2]);\n// comment\nreturn {h: h, v: ls.resolve(h)};\n")
    return p


def test_run_memory(prog):
    r = invoke("run", str(prog), "--memory")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == f"{{h: {handle_for([1, 2])}, v: [1, 2]}}"


def test_run_persists_in_the_store(prog, tmp_path):
    db = tmp_path / "s.sqlite"
    r = invoke("run", str(prog), "--store", str(db), "--to", "hlx")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == f'{{"h": "{handle_for([1, 2])}", "v": [1, 2]}}'
    r = invoke("cas", "resolve", handle_for([1, 2]), "--store", str(db), "--to", "lc-t")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == "[ARR_START, INT(1), INT(2), ARR_END]"
    assert cli.run_file(str(prog), store_path=db, to="lc_b").startswith("[0x07")


def test_run_stdin_and_hlx_ls(tmp_path):
    r = invoke("run", "-", "--memory", input="return [1, ls.collapse(2)];")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == f"[1, {handle_for(2)}]"
    r = invoke("run", "-", "--memory", "--lang", "hlx-ls",
               input="def _txn1():\n    return 5\n__result__ = transaction(_txn1)\n")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == "5"
    py = tmp_path / "p.hlxls"
    py.write_text('__result__ = resolve(collapse({"a": None}))\n')
    assert cli.run_file(str(py), memory=True) == "{a: null}"  # HLX-LS by file name


def test_run_errors_exit_1_with_position(tmp_path):
    p = tmp_path / "bad.hlxl"
    p.write_text("let x = 1;\nreturn ls.resolve(x);\n")
    r = invoke("run", str(p), "--memory")
    assert r.exit_code == 1
    assert r.stderr.strip().startswith("error: E_TYPE_MISMATCH at 2:8: ")
    r = invoke("run", "-", "--memory", input="let x = ;")
    assert r.exit_code == 1 and r.stderr.startswith("error: E_SYNTAX_ERROR at 1:9: ")
    r = invoke("run", "-", "--memory", "--lang", "hlx-ls", input="import os\n")
    assert r.exit_code == 1 and r.stderr.startswith("error: E_SYNTAX_ERROR at 1:1: ")


def test_usage_errors_exit_2(prog, tmp_path):
    assert invoke("run", str(tmp_path / "missing.hlxl"), "--memory").exit_code == 2
    assert invoke("run", str(prog), "--memory", "--to", "yaml").exit_code == 2
    assert invoke("run", str(prog), "--memory", "--lang", "cobol").exit_code == 2
    assert invoke("run").exit_code == 2
    assert invoke("cas", "collapse", "1", "--from", "xml", "--memory").exit_code == 2


def test_cas_commands(tmp_path):
    db = str(tmp_path / "c.sqlite")
    r = invoke("cas", "collapse", '{"a": [1, 2]}', "--from", "hlx", "--store", db)
    assert r.exit_code == 0, r.output
    h = r.stdout.strip()
    assert h == handle_for({"a": [1, 2]})
    r = invoke("cas", "collapse", "[0x012a]", "--from", "lc-b", "--tag", "answer", "--store", db)
    assert r.stdout.strip() == handle_for(42, "answer")
    assert invoke("cas", "resolve", h, "--store", db).stdout.strip() == "{a: [1, 2]}"
    r = invoke("cas", "bind", "&h_docs", '["x"]', "--store", db)
    assert r.exit_code == 0, r.output
    assert invoke("cas", "resolve", "&h_docs", "--store", db).stdout.strip() == '["x"]'
    r = invoke("cas", "stats", "--store", db)
    st = json.loads(r.stdout)
    assert (st["values"], st["bindings"], st["backend"]) == (2, 1, "sqlite")
    r = invoke("cas", "verify", "--store", db)
    assert r.exit_code == 0 and r.stdout.strip() == "ok"
    r = invoke("cas", "resolve", "&h_nothing", "--store", db)
    assert r.exit_code == 1 and r.stderr.startswith("error: E_HANDLE_NOT_FOUND")
    r = invoke("cas", "collapse", "[1,", "--store", db)
    assert r.exit_code == 1 and r.stderr.startswith("error: E_SYNTAX_ERROR at 1:4")


def test_cas_verify_reports_tampering(tmp_path):
    db = tmp_path / "t.sqlite"
    h = cli.cas_collapse("[1, 2, 3]", "hlxl", None, db)
    con = sqlite3.connect(db)
    con.execute("UPDATE log SET data = ?", (lcb.dumps([1, 2, 4]),))
    con.commit()
    con.close()
    r = invoke("cas", "verify", "--store", str(db))
    assert r.exit_code == 1 and "E_HASH_MISMATCH" in r.stderr
    with pytest.raises(HLXError) as e:
        cli.cas_resolve(h, store_path=db)
    assert e.value.code == "E_HASH_MISMATCH"
    assert [p["code"] for p in cli.cas_verify(db)] == ["E_HASH_MISMATCH"]


def test_not_a_store_is_exit_1(tmp_path):
    p = tmp_path / "junk.sqlite"
    p.write_bytes(b"garbage" * 200)
    r = invoke("cas", "stats", "--store", str(p))
    assert r.exit_code == 1 and r.stderr.startswith("error: ")


def test_default_store_location(monkeypatch, tmp_path, prog):
    import helix.hlx.store as store_mod

    target = tmp_path / "data" / "store.sqlite"
    monkeypatch.setattr(store_mod, "default_store_path", lambda: target)
    r = invoke("run", str(prog))
    assert r.exit_code == 0, r.output
    assert target.is_file()
    assert cli.cas_stats(target)["values"] == 1
