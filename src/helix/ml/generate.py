"""Generation: batched greedy or sampled decoding with a KV cache, optional grammar constraint.

``Brain`` is the public entry point used by the rest of the system::

    brain = Brain.load("runs/x/checkpoints/best")
    [g] = brain.generate([("english", "Represent true", "lc_r")])
    g.text, g.route, g.finished

Prompts are left-padded so that every row's next token sits in the same column; each row keeps its
own positions and a key mask hides the padding. Only text tokens and ``<eos>`` can be generated
(plus a route tag as the coordinator's first token).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from helix.ml.checkpoint import CheckpointError, load_checkpoint
from helix.ml.model import GPT, KVCache
from helix.ml.tokenizer import BRAINS, Tokenizer

#: (target form, text) -> (a valid prefix, complete). A constraint may also carry ``prefix_ok(form,
#: text)``, the first half alone: decoding then asks for completeness only where ``<eos>`` would end.
Constraint = Callable[[str, str], "tuple[bool, bool]"]


@dataclass
class Generation:
    text: str  # the decoded target, specials stripped
    route: str | None  # coordinator only: its first output token
    tokens: list[int] = field(default_factory=list)  # generated token ids (route tag, chars, <eos>)
    finished: bool = False  # hit <eos>
    logprob: float = 0.0  # the model's log-probability of the answer tokens (<eos> included, route tag not)


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device} requested but CUDA is not available")
    return dev


def _autocast(device: torch.device, enabled: bool):
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


_MASKS: dict = {}


def _allowed_masks(tok: Tokenizer, vocab: int, with_route: bool, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(first step's allowed tokens, later steps'), cached per tokenizer, shape and device."""
    key = (id(tok), vocab, with_route, str(device))
    hit = _MASKS.get(key)
    if hit is None or hit[0] is not tok:  # the tokenizer kept in the entry: an id is never reused for it
        if len(_MASKS) > 64:
            _MASKS.clear()
        hit = _MASKS[key] = (tok, *_build_masks(tok, vocab, with_route, device))
    return hit[1], hit[2]


def _build_masks(tok: Tokenizer, vocab: int, with_route: bool, device) -> tuple[torch.Tensor, torch.Tensor]:
    body = torch.zeros(vocab, dtype=torch.bool)
    for i in tok.text_ids.values():
        body[i] = True
    body[tok.eos_id] = True
    if with_route:
        first = torch.zeros(vocab, dtype=torch.bool)
        for i in tok.route_ids.values():
            first[i] = True
    else:
        first = body
    return first.to(device), body.to(device)


@torch.no_grad()
def generate_ids(
    model: GPT,
    tok: Tokenizer,
    prompts: list[list[int]],
    *,
    with_route: bool | list[bool] = False,
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    constraint: Constraint | None = None,
    tgt_fmts: list[str] | None = None,
    use_cache: bool = True,
    amp: bool = True,
    logprobs: list[float] | None = None,
    keep_rows: bool = False,
    padding_rows: list[bool] | None = None,
) -> list[tuple[list[int], bool]]:
    """Decode one batch of prompts; returns (generated ids, finished) per prompt. A ``logprobs``
    list receives each prompt's log-probability of its answer under the model's own (unconstrained)
    distribution: the sum over the chosen tokens, ``<eos>`` included, the route tag left out.
    ``with_route`` per row (or for all): its first token is a route tag (the coordinator's rows).
    ``keep_rows``: a finished row stays in the batch (feeding padding) instead of being dropped,
    as a :class:`helix.ml.stacked.StackedGPT` needs (the same rows per expert); ``padding_rows``
    (with ``keep_rows``) marks rows that only fill the batch: they decode nothing."""
    from helix.ml.precision import denormals_flushed

    with denormals_flushed():
        return _generate_ids(model, tok, prompts, with_route=with_route, max_new_tokens=max_new_tokens,
                             temperature=temperature, top_k=top_k, generator=generator, constraint=constraint,
                             tgt_fmts=tgt_fmts, use_cache=use_cache, amp=amp, logprobs=logprobs,
                             keep_rows=keep_rows, padding_rows=padding_rows)


def _generate_ids(model, tok, prompts, *, with_route, max_new_tokens, temperature, top_k, generator,
                  constraint, tgt_fmts, use_cache, amp, logprobs=None, keep_rows=False, padding_rows=None):
    device = next(model.parameters()).device
    cfg = model.cfg
    B = len(prompts)
    if B == 0:
        return []
    route_rows = [bool(with_route)] * B if isinstance(with_route, bool) else [bool(r) for r in with_route]
    if len(route_rows) != B:
        raise ValueError(f"with_route: {len(route_rows)} flags for {B} prompts")
    lens = torch.tensor([len(p) for p in prompts])
    L = int(lens.max())
    budget = max(0, min(max_new_tokens, cfg.max_len - int(lens.min())))
    cap = L + budget
    idx = torch.full((B, cap), tok.pad_id, dtype=torch.long)
    valid = torch.zeros((B, cap), dtype=torch.bool)
    for b, p in enumerate(prompts):
        idx[b, L - len(p) : L] = torch.tensor(p, dtype=torch.long)
        valid[b, L - len(p) : L] = True
    idx, valid = idx.to(device), valid.to(device)
    pos_all = (valid.long().cumsum(1) - 1).clamp(min=0)
    next_pos = lens.to(device)  # position of each present row's next token
    route_ok, body_ok = _allowed_masks(tok, cfg.vocab_size, any(route_rows), device)
    if all(route_rows) or not any(route_rows):
        first_ok = route_ok
    else:  # the coordinator's rows beside others: a route tag first only where the row asks for one
        flags = torch.tensor(route_rows, device=device)[:, None]
        first_ok = torch.where(flags, route_ok, body_ok)
    first_no, body_no = ~first_ok, ~body_ok

    out: list[list[int]] = [[] for _ in range(B)]
    finished = [False] * B
    texts = [""] * B
    caps = [False] * B  # a case marker (<cap>) waits for the piece it capitalises
    lp = [0.0] * B
    rows = torch.arange(B, device=device)  # original row of each present row
    active = list(range(B))  # original rows still decoding (the present ones, unless keep_rows)
    if padding_rows is not None:
        if not keep_rows or len(padding_rows) != B:
            raise ValueError("padding_rows needs keep_rows and one flag per prompt")
        active = [r for r in range(B) if not padding_rows[r]]
        if not active:
            return [([], False)] * B
    use_amp = amp and device.type == "cuda"
    cache = None
    if use_cache:
        dtype = torch.bfloat16 if use_amp else next(model.parameters()).dtype
        cache = KVCache(cfg, B, cap, device, dtype)
    with _autocast(device, use_amp):
        if use_cache:
            logits = model(idx[:, :L], pos=pos_all[:, :L], key_valid=valid, cache=cache, last_only=True)
        else:
            logits = model(idx[:, :L], pos=pos_all[:, :L], key_valid=valid[:, :L], last_only=True)
        for step in range(budget):
            logits = logits[:, -1].float()
            some = keep_rows and len(active) < B  # rows kept but no longer decoding
            act_t = torch.tensor(active, device=device) if some or (step == 0 and first_no.dim() == 2) else None
            if some:
                logits = logits.index_select(0, act_t)
            if step == 0:
                blocked = first_no if first_no.dim() == 1 else first_no.index_select(0, act_t)
            else:
                blocked = body_no
            logits = logits.masked_fill(blocked, float("-inf"))
            route_step = [step == 0 and route_rows[r] for r in active]
            choice = _choose(
                logits, tok, temperature, top_k, generator, constraint,
                [tgt_fmts[r] if tgt_fmts else "" for r in active], [texts[r] for r in active],
                route_step, [caps[r] for r in active],
            )
            col = L + step
            done_now = []
            if logprobs is not None and not all(route_step):
                picked = torch.tensor([c if c is not None else 0 for c in choice], device=device)
                row_lp = torch.log_softmax(logits, -1).gather(1, picked[:, None]).squeeze(1).tolist()
                for j, r in enumerate(active):
                    if choice[j] is not None and not route_step[j]:
                        lp[r] += row_lp[j]
            for j, r in enumerate(active):
                t = choice[j]
                if t is None:  # the constraint left no admissible token
                    done_now.append(j)
                    continue
                out[r].append(t)
                if t == tok.eos_id:
                    finished[r] = True
                    done_now.append(j)
                else:
                    texts[r], caps[r] = tok.extend(texts[r], caps[r], t)
                    # a row whose next position would leave the context stops (unfinished)
                    if int(next_pos[r if keep_rows else j]) + 1 >= cfg.max_len:
                        done_now.append(j)
            if keep_rows:
                present = [tok.pad_id] * B
                for j, r in enumerate(active):
                    present[r] = choice[j] if choice[j] is not None else tok.pad_id
            else:
                present = [c if c is not None else tok.pad_id for c in choice]
            step_tokens = torch.tensor(present, dtype=torch.long, device=device)
            valid[rows, col] = True
            if not use_cache:  # the cache holds the past; without it every step reads it again
                idx[rows, col] = step_tokens
                pos_all[rows, col] = next_pos
            next_pos = next_pos + 1
            if done_now:
                keep = [j for j in range(len(active)) if j not in set(done_now)]
                if not keep:
                    break
                active = [active[j] for j in keep]
                if not keep_rows:
                    keep_t = torch.tensor(keep, device=device)
                    rows = rows.index_select(0, keep_t)
                    next_pos = next_pos.index_select(0, keep_t)
                    step_tokens = step_tokens.index_select(0, keep_t)
                    if cache is not None:
                        cache.reorder(keep_t)
            if step == budget - 1:
                break
            if use_cache:
                logits = model(
                    step_tokens[:, None], pos=next_pos[:, None] - 1, key_valid=valid[rows],
                    cache=cache, last_only=True,
                )
            else:
                n = col + 1
                logits = model(idx[rows, :n], pos=pos_all[rows, :n], key_valid=valid[rows, :n], last_only=True)
    if logprobs is not None:
        logprobs[:] = lp
    return [(out[b], finished[b]) for b in range(B)]


def _choose(logits, tok, temperature, top_k, generator, constraint, fmts, texts, route_step, caps=None):
    """Next token per active row (None: nothing admissible under the constraint). ``route_step``
    per row: its route tag, chosen without the grammar constraint."""
    if temperature and temperature > 0:
        scores = logits / temperature
        if top_k:
            kth = torch.topk(scores, min(top_k, scores.size(-1)), dim=-1).values[:, -1:]
            scores = scores.masked_fill(scores < kth, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
    else:
        probs = None
    free = [constraint is None or r for r in route_step]
    if all(free):
        if probs is None:
            return logits.argmax(-1).tolist()
        return torch.multinomial(probs, 1, generator=generator).squeeze(1).tolist()
    res = []
    for j in range(logits.size(0)):
        if free[j]:
            res.append(int(logits[j].argmax()) if probs is None
                       else int(torch.multinomial(probs[j], 1, generator=generator)))
            continue
        res.append(_choose_constrained(logits[j], None if probs is None else probs[j].clone(),
                                       tok, generator, constraint, fmts[j], texts[j],
                                       bool(caps and caps[j])))
    return res


#: Greedy constrained decoding looks at the best few tokens first (almost always one of them is
#: admissible), then at the whole ranked vocabulary.
_FIRST_LOOK = 8


def _choose_constrained(logit_row, prob_row, tok, generator, constraint, fmt, text, cap=False):
    complete = None
    prefix_ok = getattr(constraint, "prefix_ok", None) or (lambda f, t: constraint(f, t)[0])

    def admissible(t: int) -> bool:
        nonlocal complete
        if t == tok.eos_id:
            if complete is None:
                complete = bool(constraint(fmt, text)[1])
            return complete
        if t == tok.cap_id:  # a marker: admissible once, before a piece
            return not cap
        if tok.id_to_text.get(t) is None:
            return False
        return bool(prefix_ok(fmt, tok.extend(text, cap, t)[0]))

    if prob_row is None:  # greedy: best-scoring admissible token
        k = min(_FIRST_LOOK, logit_row.numel())
        vals, ids = torch.topk(logit_row, k)
        seen = ids.tolist()
        for v, t in zip(vals.tolist(), seen):
            if v == float("-inf"):
                return None
            if admissible(t):
                return t
        if k == logit_row.numel():
            return None
        vals, ids = torch.sort(logit_row, descending=True)
        for v, t in zip(vals.tolist(), ids.tolist()):
            if v == float("-inf"):
                return None
            if t not in seen and admissible(t):
                return t
        return None
    while True:  # sampling from the distribution restricted to admissible tokens
        total = float(prob_row.sum())
        if total <= 0:
            return None
        t = int(torch.multinomial(prob_row / total, 1, generator=generator))
        if admissible(t):
            return t
        prob_row[t] = 0.0


class Brain:
    """A trained brain loaded from a checkpoint directory (or a run directory)."""

    def __init__(self, model: GPT, tokenizer: Tokenizer, brain: str, *, config: dict | None = None,
                 meta: dict | None = None, path: Path | None = None, batch_size: int = 64) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.brain = brain
        self.config = config or {}
        self.meta = meta or {}
        self.path = path
        self.batch_size = batch_size

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @classmethod
    def load(cls, ckpt_dir: str | Path, device: str = "cpu") -> "Brain":
        ck = load_checkpoint(ckpt_dir)  # verifies the sha256 of model.safetensors
        brain = ck["config"].get("brain")
        if brain not in BRAINS:
            raise CheckpointError(f"checkpoint {ck['dir']}: unknown brain {brain!r}")
        try:
            model = GPT(ck["model_cfg"], run_mask=ck["tokenizer"].run_char_mask())
        except ValueError as e:
            raise CheckpointError(f"checkpoint {ck['dir']}: tokenizer does not fit its model: {e}") from None
        try:
            model.load_state_dict(ck["state_dict"])
        except RuntimeError as e:
            raise CheckpointError(f"checkpoint {ck['dir']}: weights do not fit its config: {e}") from None
        dev = resolve_device(device)
        return cls(model.to(dev), ck["tokenizer"], brain, config=ck["config"], meta=ck["meta"],
                   path=ck["dir"])

    @property
    def model_config(self):
        return self.model.cfg

    def generate(
        self,
        requests: list[tuple[str, str, str]],
        *,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_k: int | None = None,
        seed: int | None = None,
        constraint: Constraint | None = None,
        use_cache: bool = True,
    ) -> list[Generation]:
        return generate_requests(
            self.model, self.tokenizer, self.brain, requests, max_new_tokens=max_new_tokens,
            temperature=temperature, top_k=top_k, seed=seed, constraint=constraint,
            use_cache=use_cache, batch_size=self.batch_size,
        )


def generate_requests(
    model: GPT,
    tok: Tokenizer,
    brain: str,
    requests: list[tuple[str, str, str]],
    *,
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    top_k: int | None = None,
    seed: int | None = None,
    constraint: Constraint | None = None,
    use_cache: bool = True,
    batch_size: int = 64,
) -> list[Generation]:
    """Generate for (src_fmt, src, tgt_fmt) requests, batching prompts of similar length."""
    was_training = model.training
    model.eval()
    with_route = brain == "coordinator"
    prompts = encode_prompts(tok, model.cfg.max_len, requests)
    gen = None
    if temperature and temperature > 0:
        gen = torch.Generator(device=next(model.parameters()).device)
        gen.manual_seed(seed if seed is not None else torch.seed())
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    results: list[Generation | None] = [None] * len(prompts)
    try:
        for s in range(0, len(order), batch_size):
            chunk = order[s : s + batch_size]
            lps: list[float] = []
            outs = generate_ids(
                model, tok, [prompts[i] for i in chunk], with_route=with_route,
                max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k,
                generator=gen, constraint=constraint, tgt_fmts=[requests[i][2] for i in chunk],
                use_cache=use_cache, logprobs=lps,
            )
            for i, (ids, fin), lp in zip(chunk, outs, lps):
                results[i] = to_generation(tok, ids, fin, lp, with_route)
    finally:
        model.train(was_training)
    return results  # type: ignore[return-value]


def encode_prompts(tok: Tokenizer, max_len: int, requests: list[tuple[str, str, str]]) -> list[list[int]]:
    """Prompt ids of (src_fmt, src, tgt_fmt) requests; a ValueError names a malformed one or one
    that leaves the context no room for an answer."""
    prompts = []
    for i, req in enumerate(requests):
        if not (isinstance(req, (tuple, list)) and len(req) == 3):
            raise ValueError(f"request {i}: expected (src_fmt, src, tgt_fmt), got {req!r}")
        src_fmt, src, tgt_fmt = req
        ids, _ = tok.encode_prompt(src_fmt, src, tgt_fmt)
        if len(ids) + 1 >= max_len:
            raise ValueError(
                f"request {i}: source too long ({len(src)} characters; the prompt needs "
                f"{len(ids)} of the brain's {max_len} tokens and leaves no room for output)"
            )
        prompts.append(ids)
    return prompts


def to_generation(tok: Tokenizer, ids: list[int], finished: bool, logprob: float, with_route: bool) -> Generation:
    route = tok.id_to_route[ids[0]] if with_route and ids and ids[0] in tok.id_to_route else None
    return Generation(tok.decode(ids), route, ids, finished, logprob)


@torch.no_grad()
def teacher_forced_exact(model: GPT, tok: Tokenizer, brain: str, records: list[dict], *,
                         batch_size: int = 64) -> list[bool]:
    """Per record: whether greedy unconstrained decoding (``generate_requests``) writes its
    reference exactly, found by one forward pass over prompt and reference instead of decoding.

    Greedy decoding emits the reference token sequence exactly when, at every target position, the
    argmax over the tokens it may emit there (a route tag first for the coordinator, then text
    tokens and ``<eos>``) is the reference's next token, ``<eos>`` included: each step then feeds
    back the reference's own prefix. A reference that cannot be written (an unknown character,
    longer than the context, or ids that do not decode to its text) counts as wrong. Equal to
    decoding up to floating-point near-ties (tests/test_ml_teacher_forced.py); the final figures
    still come from decoding."""
    from helix.ml.data import Example, collate
    from helix.ml.tokenizer import route_for

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with_route = brain == "coordinator"
    first_ok, body_ok = _allowed_masks(tok, model.cfg.vocab_size, with_route, device)
    out = [False] * len(records)
    items = []
    for i, r in enumerate(records):
        enc = tok.encode_example(r["src_fmt"], r["src"], r["tgt_fmt"], r["tgt"],
                                 route=route_for(r["tgt_fmt"]) if with_route else None)
        if enc.n_unk or len(enc.ids) > model.cfg.max_len or tok.decode(enc.ids[enc.prompt_len:]) != r["tgt"]:
            continue
        items.append((i, Example(enc.ids, enc.prompt_len)))
    items.sort(key=lambda it: len(it[1].ids))
    use_amp = device.type == "cuda"
    try:
        for s in range(0, len(items), batch_size):
            chunk = items[s : s + batch_size]
            inp, tgt, _ = collate([e for _, e in chunk], tok.pad_id)  # right padding: causal attention never sees it
            with _autocast(device, use_amp):
                logits = model(inp.to(device)).float()
            for b, (i, e) in enumerate(chunk):
                span = slice(e.prompt_len - 1, len(e.ids) - 1)  # the positions that predict the target tokens
                allowed = body_ok.expand(e.n_target, -1).clone()
                allowed[0] = first_ok
                pred = logits[b, span].masked_fill(~allowed, float("-inf")).argmax(-1)
                out[i] = bool((pred.cpu() == tgt[b, span]).all())
    finally:
        model.train(was_training)
    return out
