"""Checkpoint directories, written atomically and verified on load.

Layout of one checkpoint directory::

    config.json        brain, preset, model shape, training config
    model.safetensors  fp32 weights
    tokenizer.json     the vocabulary
    meta.json          epoch, step, losses, gate results, sha256 and size of model.safetensors
    train_state.pt     (``last`` only) optimizer, schedule position, RNG states, data position
    manifest.json      sha256 and size of every other file, written last

A directory is written into a temporary sibling (every file fsynced, ``manifest.json`` last),
then renamed into place; an existing directory of the same name is first renamed aside and
removed afterwards, so at every instant either the old or the new checkpoint is complete
(``recover`` puts an orphaned old one back after a crash between the two renames).

Loading verifies the manifest first: a file whose bytes do not match, a missing file and a file
the manifest does not list are each a :class:`CheckpointError` naming the file; then the
contents are checked (types and an impossible model shape in ``config.json``, ``meta.json``,
the tokenizer against the model, the weights' shapes against the config, the structure of
``train_state.pt``, read with ``torch.load(weights_only=True)`` only). A directory without a
manifest (written before manifests existed, or with its manifest deleted) is refused, since
nothing would vouch for its config, tokenizer and meta; ``add_manifest(dir)`` adopts such a
directory explicitly after checking what its ``meta.json`` covers.

``promote(root, "last", "best")`` makes ``best`` a verified copy (hard links) of ``last`` in one
atomic step, and ``recover(root)`` -- run at resume -- also repairs a ``best`` left stale by a
crash between writing ``last`` and refreshing ``best``, and reports what it cannot repair
(``summary.json``/``status.json`` that disagree with the checkpoints).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
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
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
CHECKPOINT_FILES = ("config.json", "model.safetensors", "tokenizer.json", "meta.json",
                    "train_state.pt")


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


def _new_tmp(target: Path) -> tuple[Path, str]:
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = parent / f".tmp-{target.name}-{tag}"
    tmp.mkdir()
    return tmp, tag


def _install_dir(tmp: Path, target: Path, tag: str) -> None:
    """Rename the complete ``tmp`` into ``target`` (the old one aside first, removed after)."""
    parent = target.parent
    _fsync_dir(tmp)
    old = None
    if target.exists():
        old = parent / f".old-{target.name}-{tag}"
        os.rename(target, old)
    os.rename(tmp, target)
    _fsync_dir(parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def manifest_of(files: dict[str, bytes]) -> dict:
    """The manifest of a checkpoint's files (name -> bytes)."""
    return {"format": MANIFEST_FORMAT, "algorithm": "sha256",
            "files": {name: {"sha256": sha256_bytes(data), "bytes": len(data)}
                      for name, data in sorted(files.items())}}


def write_dir_atomic(target: str | Path, files: dict[str, bytes], *, manifest: bool = True) -> None:
    """Write ``files`` (name → bytes) as directory ``target``, atomically replacing it.

    With ``manifest`` (the default) ``manifest.json`` -- the sha256 and size of every file --
    is written last, after every other file is on disk.
    """
    target = Path(target)
    files = {k: v for k, v in files.items() if not (manifest and k == MANIFEST)}
    tmp, tag = _new_tmp(target)
    try:
        for name, data in files.items():
            _write_file(tmp / name, data)
        if manifest:
            _write_file(tmp / MANIFEST, _json_bytes(manifest_of(files)))
        _install_dir(tmp, target, tag)
    except BaseException:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        raise


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


# ============================================================================ verification


def _parse_json(data: bytes, name: str, d: Path):
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise CheckpointError(f"checkpoint corrupted: {d / name} is not UTF-8 ({e.reason})") from None
    except json.JSONDecodeError as e:
        raise CheckpointError(f"checkpoint corrupted: {d / name} is not valid JSON ({e.msg})") from None
    except RecursionError:
        raise CheckpointError(f"checkpoint corrupted: {d / name} is nested too deeply") from None


def read_json(path: Path) -> dict:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint incomplete: {path.name} missing in {path.parent}") from None
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e.strerror or e}") from None
    return _parse_json(data, Path(path).name, Path(path).parent)


def _read_manifest(d: Path) -> dict:
    p = d / MANIFEST
    if not p.is_file():
        raise CheckpointError(
            f"checkpoint {d} has no {MANIFEST}: nothing vouches for its config, tokenizer and "
            "meta (written by an older Helix, or the manifest was deleted); refusing to load it. "
            "If you trust it, adopt it with helix.ml.checkpoint.add_manifest(dir)")
    m = read_json(p)
    files = m.get("files") if isinstance(m, dict) else None
    if (not isinstance(m, dict) or m.get("format") != MANIFEST_FORMAT
            or m.get("algorithm") != "sha256" or not isinstance(files, dict) or not files):
        raise CheckpointError(f"checkpoint corrupted: {p} is not a checkpoint manifest")
    for name, entry in files.items():
        if (not isinstance(name, str) or name in ("", ".", "..", MANIFEST) or "/" in name
                or "\\" in name or name.startswith(".")):
            raise CheckpointError(f"checkpoint corrupted: {p} lists the impossible file {name!r}")
        if (not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str)
                or len(entry["sha256"]) != 64 or not isinstance(entry.get("bytes"), int)
                or isinstance(entry.get("bytes"), bool) or entry["bytes"] < 0):
            raise CheckpointError(f"checkpoint corrupted: {p} has a malformed entry for {name}")
    return m


def verify_dir(path: str | Path, *, read: tuple[str, ...] | None = None) -> dict[str, bytes]:
    """Check every file of checkpoint directory ``path`` against its manifest.

    Returns name -> bytes for the files named in ``read`` (all files when None), read once and
    verified, so what the caller parses is exactly what was checked. A file that differs, one
    that is missing and one the manifest does not list each raise :class:`CheckpointError`
    naming it.
    """
    d = Path(path)
    m = _read_manifest(d)
    listed = m["files"]
    try:
        present = {p.name for p in d.iterdir()}
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {d}: {e.strerror or e}") from None
    extra = sorted(present - set(listed) - {MANIFEST})
    if extra:
        raise CheckpointError(f"checkpoint {d} holds {extra[0]!r}, which its manifest does not "
                              "list (an extra file)")
    out: dict[str, bytes] = {}
    for name, entry in listed.items():
        p = d / name
        if not p.is_file():
            raise CheckpointError(f"checkpoint incomplete: {name} missing in {d} (listed in its "
                                  "manifest)")
        want_data = read is None or name in read
        try:
            if want_data:
                data = p.read_bytes()
                got, size = sha256_bytes(data), len(data)
            else:
                got, size = sha256_file(p), p.stat().st_size
        except OSError as e:
            raise CheckpointError(f"cannot read {p}: {e.strerror or e}") from None
        if size != entry["bytes"] or got != entry["sha256"]:
            raise CheckpointError(
                f"checkpoint corrupted: {name} in {d} has sha256 {got[:16]}… ({size} bytes), "
                f"its manifest records {entry['sha256'][:16]}… ({entry['bytes']} bytes)")
        if want_data:
            out[name] = data
    return out


def add_manifest(path: str | Path) -> dict:
    """Adopt a checkpoint directory written without a manifest (explicit, never automatic).

    Checks what its ``meta.json`` covers (the sha256 of ``model.safetensors`` and, if present,
    ``train_state.pt``), refuses unknown files, then writes ``manifest.json`` atomically.
    """
    d = Path(path)
    if (d / MANIFEST).exists():
        raise CheckpointError(f"{d} already has a {MANIFEST}")
    meta = read_json(d / "meta.json")
    sums = meta.get("sha256") if isinstance(meta, dict) else None
    if not isinstance(sums, dict) or not isinstance(sums.get("model.safetensors"), str):
        raise CheckpointError(f"{d}/meta.json records no sha256 of model.safetensors")
    files = {}
    for p in sorted(d.iterdir()):
        if p.name not in CHECKPOINT_FILES:
            raise CheckpointError(f"{d} holds {p.name!r}, which is not a checkpoint file")
        files[p.name] = p.read_bytes()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "meta.json"):
        if name not in files:
            raise CheckpointError(f"checkpoint incomplete: {name} missing in {d}")
    for name, want in sums.items():
        if name in files and sha256_bytes(files[name]) != want:
            raise CheckpointError(f"checkpoint corrupted: {name} in {d} does not match the "
                                  "sha256 in meta.json")
    from helix.util import atomic_write_bytes

    m = manifest_of(files)
    atomic_write_bytes(d / MANIFEST, _json_bytes(m))
    _fsync_dir(d)
    return m


# ------------------------------------------------------------------- content validation

_POSITIVE = frozenset({"vocab_size", "d_model", "n_heads", "n_layers", "d_ff", "max_len"})
_SIZE_LIMIT = 1 << 24  # no model dimension of a Helix brain comes near this


def _model_config(raw, d: Path) -> ModelConfig:
    """``ModelConfig`` from config.json's ``model``, every field type- and range-checked."""
    where = f"checkpoint {d}: config.json"
    if not isinstance(raw, dict):
        raise CheckpointError(f"{where}: 'model' must be an object, not {type(raw).__name__}")
    defaults = {f.name: f.default for f in dataclasses.fields(ModelConfig)}
    for k, v in raw.items():
        if k not in defaults:
            continue
        dflt = defaults[k]
        if isinstance(dflt, bool):
            ok = isinstance(v, bool)
        elif isinstance(dflt, int):
            ok = isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= _SIZE_LIMIT
            if ok and k in _POSITIVE:
                ok = v > 0
        elif isinstance(dflt, float):
            ok = (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))
            if ok and k == "dropout":
                ok = 0.0 <= v < 1.0
            elif ok and k in ("rope_base", "norm_eps"):
                ok = v > 0
        elif isinstance(dflt, str):
            ok = isinstance(v, str)
        else:
            ok = v is None or isinstance(v, (int, float, str, bool))
        if not ok:
            raise CheckpointError(f"{where}: impossible model {k} = {v!r}")
    try:
        return ModelConfig.from_dict(raw)
    except Exception as e:  # noqa: BLE001 - whatever the config class refuses
        raise CheckpointError(f"{where}: impossible model shape ({e})") from None


def _check_meta(meta, d: Path) -> None:
    where = f"checkpoint {d}: meta.json"
    if not isinstance(meta, dict):
        raise CheckpointError(f"{where} must be an object, not {type(meta).__name__}")
    for k in ("epoch", "step", "batch_in_epoch"):
        v = meta.get(k)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise CheckpointError(f"{where}: {k} must be a non-negative integer, not {v!r}")
    for k in ("train_loss", "val_loss", "val_exact_match", "val_validity", "elapsed_s"):
        v = meta.get(k)
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)):
            raise CheckpointError(f"{where}: {k} must be a number or null, not {v!r}")
    for k in ("brain", "preset", "time"):
        v = meta.get(k)
        if v is not None and not isinstance(v, str):
            raise CheckpointError(f"{where}: {k} must be a text, not {v!r}")
    for k in ("sha256", "size_bytes"):
        v = meta.get(k)
        if v is not None and not isinstance(v, dict):
            raise CheckpointError(f"{where}: {k} must be an object, not {v!r}")


def _check_config(config, d: Path) -> None:
    where = f"checkpoint {d}: config.json"
    if not isinstance(config, dict):
        raise CheckpointError(f"{where} must be an object, not {type(config).__name__}")
    if config.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        raise CheckpointError(f"{where}: format_version {config.get('format_version')!r}, "
                              f"expected {FORMAT_VERSION}")
    if "model" not in config:
        raise CheckpointError(f"{where} has no 'model'")
    for k in ("brain", "preset"):
        if k in config and not isinstance(config[k], str):
            raise CheckpointError(f"{where}: {k} must be a text, not {config[k]!r}")
    if "train" in config and not isinstance(config["train"], dict):
        raise CheckpointError(f"{where}: 'train' must be an object")


def _check_weights(state: dict, model_cfg: ModelConfig, d: Path) -> None:
    """The weights' names and shapes are exactly those of a model of ``model_cfg``."""
    try:
        from helix.ml.model import GPT

        with torch.device("meta"):
            want = {k: tuple(v.shape) for k, v in GPT(model_cfg).state_dict().items()}
    except Exception:  # noqa: BLE001 - the shape check needs a meta-device model; skip without
        return
    got = {k: tuple(v.shape) for k, v in state.items()}
    if got != want:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        wrong = sorted(k for k in set(want) & set(got) if want[k] != got[k])
        what = (f"missing tensor {missing[0]}" if missing else f"unexpected tensor {extra[0]}"
                if extra else f"{wrong[0]} has shape {got[wrong[0]]}, the config needs "
                              f"{want[wrong[0]]}")
        raise CheckpointError(f"checkpoint {d}: model.safetensors does not fit config.json "
                              f"({what})")
    for k, v in state.items():
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise CheckpointError(f"checkpoint {d}: model.safetensors holds non-finite values "
                                  f"in {k}")


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


def _read_plain(d: Path, names) -> dict[str, bytes]:
    out = {}
    for name in names:
        try:
            out[name] = (d / name).read_bytes()
        except FileNotFoundError:
            raise CheckpointError(f"checkpoint incomplete: {name} missing in {d}") from None
        except OSError as e:
            raise CheckpointError(f"cannot read {d / name}: {e.strerror or e}") from None
    return out


def load_checkpoint(path: str | Path, *, verify: bool = True) -> dict:
    """Read and verify a checkpoint; returns config, meta, tokenizer, model_cfg and state_dict.

    ``verify=False`` skips the hashes (manifest and meta.json), never the content checks.
    """
    d = resolve_dir(path)
    names = ("config.json", "meta.json", "tokenizer.json", "model.safetensors")
    if verify:
        raw = verify_dir(d, read=names)
        missing = [n for n in names if n not in raw]
        if missing:
            raise CheckpointError(f"checkpoint incomplete: {missing[0]} missing in {d} (not in "
                                  "its manifest)")
    else:
        raw = _read_plain(d, names)
    config = _parse_json(raw["config.json"], "config.json", d)
    meta = _parse_json(raw["meta.json"], "meta.json", d)
    _check_config(config, d)
    _check_meta(meta, d)
    data = raw["model.safetensors"]
    expected = (meta.get("sha256") or {}).get("model.safetensors")
    if verify:
        if not expected:
            raise CheckpointError(f"checkpoint {d} has no checksum for model.safetensors")
        got = sha256_bytes(data)
        if got != expected:
            raise CheckpointError(
                f"checkpoint corrupted: model.safetensors in {d} has sha256 {got[:16]}…, "
                f"meta.json records {str(expected)[:16]}…"
            )
    try:
        state = st_load(data)
    except Exception as e:  # safetensors raises its own error types
        raise CheckpointError(f"checkpoint corrupted: cannot read {d / 'model.safetensors'}: {e}") from None
    model_cfg = _model_config(config["model"], d)
    tok_raw = _parse_json(raw["tokenizer.json"], "tokenizer.json", d)
    try:
        tokenizer = Tokenizer.from_dict(tok_raw)
    except Exception as e:  # noqa: BLE001 - whatever the tokenizer refuses
        raise CheckpointError(f"checkpoint {d}: bad tokenizer.json ({e})") from None
    n_tok = getattr(tokenizer, "vocab_size", None)
    if isinstance(n_tok, int) and n_tok > model_cfg.vocab_size:
        raise CheckpointError(f"checkpoint {d}: tokenizer.json has {n_tok} tokens, the model "
                              f"only {model_cfg.vocab_size} embedding rows")
    _check_weights(state, model_cfg, d)
    return {"dir": d, "config": config, "meta": meta, "tokenizer": tokenizer,
            "model_cfg": model_cfg, "state_dict": state}


# ------------------------------------------------------------------------ training state

_PRIMITIVE = (int, float, str, bool, type(None))


def _plain(v, depth: int = 0) -> bool:
    if isinstance(v, _PRIMITIVE):
        return True
    if depth > 8:
        return False
    if isinstance(v, (list, tuple)):
        return all(_plain(x, depth + 1) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _plain(x, depth + 1) for k, x in v.items())
    return False


def _setting(v) -> bool:
    return _plain(v) or isinstance(v, (torch.Tensor, torch.dtype)) or (
        isinstance(v, (list, tuple)) and all(_setting(x) for x in v))


def _check_optimizer(opt, bad, depth: int = 0) -> None:
    """A torch optimizer state (``{"state": {...}, "param_groups": [...]}``), or an object of
    named ones (a composite optimizer such as Muon + AdamW)."""
    if isinstance(opt, dict) and "param_groups" not in opt and "state" not in opt and opt \
            and depth < 2 and all(isinstance(k, str) for k in opt):
        for sub in opt.values():
            _check_optimizer(sub, bad, depth + 1)
        return
    if not isinstance(opt, dict) or not isinstance(opt.get("state"), dict) \
            or not isinstance(opt.get("param_groups"), list):
        bad("the optimizer state is not {'state': {...}, 'param_groups': [...]}")
    for g in opt["param_groups"]:
        if not isinstance(g, dict) or not isinstance(g.get("params"), list) \
                or not all(isinstance(i, int) and not isinstance(i, bool) for i in g["params"]):
            bad("an optimizer param group is malformed")
        if not all(isinstance(k, str) and _setting(v) for k, v in g.items()):
            bad("an optimizer param group holds something that is not a setting")
    for pid, st in opt["state"].items():
        if not isinstance(pid, (int, str)) or not isinstance(st, dict):
            bad("the optimizer's per-parameter state is malformed")
        for k, v in st.items():
            if not isinstance(k, str) or not _setting(v):
                bad(f"the optimizer state of parameter {pid} holds {type(v).__name__}")


def check_train_state(ts, where: str = "train_state.pt") -> dict:
    """Validate the structure of a loaded training state; returns it, or CheckpointError."""
    def bad(msg):
        raise CheckpointError(f"checkpoint corrupted: {where}: {msg}")

    if not isinstance(ts, dict):
        bad(f"holds {type(ts).__name__}, not a training state")
    for k in ("optimizer", "state", "rng"):
        if k not in ts:
            bad(f"has no {k!r}")
    if ts.get("version", 1) != 1:
        bad(f"version {ts.get('version')!r}, expected 1")
    _check_optimizer(ts["optimizer"], bad)
    state = ts["state"]
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        bad("'state' is not an object")
    for k, v in state.items():
        if not _plain(v):
            bad(f"state {k!r} holds {type(v).__name__}")
    for k in ("step", "epoch", "batch_in_epoch"):
        v = state.get(k)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            bad(f"state {k!r} must be a non-negative integer, not {v!r}")
    for k in ("best_epoch", "stale_epochs", "tokens", "real_tokens", "epoch_steps"):
        v = state.get(k)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            bad(f"state {k!r} must be a non-negative integer, not {v!r}")
    for k in ("best_em", "best_val_loss", "epoch_loss_sum", "elapsed_s", "plateau_best_loss",
              "plateau_best_em", "ema", "min_ema", "train_flops"):
        v = state.get(k)
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)):
            bad(f"state {k!r} must be a number, not {v!r}")
    gj = state.get("gates_json")
    if gj is not None:
        if not isinstance(gj, str):
            bad("state 'gates_json' must be a text")
        try:
            gates = json.loads(gj)
        except (json.JSONDecodeError, RecursionError):
            bad("state 'gates_json' is not valid JSON")
        if not isinstance(gates, list) or not all(isinstance(g, dict) for g in gates):
            bad("state 'gates_json' is not a list of gate results")
    rng = ts["rng"]
    if not isinstance(rng, dict) or "torch" not in rng:
        bad("'rng' has no torch generator state")
    n_cpu = torch.get_rng_state().numel()
    for k, v in rng.items():
        if not isinstance(v, torch.Tensor) or v.dtype != torch.uint8 or v.dim() != 1:
            bad(f"rng {k!r} is not a byte tensor")
        if k == "torch" and v.numel() != n_cpu:
            bad(f"rng 'torch' has {v.numel()} bytes, a CPU generator state has {n_cpu}")
    return ts


def load_train_state(ckpt_dir: str | Path) -> dict:
    """The training state of checkpoint ``ckpt_dir`` (``last``), verified and validated."""
    d = Path(ckpt_dir)
    p = d / "train_state.pt"
    raw = verify_dir(d, read=("meta.json", "train_state.pt"))
    if "train_state.pt" not in raw:
        if p.exists():  # pragma: no cover - verify_dir refuses an unlisted file
            raise CheckpointError(f"cannot resume: {p} is not in the manifest")
        raise CheckpointError(f"cannot resume: {p} missing")
    meta = _parse_json(raw["meta.json"], "meta.json", d)
    _check_meta(meta, d)
    data = raw["train_state.pt"]
    expected = (meta.get("sha256") or {}).get("train_state.pt")
    if expected and sha256_bytes(data) != expected:
        raise CheckpointError(f"checkpoint corrupted: {p} does not match its sha256")
    try:
        ts = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - unpickling errors of every kind
        raise CheckpointError(f"checkpoint corrupted: cannot read {p} "
                              f"({type(e).__name__}: {str(e)[:200]})") from None
    return check_train_state(ts, str(p))


# ============================================================================= promotion


def promote(root: str | Path, src: str = "last", dst: str = "best") -> dict:
    """Make ``root/dst`` a copy of the verified checkpoint ``root/src``, in one atomic step.

    The files are hard-linked where the file system allows (copied and fsynced otherwise) into
    a temporary sibling with a manifest of its own, which is then renamed into place like every
    checkpoint write (``recover`` finishes or undoes a promotion a crash interrupted).
    ``train_state.pt`` is not carried over: ``dst`` is a model checkpoint. Returns ``dst``'s
    meta.
    """
    root = Path(root)
    s, target = root / src, root / dst
    raw = verify_dir(s, read=("meta.json",))
    meta = _parse_json(raw["meta.json"], "meta.json", s)
    _check_meta(meta, s)
    listed = _read_manifest(s)["files"]
    keep = {n: e for n, e in listed.items() if n != "train_state.pt"}
    tmp, tag = _new_tmp(target)
    try:
        for name in keep:
            try:
                os.link(s / name, tmp / name)
            except OSError:
                shutil.copyfile(s / name, tmp / name)
                with open(tmp / name, "rb+") as f:
                    os.fsync(f.fileno())
        m = {"format": MANIFEST_FORMAT, "algorithm": "sha256",
             "files": {n: keep[n] for n in sorted(keep)}}
        _write_file(tmp / MANIFEST, _json_bytes(m))
        verify_dir(tmp, read=())  # what is about to become dst is exactly src (bar the state)
        _install_dir(tmp, target, tag)
    except BaseException:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


# =============================================================================== recovery


def recover(root: str | Path) -> dict:
    """Tidy a checkpoints folder after a crash and make ``best`` agree with ``last``.

    1. Restore orphaned ``.old-*`` directories (a crash between the two renames of a write) and
       drop ``.tmp-*`` ones.
    2. ``last/train_state.pt`` names the best epoch so far. If ``best`` is missing, damaged or
       holds another epoch -- a crash after ``last`` was written and before ``best`` was
       refreshed -- ``best`` is promoted from the checkpoint that holds that epoch (``last``
       itself when it was written at the end of that epoch, else ``epoch_NNNN``).
    3. ``summary.json`` and ``status.json`` beside the folder are compared with the checkpoints;
       what disagrees is reported (the resumed run rewrites both).

    Returns ``{"restored", "removed", "repaired", "problems"}`` (lists of texts); never raises
    for a damaged checkpoint (it is reported, and loading it raises as usual).
    """
    root = Path(root)
    report: dict[str, list] = {"restored": [], "removed": [], "repaired": [], "problems": []}
    if not root.is_dir():
        return report
    for p in sorted(root.iterdir()):
        if p.name.startswith(".old-"):
            name = p.name[len(".old-") :].rsplit("-", 2)[0]
            dest = root / name
            if not dest.exists():
                os.rename(p, dest)
                report["restored"].append(name)
            else:
                shutil.rmtree(p, ignore_errors=True)
                report["removed"].append(p.name)
    for p in root.iterdir():
        if p.name.startswith(".tmp-"):
            shutil.rmtree(p, ignore_errors=True)
            report["removed"].append(p.name)
    try:
        _reconcile(root, report)
    except CheckpointError as e:  # pragma: no cover - _reconcile reports its own failures
        report["problems"].append(str(e))
    except OSError as e:
        report["problems"].append(f"cannot check {root}: {e}")
    return report


def _epoch_of(d: Path) -> int | None:
    """The epoch of a verified checkpoint directory; None if absent; CheckpointError if bad."""
    if not d.exists():
        return None
    raw = verify_dir(d, read=("meta.json",))
    meta = _parse_json(raw["meta.json"], "meta.json", d)
    _check_meta(meta, d)
    return meta.get("epoch")


def check_consistency(root: str | Path) -> list[str]:
    """What ``recover`` would repair or report in checkpoints folder ``root``, changing nothing
    (for readers such as ``helix ask``: a non-empty list means ``best`` may be stale)."""
    report: dict[str, list] = {"restored": [], "removed": [], "repaired": [], "problems": []}
    root = Path(root)
    if not root.is_dir():
        return []
    out = [f"orphaned {p.name} (a write was interrupted)" for p in sorted(root.iterdir())
           if p.name.startswith((".old-", ".tmp-"))]
    try:
        _reconcile(root, report, repair=False)
    except (CheckpointError, OSError) as e:
        report["problems"].append(str(e))
    return out + report["repaired"] + report["problems"]


def _reconcile(root: Path, report: dict, repair: bool = True) -> None:
    last, best = root / "last", root / "best"
    if not last.exists():
        return
    try:
        raw = verify_dir(last, read=("meta.json",))
        last_meta = _parse_json(raw["meta.json"], "meta.json", last)
        _check_meta(last_meta, last)
        ts = load_train_state(last) if (last / "train_state.pt").exists() else None
    except CheckpointError as e:
        report["problems"].append(f"last is not usable: {e}")
        return
    want = ts["state"].get("best_epoch") if ts is not None else None
    try:
        have = _epoch_of(best)
        best_bad = None
    except CheckpointError as e:
        have, best_bad = None, str(e)
    if want and have != want:
        why = (f"best is damaged ({best_bad})" if best_bad else
               "best is missing" if have is None else f"best holds epoch {have}")
        source = None
        if last_meta.get("epoch") == want and "val_loss" in last_meta:
            source = "last"  # written at the end of the best epoch, with the same weights
        else:
            ep = root / f"epoch_{want:04d}"
            try:
                if _epoch_of(ep) == want:
                    source = ep.name
            except CheckpointError:
                pass
        if source is None:
            report["problems"].append(f"{why}, but the training state names epoch {want} as best "
                                      "and no checkpoint of that epoch is left")
        elif not repair:
            report["repaired"].append(f"{why}; {source} (epoch {want}) should be promoted to best")
        else:
            promote(root, source, "best")
            report["repaired"].append(f"{why}; promoted {source} (epoch {want}) to best")
            have = want
    elif best_bad:
        report["problems"].append(f"best is damaged: {best_bad}")
    run = root.parent
    for name in ("summary.json", "status.json"):
        p = run / name
        if not p.is_file():
            continue
        try:
            doc = read_json(p)
        except CheckpointError as e:
            report["problems"].append(f"{name}: {e}")
            continue
        if not isinstance(doc, dict):
            report["problems"].append(f"{name} is not an object")
            continue
        be = doc.get("best_epoch")
        if name == "summary.json" and be and have is not None and be != have:
            report["problems"].append(f"summary.json names epoch {be} as best, best holds "
                                      f"epoch {have} (the resumed run rewrites the summary)")
        # a finished run's summary (and its final status) name the step its last checkpoint
        # holds; a status.json of a run in progress may be ahead of last (it is written more often)
        step, last_step = doc.get("step"), last_meta.get("step")
        final = name == "summary.json" or doc.get("status") not in (None, "training", "starting")
        if final and isinstance(step, int) and isinstance(last_step, int) and step != last_step:
            report["problems"].append(f"{name} reports step {step} ({doc.get('status')}), but "
                                      f"last holds step {last_step}")


def dir_size(path: str | Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
