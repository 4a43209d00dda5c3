"""Difficulty bins and the compute-optimal choice of strategy per bin (Snell et al. 2024, §3).

Difficulty is a property of a problem *for a given policy*: five quantile bins of the policy's
pass@1 on the problem (the *oracle* difficulty, from many samples) or of the mean verifier
score over the same samples (the *predicted* difficulty, which needs no ground truth). Within
each bin and budget, the compute-optimal strategy is the one with the best accuracy, chosen by
two-fold cross-validation so that no problem is scored by a choice fitted on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def difficulty_bins(values: Sequence[float], n_bins: int = 5, easiest_high: bool = True,
                    seed: int = 0) -> np.ndarray:
    """Quantile bins 1..n_bins with equal counts (± 1); bin 1 is the easiest.

    ``values`` is a per-problem statistic where higher means easier (pass@1) when
    ``easiest_high``; ties are broken at random (seeded) so that the counts stay equal.
    """
    values = np.asarray(values, dtype=float)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    if len(values) < n_bins:
        raise ValueError(f"need at least {n_bins} problems for {n_bins} bins, got {len(values)}")
    jitter = np.random.default_rng(seed).random(len(values))
    key = -values if easiest_high else values
    order = np.lexsort((jitter, key))  # easiest first
    ranks = np.empty(len(values), dtype=int)
    ranks[order] = np.arange(len(values))
    return ranks * n_bins // len(values) + 1


def two_folds(problems: Sequence, seed: int = 0) -> dict:
    """Assign each problem to fold 0 or 1 at random, halves of equal size (± 1)."""
    problems = list(dict.fromkeys(problems))
    order = np.random.default_rng(seed).permutation(len(problems))
    return {problems[i]: int(rank % 2) for rank, i in enumerate(order)}


def cross_validated_choice(table: pd.DataFrame, group_by: Sequence[str], strategy: str = "strategy",
                           value: str = "correct", problem: str = "problem",
                           seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Choose the best strategy per group by two-fold cross-validation over problems.

    ``table`` has one row per (group..., strategy, problem) with the problem's score under
    that strategy. Within each group, the problems are split into two folds; the strategy
    with the highest mean score on one fold is applied to the other, and vice versa, so every
    problem is scored by a choice made without it. Ties go to the strategy listed first.

    Returns ``scores`` (one row per group and problem: the chosen strategy, the fold it was
    chosen on, and the problem's score under it) and ``choices`` (one row per group and
    fold).
    """
    folds = two_folds(table[problem], seed)
    data = table.assign(_fold=table[problem].map(folds))
    scores, choices = [], []
    for key, group in data.groupby(list(group_by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        order = list(dict.fromkeys(group[strategy]))
        for held_out in (0, 1):
            train = group[group["_fold"] != held_out]
            test = group[group["_fold"] == held_out]
            if test.empty:
                continue
            if train.empty:  # a one-problem group: nothing to choose on
                continue
            means = train.groupby(strategy)[value].mean().reindex(order)
            chosen = means.idxmax()
            picked = test[test[strategy] == chosen]
            choices.append({**dict(zip(group_by, key, strict=True)), "fold": held_out,
                            "strategy": chosen, "train_score": float(means.max()),
                            "train_problems": int(train[problem].nunique())})
            scores.append(picked.assign(fold=held_out, chosen_on=1 - held_out)
                          .drop(columns="_fold"))
    return (pd.concat(scores, ignore_index=True) if scores else pd.DataFrame(),
            pd.DataFrame(choices))


def budget_to_match(budgets: Sequence[float], accuracy: Sequence[float],
                    target: float) -> float:
    """Smallest budget at which an accuracy curve reaches ``target``, interpolating linearly
    in log-budget between measured points; NaN if it never does."""
    budgets = np.asarray(budgets, dtype=float)
    accuracy = np.asarray(accuracy, dtype=float)
    order = np.argsort(budgets)
    budgets, accuracy = budgets[order], accuracy[order]
    if accuracy[0] >= target:
        return float(budgets[0])
    for i in range(1, len(budgets)):
        if accuracy[i] >= target:
            lo, hi = np.log(budgets[i - 1]), np.log(budgets[i])
            step = accuracy[i] - accuracy[i - 1]
            frac = (target - accuracy[i - 1]) / step if step > 0 else 1.0
            return float(np.exp(lo + frac * (hi - lo)))
    return float("nan")
