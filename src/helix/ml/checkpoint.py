"""Checkpoint directories, written atomically and verified on load.

Layout of one checkpoint directory::

    config.json        brain, preset, model shape, training config
    model.safetensors  fp32 weights
    tokenizer.json     the vocabulary
    meta.json          epoch, step, losses, gate results, sha256 and size of model.safetensors
    train_state.pt     (``last`` only) optimizer, schedule position, RNG states, data position

A directory is written into a temporary sibling (every file fsynced), then renamed into place; an
existing directory of the same name is first renamed aside and removed afterwards, so at every
instant either the old or the new checkpoint is complete (``recover`` puts an orphaned old one
back after a crash between the two renames).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import uuid
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from helix.ml.config import ModelConfig
from helix.ml.tokenizer import Tokenizer

FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete or corrupted."""


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_dir_atomic(target: str | Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (name → bytes) as directory ``target``, atomically replacing it."""
    target = Path(target)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = parent / f".tmp-{target.name}-{tag}"
    tmp.mkdir()
    try:
        for name, data in files.items():
            _write_file(tmp / name, data)
        _fsync_dir(tmp)
        old = None
        if target.exists():
            old = parent / f".old-{target.name}-{tag}"
            os.rename(target, old)
        os.rename(tmp, target)
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def recover(root: str | Path) -> None:
    """Tidy a checkpoints folder after a crash: restore orphaned ``.old-*``, drop ``.tmp-*``."""
    root = Path(root)
    if not root.is_dir():
        return
    for p in sorted(root.iterdir()):
        if p.name.startswith(".old-"):
            name = p.name[len(".old-") :].rsplit("-", 2)[0]
            dest = root / name
            if not dest.exists():
                os.rename(p, dest)
            else:
                shutil.rmtree(p, ignore_errors=True)
    for p in root.iterdir():
        if p.name.startswith(".tmp-"):
            shutil.rmtree(p, ignore_errors=True)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _json_bytes(obj) -> bytes:
    from helix.util import _finite

    return (json.dumps(_finite(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def state_dict_cpu(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}


def save_checkpoint(
    target: str | Path,
    *,
    model: torch.nn.Module,
    brain: str,
    preset: str,
    model_cfg: ModelConfig,
    tokenizer: Tokenizer,
    meta: dict,
    train_cfg: dict | None = None,
    train_state: dict | None = None,
) -> dict:
    """Write one checkpoint directory atomically; returns the meta written (with sha256, sizes)."""
    # one metadata key: safetensors writes a multi-key map in no fixed order (bytes would vary)
    weights = st_save(state_dict_cpu(model),
                      metadata={"helix": json.dumps({"brain": brain, "preset": preset}, sort_keys=True)})
    meta = dict(meta)
    meta["brain"] = brain
    meta["preset"] = preset
    meta["sha256"] = {"model.safetensors": sha256_bytes(weights)}
    files = {
        "config.json": _json_bytes(
            {"format_version": FORMAT_VERSION, "brain": brain, "preset": preset,
             "model": model_cfg.to_dict(), "train": train_cfg or {}}
        ),
        "model.safetensors": weights,
        "tokenizer.json": _json_bytes(tokenizer.to_dict()),
    }
    if train_state is not None:
        buf = io.BytesIO()
        torch.save(train_state, buf)
        files["train_state.pt"] = buf.getvalue()
        meta["sha256"]["train_state.pt"] = sha256_bytes(files["train_state.pt"])
    meta["size_bytes"] = {k: len(v) for k, v in files.items()}
    files["meta.json"] = _json_bytes(meta)
    write_dir_atomic(target, files)
    return meta


def read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint incomplete: {path.name} missing in {path.parent}") from None
    except json.JSONDecodeError as e:
        raise CheckpointError(f"checkpoint corrupted: {path} is not valid JSON ({e.msg})") from None


def resolve_dir(path: str | Path) -> Path:
    """A checkpoint directory, or a run directory (→ checkpoints/best, else checkpoints/last)."""
    p = Path(path)
    if (p / "model.safetensors").exists() or (p / "meta.json").exists():
        return p
    for sub in ("checkpoints/best", "checkpoints/last", "best", "last"):
        if (p / sub / "meta.json").exists():
            return p / sub
    if not p.exists():
        raise CheckpointError(f"checkpoint not found: {p}")
    raise CheckpointError(f"not a checkpoint directory (no meta.json/model.safetensors): {p}")


def load_checkpoint(path: str | Path, *, verify: bool = True) -> dict:
    """Read and verify a checkpoint; returns config, meta, tokenizer, model_cfg and state_dict."""
    d = resolve_dir(path)
    config = read_json(d / "config.json")
    meta = read_json(d / "meta.json")
    wpath = d / "model.safetensors"
    try:
        data = wpath.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint incomplete: model.safetensors missing in {d}") from None
    expected = (meta.get("sha256") or {}).get("model.safetensors")
    if verify:
        if not expected:
            raise CheckpointError(f"checkpoint {d} has no checksum for model.safetensors")
        got = sha256_bytes(data)
        if got != expected:
            raise CheckpointError(
                f"checkpoint corrupted: model.safetensors in {d} has sha256 {got[:16]}…, "
                f"meta.json records {expected[:16]}…"
            )
    try:
        state = st_load(data)
    except Exception as e:  # safetensors raises its own error types
        raise CheckpointError(f"checkpoint corrupted: cannot read {wpath}: {e}") from None
    try:
        tokenizer = Tokenizer.from_dict(read_json(d / "tokenizer.json"))
        model_cfg = ModelConfig.from_dict(config["model"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {d}: bad config or tokenizer ({e})") from None
    return {"dir": d, "config": config, "meta": meta, "tokenizer": tokenizer,
            "model_cfg": model_cfg, "state_dict": state}


def load_train_state(ckpt_dir: str | Path) -> dict:
    d = Path(ckpt_dir)
    p = d / "train_state.pt"
    meta = read_json(d / "meta.json")
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"cannot resume: {p} missing") from None
    expected = (meta.get("sha256") or {}).get("train_state.pt")
    if expected and sha256_bytes(data) != expected:
        raise CheckpointError(f"checkpoint corrupted: {p} does not match its sha256")
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def dir_size(path: str | Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
