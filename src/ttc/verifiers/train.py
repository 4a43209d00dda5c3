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
from ttc.steps import step_end_positions
from ttc.tasks import STEP_SEP
from ttc.verifiers.labels import VerifierExample
from ttc.verifiers.scoring import LearnedVerifier, right_padded, verifier_ids

KINDS = ("orm", "prm")


class VerifierTrainConfig(FinetuneConfig):
    """Recipe for fine-tuning a verifier (the same for ORM and PRM)."""


def _tensors(tokenizer, examples: Sequence[VerifierExample], separator: str = STEP_SEP):
    """Right-padded ids (E, T), attention mask (E, T) and targets (E, T), NaN = no target."""
    encoded = [verifier_ids(tokenizer, e.prompt, e.completion, e.finished) for e in examples]
    ids, mask = right_padded(encoded, tokenizer.pad_token_id)
    targets = torch.full(ids.shape, math.nan)
    for r, example in enumerate(examples):
        ends = step_end_positions(tokenizer, example.prompt, example.completion,
                                  example.finished, separator)
        if len(ends) != len(example.labels):
            raise ValueError(f"example has {len(example.labels)} labels for {len(ends)} step "
                             f"ends: {example.prompt + example.completion!r}")
        targets[r, ends] = torch.tensor(example.labels, dtype=torch.float)
    return ids, mask, targets


def _loss(model, ids, mask, targets) -> torch.Tensor | None:
    """BCE with logits at the labelled step ends; None for a batch without labels."""
    labelled = ~torch.isnan(targets)
    if not bool(labelled.any()):
        return None
    width = int(mask.sum(dim=1).max())  # right padding: drop columns every row pads
    logits = model(input_ids=ids[:, :width], attention_mask=mask[:, :width]).logits[..., 0]
    return torch.nn.functional.binary_cross_entropy_with_logits(
        logits[labelled[:, :width]], targets[:, :width][labelled[:, :width]])


def _n_labels(ids, mask, targets) -> int:
    return int((~torch.isnan(targets)).sum())


def verifier_path(base: str | Path, examples: Sequence[VerifierExample],
                  config: VerifierTrainConfig, kind: str) -> Path:
    """The cache folder :func:`train_verifier` writes this verifier to (a hash of the base,
    the kind, the recipe and the examples), trained or not."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not examples:
        raise ValueError("need at least one training example")
    base = Path(base)
    key = config_hash((base.name, kind, config, [asdict(e) for e in examples], "v1"))
    return artifact_path("checkpoints", f"{kind}-{base.name}-{key}")


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

    path = verifier_path(base, examples, config, kind)
    if cached_checkpoint(path):  # verified against its manifest
        return path
    base = Path(base)

    device = resolve_device(device)
    hf_logging.disable_progress_bar()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "newly initialised score head" is expected here
    torch.manual_seed(config.seed)
    model = AutoModelForTokenClassification.from_pretrained(str(base), num_labels=1)
    hf_logging.set_verbosity(verbosity)
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    model.to(device).train()

    train, val, tensors, record = fit_examples(model, tokenizer, examples, _tensors, _loss,
                                               _n_labels, config, f"train {kind}", progress)
    info = {"kind": kind, "base": base.name, "n_examples": len(examples),
            "n_train": len(train), "n_val": len(val), "n_labels": _n_labels(*tensors),
            **record, "train_config": asdict(config)}
    return save_checkpoint(path, model, tokenizer, info)


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
