"""`helix convert`: TEXT, stdin lines (plain and --jsonl), --file, --from auto, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from helix.cli import app
from helix.cli.lang import convert_lines, convert_text, form_name
from helix.hlx.errors import HLXError

runner = CliRunner()
OP_HLX = '{1000: {"@0": "search", "@1": "&h_documents"}}'
OP_LCR = '🜊1000🜁0 "search"🜁1 ⟁documents🜂'
OP_LCT = ('[OBJ_START, KEY(1000), OBJ_START, FIELD_0, TEXT("search"), FIELD_1, '
          'HANDLE(&h_documents), OBJ_END, OBJ_END]')


def run(*args, input=None):
    return runner.invoke(app, ["convert", *args], input=input)


def test_convert_text():
    r = run("--from", "hlx", "--to", "lc_r", OP_HLX)
    assert r.exit_code == 0, r.output
    assert r.stdout == OP_LCR + "\n"
    r = run("--from", "lc-r", "--to", "lc-t", OP_LCR)  # '-' spellings
    assert r.exit_code == 0 and r.stdout.strip() == OP_LCT


def test_hlx_error_exits_1_with_position():
    r = run("--from", "lc_t", "--to", "hlx", "[INT(1), INT(2)]")
    assert r.exit_code == 1
    assert r.stdout == ""
    assert r.stderr.startswith("error: E_LC_PARSE at 1:8: ")


@pytest.mark.parametrize("args", [
    ["--from", "bogus", "--to", "hlx", "1"],
    ["--from", "hlx", "--to", "auto", "1"],
    ["--to", "hlx", "1"],
    ["--from", "hlx", "--to", "hlx_ls", "1"],
])
def test_usage_errors_exit_2(args):
    r = run(*args)
    assert r.exit_code == 2, (args, r.output)


def test_auto_detection():
    r = run("--from", "auto", "--to", "hlx", OP_LCT)
    assert r.exit_code == 0 and r.stdout.strip() == OP_HLX
    r = run("--from", "auto", "--to", "hlx", "search the documents")
    assert r.exit_code == 1 and "E_LC_PARSE" in r.stderr


def test_stdin_lines_stay_aligned_on_errors():
    lines = ["42", "[1, 2", OP_HLX, "", '"é"']
    r = run("--from", "hlx", "--to", "lc_t", input="\r\n".join(lines) + "\n")
    assert r.exit_code == 1
    out = r.stdout.split("\n")
    assert out[:5] == ["[INT(42)]", "", OP_LCT, "", '[TEXT("\\u00e9")]']
    err = r.stderr.strip().split("\n")
    assert len(err) == 2
    assert err[0].startswith("error: line 2: E_LC_PARSE at 1:6:")
    assert err[1].startswith("error: line 4: E_LC_PARSE")


def test_stdin_jsonl():
    r = run("--from", "hlx", "--to", "lc_r", "--jsonl", input=f"{OP_HLX}\n[1,2]\n")
    assert r.exit_code == 0
    rows = [json.loads(x) for x in r.stdout.strip().split("\n")]
    assert rows[0] == {"ok": True, "out": OP_LCR}
    assert rows[1]["ok"] is False and rows[1]["code"] == "E_LC_PARSE"
    assert rows[1]["line"] == 1 and rows[1]["col"] == 3 and rows[1]["message"]


def test_file_and_programs(tmp_path):
    prog = tmp_path / "p.hlxl"
    prog.write_text("let x = ls.collapse(42);\nreturn [x, {a: 1}];\n", encoding="utf-8")
    r = run("--from", "hlxl_ls", "--to", "hlx_ls", "--file", str(prog))
    assert r.exit_code == 0, r.output
    hlx_ls = r.stdout.rstrip("\n")
    assert "collapse(42)" in hlx_ls and "__result__" in hlx_ls
    back = run("--from", "hlx_ls", "--to", "hlxl_ls", input=hlx_ls)  # stdin read whole for programs
    assert back.exit_code == 0, back.output
    assert convert_text(back.stdout.rstrip("\n"), "hlxl_ls", "hlx_ls") == hlx_ls
    val = tmp_path / "v.txt"
    val.write_text(OP_LCR + "\n", encoding="utf-8")
    r = run("--from", "lc_r", "--to", "hlx", "--file", str(val))
    assert r.exit_code == 0 and r.stdout.strip() == OP_HLX
    r = run("--from", "lc_r", "--to", "hlx", "--file", str(tmp_path / "missing"))
    assert r.exit_code == 2


def test_library_functions():
    assert form_name("LC-B") == "lc_b"
    with pytest.raises(ValueError):
        form_name("english")
    assert convert_text("[0x012a]", "auto", "hlxl") == "42"
    with pytest.raises(HLXError):
        convert_text("hello there", "auto", "hlx")
    got = list(convert_lines(["1\n", "x\n"], "hlx", "lc_b"))
    assert got[0] == ("[0x0101]", None)
    assert got[1][0] == "" and got[1][1].startswith("error: line 2: E_LC_PARSE")


def test_real_process():
    p = subprocess.run([sys.executable, "-m", "helix", "convert", "--from", "hlx", "--to", "lc_b", "42"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout == "[0x012a]\n"
    p = subprocess.run([sys.executable, "-m", "helix", "convert", "--from", "lc_b", "--to", "hlx", "[0x0c]"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and p.stderr.startswith("error: E_LC_DECODE at 1:4:")
