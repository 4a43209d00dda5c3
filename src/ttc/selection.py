"""Choosing one answer from many candidates: majority vote, best-of-N, weighted best-of-N.

A candidate is an answer (``None`` when it has none: unfinished or malformed) with a verifier
score. Three rules, all with ties going to the candidate seen first:

- ``"majority"``: the most frequent answer (self-consistency, Wang et al. 2023);
- ``"best"``: the answer of the single highest-scored candidate (best-of-N, Cobbe et al. 2021);
- ``"weighted"``: the answer whose candidates' scores sum highest (weighted best-of-N,
  Li et al. 2023; the final step of Snell et al. 2024's searches).

A process verifier gives one score per step; :func:`aggregate_steps` turns them into one
answer score by the last step (Snell et al.'s choice), the minimum (Lightman et al. 2023) or
the product.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RULES = ("majority", "best", "weighted")
AGGREGATIONS = ("last", "min", "prod")


def aggregate_steps(step_scores: Sequence[float], how: str = "last") -> float:
    """One score for a whole chain from its per-step scores; an empty chain scores 0."""
    if how not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {how!r}")
    scores = np.asarray(step_scores, dtype=float)
    if scores.size == 0:
        return 0.0
    if how == "last":
        return float(scores[-1])
    return float(scores.min() if how == "min" else scores.prod())


def _check_rule(rule: str) -> None:
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")


def select_answer(answers: Sequence, scores: Sequence[float] | None = None,
                  rule: str = "weighted") -> object | None:
    """The answer a rule picks from candidates in order; ``None`` if no candidate has one.

    ``scores`` may be omitted for ``"majority"`` (every candidate weighs 1).
    """
    _check_rule(rule)
    if scores is None:
        if rule != "majority":
            raise ValueError(f"rule {rule!r} needs scores")
        scores = [1.0] * len(answers)
    if len(scores) != len(answers):
        raise ValueError(f"got {len(answers)} answers but {len(scores)} scores")
    weights = [1.0] * len(answers) if rule == "majority" else [float(s) for s in scores]
    if rule == "best":
        best, pick = -np.inf, None
        for answer, weight in zip(answers, weights, strict=True):
            if answer is not None and weight > best:
                best, pick = weight, answer
        return pick
    totals: dict[object, float] = {}
    for answer, weight in zip(answers, weights, strict=True):
        if answer is not None:
            totals[answer] = totals.get(answer, 0.0) + weight
    if not totals:
        return None
    top = max(totals.values())
    # first seen among the (numerically) tied leaders
    return next(a for a in answers if a is not None and np.isclose(totals[a], top))


def selection_curve(
    answers: Sequence, truth: object, ks: Sequence[int], scores: Sequence[float] | None = None,
    rule: str = "majority", n_resamples: int = 200, seed: int = 0,
) -> np.ndarray:
    """Probability that ``rule`` applied to ``k`` of the ``n`` candidates picks ``truth``.

    The same ``n`` samples serve every k (never re-sample the model per k): for ``k < n`` the
    probability is estimated from ``n_resamples`` random subsets of size ``k`` drawn without
    replacement, each in random order (which decides ties); ``k == n`` is exact, in the given
    order. Matches :func:`select_answer` on every subset; vectorised over resamples.
    """
    _check_rule(rule)
    n = len(answers)
    if scores is None:
        if rule != "majority":
            raise ValueError(f"rule {rule!r} needs scores")
        scores = np.ones(n)
    weight = np.ones(n) if rule == "majority" else np.asarray(scores, dtype=float)  # (n,)
    codes_of: dict[object, int] = {}
    codes = np.array([-1 if a is None else codes_of.setdefault(a, len(codes_of))
                      for a in answers], dtype=int)  # (n,)
    target = codes_of.get(truth, -2)
    rng = np.random.default_rng(seed)
    out = np.empty(len(ks))
    for j, k in enumerate(ks):
        if not 1 <= k <= n:
            raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
        if k == n or not codes_of:
            out[j] = float(select_answer(list(answers), list(weight), rule) == truth) \
                if k == n else 0.0
            continue
        picks = np.argsort(rng.random((n_resamples, n)), axis=1)[:, :k]  # (R, k)
        out[j] = float(np.mean(_subset_winners(codes[picks], weight[picks], len(codes_of),
                                               rule) == target))
    return out


def _subset_winners(drawn: np.ndarray, weights: np.ndarray, n_codes: int,
                    rule: str) -> np.ndarray:
    """Code of the winning answer in each row of ``drawn`` (R, k); -1 where none has one."""
    n_rows, k = drawn.shape
    valid = drawn >= 0  # (R, k)
    if rule == "best":
        masked = np.where(valid, weights, -np.inf)  # (R, k)
        position = masked.argmax(axis=1)  # first maximum: ties to the earliest
        winner = drawn[np.arange(n_rows), position]
        return np.where(valid.any(axis=1), winner, -1)
    totals = np.zeros((n_rows, n_codes))
    first = np.full((n_rows, n_codes), k, dtype=int)
    rows = np.repeat(np.arange(n_rows), k)[valid.ravel()]
    flat = drawn.ravel()[valid.ravel()]
    pos = np.tile(np.arange(k), n_rows)[valid.ravel()]
    np.add.at(totals, (rows, flat), weights.ravel()[valid.ravel()])
    np.minimum.at(first, (rows, flat), pos)
    seen = first < k  # (R, C): the answer occurs in the subset
    top = np.where(seen, totals, -np.inf).max(axis=1, keepdims=True)  # (R, 1)
    leaders = seen & np.isclose(totals, top)
    winner = np.where(leaders, first, k + 1).argmin(axis=1)
    return np.where(valid.any(axis=1), winner, -1)
