"""Verifiers as scorers: one score in [0, 1] after every step of a (partial) chain.

A chain is ``prompt + completion``; its steps end at the step separator ``;`` and, for a
finished chain, at ``<eos>``. A verifier returns one score per step end, so the same call
serves an outcome reward model (read the last score of a finished chain), a process reward
model (read every score) and search over partial chains (read the last score of a prefix).

- :class:`LearnedVerifier`: a ``transformers`` token-classification model (one logit per
  position, trained by :mod:`ttc.verifiers.train`); scores are sigmoids of the logits at the
  step ends.
- :class:`OracleVerifier`: the task's exact step checker (score 1 while every step so far is
  right, and at ``<eos>`` only if the chain is right and complete), the upper bound.

Other verifiers with the same call: :class:`ttc.verifiers.likelihood.LikelihoodVerifier`
(a language model's own probability of the chain) and
:class:`ttc.verifiers.generative.GenerativeVerifier` (GenRM, verdict tokens). Every model-based
verifier counts the tokens it processes in ``tokens`` (:class:`VerifierTokens`), so the
compute of verification is charged like any other: 2·N per token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from ttc import steps
from ttc.flops import inference_flops
from ttc.tasks import STEP_SEP, Problem
from ttc.verifiers.labels import checker_labels


class Verifier(Protocol):
    """Anything that scores the step ends of chains."""

    def step_scores(self, prompts: Sequence[str], completions: Sequence[str],
                    finished: Sequence[bool]) -> list[np.ndarray]:
        """One array per chain: a score per step end (``;`` and, if finished, ``<eos>``)."""
        ...


def verifier_ids(tokenizer, prompt: str, completion: str, finished: bool) -> list[int]:
    """Token ids the verifier reads: the encoded chain, plus ``<eos>`` if it finished."""
    ids = tokenizer(prompt + completion)["input_ids"]
    return [*ids, tokenizer.eos_token_id] if finished else list(ids)


def step_end_positions(ids: Sequence[int], n_prompt: int, sep_id: int, eos_id: int,
                       finished: bool) -> list[int]:
    """Positions in ``ids`` where a step ends: separators after the prompt, and a final EOS."""
    ends = [i for i in range(n_prompt, len(ids)) if ids[i] == sep_id]
    if finished:
        ends.append(len(ids) - 1)
    return ends


@dataclass
class VerifierTokens:
    """Tokens a verifier has processed, every one a forward pass: 2·N FLOPs each.

    ``read``: tokens of the chains being verified (prompt and completion, teacher-forced),
    counted every time a chain is actually run (a memoised repeat costs nothing);
    ``written``: tokens the verifier produced itself and fed back (rationales and verdicts of
    a generative verifier)."""

    read: int = 0
    written: int = 0

    @property
    def total(self) -> int:
        return self.read + self.written

    def flops(self, n_params: int) -> float:
        """Inference FLOPs of these tokens for a verifier of ``n_params`` (non-embedding)."""
        return inference_flops(n_params, self.total)


def right_padded(encoded: Sequence[Sequence[int]], pad_id: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of ids right-padded into ``(ids, attention_mask)``, both (E, T): positions need no
    shifting, so a row's scores are those it would get alone."""
    width = max(len(e) for e in encoded)
    ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for r, e in enumerate(encoded):
        ids[r, : len(e)] = torch.tensor(list(e), dtype=torch.long)
        mask[r, : len(e)] = 1
    return ids, mask


class MemoizedVerifier:
    """What model-based verifiers share: identical chains are scored once (search repeats
    many), chains are batched by length, and the tokens processed are counted.

    Subclasses implement :meth:`_score_chunk` (scores of a list of distinct chains)."""

    kind = "model"

    def __init__(self, batch_size: int = 256, max_cached: int = 1_000_000):
        self.batch_size = batch_size
        self.tokens = VerifierTokens()
        self._memo: dict[tuple[str, str, bool], np.ndarray] = {}
        self._max_cached = max_cached

    def step_scores(self, prompts: Sequence[str], completions: Sequence[str],
                    finished: Sequence[bool]) -> list[np.ndarray]:
        """Scores per step end (``;`` and, if finished, ``<eos>``), one array per chain."""
        keys = list(zip(prompts, completions, (bool(f) for f in finished), strict=True))
        todo = sorted({k for k in keys if k not in self._memo},
                      key=lambda k: (len(k[0]) + len(k[1]), k))
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            for key, scores in zip(chunk, self._score_chunk(chunk), strict=True):
                self._memo[key] = scores
        result = [self._memo[k] for k in keys]
        if len(self._memo) > self._max_cached:
            self._memo.clear()
        return result

    def _score_chunk(self, chains: list[tuple[str, str, bool]]) -> list[np.ndarray]:
        raise NotImplementedError


class LearnedVerifier(MemoizedVerifier):
    """A trained reward model; ``kind`` is ``"orm"`` or ``"prm"`` (for labels in figures)."""

    def __init__(self, model: torch.nn.Module, tokenizer, kind: str = "prm",
                 batch_size: int = 256, max_cached: int = 1_000_000,
                 separator: str = STEP_SEP):
        super().__init__(batch_size, max_cached)
        self.model, self.tokenizer, self.kind = model.eval(), tokenizer, kind
        self.separator = separator  # the task's step separator (ttc.steps finds its tokens)

    @torch.no_grad()
    def _score_chunk(self, chunk):
        device = next(self.model.parameters()).device
        encoded = [verifier_ids(self.tokenizer, *k) for k in chunk]
        ids, mask = right_padded(encoded, self.tokenizer.pad_token_id)
        logits = self.model(input_ids=ids.to(device),
                            attention_mask=mask.to(device)).logits[..., 0]  # (B, T)
        probs = torch.sigmoid(logits.float()).cpu().numpy()
        self.tokens.read += sum(len(e) for e in encoded)
        return [probs[r, steps.step_end_positions(self.tokenizer, *key, self.separator)]
                for r, key in enumerate(chunk)]


class OracleVerifier:
    """The exact step checker of the arithmetic task, as a verifier (the upper bound)."""

    kind = "oracle"

    def __init__(self, problems: Sequence[Problem]):
        self.by_prompt = {p.prompt: p for p in problems}

    def step_scores(self, prompts: Sequence[str], completions: Sequence[str],
                    finished: Sequence[bool]) -> list[np.ndarray]:
        return [np.array(checker_labels(self.by_prompt[prompt], completion, bool(done)))
                for prompt, completion, done in zip(prompts, completions, finished,
                                                    strict=True)]
