"""Train a generative verifier: a family member fine-tuned with its language-model loss.

The body and the language-model head start from a family member's checkpoint; the two
verdict tokens are added to a copy of its tokenizer and the embeddings are resized (new rows
start at the mean of the old ones, ``transformers``' default), so the family's vocabulary and
checkpoint keys never change. The loss is the ordinary next-token cross-entropy on the tokens
the verifier writes (rationales and verdicts, :func:`ttc.verifiers.generative.verifier_document`);
the chain's own tokens are context only. Trained verifiers are cached by a hash of the base
checkpoint, the data and the recipe, written atomically with a manifest
(:func:`ttc.finetune.save_checkpoint`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch

from ttc.cache import artifact_path
from ttc.config import config_hash
from ttc.family.train import IGNORE, resolve_device
from ttc.finetune import FinetuneConfig, cached_checkpoint, fit_examples, save_checkpoint
from ttc.verifiers.generative import (
    KINDS,
    VERDICT_TOKENS,
    GenerativeExample,
    GenerativeVerifier,
    add_verdict_tokens,
    verifier_document,
)
from ttc.verifiers.scoring import right_padded


def _tensors(tokenizer, examples: Sequence[GenerativeExample]):
    """Right-padded ids, attention mask and labels (E, T); labels are the written tokens,
    :data:`ttc.family.train.IGNORE` elsewhere."""
    documents = [verifier_document(tokenizer, e) for e in examples]
    ids, mask = right_padded([d for d, _ in documents], tokenizer.pad_token_id)
    labels = torch.full(ids.shape, IGNORE, dtype=torch.long)
    for r, (document, written) in enumerate(documents):
        where = torch.tensor(written, dtype=torch.bool)
        labels[r, : len(document)][where] = ids[r, : len(document)][where]
    return ids, mask, labels


def _loss(model, ids, mask, labels) -> torch.Tensor | None:
    """Mean next-token cross-entropy on the written tokens; None for a batch without any."""
    if not bool((labels != IGNORE).any()):
        return None
    width = int(mask.sum(dim=1).max())  # right padding: drop columns every row pads
    return model(input_ids=ids[:, :width], attention_mask=mask[:, :width],
                 labels=labels[:, :width]).loss


def _n_labels(ids, mask, labels) -> int:
    return int((labels != IGNORE).sum())


def _kind_of(examples: Sequence[GenerativeExample]) -> str:
    """GenRM-CoT when the examples carry rationales, GenRM when none does."""
    if not examples:
        raise ValueError("need at least one training example")
    with_rationales = {e.rationales is not None for e in examples}
    if len(with_rationales) != 1:
        raise ValueError("examples must all have rationales (GenRM-CoT) or none (GenRM)")
    return KINDS[1] if with_rationales.pop() else KINDS[0]


def generative_verifier_path(base: str | Path, examples: Sequence[GenerativeExample],
                             config: FinetuneConfig) -> Path:
    """The cache folder :func:`train_generative_verifier` writes this verifier to (a hash of
    the base, the kind, the recipe, the examples and the verdict tokens), trained or not."""
    kind = _kind_of(examples)
    base = Path(base)
    key = config_hash((base.name, kind, config, [asdict(e) for e in examples], VERDICT_TOKENS,
                       "v1"))
    return artifact_path("checkpoints", f"{kind}-{base.name}-{key}")


def train_generative_verifier(
    base: str | Path, examples: Sequence[GenerativeExample], config: FinetuneConfig,
    progress: bool = True, device: str = "auto",
) -> Path:
    """Fine-tune a GenRM (or, if the examples carry rationales, a GenRM-CoT) from the
    checkpoint ``base``, or find it cached; return its folder. ``training.json`` records the
    kind, the base, the data sizes, the loss curve and the time taken."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = generative_verifier_path(base, examples, config)
    if cached_checkpoint(path):
        return path
    kind, base = _kind_of(examples), Path(base)

    device = resolve_device(device)
    hf_logging.disable_progress_bar()
    torch.manual_seed(config.seed)
    model = AutoModelForCausalLM.from_pretrained(str(base))
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    add_verdict_tokens(tokenizer)
    model.resize_token_embeddings(len(tokenizer))
    model.to(device).train()

    train, val, tensors, record = fit_examples(model, tokenizer, examples, _tensors, _loss,
                                               _n_labels, config, f"train {kind}", progress)
    info = {"kind": kind, "base": base.name, "n_examples": len(examples),
            "n_train": len(train), "n_val": len(val), "n_labels": _n_labels(*tensors),
            "n_verdicts": sum(len(e.verdicts) for e in train), **record,
            "train_config": asdict(config)}
    return save_checkpoint(path, model, tokenizer, info)


def load_generative_verifier(path: str | Path, n_rationales: int = 1,
                             max_rationale_tokens: int = 24, temperature: float = 1.0,
                             seed: int = 0, device: str = "auto", batch_size: int = 256,
                             per_trajectory: bool = False) -> GenerativeVerifier:
    """Load a trained generative verifier through ``AutoModelForCausalLM``.

    A GenRM verifies without rationales (``n_rationales`` and ``max_rationale_tokens`` are
    not used); a GenRM-CoT samples ``n_rationales`` rationales of at most
    ``max_rationale_tokens`` tokens per chain at ``temperature`` (``per_trajectory``: see
    :class:`GenerativeVerifier`).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    kind = json.loads((path / "training.json").read_text())["kind"]
    model = AutoModelForCausalLM.from_pretrained(str(path)).to(resolve_device(device))
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if kind == KINDS[0]:
        n_rationales, max_rationale_tokens = 1, 0
    return GenerativeVerifier(model, tokenizer, n_rationales, max_rationale_tokens,
                              temperature, seed, batch_size, kind=kind,
                              per_trajectory=per_trajectory)
