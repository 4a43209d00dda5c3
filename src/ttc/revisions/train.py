"""Fine-tune a family member into a revision model.

The model reads a problem and earlier attempts (joined by :data:`ATTEMPT_SEP`, a token added
to the vocabulary) and is trained to write a correct attempt; the loss covers only that
target and its ``<eos>``, never the prompt or the earlier attempts. Checkpoints are cached by
a hash of the base checkpoint, the data and the recipe, and written atomically.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ttc.cache import artifact_path, atomic_dir
from ttc.config import config_hash
from ttc.family.train import resolve_device
from ttc.revisions.data import ATTEMPT_SEP, RevisionExample

IGNORE = -100


@dataclass(frozen=True)
class RevisionTrainConfig:
    """Recipe for the revision fine-tune."""

    epochs: int = 3
    batch_size: int = 32
    lr: float = 1e-3
    warmup_frac: float = 0.1
    weight_decay: float = 0.01
    val_frac: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs and batch_size must be >= 1 and lr > 0")
        if not 0 <= self.val_frac < 1:
            raise ValueError(f"val_frac must be in [0, 1), got {self.val_frac}")


def _tensors(tokenizer, examples: Sequence[RevisionExample]):
    """Right-padded ids, attention mask and labels (E, T): only the target and ``<eos>``
    are labelled."""
    rows = []
    for e in examples:
        prompt = tokenizer(e.prompt)["input_ids"]
        target = tokenizer(e.target, add_special_tokens=False)["input_ids"]
        rows.append((prompt + target + [tokenizer.eos_token_id],
                     [IGNORE] * len(prompt) + target + [tokenizer.eos_token_id]))
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for r, (x, y) in enumerate(rows):
        ids[r, : len(x)] = torch.tensor(x)
        mask[r, : len(x)] = 1
        labels[r, : len(y)] = torch.tensor(y)
    return ids, mask, labels


def _batch_loss(model, ids, mask, labels) -> torch.Tensor:
    width = int(mask.sum(dim=1).max())  # right padding: drop columns every row pads
    return model(input_ids=ids[:, :width], attention_mask=mask[:, :width],
                 labels=labels[:, :width]).loss


@torch.no_grad()
def _mean_loss(model, ids, mask, labels, batch_size: int = 128) -> float:
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(ids), batch_size):
        rows = slice(start, start + batch_size)
        n = int((labels[rows][:, 1:] != IGNORE).sum())
        total += float(_batch_loss(model, ids[rows], mask[rows], labels[rows])) * n
        count += n
    model.train()
    return total / max(count, 1)


def train_reviser(base: str | Path, examples: Sequence[RevisionExample],
                  config: RevisionTrainConfig, progress: bool = True,
                  device: str = "auto") -> Path:
    """Fine-tune ``base`` on revision sequences (or find it cached); return the folder.

    ``training.json`` records the data size, validation loss before and after, the curve and
    the time taken.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not examples:
        raise ValueError("need at least one revision example")
    base = Path(base)
    key = config_hash((base.name, config, [asdict(e) for e in examples], "v1"))
    path = artifact_path("checkpoints", f"reviser-{base.name}-{key}")
    if (path / "training.json").is_file():
        return path
    device = resolve_device(device)
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    tokenizer.add_tokens([ATTEMPT_SEP])
    torch.manual_seed(config.seed)
    model = AutoModelForCausalLM.from_pretrained(str(base))
    model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    model.to(device).train()

    order = list(range(len(examples)))
    random.Random(config.seed).shuffle(order)
    n_val = min(int(round(config.val_frac * len(examples))), len(examples) - 1)
    val = [examples[i] for i in order[:n_val]]
    train = [examples[i] for i in order[n_val:]]
    ids, mask, labels = (t.to(device) for t in _tensors(tokenizer, train))
    val_t = tuple(t.to(device) for t in _tensors(tokenizer, val)) if val else None
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total = steps_per_epoch * config.epochs
    warmup = max(1, int(config.warmup_frac * total))

    def lr_factor(step: int) -> float:  # linear warm-up, then cosine decay to zero
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    val_before = _mean_loss(model, *val_t) if val_t else math.nan
    generator = torch.Generator().manual_seed(config.seed)
    curve = []
    start = time.perf_counter()
    bar = tqdm(range(config.epochs), desc="train reviser", disable=not progress, leave=False)
    for epoch in bar:
        perm = torch.randperm(len(train), generator=generator)
        losses = []
        for step in range(steps_per_epoch):
            rows = perm[step * config.batch_size : (step + 1) * config.batch_size].to(device)
            loss = _batch_loss(model, ids[rows], mask[rows], labels[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        val_loss = _mean_loss(model, *val_t) if val_t else math.nan
        curve.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)),
                      "val_loss": val_loss})
        bar.set_postfix(train=f"{np.mean(losses):.3f}", val=f"{val_loss:.3f}")
    info = {"base": base.name, "n_examples": len(examples), "n_train": len(train),
            "n_val": len(val), "val_loss_before": val_before,
            "val_loss_after": curve[-1]["val_loss"], "curve": curve,
            "train_seconds": time.perf_counter() - start, "train_config": asdict(config)}
    model.to("cpu")
    with atomic_dir(path) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "training.json").write_text(json.dumps(info, indent=1))
    return path
