"""Metrics over repeated samples.

``pass_at_k`` is the unbiased estimator of Chen et al. (2021): with ``n`` samples of which
``c`` are correct, the chance that at least one of ``k`` samples drawn without replacement is
correct is ``1 - C(n-c, k) / C(n, k)``, computed in the numerically stable product form
``1 - prod_{i=n-c+1}^{n} (1 - k / i)``. The naive ``1 - (1 - c/n)^k`` is biased.
"""

from __future__ import annotations

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``n`` samples, ``c`` of them correct."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(n: int, correct_counts: np.ndarray, k: int) -> float:
    """pass@k averaged over problems (coverage at k), all with ``n`` samples."""
    return float(np.mean([pass_at_k(n, int(c), k) for c in np.asarray(correct_counts)]))


def pass_at_k_curve(n: int, correct_counts: np.ndarray, ks: list[int]) -> np.ndarray:
    """Per-problem pass@k for several k: array (problems, len(ks))."""
    counts = np.asarray(correct_counts, dtype=int)
    return np.array([[pass_at_k(n, int(c), k) for k in ks] for c in counts])


def bootstrap_mean_ci(
    values: np.ndarray, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of per-problem values with a percentile bootstrap interval over problems.

    Problems are the unit of resampling (Miller 2024): samples of one problem are not
    independent evidence about the population of problems.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("need at least one problem")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n_boot, len(values)))
    means = values[idx].mean(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(values.mean()), float(low), float(high)


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval (95% by default) of a proportion ``successes / trials``: unlike
    the normal approximation it stays inside [0, 1] and is not empty at 0 or ``trials``
    successes (Wilson 1927). NaN for no trials."""
    if trials <= 0:
        return float("nan"), float("nan")
    p = successes / trials
    denominator = 1 + z**2 / trials
    centre = (p + z**2 / (2 * trials)) / denominator
    half = z * np.sqrt(p * (1 - p) / trials + z**2 / (4 * trials**2)) / denominator
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def majority_answer(answers: list) -> object | None:
    """The most frequent non-``None`` answer; ties go to the answer seen first.

    ``None`` (no parseable answer) never wins; all-``None`` gives ``None``.
    """
    counts: dict[object, int] = {}
    for a in answers:
        if a is not None:
            counts[a] = counts.get(a, 0) + 1
    if not counts:
        return None
    best = max(counts.values())
    return next(a for a in answers if a is not None and counts[a] == best)


def majority_vote_curve(
    answers: list, truth: object, ks: list[int], n_resamples: int = 200, seed: int = 0
) -> np.ndarray:
    """Probability that a majority vote over ``k`` of the ``n`` samples is right, for each k.

    The same ``n`` samples serve every k: for ``k < n`` the probability is estimated from
    ``n_resamples`` random subsets of size ``k``; ``k == n`` is exact. Votes follow
    :func:`majority_answer` (``None`` never wins, ties go to the answer seen first in the
    subset). See :func:`ttc.selection.selection_curve` for the verifier-weighted rules.
    """
    from ttc.selection import selection_curve

    return selection_curve(answers, truth, ks, rule="majority", n_resamples=n_resamples,
                           seed=seed)


def majority_vote_at_k(
    answers: list, truth: object, k: int, n_resamples: int = 200, seed: int = 0
) -> float:
    """:func:`majority_vote_curve` at a single ``k``."""
    return float(majority_vote_curve(answers, truth, [k], n_resamples, seed)[0])


def fit_coverage_power_law(ks: np.ndarray, coverage: np.ndarray) -> tuple[float, float]:
    """Fit ``coverage(k) ≈ exp(a · k**b)`` (Brown et al. 2024); return ``(a, b)``.

    Linear least squares on ``log(-log c) = log(-a) + b log k`` over points with 0 < c < 1.
    """
    ks, coverage = np.asarray(ks, dtype=float), np.asarray(coverage, dtype=float)
    keep = (coverage > 0) & (coverage < 1)
    if keep.sum() < 2:
        raise ValueError("need at least two coverage values strictly between 0 and 1")
    slope, intercept = np.polyfit(np.log(ks[keep]), np.log(-np.log(coverage[keep])), 1)
    return float(-np.exp(intercept)), float(slope)


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random positive outscores a random
    negative, ties counting one half (the Mann-Whitney U statistic). NaN if a class is empty.
    """
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0  # 1-based mean rank of each tie group
    ranks[order] = np.repeat(average, counts)
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def within_group_auc(groups: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean ROC AUC computed inside each group (e.g. the samples of one problem), over the
    groups that have both classes. This is what selecting among one problem's candidates
    needs; a pooled AUC also rewards telling easy problems from hard ones."""
    frame = {"g": np.asarray(groups), "y": np.asarray(labels, dtype=bool),
             "s": np.asarray(scores, dtype=float)}
    values = []
    for g in np.unique(frame["g"]):
        rows = frame["g"] == g
        auc = roc_auc(frame["y"][rows], frame["s"][rows])
        if not np.isnan(auc):
            values.append(auc)
    return float(np.mean(values)) if values else float("nan")


def mean_by(frame, by: list[str], value: str, name: str | None = None, n_boot: int = 400):
    """Mean of the per-problem column ``value`` per group of ``by``, with a 95% bootstrap
    interval over problems: columns ``name``, ``name_low``, ``name_high`` and ``problems``
    (``name`` defaults to ``value``)."""
    import pandas as pd

    name = name or value
    rows = []
    for key, group in frame.groupby(by, sort=False):
        mean, low, high = bootstrap_mean_ci(group[value].to_numpy(), n_boot=n_boot)
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                     name: mean, f"{name}_low": low, f"{name}_high": high,
                     "problems": len(group)})
    return pd.DataFrame(rows)


#: up to this many problems the sign-flip test enumerates every sign pattern exactly
EXACT_SIGN_FLIPS = 16


def sign_flip_p(values: np.ndarray, n_flips: int = 10_000, seed: int = 0) -> float:
    """Two-sided p-value of the paired sign-flip (randomisation) test of "the mean
    difference is zero": under the null each per-problem difference is as likely to have
    the opposite sign, so the p-value is the share of sign patterns whose mean is at least
    as far from zero as the observed one. Exact (all 2^n patterns) up to
    :data:`EXACT_SIGN_FLIPS` problems; above, ``n_flips`` random patterns with the usual
    +1 correction, so it is never 0. Two problems that both favour one side give 0.5, not a
    tiny p-value: a percentile bootstrap would call that certain."""
    values = np.asarray(values, dtype=float)
    n = values.size
    if n == 0:
        return float("nan")
    observed = abs(values.mean())
    tolerance = 1e-12 * max(1.0, float(np.abs(values).max()))
    if n <= EXACT_SIGN_FLIPS:
        patterns = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)  # (2^n, n)
        means = np.abs(patterns @ values) / n
        return float(np.mean(means >= observed - tolerance))
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n_flips, n))  # (F, n)
    means = np.abs(signs @ values) / n
    return float((1 + np.sum(means >= observed - tolerance)) / (1 + n_flips))


def paired_bootstrap(differences: np.ndarray, n_boot: int = 10_000, level: float = 0.95,
                     seed: int = 0) -> dict[str, float]:
    """Mean of per-problem paired differences with a percentile bootstrap interval, and the
    two-sided p-value of the paired sign-flip test (:func:`sign_flip_p`, ``n_boot`` random
    patterns) for "the mean difference is zero".

    ``differences`` holds one value per problem (e.g. the small model's accuracy on it minus
    the larger model's), so the resampling unit is the problem and the pairing is kept. The
    p-value comes from a randomisation test rather than from the bootstrap means because a
    percentile bootstrap of a few same-signed differences has no mass at zero and would
    call any such difference certain. Returns ``mean``, ``low``, ``high``, ``p`` and
    ``problems``; NaN everywhere for no problems.
    """
    values = np.asarray(differences, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return {"mean": np.nan, "low": np.nan, "high": np.nan, "p": np.nan, "problems": 0}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n_boot, len(values)))  # (B, P)
    means = values[idx].mean(axis=1)  # (B,)
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    p = sign_flip_p(values, n_flips=n_boot, seed=seed + 1)
    return {"mean": float(values.mean()), "low": float(low), "high": float(high),
            "p": float(min(p, 1.0)), "problems": int(values.size)}


def holm(pvalues: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Holm's step-down correction: which hypotheses are rejected at family-wise error rate
    ``alpha`` (boolean array in the input order). NaN p-values are never rejected and do not
    count towards the family's size."""
    p = np.asarray(pvalues, dtype=float)
    reject = np.zeros(p.shape, dtype=bool)
    finite = np.flatnonzero(~np.isnan(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    for rank, index in enumerate(order):
        if p[index] > alpha / (m - rank):
            break
        reject[index] = True
    return reject


def verdict(mean: float, rejected: bool, positive: str = "wins", negative: str = "loses",
            neutral: str = "no detectable difference") -> str:
    """The word for a paired comparison: ``positive``/``negative`` only where the (corrected)
    test rejects "no difference", in the direction of the mean; ``neutral`` otherwise."""
    if not rejected or mean != mean or mean == 0:
        return neutral
    return positive if mean > 0 else negative
