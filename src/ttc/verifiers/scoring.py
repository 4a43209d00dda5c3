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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

from ttc import steps
from ttc.tasks import STEP_SEP, Problem, first_error, step_labels


class Verifier(Protocol):
    """Anything that scores the step ends of chains."""

    def step_scores(self, prompts: Sequence[str], completions: Sequence[str],
                    finished: Sequence[bool]) -> list[np.ndarray]:
        """One array per chain: a score per step end (``;`` and, if finished, ``<eos>``)."""
        ...


def n_step_ends(completion: str, finished: bool, separator: str = STEP_SEP) -> int:
    """How many scores a chain gets: one per separator, plus one at ``<eos>`` if finished."""
    return steps.n_step_ends(completion, finished, separator)


def verifier_ids(tokenizer, prompt: str, completion: str, finished: bool) -> list[int]:
    """Token ids the verifier reads: the encoded chain, plus ``<eos>`` if it finished."""
    ids = tokenizer(prompt + completion)["input_ids"]
    return [*ids, tokenizer.eos_token_id] if finished else list(ids)


class LearnedVerifier:
    """A trained reward model; ``kind`` is ``"orm"`` or ``"prm"`` (for labels in figures)."""

    def __init__(self, model: torch.nn.Module, tokenizer, kind: str = "prm",
                 batch_size: int = 256, max_cached: int = 1_000_000,
                 separator: str = STEP_SEP):
        self.model, self.tokenizer, self.kind = model.eval(), tokenizer, kind
        self.batch_size = batch_size
        self.separator = separator  # the task's step separator (ttc.steps finds its tokens)
        self._memo: dict[tuple[str, str, bool], np.ndarray] = {}
        self._max_cached = max_cached

    @torch.no_grad()
    def step_scores(self, prompts: Sequence[str], completions: Sequence[str],
                    finished: Sequence[bool]) -> list[np.ndarray]:
        """Scores per step end; identical chains are scored once (search repeats many)."""
        keys = list(zip(prompts, completions, (bool(f) for f in finished), strict=True))
        todo = sorted({k for k in keys if k not in self._memo},
                      key=lambda k: len(k[0]) + len(k[1]))
        device = next(self.model.parameters()).device
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            encoded = [verifier_ids(self.tokenizer, *k) for k in chunk]
            width = max(len(e) for e in encoded)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for r, e in enumerate(encoded):  # right padding: positions need no shifting
                ids[r, : len(e)] = torch.tensor(e)
                mask[r, : len(e)] = 1
            logits = self.model(input_ids=ids.to(device),
                                attention_mask=mask.to(device)).logits[..., 0]  # (B, T)
            probs = torch.sigmoid(logits.float()).cpu().numpy()
            for r, key in enumerate(chunk):
                ends = steps.step_end_positions(self.tokenizer, *key, self.separator)
                self._memo[key] = probs[r, ends]
        result = [self._memo[k] for k in keys]
        if len(self._memo) > self._max_cached:
            self._memo.clear()
        return result


class OracleVerifier:
    """The exact step checker of the arithmetic task, as a verifier (the upper bound)."""

    kind = "oracle"

    def __init__(self, problems: Sequence[Problem]):
        self.by_prompt = {p.prompt: p for p in problems}

    def step_scores(self, prompts: Sequence[str], completions: Sequence[str],
                    finished: Sequence[bool]) -> list[np.ndarray]:
        out = []
        for prompt, completion, done in zip(prompts, completions, finished, strict=True):
            problem = self.by_prompt[prompt]
            n = n_step_ends(completion, done)
            labels = [float(x) for x in step_labels(problem, completion)[:n]]
            if done and labels:  # the final score is the outcome: a right, complete chain
                labels[-1] = float(first_error(problem, completion) is None)
            out.append(np.array(labels + [0.0] * (n - len(labels))))
        return out
