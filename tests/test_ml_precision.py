"""Precision and kernel choices (helix.ml.precision) and the Newton-Schulz step they select.

CI runs on whatever CPU it gets: these tests force each path, so that the one the machine would
not pick is covered too.
"""

from __future__ import annotations

import json

import pytest
import torch

from helix.ml import precision
from helix.ml.optim import Muon, zeropower_newtonschulz


def _params(seed=0):
    torch.manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(48, 16)), torch.nn.Parameter(torch.randn(16, 40))]


def _run(opt_cls, params, steps=4, **kw):
    opt = opt_cls(params, lr=0.02, weight_decay=0.05, **kw)
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        for p in params:
            p.grad = torch.randn(p.shape, generator=g)
        opt.step()
    return opt


def test_bf16_newton_schulz_is_the_library_muon_exactly():
    lib, mine = _params(), _params()
    _run(torch.optim.Muon, lib)
    _run(Muon, mine, ns_dtype="bf16")
    for a, b in zip(lib, mine):
        assert torch.equal(a, b)


def test_fp32_newton_schulz_stays_within_bf16_rounding_of_the_library():
    lib, mine = _params(), _params()
    _run(torch.optim.Muon, lib)
    _run(Muon, mine, ns_dtype="fp32")
    for a, b, start in zip(lib, mine, _params()):
        moved = (a - start).norm()
        assert (a - b).norm() / moved < 0.02  # bf16 has 8 significant bits
        assert not torch.equal(a, b)  # it really ran in another precision


def test_newton_schulz_orthogonalises_in_either_precision():
    g = torch.randn(64, 24, generator=torch.Generator().manual_seed(0))
    for dt in (torch.float32, torch.bfloat16):
        x = zeropower_newtonschulz(g, 5, dt).float()
        assert x.shape == g.shape
        s = torch.linalg.svdvals(x)
        assert s.min() > 0.3 and s.max() < 1.5  # singular values pushed towards 1


def test_muon_resume_keeps_this_processes_precision_and_rejects_bad_dtype():
    lib = _params()
    state = _run(torch.optim.Muon, lib).state_dict()  # a state written by the library's Muon
    mine = Muon(_params(), ns_dtype="fp32")
    mine.load_state_dict(state)
    assert all(g["ns_dtype"] == "fp32" for g in mine.param_groups)
    for p in mine.param_groups[0]["params"]:
        p.grad = torch.ones_like(p)
    mine.step()
    with pytest.raises(ValueError, match="ns_dtype"):
        Muon(_params(), ns_dtype="fp16")


def _measurement(bf16_gflops):
    return {"matmul_fp32_gflops": 100.0, "matmul_bf16_gflops": bf16_gflops,
            "attention_sdpa_fp32_ms": 5.0, "attention_explicit_fp32_ms": 6.0,
            "attention_sdpa_bf16_ms": 9.0, "attention_explicit_bf16_ms": 3.0,
            "newton_schulz_fp32_ms": 6.0, "newton_schulz_bf16_ms": 200.0 if bf16_gflops < 100 else 3.0}


def test_decide_takes_bf16_only_where_it_is_measured_faster():
    slow = precision.decide(_measurement(1.2))  # emulated bf16 (AVX2)
    assert slow == {"autocast": "off", "attention": "sdpa", "muon_ns": "fp32"}
    fast = precision.decide(_measurement(400.0))  # AMX
    assert fast == {"autocast": "bf16", "attention": "explicit", "muon_ns": "bf16"}
    # a small gain does not buy bf16's casts and precision
    assert precision.decide(_measurement(105.0))["autocast"] == "off"


def test_probe_is_cached_per_machine_and_a_damaged_cache_is_measured_again(tmp_path, monkeypatch):
    monkeypatch.setenv("HELIX_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("HELIX_PRECISION", raising=False)
    calls = []
    monkeypatch.setattr(precision, "measure", lambda *a, **k: calls.append(a) or _measurement(1.0))
    first = precision.choose(torch.device("cpu"), 32, 4, 64)
    assert first["source"] == "probe" and len(calls) == 1
    cache = json.loads((tmp_path / "precision.json").read_text())
    (key,) = cache
    assert precision.cpu_model() in key and torch.__version__ in key and "d32 h4 ff64" in key
    again = precision.choose(torch.device("cpu"), 32, 4, 64)
    assert again["source"] == "cached probe" and len(calls) == 1
    assert {k: again[k] for k in precision.CHOICES} == {k: first[k] for k in precision.CHOICES}
    precision.choose(torch.device("cpu"), 64, 4, 128)  # another shape: its own entry
    assert len(calls) == 2
    (tmp_path / "precision.json").write_text("{not json")
    assert precision.choose(torch.device("cpu"), 32, 4, 64)["source"] == "probe"
    assert len(calls) == 3


def test_forcing_a_path_by_setting_or_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HELIX_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(precision, "measure", lambda *a, **k: _measurement(1.0))
    monkeypatch.setenv("HELIX_PRECISION", "attention=explicit")
    c = precision.choose(torch.device("cpu"), 32, 4, 64, muon_ns="bf16")
    assert c["attention"] == "explicit" and c["muon_ns"] == "bf16" and c["autocast"] == "off"
    assert c["forced"] == ["attention", "muon_ns"]
    assert "(forced)" in precision.describe(c)
    monkeypatch.setenv("HELIX_PRECISION", "autocast=fp16")
    with pytest.raises(ValueError, match="HELIX_PRECISION"):
        precision.choose(torch.device("cpu"), 32, 4, 64)
    monkeypatch.delenv("HELIX_PRECISION")
    with pytest.raises(ValueError, match="attention"):
        precision.choose(torch.device("cpu"), 32, 4, 64, attention="flash")
    cuda = precision.choose(torch.device("cuda"), 32, 4, 64)
    assert (cuda["autocast"], cuda["attention"], cuda["muon_ns"]) == ("bf16", "sdpa", "bf16")


def test_real_probe_measures_every_candidate_quickly(tmp_path, monkeypatch):
    m = precision.measure(32, 4, 64, batch=4, seq=16)
    for k in ("matmul_fp32_gflops", "matmul_bf16_gflops", "attention_sdpa_fp32_ms", "attention_explicit_bf16_ms",
              "newton_schulz_fp32_ms", "newton_schulz_bf16_ms"):
        assert m[k] > 0
    assert set(precision.decide(m)) == set(precision.CHOICES)


@pytest.mark.parametrize("path", [("bf16", "explicit", "bf16"), ("off", "sdpa", "fp32"), ("off", "explicit", "bf16")])
def test_training_runs_and_records_each_forced_path(tmp_path, path):
    from test_ml_train import cfg_for, write_corpus

    from helix.ml.train import train

    autocast, attention, ns = path
    corpus = write_corpus(tmp_path / "c", n=8, train_copies=1)
    cfg = cfg_for(corpus, tmp_path / "run", epochs=1, optimizer="muon", amp=autocast, attention=attention,
                  muon_ns_dtype=ns, eval_sample=4,
                  model_overrides=dict(d_model=32, n_heads=2, n_layers=1, d_ff=64))
    summary = train(cfg)
    assert summary["status"] == "completed"
    st = json.loads((tmp_path / "run" / "status.json").read_text())
    assert (st["precision"]["autocast"], st["precision"]["attention"], st["precision"]["muon_ns"]) == path
    assert st["precision"]["flush_denormal"] in (True, False)
    log = (tmp_path / "run" / "ascii_training.log").read_text()
    assert f"attention {attention}" in log and f"Newton-Schulz {ns}" in log
