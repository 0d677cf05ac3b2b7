"""The corpus vocabulary: nouns, values and the words that name them.

Every entry is ``(surfaces, meaning)``: the first surface is the canonical one (used when a value
is described in English), the others are accepted synonyms. A noun's meaning is its handle,
named after the noun in lower camelCase (``test data`` → ``&h_testData``), or a text where the
convention says so (file names, search terms, paths). The lexicons used by one template slot never
overlap, so a sentence has exactly one reading (checked when the corpus is built and by the tests).
"""

from __future__ import annotations


def handle_name(surface: str) -> str:
    """``"test data"`` → ``"testData"``, ``"AST"`` → ``"ast"``, ``"dataset A"`` → ``"datasetA"``."""
    words = surface.replace("-", " ").split()
    first = words[0].lower()
    rest = "".join(w[:1].upper() + w[1:] for w in words[1:])
    return first + rest


def nouns(*surfaces: str, **overrides: str) -> list[tuple[tuple[str, ...], str]]:
    """Handle-valued entries; ``overrides`` maps a surface to a different handle name."""
    out = []
    for s in surfaces:
        name = overrides.get(s.replace(" ", "_"), handle_name(s))
        out.append(((s,), "&h_" + name))
    return out


def texts(*surfaces: str) -> list[tuple[tuple[str, ...], str]]:
    """Text-valued entries whose surface is the text itself."""
    return [((s,), s) for s in surfaces]


# ---------------------------------------------------------------------------------- nouns
# Generic data: the things operations act on (handles).
DATA = nouns(
    "users", "documents", "records", "items", "files", "logs", "orders", "products", "messages",
    "events", "entries", "objects", "results", "tasks", "images", "customers", "accounts",
    "invoices", "payments", "sessions", "comments", "posts", "articles", "reviews", "tickets",
    "notes", "contacts", "emails", "reports", "metrics", "samples", "features", "labels",
    "tokens", "vectors", "embeddings", "rows", "columns", "tables", "values", "scores",
    "requests", "responses", "packets", "frames", "points", "nodes", "edges", "links", "tags",
    "strings", "numbers", "dates", "prices", "photos", "videos", "songs", "books", "movies",
    "courses", "students", "employees", "teams", "projects", "issues", "commits", "branches",
    "builds", "alerts", "readings", "inputs", "outputs", "data", "text", "list", "array",
    "queue", "stack", "buffer", "test data", "sales data", "user list",
    "order history", "word counts", "page views", "dataset A", "dataset B", "selection",
    "source", "destination", "clipboard", "cache", "database", "memory", "code", "config",
    "schema", "spec", "input", "string", "nested", "value", "element", "set", "map", "record",
    "window", "page", "help", "prompt", "audio", "format", "image", "structure",
    destination="dest",
)

# Conditions a filter keeps (handles).
CONDITIONS = nouns("active", "valid", "recent", "enabled", "pending", "expired", "visible",
                   "approved", "failed", "archived", "unread", "verified", "open", "closed",
                   "flagged", "status")

# Transformations (handles), used by transform.
TRANSFORMS = nouns("uppercase", "lowercase", "normalize", "base64", "title case", "snake case",
                   "camel case", "reverse", "trim", "slugify", "escape", "hex")

# Parsing targets: "Parse X as integer" → transform(X, &h_parseInt).
PARSE_TYPES = [(("integer",), "&h_parseInt"), (("float",), "&h_parseFloat"),
               (("date",), "&h_parseDate"), (("boolean",), "&h_parseBool"),
               (("JSON",), "&h_parseJson")]

# Aggregate functions and the fields they aggregate (handles).
AGGREGATES = [(("max", "maximum"), "&h_max"), (("min", "minimum"), "&h_min"),
              (("sum",), "&h_sum"), (("average", "mean"), "&h_average"),
              (("median",), "&h_median"), (("count",), "&h_count")]
FIELDS = nouns("value", "score", "count", "price", "age", "amount", "total", "rating",
               "duration", "size", "weight", "height", "salary", "quantity", "length", "latency", "id",
               "category")

# Things compute() computes (handles).
QUANTITIES = nouns("result", "score", "total", "difference", "ratio", "product", "distance",
                   "loss", "balance", "average speed", "checksum", "mean error")

# Places one navigates to (handles); "Open <place>" also navigates.
PLACES = nouns("home", "dashboard", "settings", "desktop", "downloads", "root", "parent",
               "docs", "inbox", "profile", "archive", "trash", "gallery", "library", "help page",
               "start page", "search page")
DIRECTIONS = nouns("back", "forward", "up")

# Applications one opens (handles).
APPS = nouns("terminal", "browser", "editor", "calculator", "calendar", "mail client",
             "music player", "file manager", "notebook", "debugger", "console", "window")

# Search terms (texts).
TERMS = texts("error", "config", "test", "warning", "todo", "users", "timeout", "password",
              "invoice", "login", "crash", "budget", "draft", "deadline", "fixme", "pattern",
              "admin", "report", "token", "backup")

# Where things are written to or read from (texts): stores and file names.
STORES = texts("cache", "database", "disk", "memory", "server", "cloud", "queue")
FILE_STEMS = ("config", "users", "data", "results", "output", "log", "report", "notes",
              "settings", "backup", "input", "summary", "index", "archive", "temp", "file",
              "orders", "metrics")
FILE_EXTS = ("json", "csv", "txt", "yaml", "log", "dat", "xml", "md")
FILES = texts(*(f"{s}.{e}" for s in FILE_STEMS for e in FILE_EXTS))
CHECKPOINT_FILES = texts("checkpoint.pt", "model.pt", "weights.pt", "best.ckpt", "last.ckpt")

# Glob patterns (texts) and "all <kind> files" → pattern.
GLOBS = texts("*.txt", "*.json", "*.csv", "*.log", "*.py", "*.md", "data/*.json", "logs/*.log",
              "src/*.py", "test_*.js", "test_*.py", "{a,b,c}.csv", "img/*.png", "docs/*.md",
              "*.yaml", "build/*.o")
FILE_KINDS = [(("text",), "*.txt"), (("JSON",), "*.json"), (("CSV",), "*.csv"),
              (("log",), "*.log"), (("Python",), "*.py"), (("markdown",), "*.md"),
              (("image",), "*.png"), (("YAML",), "*.yaml")]

# Paths (texts) for navigate and ls.
PATHS = texts("/root/system", "/home/user", "/tmp", "/var/log", "/etc", "/usr/local/bin",
              "/srv/data", "/opt/app", "~/projects", "~/documents")
DIRS = [(("current directory",), "."), (("parent directory",), ".."),
        (("home directory",), "~")] + [((p,), p) for p in ("/tmp", "/var/log", "/etc", "/srv/data",
                                                            "~/projects", "src", "docs", "tests")]

# Separators for split.
SEPARATORS = [(("comma", "delimiter"), ","), (("semicolon",), ";"), (("space",), " "),
              (("tab",), "\t"), (("newline",), "\n"), (("pipe",), "|"), (("colon",), ":"),
              (("dash",), "-"), (("slash",), "/")]

# Type conversions: "Convert X to set" → to_set(X) (the verb carries the type).
CONVERSIONS = [(("set",), "to_set"), (("string",), "to_string"), (("list",), "to_list"),
               (("integer",), "to_int"), (("float",), "to_float"), (("dictionary",), "to_dict"),
               (("tuple",), "to_tuple")]

# Models, devices, checks.
MODELS = nouns("model", "classifier", "network", "encoder", "decoder", "transformer",
               "regressor", "language model")
DEVICES = [(("GPU",), "&h_gpuBuffer"), (("TPU",), "&h_tpuBuffer"),
           (("device",), "&h_deviceBuffer")]
SPECS = nouns("schema", "spec", "rules", "contract", "policy", "template")
VALIDATABLE = nouns("config", "input", "data", "format", "schema", "request", "payload",
                    "response", "manifest", "record")
TASKS = nouns("job", "action", "process", "operation", "task", "script", "command", "query",
              "workflow", "migration", "pipeline", "test suite")
FUNCTIONS = nouns("function", "square", "double", "increment", "negate", "parse", "format",
                  "hash", "round", "clamp")
ACCUMULATORS = nouns("accumulator", "sum", "product", "maximum", "counter", "merger")
UNDO_WHICH = nouns("last", "previous", "first", "recent")
ZOOM = nouns("in", "out")
ENVIRONMENTS = texts("production", "staging", "development", "test", "preview")
PACKAGES = texts("numpy", "requests", "pandas", "flask", "pytest", "rich", "typer", "torch",
                 "scipy", "httpx")
REPLACEABLES = nouns("old", "new", "old name", "new name", "foo", "bar", "tabs", "spaces",
                     "draft", "final", "typo", "fix")
TOPICS = nouns("news", "updates", "alerts channel", "events topic", "status feed", "chat")
RECIPIENTS = nouns("admin", "team", "client", "server", "manager", "support", "owner")
KEYS = nouns("key", "secret", "password", "public key", "private key", "token key")
EXPORT_FORMATS = texts("json", "csv", "xml", "yaml", "parquet", "html")
SORT_ORDERS = [(("ascending",), "asc"), (("descending",), "desc")]
SLOT_KEYS = texts("key", "name", "color", "title", "label", "mode", "status", "owner")
LOOP_VERBS = texts("process", "print", "log", "check", "send", "update", "save", "validate",
                   "render", "action")
ITEM_WORDS = nouns("item", "row", "record", "entry", "user", "file", "event", "line")
PIPELINE_KINDS = [(("compute",), ("compute_pipeline", ["&h_kernel"])),
                  (("render",), ("render_pipeline", ["&h_vs", "&h_fs"])),
                  (("shadow",), ("shadow_pipeline", ["&h_vs", "&h_fs"])),
                  (("post",), ("post_pipeline", ["&h_kernel"])),
                  (("blur",), ("blur_pipeline", ["&h_kernel"]))]

# ---------------------------------------------------------------------------------- values
WORDS = ("hello", "world", "ok", "yes", "no", "done", "ready", "start", "stop", "alpha", "beta",
         "gamma", "delta", "north", "south", "east", "west", "red", "green", "blue", "apple",
         "banana", "cherry", "open", "closed", "draft", "final", "active", "idle", "pending",
         "success", "failure", "morning", "evening", "spring", "summer", "autumn", "winter",
         "left", "right", "up", "down", "cat", "dog", "fish", "bird", "tree", "river", "stone",
         "cloud", "light", "dark", "fast", "slow", "new", "old", "hot", "cold", "small", "large")
NAMES = ("Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy",
         "Mallory", "Oscar", "Peggy", "Trent", "Victor", "Walter", "Sybil", "Wendy", "Zoe", "Max")
# Record keys and the kind of value each holds.
RECORD_KEYS = {
    "name": "name", "title": "word", "city": "word", "color": "word", "mode": "word",
    "status": "word", "host": "word", "age": "int", "x": "int", "y": "int", "z": "int",
    "width": "int", "height": "int", "count": "int", "id": "int", "score": "int",
    "price": "int", "level": "int", "year": "int", "port": "int", "limit": "int",
    "enabled": "bool", "debug": "bool", "verbose": "bool", "active": "bool", "visible": "bool",
}
CONSTANTS = [(("pi",), 3.14159), (("tau",), 6.28318), (("euler",), 2.71828),
             (("golden ratio",), 1.61803), (("square root of two",), 1.41421),
             (("speed of light",), 299792458.0), (("gravity",), 9.81)]
FRACTIONS = [(("half",), 0.5), (("quarter",), 0.25), (("third",), 0.333),
             (("tenth",), 0.1), (("eighth",), 0.125), (("fifth",), 0.2)]
VARIABLES = texts("x", "y", "z", "n", "i", "count", "total", "name", "flag", "result", "limit",
                  "index", "size", "value", "sum", "score", "label", "mode")
FUNCTION_NAMES = texts("add", "square", "max", "min", "scale", "print", "compute", "update",
                       "clamp", "merge", "greet", "render", "load", "parse")
OPERATORS = [(("add", "plus"), "add"), (("subtract", "minus"), "subtract"),
             (("multiply", "times"), "multiply"), (("divide", "by"), "divide")]
HASH_ALGORITHMS = texts("BLAKE2b-256", "SHA-256", "SHA3-256", "BLAKE3", "SHA-512")
AXIOMS = texts("A1", "A2", "A3", "A4", "INV-001", "INV-002", "INV-003")
SPEC_REFS = nouns("lcb spec", "lct spec", "cas spec", "ops spec", "latent space spec",
                  "wire spec", "core spec")
IMPLS = nouns("lcb impl", "lct impl", "cas impl", "ops impl", "parser impl", "store impl",
              "engine impl")
SHADER_NAMES = texts("main_vs", "main_fs", "blur", "shadow", "sky", "terrain", "water", "ui",
                     "particles", "bloom")
KERNEL_NAMES = texts("map", "reduce", "scan", "sort", "histogram", "transpose", "matmul", "blur",
                     "prefix_sum", "gather")
STAGES = texts("vertex", "fragment", "compute")
ENTRY_POINTS = texts("main", "vs_main", "fs_main", "cs_main")
SHADER_HANDLES = nouns("shader", "kernel", "compute", "spirv", "module", "blur shader")
STAGE_HANDLES = nouns("vert", "frag", "vs", "fs", "kernel", "shadow pass", "light pass",
                      "blur pass")
IMAGE_HANDLES = nouns("fb", "swapchain", "color target", "depth target", "screen")
PIPELINE_IDS = texts("main_pass", "shadow_pass", "ui_pass", "post_fx", "cube_renderer",
                     "particles", "deferred", "forward_plus")


def vocabulary_size() -> dict[str, int]:
    """Distinct nouns and values the templates draw from (reported by the tests and stats)."""
    groups = {
        "data": DATA, "conditions": CONDITIONS, "transforms": TRANSFORMS,
        "parse_types": PARSE_TYPES, "aggregates": AGGREGATES, "fields": FIELDS,
        "quantities": QUANTITIES, "places": PLACES, "directions": DIRECTIONS, "apps": APPS,
        "terms": TERMS, "stores": STORES, "files": FILES, "checkpoints": CHECKPOINT_FILES,
        "globs": GLOBS, "file_kinds": FILE_KINDS, "paths": PATHS, "dirs": DIRS,
        "separators": SEPARATORS, "conversions": CONVERSIONS, "models": MODELS,
        "devices": DEVICES, "specs": SPECS, "validatable": VALIDATABLE, "tasks": TASKS,
        "functions": FUNCTIONS, "accumulators": ACCUMULATORS, "environments": ENVIRONMENTS,
        "packages": PACKAGES, "topics": TOPICS, "recipients": RECIPIENTS, "keys": KEYS,
        "export_formats": EXPORT_FORMATS, "slot_keys": SLOT_KEYS, "loop_verbs": LOOP_VERBS,
        "items": ITEM_WORDS, "constants": CONSTANTS, "fractions": FRACTIONS,
        "variables": VARIABLES, "function_names": FUNCTION_NAMES, "spec_refs": SPEC_REFS,
        "impls": IMPLS, "shader_names": SHADER_NAMES, "kernel_names": KERNEL_NAMES,
        "pipeline_ids": PIPELINE_IDS,
    }
    sizes = {k: len(v) for k, v in groups.items()}
    sizes["words"] = len(WORDS)
    sizes["names"] = len(NAMES)
    sizes["record_keys"] = len(RECORD_KEYS)
    return sizes
