"""AUCs with intervals over problems: the weighted AUC against brute-force repetition, the
per-problem AUC by hand, and the summary table's intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ttc.metrics import roc_auc, within_group_auc
from ttc.verifiers.quality import (
    auc_summary,
    pair_order_changes,
    per_problem_auc,
    weighted_auc,
)


def test_weighted_auc_equals_the_auc_of_repeated_rows():
    rng = np.random.default_rng(0)
    labels = rng.random(40) < 0.4
    scores = rng.integers(0, 6, 40).astype(float)  # many ties
    weights = rng.integers(0, 4, 40)
    repeated = roc_auc(np.repeat(labels, weights), np.repeat(scores, weights))
    assert weighted_auc(labels, scores, weights) == pytest.approx(repeated)
    assert weighted_auc(labels, scores, np.ones(40)) == pytest.approx(roc_auc(labels, scores))
    assert np.isnan(weighted_auc([True, False], [0.1, 0.2], [1, 0]))  # no negative weight


def test_per_problem_auc_by_hand():
    problems = [0, 0, 0, 1, 1, 2, 2]
    labels = [True, False, False, True, True, True, False]
    scores = [0.9, 0.5, 0.95, 0.2, 0.3, 0.4, 0.4]
    values = per_problem_auc(problems, labels, scores)
    # problem 0: the right chain beats one of two wrong ones; 1 has no wrong chain; 2 ties
    assert values.to_dict() == {0: 0.5, 2: 0.5}
    assert values.mean() == pytest.approx(within_group_auc(problems, labels, scores))


def test_auc_summary_points_and_intervals():
    rng = np.random.default_rng(1)
    problem = np.repeat(np.arange(30), 8)
    correct = rng.random(len(problem)) < 0.5
    frame = pd.DataFrame({"problem": problem, "correct": correct,
                          "perfect": correct.astype(float),
                          "noise": rng.random(len(problem))})
    table = auc_summary(frame, {"perfect": "perfect", "noise": "noise"}, n_boot=300).set_index(
        "score")
    assert table.loc["perfect", "auc"] == 1.0 and table.loc["perfect", "auc_within"] == 1.0
    assert table.loc["perfect", "auc_low"] == 1.0  # every resample is separated perfectly
    noise = table.loc["noise"]
    assert noise["auc"] == pytest.approx(roc_auc(correct, frame["noise"]))
    assert noise["auc_within"] == pytest.approx(within_group_auc(problem, correct,
                                                                 frame["noise"]))
    assert noise["auc_low"] < noise["auc"] < noise["auc_high"]
    assert noise["auc_within_low"] < noise["auc_within"] < noise["auc_within_high"]
    assert noise["auc_within_low"] < 0.5 < noise["auc_within_high"]  # chance, and it says so
    assert noise["chains"] == 240 and noise["mixed_problems"] == 30
    again = auc_summary(frame, {"noise": "noise"}, n_boot=300)
    assert again.iloc[0]["auc_low"] == noise["auc_low"]  # deterministic by seed


def test_pair_order_changes_by_hand_and_against_brute_force():
    # problem 0: right chains r1, r2 and wrong w; problem 1: no wrong chain (no pairs)
    problems = np.array([0, 0, 0, 1, 1])
    labels = np.array([True, True, False, True, True])
    first = np.array([0.9, 0.2, 0.5, 0.1, 0.3])  # r1 > w, r2 < w
    second = np.array([0.4, 0.6, 0.5, 0.9, 0.0])  # r1 < w, r2 > w: both pairs swap
    assert pair_order_changes(problems, labels, first, second) == {
        "pairs": 2, "reordered": 2, "better": 1, "worse": 1}
    # both swaps cancel: the within-problem AUC is the same, 0.5
    assert per_problem_auc(problems, labels, first).equals(
        per_problem_auc(problems, labels, second))
    # a tie is an order of its own; a shifted score reorders nothing
    tied = np.array([0.5, 0.2, 0.5, 0.1, 0.3])  # r1 level with w: worse than above it
    assert pair_order_changes(problems, labels, first, tied) == {
        "pairs": 2, "reordered": 1, "better": 0, "worse": 1}
    assert pair_order_changes(problems, labels, first, first + 1.0)["reordered"] == 0

    rng = np.random.default_rng(3)
    problems = rng.integers(0, 6, 60)
    labels = rng.random(60) < 0.4
    first, second = rng.integers(0, 4, 60) / 4, rng.integers(0, 4, 60) / 4
    pairs = better = worse = 0
    for i in range(60):
        for j in range(60):
            if problems[i] == problems[j] and labels[i] and not labels[j]:
                pairs += 1
                before, after = np.sign(first[i] - first[j]), np.sign(second[i] - second[j])
                better += after > before
                worse += after < before
    assert pair_order_changes(problems, labels, first, second) == {
        "pairs": pairs, "reordered": int(better + worse), "better": int(better),
        "worse": int(worse)}
