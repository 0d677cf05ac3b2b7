"""Every English ↔ value convention the corpus teaches, grouped by category.

Families are registered in priority order: when a value can be described by several families,
the first registered one writes its canonical English (so describe() is a function of the value).

Chosen conventions where the public example pairs disagree (documented in docs/CORPUS.md):
* ``Open <file.ext>`` reads the file, ``Open <place>`` navigates, ``Open <app>`` opens it.
* ``Write to F`` / ``Save to F`` write ``&h_data``; ``Store in F`` writes ``&h_value``.
* ``Find <term> in <where>`` searches; ``Find <glob>`` finds files; ``Find <max|min..> <field>``
  aggregates. ``Search for <noun>`` searches the noun; ``Search for <glob>`` finds files.
* ``Compute/Calculate/Evaluate <quantity>`` → compute; with ``<fn> of/for <field>`` → aggregate.
* ``Convert X to <transformation>`` → transform; ``Convert X to <type>`` → ``to_<type>``.
* Nouns become handles named in lower camelCase (``dataset A`` → ``&h_datasetA``), except the
  one abbreviation ``destination`` → ``&h_dest``; file names, terms and paths are texts.
* Pipelines are ``{1000: {"@0": "pipeline", "@1": [op, op, ...]}}`` (spec vector), written
  ``A, then b, then c``.
"""

from __future__ import annotations

import random
from typing import Any

from helix.corpus import lexicon as L
from helix.corpus import openwords as OW
from helix.corpus import slots as SL
from helix.corpus.grammar import Family, GrammarFamily, Lex, S, contract, freeze, op, signature

# ------------------------------------------------------------------------------ slot kinds
D_CLOSED = Lex(L.DATA, name="data")
# open slots: their lexicon, or (half the draws) a word, path, glob or name no lexicon lists
D = OW.handles(D_CLOSED)
COND = Lex(L.CONDITIONS, name="conditions")
TRANS = Lex(L.TRANSFORMS, name="transforms")
PTYPE = Lex(L.PARSE_TYPES, name="parse_types")
AGG = Lex(L.AGGREGATES, name="aggregates")
FIELD = Lex(L.FIELDS, name="fields")
QTY = Lex(L.QUANTITIES, name="quantities")
PLACE = Lex(L.PLACES, name="places")
DIRECTION = Lex(L.DIRECTIONS, name="directions")
APP = Lex(L.APPS, name="apps")
TERM = OW.texts(Lex(L.TERMS, name="terms"), OW.WORD_RE, OW.word)
STORE_OR_FILE = OW.texts(Lex(L.STORES + L.FILES, name="stores"), OW.FILE_RE, OW.file_name)
FILE = OW.texts(Lex(L.FILES, name="files"), OW.FILE_RE, OW.file_name)
CKPT = Lex(L.CHECKPOINT_FILES, name="checkpoints")
GLOB = OW.texts(Lex(L.GLOBS, name="globs"), OW.GLOB_RE, OW.glob)
FKIND = Lex(L.FILE_KINDS, name="file_kinds")
PATH = OW.texts(Lex(L.PATHS, name="paths"), OW.PATH_RE, OW.path)
DIR = Lex(L.DIRS, name="dirs")
SEP = Lex(L.SEPARATORS, name="separators")
CONV = Lex(L.CONVERSIONS, name="conversions")
MODEL = Lex(L.MODELS, name="models")
DEVICE = Lex(L.DEVICES, name="devices")
SPEC = Lex(L.SPECS, name="specs")
CHECKABLE = Lex(L.VALIDATABLE, name="validatable")
TASK = Lex(L.TASKS, name="tasks")
FUNC = Lex(L.FUNCTIONS, name="functions")
ACC = Lex(L.ACCUMULATORS, name="accumulators")
WHICH = Lex(L.UNDO_WHICH, name="undo")
ZOOMDIR = Lex(L.ZOOM, name="zoom")
ENV = Lex(L.ENVIRONMENTS, name="environments")
PKG = Lex(L.PACKAGES, name="packages")
TOPIC = Lex(L.TOPICS, name="topics")
RECIP = Lex(L.RECIPIENTS, name="recipients")
KEY = Lex(L.KEYS, name="keys")
REPL = Lex(L.REPLACEABLES, name="replaceables")
EXPFMT = Lex(L.EXPORT_FORMATS, name="export_formats")
ORDER = Lex(L.SORT_ORDERS, name="orders")
SKEY = Lex(L.SLOT_KEYS, name="slot_keys")
LOOPV = Lex(L.LOOP_VERBS, name="loop_verbs")
ITEM = Lex(L.ITEM_WORDS, name="items")
PKIND = Lex(L.PIPELINE_KINDS, name="pipeline_kinds")
BOOL = Lex([(("true",), True), (("false",), False)], name="bool")
WORD = OW.texts(SL.word_slot(), OW.WORD_RE, OW.word)
NAME_LIST = SL.names_list_slot()
VAR = OW.texts(Lex(L.VARIABLES, name="variables"), OW.NAME_RE, OW.name)
FNAME = OW.texts(Lex(L.FUNCTION_NAMES, name="function_names"), OW.NAME_RE, OW.name)
HASHALG = Lex(L.HASH_ALGORITHMS, name="hash_algorithms")
SPECREF = Lex(L.SPEC_REFS, name="spec_refs")
IMPL = Lex(L.IMPLS, name="impls")
SHADER = Lex(L.SHADER_NAMES, name="shader_names")
KERNEL = Lex(L.KERNEL_NAMES, name="kernel_names")
STAGE = Lex(L.STAGES, name="stages")
ENTRY = Lex(L.ENTRY_POINTS, name="entry_points")
SHADER_H = Lex(L.SHADER_HANDLES, name="shader_handles")
STAGE_H = Lex(L.STAGE_HANDLES, name="stage_handles")
IMAGE_H = Lex(L.IMAGE_HANDLES, name="image_handles")
PIPE_ID = Lex(L.PIPELINE_IDS, name="pipeline_ids")
POW2 = Lex([((str(n),), n) for n in (1, 2, 4, 8, 16, 32, 64, 128, 256)], name="pow2")
HANDLE_NOUNS = OW.handles(Lex(sorted({s: (s, v) for s, v in L.DATA + L.nouns(
    "AST", "query", "model", "result", "tokenizer", "session", "request", "graph", "index",
    "matrix", "tensor", "weights", "gradient", "checkpoint")}.values()), name="handle_nouns"))
HANDLE_LIST = SL.lex_list_slot(D_CLOSED, 2, 3)
STMT_H = Lex(L.nouns("init", "load", "check", "loop", "save", "print", "cleanup", "step",
                     "parse", "emit"), name="statements")
BLOCK_NAME = Lex(L.texts("main", "init", "setup", "body", "loop", "cleanup", "handler",
                         "render", "update"), name="block_names")
LOOP_COND = Lex(L.nouns("condition", "running", "busy", "waiting", "not done", "has next"),
                name="loop_conditions")
LOOP_BODY = Lex(L.nouns("body", "step", "update", "poll", "tick", "retry"), name="loop_bodies")
BRANCH = Lex(L.nouns("action", "fallback", "retry", "report", "alert", "cleanup", "default",
                     "handler"), name="branches")
OPS_LIST = SL.lex_list_slot(Lex(L.texts("search", "filter", "transform", "aggregate", "read",
                                        "write", "sort", "limit"), name="op_names"), 1, 3)
AXIOM_LIST = SL.lex_list_slot(Lex(L.AXIOMS, name="axioms"), 1, 3)
STAGE_LIST = SL.lex_list_slot(STAGE_H, 1, 3)
STMT_LIST = SL.lex_list_slot(STMT_H, 1, 3)

N_SMALL = SL.int_slot(0, 1000)
N_POS = SL.int_slot(1, 1000)
N_BIG = SL.int_slot(0, 1_000_000)
N_LIT = SL.int_slot(-1000, 1_000_000)
FLOAT = SL.float_slot()
QUOTED = SL.quoted_text_slot(OW.quoted_text, OW.current_share)
HEX = SL.hex_slot()
LIST = SL.list_literal_slot()
NUMWORDS = SL.number_words_list_slot()
RECORD = SL.record_pairs_slot()
FIELDS = SL.fields_pairs_slot()
ASSIGNED = SL.assign_value_slot()
NEG = SL.negative_slot()

FAMILIES: list[Family] = []


def fam(fid: str, category: str, value: Any, phrasings: list[str], weight: float = 1.0,
        pinned: bool = False, distinct: tuple[str, ...] = (), **slots) -> GrammarFamily:
    f = GrammarFamily(fid, category, value, phrasings, slots, weight=weight, pinned=pinned,
                      distinct=distinct)
    FAMILIES.append(f)
    return f


# ====================================================================== primitives
fam("null", "null", S("n"), ["Represent {n}"], pinned=True,
    n=Lex([(("null", "nothing", "none"), None)], name="null_words"))
fam("null_adjective", "null", S("e"), ["{e} {thing}"], pinned=True,
    e=Lex([(("empty", "missing", "blank", "null", "no"), None)], name="empty_words"),
    thing=Lex(L.texts("value", "entry", "result", "field"), name="null_things"))
fam("bool", "boolean", S("b"), ["Represent {b}", "Boolean {b}", "Boolean value {b}",
                                "Truth value {b}"], b=BOOL, pinned=True)
fam("bool_switch", "boolean", S("b"), ["{b} {thing}"], pinned=True,
    b=Lex([(("enable",), True), (("disable",), False)], name="switch"),
    thing=Lex(L.texts("flag", "switch", "option", "setting"), name="things"))
fam("int", "int", S("n"), ["Number {n}", "Integer {n}", "The number {n}", "Integer value {n}"],
    n=N_BIG, weight=3)
fam("int_negative", "int", S("n"), ["Negative number {n}", "Minus {n}", "Negative integer {n}"],
    n=NEG)
fam("float", "float", S("f"), ["Float {f}", "Decimal {f}", "Decimal number {f}",
                               "Floating point {f}"], f=FLOAT, weight=2)
fam("fraction", "float", S("f"), ["Decimal {f}", "One {f}", "A {f} as decimal"],
    f=Lex(L.FRACTIONS, name="fractions"), pinned=True)
fam("constant", "float", S("c"), ["{c} constant", "Constant {c}", "The {c} constant"],
    c=Lex(L.CONSTANTS, name="constants"), pinned=True)
fam("text", "text", S("q"), ["Text {q}", "String {q}", "Store text {q}", "The text {q}"],
    q=QUOTED, weight=2)
fam("bytes", "bytes", S("h"), ["Bytes {h}", "Byte string {h}", "Raw bytes {h}"], h=HEX)
fam("bytes_empty", "bytes", b"", ["Empty bytes", "No bytes", "Empty byte string"], pinned=True)
fam("handle", "handle", S("d"), ["Reference to {d}", "Handle to {d}", "Refer to {d}",
                                 "Pointer to {d}"], d=HANDLE_NOUNS, weight=2)

# ====================================================================== arrays
fam("create_array", "array", S("l"), ["Create array {l}", "Make array {l}", "Array of {l}",
                                      "Build list {l}", "New array {l}"], l=LIST, weight=4)
fam("empty_array", "array", [], ["Empty array", "Empty list", "Create empty array"],
    pinned=True)
fam("number_list", "array", S("l"), ["List of numbers {l}", "Numbers {l}", "Sequence {l}"],
    l=NUMWORDS)
fam("name_list", "array", S("l"), ["List of names {l}", "Names {l}", "Array of names {l}"],
    l=NAME_LIST)
fam("handle_list", "array", S("l"), ["References to {l}", "Handles for {l}",
                                     "List of handles {l}"], l=HANDLE_LIST)

# ====================================================================== records, fields
fam("record", "record", S("r"), ["Record with {r}", "Object with {r}", "Create record with {r}",
                                 "Make object with {r}"], r=RECORD, weight=3)
fam("empty_record", "record", {}, ["Empty record", "Empty object", "Create empty record"],
    pinned=True)
fam("point", "record", {"x": S("x"), "y": S("y")},
    ["Point with x {x} and y {y}", "Point at {x}, {y}", "Coordinates {x} and {y}"],
    x=N_SMALL, y=N_SMALL)
fam("size", "record", {"height": S("h"), "width": S("w")},
    ["Size {w} by {h}", "Dimensions {w} by {h}", "Width {w} and height {h}"],
    w=N_POS, h=N_POS)
fam("fields", "fields", S("f"), ["Fields with {f}", "Fields object with {f}",
                                 "Positional fields {f}"], f=FIELDS)

# ====================================================================== literal contracts
LIT = "literal_contract"
# "Store number N" is the seed's request for the integer-literal contract (one value per request
# in every form), not a bare int.
fam("lit_int", LIT, contract(14, _0=S("n")), ["Integer literal {n}", "Int literal {n}",
                                              "Literal integer {n}", "Store number {n}"],
    n=N_LIT, weight=2)
fam("lit_float", LIT, contract(15, _0=S("f")), ["Float literal {f}", "Decimal literal {f}",
                                                "Literal float {f}"], f=FLOAT)
fam("lit_text", LIT, contract(16, _0=S("w")), ["Text literal {w}", "String literal {w}",
                                               "Literal text {w}"], w=WORD)
fam("lit_bytes", LIT, contract(17, _0=S("h")), ["Bytes literal {h}", "Literal bytes {h}",
                                                "Binary literal {h}"], h=HEX)
fam("lit_array", LIT, contract(18, _0=S("l")), ["Array literal {l}", "Literal array {l}",
                                                "List literal {l}"], l=LIST)
fam("lit_object", LIT, contract(19, _0=S("r")), ["Object literal with {r}",
                                                 "Literal object with {r}",
                                                 "Record literal with {r}"], r=RECORD)
fam("lit_handle", LIT, contract(20, _0=S("d")), ["Handle reference to {d}", "Handle literal {d}",
                                                 "Literal handle {d}"], d=HANDLE_NOUNS)
fam("lit_null", LIT, contract(21, _0=None), ["Null literal", "Literal null",
                                             "Null literal value"], pinned=True)
fam("lit_bool", LIT, contract(22, _0=S("b")), ["Boolean {b} literal", "Bool literal {b}",
                                               "Literal boolean {b}"], b=BOOL, pinned=True)

# ====================================================================== expression contracts
EXP = "expression_contract"
fam("block", EXP, contract(100, _0=S("name"), _1=S("stmts")),
    ["Block {name} with statements {stmts}", "Code block {name} running {stmts}",
     "Define block {name} with {stmts}"], name=BLOCK_NAME, stmts=STMT_LIST)
fam("expr_add", EXP, contract(101, _0="add", _1=S("a"), _2=S("b")),
    ["Add {a} plus {b}", "Add {a} and {b}", "Compute {a} plus {b}"], a=N_SMALL, b=N_SMALL)
fam("expr_subtract", EXP, contract(101, _0="subtract", _1=S("a"), _2=S("b")),
    ["Subtract {b} from {a}", "Compute {a} minus {b}", "Take {b} away from {a}"],
    a=N_SMALL, b=N_SMALL)
fam("expr_multiply", EXP, contract(101, _0="multiply", _1=S("a"), _2=S("b")),
    ["Multiply {a} times {b}", "Multiply {a} by {b}", "Compute {a} times {b}"],
    a=N_SMALL, b=N_SMALL)
fam("expr_divide", EXP, contract(101, _0="divide", _1=S("a"), _2=S("b")),
    ["Divide {a} by {b}", "Compute {a} divided by {b}", "Compute {a} over {b}"],
    a=N_SMALL, b=N_POS)
fam("varref", EXP, contract(102, _0=S("v")), ["Reference variable {v}", "Variable {v}",
                                              "Read variable {v}"], v=VAR)
fam("assign", EXP, contract(103, _0=S("v"), _1=S("x")),
    ["Assign {x} to {v}", "Set {v} to {x}", "Let {v} be {x}"], v=VAR, x=ASSIGNED, weight=2)
fam("fndef", EXP, contract(104, _0=S("f"), _1=[S("p")], _2="&h_impl"),
    ["Define function {f} with parameter {p}", "Declare function {f} taking {p}",
     "Function {f} of {p}"], f=FNAME, p=VAR)
fam("fndef2", EXP, contract(104, _0=S("f"), _1=[S("p"), S("q")], _2="&h_impl"),
    ["Define function {f} with parameters {p} and {q}", "Declare function {f} taking {p} and {q}",
     "Function {f} of {p} and {q}"], f=FNAME, p=VAR, q=VAR, distinct=("p", "q"))
fam("fncall", EXP, contract(105, _0=S("f"), _1=[S("a")]),
    ["Call function {f} with {a}", "Call {f} with {a}", "Invoke {f} on {a}"], f=FNAME, a=N_SMALL)
fam("fncall2", EXP, contract(105, _0=S("f"), _1=[S("a"), S("b")]),
    ["Call function {f} with {a} and {b}", "Call {f} with {a} and {b}",
     "Invoke {f} on {a} and {b}"], f=FNAME, a=N_SMALL, b=N_SMALL)
fam("cond", EXP, contract(106, _0=S("c"), _1=S("a"), _2=S("b")),
    ["If {c} then {a} else {b}", "When {c} do {a} otherwise {b}", "Choose {a} if {c} else {b}"],
    c=COND, a=BRANCH, b=BRANCH, distinct=("a", "b"))
fam("loop", EXP, contract(107, _0=S("c"), _1=S("b")),
    ["Loop while {c} do {b}", "Loop {b} while {c}", "Run loop of {b} while {c}"],
    c=LOOP_COND, b=LOOP_BODY)

# ====================================================================== system contracts
SYS = "system_contract"
for cid, names in ((800, ("Binary parser", "LC-B parser", "binary parser")),
                   (801, ("Text parser", "LC-T parser", "text parser"))):
    fam(f"sys{cid}", SYS, contract(cid, _0=S("spec"), _1=S("ax"), _2=S("impl")),
        [f"{names[0]} with spec {{spec}}, axioms {{ax}}, output {{impl}}",
         f"{names[1]} from {{spec}} with axioms {{ax}} into {{impl}}",
         f"Define {names[2]}: spec {{spec}}, axioms {{ax}}, impl {{impl}}"],
        spec=SPECREF, ax=AXIOM_LIST, impl=IMPL)
    fam(f"sys{cid}_short", SYS, contract(cid, _0=S("spec"), _2=S("impl")),
        [f"{names[0]} with spec {{spec}} and output {{impl}}",
         f"{names[1]} from {{spec}} into {{impl}}",
         f"Define {names[2]}: spec {{spec}}, impl {{impl}}"], spec=SPECREF, impl=IMPL)
fam("sys802", SYS, contract(802, _0=S("spec"), _1=S("alg"), _2=S("impl")),
    ["CAS store with spec {spec}, hash {alg}, output {impl}",
     "Content store from {spec} hashing with {alg} into {impl}",
     "Define CAS store: spec {spec}, hash {alg}, impl {impl}"],
    spec=SPECREF, alg=HASHALG, impl=IMPL)
fam("sys803", SYS, contract(803, _0=S("spec"), _1=S("ops"), _2=S("impl")),
    ["Operation engine with spec {spec}, operations {ops}, output {impl}",
     "Operation engine from {spec} supporting {ops} into {impl}",
     "Define operation engine: spec {spec}, operations {ops}, impl {impl}"],
    spec=SPECREF, ops=OPS_LIST, impl=IMPL)
fam("sys803_empty", SYS, {803: {}}, ["Empty operation engine", "Blank operation engine contract",
                                    "Operation engine with no fields"], pinned=True)

# ====================================================================== GPU contracts
GPU = "gpu_contract"
fam("shader", GPU, contract(900, _0=S("name"), _2=S("entry"), _3=S("stage")),
    ["Create {stage} shader {name} with entry {entry}",
     "Define {stage} shader {name} entering at {entry}",
     "Vulkan {stage} shader {name} with entry point {entry}"],
    stage=STAGE, name=SHADER, entry=ENTRY)
fam("shader_binary", GPU, contract(900, _0=S("name"), _1=S("bin"), _3=S("stage")),
    ["Load {stage} shader {name} from {bin}", "Create {stage} shader {name} from SPIR-V {bin}",
     "Shader {name} for {stage} stage from {bin}"], stage=STAGE, name=SHADER, bin=HEX)
fam("kernel", GPU, contract(901, _0=S("k"), _1="&h_shader"),
    ["Configure compute kernel {k}", "Set up compute kernel {k}", "Define compute kernel {k}"],
    k=KERNEL, pinned=True)
fam("kernel_shader", GPU, contract(901, _0=S("k"), _1=S("sh")),
    ["Configure compute kernel {k} with shader {sh}", "Set up compute kernel {k} using {sh}",
     "Define compute kernel {k} on shader {sh}"], k=KERNEL, sh=SHADER_H)
fam("kernel_workgroup", GPU, contract(901, _0=S("k"), _1=S("sh"), _2=[S("x"), S("y"), S("z")]),
    ["Configure compute kernel {k} with shader {sh} and workgroup {x} by {y} by {z}",
     "Set up compute kernel {k} using {sh} with workgroup size {x} by {y} by {z}",
     "Define compute kernel {k} on shader {sh} with {x} by {y} by {z} workgroups"],
    k=KERNEL, sh=SHADER_H, x=POW2, y=POW2, z=POW2)
fam("pipeline_kind", GPU, contract(902, _0=S("kind", 0), _1=S("kind", 1)),
    ["Create {kind} pipeline", "Set up {kind} pipeline", "Build {kind} pipeline"],
    kind=PKIND, pinned=True)
fam("pipeline_config", GPU, contract(902, _0=S("id"), _1=S("stages")),
    ["Create pipeline {id} with stages {stages}", "Define pipeline {id} running {stages}",
     "Pipeline {id} with stages {stages}"], id=PIPE_ID, stages=STAGE_LIST)
fam("pipeline_output", GPU, contract(902, _0=S("id"), _1=S("stages"), _3=S("img")),
    ["Create pipeline {id} with stages {stages} writing to {img}",
     "Define pipeline {id} running {stages} into {img}",
     "Pipeline {id} with stages {stages} and output {img}"],
    id=PIPE_ID, stages=STAGE_LIST, img=IMAGE_H)

# ====================================================================== operations (1000)
OPN = "operation"


def opf(fid: str, value: Any, phrasings: list[str], **kw) -> GrammarFamily:
    return fam(fid, OPN, value, phrasings, **kw)


opf("search2", op("search", S("where"), S("what")),
    ["Search {where} for {what}", "Find {what} in {where}", "Look for {what} in {where}",
     "Query {where} for {what}"], where=D, what=TERM, weight=3)
opf("search1", op("search", S("d")), ["Search for {d}", "Query the {d}", "Search the {d}"], d=D)
opf("filter", op("filter", S("d"), S("c")),
    ["Filter {d} where {c}", "Filter {c} {d}", "Keep only {c} {d}", "Select {c} {d}",
     "Select from {d} where {c}", "Keep items from {d} that match {c}", "Filter {d} by {c}"],
    d=D, c=COND, weight=3)
opf("transform", op("transform", S("d"), S("t")),
    ["Apply {t} to {d}", "Transform {d} to {t}", "Transform {d} using {t}", "Convert {d} to {t}",
     "Encode {d} as {t}"], d=D, t=TRANS, weight=3)
opf("normalize", op("transform", S("d"), "&h_normalize"),
    ["Normalize the {d}", "Normalize {d}", "Make {d} normalized"], d=D)
opf("parse_as", op("transform", S("d"), S("t")),
    ["Parse {d} as {t}", "Read {d} as {t}", "Interpret {d} as {t}"], d=D, t=PTYPE)
opf("aggregate", op("aggregate", S("g"), S("f")),
    ["Calculate {g} of {f}", "Compute {g} for {f}", "Get {g} of {f}", "Find {g} {f}",
     "Aggregate {g} of {f}"], g=AGG, f=FIELD, weight=2)
opf("compute", op("compute", S("q")), ["Compute {q}", "Calculate {q}", "Evaluate {q}"], q=QTY)
opf("read", op("read", S("f")), ["Read from {f}", "Load from {f}", "Read {f}"], f=STORE_OR_FILE,
    weight=2)
opf("open_file", op("read", S("f")), ["Open {f}", "Load {f}", "Read file {f}"], f=FILE)
opf("write", op("write", S("to"), S("d")),
    ["Write {d} to {to}", "Save {d} to {to}", "Store {d} in {to}"], to=STORE_OR_FILE, d=D,
    weight=3)
opf("write_data", op("write", S("to"), "&h_data"), ["Write to {to}", "Save to {to}",
                                                    "Write data out to {to}"], to=STORE_OR_FILE)
opf("write_value", op("write", S("to"), "&h_value"), ["Store in {to}", "Save value in {to}",
                                                      "Store value into {to}"], to=STORE_OR_FILE)
opf("navigate", op("navigate", S("p")), ["Navigate to {p}", "Go to {p}", "Move to {p}",
                                         "Open {p}"], p=PLACE, weight=2)
opf("navigate_dir", op("navigate", S("p")), ["Navigate {p}", "Go {p}", "Move {p}"],
    p=DIRECTION, pinned=True)
opf("navigate_back", op("navigate", "&h_back"), ["Go back to {w} {thing}", "Return to {w} {thing}",
                                                 "Back to {w} {thing}"], pinned=True,
    w=Lex(L.texts("previous", "last", "prior"), name="prev"),
    thing=Lex(L.texts("page", "screen", "view"), name="screens"))
opf("navigate_path", op("navigate", S("p")), ["Navigate to {p}", "Go to {p}",
                                              "Change directory to {p}"], p=PATH)
opf("sort", op("sort", S("d"), S("k"), S("o")),
    ["Sort {d} by {k} {o}", "Order {d} by {k} {o}", "Arrange {d} by {k} {o}"],
    d=D, k=FIELD, o=ORDER)
opf("sort2", op("sort", S("d"), S("k")), ["Sort {d} by {k}", "Order {d} by {k}",
                                          "Arrange {d} by {k}"], d=D, k=FIELD)
opf("limit", op("limit", S("d"), S("n")),
    ["Limit {d} to {n}", "Take first {n} {d}", "Return top {n} {d}", "Cap {d} at {n}"],
    d=D, n=N_POS, weight=2)
opf("skip", op("skip", S("d"), S("n")),
    ["Skip first {n} {d}", "Skip {n} {d}", "Drop first {n} {d}", "Offset {d} by {n}"],
    d=D, n=N_POS, weight=2)
opf("copy_files", op("copy", S("a"), S("b")),
    ["Copy {a} to {b}", "Duplicate {a} as {b}", "Clone {a} to {b}"], a=FILE, b=FILE,
    distinct=("a", "b"))
opf("copy_handles", op("copy", S("a"), S("b")),
    ["Copy {a} to {b}", "Duplicate {a} into {b}", "Clone {a} into {b}"], a=D, b=D,
    distinct=("a", "b"))
opf("copy1", op("copy", S("d")), ["Copy {d}", "Copy the {d}", "Make a copy of {d}"], d=D)
opf("move", op("move", S("a"), S("b")),
    ["Move {a} to {b}", "Relocate {a} to {b}", "Transfer {a} to {b}"], a=FILE, b=FILE,
    distinct=("a", "b"))
opf("rename", op("rename", S("a"), S("b")),
    ["Rename {a} to {b}", "Change name of {a} to {b}", "Rename file {a} as {b}"], a=FILE, b=FILE,
    distinct=("a", "b"))
opf("execute", op("execute", S("t")), ["Execute {t}", "Run {t}", "Perform {t}", "Run the {t}"],
    t=TASK)
opf("validate", op("validate", S("d"), S("s")),
    ["Validate {d} against {s}", "Check {d} using {s}", "Verify {d} matches {s}"],
    d=CHECKABLE, s=SPEC, distinct=("d", "s"))
opf("find", op("find", S("g")), ["Find {g}", "Search for {g}", "Locate {g}"], g=GLOB)
opf("find_kind", op("find", S("g")), ["Locate all {g} files", "Find all {g} files",
                                      "List all {g} files"], g=FKIND, pinned=True)
opf("open_app", op("open", S("a")), ["Open {a}", "Launch {a}", "Start {a}"], a=APP)
opf("close", op("close", S("d")), ["Close {d}", "Close current {d}", "Shut {d}"], d=D)
opf("clear", op("clear", S("d")), ["Clear {d}", "Clear all {d}", "Wipe {d}"], d=D)
opf("append", op("append", S("l"), S("x")),
    ["Append {x} to {l}", "Push {x} onto {l}", "Add {x} to end of {l}"], l=D, x=D,
    distinct=("l", "x"))
opf("add", op("add", S("s"), S("x")),
    ["Add {x} to {s}", "Insert {x} into {s}", "Put {x} in {s}"], s=D, x=D, distinct=("s", "x"))
opf("contains", op("contains", S("s"), S("x")),
    ["Check if {s} contains {x}", "Does {s} contain {x}", "Test whether {s} has {x}"],
    s=D, x=D, distinct=("s", "x"))
opf("delete2", op("delete", S("d"), S("k")),
    ["Delete {d} by {k}", "Remove {d} by {k}", "Erase {d} by {k}"], d=D, k=FIELD)
opf("delete1", op("delete", S("d")), ["Delete {d}", "Remove {d}", "Erase {d}"], d=D)
opf("get", op("get", S("d"), S("n")),
    ["Get element {n} of {d}", "Get item at index {n} from {d}", "Fetch element {n} from {d}"],
    d=D, n=N_SMALL)
opf("get_default", op("get", "&h_array", S("n")),
    ["Get element at index {n}", "Get item at index {n}", "Element at index {n}"], n=N_SMALL)
opf("set_index", op("set", S("d"), S("n"), S("x")),
    ["Set {x} at index {n} in {d}", "Put {x} at position {n} of {d}",
     "Store {x} at index {n} of {d}"], d=D, n=N_SMALL, x=D, distinct=("d", "x"))
opf("set_default", op("set", "&h_array", S("n"), S("x")),
    ["Set {x} at index {n}", "Put {x} at position {n}", "Store {x} at index {n}"],
    n=N_SMALL, x=D)
opf("set_key", op("set", S("d"), S("k"), S("x")),
    ["Set {k} to {x} in {d}", "Put {x} under {k} in {d}", "Map {k} to {x} in {d}"],
    d=D, k=SKEY, x=D, distinct=("d", "x"))
opf("length", op("length", S("d")), ["Get length of {d}", "Length of {d}",
                                     "Measure length of {d}"], d=D)
opf("count", op("count", S("d")), ["Count {d}", "Count the {d}", "Count all {d}"], d=D)
opf("group", op("group", S("d"), S("k")), ["Group {d} by {k}", "Bucket {d} by {k}",
                                           "Cluster {d} by {k}"], d=D, k=FIELD)
opf("join", op("join", S("a"), S("b")),
    ["Join tables {a} and {b}", "Join {a} with {b}", "Combine tables {a} and {b}"], a=D, b=D,
    distinct=("a", "b"))
opf("merge", op("merge", S("a"), S("b")),
    ["Merge {a} with {b}", "Merge {a} and {b}", "Combine {a} with {b}"], a=D, b=D,
    distinct=("a", "b"))
opf("map", op("map", S("f"), S("d")),
    ["Map {f} over {d}", "Apply function {f} to each of {d}", "Run {f} over each of {d}"],
    f=FUNC, d=D)
opf("reduce", op("reduce", S("d"), S("a")),
    ["Reduce {d} with {a}", "Fold {d} with {a}", "Reduce {d} using {a}"], d=D, a=ACC)
opf("flatten", op("flatten", S("d")), ["Flatten {d}", "Flatten {d} structure", "Unnest {d}"],
    d=D)
opf("focus", op("focus", S("d")), ["Focus on {d}", "Focus on {d} field", "Give focus to {d}"],
    d=D)
opf("forward", op("forward", S("m"), S("b")),
    ["Forward {b} through {m}", "Feed {b} through {m}", "Run {m} forward on {b}"], m=MODEL, b=D)
opf("forward_default", op("forward", S("m"), "&h_batch"),
    ["Forward pass through {m}", "Run forward pass of {m}", "Do a forward pass through {m}"],
    m=MODEL, pinned=True)
opf("backward", op("backward", S("d")), ["Backward pass on {d}", "Backpropagate {d}",
                                         "Compute gradients of {d}"], d=D)
opf("generate", op("generate", S("m"), S("d")),
    ["Generate from {d} with {m}", "Generate text from {d} using {m}", "Use {m} to generate from {d}"],
    m=MODEL, d=D)
opf("generate_default", op("generate", "&h_model", S("d")),
    ["Generate completion from {d}", "Generate output from {d}", "Complete the {d}"], d=D)
opf("infer", op("infer", S("m"), S("d")),
    ["Infer {d} with {m}", "Predict {d} using {m}", "Run {m} inference on {d}"], m=MODEL, d=D)
opf("infer_default", op("infer", "&h_model", S("d")),
    ["Run inference on {d}", "Infer on {d}", "Make predictions for {d}"], d=D)
opf("evaluate", op("evaluate", S("m"), S("d")),
    ["Evaluate {m} on {d}", "Test {m} on {d}", "Score {m} on {d}"], m=MODEL, d=D)
opf("evaluate_default", op("evaluate", S("m"), "&h_testData"),
    ["Evaluate {m} accuracy", "Measure {m} accuracy", "Check {m} accuracy"], m=MODEL,
    pinned=True)
opf("train", op("train", S("m"), S("d")),
    ["Train {m} on {d}", "Fit {m} to {d}", "Train {m} with {d}"], m=MODEL, d=D)
opf("batch", op("batch", S("d"), S("n")),
    ["Batch {d} in groups of {n}", "Split {d} into batches of {n}",
     "Group {d} into batches of {n}"], d=D, n=N_POS)
opf("batch_default", op("batch", S("d"), 32),
    ["Batch {d} together", "Make batches of {d}", "Batch the {d}"], d=D)
opf("batch_process", op("batch", S("d"), S("n"), op("process", "&h_batch")),
    ["Process {d} in batches of {n}", "Handle {d} in batches of {n}",
     "Work through {d} in batches of {n}"], d=D, n=N_POS)
opf("bind", op("bind", S("d"), S("n")),
    ["Bind {d} to slot {n}", "Attach {d} to slot {n}", "Bind {d} at slot {n}"], d=D, n=N_SMALL)
opf("bind_default", op("bind", S("d"), 0),
    ["Bind {d} to slot", "Attach {d} to a slot", "Bind {d} to the first slot"], d=D)
opf("collate", op("collate", S("d")), ["Collate {d}", "Collate batch {d}", "Collate the {d}"],
    d=D)
opf("concat", op("concat", S("d")), ["Concatenate {d}", "Concatenate {d} together",
                                     "Join {d} together"], d=D)
opf("decode", op("decode", S("d"), S("t")),
    ["Decode {d} with {t}", "Detokenize {d} with {t}", "Decode {d} using {t}"], d=D,
    t=Lex(L.nouns("tokenizer", "vocabulary", "codec", "decoder table"), name="tokenizers"))
opf("decode_default", op("decode", S("d"), "&h_tokenizer"),
    ["Decode {d} to text", "Turn {d} back into text", "Detokenize {d}"], d=D)
opf("tokenize", op("tokenize", S("d"), "&h_tokenizer"),
    ["Tokenize {d}", "Split {d} into tokens", "Tokenize the {d}", "Tokenize input {d}"], d=D)
opf("trim", op("trim", S("d")), ["Trim whitespace from {d}", "Trim {d}", "Strip {d}"], d=D)
opf("undo", op("undo", S("w")), ["Undo {w} action", "Undo {w} change", "Revert {w} action"],
    w=WHICH, pinned=True)
opf("upload", op("upload", S("d"), S("dev")),
    ["Upload {d} to {dev}", "Move {d} onto {dev}", "Transfer {d} to the {dev}"], d=D, dev=DEVICE)
opf("download", op("download", S("dev"), S("d")),
    ["Download {d} from {dev}", "Fetch {d} from {dev}", "Copy {d} back from {dev}"],
    d=D, dev=DEVICE)
opf("paste", op("paste", S("d")), ["Paste from {d}", "Paste {d}", "Paste contents of {d}"], d=D)
opf("refresh", op("refresh", S("d")), ["Refresh the {d}", "Refresh {d}", "Reload {d}"], d=D)
opf("render", op("render", S("a"), S("b")),
    ["Render {a} to {b}", "Draw {a} to {b}", "Render {a} into {b}"], a=D, b=D,
    distinct=("a", "b"))
opf("replace", op("replace", S("d"), S("old"), S("new")),
    ["Replace {old} with {new} in {d}", "Substitute {new} for {old} in {d}",
     "Swap {old} for {new} in {d}"], d=D, old=REPL, new=REPL, distinct=("old", "new"))
opf("save", op("save", S("m"), S("f")),
    ["Checkpoint {m} to {f}", "Save checkpoint of {m} to {f}", "Persist {m} to {f}"],
    m=MODEL, f=CKPT)
opf("save_default", op("save", S("m"), "checkpoint.pt"),
    ["Save {m} checkpoint", "Checkpoint the {m}", "Save a checkpoint of {m}"], m=MODEL,
    pinned=True)
opf("show", op("show", S("d")), ["Show {d}", "Show {d} menu", "Display {d}"], d=D)
opf("split", op("split", S("d"), S("s")),
    ["Split {d} by {s}", "Split {d} on {s}", "Break {d} at {s}"], d=D, s=SEP)
opf("zoom", op("zoom", S("z")), ["Zoom {z}", "Zoom the view {z}", "Zoom {z} on the view"],
    z=ZOOMDIR, pinned=True)
opf("sync", op("sync", S("d")), ["Synchronize {d}", "Sync {d}", "Wait for {d}"], d=D)
opf("dispatch", op("dispatch", S("d"), [S("x"), S("y"), S("z")]),
    ["Dispatch {d} with workgroups {x} by {y} by {z}", "Launch {d} on a {x} by {y} by {z} grid",
     "Dispatch {d} over {x} by {y} by {z}"], d=D, x=POW2, y=POW2, z=POW2)
opf("slice", op("slice", S("d"), S("a"), S("b")),
    ["Slice {d} from index {a} to {b}", "Take {d} from {a} to {b}", "Cut {d} from {a} to {b}"],
    d=D, a=N_SMALL, b=N_SMALL)
opf("for_each", op("for_each", S("d"), op(S("v"), S("i"))),
    ["For each {i} in {d} do {v}", "Do {v} for every {i} in {d}", "Apply {v} to each {i} in {d}"],
    d=D, v=LOOPV, i=ITEM)
opf("ls", op("ls", S("dir")), ["List files in {dir}", "Show files in {dir}",
                               "List contents of {dir}"], dir=DIR)
opf("convert", op(S("t"), S("d")), ["Convert {d} to {t}", "Turn {d} into {t}", "Cast {d} to {t}"],
    d=D, t=CONV)
opf("while", op("while", S("c"), op(S("v"))),
    ["While {c} do {v}", "Keep doing {v} while {c}", "Do {v} as long as {c}"],
    c=LOOP_COND, v=LOOPV)
opf("timeout", op("timeout", op("execute", S("t")), S("n")),
    ["Execute {t} with timeout {n}", "Run {t} with a timeout of {n}",
     "Perform {t} within {n} milliseconds"], t=TASK, n=N_POS)
opf("print", op("print", S("d")), ["Print {d}", "Print the {d}", "Echo {d}"], d=D)
opf("send", op("send", S("d"), S("r")), ["Send {d} to {r}", "Deliver {d} to {r}",
                                         "Mail {d} to {r}"], d=D, r=RECIP)
opf("compress", op("compress", S("d")), ["Compress {d}", "Zip {d}", "Pack {d}"], d=D)
opf("decompress", op("decompress", S("d")), ["Decompress {d}", "Unzip {d}", "Unpack {d}"], d=D)
opf("encrypt", op("encrypt", S("d"), S("k")), ["Encrypt {d} with {k}", "Encrypt {d} using {k}",
                                               "Lock {d} with {k}"], d=D, k=KEY)
opf("decrypt", op("decrypt", S("d"), S("k")), ["Decrypt {d} with {k}", "Decrypt {d} using {k}",
                                               "Unlock {d} with {k}"], d=D, k=KEY)
opf("hash", op("hash", S("d")), ["Hash {d}", "Compute hash of {d}", "Digest {d}"], d=D)
opf("shuffle", op("shuffle", S("d")), ["Shuffle {d}", "Randomize {d}", "Mix up {d}"], d=D)
opf("sample", op("sample", S("d"), S("n")),
    ["Sample {n} from {d}", "Pick {n} random {d}", "Draw {n} samples from {d}"], d=D, n=N_POS)
opf("export", op("export", S("d"), S("f")), ["Export {d} as {f}", "Export {d} to {f}",
                                             "Dump {d} as {f}"], d=D, f=EXPFMT)
opf("import", op("import", S("f")), ["Import {f}", "Import data from {f}", "Ingest {f}"], f=FILE)
opf("log", op("log", S("d")), ["Log {d}", "Log the {d}", "Write {d} to the log"], d=D)
opf("schedule", op("schedule", S("t"), S("n")),
    ["Schedule {t} every {n} seconds", "Run {t} every {n} seconds", "Repeat {t} every {n} seconds"],
    t=TASK, n=N_POS)
opf("cancel", op("cancel", S("t")), ["Cancel {t}", "Abort {t}", "Stop {t}"], t=TASK)
opf("pause", op("pause", S("t")), ["Pause {t}", "Suspend {t}", "Hold {t}"], t=TASK)
opf("resume", op("resume", S("t")), ["Resume {t}", "Continue {t}", "Unpause {t}"], t=TASK)
opf("restart", op("restart", S("t")), ["Restart {t}", "Reboot {t}", "Relaunch {t}"], t=TASK)
opf("deploy", op("deploy", S("d"), S("e")), ["Deploy {d} to {e}", "Release {d} to {e}",
                                             "Ship {d} to {e}"], d=D, e=ENV)
opf("install", op("install", S("p")), ["Install {p}", "Add package {p}", "Set up {p}"], p=PKG)
opf("update", op("update", S("d")), ["Update {d}", "Upgrade {d}", "Bring {d} up to date"], d=D)
opf("backup", op("backup", S("d"), S("to")), ["Back up {d} to {to}", "Make a backup of {d} in {to}",
                                              "Archive {d} to {to}"], d=D, to=STORE_OR_FILE)
opf("restore", op("restore", S("d"), S("src")),
    ["Restore {d} from {src}", "Recover {d} from {src}", "Bring back {d} from {src}"],
    d=D, src=STORE_OR_FILE)
opf("publish", op("publish", S("d"), S("t")), ["Publish {d} to {t}", "Broadcast {d} on {t}",
                                               "Post {d} to {t}"], d=D, t=TOPIC)
opf("subscribe", op("subscribe", S("t")), ["Subscribe to {t}", "Listen to {t}", "Follow {t}"],
    t=TOPIC)
opf("resize", op("resize", S("d"), S("w"), S("h")),
    ["Resize {d} to {w} by {h}", "Scale {d} to {w} by {h}", "Set size of {d} to {w} by {h}"],
    d=D, w=N_POS, h=N_POS)
opf("wait", op("wait", S("n")), ["Wait {n} seconds", "Sleep for {n} seconds",
                                 "Pause for {n} seconds"], n=N_POS)
opf("dedupe", op("dedupe", S("d")), ["Remove duplicates from {d}", "Deduplicate {d}",
                                     "Dedupe {d}"], d=D)
opf("reverse", op("reverse", S("d")), ["Reverse {d}", "Reverse the order of {d}",
                                       "Invert order of {d}"], d=D)
opf("index", op("index", S("d"), S("k")), ["Index {d} by {k}", "Build index on {d} by {k}",
                                           "Create index of {d} by {k}"], d=D, k=FIELD)
opf("zip", op("zip", S("a"), S("b")), ["Zip {a} with {b}", "Pair {a} with {b}",
                                       "Zip together {a} and {b}"], a=D, b=D, distinct=("a", "b"))


# ====================================================================== pipelines
class PipelineFamily(Family):
    """``A, then b[, then c]`` → ``{1000: {"@0": "pipeline", "@1": [A, b, c]}}``."""

    fid = "pipeline"
    category = "pipeline"
    weight = 1.0
    STYLES = ((", then ", ""), (", then ", "First "), (" and then ", ""))

    def __init__(self, stages: list[GrammarFamily]) -> None:
        self.stages = stages
        self.stage_weights = [f.weight for f in stages]

    def sample(self, rng: random.Random) -> tuple[str, Any]:
        n = 2 if rng.random() < 0.8 else 3
        parts, values = [], []
        while len(values) < n:
            f = rng.choices(self.stages, self.stage_weights)[0]
            e, v = f.sample(rng)
            if any(freeze(v) == freeze(x) for x in values):
                continue
            parts.append(e)
            values.append(v)
        sep, prefix = rng.choice(self.STYLES)
        return self._join(parts, sep, prefix), op("pipeline", values)

    @staticmethod
    def _join(parts: list[str], sep: str, prefix: str) -> str:
        low = [p[:1].lower() + p[1:] for p in parts]
        first = parts[0] if not prefix else prefix + low[0]
        return sep.join([first] + low[1:])

    def _parse_stage(self, s: str) -> list:
        s = s[:1].upper() + s[1:]
        out = []
        for f in self.stages:
            out.extend(f.parse(s))
        return out

    def parse(self, english: str) -> list[Any]:
        results = []
        for sep, prefix in self.STYLES:
            body = english
            if prefix:
                if not english.startswith(prefix):
                    continue
                body = english[len(prefix):]
            elif english.startswith("First "):
                continue
            parts = body.split(sep)
            if not 2 <= len(parts) <= 3:
                continue
            if any(", then " in p or " and then " in p for p in parts):
                continue
            stage_vals = []
            for p in parts:
                vals = {freeze(v): v for v in self._parse_stage(p)}
                if len(vals) != 1:
                    break
                stage_vals.append(next(iter(vals.values())))
            else:
                if len({freeze(v) for v in stage_vals}) == len(stage_vals):
                    results.append(op("pipeline", stage_vals))
        return results

    def describe(self, value: Any) -> str | None:
        if signature(value) != ("op", "pipeline", 2):
            return None
        stages = value[1000]["@1"]
        if not isinstance(stages, list) or not 2 <= len(stages) <= 3:
            return None
        if len({freeze(v) for v in stages}) != len(stages):
            return None
        parts = []
        for v in stages:
            d = describe_with(self.stages, v)
            if d is None:
                return None
            parts.append(d)
        return self._join(parts, ", then ", "")

    def first_words(self) -> set[str | None]:
        return {None}


def _is_stage(f: Family) -> bool:
    if not isinstance(f, GrammarFamily) or f.category != OPN:
        return False
    body = f.template[1000]
    nested = any(isinstance(v, dict) for v in body.values())
    return not nested and len(body) <= 3


PIPELINE = PipelineFamily([f for f in FAMILIES if _is_stage(f)])
FAMILIES.append(PIPELINE)


# ====================================================================== lookups
def describe_with(families: list[Family], value: Any) -> str | None:
    for f in families:
        d = f.describe(value)
        if d is not None:
            return d
    return None


BY_ID: dict[str, Family] = {f.fid: f for f in FAMILIES}
if len(BY_ID) != len(FAMILIES):
    raise RuntimeError("duplicate family ids")



def verbs() -> set[str]:
    """Operation verbs the corpus teaches (``@0`` of every Operation template)."""
    out: set[str] = set()

    def walk(t):
        if isinstance(t, dict):
            if 1000 in t and isinstance(t[1000], dict):
                v = t[1000].get("@0")
                if isinstance(v, str):
                    out.add(v)
                elif isinstance(v, S):
                    f_slots = None
                    for f in FAMILIES:
                        if isinstance(f, GrammarFamily) and f.template is t:
                            f_slots = f.slots
                    if f_slots is not None:
                        for _, sem in f_slots[v.name].entries:  # type: ignore[attr-defined]
                            out.add(sem)
            for x in t.values():
                walk(x)
        elif isinstance(t, list):
            for x in t:
                walk(x)

    for f in FAMILIES:
        if isinstance(f, GrammarFamily) and f.category == OPN:
            walk(f.template)
    return out


def phrasings_per_verb() -> dict[str, int]:
    """How many distinct English phrasings teach each top-level verb."""
    out: dict[str, set] = {}
    for f in FAMILIES:
        if not isinstance(f, GrammarFamily) or f.category != OPN:
            continue
        verb = f.template[1000]["@0"]
        names = [verb] if isinstance(verb, str) else [
            sem for _, sem in f.slots[verb.name].entries]  # type: ignore[attr-defined]
        for name in names:
            out.setdefault(name, set()).update(p.text for p in f.phrasings)
    return {k: len(v) for k, v in out.items()}

