"""pass@k against brute-force enumeration of all k-subsets."""

import itertools

import numpy as np
import pytest

from ttc.metrics import mean_pass_at_k, pass_at_k


@pytest.mark.parametrize("n", [1, 2, 5, 7])
def test_pass_at_k_matches_enumeration(n):
    for c in range(n + 1):
        outcomes = [1] * c + [0] * (n - c)
        for k in range(1, n + 1):
            subsets = list(itertools.combinations(outcomes, k))
            brute = sum(any(s) for s in subsets) / len(subsets)
            assert pass_at_k(n, c, k) == pytest.approx(brute)


def test_pass_at_k_edge_cases_and_errors():
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError):
        pass_at_k(5, 2, 6)


def test_mean_pass_at_k():
    assert mean_pass_at_k(4, np.array([0, 4]), 2) == pytest.approx(0.5)


def test_bootstrap_interval_covers_truth_at_about_the_stated_rate():
    from ttc.metrics import bootstrap_mean_ci

    rng = np.random.default_rng(1)
    truth, hits, trials = 0.3, 0, 200
    for t in range(trials):
        sample = rng.random(200) < truth
        _, low, high = bootstrap_mean_ci(sample, n_boot=400, seed=t)
        hits += low <= truth <= high
    assert 0.90 <= hits / trials <= 0.99


def test_majority_answer_ties_and_none():
    from ttc.metrics import majority_answer

    assert majority_answer([3, 5, 5, 3]) == 3  # tie: first seen wins
    assert majority_answer([None, None, 7]) == 7
    assert majority_answer([None, None]) is None
    assert majority_answer([]) is None


def test_majority_vote_at_k_matches_enumeration():
    import itertools

    from ttc.metrics import majority_answer, majority_vote_at_k

    answers = [1, 2, 2, None, 1, 1]
    k = 3
    exact = np.mean([
        majority_answer([answers[i] for i in perm[:k]]) == 1
        for perm in itertools.permutations(range(len(answers)))
    ])
    assert majority_vote_at_k(answers, 1, k, n_resamples=4000, seed=0) == pytest.approx(
        exact, abs=0.03)
    assert majority_vote_at_k(answers, 1, len(answers)) == 1.0


def test_power_law_fit_recovers_parameters():
    from ttc.metrics import fit_coverage_power_law

    ks = np.array([1, 2, 4, 8, 16, 32, 64])
    a, b = -1.5, -0.4
    a_hat, b_hat = fit_coverage_power_law(ks, np.exp(a * ks**b))
    assert a_hat == pytest.approx(a) and b_hat == pytest.approx(b)
    with pytest.raises(ValueError):
        fit_coverage_power_law(ks, np.ones(7))


def test_majority_vote_curve_matches_slow_reference():
    from ttc.metrics import majority_answer, majority_vote_curve

    rng = np.random.default_rng(3)
    answers = [None if x == 0 else int(x) for x in rng.integers(0, 4, size=12)]
    truth = 2
    curve = majority_vote_curve(answers, truth, [1, 3, 6, 12], n_resamples=3000, seed=1)
    for k, value in zip([1, 3, 6, 12], curve, strict=True):
        slow = np.mean([
            majority_answer([answers[i] for i in rng.permutation(12)[:k]]) == truth
            for _ in range(3000)
        ])
        assert value == pytest.approx(slow, abs=0.035)
    assert majority_vote_curve([None, None], 1, [1, 2]).tolist() == [0.0, 0.0]


def test_roc_auc_matches_pairwise_count():
    from ttc.metrics import roc_auc

    rng = np.random.default_rng(3)
    labels = rng.random(60) < 0.4
    scores = rng.integers(0, 6, size=60).astype(float)  # many ties
    pos, neg = scores[labels], scores[~labels]
    brute = np.mean([(p > q) + 0.5 * (p == q) for p in pos for q in neg])
    assert roc_auc(labels, scores) == pytest.approx(brute)
    assert roc_auc([True, False], [0.9, 0.1]) == 1.0
    assert roc_auc([True, False], [0.1, 0.9]) == 0.0
    assert np.isnan(roc_auc([True, True], [0.1, 0.9]))


def test_within_group_auc_ignores_between_group_differences():
    from ttc.metrics import roc_auc, within_group_auc

    groups = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    labels = np.array([1, 0, 0, 1, 1, 0, 0, 0], dtype=bool)  # group 2 has one class only
    scores = np.array([0.3, 0.2, 0.1, 0.9, 0.95, 0.99, 0.5, 0.4])
    # group 0: perfect (1.0); group 1: the negative outscores both positives (0.0)
    assert within_group_auc(groups, labels, scores) == pytest.approx(0.5)
    assert roc_auc(labels, scores) != pytest.approx(0.5)  # pooled AUC mixes the groups
    assert np.isnan(within_group_auc(groups[6:], labels[6:], scores[6:]))
