"""Train a verifier: a family member with a scalar head, fine-tuned on soft step labels.

The verifier is a ``transformers`` token-classification model with one output
(``AutoModelForTokenClassification``, ``num_labels=1``) whose body is initialised from a
family member's checkpoint, as Snell et al. (2024) initialise their PRM from the policy's base
model. Loss: binary cross-entropy with logits at every labelled step end (soft targets for
Monte-Carlo labels, 0/1 for outcomes); other positions are ignored. Trained verifiers are
cached by a hash of the base checkpoint, the data and the recipe, written atomically.
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
from ttc.verifiers.labels import VerifierExample
from ttc.verifiers.scoring import LearnedVerifier, step_end_positions, verifier_ids

KINDS = ("orm", "prm")


@dataclass(frozen=True)
class VerifierTrainConfig:
    """Recipe for fine-tuning a verifier (the same for ORM and PRM)."""

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


def _tensors(tokenizer, examples: Sequence[VerifierExample]):
    """Right-padded ids (E, T), attention mask (E, T) and targets (E, T), NaN = no target."""
    sep_id, eos_id = tokenizer.convert_tokens_to_ids(";"), tokenizer.eos_token_id
    encoded = [verifier_ids(tokenizer, e.prompt, e.completion, e.finished) for e in examples]
    width = max(len(x) for x in encoded)
    ids = torch.full((len(examples), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    targets = torch.full((len(examples), width), math.nan)
    for r, (example, x) in enumerate(zip(examples, encoded, strict=True)):
        ids[r, : len(x)] = torch.tensor(x)
        mask[r, : len(x)] = 1
        n_prompt = len(tokenizer(example.prompt)["input_ids"])
        ends = step_end_positions(x, n_prompt, sep_id, eos_id, example.finished)
        if len(ends) != len(example.labels):
            raise ValueError(f"example has {len(example.labels)} labels for {len(ends)} step "
                             f"ends: {example.prompt + example.completion!r}")
        targets[r, ends] = torch.tensor(example.labels, dtype=torch.float)
    return ids, mask, targets


def _loss(model, ids, mask, targets) -> torch.Tensor:
    width = int(mask.sum(dim=1).max())  # right padding: drop columns every row pads
    ids, mask, targets = ids[:, :width], mask[:, :width], targets[:, :width]
    logits = model(input_ids=ids, attention_mask=mask).logits[..., 0]  # (B, T)
    labelled = ~torch.isnan(targets)
    return torch.nn.functional.binary_cross_entropy_with_logits(
        logits[labelled], targets[labelled])


@torch.no_grad()
def _mean_loss(model, ids, mask, targets, batch_size: int) -> float:
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(ids), batch_size):
        rows = slice(start, start + batch_size)
        n = int((~torch.isnan(targets[rows])).sum())
        if n:
            total += float(_loss(model, ids[rows], mask[rows], targets[rows])) * n
            count += n
    model.train()
    return total / max(count, 1)


def train_verifier(
    base: str | Path, examples: Sequence[VerifierExample], config: VerifierTrainConfig,
    kind: str, progress: bool = True, device: str = "auto",
) -> Path:
    """Fine-tune a verifier from the checkpoint ``base`` (or find it cached); return its folder.

    ``training.json`` in the folder records the base, the number of examples and labels, the
    validation loss before and after training, the per-epoch curve and the time taken.
    """
    from transformers import AutoModelForTokenClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not examples:
        raise ValueError("need at least one training example")
    base = Path(base)
    key = config_hash((base.name, kind, config, [asdict(e) for e in examples], "v1"))
    path = artifact_path("checkpoints", f"{kind}-{base.name}-{key}")
    if (path / "training.json").is_file():
        return path

    device = resolve_device(device)
    hf_logging.disable_progress_bar()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "newly initialised score head" is expected here
    torch.manual_seed(config.seed)
    model = AutoModelForTokenClassification.from_pretrained(str(base), num_labels=1)
    hf_logging.set_verbosity(verbosity)
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    model.to(device).train()

    order = list(range(len(examples)))
    random.Random(config.seed).shuffle(order)
    n_val = min(int(round(config.val_frac * len(examples))), len(examples) - 1)
    val = [examples[i] for i in order[:n_val]]
    train = [examples[i] for i in order[n_val:]]
    ids, mask, targets = (t.to(device) for t in _tensors(tokenizer, train))
    val_t = tuple(t.to(device) for t in _tensors(tokenizer, val)) if val else None

    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total = steps_per_epoch * config.epochs
    warmup = max(1, int(config.warmup_frac * total))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)

    def lr_factor(step: int) -> float:  # linear warm-up, then cosine decay to zero
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    val_before = _mean_loss(model, *val_t, 128) if val_t else math.nan
    curve = []
    generator = torch.Generator().manual_seed(config.seed)
    start = time.perf_counter()
    bar = tqdm(range(config.epochs), desc=f"train {kind}", disable=not progress, leave=False)
    for epoch in bar:
        perm = torch.randperm(len(train), generator=generator)
        losses = []
        for step in range(steps_per_epoch):
            rows = perm[step * config.batch_size : (step + 1) * config.batch_size].to(device)
            if not bool((~torch.isnan(targets[rows])).any()):
                continue
            loss = _loss(model, ids[rows], mask[rows], targets[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        val_loss = _mean_loss(model, *val_t, 128) if val_t else math.nan
        curve.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)),
                      "val_loss": val_loss})
        bar.set_postfix(train=f"{np.mean(losses):.3f}", val=f"{val_loss:.3f}")
    info = {
        "kind": kind, "base": base.name, "n_examples": len(examples), "n_train": len(train),
        "n_val": len(val), "n_labels": int((~torch.isnan(targets)).sum()),
        "val_loss_before": val_before, "val_loss_after": curve[-1]["val_loss"],
        "curve": curve, "train_seconds": time.perf_counter() - start,
        "train_config": asdict(config),
    }
    model.to("cpu")
    with atomic_dir(path) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "training.json").write_text(json.dumps(info, indent=1))
    return path


def load_verifier(path: str | Path, device: str = "auto", batch_size: int = 256
                  ) -> LearnedVerifier:
    """Load a trained verifier through ``AutoModelForTokenClassification``."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    path = Path(path)
    model = AutoModelForTokenClassification.from_pretrained(str(path))
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    kind = json.loads((path / "training.json").read_text())["kind"]
    return LearnedVerifier(model.to(resolve_device(device)), tokenizer, kind, batch_size)


def verifier_info(path: str | Path) -> dict:
    """The ``training.json`` record of a trained verifier."""
    return json.loads((Path(path) / "training.json").read_text())
