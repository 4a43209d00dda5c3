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
    probability is estimated from ``n_resamples`` random orders of the ``n`` candidates, whose
    first ``k`` are a random subset of size ``k`` in random order (which decides ties); every
    k reads prefixes of the same orders, so one pass over the orders serves all k. ``k == n``
    is exact, in the given order. Matches :func:`select_answer` on every subset.
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
    for k in ks:
        if not 1 <= k <= n:
            raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    out = np.zeros(len(ks))
    for j, k in enumerate(ks):
        if k == n:
            out[j] = float(select_answer(list(answers), list(weight), rule) == truth)
    partial = sorted({int(k) for k in ks if k < n})
    if not partial or not codes_of:
        return out  # no candidate has an answer: nothing can be picked below k = n
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((n_resamples, n)), axis=1)[:, : partial[-1]]  # (R, k_max)
    won = _prefix_winners(codes[order], weight[order], len(codes_of), rule, partial)
    share = (np.stack([won[k] for k in partial]) == target).mean(axis=1)  # (K,)
    hits = dict(zip(partial, share.tolist(), strict=True))
    for j, k in enumerate(ks):
        if k < n:
            out[j] = hits[int(k)]
    return out


def _prefix_winners(drawn: np.ndarray, weights: np.ndarray, n_codes: int, rule: str,
                    ks: Sequence[int]) -> dict[int, np.ndarray]:
    """Code of the winning answer among the first ``k`` candidates of each row of ``drawn``
    (R, k_max), for every k in ``ks`` (ascending); -1 where none has an answer. Ties go to
    the candidate seen first in the row."""
    n_rows, k_max = drawn.shape
    rows = np.arange(n_rows)
    wanted, out = set(ks), {}
    if rule == "best":
        best = np.full(n_rows, -np.inf)  # the highest score so far (R,)
        winner = np.full(n_rows, -1)
        for t in range(k_max):
            code, w = drawn[:, t], weights[:, t]
            better = (code >= 0) & ((w > best) | (winner < 0))  # strict: first maximum wins
            best = np.where(better, w, best)
            winner = np.where(better, code, winner)
            if t + 1 in wanted:
                out[t + 1] = winner.copy()
        return out
    totals = np.zeros((n_rows, n_codes))  # summed weight per answer so far (R, C)
    first = np.full((n_rows, n_codes), k_max, dtype=int)  # where each answer first appeared
    for t in range(k_max):
        code = drawn[:, t]
        valid = code >= 0
        r, c = rows[valid], code[valid]  # one candidate per row: no repeated index
        totals[r, c] += weights[valid, t]
        first[r, c] = np.minimum(first[r, c], t)
        if t + 1 in wanted:
            seen = first <= t  # (R, C): the answer occurs among the first t + 1
            top = np.where(seen, totals, -np.inf).max(axis=1, keepdims=True)  # (R, 1)
            # np.isclose(totals, top) without its per-call overhead (it dominated the
            # chapter 7 profile): |a - b| <= 1e-8 + 1e-5·|b|, never true where top is -inf
            with np.errstate(invalid="ignore"):
                leaders = seen & (np.abs(totals - top) <= 1e-8 + 1e-5 * np.abs(top))
            winner = np.where(leaders, first, k_max + 1).argmin(axis=1)
            out[t + 1] = np.where(seen.any(axis=1), winner, -1)
    return out
