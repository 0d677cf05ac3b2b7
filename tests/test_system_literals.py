"""The copy check: a request's literals (quoted text, paths, globs, names, identifiers, numbers)
must come through into the answer; a swapped word is flagged (issue 27)."""

from __future__ import annotations

import pytest

from helix.system.literals import copy_check, request_literals


@pytest.mark.parametrize("text, want", [
    ("Navigate to /opt/app/config", [("path", "/opt/app/config")]),
    ("Find files matching *.yaml", [("glob", "*.yaml")]),
    ("Get the value of retryCount", [("identifier", "retryCount")]),
    ("Set max_retries to 5", [("identifier", "max_retries"), ("number", "5")]),
    ('Text "good morning 7"', [("text", "good morning 7")]),
    ("Open config.yaml on api.example.com", [("name", "config.yaml"), ("name", "api.example.com")]),
    ("Create array [1,2]", [("number", "1"), ("number", "2")]),
    ("Decimal -3.25", [("number", "-3.25")]),
    ("Represent true", []),
    ("Mute the speaker", []),  # plain words carry no mark of a literal
    ("Copy ~/notes/todo.txt to ./backup/", [("path", "~/notes/todo.txt"), ("path", "./backup")]),
])
def test_request_literals(text, want):
    assert [(x.kind, x.text) for x in request_literals(text)] == want


def test_a_swapped_word_is_flagged_and_a_copied_one_is_not():
    req = "Navigate to /opt/app/config"
    bad = copy_check(req, '🜊1000🜁0 "navigate"🜁1 "/ot"🜂', "lc_r")
    assert not bad["ok"] and [m["text"] for m in bad["missing"]] == ["/opt/app/config"]
    good = copy_check(req, '🜊1000🜁0 "navigate"🜁1 "/opt/app/config"🜂', "lc_r")
    assert good["ok"] and good["literals"][0]["carried"]
    ident = copy_check("Get the value of retryCount", '🜊1000🜁0 "get"🜁1 ⟁value🜁2 9🜂', "lc_r")
    assert [m["text"] for m in ident["missing"]] == ["retryCount"]
    assert copy_check("Get the value of retryCount", '🜊1000🜁0 "get"🜁1 ⟁retryCount🜂', "lc_r")["ok"]  # a handle


def test_numbers_text_and_english_answers():
    assert copy_check("Store number 42", "🜊14🜁0 42🜂", "lc_r")["ok"]  # the contract id 14 is not the user's
    assert not copy_check("Store number 43", "🜊14🜁0 42🜂", "lc_r")["ok"]
    assert not copy_check('Text "good morning 7"', "[FLOAT(0.51)]", "lc_t")["ok"]
    assert copy_check('Text "good morning 7"', '[TEXT("good morning 7")]', "lc_t")["ok"]
    assert copy_check("Record with retryCount 3", '{"retryCount": 3}', "hlx")["ok"]  # a field name
    assert copy_check("Describe /tmp/x", "Navigate to /tmp/x", "english")["ok"]
    assert not copy_check("Navigate to /tmp/x", "not hlx at all", "lc_t")["ok"]  # unparsable carries nothing


def test_helix_ask_reports_the_copy_check(monkeypatch):
    from helix.system import ask as ask_mod
    from helix.system.ask import System, describe

    class FakeGen:
        def __init__(self, text):
            self.text, self.finished, self.route, self.tokens, self.logprob = text, True, None, [], 0.0

    class FakeBrain:
        def generate(self, reqs, max_new_tokens=256, constraint=None):
            return [FakeGen('🜊1000🜁0 "navigate"🜁1 "/ot"🜂') for _ in reqs]

    s = System(None, brains={"runic": FakeBrain(), "ascii": FakeBrain(), "coordinator": FakeBrain()},
               cross_check=False)
    a = s.ask("Navigate to /opt/app/config in runic")
    assert a.ok and a.copy and not a.copy["ok"]
    text = "\n".join(describe(a))
    assert "copy:     MISSING from the answer: path '/opt/app/config'" in text
    assert "does not carry the request's path '/opt/app/config'" in text
    assert a.to_dict()["copy"]["missing"][0]["kind"] == "path"
    assert ask_mod.Answer.__dataclass_fields__["copy"]
