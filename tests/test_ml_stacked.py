"""Stacked brains (helix.ml.stacked): one batch on stacked weights decodes what each brain decodes alone."""

from __future__ import annotations

import pytest
import torch

from helix.ml.config import ModelConfig
from helix.ml.generate import Brain, generate_ids, generate_requests
from helix.ml.hlxcheck import prefix_constraint
from helix.ml.model import GPT
from helix.ml.stacked import StackedGPT, stack_brains, stackable
from helix.ml.tokenizer import Tokenizer

CFG = ModelConfig(d_model=32, n_heads=4, n_layers=2, d_ff=64, prev_token=True, run_pos=6)
REQS = {
    "coordinator": [("english", "Represent true", "lc_t"), ("english", "Store number 42", "hlxl"),
                    ("english", "Create array {1,2}", "lc_r")],
    "ascii": [("english", "Represent null", "lc_b"), ("english", "Text \"hi\"", "lc_t")],
    "runic": [("english", "Represent false", "lc_r")],
}


def brain(name: str, seed: int, cfg: ModelConfig = CFG) -> Brain:
    torch.manual_seed(seed)
    model = GPT(cfg).eval()
    with torch.no_grad():  # sharper logits: no near-ties for summation order to flip
        model.tok.weight.mul_(6.0)
    return Brain(model, Tokenizer(), name)


@pytest.fixture(scope="module")
def brains():
    return {n: brain(n, s) for n, s in (("coordinator", 1), ("ascii", 2), ("runic", 3))}


def test_one_forward_on_stacked_weights_is_each_models_forward(brains):
    models = [b.model for b in brains.values()]
    stacked = StackedGPT(models)
    idx = torch.randint(0, CFG.vocab_size, (6, 9))  # rows 0-1 expert 0, 2-3 expert 1, 4-5 expert 2
    with torch.no_grad():
        want = torch.cat([m(idx[2 * e : 2 * e + 2]) for e, m in enumerate(models)])
        got = stacked(idx)
    assert torch.allclose(got, want, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="same rows per expert"):
        stacked(idx[:5])


@pytest.mark.parametrize("constrained", [False, True])
def test_stacked_decoding_gives_each_brains_own_generations(brains, constrained):
    constraint = prefix_constraint if constrained else None
    stack = stack_brains(brains)
    assert stack is not None and stack.names == list(brains)
    got = stack.generate(REQS, max_new_tokens=24, constraint=constraint)
    for name, reqs in REQS.items():
        b = brains[name]
        want = generate_requests(b.model, b.tokenizer, name, reqs, max_new_tokens=24, constraint=constraint)
        assert [g.tokens for g in got[name]] == [g.tokens for g in want]
        assert [g.text for g in got[name]] == [g.text for g in want]
        assert [g.route for g in got[name]] == [g.route for g in want]
        assert [g.finished for g in got[name]] == [g.finished for g in want]
        assert got[name][0].logprob == pytest.approx(want[0].logprob, abs=1e-3)
    assert all(g.route is not None for g in got["coordinator"])
    # a brain with no request pads with rows that decode nothing
    only = stack.generate({"ascii": REQS["ascii"]}, max_new_tokens=24, constraint=constraint)
    assert only["coordinator"] == [] and only["runic"] == []
    assert [g.tokens for g in only["ascii"]] == [g.tokens for g in got["ascii"]]


def test_route_tags_per_row_and_padding_rows():
    b = brain("coordinator", 4)
    tok, model = b.tokenizer, b.model
    prompts = [tok.encode_prompt(*r)[0] for r in REQS["coordinator"]]
    mixed = generate_ids(model, tok, prompts, with_route=[True, False, True], max_new_tokens=16)
    routed = generate_ids(model, tok, prompts, with_route=True, max_new_tokens=16)
    plain = generate_ids(model, tok, prompts, with_route=False, max_new_tokens=16)
    assert mixed == [routed[0], plain[1], routed[2]]
    assert mixed[0][0][0] in tok.id_to_route and mixed[1][0][0] not in tok.id_to_route
    kept = generate_ids(model, tok, prompts, with_route=True, max_new_tokens=16, keep_rows=True,
                        padding_rows=[False, True, False])
    assert kept == [routed[0], ([], False), routed[2]]
    with pytest.raises(ValueError, match="padding_rows"):
        generate_ids(model, tok, prompts, padding_rows=[False, True, False])


def test_brains_of_different_shapes_are_not_stacked(brains):
    other = brain("runic", 3, ModelConfig(d_model=32, n_heads=4, n_layers=3, d_ff=64, prev_token=True, run_pos=6))
    assert not stackable([brains["ascii"].model, other.model])
    assert stack_brains({"ascii": brains["ascii"], "runic": other}) is None
    assert stack_brains({"ascii": brains["ascii"]}) is None
    with pytest.raises(ValueError, match="cannot be stacked"):
        StackedGPT([brains["ascii"].model, other.model])


def test_the_system_path_answers_the_same_stacked_or_brain_by_brain(brains):
    from helix.system.ask import System

    asks = [("Represent true", "lc_b"), ("Store number 42", "lc_r"), ("Create array {1,2}", "hlxl")]
    one = System(None, brains=brains, cross_check=False)
    apart = System(None, brains=brains, cross_check=False, stack_rows=0)
    a, b = one.ask_many(asks), apart.ask_many(asks)
    assert "generate_stacked" in a[0].ms and "generate_stacked" not in b[0].ms
    for x, y in zip(a, b):
        assert (x.text, x.ok, x.raw_text) == (y.text, y.ok, y.raw_text)
        assert [(c["brain"], c["fmt"], c["text"], c["valid"]) for c in x.candidates] == \
               [(c["brain"], c["fmt"], c["text"], c["valid"]) for c in y.candidates]
