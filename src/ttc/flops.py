"""FLOPs accounting for training and inference.

The book compares a small model that spends extra compute at inference with a larger model,
at equal *total* compute. We use the standard dense-transformer approximations:

* pretraining costs about ``6 * N * D`` FLOPs for ``N`` parameters and ``D`` training tokens
  (forward + backward; Kaplan et al. 2020, Hoffmann et al. 2022);
* generating (or scoring) one token costs about ``2 * N`` FLOPs (one forward pass).

``N`` is the number of **non-embedding** parameters throughout the book (Kaplan et al.'s
convention): embedding lookups cost no multiply-adds. The models of the family are
character-level, so their embedding matrices are tiny anyway; the family table reports both.

Following Snell et al. (2024, sec. 7), let a model ``M`` times larger be trained on the same
``D_pretrain`` tokens, and let both serve ``D_inference`` tokens in total. With
``R = D_inference / D_pretrain``, equal total FLOPs

    6 N D_pretrain + 2 N D_small = 6 (M N) D_pretrain + 2 (M N) D_inference

let the small model spend ``D_small / D_inference = M + 3 (M - 1) / R`` times the large model's
inference tokens: the *exchange factor*.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

#: The three ratios R = D_inference / D_pretrain that Snell et al. (2024) evaluate.
SNELL_R_VALUES: tuple[float, ...] = (0.16, 0.79, 22.0)
#: Snell et al.'s parameter ratio between PaLM 2-S* and the larger model it is compared with.
SNELL_M = 14.0


def _check_positive(name: str, value: float | np.ndarray) -> None:
    if np.any(np.asarray(value) <= 0):
        raise ValueError(f"{name} must be > 0, got {value!r}")


def pretraining_flops(n_params: float, n_tokens: float) -> float:
    """Training compute ``6 * N * D`` (forward and backward pass over every token)."""
    _check_positive("n_params", n_params)
    if n_tokens < 0:
        raise ValueError(f"n_tokens must be >= 0, got {n_tokens!r}")
    return 6.0 * n_params * n_tokens


def inference_flops(n_params: float, n_tokens: float) -> float:
    """Inference compute ``2 * N`` per generated or scored token (one forward pass)."""
    _check_positive("n_params", n_params)
    if n_tokens < 0:
        raise ValueError(f"n_tokens must be >= 0, got {n_tokens!r}")
    return 2.0 * n_params * n_tokens


def charged_flops(n_params: float, n_tokens: float) -> float:
    """:func:`inference_flops`, with N = 0 meaning work already paid for (0 FLOPs): a search
    or a selection charges the policy's own likelihood at 0, since the sampler kept the
    log-probability of every token it drew."""
    return 0.0 if n_params == 0 else inference_flops(n_params, n_tokens)


def total_flops(n_params: float, pretrain_tokens: float, inference_tokens: float) -> float:
    """Lifetime compute of a model: pretraining plus all the inference it serves."""
    return pretraining_flops(n_params, pretrain_tokens) + inference_flops(
        n_params, inference_tokens
    )


def exchange_factor(m: float | np.ndarray, r: float | np.ndarray) -> float | np.ndarray:
    """How many times more inference tokens a model ``m`` times smaller may spend.

    At equal total FLOPs (pretraining on the same tokens plus inference), the small model can
    generate ``m + 3 (m - 1) / r`` times the tokens the large model generates, where
    ``r = D_inference / D_pretrain`` (Snell et al. 2024, sec. 7). It falls from infinity at
    ``r -> 0`` (inference is free next to training) to ``m`` at ``r -> inf`` (only the
    per-token cost matters). Works elementwise on arrays.
    """
    m_arr, r_arr = np.asarray(m, dtype=float), np.asarray(r, dtype=float)
    if np.any(m_arr < 1):
        raise ValueError(f"m (parameter ratio large/small) must be >= 1, got {m!r}")
    _check_positive("r (D_inference / D_pretrain)", r_arr)
    out = m_arr + 3.0 * (m_arr - 1.0) / r_arr
    return float(out) if out.ndim == 0 else out


def matched_inference_tokens(
    n_small: float, n_large: float, pretrain_tokens: float, large_inference_tokens: float
) -> float:
    """Inference tokens the small model may spend to match the large model's total FLOPs.

    Solves ``total_flops(n_small, D, x) == total_flops(n_large, D, large_inference_tokens)``
    for ``x``. Equals ``exchange_factor(n_large / n_small, R) * large_inference_tokens``.
    """
    if n_large < n_small:
        raise ValueError(f"n_large ({n_large}) must be >= n_small ({n_small})")
    budget = total_flops(n_large, pretrain_tokens, large_inference_tokens)
    return (budget - pretraining_flops(n_small, pretrain_tokens)) / (2.0 * n_small)


def exchange_table(
    ratios: Iterable[float], r_values: Iterable[float] = SNELL_R_VALUES
) -> pd.DataFrame:
    """Tidy table of the exchange factor: one row per (parameter ratio M, R)."""
    rows = [
        {"M": float(m), "R": float(r), "exchange_factor": exchange_factor(m, r)}
        for m in ratios
        for r in r_values
    ]
    return pd.DataFrame(rows)
