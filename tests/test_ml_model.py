"""Tokenizer, model, loss masking and generation (CPU, tiny shapes)."""

from __future__ import annotations

import math

import pytest
import torch

from helix.ml.config import PRESETS, ModelConfig
from helix.ml.data import Example, collate, encode_records, epoch_batches
from helix.ml.generate import generate_ids, generate_requests
from helix.ml.memory import estimate_train_memory
from helix.ml.model import GPT, loss_fn
from helix.ml.tokenizer import CHARS, LCR_GLYPHS, Tokenizer, route_for

TINY = dict(d_model=32, n_heads=4, n_layers=2, d_ff=64)


def tiny_model(pos="rope", seed=0, **kw) -> GPT:
    """``pos``: "rope", "learned", "prev" (rotary plus the previous-token embedding) or "run"
    (rotary plus run positions)."""
    torch.manual_seed(seed)
    if pos == "prev":
        pos, kw = "rope", {"prev_token": True, **kw}
    if pos == "run":
        pos, kw = "rope", {"run_pos": 6, **kw}
    return GPT(ModelConfig(**{**TINY, "pos": pos, **kw})).eval()


# -- tokenizer ---------------------------------------------------------------------------------
def test_vocabulary_covers_corpus_characters_and_unk_is_never_a_character():
    tok = Tokenizer()
    for ch in CHARS:
        ids, n_unk = tok.encode_text(ch)
        assert n_unk == 0 and len(ids) == 1 and tok.decode(ids) == ch
    for g in LCR_GLYPHS:
        assert g in tok.char_ids
    assert "\n" in tok.char_ids and "\t" not in tok.char_ids
    assert tok.unk_id not in tok.id_to_char  # <unk> decodes to nothing, it is no character
    ids, n_unk = tok.encode_text("a\tb€")
    assert n_unk == 2 and ids[1] == tok.unk_id and ids[3] == tok.unk_id
    assert tok.decode(ids) == "ab"
    assert tok.vocab_size <= PRESETS["coordinator-tiny"].vocab_size


def test_example_layout_and_tokenizer_file_roundtrip(tmp_path):
    tok = Tokenizer()
    enc = tok.encode_example("english", "Represent true", "lc_r", "⊤", route="runic")
    ids = enc.ids
    assert ids[0] == tok.bos_id and ids[1] == tok.fmt_ids["english"]
    assert ids[enc.prompt_len - 2] == tok.fmt_ids["lc_r"] and ids[enc.prompt_len - 1] == tok.sep_id
    assert ids[enc.prompt_len] == tok.route_ids["runic"]
    assert ids[-1] == tok.eos_id and len(ids) == len("Represent true") + 1 + 6
    assert tok.decode(ids[enc.prompt_len:]) == "⊤"
    tok.save(tmp_path / "tokenizer.json")
    assert Tokenizer.load(tmp_path / "tokenizer.json") == tok
    with pytest.raises(ValueError, match="unknown format"):
        tok.encode_prompt("english", "x", "yaml")
    assert [route_for(f) for f in ("lc_t", "lc_b", "lc_r", "hlxl", "english")] == [
        "ascii", "ascii", "runic", "coordinator", "coordinator"]


# -- model -------------------------------------------------------------------------------------
@pytest.mark.parametrize("pos", ["rope", "learned", "prev", "run"])
def test_causality_future_tokens_never_change_earlier_logits(pos):
    model = tiny_model(pos)
    g = torch.Generator().manual_seed(1)
    x = torch.randint(5, 100, (3, 40), generator=g)
    with torch.no_grad():
        base = model(x)
        for t in (0, 7, 25, 39):
            y = x.clone()
            y[:, t:] = torch.randint(5, 100, (3, 40 - t), generator=g)
            out = model(y)
            assert torch.equal(out[:, :t], base[:, :t]) or torch.allclose(out[:, :t], base[:, :t], atol=1e-6)
            if t < 39:  # and the changed positions do change (the test can fail)
                assert not torch.allclose(out[:, t:], base[:, t:], atol=1e-4)


def test_previous_token_embedding_sees_exactly_the_previous_token():
    model = tiny_model("prev", seed=2)
    x = torch.tensor([[10, 11, 12, 13, 14]])
    with torch.no_grad():
        base = model(x)
        emb = model._prev_embedding(x, torch.arange(5)[None], None)
    assert torch.equal(emb[0, 0], torch.zeros_like(emb[0, 0]))  # position 0 has no predecessor
    assert torch.equal(emb[0, 3], model.prev_tok.weight[12])
    assert base.shape == (1, 5, model.cfg.vocab_size)
    # left-padded rows: the first real token (position 0) gets no predecessor either
    emb2 = model._prev_embedding(torch.tensor([[0, 0, 10, 11]]), torch.tensor([[0, 0, 0, 1]]), None)
    assert torch.equal(emb2[0, 2], torch.zeros_like(emb2[0, 2]))
    assert torch.equal(emb2[0, 3], model.prev_tok.weight[10])


def test_run_positions_index_runs_and_mark_their_ends():
    model = tiny_model("run")  # K = 6
    tok = Tokenizer()
    text = 'ab &h_alerts "x" [0x0301abcd]'
    x = torch.tensor([tok.encode_text(text)[0]])
    rows = model._run_rows(x, None)[0].tolist()
    K = 6
    want = [1, 2, K + 2 + 2,  # "ab", then the space after a run of 2
            1, 2, 3, 4, 5, 6, K + 1, K + 2, K + 1,  # "&h_alerts": 1..6, then parity rows
            K + 2 + 7,  # the space after a run of 9 (lengths past K+1 share one row)
            0, 1, K + 2 + 1, 0,  # '"x"' and the space after the quote (no run before it)
            0, 1, 2, 3, 4, 5, 6, K + 1, K + 2, K + 1, K + 2,  # "[0x0301abcd": parity alternates
            K + 2 + 7]  # "]" after a run of 10
    assert rows == want
    assert max(want) < model.cfg.run_rows
    # split into chunks with a cache, the run carries over from one call to the next
    from helix.ml.model import KVCache

    cache = KVCache(model.cfg, 1, 64, "cpu", torch.float32)
    got = []
    for a, b in [(0, 5), (5, 6), (6, 20), (20, len(rows))]:
        got += model._run_rows(x[:, a:b], cache)[0].tolist()
        cache.length = b
    assert got == want


def test_parameter_counts_of_presets():
    for cfg in [ModelConfig(**TINY, prev_token=True), ModelConfig(**TINY, pos="learned"),
                ModelConfig(**TINY, run_pos=24)]:
        assert GPT(cfg).num_params() == cfg.num_params()
    for name, cfg in PRESETS.items():
        with torch.device("meta"):
            m = GPT(cfg)
        assert m.num_params() == cfg.num_params(), name
    assert abs(PRESETS["coordinator-100m"].num_params() / 1e6 - 101) < 1.5
    assert abs(PRESETS["specialist-50m"].num_params() / 1e6 - 50) < 1.0
    assert PRESETS["coordinator-tiny"].num_params() < 10e6 and PRESETS["specialist-tiny"].num_params() < 10e6


def test_memory_estimate_is_consistent():
    cfg = PRESETS["coordinator-100m"]
    a = estimate_train_memory(cfg, 64, 256, amp_bf16=True)
    b = estimate_train_memory(cfg, 128, 256, amp_bf16=True)
    c = estimate_train_memory(cfg, 64, 256, amp_bf16=False)
    n = cfg.num_params()
    assert a["params"] == 4 * n and a["grads"] == 4 * n and a["optimizer"] == 8 * n
    assert a["total"] == sum(a[k] for k in ("params", "grads", "optimizer", "activations", "workspace"))
    assert b["activations"] > 1.9 * a["activations"] - 2 * n  # grows with the batch
    assert c["activations"] > a["activations"]  # fp32 activations are larger
    # the CPU bf16 path keeps each head's T×T attention probabilities (2 bytes) for the backward
    e = estimate_train_memory(cfg, 64, 256, amp_bf16=True, explicit_attention=True)
    assert e["activations"] - a["activations"] == cfg.n_layers * 64 * cfg.n_heads * 256 * 256 * 2
    assert all(isinstance(v, int) for v in a.values())


# -- loss masking ------------------------------------------------------------------------------
def test_loss_counts_target_tokens_only():
    tok = Tokenizer()
    e1 = tok.encode_example("english", "Represent true", "lc_t", "[TRUE]")
    e2 = tok.encode_example("english", "Store number 42", "lc_b", "[0x012a]")
    exs = [Example(e1.ids, e1.prompt_len), Example(e2.ids, e2.prompt_len)]
    inp, tgt, w = collate(exs, tok.pad_id)
    # weights: exactly the positions that predict a token after <sep> (target chars and <eos>)
    for b, e in enumerate(exs):
        n = len(e.ids) - 1
        assert w[b].sum().item() == e.n_target == len("[TRUE]" if b == 0 else "[0x012a]") + 1
        assert torch.all(w[b, : e.prompt_len - 1] == 0) and torch.all(w[b, n:] == 0)
        assert tgt[b, e.prompt_len - 1].item() == e.ids[e.prompt_len]
    model = tiny_model()
    with torch.no_grad():
        logits = model(inp)
        loss = loss_fn(logits, tgt, w)
        # manual: cross-entropy summed over target positions only
        lp = torch.log_softmax(logits.float(), -1)
        manual = -sum(lp[b, t, tgt[b, t]] for b in range(2) for t in range(inp.size(1)) if w[b, t] > 0)
        assert math.isclose(loss.item(), manual.item(), rel_tol=1e-5)
        # changing a prompt token's target or the padding does not change the loss;
        # changing a target token does
        tgt2 = tgt.clone()
        tgt2[0, 0] = 50
        tgt2[0, -1] = 60  # row 0 is shorter, so its last column is padding
        assert loss_fn(logits, tgt2, w).item() == loss.item()
        tgt3 = tgt.clone()
        tgt3[1, exs[1].prompt_len] = 70
        assert loss_fn(logits, tgt3, w).item() != loss.item()
        # and padding the batch further does not change the real rows' logits
        inp_p, tgt_p, w_p = collate(exs, tok.pad_id, pad_to=40)
        assert math.isclose(loss_fn(model(inp_p), tgt_p, w_p).item(), loss.item(), rel_tol=1e-5)


def test_length_bucketing_is_deterministic_and_covers_every_example():
    lengths = [5 + (i * 37) % 90 for i in range(1000)]
    a = epoch_batches(lengths, 16, seed=3, epoch=2)
    assert a == epoch_batches(lengths, 16, seed=3, epoch=2)
    assert a != epoch_batches(lengths, 16, seed=3, epoch=3)
    assert sorted(i for b in a for i in b) == list(range(1000))
    pad = sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in a)
    assert pad / sum(lengths) < 0.05  # bucketing keeps padding small
    flat = epoch_batches(lengths, 16, seed=3, epoch=2, bucket=False)
    pad_flat = sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in flat)
    assert pad_flat > 5 * pad


def test_encode_records_skips_over_long_examples():
    tok = Tokenizer()
    recs = [{"src_fmt": "english", "src": "x" * 300, "tgt_fmt": "lc_t", "tgt": "[TRUE]"},
            {"src_fmt": "english", "src": "Represent true", "tgt_fmt": "lc_t", "tgt": "[TRUE]"}]
    ds = encode_records(recs, tok, "ascii", 256)
    assert len(ds) == 1 and ds.skipped_long == 1


# -- generation --------------------------------------------------------------------------------
def test_bf16_cpu_attention_path_matches_sdpa_and_stays_causal():
    """Under CPU bf16 autocast the model takes ``explicit_attention`` instead of the slow CPU
    flash kernel: same numbers as SDPA (up to bf16 rounding), causal, and with a padding mask."""
    import torch.nn.functional as F

    from helix.ml.model import explicit_attention

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 4, 23, 16, generator=g) for _ in range(3))
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    got = explicit_attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), None, 0.0).float()
    assert (got - ref).abs().max() < 0.05
    assert not torch.allclose(got, F.scaled_dot_product_attention(q, k, v).bfloat16().float(), atol=0.05)
    # an explicit mask (padding + cache): rows of past keys, the last 5 queries of 23 keys
    keep = torch.rand(2, 1, 5, 23, generator=g) > 0.3
    keep[..., -5:] |= torch.eye(5, dtype=torch.bool)
    ref = F.scaled_dot_product_attention(q[:, :, -5:], k, v, attn_mask=keep)
    got = explicit_attention(q[:, :, -5:].bfloat16(), k.bfloat16(), v.bfloat16(), keep, 0.0).float()
    assert (got - ref).abs().max() < 0.05
    # the plain causal mask with a cache offset: query i of the last 5 sees keys 0..18+i
    ref = F.scaled_dot_product_attention(q[:, :, -5:], k, v, attn_mask=torch.ones(5, 23, dtype=torch.bool).tril(18))
    got = explicit_attention(q[:, :, -5:].bfloat16(), k.bfloat16(), v.bfloat16(), None, 0.0).float()
    assert (got - ref).abs().max() < 0.05
    # the whole model under autocast: causal, and close to fp32
    model = tiny_model("run")
    x = torch.randint(5, 100, (3, 40), generator=g)
    with torch.no_grad():
        full = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            base = model(x).float()
            y = x.clone()
            y[:, 20:] = torch.randint(5, 100, (3, 20), generator=g)
            out = model(y).float()
    assert torch.equal(out[:, :20], base[:, :20])
    assert not torch.allclose(out[:, 20:], base[:, 20:], atol=1e-3)
    assert (base - full).abs().max() < 0.05


REQS = [("english", "Represent true", "lc_t"), ("english", "Create array [1,2] please", "lc_r"),
        ("hlx", "42", "english"), ("english", "Store number 42", "lc_b")]


@pytest.mark.parametrize("pos", ["rope", "learned", "prev", "run"])
def test_kv_cache_generation_equals_full_recomputation(pos):
    model = tiny_model(pos, seed=3)
    tok = Tokenizer()
    a = generate_requests(model, tok, "coordinator", REQS, max_new_tokens=30)
    b = generate_requests(model, tok, "coordinator", REQS, max_new_tokens=30, use_cache=False)
    assert [g.tokens for g in a] == [g.tokens for g in b]
    assert all(len(g.tokens) > 0 for g in a)
    # batching (left padding) does not change any row's output
    singles = [generate_requests(model, tok, "coordinator", [r], max_new_tokens=30)[0] for r in REQS]
    assert [g.tokens for g in singles] == [g.tokens for g in a]
    # the coordinator's first token is a route tag; specialists never emit one
    assert all(g.route in ("ascii", "runic", "coordinator") for g in a)
    s = generate_requests(model, tok, "runic", REQS, max_new_tokens=30)
    assert all(g.route is None and not (set(g.tokens) & set(tok.route_ids.values())) for g in s)


def test_greedy_generation_matches_argmax_of_a_full_forward():
    model = tiny_model(seed=5)
    tok = Tokenizer()
    prompt, _ = tok.encode_prompt("english", "Represent null", "lc_t")
    [(ids, fin)] = generate_ids(model, tok, [prompt], max_new_tokens=8)
    seq = list(prompt)
    allowed = set(tok.char_ids.values()) | {tok.eos_id}
    for t in ids:
        with torch.no_grad():
            logits = model(torch.tensor([seq]))[0, -1]
        mask = torch.full_like(logits, float("-inf"))
        mask[list(allowed)] = 0
        assert int((logits + mask).argmax()) == t
        seq.append(t)
        if t == tok.eos_id:
            break


def test_sampling_is_seeded_and_constraint_is_respected():
    model = tiny_model(seed=7)
    tok = Tokenizer()
    a = generate_requests(model, tok, "ascii", REQS, temperature=1.0, top_k=20, seed=11, max_new_tokens=20)
    b = generate_requests(model, tok, "ascii", REQS, temperature=1.0, top_k=20, seed=11, max_new_tokens=20)
    assert [g.tokens for g in a] == [g.tokens for g in b]

    def only_digits(fmt, text):  # prefix ok: digits only; complete after 3 digits
        return text.isdigit() or text == "", len(text) >= 3

    for temp in (0.0, 1.0):
        gens = generate_requests(model, tok, "ascii", REQS, constraint=only_digits, temperature=temp,
                                 seed=1, max_new_tokens=12)
        for g in gens:
            assert g.text.isdigit()
            if g.finished:
                assert len(g.text) >= 3


def test_overlong_request_is_a_clear_error():
    model = tiny_model()
    with pytest.raises(ValueError, match="too long"):
        generate_requests(model, Tokenizer(), "ascii", [("english", "x" * 260, "lc_t")])


def test_learning_rate_schedule():
    from helix.ml.config import TrainConfig
    from helix.ml.train import lr_at

    cfg = TrainConfig(lr=1e-3, min_lr=1e-5, warmup=10)
    lrs = [lr_at(cfg, s, 110) for s in range(110)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))  # cosine never rises
    assert lrs[-1] == pytest.approx(1e-5, rel=0.05) and lr_at(cfg, 110, 110) == pytest.approx(1e-5)
    frac = TrainConfig(lr=1e-3, min_lr=1e-5, warmup=0.1)
    assert lr_at(frac, 0, 100) == pytest.approx(1e-4)
    # time-budgeted schedule: warmup and cosine follow the elapsed fraction of the budget
    assert lr_at(frac, 5, 10_000, time_frac=0.05) == pytest.approx(5e-4)
    assert lr_at(frac, 500, 10_000, time_frac=0.1) == pytest.approx(1e-3)
    assert lr_at(frac, 900, 10_000, time_frac=1.0) == pytest.approx(1e-5)
    const = TrainConfig(lr=1e-4, schedule="constant", warmup=0)
    assert lr_at(const, 0, 10) == lr_at(const, 9, 10) == 1e-4
