"""Issue 18, class 1: text that is not valid Unicode (lone surrogates, from invalid UTF-8 read with
surrogateescape) never gets into the language core, and a bad line never costs the lines after
it; class 4 for ``helix convert``/``helix run``: coded errors, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helix.cli.lang import convert_lines
from helix.hlx import convert, decode, detect_form, is_valid_prefix
from helix.hlx.errors import HLXError
from helix.hlx.hlxls import run_program

REPO = Path(__file__).resolve().parents[1]
BAD = "\"caf\udcc3\""  # what "caf\xc3" becomes through surrogateescape
FORMS = ("hlxl", "hlx", "lc_t", "lc_b", "lc_r")


def helix(*args, input: bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "helix", *args], input=input, capture_output=True,
                          env=env, timeout=120)


@pytest.mark.parametrize("fmt", FORMS)
@pytest.mark.parametrize("text, at", [(BAD, 4), ("[\"a\", \"\udcc3\"]", 7), ("\ud800", 0),
                                      ("[TEXT(\"x\udfff\")]", 8)])
def test_every_value_reader_rejects_a_lone_surrogate_with_its_position(fmt, text, at):
    with pytest.raises(HLXError) as e:
        decode(text, fmt)
    assert e.value.code == "E_LC_DECODE" and e.value.offset == at
    assert (e.value.line, e.value.col) == (1, at + 1)
    assert "not valid Unicode" in e.value.message


def test_library_never_raises_unicode_encode_error():
    for dst in FORMS:
        with pytest.raises(HLXError) as e:
            convert(BAD, "lc_r", dst)  # the LC-R reader used to accept it
        assert e.value.code == "E_LC_DECODE"
    with pytest.raises(HLXError) as e:
        detect_form(BAD)
    assert e.value.code == "E_LC_DECODE"
    assert is_valid_prefix("\"caf\udcc3", "lc_r") is False
    assert is_valid_prefix("\udcc3", "hlxl_ls") is False


@pytest.mark.parametrize("lang, text", [("hlxl_ls", 'let y = 1;\nlet x = "\udcff";\nreturn x;'),
                                        ("hlx_ls", 'x = "ok"\ny = "\udcff"\n')])
def test_program_readers_reject_a_lone_surrogate(lang, text):
    with pytest.raises(HLXError) as e:
        run_program(text, lang)
    assert e.value.code == "E_LC_DECODE" and e.value.line == 2
    with pytest.raises(HLXError):
        convert(text, lang, "hlx_ls" if lang == "hlxl_ls" else "hlxl_ls")


def test_convert_lines_reports_the_bad_line_and_keeps_going():
    lines = ["[1]\n", BAD + "\n", "[2]\n"]
    got = list(convert_lines(lines, "auto", "lc_b", jsonl=True))
    assert [json.loads(o)["ok"] for o, _ in got] == [True, False, True]
    bad = json.loads(got[1][0])
    assert bad["code"] == "E_LC_DECODE" and bad["offset"] == 4 and bad["col"] == 5
    got = list(convert_lines(lines, "auto", "lc_b"))
    assert [o for o, _ in got] == ["[0x0501010106]", "", "[0x0501010206]"]
    assert got[1][1].startswith("error: line 2: E_LC_DECODE at 1:5:")


def test_a_detected_program_is_an_error_of_its_line_not_a_usage_error():
    # found by the fuzz run: a blank line reads as an (empty) program, which used to end the stream
    got = list(convert_lines(["[1]\n", "\t\n", "[2]\n"], "auto", "lc_b"))
    assert [o for o, _ in got] == ["[0x0501010106]", "", "[0x0501010206]"]
    assert "E_LC_PARSE" in got[1][1]


def test_cli_stdin_with_invalid_utf8_line_mode_and_jsonl():
    data = b'[1]\n"caf\xc3"\n[2]\n'
    r = helix("convert", "--from", "auto", "--to", "lc_b", input=data)
    assert r.returncode == 1, r.stderr
    assert r.stdout.decode("utf-8").splitlines() == ["[0x0501010106]", "", "[0x0501010206]"]
    err = r.stderr.decode("utf-8")
    assert "error: line 2: E_LC_DECODE at 1:5" in err and "Traceback" not in err
    r = helix("convert", "--from", "auto", "--to", "lc_b", "--jsonl", input=data)
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.decode("utf-8").splitlines()]
    assert [o["ok"] for o in out] == [True, False, True]
    assert out[1]["code"] == "E_LC_DECODE" and out[1]["line"] == 1 and out[1]["col"] == 5
    assert out[2]["out"] == "[0x0501010206]"


def test_cli_to_hlx_never_prints_invalid_utf8():
    r = helix("convert", "--from", "auto", "--to", "hlx", input=b'"caf\xc3"\n')
    assert r.returncode == 1
    r.stdout.decode("utf-8")  # strict: raises on invalid UTF-8
    assert b"\xc3\"" not in r.stdout
    r = helix("convert", "--from", "auto", "--to", "hlx", b'"caf\xc3"'.decode("utf-8", "surrogateescape"))
    assert r.returncode == 1 and r.stdout == b""
    assert r.stderr.startswith(b"error: E_LC_DECODE at 1:5:")


def test_cli_file_and_program_stdin_with_invalid_utf8(tmp_path):
    f = tmp_path / "bad.hlxl"
    f.write_bytes(b'let x = "\xff";\nreturn x;\n')
    r = helix("convert", "--from", "hlxl_ls", "--to", "hlx_ls", "--file", str(f))
    assert r.returncode == 1 and r.stderr.startswith(b"error: E_LC_DECODE at 1:10:"), r.stderr
    r = helix("run", str(f), "--memory")
    assert r.returncode == 1 and r.stderr.startswith(b"error: E_LC_DECODE at 1:10:"), r.stderr
    r = helix("run", "-", "--memory", input=b'return "\xfe";')
    assert r.returncode == 1 and b"E_LC_DECODE" in r.stderr and b"Traceback" not in r.stderr
    r = helix("convert", "--from", "hlxl_ls", "--to", "hlx_ls", input=b'let x = "\xff";')
    assert r.returncode == 1 and b"E_LC_DECODE" in r.stderr


def test_cli_ask_with_invalid_utf8_is_a_coded_error_not_a_traceback(tmp_path):
    arg = b'"caf\xc3"'.decode("utf-8", "surrogateescape")
    env = {**os.environ, "HELIX_RUNS_DIR": str(tmp_path / "runs")}
    r = subprocess.run([sys.executable, "-m", "helix", "ask", arg, "--to", "lc_b"],
                       capture_output=True, timeout=120, cwd=tmp_path, env=env)
    assert r.returncode == 1, r.stderr
    assert b"E_LC_DECODE" in r.stderr and b"Traceback" not in r.stderr
    r.stdout.decode("utf-8")  # nothing invalid printed
