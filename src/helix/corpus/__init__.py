"""The corpus builder: verified, reproducible training corpora for the three brains.

Public API::

    build_corpus(out, seed=1234, size=22000) -> manifest dict
    verify_corpus(dir) -> list[str]            (problems; empty = verifies)
    corpus_stats(dir) -> dict
    parse_english(sentence) -> value | None    (the value a request means)
    parse_english_all(sentence) -> [(family id, value), ...]
    describe(value) -> str | None              (the canonical English of a value)
    parse_program_english(sentence) -> HLXL-LS text | None
    describe_program(text, fmt="hlxl_ls") -> str | None
    GATE_REQUESTS, GATE_PROGRAMS               (pinned to train in every corpus)

Layout: ``numbers`` (number words), ``lexicon`` (nouns and values), ``grammar`` (template
engine), ``slots``/``families`` (every English ↔ value convention), ``programs`` (program
requests), ``english`` (parse/describe over all families), ``splits`` (train/val/test and the
hold-outs), ``mixes`` (target-format mixes), ``build``, ``verify``, ``stats``, ``markdown``,
``examples`` (coverage of the public example pairs).
"""

from __future__ import annotations

from helix.corpus.build import DEFAULT_SEED, DEFAULT_SIZE, GENERATOR_VERSION, CorpusError, build_corpus
from helix.corpus.english import describe, parse_english, parse_english_all
from helix.corpus.programs import describe_program, parse_program_english
from helix.corpus.splits import GATE_PROGRAMS, GATE_REQUESTS
from helix.corpus.stats import corpus_stats
from helix.corpus.verify import verify_corpus

__all__ = [
    "CorpusError", "DEFAULT_SEED", "DEFAULT_SIZE", "GATE_PROGRAMS", "GATE_REQUESTS",
    "GENERATOR_VERSION", "build_corpus", "corpus_stats", "describe", "describe_program",
    "parse_english", "parse_english_all", "parse_program_english", "verify_corpus",
]
