"""Answer selection: step aggregation, majority / best-of-N / weighted best-of-N, and the
vectorised selection curve against exact enumeration of ordered subsets."""

import itertools
import math

import numpy as np
import pytest

from ttc.selection import aggregate_steps, select_answer, selection_curve


def test_aggregate_steps_hand_computed():
    scores = [0.9, 0.2, 0.5]
    assert aggregate_steps(scores, "last") == pytest.approx(0.5)
    assert aggregate_steps(scores, "min") == pytest.approx(0.2)
    assert aggregate_steps(scores, "prod") == pytest.approx(0.9 * 0.2 * 0.5)
    assert aggregate_steps(scores) == pytest.approx(0.5)  # default: last step (Snell et al.)
    assert aggregate_steps(np.array([0.25]), "prod") == pytest.approx(0.25)
    assert isinstance(aggregate_steps((1, 0), "min"), float)
    for how in ("last", "min", "prod"):
        assert aggregate_steps([], how) == 0.0
    with pytest.raises(ValueError, match="aggregation"):
        aggregate_steps([0.5], "mean")


def test_select_answer_majority():
    assert select_answer([3, 5, 5, 3], rule="majority") == 3  # tie: first seen wins
    assert select_answer([5, 3, 3, 5], rule="majority") == 5
    assert select_answer([1, 2, 2], rule="majority") == 2
    # scores are ignored by majority vote
    assert select_answer([1, 2, 2], [10.0, 0.0, 0.0], rule="majority") == 2
    assert select_answer([None, None, 7], rule="majority") == 7  # None never wins
    assert select_answer([None, None], rule="majority") is None
    assert select_answer([], rule="majority") is None


def test_select_answer_best():
    assert select_answer([1, 2, 3], [0.2, 0.9, 0.5], rule="best") == 2
    assert select_answer([1, 2, 3], [0.2, 0.9, 0.9], rule="best") == 2  # tie: first seen
    assert select_answer([4, 4, 9], [0.1, 0.2, 0.6], rule="best") == 9  # frequency is ignored
    # an unparsed answer with the top score never wins
    assert select_answer([None, 4], [0.99, 0.1], rule="best") == 4
    assert select_answer([None, None], [0.5, 0.7], rule="best") is None
    assert select_answer([0, 1], [0.0, 0.0], rule="best") == 0  # answer 0 is an answer


def test_select_answer_weighted():
    answers, scores = [7, 8, 8], [0.9, 0.5, 0.5]
    # two low-scored agreeing answers (0.5 + 0.5 = 1.0) beat one high-scored answer (0.9) ...
    assert select_answer(answers, scores, rule="weighted") == 8
    assert select_answer(answers, scores) == 8  # weighted is the default rule
    # ... whereas best-of-N follows the single best score
    assert select_answer(answers, scores, rule="best") == 7
    assert select_answer([5, 6], [0.5, 0.5], rule="weighted") == 5  # tie: first seen
    assert select_answer([6, 5, 5], [0.6, 0.3, 0.3], rule="weighted") == 6
    # numerically tied sums (0.1 + 0.2 vs 0.3) also go to the first seen
    assert select_answer([9, 4, 4], [0.3, 0.1, 0.2], rule="weighted") == 9
    assert select_answer([4, 9, 4], [0.1, 0.3, 0.2], rule="weighted") == 4
    assert select_answer([None, None, 1], [1.0, 1.0, 0.01], rule="weighted") == 1
    assert select_answer([None, None], [1.0, 1.0], rule="weighted") is None
    assert select_answer([], [], rule="weighted") is None


def test_select_answer_errors():
    with pytest.raises(ValueError, match="needs scores"):
        select_answer([1, 2], rule="best")
    with pytest.raises(ValueError, match="needs scores"):
        select_answer([1, 2], rule="weighted")
    with pytest.raises(ValueError, match="2 answers but 1 scores"):
        select_answer([1, 2], [0.5], rule="weighted")
    with pytest.raises(ValueError, match="rule"):
        select_answer([1], [1.0], rule="vote")
    with pytest.raises(ValueError, match="rule"):
        selection_curve([1], 1, [1], [1.0], rule="vote")
    with pytest.raises(ValueError, match="needs scores"):
        selection_curve([1, 2], 1, [1], rule="weighted")
    with pytest.raises(ValueError, match="k"):
        selection_curve([1, 2], 1, [3], [0.5, 0.5], rule="best")
    with pytest.raises(ValueError, match="k"):
        selection_curve([1, 2], 1, [0], [0.5, 0.5], rule="best")


def exact_curve(answers, scores, truth, k, rule):
    """P(rule picks truth) over all ordered k-subsets (uniform random subset, random order)."""
    wins = [
        select_answer([answers[i] for i in perm], [scores[i] for i in perm], rule) == truth
        for perm in itertools.permutations(range(len(answers)), k)
    ]
    return float(np.mean(wins))


# Candidates built so that ties and Nones matter: equal scores across answers, a None with
# the top score, and an answer (2) that wins by agreement but never by the single best score.
CANDIDATES = [
    (2, 0.4), (3, 0.7), (None, 0.95), (2, 0.4), (1, 0.7), (2, 0.3), (3, 0.1),
]


@pytest.mark.parametrize("rule", ["best", "weighted", "majority"])
@pytest.mark.parametrize("truth", [1, 2, 3])
def test_selection_curve_matches_exact_enumeration(rule, truth):
    answers = [a for a, _ in CANDIDATES]
    scores = [s for _, s in CANDIDATES]
    ks = [1, 2, 3, 5, 6, 7]
    curve = selection_curve(answers, truth, ks, scores, rule=rule, n_resamples=20_000, seed=4)
    assert curve.shape == (len(ks),)
    for k, value in zip(ks[:-1], curve[:-1], strict=True):
        exact = exact_curve(answers, scores, truth, k, rule)
        # binomial sd <= 0.0036 at 20k resamples; 0.02 is > 5 sd
        assert value == pytest.approx(exact, abs=0.02), (rule, truth, k)
    # k == n is documented as exact *in the given order* (ties go to the earlier candidate)
    assert curve[-1] == float(select_answer(answers, scores, rule) == truth)


def test_selection_curve_tie_breaking_by_random_order():
    # Three distinct answers with equal scores: every k=2 subset is a tie, won by whichever
    # comes first in the subset's random order, so each answer wins with probability
    # (2/3 in the subset) * (1/2 first) = 1/3; never by index or by code order.
    answers, scores = [10, 20, 30], [0.5, 0.5, 0.5]
    for rule in ("best", "weighted", "majority"):
        for truth in answers:
            (value,) = selection_curve(answers, truth, [2], scores, rule=rule,
                                       n_resamples=20_000, seed=1)
            assert value == pytest.approx(1 / 3, abs=0.02)
            assert exact_curve(answers, scores, truth, 2, rule) == pytest.approx(1 / 3)


def test_selection_curve_slow_reference_with_rng_subsets():
    """Same data, a slow reference drawing random permutations and calling select_answer."""
    rng = np.random.default_rng(7)
    n = 12
    answers = [None if x == 0 else int(x) for x in rng.integers(0, 4, size=n)]
    scores = np.round(rng.random(n), 1).tolist()  # rounding makes score ties likely
    truth = 2
    ks = [1, 3, 6, 11]
    for rule in ("best", "weighted"):
        curve = selection_curve(answers, truth, ks, scores, rule=rule, n_resamples=6000, seed=2)
        for k, value in zip(ks, curve, strict=True):
            slow = np.mean([
                select_answer([answers[i] for i in perm[:k]], [scores[i] for i in perm[:k]],
                              rule) == truth
                for perm in (rng.permutation(n) for _ in range(6000))
            ])
            # two independent estimates, each sd <= 0.0065: 0.035 is > 3.8 sd of the difference
            assert value == pytest.approx(slow, abs=0.035), (rule, k)


@pytest.mark.parametrize("rule", ["best", "weighted", "majority"])
def test_selection_curve_exact_at_k_equals_n(rule):
    answers = [5, 6, 6, None, 5]
    scores = [0.8, 0.45, 0.45, 1.0, 0.05]
    # hand-computed winners in the given order: best -> 5 (0.8); weighted -> 6 (0.9 > 0.85);
    # majority -> 5 (2-2 tie, first seen)
    winner = {"best": 5, "weighted": 6, "majority": 5}[rule]
    assert select_answer(answers, scores, rule) == winner
    for truth in (5, 6, 7):
        curve = selection_curve(answers, truth, [5], scores, rule=rule, n_resamples=1, seed=9)
        assert curve.tolist() == [float(truth == winner)]  # exact: no resampling noise


def test_selection_curve_without_any_answer_and_truth_absent():
    assert selection_curve([None, None, None], 1, [1, 2, 3], [0.9, 0.8, 0.7],
                           rule="weighted").tolist() == [0.0, 0.0, 0.0]
    assert selection_curve([None, None], 1, [1, 2]).tolist() == [0.0, 0.0]
    # a truth that no candidate gives can never be picked
    assert selection_curve([1, 2, 3], 4, [1, 2, 3], [0.1, 0.2, 0.3],
                           rule="best").tolist() == [0.0, 0.0, 0.0]
    # a single answer always wins, whatever the subset
    curve = selection_curve([8, None, 8, 8], 8, [1, 2, 3, 4], [0.1, 1.0, 0.2, 0.3],
                            rule="weighted", n_resamples=500)
    assert curve[1:].tolist() == [1.0, 1.0, 1.0]
    assert curve[0] == pytest.approx(0.75, abs=0.06)  # k=1: the None is drawn 1/4 of the time
    assert not math.isnan(curve[0])
