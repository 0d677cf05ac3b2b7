"""Issue 18, classes 4-5 for the corpus: killed builds leave ``.NAME.building-PID`` and
``.NAME.old-PID`` folders that a later build removes (only those whose process is gone); the
``helix corpus`` commands answer damaged input with ``error: ...`` and exit 1, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from helix.cli import app
from helix.corpus import build_corpus

runner = CliRunner()


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_later_build_removes_stale_temp_folders_of_dead_builds(tmp_path):
    out = tmp_path / "corpus"
    build_corpus(out, size=20)
    dead = dead_pid()
    stale = [tmp_path / f".corpus.old-{dead}", tmp_path / f".corpus.building-{dead}"]
    live = tmp_path / f".corpus.old-{os.getppid()}"  # a running process: never touched
    for d in (*stale, live):
        d.mkdir()
        (d / "canonical.jsonl").write_text("{}\n")
    build_corpus(out, size=20)
    assert not any(d.exists() for d in stale)
    assert live.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["corpus", live.name])


def test_a_build_killed_between_its_renames_gets_its_old_corpus_back(tmp_path):
    out = tmp_path / "corpus"
    m = build_corpus(out, size=20)
    dead = dead_pid()
    os.rename(out, tmp_path / f".corpus.old-{dead}")  # what a kill between the renames leaves
    from helix.corpus.build import _remove_stale_temps

    _remove_stale_temps(out)
    assert json.loads((out / "manifest.json").read_text()) == m
    assert [p.name for p in tmp_path.iterdir()] == ["corpus"]


@pytest.mark.parametrize("manifest", [b"[1, 2]", b'{"files": 5}', b"\xff\xfe", b"{not json"])
def test_corpus_commands_on_a_damaged_corpus_give_errors(tmp_path, manifest):
    d = tmp_path / "c"
    d.mkdir()
    (d / "manifest.json").write_bytes(manifest)
    for cmd in ("stats", "verify"):
        r = runner.invoke(app, ["corpus", cmd, str(d)])
        assert r.exit_code == 1, (cmd, r.output)
        assert r.exception is None or isinstance(r.exception, SystemExit), (cmd, r.exception)
        assert "Traceback" not in r.output


def test_corpus_build_into_an_unwritable_place_is_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = runner.invoke(app, ["corpus", "build", "--out", str(blocker / "sub"), "--size", "20"])
    assert r.exit_code == 1 and "\nerror: cannot write the corpus" in r.stderr, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
