"""Issue 18, classes 2-4 on the model side: every checkpoint file is covered by a manifest and
checked on load; impossible configs and hostile training states are CheckpointErrors; ``best`` is
promoted atomically and ``recover`` repairs a ``best`` a crash left stale (fault injection: a
real tiny training killed with ``os._exit`` at each point of a checkpoint write, then resumed)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import test_ml_train
import torch

from helix.ml import checkpoint as ckpt
from helix.ml.config import TrainConfig
from helix.ml.train import train

REPO = Path(__file__).resolve().parents[1]
SMALL = dict(d_model=64, n_heads=2, n_layers=1, d_ff=128)


def write_corpus(d: Path, n: int = 8, train_copies: int = 2) -> Path:
    return test_ml_train.write_corpus(d, "ascii", n=n, train_copies=train_copies)


def cfg_for(corpus: Path, out: Path, **kw) -> TrainConfig:
    """test_ml_train's tiny config, smaller still, with more epochs kept (the write points)."""
    base = dict(epochs=2, model_overrides=SMALL, eval_sample=4, keep_last=5)
    return test_ml_train.cfg_for(corpus, out, **{**base, **kw})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckrun")
    corpus = write_corpus(root / "corpus")
    out = root / "run"
    summary = train(cfg_for(corpus, out))
    return corpus, out, summary


def test_the_training_state_of_each_optimizer_passes(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    for opt in ("adamw", "muon"):
        train(cfg_for(corpus, tmp_path / opt, epochs=1, optimizer=opt))
        ts = ckpt.load_train_state(tmp_path / opt / "checkpoints" / "last")
        assert ts["state"]["step"] > 0


def copy_ck(run, tmp_path, name="last") -> Path:
    _, out, _ = run
    d = tmp_path / name
    shutil.copytree(out / "checkpoints" / name, d)
    return d


def reseal(d: Path) -> None:
    """Rewrite the manifest after a change: a checkpoint consistent in its hashes but hostile in
    its contents (the hashes are not a signature)."""
    files = {p.name: p.read_bytes() for p in d.iterdir() if p.name != ckpt.MANIFEST}
    (d / ckpt.MANIFEST).write_bytes(ckpt._json_bytes(ckpt.manifest_of(files)))


def edit_json(d: Path, name: str, fn, *, seal: bool = False) -> None:
    doc = json.loads((d / name).read_text(encoding="utf-8"))
    fn(doc)
    (d / name).write_text(json.dumps(doc, indent=2), encoding="utf-8")
    if name == "meta.json" or seal:
        reseal(d)


# ------------------------------------------------------------------------------- manifest


def test_every_file_is_in_the_manifest(run):
    _, out, _ = run
    for name in ("last", "best", "epoch_0001"):
        d = out / "checkpoints" / name
        m = json.loads((d / "manifest.json").read_text())
        files = {p.name for p in d.iterdir()} - {"manifest.json"}
        assert set(m["files"]) == files
        assert {"config.json", "model.safetensors", "tokenizer.json", "meta.json"} <= files
        for n, e in m["files"].items():
            assert e["sha256"] == ckpt.sha256_file(d / n) and e["bytes"] == (d / n).stat().st_size
    assert "train_state.pt" in json.loads((out / "checkpoints/last/manifest.json").read_text())["files"]
    ckpt.load_checkpoint(out / "checkpoints" / "last")
    ckpt.load_train_state(out / "checkpoints" / "last")


def test_swapped_tokens_are_caught(run, tmp_path):
    d = copy_ck(run, tmp_path)

    def swap(doc):
        t = doc["tokens"]
        i, j = t.index("a"), t.index("b")
        t[i], t[j] = t[j], t[i]

    edit_json(d, "tokenizer.json", swap)
    with pytest.raises(ckpt.CheckpointError, match=r"corrupted: tokenizer\.json"):
        ckpt.load_checkpoint(d)


def test_changed_rope_base_is_caught(run, tmp_path):
    d = copy_ck(run, tmp_path)
    edit_json(d, "config.json", lambda doc: doc["model"].update(rope_base=500.0))
    with pytest.raises(ckpt.CheckpointError, match=r"corrupted: config\.json"):
        ckpt.load_checkpoint(d)


@pytest.mark.parametrize("name", ["meta.json", "model.safetensors", "train_state.pt"])
def test_any_changed_byte_is_caught_and_named(run, tmp_path, name):
    d = copy_ck(run, tmp_path)
    data = bytearray((d / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (d / name).write_bytes(bytes(data))
    with pytest.raises(ckpt.CheckpointError, match=rf"corrupted: {name.replace('.', '[.]')}"):
        ckpt.load_checkpoint(d) if name != "train_state.pt" else ckpt.load_train_state(d)


def test_missing_and_extra_files(run, tmp_path):
    d = copy_ck(run, tmp_path)
    (d / "notes.txt").write_text("hi")
    with pytest.raises(ckpt.CheckpointError, match="'notes.txt'.*does not list"):
        ckpt.load_checkpoint(d)
    (d / "notes.txt").unlink()
    (d / "tokenizer.json").unlink()
    with pytest.raises(ckpt.CheckpointError, match=r"tokenizer\.json missing"):
        ckpt.load_checkpoint(d)


def test_a_checkpoint_without_manifest_is_refused_until_adopted(run, tmp_path):
    d = copy_ck(run, tmp_path)
    (d / "manifest.json").unlink()
    with pytest.raises(ckpt.CheckpointError, match="no manifest.json"):
        ckpt.load_checkpoint(d)
    ckpt.add_manifest(d)  # explicit: checks what meta.json covers, then writes the manifest
    assert ckpt.load_checkpoint(d)["meta"]["epoch"] == 2
    # adopting refuses a checkpoint whose weights meta.json does not vouch for
    (d / "manifest.json").unlink()
    data = bytearray((d / "model.safetensors").read_bytes())
    data[-3] ^= 1
    (d / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ckpt.CheckpointError, match="does not match"):
        ckpt.add_manifest(d)
    assert not (d / "manifest.json").exists()


def test_a_damaged_manifest_is_a_checkpoint_error(run, tmp_path):
    d = copy_ck(run, tmp_path)
    for text in ("[1, 2]", "{not json", '{"format": 1, "algorithm": "sha256", "files": '
                 '{"../x": {"sha256": "' + "0" * 64 + '", "bytes": 1}}}'):
        (d / "manifest.json").write_text(text)
        with pytest.raises(ckpt.CheckpointError):
            ckpt.load_checkpoint(d)


# ------------------------------------------------------------------------- content checks


@pytest.mark.parametrize("change, match", [
    ({"n_heads": 0}, "n_heads"),
    ({"d_model": -64}, "d_model"),
    ({"n_layers": "2"}, "n_layers"),
    ({"rope_base": float("nan")}, "rope_base"),
    ({"dropout": 1.5}, "dropout"),
    ({"d_model": 96}, "does not fit|impossible"),  # a valid shape, but not the weights'
    ({"n_heads": 3}, "impossible model shape"),  # 64 is not a multiple of 3
])
def test_impossible_model_config_is_a_checkpoint_error(run, tmp_path, change, match):
    d = copy_ck(run, tmp_path)
    text = (d / "config.json").read_text()
    doc = json.loads(text)
    doc["model"].update(change)
    (d / "config.json").write_text(json.dumps(doc).replace("NaN", "NaN"))
    reseal(d)
    with pytest.raises(ckpt.CheckpointError, match=match):
        ckpt.load_checkpoint(d)


@pytest.mark.parametrize("doc", [[1, 2], {"epoch": "two"}, {"step": -1}, {"sha256": "x"}])
def test_meta_of_the_wrong_type_is_a_checkpoint_error(run, tmp_path, doc):
    d = copy_ck(run, tmp_path)
    old = json.loads((d / "meta.json").read_text())
    new = doc if isinstance(doc, list) else {**old, **doc}
    (d / "meta.json").write_text(json.dumps(new))
    reseal(d)
    with pytest.raises(ckpt.CheckpointError, match="meta.json"):
        ckpt.load_checkpoint(d)


def test_config_of_the_wrong_type_is_a_checkpoint_error(run, tmp_path):
    d = copy_ck(run, tmp_path)
    for doc in ([1], {"model": [1]}, {"format_version": 1}):
        (d / "config.json").write_text(json.dumps(doc))
        reseal(d)
        with pytest.raises(ckpt.CheckpointError, match="config.json"):
            ckpt.load_checkpoint(d)


def test_tokenizer_bigger_than_the_model_is_refused(run, tmp_path):
    d = copy_ck(run, tmp_path)
    edit_json(d, "tokenizer.json", lambda doc: doc["tokens"].extend(f"x{i}" for i in range(300)),
              seal=True)
    with pytest.raises(ckpt.CheckpointError, match="tokenizer"):
        ckpt.load_checkpoint(d)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def _good_state(d: Path) -> dict:
    return torch.load(io.BytesIO((d / "train_state.pt").read_bytes()), weights_only=True)


@pytest.mark.parametrize("mutate", [
    lambda ts: [1, 2, 3],
    lambda ts: {**ts, "optimizer": "adam"},
    lambda ts: {**ts, "state": {**ts["state"], "step": -3}},
    lambda ts: {**ts, "state": {**ts["state"], "epoch": "1"}},
    lambda ts: {**ts, "state": {**ts["state"], "gates_json": "{not json"}},
    lambda ts: {**ts, "rng": {"torch": torch.zeros(3, dtype=torch.uint8)}},
    lambda ts: {**ts, "rng": {"torch": torch.zeros(5056)}},
    lambda ts: {k: v for k, v in ts.items() if k != "optimizer"},
    lambda ts: {**ts, "optimizer": {"state": {}, "param_groups": [{"params": ["x"]}]}},
    lambda ts: {**ts, "version": 99},
    lambda ts: {**ts, "optimizer": {"adamw": ts["optimizer"], "muon": "x"}},
])
def test_malformed_training_state_is_a_checkpoint_error(run, tmp_path, mutate):
    d = copy_ck(run, tmp_path)
    buf = io.BytesIO()
    torch.save(mutate(_good_state(d)), buf)
    (d / "train_state.pt").write_bytes(buf.getvalue())
    edit_json(d, "meta.json", lambda m: m["sha256"].update(
        {"train_state.pt": ckpt.sha256_bytes(buf.getvalue())}))
    with pytest.raises(ckpt.CheckpointError, match="train_state.pt"):
        ckpt.load_train_state(d)


def test_hostile_pickle_and_garbage_state_are_checkpoint_errors(run, tmp_path):
    import pickle

    d = copy_ck(run, tmp_path)
    for data in (pickle.dumps(_Evil()), b"\x00" * 100, b"PK\x03\x04garbage"):
        (d / "train_state.pt").write_bytes(data)
        edit_json(d, "meta.json", lambda m: m["sha256"].update(
            {"train_state.pt": ckpt.sha256_bytes(data)}))
        with pytest.raises(ckpt.CheckpointError, match="cannot read"):
            ckpt.load_train_state(d)


# --------------------------------------------------------------------- promote / recover


def test_promote_is_a_verified_hard_linked_copy(run, tmp_path):
    root = tmp_path / "checkpoints"
    shutil.copytree(run[1] / "checkpoints", root)
    meta = ckpt.promote(root, "epoch_0001", "best")
    assert meta["epoch"] == 1
    best = root / "best"
    assert ckpt.load_checkpoint(best)["meta"]["epoch"] == 1
    assert (best / "model.safetensors").stat().st_ino == (root / "epoch_0001/model.safetensors").stat().st_ino
    ckpt.promote(root, "last", "best")
    assert not (best / "train_state.pt").exists()
    assert ckpt.load_checkpoint(best)["meta"]["step"] == ckpt.load_checkpoint(root / "last")["meta"]["step"]
    assert not [p for p in root.iterdir() if p.name.startswith(".")]
    # a damaged source is never promoted
    (root / "epoch_0001/meta.json").write_text("{}")
    with pytest.raises(ckpt.CheckpointError):
        ckpt.promote(root, "epoch_0001", "best")
    assert ckpt.load_checkpoint(best)["meta"]["epoch"] == 2


def _stale_best_root(run, tmp_path) -> tuple[Path, int]:
    root = tmp_path / "run" / "checkpoints"
    shutil.copytree(run[1] / "checkpoints", root)
    want = ckpt.load_train_state(root / "last")["state"]["best_epoch"]
    assert want == ckpt.load_checkpoint(root / "last")["meta"]["epoch"] == 2
    return root, want


def test_recover_repairs_a_stale_best(run, tmp_path):
    root, want = _stale_best_root(run, tmp_path)
    ckpt.promote(root, "epoch_0001", "best")  # what a crash after last, before best, leaves
    found = ckpt.check_consistency(root)  # read-only: reports, repairs nothing
    assert len(found) == 1 and "best holds epoch 1" in found[0]
    assert ckpt.load_checkpoint(root / "best")["meta"]["epoch"] == 1
    rep = ckpt.recover(root)
    assert rep["repaired"] and not rep["problems"], rep
    assert ckpt.load_checkpoint(root / "best")["meta"]["epoch"] == want
    assert ckpt.recover(root)["repaired"] == []  # idempotent
    assert ckpt.check_consistency(root) == []


@pytest.mark.parametrize("damage", ["missing", "damaged", "old"])
def test_recover_repairs_a_missing_or_damaged_best(run, tmp_path, damage):
    root, want = _stale_best_root(run, tmp_path)
    if damage == "missing":
        shutil.rmtree(root / "best")
    elif damage == "damaged":
        (root / "best" / "tokenizer.json").write_text("{}")
    else:  # killed between the two renames of a best write: the old best is aside
        ckpt.promote(root, "epoch_0001", "best")
        os.rename(root / "best", root / ".old-best-123-abcdef12")
    rep = ckpt.recover(root)
    assert rep["repaired"], rep
    assert ckpt.load_checkpoint(root / "best")["meta"]["epoch"] == want
    assert not [p for p in root.iterdir() if p.name.startswith(".")]


def test_recover_reports_what_it_cannot_repair(run, tmp_path):
    root, want = _stale_best_root(run, tmp_path)
    ckpt.promote(root, "epoch_0001", "best")
    edit_json(root / "last", "meta.json", lambda m: m.pop("val_loss"))  # like a mid-epoch save
    shutil.rmtree(root / "epoch_0002")
    rep = ckpt.recover(root)
    assert rep["repaired"] == [] and any("no checkpoint of that epoch" in p for p in rep["problems"])
    assert ckpt.load_checkpoint(root / "best")["meta"]["epoch"] == 1  # left as it was


def test_recover_reports_a_summary_that_disagrees(run, tmp_path):
    root, want = _stale_best_root(run, tmp_path)
    summary = json.loads((run[1] / "summary.json").read_text())
    summary["best_epoch"] = 1
    summary["step"] += 5
    (root.parent / "summary.json").write_text(json.dumps(summary))
    rep = ckpt.recover(root)
    text = " ".join(rep["problems"])
    assert "summary.json names epoch 1 as best" in text and "summary.json reports step" in text


# ------------------------------------------------------------------------ fault injection

# The test hook lives here, outside the library: the driver patches helix.ml.checkpoint in the
# child process so that it dies (os._exit(137), like kill -9) at the chosen point of a write.
_DRIVER = r"""
import json, os, sys
from helix.ml import checkpoint as ck
from helix.ml.config import TrainConfig
from helix.ml.train import train

point, n = sys.argv[2], int(sys.argv[3])
count = {"k": 0}

def hit():
    count["k"] += 1
    if count["k"] == n:
        os._exit(137)

if point == "write_file":          # in the middle of writing a checkpoint's files
    real = ck._write_file
    def _write_file(path, data):
        real(path, data[: len(data) // 2]) if count["k"] + 1 == n else real(path, data)
        hit()
    ck._write_file = _write_file
elif point == "rename":            # before each rename (aside, then into place)
    class _OS:
        def __getattr__(self, name):
            return getattr(os, name)
        def rename(self, a, b):
            hit()
            os.rename(a, b)
    ck.os = _OS()
elif point == "before_best":       # last written for the best epoch, best not yet refreshed
    real = ck.save_checkpoint
    def save_checkpoint(target, **kw):
        out = real(target, **kw)
        ts = kw.get("train_state")
        if os.path.basename(str(target)) == "last" and ts is not None \
                and ts["state"].get("best_epoch") == kw["meta"].get("epoch"):
            hit()
        return out
    ck.save_checkpoint = save_checkpoint
train(TrainConfig.from_dict(json.loads(sys.argv[1])))
print("NOT KILLED", flush=True)
"""


def _agree(out: Path) -> None:
    """best, last, summary.json and status.json of a finished run tell one story."""
    root = out / "checkpoints"
    summary = json.loads((out / "summary.json").read_text())
    status = json.loads((out / "status.json").read_text())
    last = ckpt.load_checkpoint(root / "last")["meta"]
    ts = ckpt.load_train_state(root / "last")["state"]
    assert summary["status"] == status["status"] == "completed"
    assert summary["step"] == status["step"] == last["step"] == summary["total_steps"]
    assert summary["best_epoch"] == ts["best_epoch"]
    if summary["best_epoch"]:
        best = ckpt.load_checkpoint(root / "best")["meta"]
        assert best["epoch"] == summary["best_epoch"]
        assert best["val_loss"] == pytest.approx(summary["best_val_loss"])
    assert not [p.name for p in root.iterdir() if p.name.startswith(".")]
    assert ckpt.recover(root)["problems"] == []


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("fi") / "corpus")


@pytest.mark.parametrize("point, n", [
    ("before_best", 1),  # epoch 1: last written, best not yet (best missing)
    ("before_best", 2),  # the case: epoch 2 is best, killed after last, before best
    ("rename", 6),       # epoch 2: between moving the old last aside and renaming the new one in
    ("rename", 8),       # epoch 2: the same for best
    ("write_file", 13),  # half-written file inside the temporary folder of a write
])
def test_killed_at_a_checkpoint_write_resumes_consistent(corpus_dir, tmp_path, point, n):
    out = tmp_path / "run"
    cfg = cfg_for(corpus_dir, out)
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(cfg.to_dict()), point, str(n)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 137, (p.stdout[-500:], p.stderr[-2000:])
    resumed = train(cfg_for(corpus_dir, out, resume=True))
    assert resumed["status"] == "completed"
    _agree(out)
