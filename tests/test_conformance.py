"""Conformance: every vector reproduces byte for byte in every form; every error case raises its code.

The vectors live in tests/data (a copy of shared/conformance); when ../shared is present the copy
is checked against it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from helix.hlx.convert import convert, decode, encode
from helix.hlx import hlxform, hlxl, lcb, lcr, lct
from helix.hlx.errors import HLXError
from helix.hlx.store import handle_for
from helix.hlx.lcb import values_equal
from helix.hlx.value import is_handle, type_tag

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
SHARED = REPO.parent / "shared" / "conformance"
FORMS = ("hlxl", "hlx", "lc_t", "lc_b", "lc_r")


def _load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


VECTORS = _load(DATA / "vectors.jsonl")
ERRORS = _load(DATA / "errors.jsonl")


def test_data_files_present_and_nonempty():
    assert len(VECTORS) >= 50 and len(ERRORS) >= 30
    assert {"name", "handle", *FORMS} <= set(VECTORS[0])


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared not present")
@pytest.mark.parametrize("name", ["vectors.jsonl", "errors.jsonl"])
def test_copy_matches_shared(name):
    assert (DATA / name).read_bytes() == (SHARED / name).read_bytes()


@pytest.mark.parametrize("vec", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_encodes_byte_for_byte(vec):
    value = hlxform.loads(vec["hlx"])
    for fmt in FORMS:
        assert encode(value, fmt) == vec[fmt], fmt
    # the module-level printers agree with the dispatcher
    assert lct.dumps(value) == vec["lc_t"]
    assert lcr.dumps(value) == vec["lc_r"]
    assert hlxform.dumps(value) == vec["hlx"]
    assert hlxl.dumps(value) == vec["hlxl"]
    assert lcb.dumps(value) == bytes.fromhex(vec["lc_b"][3:-1])


@pytest.mark.parametrize("vec", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_decodes_to_the_same_value_in_every_form(vec):
    ref = lcb.loads_text(vec["lc_b"])
    for fmt in FORMS:
        got = decode(vec[fmt], fmt)
        assert values_equal(got, ref), fmt
        # and the decoded value is already canonical: re-encoding gives the vector back
        assert encode(got, fmt) == vec[fmt]


@pytest.mark.parametrize("vec", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_converts_between_every_pair(vec):
    for src in FORMS:
        for dst in FORMS:
            assert convert(vec[src], src, dst) == vec[dst], (src, dst)


@pytest.mark.parametrize("vec", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_handle(vec):
    value = lcb.loads_text(vec["lc_b"])
    assert handle_for(value) == vec["handle"]
    if is_handle(value):  # INV-002: collapsing a handle returns it
        assert vec["handle"] == value
    else:  # independent recomputation: BLAKE2b-256 of the LC-B bytes, tagged by type
        digest = hashlib.blake2b(lcb.dumps(value), digest_size=32).hexdigest()
        assert vec["handle"] == f"&h_{type_tag(value)}_{digest}"


@pytest.mark.parametrize("case", ERRORS, ids=[f"{e['form']}:{e['input'][:30]}" for e in ERRORS])
def test_error_case_raises_its_code(case):
    with pytest.raises(HLXError) as ei:
        decode(case["input"], case["form"])
    assert ei.value.code == case["code"]
    # every text-form error has a position
    assert ei.value.offset is not None or ei.value.line is not None


def test_error_cases_cover_every_value_form():
    assert {e["form"] for e in ERRORS} == set(FORMS)
