"""`helix ask` logic with scripted brains: validity, constrained retry, route cross-check, --check,
batching, direct conversion; plus the CLI's output and exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

hlx = pytest.importorskip("helix.hlx")

from helix.system import ask as ask_mod  # noqa: E402
from helix.system.ask import System, constraint, describe  # noqa: E402
from test_system_support import STORE_42_LCB, ScriptedBrain, scripted_system as system  # noqa: E402


def test_valid_answer_with_learned_route_agreeing():
    s = system()
    a = s.ask("Represent true in runic")
    assert a.ok and a.valid and a.text == "⊤" and not a.constrained
    assert (a.route.expert, a.model_route, a.route_agrees) == ("runic", "runic", True)
    # the coordinator was asked for its route tag only (one token)
    assert s.brain("coordinator").calls[-1]["max_new_tokens"] == 1
    assert any(ln.startswith("validity: valid") for ln in describe(a))


def test_invalid_answer_is_retried_with_constrained_decoding():
    runic = ScriptedBrain("runic", {("Represent true", "lc_r"): "⊤⊤"}, constrained={("Represent true", "lc_r"): "⊤"})
    a = system(runic=runic).ask("Represent true", to="lc_r", raw=True)
    assert a.ok and a.text == "⊤" and a.constrained and a.first_attempt == "⊤⊤" and a.error is None
    assert [c["constrained"] for c in runic.calls] == [False, True]
    assert a.status == "valid (after constrained retry)"


def test_an_answer_that_never_parses_is_not_shown_as_good():
    class Stuck(ScriptedBrain):  # the constrained decoder stopped without completing a text
        def generate(self, requests, *, constraint=None, **kw):
            from helix.ml.generate import Generation

            self.calls.append(constraint is not None)
            return [Generation("[ARR_START, INT(1)" if constraint else "[ARR_START, INT(1", None, [], False)
                    for _ in requests]

    s = system(ascii=Stuck("ascii", {}))
    a = s.ask("Create array [1,2]", to="lc_t", raw=True)
    assert not a.ok and a.text is None and a.valid is False and a.constrained
    assert a.error["code"].startswith("E_") and a.first_attempt == "[ARR_START, INT(1"
    lines = "\n".join(describe(a))
    assert "invalid" in lines and "error:" in lines


def test_route_disagreement_is_reported_and_the_rule_wins():
    coord = ScriptedBrain("coordinator", {}, route="runic")
    a = system(coordinator=coord).ask("Represent true", to="lc_t")
    assert a.ok and a.text == "[TRUE]" and a.route.expert == "ascii"
    assert a.model_route == "runic" and a.route_agrees is False
    assert any("route disagreement" in n for n in a.notes)


def test_check_asks_the_other_specialist_and_compares_values():
    a = system().ask("Represent true", to="lc_t", check=True)
    assert a.check["agree"] is True and a.check["answers"]["runic"]["text"] == "⊤"
    wrong = ScriptedBrain("runic", {("Represent true", "lc_r"): "⊥"})
    a = system(runic=wrong).ask("Represent true", to="lc_t", check=True)
    assert a.check["agree"] is False and a.check["answers"]["runic"]["agree"] is False
    a = system().ask("Represent true", to="hlxl", check=True)  # coordinator: both specialists
    assert set(a.check["answers"]) == {"ascii", "runic"} and a.check["agree"] is True


def test_hlx_to_hlx_uses_no_model():
    class Boom:
        brain = "x"

        def generate(self, *a, **k):
            raise AssertionError("no model may run for an HLX -> HLX request")

    s = System(None, brains={"coordinator": Boom(), "ascii": Boom(), "runic": Boom()})
    a = s.ask("[ARR_START, INT(1), INT(2), ARR_END]", to="lc_r")
    assert a.ok and a.text == "🜃1, 2🜄" and a.route.direct and a.model_route is None
    bad = s.ask("[ARR_START, INT(1)", to="hlx")  # not HLX at all: English, goes to a model...
    assert bad.route.src_fmt == "english"


def test_batched_requests_share_one_generation_per_expert():
    s = system()
    reqs = [("Represent true", "lc_t"), ("Store number 42", "lc_b"), ("Represent true", "lc_r"), ("[TRUE]", "hlx")]
    answers = s.ask_many(reqs, raw=True)
    assert [a.text for a in answers] == ["[TRUE]", STORE_42_LCB, "⊤", "True"]
    ascii_calls = [c for c in s.brain("ascii").calls if not c["constrained"]]
    assert len(ascii_calls) == 1 and len(ascii_calls[0]["requests"]) == 2
    # the system path: every candidate a brain gives is one constrained batch
    s = system(coordinator=ScriptedBrain("coordinator", {("Represent true", "hlx"): "True",
                                                         ("Store number 42", "hlx"): '{14: {"@0": 42}}'}),
               ascii=ScriptedBrain("ascii", {("Represent true", "lc_t"): "[TRUE]", ("Store number 42", "lc_b"): STORE_42_LCB,
                                             ("Store number 42", "lc_t"): "[OBJ_START, KEY(14), OBJ_START, FIELD_0, "
                                                                          "INT(42), OBJ_END, OBJ_END]"}),
               runic=ScriptedBrain("runic", {("Represent true", "lc_r"): "⊤", ("Store number 42", "lc_r"): "🜊14🜁0 42🜂"}))
    answers = s.ask_many(reqs)
    assert [a.text for a in answers] == ["[TRUE]", STORE_42_LCB, "⊤", "True"]
    assert [a.path for a in answers] == ["system", "system", "system", "core"]
    for b in ("coordinator", "ascii", "runic"):
        calls = [c for c in s.brain(b).calls if c["max_new_tokens"] > 1]
        assert len(calls) == 1 and calls[0]["constrained"], b
    # ascii: LC-T and LC-B routed, plus LC-T for the other requests, each distinct request once
    assert [r[1:] for r in [c for c in s.brain("ascii").calls if c["max_new_tokens"] > 1][0]["requests"]] == [
        ("Represent true", "lc_t"), ("Store number 42", "lc_b"), ("Store number 42", "lc_t")]


def test_english_target_is_unchecked_but_shown():
    a = system().ask("True", to="english")
    assert a.ok and a.text == "Represent true" and a.valid is None
    assert a.status.startswith("unchecked")


def test_missing_brain_is_an_error_not_a_crash():
    s = System(None, brains={})
    a = s.ask("Represent true", to="lc_r")
    assert not a.ok and a.error["code"] == "E_NO_MODEL"


def test_constraint_function(monkeypatch):
    assert constraint("lc_r", "🜃1") == (True, False)
    assert constraint("lc_r", "🜃1, 2🜄") == (True, True)
    assert constraint("lc_t", "[FOO") == (False, False)
    assert constraint("lc_b", "[0x01") == (True, False)
    assert constraint("lc_b", "[0x012a]") == (True, True)
    assert constraint("english", "anything") == (True, True)
    # one constraint for `helix ask` (both paths) and `helix eval --system`
    from helix.ml import hlxcheck

    assert constraint is hlxcheck.prefix_constraint
    # a checker that raises never passes a prefix as valid
    import helix.hlx

    def boom(text, fmt):
        raise RuntimeError("checker bug")

    monkeypatch.setattr(helix.hlx, "is_valid_prefix", boom)
    assert constraint("lc_r", "🜃1") == (False, False)


def test_cli_ask_prints_answers_and_fails_on_invalid(monkeypatch, tmp_path):
    from helix.cli import app

    monkeypatch.chdir(tmp_path)
    good = system()
    monkeypatch.setattr(ask_mod, "get_system", lambda run, device="cpu": good)
    run = tmp_path / "runs" / "20260101T000000Z" / "ascii"
    run.mkdir(parents=True)
    (run / "status.json").write_text("{}")
    r = CliRunner().invoke(app, ["ask", "Represent true in runic"])
    assert r.exit_code == 0 and r.stdout.strip() == "⊤"
    r = CliRunner().invoke(app, ["ask", "Represent true", "--to", "lc_t", "--explain", "--check"])
    assert r.exit_code == 0 and "[TRUE]" in r.stdout and "ascii brain" in r.stdout and "agree:    True" in r.stdout
    r = CliRunner().invoke(app, ["ask", "Represent true", "--to", "lc_r", "--json"])
    assert json.loads(r.stdout)["text"] == "⊤"
    r = CliRunner().invoke(app, ["ask", "Represent true", "--to", "klingon"])
    assert r.exit_code == 2 and "unknown target format" in r.output
    bad = system(runic=ScriptedBrain("runic", {("Represent true", "lc_r"): "⊤⊤"},
                                     constrained={("Represent true", "lc_r"): "🜃"}))
    bad.brain("runic").generate = _unfinished(bad.brain("runic").generate)
    monkeypatch.setattr(ask_mod, "get_system", lambda run, device="cpu": bad)
    r = CliRunner().invoke(app, ["ask", "Represent true", "--to", "lc_r", "--raw"])
    assert r.exit_code == 1 and r.stdout == "" and "no valid answer" in r.stderr
    # through the system, the ascii brain's LC-T gives the value and the core renders it in LC-R
    r = CliRunner().invoke(app, ["ask", "Represent true", "--to", "lc_r", "--explain"])
    assert r.exit_code == 0 and r.stdout.splitlines()[0] == "⊤", r.output
    assert "the system path, 3 candidates" in r.stdout and "vote *" in r.stdout and "<- routed" in r.stdout


def _unfinished(gen):
    from helix.ml.generate import Generation

    def wrapped(requests, *, constraint=None, **kw):
        if constraint is None:
            return gen(requests, **kw)
        return [Generation("🜃", None, [], False) for _ in requests]  # ran out before completing

    return wrapped


def test_cli_batch_jsonl(monkeypatch, tmp_path):
    from helix.cli import app

    monkeypatch.chdir(tmp_path)
    s = system()
    monkeypatch.setattr(ask_mod, "get_system", lambda run, device="cpu": s)
    (tmp_path / "runs" / "r1" / "ascii").mkdir(parents=True)
    (tmp_path / "runs" / "r1" / "ascii" / "status.json").write_text("{}")
    stdin = "\n".join([
        json.dumps({"id": "a", "text": "Represent true", "to": "lc_t"}),
        "not json",
        json.dumps({"text": "Represent true", "to": "klingon"}),
        json.dumps("Represent true in runic"),
        "",
    ])
    r = CliRunner().invoke(app, ["ask", "--batch"], input=stdin)
    assert r.exit_code == 0, r.output
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(out) == 4
    assert out[0]["id"] == "a" and out[0]["text"] == "[TRUE]" and out[0]["ok"]
    assert out[1]["error"]["code"] == "E_REQUEST"
    assert out[2]["error"]["code"] == "E_ROUTE"
    assert out[3]["text"] == "⊤"


def test_one_bad_request_does_not_sink_the_batch():
    class Picky(ScriptedBrain):
        def generate(self, requests, **kw):
            if any(len(src) > 50 for _, src, _ in requests):
                raise ValueError("request 0: source too long")
            return super().generate(requests, **kw)

    s = system(ascii=Picky("ascii", {("Represent true", "lc_t"): "[TRUE]"}))
    a, b = s.ask_many([("Represent true", "lc_t"), ("x" * 60, "lc_t")])
    assert a.ok and a.text == "[TRUE]"
    assert not b.ok and b.error["code"] == "E_MODEL" and "too long" in b.error["message"]
