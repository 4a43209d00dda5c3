"""Difficulty bins, cross-validated strategy choice and budget matching."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ttc.flops import exchange_factor, inference_flops, pretraining_flops, total_flops
from ttc.strategies import budget_to_match, cross_validated_choice, difficulty_bins, two_folds


@pytest.mark.parametrize("n", [5, 10, 17, 101, 504])
@pytest.mark.parametrize("n_bins", [2, 3, 5])
def test_bins_are_quantiles_with_equal_counts(n, n_bins):
    rng = np.random.default_rng(n)
    values = np.round(rng.random(n), 1)  # many ties
    bins = difficulty_bins(values, n_bins)
    counts = np.bincount(bins)[1:]
    assert len(counts) == n_bins and counts.max() - counts.min() <= 1
    # easier (higher pass@1) problems never land in a harder bin than harder ones
    for a in range(n):
        for b in range(n):
            if values[a] > values[b]:
                assert bins[a] <= bins[b]


def test_bins_hand_case_and_errors():
    assert difficulty_bins([0.9, 0.1, 0.5, 0.7, 0.3], 5).tolist() == [1, 5, 3, 2, 4]
    assert difficulty_bins([0.9, 0.1, 0.5, 0.7], 2).tolist() == [1, 2, 2, 1]
    with pytest.raises(ValueError):
        difficulty_bins([0.5], 2)
    with pytest.raises(ValueError):
        difficulty_bins([0.5, 0.2], 0)


def test_two_folds_halve_the_problems():
    folds = two_folds(range(11), seed=3)
    counts = np.bincount(list(folds.values()))
    assert sorted(counts.tolist()) == [5, 6]


def test_cross_validation_never_scores_on_its_training_fold():
    """Strategy "a" is perfect on fold 0 only and "b" on fold 1 only: a choice fitted on the
    scored fold would always score 1; a cross-validated one always scores 0."""
    problems = list(range(20))
    folds = two_folds(problems, seed=0)
    rows = []
    for p in problems:
        rows.append({"g": 1, "strategy": "a", "problem": p, "correct": float(folds[p] == 0)})
        rows.append({"g": 1, "strategy": "b", "problem": p, "correct": float(folds[p] == 1)})
    scores, choices = cross_validated_choice(pd.DataFrame(rows), ["g"], seed=0)
    assert len(scores) == 20 and scores["correct"].sum() == 0
    chosen = dict(zip(choices["fold"], choices["strategy"], strict=True))
    assert chosen == {0: "b", 1: "a"}  # fold 0 is scored by the choice made on fold 1
    assert (scores["fold"] != scores["chosen_on"]).all()
    for fold, strategy in chosen.items():
        scored = scores[scores["fold"] == fold]
        assert set(scored["problem"]) == {p for p in problems if folds[p] == fold}
        assert (scored["strategy"] == strategy).all()


def test_cross_validation_picks_the_better_strategy_per_group():
    rows = []
    for g, best in ((1, "x"), (2, "y")):
        for p in range(10):
            for s in ("x", "y"):
                rows.append({"g": g, "strategy": s, "problem": f"{g}-{p}",
                             "correct": float(s == best)})
    scores, _ = cross_validated_choice(pd.DataFrame(rows), ["g"], seed=1)
    assert scores["correct"].mean() == 1.0
    assert set(scores[scores["g"] == 1]["strategy"]) == {"x"}
    assert set(scores[scores["g"] == 2]["strategy"]) == {"y"}


def test_budget_to_match():
    assert budget_to_match([1, 4, 16], [0.2, 0.4, 0.8], 0.4) == pytest.approx(4)
    # halfway between 0.4 and 0.8 in accuracy is halfway between 4 and 16 in log-budget: 8
    assert budget_to_match([1, 4, 16], [0.2, 0.4, 0.8], 0.6) == pytest.approx(8)
    assert budget_to_match([1, 4, 16], [0.2, 0.4, 0.8], 0.1) == 1
    assert np.isnan(budget_to_match([1, 4, 16], [0.2, 0.4, 0.8], 0.9))


def test_matched_flops_by_hand():
    """Small (N=1e6) and 14x larger models trained on D=1e9 tokens; the larger one answers
    with 1e8 inference tokens in its lifetime (R = 0.1)."""
    n, m, d, y = 1e6, 14.0, 1e9, 1e8
    large = total_flops(m * n, d, y)
    assert large == 6 * 14e6 * 1e9 + 2 * 14e6 * 1e8
    factor = exchange_factor(m, y / d)  # 14 + 3 * 13 / 0.1 = 404
    assert factor == pytest.approx(404.0)
    small = pretraining_flops(n, d) + inference_flops(n, factor * y)
    assert small == pytest.approx(large)
