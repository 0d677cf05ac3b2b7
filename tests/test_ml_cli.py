"""`helix model info` and `helix train` argument handling."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from helix.cli import app


def test_model_info_prints_parameters_and_memory():
    r = CliRunner().invoke(app, ["model", "info", "coordinator-100m"])
    assert r.exit_code == 0, r.output
    assert "100,811,776 parameters" in r.output and "activations" in r.output and "total" in r.output
    r = CliRunner().invoke(app, ["model", "info", "specialist-50m", "--json", "--batch-size", "8"])
    d = json.loads(r.output)
    assert d["params"] == 49_655_040 and d["memory"]["total"] > d["memory"]["params"] * 4
    r = CliRunner().invoke(app, ["model", "info", "nope"])
    assert r.exit_code == 2 and "unknown preset" in r.output


def test_train_rejects_bad_arguments(tmp_path):
    r = CliRunner().invoke(app, ["train", "--brain", "visual", "--corpus", str(tmp_path), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "unknown brain" in r.output
    r = CliRunner().invoke(app, ["train", "--brain", "ascii", "--corpus", str(tmp_path), "--out", str(tmp_path / "o"),
                                 "--gate-epochs", "1,x"])
    assert r.exit_code == 2
    r = CliRunner().invoke(app, ["train", "--brain", "ascii", "--corpus", str(tmp_path / "missing"),
                                 "--out", str(tmp_path / "o"), "--quiet"])
    assert r.exit_code == 2 and "corpus file not found" in r.output
    st = json.loads((tmp_path / "o" / "status.json").read_text())
    assert st["status"] == "failed" and "corpus file not found" in st["message"]


def test_train_format_weight_option(tmp_path):
    from test_ml_train import write_corpus

    from helix.cli.brains import _parse_format_weights

    assert _parse_format_weights(["lc_t=3", "lc_b = 1"]) == {"lc_t": 3, "lc_b": 1}
    corpus = write_corpus(tmp_path / "corpus", n=8, train_copies=1)  # 4 lc_t and 4 lc_b train records
    base = ["train", "--brain", "ascii", "--corpus", str(corpus), "--max-steps", "1", "--quiet", "--progress", "off",
            "--gate-floor", "0",
            "--eval-sample", "1", "--gate-epochs", "99"]
    out = tmp_path / "o"
    r = CliRunner().invoke(app, base + ["--out", str(out), "--format-weight", "lc_t=3"])
    assert r.exit_code == 0, r.output
    assert " train=16 " in (out / "ascii_training.log").read_text()  # replaces the recipe's lc_b=2
    for bad, msg in (("lc_b", "FMT=N"), ("lc_b=x", "FMT=N"), ("lcb=2", "unknown format"), ("lc_b=0", ">= 1")):
        r = CliRunner().invoke(app, base + ["--out", str(tmp_path / "bad"), "--format-weight", bad])
        assert r.exit_code == 2 and msg in r.output, r.output
        assert not (tmp_path / "bad").exists()
