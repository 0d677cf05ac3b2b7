"""The answer path (helix.system.answer) with scripted brains: the vote, the core's rendering,
no answer when nothing parses, the copy check as a rank, the measured choice of forms, the API."""

from __future__ import annotations

import json
import math

import pytest

hlx = pytest.importorskip("helix.hlx")

from helix.system import answer as ans  # noqa: E402
from helix.system.ask import System, describe  # noqa: E402
from test_system_support import ScriptedBrain  # noqa: E402

ARR_LCT = "[ARR_START, INT(1), INT(2), ARR_END]"
ARR_LCR = "🜃1, 2🜄"


class Weighted(ScriptedBrain):
    """A scripted brain whose answers carry a probability: {(src, fmt): (text, p)}."""

    def __init__(self, name, answers):
        super().__init__(name, {k: v[0] for k, v in answers.items()})
        self.p = {k: v[1] for k, v in answers.items()}

    def generate(self, requests, **kw):
        out = super().generate(requests, **kw)
        for (_, src, fmt), g in zip(requests, out):
            g.logprob = math.log(self.p.get((src, fmt), 1.0))
        return out


def scripted(coordinator=None, ascii=None, runic=None):
    return System(None, brains={"coordinator": Weighted("coordinator", coordinator or {}),
                                "ascii": Weighted("ascii", ascii or {}), "runic": Weighted("runic", runic or {})},
                  cross_check=False)


def test_a_wrong_routed_answer_loses_to_two_agreeing_right_ones():
    req = "Represent true"  # no literal to carry: the vote alone decides
    s = scripted(runic={(req, "lc_r"): ("⊥", 0.9)},  # routed, confident and wrong
                 ascii={(req, "lc_t"): ("[TRUE]", 0.6)},
                 coordinator={(req, "hlx"): ("True", 0.5)})
    a = s.ask(req, to="lc_r")
    assert a.ok and a.path == "system" and a.text == "⊤" and a.raw_text == "⊥"
    assert [v["text"] for v in a.vote["votes"]] == ["⊤", "⊥"]
    assert a.vote["votes"][0]["score"] == pytest.approx(1.1) and a.vote["votes"][1]["score"] == pytest.approx(0.9)
    assert any("the vote chose another value" in n for n in a.notes)
    # the routed expert alone (--raw) gives its own answer
    assert s.ask(req, to="lc_r", raw=True).text == "⊥"
    # a confident routed answer beats one weaker dissenter (the coordinator gives nothing that parses)
    s = scripted(runic={(req, "lc_r"): ("⊥", 0.9)}, ascii={(req, "lc_t"): ("[TRUE]", 0.6)})
    a = s.ask(req, to="lc_r")
    assert a.text == "⊥" and not a.candidates[1]["valid"]


def test_lcb_is_rendered_from_an_lct_candidate_byte_for_byte():
    req = "Create array [1,2]"
    s = scripted(ascii={(req, "lc_b"): ("[0x0102", 0.99), (req, "lc_t"): (ARR_LCT, 0.8)})
    a = s.ask(req, to="lc_b")
    assert a.ok and a.text == hlx.convert(ARR_LCT, "lc_t", "lc_b")
    assert a.candidates[0]["routed"] and not a.candidates[0]["valid"]
    assert any("does not parse" in n for n in a.notes)


def test_every_candidate_invalid_is_a_clear_no_answer():
    req = "Create array [1,2]"
    s = scripted(runic={(req, "lc_r"): ("🜃1, 2", 0.9)}, ascii={(req, "lc_t"): ("[ARR_START, INT(1)", 0.9)},
                 coordinator={(req, "hlx"): ("[1, 2", 0.9)})
    # a scripted decoder that stops unfinished (what the constraint does when it runs out)
    for b in s._brains.values():
        b.constrained = {}
        orig = b.generate

        def gen(requests, _orig=orig, **kw):
            kw.pop("constraint", None)
            out = _orig(requests, **kw)
            for g in out:
                g.finished = False
            return out
        b.generate = gen
    a = s.ask(req, to="lc_r")
    assert not a.ok and a.text is None and a.valid is False
    assert a.vote["votes"] == [] and len(a.vote["reasons"]) == 3
    assert "no candidate parses" in a.error["message"] and "runic in lc_r" in a.error["message"]
    text = "\n".join(describe(a))
    assert "no candidate parses: coordinator in hlx: E_UNFINISHED" in text


def test_a_candidate_that_carries_the_literals_wins():
    req = "Navigate to /opt/app/config"
    right = '🜊1000🜁0 "navigate"🜁1 "/opt/app/config"🜂'
    s = scripted(runic={(req, "lc_r"): ('🜊1000🜁0 "navigate"🜁1 "/ot"🜂', 0.95)},  # swapped, confident
                 ascii={(req, "lc_t"): (hlx.convert(right, "lc_r", "lc_t"), 0.3)})
    a = s.ask(req, to="lc_r")
    assert a.text == right and a.copy["ok"]
    assert [v["copies"] for v in a.vote["votes"]] == [True, False]
    lines = "\n".join(describe(a))
    assert "vote * score 0.300 from [2]; carries the request's literals" in lines
    assert "MISSING a literal" in lines


def test_forms_are_chosen_from_measured_accuracy_and_stored_with_the_run(tmp_path):
    reports = {"coordinator": {"formats": {"hlx": {"exact_match": 0.95}, "hlxl": {"exact_match": 0.955},
                                           "lc_b": {"exact_match": 0.5}, "english": {"exact_match": 0.99}}},
               "ascii": {"formats": {"lc_t": {"exact_match": 0.93}, "lc_b": {"exact_match": 0.66}}},
               "runic": {"formats": {"lc_r": {"exact_match": 0.92}}}}
    assert ans.choose_forms(reports) == {"coordinator": ["hlxl", "hlx"], "ascii": ["lc_t"], "runic": ["lc_r"]}
    ans.write_answer_forms(tmp_path, reports)
    forms, where = ans.answer_forms(tmp_path)
    assert forms == {"coordinator": ("hlxl", "hlx"), "ascii": ("lc_t",), "runic": ("lc_r",)}
    assert "measured" in where
    assert json.loads((tmp_path / ans.FORMS_FILE).read_text())["test_exact_match"]["ascii"]["lc_b"] == 0.66
    s = System(tmp_path, brains={})
    assert s.answer_forms == forms
    assert [(c.brain, c.fmt) for c in ans.plan("lc_b", forms)] == [
        ("ascii", "lc_b"), ("coordinator", "hlxl"), ("coordinator", "hlx"), ("ascii", "lc_t"), ("runic", "lc_r")]
    assert ans.answer_forms(tmp_path / "nothing")[0] == ans.DEFAULT_FORMS


def test_the_api_response_holds_the_explanation():
    from fastapi.testclient import TestClient

    from helix.system.server import asgi_app

    req = "Create array [1,2]"
    s = scripted(runic={(req, "lc_r"): (ARR_LCR, 0.7)}, ascii={(req, "lc_t"): (ARR_LCT, 0.6)})
    c = TestClient(asgi_app(s), base_url="http://127.0.0.1")
    d = c.post("/ask", json={"text": req, "to": "lc_r"}).json()
    assert d["text"] == ARR_LCR and d["path"] == "system"
    assert [(x["brain"], x["fmt"], x["routed"]) for x in d["candidates"]][:2] == [("runic", "lc_r", True),
                                                                                  ("coordinator", "hlx", False)]
    assert d["vote"]["votes"][0]["candidates"] == [0, 2] and d["vote"]["chosen"] == 0
    d = c.post("/ask", json={"text": req, "to": "lc_r", "raw": True}).json()
    assert d["path"] == "raw" and d["candidates"] is None


def test_eval_system_reports_each_brain_alone_and_the_system(tmp_path):
    from helix.system.syseval import evaluate_system, format_system_table

    lcb = hlx.convert(ARR_LCT, "lc_t", "lc_b")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps(p) for p in [
        {"english": "Create array [1,2]", "lc_b": lcb},
        {"english": "Represent true", "lc_b": hlx.convert("[TRUE]", "lc_t", "lc_b")}]) + "\n")
    s = scripted(ascii={("Create array [1,2]", "lc_b"): ("[0x0402", 0.9),  # LC-B wrong, LC-T right
                        ("Create array [1,2]", "lc_t"): (ARR_LCT, 0.9),
                        ("Represent true", "lc_b"): (hlx.convert("[TRUE]", "lc_t", "lc_b"), 0.9),
                        ("Represent true", "lc_t"): ("[TRUE]", 0.9)},
                 runic={("Create array [1,2]", "lc_b"): ("x", 1.0)})
    rep = evaluate_system(None, pairs=pairs, to="lc_b", system=s)
    f = rep["formats"]["lc_b"]
    assert f["routed"] == "ascii" and f["system"]["n"] == 2
    assert f["ascii"]["exact_match"] == 0.5 and f["runic"]["exact_match"] == 0.0
    assert f["system"]["exact_match"] == 1.0 and rep["english_source"]["system"]["exact_match"] == 1.0
    table = format_system_table(rep)
    assert "lc_b" in table and "50.0%*" in table and "100.0%" in table


def test_cli_eval_system(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from helix.cli import app
    from helix.system import ask as ask_mod

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"english": "Represent true", "lc_r": "⊤"}) + "\n")
    s = scripted(runic={("Represent true", "lc_r"): ("⊤", 0.9)}, ascii={("Represent true", "lc_t"): ("[TRUE]", 0.8)})
    monkeypatch.setattr(ask_mod, "get_system", lambda run, device="cpu": s)
    r = CliRunner().invoke(app, ["eval", str(tmp_path), "--system", "--pairs", str(pairs), "--to", "lc_r"])
    assert r.exit_code == 0, r.output
    assert "exact match, each brain alone and the system" in r.stdout and "semantic match" in r.stdout
    assert "100.0%*" in r.stdout
