"""The contract registry and validator (spec §10)."""

from __future__ import annotations

import pytest

from helix.hlx import contracts
from helix.hlx.contracts import REGISTRY, field_index, field_names, validate
from helix.hlx.errors import HLXError


def test_registry_matches_spec_table():
    assert field_names(902) == ("pipeline_id", "stages", "sync_barriers", "output_image")
    assert field_names(901) == ("kernel_name", "shader_handle", "workgroup_size",
                                "shared_memory_bytes", "push_constants_layout")
    assert field_names(900) == ("shader_name", "spirv_binary", "entry_point", "stage")
    assert field_names(1) == ("kind", "payload", "meta")
    for cid in (800, 801):
        assert field_names(cid) == ("spec_ref", "input_axioms", "output_impl")
    assert field_names(802) == ("spec_ref", "hash_algorithm", "output_impl")
    assert field_names(803) == ("spec_ref", "operations", "output_impl")
    assert field_names(106) == ("cond", "then", "else")
    named = {cid for cid, c in REGISTRY.items() if c.form == "named"}
    assert named == {1, 800, 801, 802, 803, 900, 901, 902}
    literal_types = {cid: c.literal_type for cid, c in REGISTRY.items() if c.literal_type}
    assert literal_types == {14: "int", 15: "float", 16: "text", 17: "bytes", 18: "array",
                             19: "object", 20: "handle", 21: "null", 22: "bool"}
    assert REGISTRY[1000].name == "Operation" and REGISTRY[1000].form == "literal"
    assert set(range(100, 108)) <= set(REGISTRY)
    with pytest.raises(TypeError):
        REGISTRY[5] = None  # read-only


def test_field_index_and_errors():
    assert field_index(902, "stages") == 1
    assert field_index(901, "push_constants_layout") == 4
    with pytest.raises(HLXError) as e:
        field_index(902, "bogus")
    assert e.value.code == "E_CONTRACT_FIELD"
    with pytest.raises(HLXError) as e:
        field_names(77)
    assert e.value.code == "E_INVALID_CONTRACT_ID"
    assert contracts.field_name(902, 3) == "output_image"
    assert contracts.field_name(902, 4) is None
    assert contracts.named_form(902) and not contracts.named_form(14)


@pytest.mark.parametrize("value", [
    {14: {"@0": 42}}, {15: {"@0": 0.5}}, {16: {"@0": "x"}}, {17: {"@0": b""}},
    {18: {"@0": []}}, {19: {"@0": {"a": 1}}}, {20: {"@0": "&h_x"}}, {21: {"@0": None}},
    {22: {"@0": False}},
    {901: {"@2": [256, 1, 1]}}, {901: {"@0": "k"}},
    {900: {"@3": "vertex"}}, {900: {"@3": "compute"}}, {900: {"@0": "only name"}},
    {4242: {"@0": 1, "@7": "x"}}, {902: {"@0": "x", "@9": 1}}, {803: {}},
    [{"a": {14: {"@0": 1}}}],
])
def test_valid_values_pass(value):
    validate(value)


@pytest.mark.parametrize("value, path", [
    ({14: {"@0": "42"}}, "$.14.@0"),
    ({14: {"@0": True}}, "$.14.@0"),  # a bool is not an int
    ({15: {"@0": 1}}, "$.15.@0"),
    ({16: {"@0": "&h_x"}}, "$.16.@0"),  # a handle is not a text
    ({20: {"@0": "text"}}, "$.20.@0"),
    ({22: {"@0": 0}}, "$.22.@0"),
    ({14: {}}, "$.14"),
    ({14: {"@0": 1, "@1": 2}}, "$.14.@1"),
    ({901: {"@2": [256, 1]}}, "$.901.@2"),
    ({901: {"@2": [256, 0, 1]}}, "$.901.@2[1]"),
    ({901: {"@2": [256, 1, -4]}}, "$.901.@2[2]"),
    ({901: {"@2": [256, 1.0, 1]}}, "$.901.@2[1]"),
    ({901: {"@2": [True, 1, 1]}}, "$.901.@2[0]"),
    ({900: {"@3": "geometry"}}, "$.900.@3"),
    ({900: {"@3": 3}}, "$.900.@3"),
    ({1000: {"@0": "pipeline", "@1": [{1000: {"@0": "x"}}, {14: {"@0": None}}]}},
     "$.1000.@1[1].14.@0"),
    ({"cfg": [{901: {"@2": [1, 2, 0]}}]}, "$.cfg[0].901.@2[2]"),
])
def test_invalid_values_report_path(value, path):
    with pytest.raises(HLXError) as e:
        validate(value)
    assert e.value.code == "E_CONTRACT_FIELD"
    assert e.value.path == path
    assert path in str(e.value)


def test_public_alias():
    import helix.hlx as hx

    assert hx.validate_contracts is validate
    assert hx.REGISTRY is REGISTRY
