"""A verifier that needs no training: a language model's own probability of the chain.

The model (the policy itself, or a larger family member) reads ``prompt + completion``
teacher-forced in one forward pass; the log-probability of every completion token (and of
the final ``<eos>`` of a finished chain) is summed up to each step end, so the score of a
step is a function of the prefix only and serves search like any process verifier.

Scores are probabilities, in [0, 1] like every verifier's: ``reduction="sum"`` gives the
chain prefix's probability under the model, ``exp(sum log p)``; ``reduction="mean"`` its
per-token geometric mean, ``exp(mean log p)``, which does not penalise long chains. Either is
a monotone function of the log-likelihood, so rankings and AUCs are those of the
log-likelihood itself, and weighted best-of-N weighs answers by their probability.

Chapter 4's earlier measurements (docs/benchmarks.md) found this score separating right from
wrong answers of one problem far better than a fine-tuned scalar-head verifier. Every chain
token read costs 2·N FLOPs of the scoring model; they are counted in ``tokens``.
"""

from __future__ import annotations

import numpy as np
import torch

from ttc.tasks import STEP_SEP
from ttc.verifiers.scoring import (
    MemoizedVerifier,
    right_padded,
    step_end_positions,
    verifier_ids,
)

REDUCTIONS = ("sum", "mean")


class LikelihoodVerifier(MemoizedVerifier):
    """Step scores from a causal LM's token log-probabilities (see the module docstring).

    ``model`` is any ``transformers`` causal LM with the task's tokenizer (e.g. from
    :func:`ttc.family.train.load_member`).
    """

    kind = "likelihood"

    def __init__(self, model: torch.nn.Module, tokenizer, reduction: str = "sum",
                 batch_size: int = 256, max_cached: int = 1_000_000):
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        super().__init__(batch_size, max_cached)
        self.model, self.tokenizer, self.reduction = model.eval(), tokenizer, reduction
        self.sep_id = tokenizer.convert_tokens_to_ids(STEP_SEP)

    @torch.no_grad()
    def token_logprobs(self, chunk: list[tuple[str, str, bool]]
                       ) -> list[tuple[np.ndarray, list[int], int]]:
        """Per chain: the log-probability of every token given the ones before it (index
        ``t`` is token ``t``; index 0, ``<bos>``, is 0), the token ids, and the prompt's
        length in tokens."""
        device = next(self.model.parameters()).device
        encoded = [verifier_ids(self.tokenizer, *k) for k in chunk]
        ids, mask = right_padded(encoded, self.tokenizer.pad_token_id)
        ids, mask = ids.to(device), mask.to(device)
        logits = self.model(input_ids=ids, attention_mask=mask).logits.float()  # (B, T, V)
        logp = torch.log_softmax(logits[:, :-1], dim=-1)  # predicts tokens 1..T-1
        picked = logp.gather(-1, ids[:, 1:, None]).squeeze(-1)  # (B, T-1)
        picked = torch.cat([picked.new_zeros(len(chunk), 1), picked], dim=1).cpu().numpy()
        self.tokens.read += sum(len(e) for e in encoded)
        return [(picked[r, : len(e)].astype(np.float64), e,
                 len(self.tokenizer(key[0])["input_ids"]))
                for r, (key, e) in enumerate(zip(chunk, encoded, strict=True))]

    def _score_chunk(self, chunk):
        out = []
        for key, (logp, ids, n_prompt) in zip(chunk, self.token_logprobs(chunk), strict=True):
            ends = step_end_positions(ids, n_prompt, self.sep_id, self.tokenizer.eos_token_id,
                                      key[2])
            cumulative = np.cumsum(logp[n_prompt:])  # completion tokens only
            totals = cumulative[np.asarray(ends, dtype=int) - n_prompt]
            if self.reduction == "mean":
                totals = totals / (np.asarray(ends) - n_prompt + 1)
            out.append(np.exp(totals))
        return out
