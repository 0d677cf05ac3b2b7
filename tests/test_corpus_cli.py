"""`helix corpus build | verify | stats` through the CLI."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from helix.cli import app

runner = CliRunner()


def test_cli_build_verify_stats(tmp_path):
    out = tmp_path / "c"
    res = runner.invoke(app, ["corpus", "build", "--out", str(out), "--seed", "9", "--size", "120"])
    assert res.exit_code == 0, res.output
    assert "verification hash" in res.output
    m = json.loads((out / "manifest.json").read_text())
    assert m["seed"] == 9 and m["size"] == 120

    res = runner.invoke(app, ["corpus", "verify", str(out)])
    assert res.exit_code == 0, res.output
    assert "OK" in res.output

    res = runner.invoke(app, ["corpus", "stats", str(out)])
    assert res.exit_code == 0, res.output
    assert "ascii.jsonl" in res.output and "lc_r" in res.output and "60" in res.output

    # break one target: verify prints the problem and exits 1
    p = out / "runic.jsonl"
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    r = json.loads(lines[0])
    r["tgt"] = r["tgt"] + " "
    lines[0] = json.dumps(r, ensure_ascii=False) + "\n"
    p.write_text("".join(lines), encoding="utf-8")
    res = runner.invoke(app, ["corpus", "verify", str(out)])
    assert res.exit_code == 1
    assert "runic.jsonl" in res.output


def test_cli_errors(tmp_path):
    res = runner.invoke(app, ["corpus", "verify", str(tmp_path / "nope")])
    assert res.exit_code == 2
    res = runner.invoke(app, ["corpus", "stats", str(tmp_path)])
    assert res.exit_code == 1
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "x.txt").write_text("x")
    res = runner.invoke(app, ["corpus", "build", "--out", str(tmp_path / "mine"), "--size", "50"])
    assert res.exit_code == 1
    assert "refusing" in res.output


def test_stats_and_verify_report_broken_files(tmp_path):
    out = tmp_path / "c"
    assert runner.invoke(app, ["corpus", "build", "--out", str(out), "--size", "40"]).exit_code == 0
    with open(out / "ascii.jsonl", "a", encoding="utf-8") as f:
        f.write("{not json\n")
    res = runner.invoke(app, ["corpus", "stats", str(out)])
    assert res.exit_code == 1 and "not JSON" in res.output
    res = runner.invoke(app, ["corpus", "verify", str(out)])
    assert res.exit_code == 1 and "ascii.jsonl:" in res.output and "not JSON" in res.output
    (out / "manifest.json").write_text('{"seed": 1, "files": 3}')
    res = runner.invoke(app, ["corpus", "verify", str(out)])
    assert res.exit_code == 1 and "manifest.json" in res.output
