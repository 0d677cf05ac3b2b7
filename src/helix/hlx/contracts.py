"""The contract registry and the contract validator (spec §10).

``REGISTRY`` maps a contract id to a :class:`Contract`: its name, its field names in index order
(``field_names(902) == ("pipeline_id", "stages", "sync_barriers", "output_image")``, so
``pipeline_id`` is ``@0``), the form the HLXL printer uses for it (``"named"`` or ``"literal"``)
and, for the literal contracts 14 … 22, the type their ``@0`` must have.

:func:`validate` walks a value and checks every registered contract in it:

* literal contracts 14 … 22 hold exactly one field, ``@0``, of their type
  (14 int, 15 float, 16 text, 17 bytes, 18 array, 19 object, 20 handle, 21 null, 22 bool);
* 901 ComputeKernel ``workgroup_size`` (``@2``), when present, is three positive ints;
* 900 VulkanShader ``stage`` (``@3``), when present, is ``"vertex"``, ``"fragment"`` or
  ``"compute"``.

It raises ``E_CONTRACT_FIELD`` with the path of the offending value (``$.901.@2[1]``, the same
path notation ``value.normalize`` uses: ``.key`` for object keys and contract ids, ``[i]`` for
array items). Unregistered contract ids are plain values and pass. Fields beyond the registered
names (``{902: {"@9": 1}}``) are allowed. The readers never call the validator (every form must
keep reading every value the value model allows); callers that want the contract rules (quality
gates, the CLI) call it explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from helix.hlx.errors import HLXError
from helix.hlx.value import FIELD_RE, Value, type_tag

__all__ = [
    "Contract",
    "REGISTRY",
    "field_names",
    "field_index",
    "field_name",
    "named_form",
    "validate",
    "validate_contracts",
    "SHADER_STAGES",
]

SHADER_STAGES = ("vertex", "fragment", "compute")


@dataclass(frozen=True)
class Contract:
    """One registered contract."""

    id: int
    name: str
    fields: tuple[str, ...]  # field names, index order (``fields[i]`` names ``@i``)
    form: str  # HLXL printer form: "named" or "literal"
    literal_type: str | None = None  # 14…22: the type tag @0 must have
    description: str = ""


def _build() -> dict[int, Contract]:
    reg: dict[int, Contract] = {}

    def add(c: Contract) -> None:
        assert c.id not in reg
        reg[c.id] = c

    add(Contract(1, "CoreExpr", ("kind", "payload", "meta"), "named"))
    literal = [
        (14, "Int", "int"),
        (15, "Float", "float"),
        (16, "Text", "text"),
        (17, "Bytes", "bytes"),
        (18, "Array", "array"),
        (19, "Object", "object"),
        (20, "Handle", "handle"),
        (21, "Null", "null"),
        (22, "Bool", "bool"),
    ]
    for cid, name, typ in literal:
        add(Contract(cid, name, ("value",), "literal", literal_type=typ,
                     description=f"@0 = the {typ} literal"))
    positional = [
        (100, "Block", ("name", "stmts")),
        (101, "Expr", ("op", "lhs", "rhs")),
        (102, "VarRef", ("name",)),
        (103, "Assign", ("name", "value")),
        (104, "FnDef", ("name", "params", "body")),
        (105, "FnCall", ("name", "args")),
        (106, "Cond", ("cond", "then", "else")),
        (107, "Loop", ("cond", "body")),
    ]
    for cid, name, fields in positional:
        add(Contract(cid, name, fields, "literal", description="positional"))
    add(Contract(800, "LC_Binary_Parser", ("spec_ref", "input_axioms", "output_impl"), "named"))
    add(Contract(801, "LC_Text_Parser", ("spec_ref", "input_axioms", "output_impl"), "named"))
    add(Contract(802, "CAS_Store", ("spec_ref", "hash_algorithm", "output_impl"), "named"))
    add(Contract(803, "Operation_Engine", ("spec_ref", "operations", "output_impl"), "named"))
    add(Contract(900, "VulkanShader", ("shader_name", "spirv_binary", "entry_point", "stage"),
                 "named"))
    add(Contract(901, "ComputeKernel", ("kernel_name", "shader_handle", "workgroup_size",
                                        "shared_memory_bytes", "push_constants_layout"),
                 "named"))
    add(Contract(902, "PipelineConfig", ("pipeline_id", "stages", "sync_barriers",
                                         "output_image"), "named"))
    add(Contract(1000, "Operation", ("verb",), "literal",
                 description="@0 verb (text), @1… arguments"))
    return reg


REGISTRY: Mapping[int, Contract] = MappingProxyType(_build())

# For the HLXL printer and reader: contract id -> field names, only for the named-form contracts.
NAMED_FIELDS: Mapping[int, tuple[str, ...]] = MappingProxyType(
    {cid: c.fields for cid, c in REGISTRY.items() if c.form == "named"}
)
# contract id -> {field name: index}, for the named-form contracts.
NAMED_INDEX: Mapping[int, Mapping[str, int]] = MappingProxyType(
    {cid: MappingProxyType({n: i for i, n in enumerate(f)}) for cid, f in NAMED_FIELDS.items()}
)


def _get(cid: int) -> Contract:
    c = REGISTRY.get(cid)
    if c is None:
        raise HLXError("E_INVALID_CONTRACT_ID", f"contract {cid} is not in the registry")
    return c


def field_names(cid: int) -> tuple[str, ...]:
    """Field names of a registered contract, in index order (``E_INVALID_CONTRACT_ID`` if none)."""
    return _get(cid).fields


def field_index(cid: int, name: str) -> int:
    """Index of the field ``name`` of contract ``cid`` (``E_CONTRACT_FIELD`` if unknown)."""
    fields = _get(cid).fields
    try:
        return fields.index(name)
    except ValueError:
        raise HLXError(
            "E_CONTRACT_FIELD",
            f"contract {cid} ({REGISTRY[cid].name}) has no field {name!r}; "
            f"fields: {', '.join(fields)}",
        ) from None


def field_name(cid: int, index: int) -> str | None:
    """Registered name of field ``@index`` of contract ``cid``, or None."""
    c = REGISTRY.get(cid)
    if c is None or not 0 <= index < len(c.fields):
        return None
    return c.fields[index]


def named_form(cid: int) -> bool:
    """True when the HLXL printer may use ``contract N { ... }`` for contract ``cid``."""
    return cid in NAMED_FIELDS


# ---------------------------------------------------------------------------------- validation


def _type_of(v: Value) -> str:
    """The value's type tag, with every object (contracts too) as ``object``."""
    try:
        t = type_tag(v)
    except HLXError:
        return type(v).__name__
    return "object" if t.startswith("contract") else t


def _fail(path: str, message: str) -> HLXError:
    return HLXError("E_CONTRACT_FIELD", message, path=path)


def _check_contract(cid: int, body: dict, path: str) -> None:
    c = REGISTRY.get(cid)
    if c is None or not isinstance(body, dict):
        return
    if c.literal_type is not None:
        extra = [k for k in body if k != "@0"]
        if extra:
            raise _fail(f"{path}.{extra[0]}",
                        f"literal contract {cid} ({c.name}) holds only @0, found {extra[0]}")
        if "@0" not in body:
            raise _fail(path, f"literal contract {cid} ({c.name}) needs @0")
        got = _type_of(body["@0"])
        if got != c.literal_type:
            raise _fail(f"{path}.@0",
                        f"contract {cid} ({c.name}) @0 must be {c.literal_type}, got {got}")
    elif cid == 901 and "@2" in body:
        ws = body["@2"]
        p = f"{path}.@2"
        if not isinstance(ws, list) or len(ws) != 3:
            raise _fail(p, "901 workgroup_size must be an array of three positive ints")
        for i, x in enumerate(ws):
            if isinstance(x, bool) or not isinstance(x, int) or x <= 0:
                raise _fail(f"{p}[{i}]",
                            f"901 workgroup_size[{i}] must be a positive int, got {x!r}")
    elif cid == 900 and "@3" in body:
        st = body["@3"]
        if st not in SHADER_STAGES or not isinstance(st, str):
            raise _fail(f"{path}.@3",
                        f"900 stage must be one of {', '.join(SHADER_STAGES)}, got {st!r}")


def validate(value: Value, _path: str = "$") -> None:
    """Check every registered contract inside ``value``; raise ``E_CONTRACT_FIELD`` with a path."""
    stack = [(value, _path)]
    while stack:
        v, path = stack.pop()
        if isinstance(v, list):
            for i in range(len(v) - 1, -1, -1):
                stack.append((v[i], f"{path}[{i}]"))
        elif isinstance(v, dict):
            if len(v) == 1:
                (k, body), = v.items()
                if isinstance(k, int) and not isinstance(k, bool):
                    cpath = f"{path}.{k}"
                    _check_contract(k, body, cpath)
                    stack.append((body, cpath))
                    continue
            for k in reversed(list(v)):
                stack.append((v[k], f"{path}.{k}"))


validate_contracts = validate


def is_field_key(key: object) -> bool:
    return isinstance(key, str) and FIELD_RE.match(key) is not None
