"""The main job with real training processes: a brain given a target it cannot reach stops on its
plateau, ends below target, and the job exits 1 long before its cap."""

from __future__ import annotations

import json

from helix.corpus import build_corpus
from helix.system import pipeline
from helix.system.launcher import LaunchOptions


def test_an_unreachable_target_stops_on_the_plateau_and_the_job_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HELIX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(pipeline, "print_precision", lambda: None)
    monkeypatch.setattr("helix.system.launcher.Launcher.project_jobs", lambda self, measure=None: None)
    corpus = tmp_path / "corpus"
    build_corpus(corpus, size=40)
    # nothing counts as progress (min_delta 2): plateau, a 5-step decay, plateau again
    args = ["--eval-every-steps", "5", "--patience", "2", "--min-delta", "2", "--decay-min-steps", "5",
            "--decay-frac", "0.1", "--patience-grace-steps", "0", "--eval-sample", "8", "--confirm-sample", "8",
            "--save-every-s", "1", "--gate-floor", "0", "--quiet"]
    opts = LaunchOptions(runs_dir=tmp_path / "runs", corpus=corpus, brains=("runic",), device="cpu",
                         time_cap=3600, poll_s=0.2, extra_train_args=args)
    code = pipeline.launch_main(opts, evaluate=False, progress_every_s=0.0)
    out = " ".join(capsys.readouterr().out.split())
    run = next((tmp_path / "runs").glob("2*"))
    summary = json.loads((run / "runic" / "summary.json").read_text())
    assert code == 1 and "NOT SUCCESSFUL: runic: best val exact match" in out and "stopped at its plateau" in out
    assert summary["stop_reason"] == "plateau" and "below target" in summary["message"]
    assert summary["elapsed_s"] < 600 and summary["step"] < 100  # nowhere near the 1-hour cap
    launch = json.loads((run / "launch.json").read_text())
    assert launch["time_cap"] == 3600 and "--time-cap" in launch["jobs"]["runic"]["argv"]
    assert launch["outcomes"]["runic"]["stop_reason"] == "plateau"
    assert "[runic] [" in out and "ETA" in out  # the progress line
