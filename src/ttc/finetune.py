"""What fine-tuning a family member shares, for verifiers and revision models alike.

One recipe (AdamW, linear warm-up then cosine decay to zero, gradient clipping at 1), a
seeded train/validation split of the examples, an epoch loop that records the validation loss
before training and after every epoch, and an atomic checkpoint write (``save_pretrained``
of model and tokenizer plus a ``training.json`` record, then a manifest with the sha256 of
every file), as the family's own training does. :func:`cached_checkpoint` is how every
trainer asks whether its checkpoint is already in the cache: a damaged or partial one is
reported in one line and removed, so that it is trained again rather than silently used.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from tqdm.auto import tqdm

from ttc.cache import (
    DamagedArtifact,
    adopt_legacy,
    atomic_dir,
    discard_artifact,
    verify_manifest,
    warn,
    write_manifest,
)

T = TypeVar("T")
#: loss on a batch of rows of the training tensors; None when the batch has nothing to learn
LossFn = Callable[..., torch.Tensor | None]


@dataclass(frozen=True)
class FinetuneConfig:
    """Recipe for a fine-tune (the same for every kind of model fine-tuned here)."""

    epochs: int = 3
    batch_size: int = 32
    lr: float = 1e-3
    warmup_frac: float = 0.1
    weight_decay: float = 0.01
    val_frac: float = 0.1  # share of examples held out to report a validation loss
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs and batch_size must be >= 1 and lr > 0")
        if not 0 <= self.val_frac < 1:
            raise ValueError(f"val_frac must be in [0, 1), got {self.val_frac}")


def split_examples(examples: Sequence[T], val_frac: float, seed: int
                   ) -> tuple[list[T], list[T]]:
    """Seeded shuffle into (train, validation); at least one example is kept for training."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_val = min(int(round(val_frac * len(examples))), len(examples) - 1)
    return [examples[i] for i in order[n_val:]], [examples[i] for i in order[:n_val]]


def warmup_cosine(total_steps: int, warmup_frac: float) -> Callable[[int], float]:
    """Learning-rate factor per step: linear warm-up, then cosine decay to zero."""
    warmup = max(1, int(warmup_frac * total_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))

    return factor


@torch.no_grad()
def mean_loss(model, tensors: Sequence[torch.Tensor], loss: LossFn, count: Callable,
              batch_size: int = 128) -> float:
    """Loss over all rows, weighted by ``count(*batch)`` (the labelled positions)."""
    model.eval()
    total, weight = 0.0, 0
    for start in range(0, len(tensors[0]), batch_size):
        batch = [t[start : start + batch_size] for t in tensors]
        n = int(count(*batch))
        value = loss(model, *batch) if n else None
        if value is not None:
            total, weight = total + float(value) * n, weight + n
    model.train()
    return total / max(weight, 1)


def fit_examples(model, tokenizer, examples: Sequence, to_tensors: Callable, loss: LossFn,
                 count: Callable, config: FinetuneConfig, desc: str, progress: bool = True
                 ) -> tuple[list, list, list[torch.Tensor], dict]:
    """Split ``examples`` into training and validation rows (``config.val_frac``, seeded),
    turn both into tensors on the model's device with ``to_tensors(tokenizer, rows)`` and
    :func:`fit` the model; return ``(train, val, train_tensors, record)``. The fine-tunes
    of the verifiers and of the revision model share this."""
    device = next(model.parameters()).device
    train, val = split_examples(examples, config.val_frac, config.seed)
    tensors = [t.to(device) for t in to_tensors(tokenizer, train)]
    val_t = [t.to(device) for t in to_tensors(tokenizer, val)] if val else None
    return train, val, tensors, fit(model, tensors, val_t, loss, count, config, desc, progress)


def fit(model, train: Sequence[torch.Tensor], val: Sequence[torch.Tensor] | None,
        loss: LossFn, count: Callable, config: FinetuneConfig, desc: str,
        progress: bool = True) -> dict:
    """Fine-tune ``model`` in place on the rows of ``train`` (tensors sharing their first
    dimension); return the record: validation loss before and after, the per-epoch curve and
    the seconds taken."""
    device = next(model.parameters()).device
    n_rows = len(train[0])
    steps_per_epoch = math.ceil(n_rows / config.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(steps_per_epoch * config.epochs, config.warmup_frac))
    val_before = mean_loss(model, val, loss, count) if val else math.nan
    generator = torch.Generator().manual_seed(config.seed)
    curve = []
    start = time.perf_counter()
    model.train()
    bar = tqdm(range(config.epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        perm = torch.randperm(n_rows, generator=generator)
        losses = []
        for step in range(steps_per_epoch):
            rows = perm[step * config.batch_size : (step + 1) * config.batch_size].to(device)
            value = loss(model, *(t[rows] for t in train))
            if value is None:
                continue
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            losses.append(value.item())
        val_loss = mean_loss(model, val, loss, count) if val else math.nan
        curve.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)),
                      "val_loss": val_loss})
        bar.set_postfix(train=f"{np.mean(losses):.3f}", val=f"{val_loss:.3f}")
    return {"val_loss_before": val_before, "val_loss_after": curve[-1]["val_loss"],
            "curve": curve, "train_seconds": time.perf_counter() - start}


def save_checkpoint(path: Path, model, tokenizer, info: dict) -> Path:
    """Write model, tokenizer, ``training.json`` and last the manifest into ``path``,
    atomically (if another process wrote ``path`` first, its copy is kept)."""
    model.to("cpu")
    with atomic_dir(path) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "training.json").write_text(json.dumps(info, indent=1))
        write_manifest(tmp)
    return path


def verify_checkpoint(path: str | Path) -> None:
    """Check a checkpoint folder against its manifest; raise :class:`DamagedArtifact` (one
    line) when it is partial or damaged. A finished folder written before manifests existed
    (it has ``training.json``) is adopted (:func:`ttc.cache.adopt_legacy`)."""
    adopt_legacy(path, "training.json")
    entries = verify_manifest(path)
    if "training.json" not in entries:
        raise DamagedArtifact(f"{path}: training.json is not in its manifest")


def cached_checkpoint(path: str | Path) -> bool:
    """Whether a finished, intact checkpoint is at ``path`` (a cache hit).

    A folder that fails :func:`verify_checkpoint` is reported in one line on stderr and
    removed, and the caller trains it again.
    """
    path = Path(path)
    if not path.exists():
        return False
    try:
        verify_checkpoint(path)
    except DamagedArtifact as err:
        warn(f"damaged checkpoint: {err}; training it again")
        discard_artifact(path)
        return False
    return True
