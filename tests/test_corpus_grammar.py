"""The corpus grammar: number words, vocabulary size, English ↔ value consistency."""

from __future__ import annotations

import random

import pytest

from helix.corpus import describe, parse_english, parse_english_all
from helix.corpus import families as F
from helix.corpus import numbers
from helix.corpus.english import describe_family
from helix.corpus.grammar import freeze
from helix.corpus.lexicon import handle_name, vocabulary_size
from helix.corpus.programs import (PROGRAM_FAMILIES, describe_program, parse_program_english,
                                   parse_program_english_all, to_hlx_ls)
from helix.corpus.splits import GATE_PROGRAMS, GATE_REQUESTS
from helix.hlx import encode


def test_number_words_round_trip():
    for n in range(0, 1000):
        w = numbers.int_to_words(n)
        assert numbers.words_to_int(w) == n
        assert numbers.parse_int_surface(w) == n
        assert numbers.parse_int_surface(str(n)) == n
    assert numbers.int_to_words(42) == "forty-two"
    assert numbers.int_to_words(305) == "three hundred five"
    assert numbers.words_to_int("forty two") is None  # only the one spelling
    assert numbers.parse_int_surface("042") is None
    with pytest.raises(ValueError):
        numbers.int_to_words(1000)


def test_handle_names_are_camel_case():
    assert handle_name("test data") == "testData"
    assert handle_name("AST") == "ast"
    assert handle_name("dataset A") == "datasetA"


def test_vocabulary_is_large_enough():
    verbs = F.verbs()
    assert len(verbs) >= 60, sorted(verbs)
    per_verb = F.phrasings_per_verb()
    thin = {v: n for v, n in per_verb.items() if n < 3}
    assert not thin, thin
    sizes = vocabulary_size()
    nouns_and_values = sum(sizes.values())
    assert nouns_and_values >= 200, sizes
    assert sizes["data"] >= 100


def test_gate_requests_read_as_their_values():
    for english, value in GATE_REQUESTS:
        readings = parse_english_all(english)
        assert len(readings) == 1, (english, readings)
        assert freeze(readings[0][1]) == freeze(value), english
    assert describe(True) == "Represent true"  # the coordinator's reverse gate
    assert F.BY_ID[describe_family([1, 2])].category == "array"
    assert F.BY_ID[describe_family(42)].category == "int"
    for program in GATE_PROGRAMS:
        d = describe_program(program)
        assert d is not None and parse_program_english(d) == program
    assert to_hlx_ls(GATE_PROGRAMS[0]) == "x = collapse(42)\n__result__ = resolve(x)"


@pytest.mark.parametrize("english,hlxl", [
    ("Number fifty-seven", "57"),
    ("Store number 42", "{14: {@0: 42}}"),
    ("Number 42", "42"),
    ("Create array {1,2}", "[1, 2]"),
    ("Create array {1, 2, 3}", "[1, 2, 3]"),
    ("Create array {1,2]", None),
    ("Represent everything", None),
    ("Create array [1, 2, 3]", "[1, 2, 3]"),
    ("Create array [4,5]", "[4, 5]"),
    ("Search logs for warning", '{1000: {@0: "search", @1: &h_logs, @2: "warning"}}'),
    ("Find budget in notes", '{1000: {@0: "search", @1: &h_notes, @2: "budget"}}'),
    ("Open notes.csv", '{1000: {@0: "read", @1: "notes.csv"}}'),
    ("Open settings", '{1000: {@0: "navigate", @1: &h_settings}}'),
    ("Open browser", '{1000: {@0: "open", @1: &h_browser}}'),
    ("Save orders to summary.md", '{1000: {@0: "write", @1: "summary.md", @2: &h_orders}}'),
    ("Write to cloud", '{1000: {@0: "write", @1: "cloud", @2: &h_data}}'),
    ("Store in cloud", '{1000: {@0: "write", @1: "cloud", @2: &h_value}}'),
    ("Limit orders to twelve", '{1000: {@0: "limit", @1: &h_orders, @2: 12}}'),
    ("Copy test data to destination", '{1000: {@0: "copy", @1: &h_testData, @2: &h_dest}}'),
    ("Negative number 7", "-7"),
    ("Get average of price", '{1000: {@0: "aggregate", @1: &h_average, @2: &h_price}}'),
    ("Convert users to set", '{1000: {@0: "to_set", @1: &h_users}}'),
    ("Convert users to uppercase", '{1000: {@0: "transform", @1: &h_users, @2: &h_uppercase}}'),
    ("Search logs for error, then limit results to 5",
     '{1000: {@0: "pipeline", @1: [{1000: {@0: "search", @1: &h_logs, @2: "error"}}, '
     '{1000: {@0: "limit", @1: &h_results, @2: 5}}]}}'),
])
def test_conventions(english, hlxl):
    readings = parse_english_all(english)
    if hlxl is None:
        assert readings == [], english
        return
    assert len(readings) == 1, (english, readings)
    assert encode(readings[0][1], "hlxl") == hlxl


def test_unknown_sentences_have_no_reading():
    assert parse_english_all("Frobnicate the widgets") == []
    assert parse_english("Number forty two") is None  # not our spelling of 42
    assert parse_english("Search for") is None


def test_every_family_round_trips_and_is_unambiguous():
    """Sampled sentences read exactly one way; every value's description reads back to it."""
    rng = random.Random(7)
    for fam in F.FAMILIES:
        for _ in range(25):
            english, value = fam.sample(rng)
            readings = parse_english_all(english)
            assert len(readings) == 1, (fam.fid, english, readings)
            assert freeze(readings[0][1]) == freeze(value), (fam.fid, english)
            assert not parse_program_english_all(english), english
            text = describe(value)
            assert text is not None, (fam.fid, value)
            back = parse_english_all(text)
            assert len(back) == 1 and freeze(back[0][1]) == freeze(value), (fam.fid, text)
            assert describe(readings[0][1]) == text  # one canonical sentence per value


def test_program_families_round_trip():
    rng = random.Random(3)
    for fam in PROGRAM_FAMILIES:
        for _ in range(15):
            english, program = fam.sample(rng)
            readings = parse_program_english_all(english)
            assert [p for _, p in readings] == [program], (fam.fid, english)
            assert parse_english_all(english) == [], english
            d = describe_program(program)
            assert d is not None and parse_program_english(d) == program
            assert describe_program(to_hlx_ls(program), "hlx_ls") == d


def test_every_family_is_drawn():
    from helix.corpus.mixes import ALL_CATEGORIES, CATEGORY_WEIGHTS

    cats = {f.category for f in F.FAMILIES}
    assert cats <= set(CATEGORY_WEIGHTS), cats - set(CATEGORY_WEIGHTS)
    assert set(CATEGORY_WEIGHTS) <= cats
    assert set(ALL_CATEGORIES) == cats | {"program", "reverse", "cross_form"}
