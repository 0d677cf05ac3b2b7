"""The real pieces together, on a tiny run launched in the test (real corpus builder, real
`helix launch` supervising the real `helix train`, tiny presets, a few steps): run layout,
`helix ask` through the router, constrained decoding, route tags, evaluation and report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

hlx = pytest.importorskip("helix.hlx")
pytest.importorskip("helix.corpus")
pytest.importorskip("helix.ml.train")

from helix.system.ask import System, constraint, is_valid  # noqa: E402
from test_system_support import tiny_run  # noqa: E402

BRAINS = ("coordinator", "ascii", "runic")
MAX_NEW = 48  # bounds the work of the barely trained brains (their text rarely ends by itself)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return tiny_run(tmp_path_factory)


@pytest.fixture(scope="module")
def system(run) -> System:
    return System(run, max_new_tokens=MAX_NEW)


@pytest.fixture(scope="module")
def corpus(run) -> Path:
    return Path(json.loads((run / "launch.json").read_text())["corpus"])


def test_launch_wrote_the_run_layout(run):
    from helix.system.scheduler import cpu_count

    st = json.loads((run / "launch.json").read_text())
    assert st["phase"] == "done" and st["mode"] == "parallel" and st["device_kind"] == "cpu"
    assert st["warm_start"] is True and st["slots"] == 2
    for b in BRAINS:
        job = st["jobs"][b]
        assert job["state"] == "completed" and job["attempts"] == 1, job
        assert job["preset"] == ("coordinator-tiny" if b == "coordinator" else "specialist-tiny")
        assert ["--max-steps", "6"] == job["argv"][job["argv"].index("--max-steps"):][:2]
        status = json.loads((run / b / "status.json").read_text())
        assert status["status"] == "completed" and status["step"] == 6
        assert (run / b / f"{b}_training.log").stat().st_size > 0
        assert (run / b / f"{b}_console.log").is_file()
        assert (run / b / "checkpoints" / "best" / "model.safetensors").is_file()
        assert (run / b / "metrics.jsonl").is_file()
    assert not list(run.glob("*.pid"))  # every process ended
    # the CPU default warm start: the coordinator alone on every brain's records with all cores,
    # then the two specialists side by side, each starting from the coordinator's weights
    ev = [(e["brain"], e["event"]) for e in st["events"] if e["event"] in ("started", "completed")]
    assert ev[:2] == [("coordinator", "started"), ("coordinator", "completed")]
    assert sorted(ev[2:4]) == [("ascii", "started"), ("runic", "started")]
    assert sorted(ev[4:]) == [("ascii", "completed"), ("runic", "completed")]
    argv = {b: st["jobs"][b]["argv"] for b in BRAINS}
    assert argv["coordinator"][argv["coordinator"].index("--mix") + 1] == "all"
    assert argv["coordinator"][argv["coordinator"].index("--threads") + 1] == str(cpu_count())
    for b in ("ascii", "runic"):
        assert argv[b][argv[b].index("--init-from") + 1] == str(run.resolve() / "coordinator")
        assert argv[b][argv[b].index("--threads") + 1] == str(max(1, cpu_count() // 2))
        assert "weights initialised from" in (run / b / f"{b}_training.log").read_text()
    assert (run / "report.html").is_file() and (run / "loss.png").stat().st_size > 5000


def test_status_of_the_finished_run(run):
    from typer.testing import CliRunner

    from helix.cli import app

    r = CliRunner().invoke(app, ["status", str(run), "--json"])
    assert r.exit_code == 0
    assert [(b["brain"], b["status"], b["stalled"]) for b in json.loads(r.output)["brains"]] == [
        (b, "completed", False) for b in BRAINS]


def test_ask_on_the_tiny_run(system):
    a = system.ask("Represent true", to="lc_r", check=True)
    assert a.route.expert == "runic" and not a.route.direct
    assert a.model_route in ("ascii", "runic", "coordinator")  # a real learned route tag
    assert a.route_agrees == (a.model_route == "runic")
    if a.ok:
        hlx.decode(a.text, "lc_r")
    else:
        assert a.text is None and a.error
    assert set(a.check["answers"]) == {"ascii"} and a.check["answers"]["ascii"]["fmt"] == "lc_t"
    d = system.ask("[ARR_START, INT(1), INT(2), ARR_END] in runic")
    assert d.ok and d.text == "🜃1, 2🜄" and d.route.direct


def test_constrained_decoding_never_returns_an_unparseable_answer(system, corpus):
    from helix.ml.data import load_records

    recs = [r for r in load_records(corpus, "ascii", "test") if r["src_fmt"] == "english"][:6]
    recs += [r for r in load_records(corpus, "runic", "test") if r["src_fmt"] == "english"][:6]
    recs += [r for r in load_records(corpus, "coordinator", "test")
             if r["src_fmt"] == "english" and r["tgt_fmt"] in ("hlxl", "hlx", "lc_t")][:6]
    assert len(recs) >= 12
    by_brain: dict[str, list] = {}
    for r in recs:
        by_brain.setdefault({"lc_t": "ascii", "lc_b": "ascii", "lc_r": "runic"}.get(r["tgt_fmt"], "coordinator"),
                            []).append(r)
    finished = 0
    for brain, rs in by_brain.items():
        gens = system.brain(brain).generate([(r["src_fmt"], r["src"], r["tgt_fmt"]) for r in rs],
                                            constraint=constraint, max_new_tokens=MAX_NEW)
        for r, g in zip(rs, gens):
            ok, complete = constraint(r["tgt_fmt"], g.text)
            assert ok, (brain, r["tgt_fmt"], g.text)  # always a valid prefix
            if g.finished:  # <eos> only where the text is complete: it parses
                finished += 1
                assert is_valid(r["tgt_fmt"], g.text)[0], (brain, r["tgt_fmt"], g.text)
    # through `ask`: whatever the model does, an answer marked good parses
    # the raw path retries under the constraint; the system path decodes every candidate under it
    answers = system.ask_many([(r["src"], r["tgt_fmt"]) for r in recs], raw=True)
    answers_sys = system.ask_many([(r["src"], r["tgt_fmt"]) for r in recs])
    retried = 0
    for r, a in zip(recs + recs, answers + answers_sys):
        retried += a.constrained
        if a.ok:
            hlx.decode(a.text, r["tgt_fmt"])
        else:
            assert a.text is None and a.valid is False and a.error
    assert all(a.path == "system" and a.candidates for a in answers_sys)
    assert retried > 0, "the barely trained brains should need the constrained retry at least once"


def test_route_tags_on_the_test_split(system, corpus):
    """The learned route tag of every test request, one generated token each, against the rule;
    the same figure helix.ml.evaluate reports. (On this barely trained coordinator the value is
    low; the trained run's figure is in accuracy.json, see docs/SYSTEM.md.)"""
    from helix.ml.data import load_records
    from helix.ml.evaluate import evaluate
    from helix.system.router import expert_for

    recs = load_records(corpus, "coordinator", "test")[:40]
    gens = system.brain("coordinator").generate([(r["src_fmt"], r["src"], r["tgt_fmt"]) for r in recs],
                                                max_new_tokens=1)
    assert all(g.route in BRAINS for g in gens)
    acc = sum(g.route == expert_for(r["tgt_fmt"]) for g, r in zip(gens, recs)) / len(recs)
    rep = evaluate(None, corpus=corpus, split="test", brain=system.brain("coordinator"), limit=40,
                   max_new_tokens=2)
    assert rep["route_accuracy"] == pytest.approx(acc)


def test_route_tag_accuracy_of_a_trained_run():
    """>= 99% on the test split for a coordinator trained by the default `helix launch`.
    Needs such a run: HELIX_TRAINED_RUN=runs/<timestamp> (its accuracy.json)."""
    path = os.environ.get("HELIX_TRAINED_RUN")
    if not path:
        pytest.skip("no trained run given (set HELIX_TRAINED_RUN to a run made by `helix launch`)")
    acc = json.loads((Path(path) / "accuracy.json").read_text())
    assert acc["route_n"] >= 1000 and acc["route_accuracy"] >= 0.99, acc["route_accuracy"]


def test_evaluation_gates_and_report(run):
    from helix.system.pipeline import evaluate_run, gate_requests
    from helix.system.report import write_report

    acc = evaluate_run(run, limit=4, check_limit=3, max_new_tokens=24, system_limit=2, log=lambda s: None)
    assert {r["brain"] for r in acc["rows"]} == set(BRAINS)
    assert sum(r["n"] for r in acc["rows"] if r["brain"] == "ascii") == 4
    for r in acc["rows"]:
        assert 0 <= r["exact"] <= 1 and (r["validity"] is None or 0 <= r["validity"] <= 1)
    assert 0 <= acc["route_accuracy"] <= 1 and acc["route_n"] == 4
    assert acc["check"]["n"] == 3 and 0 <= acc["check"]["agreement"] <= 1
    for brain in BRAINS:  # the novel split is evaluated on its own line, every brain
        b = acc["brains"][brain]
        novel = json.loads((run / brain / "novel_eval.json").read_text())
        assert b["novel_n"] == novel["n"] == 4 and novel["source"]["split"] == "novel"
        assert 0 <= b["novel_exact"] <= 1
    # the system figures: each brain alone and the system on at most 2 records per value form (the
    # tiny corpus may hold only one test record of a form), and the
    # answer path's forms measured on the test split, stored with the run
    sysrep = acc["system"]
    assert set(sysrep["formats"]) == {"hlxl", "hlx", "lc_t", "lc_b", "lc_r"}
    shape = {f: (d["system"]["n"], sorted(d)) for f, d in sysrep["formats"].items()}
    assert all(1 <= n <= 2 and set(keys) >= {"coordinator", "ascii", "runic", "system"}
               for n, keys in shape.values()), shape
    forms = json.loads((run / "answer_forms.json").read_text())["forms"]
    assert set(forms) == set(BRAINS) and sysrep["forms_from"].startswith("measured")
    summ = json.loads((run / "summary.json").read_text())
    assert len(summ["gate_answers"]) == len(gate_requests())
    prog = [g for g in summ["gate_answers"] if g["src_fmt"] == "hlxl_ls"]
    assert prog and all(g["expert"] == "core" and g["right"] for g in prog)  # exact, no model
    html = write_report(run).read_text()
    assert "accuracy.png" in html and "Gate requests answered" in html
    assert (run / "accuracy.png").stat().st_size > 5000


def test_helix_ask_command_line(run):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    r = subprocess.run([sys.executable, "-m", "helix", "ask", "Represent true", "--to", "lc_t", "--run", str(run),
                        "--json", "--max-new-tokens", "32"], capture_output=True, text=True, timeout=120, env=env)
    a = json.loads(r.stdout)
    assert a["route"]["expert"] == "ascii" and r.returncode == (0 if a["ok"] else 1)
    if a["ok"]:
        hlx.decode(a["text"], "lc_t")
