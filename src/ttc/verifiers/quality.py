"""How well a verifier separates right from wrong chains, with 95% intervals over problems.

Two AUCs (the chance that a random right chain outscores a random wrong one, ties counting
one half): *pooled* over all chains, and *within problem*, averaged over the problems that
have both right and wrong chains. Selection among one problem's candidates needs the second;
the pooled one also rewards telling easy problems from hard ones.

Problems are the unit of resampling (the chains of one problem are not independent
evidence): the within-problem interval is a percentile bootstrap of the mean of per-problem
AUCs, the pooled one recomputes the AUC with every chain weighted by how often its problem
was drawn, which is the AUC of the resampled set of problems without building it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ttc.metrics import bootstrap_mean_ci, roc_auc


def weighted_auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> float:
    """ROC AUC with a non-negative weight per row: equal to :func:`ttc.metrics.roc_auc` on
    the rows repeated ``weights`` times (integer weights). NaN if a class weighs nothing."""
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    weights = np.asarray(weights, dtype=float)
    _, tie_group = np.unique(scores, return_inverse=True)
    return _grouped_auc(labels, tie_group, weights)


def _grouped_auc(labels: np.ndarray, tie_group: np.ndarray, weights: np.ndarray) -> float:
    """AUC from each row's tie group (rank of its score among the distinct scores)."""
    n_groups = int(tie_group.max()) + 1 if len(tie_group) else 0
    positive = np.bincount(tie_group, weights=weights * labels, minlength=n_groups)
    negative = np.bincount(tie_group, weights=weights * ~labels, minlength=n_groups)
    total_pos, total_neg = positive.sum(), negative.sum()
    if total_pos <= 0 or total_neg <= 0:
        return float("nan")
    below = np.cumsum(negative) - negative  # negatives with a strictly lower score
    return float((positive * (below + 0.5 * negative)).sum() / (total_pos * total_neg))


def per_problem_auc(problems: np.ndarray, labels: np.ndarray, scores: np.ndarray
                    ) -> pd.Series:
    """AUC inside each problem that has both right and wrong chains (indexed by problem)."""
    frame = pd.DataFrame({"problem": np.asarray(problems), "y": np.asarray(labels, dtype=bool),
                          "s": np.asarray(scores, dtype=float)})
    values = {problem: roc_auc(group["y"], group["s"])
              for problem, group in frame.groupby("problem", sort=True)}
    return pd.Series({k: v for k, v in values.items() if not np.isnan(v)}, dtype=float)


def pair_order_changes(problems: np.ndarray, labels: np.ndarray, first: np.ndarray,
                       second: np.ndarray) -> dict[str, int]:
    """How many (right, wrong) pairs of chains of the same problem two scores order
    differently: ``pairs`` (every such pair, the within-problem AUC's unit), ``reordered``
    (pairs where one score puts the right chain above, level with or below the wrong one and
    the other does not), and of those ``better`` (``second`` orders the pair more in the
    right chain's favour: below to level or above, level to above) and ``worse``. Two
    scores with the same within-problem AUC can still reorder pairs (as many each way); two
    with different pooled AUCs can reorder none."""
    frame = pd.DataFrame({"problem": np.asarray(problems), "y": np.asarray(labels, dtype=bool),
                          "a": np.asarray(first, dtype=float),
                          "b": np.asarray(second, dtype=float)})
    pairs = better = worse = 0
    for _, group in frame.groupby("problem", sort=False):
        right, wrong = group[group["y"]], group[~group["y"]]
        if not len(right) or not len(wrong):
            continue
        # (right, wrong): the sign of right minus wrong under each score
        order_a = np.sign(right["a"].to_numpy()[:, None] - wrong["a"].to_numpy()[None, :])
        order_b = np.sign(right["b"].to_numpy()[:, None] - wrong["b"].to_numpy()[None, :])
        pairs += order_a.size
        better += int((order_b > order_a).sum())
        worse += int((order_b < order_a).sum())
    return {"pairs": pairs, "reordered": better + worse, "better": better, "worse": worse}


def auc_summary(frame: pd.DataFrame, scores: Mapping[str, str], label: str = "correct",
                group: str = "problem", n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per score (``scores`` maps a display name to a column of ``frame``): pooled
    AUC and within-problem AUC, each with a 95% bootstrap interval over problems
    (``auc``, ``auc_low``, ``auc_high``, ``auc_within``, ``auc_within_low``,
    ``auc_within_high``), the problems with both classes (``mixed_problems``) and the
    chains (``chains``). Every score is resampled with the same problems (paired)."""
    problem_ids, row_problem = np.unique(frame[group].to_numpy(), return_inverse=True)
    labels = frame[label].to_numpy(dtype=bool)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(problem_ids), size=(n_boot, len(problem_ids)))
    multiplicity = np.stack([np.bincount(d, minlength=len(problem_ids)) for d in draws])
    rows = []
    for name, column in scores.items():
        values = frame[column].to_numpy(dtype=float)
        _, tie_group = np.unique(values, return_inverse=True)
        pooled = _grouped_auc(labels, tie_group, np.ones(len(values)))
        boots = [_grouped_auc(labels, tie_group, m[row_problem].astype(float))
                 for m in multiplicity]
        finite = [b for b in boots if not np.isnan(b)]  # a resample may lack a class
        low, high = np.quantile(finite, [0.025, 0.975]) if finite else (np.nan, np.nan)
        within = per_problem_auc(frame[group], labels, values)
        if len(within):
            mean, w_low, w_high = bootstrap_mean_ci(within.to_numpy(), n_boot=n_boot,
                                                    seed=seed)
        else:
            mean = w_low = w_high = float("nan")
        rows.append({"score": name, "auc": pooled, "auc_low": float(low),
                     "auc_high": float(high), "auc_within": mean, "auc_within_low": w_low,
                     "auc_within_high": w_high, "mixed_problems": len(within),
                     "chains": len(frame)})
    return pd.DataFrame(rows)
