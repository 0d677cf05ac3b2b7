"""Long fuzz run of every HLX reader and of the prefix checker (hypothesis-driven).

    .venv/bin/python fuzz/fuzz_readers.py --minutes 5 [--seed N]

Rounds until the time is up; each round runs, with a fresh seed (printed with the round; ``--seed
N`` makes round 1 use N, round 2 N+1, ..., so ``--seed N --rounds 1`` replays a failing round):

* random and mutated inputs to every reader (LC-B bytes and ``[0x…]`` text, LC-T, LC-R, HLX,
  HLXL): the only exception allowed to escape is ``HLXError`` (with a known code); whatever a
  reader accepts must print and read back in every form;
* prefix-checker exactness: every prefix of canonical output is accepted, and the longest
  accepted prefix of a mutated text can really be completed into a text the reader accepts;
* text that is not valid Unicode -- lone surrogates anywhere, and invalid UTF-8 bytes read with
  ``surrogateescape`` as the CLI reads stdin -- into every reader, program reader, ``detect_form``
  and the prefix checker: always ``E_LC_DECODE`` at the first surrogate (False from the prefix
  checker); a stream of such lines through ``convert_lines`` gives one output per line, each
  valid UTF-8, and the good lines convert exactly as they do alone;
* adversarial 1 MiB LC-B messages, with their decode times printed.

Exit status 0 when nothing failed, 1 otherwise (the failing example is printed). atheris is not
used (hypothesis drives the inputs), so the script runs wherever the tests run.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from pathlib import Path

from hypothesis import HealthCheck, given, seed as hseed, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from completion import complete_by_search, lcb_pending_is_small, mutate  # noqa: E402
from strategies import operations, values  # noqa: E402

from helix.cli.lang import convert_lines, convert_text  # noqa: E402
from helix.hlx import hlxform, hlxl, hlxls, lcb, lcr, lct  # noqa: E402
from helix.hlx.convert import decode, detect_form, encode_all  # noqa: E402
from helix.hlx.errors import CODES, HLXError, first_surrogate  # noqa: E402
from helix.hlx.prefix import automaton_complete, is_valid_prefix  # noqa: E402
from helix.hlx.value import DEFAULT_SIZE_LIMIT, MAX_DEPTH  # noqa: E402

READERS = {"lc_b": lcb.loads_text, "lc_t": lct.loads, "lc_r": lcr.loads, "hlx": hlxform.loads,
           "hlxl": hlxl.loads}
ALPHABET = list('[](){}<>,:; "\\\'0123456789abcdefxABCDEF.-+e_@&hNULTRFSIKYOBJ') + \
    list("∅⊤⊥⊠⟁🜊🜁🜂🜃🜄◇◆\u0301é\x00\n")


def _only_hlx(fn, arg) -> bool:
    try:
        fn(arg)
        return True
    except HLXError as e:
        assert e.code in CODES, e
        return False


PROGRAM_READERS = {"hlxl_ls": hlxl.loads_program, "hlx_ls": hlxls.loads_program}
SURROGATES = st.one_of(st.integers(0xD800, 0xDFFF), st.integers(0xDC80, 0xDCFF)).map(chr)


def _decode_error(fn, text: str) -> HLXError:
    try:
        fn(text)
    except HLXError as e:
        return e
    raise AssertionError(f"{fn.__qualname__} accepted text that is not valid Unicode: {text!r}")


def make_props(examples: int, round_seed: int | None = None):
    cfg = settings(max_examples=examples, deadline=None, database=None,
                   suppress_health_check=list(HealthCheck))

    @cfg
    @given(st.binary(max_size=200))
    def lcb_bytes(data):
        if _only_hlx(lcb.loads, data):
            assert lcb.dumps(lcb.loads(data)) == data

    @cfg
    @given(st.one_of(st.text(max_size=80), st.text(alphabet=ALPHABET, max_size=80)))
    def text_readers(text):
        for fmt, reader in READERS.items():
            if _only_hlx(reader, text):
                v = decode(text, fmt)
                for f, t in encode_all(v).items():
                    assert lcb.dumps(decode(t, f)) == lcb.dumps(v)
            assert isinstance(is_valid_prefix(text, fmt), bool)

    @cfg
    @given(values(max_leaves=25), st.randoms(use_true_random=False))
    def mutated(v, rnd):
        for fmt, text in encode_all(v).items():
            bad = mutate(text, rnd, fmt)
            for reader in READERS.values():
                _only_hlx(reader, bad)
            raw = bytearray(lcb.dumps(v))
            if raw:
                raw[rnd.randrange(len(raw))] = rnd.randrange(256)
            _only_hlx(lcb.loads, bytes(raw))

    @cfg
    @given(st.one_of(values(max_leaves=25), operations()))
    def prefixes_of_canonical(v):
        for fmt, text in encode_all(v).items():
            for i in range(len(text) + 1):
                assert is_valid_prefix(text[:i], fmt), (fmt, text, i)
            assert automaton_complete(text, fmt)

    @cfg
    @given(values(max_leaves=10), st.randoms(use_true_random=False))
    def prefix_exactness(v, rnd):
        for fmt, text in encode_all(v).items():
            bad = mutate(text, rnd, fmt)
            k = 0
            while k < len(bad) and is_valid_prefix(bad[: k + 1], fmt):
                k += 1
            if fmt == "lc_b" and not lcb_pending_is_small(bad[:k]):
                continue  # the 1 MiB limit is only a lower bound there (documented in prefix.py)
            assert complete_by_search(bad[:k], fmt, budget=50_000) is not None, (fmt, text, bad, bad[:k])

    @cfg
    @given(st.one_of(values(max_leaves=10), operations()), st.data())
    def surrogates(v, data):
        for fmt, text in encode_all(v).items():
            i = data.draw(st.integers(0, len(text)))
            bad = text[:i] + data.draw(SURROGATES) + text[i:]
            at = first_surrogate(bad)
            assert at == i
            for name, reader in {**READERS, **PROGRAM_READERS, "detect": detect_form}.items():
                e = _decode_error(reader, bad)
                assert e.code == "E_LC_DECODE" and e.offset == at, (name, bad, e)
            assert is_valid_prefix(bad, fmt) is False and is_valid_prefix(bad[: i + 1], fmt) is False

    @cfg
    @given(st.lists(st.one_of(values(max_leaves=6).map(lambda v: encode_all(v)["hlxl"].encode()),
                              st.binary(max_size=30)), min_size=1, max_size=6),
           st.sampled_from(["lc_b", "hlx", "lc_r", "lc_t"]))
    def invalid_utf8_lines(lines, dst):
        raw = [b.replace(b"\n", b" ").replace(b"\r", b" ") for b in lines]
        texts = [b.decode("utf-8", "surrogateescape") for b in raw]
        got = list(convert_lines([t + "\n" for t in texts], "auto", dst, jsonl=True))
        assert len(got) == len(texts)
        for t, (out, err) in zip(texts, got):
            out.encode("utf-8")  # strict: never invalid UTF-8 on stdout
            assert err is None
            if first_surrogate(t) >= 0:
                assert '"E_LC_DECODE"' in out, (t, out)
            else:
                try:
                    want = convert_text(t, "auto", dst)
                except HLXError:
                    want = None
                assert (want is None) == ('"ok": false' in out), (t, out)

    props = [lcb_bytes, text_readers, mutated, prefixes_of_canonical, prefix_exactness, surrogates,
             invalid_utf8_lines]
    if round_seed is not None:
        props = [hseed(round_seed)(p) for p in props]
    return props


def adversarial() -> None:
    M = DEFAULT_SIZE_LIMIT
    cases = {
        "many nulls": b"\x05" + lcb.uleb(M - 10) + b"\x00" * (M - 10) + b"\x06",
        "many tiny texts": b"\x05" + lcb.uleb((M - 10) // 3) + b"\x03\x01a" * ((M - 10) // 3) + b"\x06",
        "many small ints": b"\x05" + lcb.uleb((M - 10) // 2) + b"\x01\x05" * ((M - 10) // 2) + b"\x06",
        "huge declared count": b"\x05\xff\xff\xff\xff\x0f" + b"\x00" * (M - 10),
        "long SLEB run": b"\x01" + b"\x80" * (M - 2) + b"\x00",
        "long ULEB run": b"\x03" + b"\xff" * (M - 2) + b"\x01",
        "deep nesting": (b"\x05\x01" * (MAX_DEPTH + 1) + b"\x00" + b"\x06" * (MAX_DEPTH + 1)).ljust(M, b"\x00"),
        "random bytes": random.Random(0).randbytes(M),
    }
    print("adversarial 1 MiB LC-B messages:")
    for name, data in cases.items():
        t = time.perf_counter()
        try:
            lcb.loads(data)
            r = "decoded"
        except HLXError as e:
            r = e.code
        print(f"  {name:22} {len(data):8d} bytes  {time.perf_counter() - t:6.3f} s  {r}")


def main() -> int:
    ap = argparse.ArgumentParser(description="Fuzz the HLX readers and the prefix checker.")
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--examples", type=int, default=500, help="examples per property per round")
    ap.add_argument("--seed", type=int, default=None,
                    help="seed of round 1 (round k uses seed+k-1); default: a random one")
    ap.add_argument("--rounds", type=int, default=None, help="stop after this many rounds")
    ap.add_argument("--no-adversarial", action="store_true", help="skip the 1 MiB LC-B messages")
    args = ap.parse_args()
    if not args.no_adversarial:
        adversarial()
    first = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    deadline = time.monotonic() + args.minutes * 60
    rounds = 0
    examples = 0
    while time.monotonic() < deadline and (args.rounds is None or rounds < args.rounds):
        rounds += 1
        round_seed = first + rounds - 1
        random.seed(round_seed)
        props = make_props(args.examples, round_seed)
        print(f"round {rounds}: seed {round_seed}", flush=True)
        for prop in props:
            if time.monotonic() >= deadline:
                break
            t = time.perf_counter()
            try:
                prop()
            except Exception:  # a failing property: print it and stop
                traceback.print_exc()
                print(f"FAILED: {prop.__name__} (round {rounds}, seed {round_seed}; replay with "
                      f"--seed {round_seed} --rounds 1 --examples {args.examples})")
                return 1
            examples += args.examples
            print(f"round {rounds}: {prop.__name__:22} {args.examples} examples  {time.perf_counter() - t:6.1f} s",
                  flush=True)
    print(f"ok: {rounds} round(s), {examples} examples, no failure (first seed {first})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
