"""`helix ask`: route a request, let the right brain answer it, check the answer.

:class:`System` loads a run's best checkpoints once (lazily, per brain) and is cached per
(run directory, device), so the server and repeated calls reuse the loaded models.

For each request: :func:`helix.system.router.route` picks the source form, the target form and
the expert. HLX -> HLX requests are converted exactly by the language core. Otherwise the expert
generates greedily (KV cache); the answer is parsed by the language core; an answer that does not
parse is generated again with grammar-constrained decoding (only tokens that keep the output a
valid prefix of the target form; ``<eos>`` only where the text is complete) and reported as
such. An answer that still does not parse is reported as invalid (``ok`` False), never as good.
The coordinator's learned route tag is read for every model request (for a specialist's request
with a one-token generation) and compared with the rule.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from helix.ml.hlxcheck import check, prefix_constraint
from helix.ml.tokenizer import BRAINS
from helix.system import answer as ans
from helix.system.literals import copy_check, describe_missing
from helix.system.router import FORM_LABEL, PROGRAM_FORMS, VALUE_FORMS, Route, RouteError, expert_for, route

#: Which specialist answers in which form for ``--check``.
CHECK_FORMS = {"ascii": "lc_t", "runic": "lc_r"}
MAX_TEXT_CHARS = 4000


@dataclass
class Answer:
    request: str
    route: Route
    text: str | None = None  # the answer; None when there is no valid one
    valid: bool | None = None  # parses in the target form (None: English, not checkable)
    ok: bool = False  # an answer to show as good
    constrained: bool = False  # came from the constrained retry
    first_attempt: str | None = None  # the unconstrained output when it did not parse
    finished: bool = True  # the model ended with <eos>
    model_route: str | None = None  # the coordinator's route tag
    route_agrees: bool | None = None
    error: dict | None = None  # {"code", "message", ...} when something failed
    check: dict | None = None
    copy: dict | None = None  # the request's literals and whether the answer carries them
    path: str = "raw"  # "core" (exact conversion), "system" (candidates and vote) or "raw" (the routed expert)
    candidates: list[dict] | None = None  # the system path's candidates (brain, form, text, logprob, ...)
    vote: dict | None = None  # the system path's vote: values, scores, the chosen one, reasons
    raw_text: str | None = None  # the system path: the routed expert's own answer in the target form
    notes: list[str] = field(default_factory=list)
    ms: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["route"] = self.route.to_dict()
        return d

    @property
    def status(self) -> str:
        if self.ok:
            if self.path == "system":
                return f"valid (the value {len(self.vote['votes'][0]['candidates'])} of {len(self.candidates)} candidates agree on)"
            if self.valid is None:
                return "unchecked (English has no parser)"
            return "valid (after constrained retry)" if self.constrained else "valid"
        return "invalid" if self.valid is False else "error"


def _hlx():
    import helix.hlx as h

    return h


def _error_dict(e: BaseException) -> dict:
    to_dict = getattr(e, "to_dict", None)
    if callable(to_dict):
        try:
            return to_dict()
        except Exception:  # pragma: no cover
            pass
    if isinstance(e, FileNotFoundError):  # a brain the run does not have
        return {"code": "E_NO_MODEL", "message": str(e)}
    return {"code": "E_MODEL", "message": f"{type(e).__name__}: {e}"}


#: (parses?, error) of ``text`` in form ``fmt``; (None, None) for English.
is_valid = check


#: Grammar constraint for generation: (is a valid prefix, is complete) in ``tgt_fmt``: every
#: candidate of the system path, and the raw path's retry of an answer that does not parse.
constraint = prefix_constraint


def checkpoint_dir(run_dir: Path, brain: str) -> Path:
    """A brain's best checkpoint in a run (``last`` when no best was kept)."""
    base = Path(run_dir) / brain / "checkpoints"
    from helix.ml.checkpoint import CheckpointError, check_consistency, resolve_dir

    stale = check_consistency(base)
    if stale:  # a crash between writing last and promoting best: say so, never serve silently
        print(f"warning: the {brain} brain's checkpoints are inconsistent ({'; '.join(stale)[:300]}); "
              f"`helix train --resume` or `helix launch --resume` repairs them", file=sys.stderr)
    try:
        return resolve_dir(base.parent)
    except CheckpointError:
        raise FileNotFoundError(f"no checkpoint for the {brain} brain under {base} (trained yet?)") from None


class System:
    """The three brains of one run, loaded once, plus the language core."""

    def __init__(self, run_dir: str | Path | None, device: str = "cpu", *, brains: dict | None = None,
                 max_new_tokens: int = 256, cross_check: bool = True, threads: int | None = None,
                 answer_forms: dict | None = None, stack_rows: int = 16) -> None:
        self.run_dir = Path(run_dir).resolve() if run_dir else None
        # the system path decodes every brain in one batch on stacked weights when the brains
        # share a shape and a tokenizer (the CPU presets) and no brain has more than this many
        # candidate rows (small batches cost per-operation overhead, not arithmetic); 0: never
        self.stack_rows = stack_rows
        self._stack = None
        self.device = device
        # torch CPU threads for generation. One is the default: on the small brains a second
        # thread buys little, and on a busy 2-core machine it was measured 100x slower
        # (docs/SYSTEM.md). HELIX_NUM_THREADS or ``threads`` override it.
        self.threads = threads or int(os.environ.get("HELIX_NUM_THREADS") or 1)
        self.max_new_tokens = max_new_tokens
        self.cross_check = cross_check
        self._brains: dict = dict(brains or {})
        self._load_errors: dict[str, str] = {}
        self._lock = threading.RLock()  # one generation at a time (the models are shared)
        if answer_forms is not None:
            self.answer_forms, self.forms_from = dict(answer_forms), "given"
        else:
            self.answer_forms, self.forms_from = ans.answer_forms(self.run_dir)

    # ------------------------------------------------------------------ models

    def brain(self, name: str):
        with self._lock:
            if name in self._brains:
                return self._brains[name]
            if self.run_dir is None:
                raise FileNotFoundError(f"no run directory: the {name} brain is not loaded")
            from helix.ml.generate import Brain

            if self.device == "cpu":
                import torch

                torch.set_num_threads(self.threads)
            try:
                b = Brain.load(checkpoint_dir(self.run_dir, name), device=self.device)
            except Exception as e:
                self._load_errors[name] = str(e)
                raise
            self._brains[name] = b
            return b

    def load_all(self) -> dict[str, str]:
        """Load every brain now; returns brain -> "loaded" or the reason it is not."""
        out = {}
        for name in BRAINS:
            try:
                self.brain(name)
                out[name] = "loaded"
            except Exception as e:
                out[name] = f"unavailable: {e}"
        return out

    @property
    def loaded(self) -> list[str]:
        return sorted(self._brains)

    # ------------------------------------------------------------------ answering

    def convert(self, text: str, src: str | None, dst: str) -> tuple[str, str]:
        """Exact conversion by the language core; returns (result, source form)."""
        h = _hlx()
        if src is None:
            src = h.detect_form(text)
            if src is None:
                raise RouteError("the text is not in any HLX form (name src to see the parse error)")
        return h.convert(text, src, dst), src

    def ask(self, text: str, to: str | None = None, *, check: bool = False, raw: bool = False) -> Answer:
        return self.ask_many([(text, to)], check=check, raw=raw)[0]

    def ask_many(self, requests: Iterable[tuple[str, str | None]], *, check: bool = False,
                 max_new_tokens: int | None = None, raw: bool = False) -> list[Answer]:
        """Answer many requests; model requests are batched per expert. Value targets take the
        system path (:mod:`helix.system.answer`) unless ``raw``: then the routed expert alone."""
        t0 = time.perf_counter()
        answers: list[Answer] = []
        for text, to in requests:
            if isinstance(text, str) and len(text) > MAX_TEXT_CHARS:
                raise RouteError(f"request too long ({len(text)} characters; at most {MAX_TEXT_CHARS})")
            answers.append(Answer(request=text, route=route(text, to)))
        t_route = time.perf_counter()
        self.answer(answers, check=check, max_new_tokens=max_new_tokens, raw=raw)
        t_end = time.perf_counter()
        for a in answers:
            a.ms.setdefault("route", round((t_route - t0) * 1000 / max(1, len(answers)), 3))
            a.ms["total"] = round((t_end - t0) * 1000, 3)
        return answers

    def answer_records(self, records: Iterable[tuple[str, str, str]], *, raw: bool = False,
                       max_new_tokens: int | None = None) -> list[Answer]:
        """Answer (src_fmt, text, tgt_fmt) requests whose forms are known (``helix eval --system``):
        the same path as :meth:`ask_many`, without the router's detection."""
        answers = []
        for src_fmt, text, tgt_fmt in records:
            direct = src_fmt != "english" and tgt_fmt != "english"
            expert = "core" if direct else expert_for(tgt_fmt)
            answers.append(Answer(request=text, route=Route(src_fmt, tgt_fmt, expert, "given", direct, text, "--to")))
        self.answer(answers, max_new_tokens=max_new_tokens, raw=raw, route_tags=False)
        return answers

    def answer(self, answers: list[Answer], *, check: bool = False, max_new_tokens: int | None = None,
               raw: bool = False, route_tags: bool = True) -> None:
        """Fill routed answers in place: the core's exact conversions, then the models'."""
        mnt = max_new_tokens or self.max_new_tokens
        with self._lock:
            self._answer_direct([a for a in answers if a.route.direct])
            for a in answers:
                if a.route.direct:
                    a.path = "core"
            model_answers = [a for a in answers if not a.route.direct]
            voted = [] if raw else [a for a in model_answers if a.route.tgt_fmt in VALUE_FORMS]
            self._answer_system(voted, mnt)
            self._answer_models([a for a in model_answers if a not in voted], mnt)
            self._copy_check(model_answers)
            if self.cross_check and route_tags:
                self._route_tags(model_answers)
            if check:
                self._check(model_answers, mnt)

    def _answer_direct(self, answers: list[Answer]) -> None:
        h = _hlx()
        for a in answers:
            try:
                a.text = h.convert(a.route.text, a.route.src_fmt, a.route.tgt_fmt)
                a.valid = True
                a.ok = True
            except Exception as e:
                a.error = _error_dict(e)
                a.valid = False

    def _generate(self, expert: str, reqs: list[tuple[str, str, str]], max_new_tokens: int, constraint=None):
        return self.brain(expert).generate(reqs, max_new_tokens=max_new_tokens, constraint=constraint)

    def _generate_each(self, expert: str, reqs: list[tuple[str, str, str]], max_new_tokens: int, constraint=None):
        """Generate a batch; if the batch fails (one request too long for the context, say),
        generate one by one so that only the bad request fails. Returns Generation or exception."""
        try:
            return list(self._generate(expert, reqs, max_new_tokens, constraint))
        except FileNotFoundError:
            raise
        except Exception as e:  # noqa: BLE001
            if len(reqs) == 1:
                return [e]
        out = []
        for r in reqs:
            try:
                out.append(self._generate(expert, [r], max_new_tokens, constraint)[0])
            except Exception as e:  # noqa: BLE001
                out.append(e)
        return out

    def _answer_models(self, answers: list[Answer], mnt: int) -> None:
        by_expert: dict[str, list[Answer]] = {}
        for a in answers:
            by_expert.setdefault(a.route.expert, []).append(a)
        for expert, group in by_expert.items():
            t = time.perf_counter()
            try:
                gens = self._generate_each(expert, [(a.route.src_fmt, a.route.text, a.route.tgt_fmt) for a in group], mnt)
            except Exception as e:  # the brain is not there
                for a in group:
                    a.error = _error_dict(e)
                continue
            retry: list[Answer] = []
            for a, g in zip(group, gens):
                if isinstance(g, Exception):
                    a.error = _error_dict(g)
                    continue
                if expert == "coordinator":
                    a.model_route = g.route
                a.finished = bool(g.finished)
                valid, err = is_valid(a.route.tgt_fmt, g.text)
                a.valid = valid
                if valid is None:  # English: shown, flagged as unchecked, if the model finished it
                    if g.finished:
                        a.text, a.ok = g.text, True
                    else:
                        a.first_attempt = g.text
                        a.error = {"code": "E_UNFINISHED", "message": "the model hit the length limit "
                                   f"({mnt} tokens) before ending its answer"}
                elif valid:
                    a.text, a.ok = g.text, True
                else:
                    a.first_attempt = g.text
                    a.error = err
                    retry.append(a)
            gen_ms = (time.perf_counter() - t) * 1000
            if retry:
                t2 = time.perf_counter()
                try:
                    gens2 = self._generate(
                        expert, [(a.route.src_fmt, a.route.text, a.route.tgt_fmt) for a in retry], mnt,
                        constraint=constraint,
                    )
                except Exception as e:
                    gens2 = None
                    for a in retry:
                        a.notes.append(f"constrained retry failed: {e}")
                for i, a in enumerate(retry):
                    a.constrained = True
                    if gens2 is None:
                        continue
                    g = gens2[i]
                    valid, err = is_valid(a.route.tgt_fmt, g.text)
                    a.finished = bool(g.finished)
                    if valid:
                        a.text, a.valid, a.ok, a.error = g.text, True, True, None
                        a.notes.append("the first answer did not parse; this one comes from constrained decoding")
                    else:
                        a.text, a.valid, a.ok = None, False, False
                        a.error = err or a.error
                        a.notes.append("no valid answer: the constrained retry did not complete a valid text")
                retry_ms = (time.perf_counter() - t2) * 1000
                for a in retry:
                    a.ms["constrained"] = round(retry_ms, 3)
            for a in group:
                a.ms["generate"] = round(gen_ms, 3)

    def _answer_system(self, answers: list[Answer], mnt: int) -> None:
        """The system path: every answer's candidates (constrained; one batch on stacked weights, or
        one per brain), the vote, the chosen value rendered in the target form by the core."""
        if not answers:
            return
        loaded = set()
        for b in BRAINS:
            try:
                self.brain(b)
                loaded.add(b)
            except Exception:  # noqa: BLE001 - a brain the run lacks simply gives no candidate
                pass
        plans = [ans.plan(a.route.tgt_fmt, self.answer_forms, loaded | {a.route.expert}) for a in answers]
        jobs: dict[str, list[ans.Candidate]] = {}
        for a, cands in zip(answers, plans):
            for c in cands:
                jobs.setdefault(c.brain, []).append((a, c))

        reqs = {b: list(dict.fromkeys((a.route.src_fmt, a.route.text, c.fmt) for a, c in items))  # each once
                for b, items in jobs.items()}
        stacked = self._generate_stacked(reqs, mnt)
        # else one brain after another: decoding the brains in threads side by side was slower on
        # two cores (system p50 305 ms against 250 ms, bench_ask, machine B: the GIL), docs/RESULTS.md
        for brain, items in jobs.items():
            t = time.perf_counter()
            if stacked is not None:
                done, ms = dict(zip(reqs[brain], stacked[0][brain])), stacked[1]
            else:
                try:
                    done = dict(zip(reqs[brain], self._generate_each(brain, reqs[brain], mnt, constraint=constraint)))
                except Exception as e:  # noqa: BLE001 - the brain is not there
                    done = dict.fromkeys(reqs[brain], e)
                ms = round((time.perf_counter() - t) * 1000, 3)
            for a, c in items:
                g = done[(a.route.src_fmt, a.route.text, c.fmt)]
                a.ms["generate_stacked" if stacked is not None else f"generate_{brain}"] = ms
                if isinstance(g, Exception):
                    c.error = _error_dict(g)
                    continue
                ans.parse(c, g.text, g.logprob, bool(g.finished))
                if c.routed:
                    a.raw_text, a.finished = g.text, bool(g.finished)
                if brain == "coordinator" and c.fmt == a.route.tgt_fmt:
                    a.model_route = g.route  # its prompt is the request's own: the learned route, no extra pass
        for a, cands in zip(answers, plans):
            a.path = "system"
            outcome = ans.decide(a.route.text, a.route.src_fmt, a.route.tgt_fmt, cands)
            a.candidates = [c.to_dict() for c in cands]
            a.vote = dict(outcome, forms_from=self.forms_from)
            routed = cands[0]
            if outcome["text"] is None:
                a.valid, a.ok = False, False
                a.error = routed.error if routed.error else {"code": "E_NO_ANSWER", "message": "no candidate parses"}
                a.error = dict(a.error, message=f"no candidate parses: {'; '.join(outcome['reasons'])}"[:2000])
                a.notes.append("no answer: no expert gave a text the language core reads (reasons above)")
                continue
            a.text, a.valid, a.ok, a.error = outcome["text"], True, True, None
            if not routed.valid:
                a.notes.append(f"the routed expert's answer does not parse; the value comes from "
                               f"{len(outcome['votes'][0]['candidates'])} other candidate(s)")
            elif 0 not in outcome["votes"][0]["candidates"]:
                a.notes.append(f"the routed expert answered {a.raw_text!r}; the vote chose another value")

    def _generate_stacked(self, reqs: dict[str, list[tuple[str, str, str]]], mnt: int):
        """Every brain's candidates in one batch on the stacked weights (``helix.ml.stacked``):
        ({brain: generations}, ms), or None where the brains cannot share a batch (different
        shapes or tokenizers, a brain missing, a batch past ``stack_rows`` rows per brain, a
        request too long) and each brain decodes its own."""
        if not self.stack_rows or len(reqs) < 2 or max(len(r) for r in reqs.values()) > self.stack_rows:
            return None
        if self._stack is None:
            from helix.ml.stacked import stack_brains

            try:
                brains = {b: self.brain(b) for b in BRAINS}
            except Exception:  # noqa: BLE001 - a brain the run lacks: no stack
                return None
            self._stack = stack_brains(brains) or False
        if not self._stack or not set(reqs) <= set(self._stack.names):
            return None
        t = time.perf_counter()
        try:
            gens = self._stack.generate(reqs, max_new_tokens=mnt, constraint=constraint)
        except ValueError:  # a request the context cannot hold: each brain's path says which
            return None
        return gens, round((time.perf_counter() - t) * 1000, 3)

    def _copy_check(self, answers: list[Answer]) -> None:
        """Flag an answer that does not carry the English request's literals (helix.system.literals)."""
        for a in answers:
            if a.text is None or a.route.src_fmt != "english":
                continue
            a.copy = copy_check(a.route.text, a.text, a.route.tgt_fmt)
            if a.copy["missing"]:
                a.notes.append(f"the answer does not carry the request's {describe_missing(a.copy)}: the brain may "
                               "have swapped in something it knows; check it before use")

    def _route_tags(self, answers: list[Answer]) -> None:
        """The coordinator's learned route for specialist requests (a one-token generation)."""
        need = [a for a in answers if a.model_route is None and a.route.expert != "coordinator"]
        if need:
            try:
                gens = self._generate(
                    "coordinator", [(a.route.src_fmt, a.route.text, a.route.tgt_fmt) for a in need], 1
                )
                for a, g in zip(need, gens):
                    a.model_route = g.route
            except Exception as e:
                for a in need:
                    a.notes.append(f"no learned route (coordinator unavailable: {e})")
        for a in answers:
            if a.model_route is not None:
                a.route_agrees = a.model_route == expert_for(a.route.tgt_fmt)
                if not a.route_agrees:
                    a.notes.append(
                        f"route disagreement: the coordinator's learned route is {a.model_route!r}, "
                        f"the rule says {a.route.expert!r} (the rule was followed)"
                    )

    def _check(self, answers: list[Answer], mnt: int) -> None:
        """Ask the other specialist(s) too and compare decoded values."""
        h = _hlx()
        jobs: dict[str, list[tuple[Answer, str]]] = {}
        for a in answers:
            if a.route.src_fmt in PROGRAM_FORMS or a.route.tgt_fmt in PROGRAM_FORMS + ("english",):
                a.check = {"agree": None, "reason": "--check compares values; this request is not a value"}
                continue
            others = [e for e in CHECK_FORMS if e != a.route.expert]
            a.check = {"agree": None, "answers": {}}
            for e in others:
                jobs.setdefault(e, []).append((a, CHECK_FORMS[e]))
        for expert, items in jobs.items():
            try:
                gens = self._generate(expert, [(a.route.src_fmt, a.route.text, fmt) for a, fmt in items], mnt,
                                      constraint=constraint)
            except Exception as e:
                for a, fmt in items:
                    a.check["answers"][expert] = {"fmt": fmt, "text": None, "valid": False,
                                                  "error": _error_dict(e)}
                continue
            for (a, fmt), g in zip(items, gens):
                valid, err = is_valid(fmt, g.text)
                a.check["answers"][expert] = {"fmt": fmt, "text": g.text, "valid": bool(valid), "error": err}
        for a in answers:
            if not a.check or "answers" not in a.check:
                continue
            if not a.ok:
                a.check["reason"] = "the main answer is not valid"
                continue
            try:
                mine = h.decode(a.text, a.route.tgt_fmt)
            except Exception:  # pragma: no cover - a.ok implies it parses
                continue
            agree = True
            for e, other in a.check["answers"].items():
                if not other["valid"]:
                    other["agree"] = False
                    agree = False
                    continue
                other["agree"] = bool(h.values_equal(mine, h.decode(other["text"], other["fmt"])))
                agree = agree and other["agree"]
            a.check["agree"] = agree


_CACHE: dict[tuple[str, str], System] = {}
_CACHE_LOCK = threading.Lock()


def get_system(run_dir: str | Path, device: str = "cpu") -> System:
    """The cached :class:`System` of a run (models are loaded once per process)."""
    key = (str(Path(run_dir).resolve()), device)
    with _CACHE_LOCK:
        sys_ = _CACHE.get(key)
        if sys_ is None:
            sys_ = _CACHE[key] = System(run_dir, device)
        return sys_


def _extra_forms(a: Answer) -> str:
    return (a.vote or {}).get("forms_from", "") + ": " + ( ", ".join(f"{c['brain']} {FORM_LABEL[c['fmt']]}" for c in a.candidates if not c["routed"]) or "none")


def describe(a: Answer) -> list[str]:
    """Human lines for ``--explain``."""
    r = a.route
    lines = [
        f"route:    {FORM_LABEL[r.src_fmt]} -> {FORM_LABEL[r.tgt_fmt]} via "
        f"{'the language core (exact, no model)' if r.direct else r.expert + ' brain'}",
        f"reason:   {r.reason}",
    ]
    if r.text != a.request.strip():
        lines.append(f"input:    {r.text!r}")
    if a.model_route is not None:
        lines.append(
            f"learned:  coordinator route tag <route:{a.model_route}> "
            f"({'agrees' if a.route_agrees else 'DISAGREES'} with the rule)"
        )
    lines.append(f"validity: {a.status}")
    if a.path == "system" and a.candidates is not None:
        lines.extend(ans.explain_lines(a.candidates, a.vote, _extra_forms(a)))
    if a.copy is not None:
        if not a.copy["literals"]:
            lines.append("copy:     the request has no literal to carry (quoted text, path, name, number)")
        elif a.copy["ok"]:
            lines.append("copy:     the answer carries every literal of the request ("
                         + ", ".join(f"{r['kind']} {r['text']!r}" for r in a.copy["literals"]) + ")")
        else:
            lines.append(f"copy:     MISSING from the answer: {describe_missing(a.copy)}")
    if a.first_attempt is not None:
        lines.append(f"first:    {a.first_attempt!r} (did not parse)")
    if a.error and not a.ok:
        e = a.error
        where = ""
        if e.get("line") is not None:
            where = f" at {e['line']}:{e.get('col', 1)}"
        elif e.get("offset") is not None:
            where = f" at offset {e['offset']}"
        lines.append(f"error:    {e.get('code')}{where}: {e.get('message')}")
    if a.check:
        if a.check.get("answers"):
            for e, o in a.check["answers"].items():
                lines.append(
                    f"check:    {e} brain in {FORM_LABEL[o['fmt']]}: {o['text']!r} "
                    f"({'agrees' if o.get('agree') else 'disagrees' if o.get('agree') is False else 'n/a'})"
                )
        lines.append(f"agree:    {a.check.get('agree')}" + (f" ({a.check['reason']})" if a.check.get("reason") else ""))
    for n in a.notes:
        lines.append(f"note:     {n}")
    if a.ms:
        lines.append("time:     " + ", ".join(f"{k} {v:.1f} ms" for k, v in a.ms.items()))
    return lines
