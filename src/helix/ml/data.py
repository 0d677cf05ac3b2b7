"""Corpus loading and batching: whole examples, right-padded, length-bucketed.

The batch order of an epoch is a pure function of (seed, epoch), so a resumed run sees exactly
the batches the uninterrupted run would have seen, and every DDP rank knows the whole global batch
(it takes its share; the loss is normalised by the global number of target tokens, which every
rank can count without communication).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from helix.ml.tokenizer import FORMATS, Tokenizer, route_for

CORPUS_FILES = {"coordinator": "canonical.jsonl", "ascii": "ascii.jsonl", "runic": "runic.jsonl"}


def corpus_file(corpus: str | Path, brain: str) -> Path:
    """The JSONL file a brain trains on: ``corpus`` may be the corpus folder or the file."""
    p = Path(corpus)
    if p.is_dir():
        p = p / CORPUS_FILES[brain]
    if not p.is_file():
        raise FileNotFoundError(f"corpus file not found: {p}")
    return p


def read_jsonl(path: str | Path) -> list[dict]:
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not valid JSON ({e.msg})") from None
    return out


REQUIRED = ("src_fmt", "src", "tgt_fmt", "tgt")


def load_records(corpus: str | Path, brain: str, split: str | None) -> list[dict]:
    recs = read_jsonl(corpus_file(corpus, brain))
    for i, r in enumerate(recs):
        missing = [k for k in REQUIRED if not isinstance(r.get(k), str)]
        if missing:
            raise ValueError(f"corpus record {r.get('id', i)!r} lacks {', '.join(missing)}")
    if split is not None:
        recs = [r for r in recs if r.get("split") == split]
    return recs


def check_format_weights(weights: dict) -> dict[str, int]:
    """Validate ``{format: repeats}`` (known formats, integers >= 1); a clear ValueError."""
    out = {}
    for fmt, w in dict(weights or {}).items():
        if fmt not in FORMATS:
            raise ValueError(f"format weight for unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
        if isinstance(w, bool) or not isinstance(w, int) or w < 1:
            raise ValueError(f"format weight {fmt}={w!r} must be an integer >= 1")
        out[fmt] = w
    return out


def weight_records(recs: list[dict], weights: dict) -> list[dict]:
    """Each record ``n`` times, ``n`` the largest weight of its source and target formats (1 when
    neither has one), order kept.

    An epoch then holds every record that reads or writes a weighted format (LC-B) that many
    times: the training mix leans towards what a brain learns slowest, and nothing else changes.
    """
    w = check_format_weights(weights)
    if not w:
        return list(recs)
    return [r for r in recs for _ in range(max(w.get(r["src_fmt"], 1), w.get(r["tgt_fmt"], 1)))]


@dataclass
class Example:
    ids: list[int]
    prompt_len: int

    @property
    def n_target(self) -> int:
        """Tokens the loss counts: every token after <sep>."""
        return len(self.ids) - self.prompt_len


@dataclass
class Dataset:
    examples: list[Example]
    skipped_long: int = 0
    with_unk: int = 0

    def __len__(self) -> int:
        return len(self.examples)


def encode_records(
    recs: list[dict], tok: Tokenizer, brain: str, max_len: int
) -> Dataset:
    ds = Dataset([])
    for r in recs:
        route = route_for(r["tgt_fmt"]) if brain == "coordinator" else None
        enc = tok.encode_example(r["src_fmt"], r["src"], r["tgt_fmt"], r["tgt"], route=route)
        if len(enc.ids) > max_len:
            ds.skipped_long += 1
            continue
        if enc.n_unk:
            ds.with_unk += 1
        ds.examples.append(Example(enc.ids, enc.prompt_len))
    return ds


def epoch_batches(
    lengths: list[int], batch_size: int, seed: int, epoch: int, *, bucket: bool = True,
    shuffle: bool = True,
) -> list[list[int]]:
    """Indices of each batch of one epoch (deterministic in seed and epoch).

    Bucketing: shuffle, cut into pools of 50 batches, sort each pool by length, cut into batches,
    shuffle the batches. Padding waste stays small and the order stays random.
    """
    idx = list(range(len(lengths)))
    rng = random.Random(seed * 1_000_003 + epoch)
    if shuffle:
        rng.shuffle(idx)
    if bucket:
        pool = batch_size * 50
        out = []
        for s in range(0, len(idx), pool):
            chunk = sorted(idx[s : s + pool], key=lambda i: lengths[i])
            out.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
        if shuffle:
            rng.shuffle(out)
        return out
    return [idx[j : j + batch_size] for j in range(0, len(idx), batch_size)]


def collate(
    examples: list[Example], pad_id: int, *, pad_to: int | None = None, multiple: int = 1
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(inputs, targets, weights), each (B, T): right-padded; weight 1 on target tokens only.

    Position t predicts token t+1; the targets are the tokens after <sep> (route tag, target
    characters, <eos>), so the weight is 1 for input positions prompt_len-1 … len-2.
    """
    T = max(len(e.ids) for e in examples) - 1
    if pad_to is not None:
        T = max(T, pad_to - 1)
    if multiple > 1:
        T = -(-T // multiple) * multiple
    B = len(examples)
    inp = torch.full((B, T), pad_id, dtype=torch.long)
    tgt = torch.full((B, T), pad_id, dtype=torch.long)
    w = torch.zeros((B, T), dtype=torch.float32)
    for b, e in enumerate(examples):
        ids = torch.tensor(e.ids, dtype=torch.long)
        n = len(e.ids) - 1
        inp[b, :n] = ids[:-1]
        tgt[b, :n] = ids[1:]
        w[b, e.prompt_len - 1 : n] = 1.0
    return inp, tgt, w


def dummy_batch(pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A one-token batch with zero loss weight (a DDP rank whose share of a batch is empty)."""
    z = torch.full((1, 1), pad_id, dtype=torch.long)
    return z, z.clone(), torch.zeros((1, 1))
