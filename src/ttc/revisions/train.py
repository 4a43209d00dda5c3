"""Fine-tune a family member into a revision model.

The model reads a problem and earlier attempts (joined by :data:`ATTEMPT_SEP`, a token added
to the vocabulary) and is trained to write a correct attempt; the loss covers only that
target and its ``<eos>``, never the prompt or the earlier attempts. Checkpoints are cached by
a hash of the base checkpoint, the data and the recipe, and written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch

from ttc.cache import artifact_path
from ttc.config import config_hash
from ttc.family.train import resolve_device
from ttc.finetune import (
    FinetuneConfig,
    cached_checkpoint,
    fit_examples,
    save_checkpoint,
)
from ttc.revisions.data import ATTEMPT_SEP, RevisionExample

IGNORE = -100


class RevisionTrainConfig(FinetuneConfig):
    """Recipe for the revision fine-tune."""


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


def _n_labels(ids, mask, labels) -> int:
    return int((labels[:, 1:] != IGNORE).sum())  # the causal LM predicts from position 1


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
    if cached_checkpoint(path):  # verified against its manifest
        return path
    device = resolve_device(device)
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    tokenizer.add_tokens([ATTEMPT_SEP])
    torch.manual_seed(config.seed)
    model = AutoModelForCausalLM.from_pretrained(str(base))
    model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    model.to(device).train()

    train, val, _, record = fit_examples(model, tokenizer, examples, _tensors, _batch_loss,
                                         _n_labels, config, "train reviser", progress)
    info = {"base": base.name, "n_examples": len(examples), "n_train": len(train),
            "n_val": len(val), **record, "train_config": asdict(config)}
    return save_checkpoint(path, model, tokenizer, info)
