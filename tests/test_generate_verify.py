"""Splitting a FLOPs budget between generating and verifying (ttc.generate_verify): the cost
accounting, the per-problem accuracies against hand-computed and brute-force values, the
frontier, the summary table and the cross-fitted verdicts on hand-built tables."""

import itertools

import numpy as np
import pandas as pd
import pytest

from ttc.generate_verify import (
    CEILING,
    LIKELIHOOD,
    METHODS,
    SPLIT,
    VOTE,
    SplitCosts,
    frontier_index,
    split_accuracy,
    split_points,
    split_verdicts,
    with_flops,
)
from ttc.selection import select_answer
from ttc.strategies import two_folds

VERDICT_COLUMNS = ["difficulty", "budget_N", "flops", "chosen", "split", "vote", "ceiling",
                   "difference", "low", "high", "p", "problems", "verdict"]


def _verified(problem, answers, trajectories):
    """Verified candidates of one problem: ``trajectories`` is (candidates, K_max)."""
    table = np.asarray(trajectories, dtype=float)
    frame = pd.DataFrame({"problem": problem, "sample": range(len(answers)),
                          "answer": answers})
    for j in range(table.shape[1]):
        frame[f"t{j}"] = table[:, j]
    return frame


def _samples(problem, answers, truth, likelihood=None):
    likelihood = np.linspace(0.1, 0.9, len(answers)) if likelihood is None else likelihood
    return pd.DataFrame({"problem": problem, "answer": answers,
                         "correct": [a == truth for a in answers],
                         "likelihood": likelihood})


def _rows(table, method, k=None):
    rows = table[table["method"] == method]
    if k is not None:
        rows = rows[rows["K"] == k]
    return rows.set_index("N")["accuracy"]


# -- SplitCosts ---------------------------------------------------------------------------


def test_split_costs_flops_by_hand():
    """FLOPs of each method: candidates pay ``generate``; the split adds K rationales each,
    the likelihood one re-reading, the perfect verifier one check; vote pays nothing more."""
    costs = SplitCosts(generate=10, verify=3, reread=10, check=5)
    assert costs.flops(SPLIT, 4, 2) == pytest.approx(4 * (10 + 2 * 3))  # 64
    assert costs.flops(SPLIT, 4, 2) == pytest.approx(64)
    assert costs.flops(SPLIT, 1, 5) == pytest.approx(25)
    assert costs.flops(VOTE, 4) == pytest.approx(40)
    assert costs.flops(VOTE, 4, 7) == pytest.approx(40)  # K is ignored without rationales
    assert costs.flops(LIKELIHOOD, 4) == pytest.approx(80)
    assert costs.flops(CEILING, 4) == pytest.approx(60)
    # zero extra costs are allowed: then every method costs what its candidates cost
    free = SplitCosts(generate=2, verify=0, reread=0, check=0)
    assert {free.flops(m, 3, 1) for m in METHODS} == {6.0}


@pytest.mark.parametrize("field", ["generate", "verify", "reread", "check"])
@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_split_costs_rejects_bad_values(field, bad):
    """Negative, NaN and infinite costs raise, naming the offending field."""
    values = {"generate": 1.0, "verify": 1.0, "reread": 1.0, "check": 1.0, field: bad}
    with pytest.raises(ValueError, match=f"SplitCosts.{field}"):
        SplitCosts(**values)


def test_split_costs_rejects_free_generation():
    """A candidate that costs nothing would make every budget infinite: generate=0 raises."""
    with pytest.raises(ValueError, match="SplitCosts.generate"):
        SplitCosts(generate=0, verify=1, reread=1, check=1)


# -- split_accuracy -----------------------------------------------------------------------


def test_split_score_is_mean_of_first_k_trajectories():
    """With K=1 the wrong answer outweighs the right one (0.8 vs 0.2); with K=2 the means
    are 0.55 (right) vs 0.45 (wrong): at N = all candidates (the exact path) the split
    scores 0 at K=1 and 1 at K=2. Trajectory columns are ordered by their number, not by
    name or position, so K=2 reads t0 and t1, not t10."""
    trajectories = np.array([[0.2, 0.9] + [0.0] * 9,    # right
                             [0.8, 0.1] + [1.0] * 9])   # wrong: t2..t10 would favour it
    verified = _verified(0, ["1", "2"], trajectories)
    verified = verified[["problem", "sample", "answer", "t10"]
                        + [f"t{j}" for j in range(10)]]  # t10 first on purpose
    samples = _samples(0, ["1", "2", "2"], "1")
    table = split_accuracy(verified, samples, {0: "1"}, ns=[2], ks=[1, 2, 3])
    assert _rows(table, SPLIT, 1)[2] == 0.0
    assert _rows(table, SPLIT, 2)[2] == 1.0
    # K=3 adds t2 = 0 / 1: means 1.1/3 (right) vs 1.9/3 (wrong)
    assert _rows(table, SPLIT, 3)[2] == 0.0
    assert list(table.columns) == ["problem", "method", "N", "K", "accuracy"]


def test_split_exact_path_breaks_ties_by_sample_order():
    """Equal scores, different answers: the candidate with the lower ``sample`` wins the
    tie even when the verified rows come in reverse order."""
    verified = _verified(0, ["right", "wrong"], [[0.5], [0.5]]).iloc[::-1]
    samples = _samples(0, ["right", "wrong"], "right")
    table = split_accuracy(verified, samples, {0: "right"}, ns=[2], ks=[1])
    assert _rows(table, SPLIT, 1)[2] == 1.0
    flipped = verified.assign(sample=[0, 1])  # now "wrong" is sample 0
    table = split_accuracy(flipped, samples, {0: "right"}, ns=[2], ks=[1])
    assert _rows(table, SPLIT, 1)[2] == 0.0


def test_perfect_verifier_is_pass_at_n_by_brute_force():
    """The perfect verifier's accuracy at N is the share of size-N subsets of the 5 samples
    (2 right) that contain a right one."""
    answers = ["a", "b", "a", "c", "b"]
    samples = _samples(3, answers, "c")
    samples.loc[samples.index[1], "correct"] = True  # two right: samples 1 and 3
    table = split_accuracy(_verified(3, ["a"], [[0.5]]), samples, {3: "c"},
                           ns=[1, 2, 3, 4, 5], ks=[1])
    ceiling = _rows(table, CEILING)
    right = {1, 3}
    for n in range(1, 6):
        subsets = list(itertools.combinations(range(5), n))
        expected = np.mean([bool(right & set(s)) for s in subsets])
        assert ceiling[n] == pytest.approx(expected)
    assert ceiling[1] == pytest.approx(0.4)
    assert ceiling[4] == pytest.approx(1.0)
    assert set(table.loc[table["method"] == CEILING, "K"]) == {0}


def test_majority_and_likelihood_at_all_samples_by_hand():
    """At N = every sample the vote and the likelihood-weighted choice are exact: problem 0
    votes 3 x "1" against 2 x "2" (right), problem 1 votes "2" twice against "1" once and
    two unanswered (wrong); the likelihood picks the answer with the larger summed
    likelihood."""
    samples = pd.concat([
        _samples(0, ["1", "2", "2", "1", "1"], "1", [0.1, 0.5, 0.5, 0.1, 0.1]),
        _samples(1, [np.nan, "2", np.nan, "2", "1"], "1", [0.9, 0.1, 0.9, 0.1, 0.3]),
    ], ignore_index=True)
    verified = pd.concat([_verified(0, ["1"], [[0.5]]), _verified(1, ["1"], [[0.5]])],
                         ignore_index=True)
    table = split_accuracy(verified, samples, {0: "1", 1: "1"}, ns=[5], ks=[1])
    at = table[table["N"] == 5].set_index(["problem", "method"])["accuracy"]
    assert at[(0, VOTE)] == 1.0
    assert at[(1, VOTE)] == 0.0  # the unanswered samples never win
    assert at[(0, LIKELIHOOD)] == 0.0  # "2": 1.0 against "1": 0.3
    assert at[(1, LIKELIHOOD)] == 1.0  # "1": 0.3 against "2": 0.2 (NaN answers ignored)
    assert set(table.loc[table["method"].isin([VOTE, LIKELIHOOD]), "K"]) == {0}


def test_split_accuracy_rejects_bad_k_and_missing_trajectories():
    """K must be in 1..K_max, and the verified table needs t0, t1, ... columns."""
    verified = _verified(0, ["1", "2"], [[0.1, 0.2], [0.3, 0.4]])
    samples = _samples(0, ["1", "2"], "1")
    for ks in ([0], [3], [1, 3], [-1]):
        with pytest.raises(ValueError, match="1..2"):
            split_accuracy(verified, samples, {0: "1"}, ns=[1], ks=ks)
    no_scores = verified[["problem", "sample", "answer"]].assign(total=0.5, t=0.5)
    with pytest.raises(ValueError, match="t0"):
        split_accuracy(no_scores, samples, {0: "1"}, ns=[1], ks=[1])


def test_split_reaches_verified_count_others_sample_count():
    """With 3 verified candidates out of 6 samples, the split has rows at N <= 3 (one per
    K), the other methods at N <= 6; N beyond the samples gives no row at all, and a problem
    without verified candidates has no split rows."""
    verified = _verified(0, ["1", "2", "1"], [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    samples = pd.concat([_samples(0, ["1", "2", "1", "2", "1", "2"], "1"),
                         _samples(1, ["1", "1", "2"], "1")], ignore_index=True)
    table = split_accuracy(verified, samples, {0: "1", 1: "1"}, ns=[1, 2, 3, 4, 6, 8],
                           ks=[1, 2], n_resamples=20)
    zero = table[table["problem"] == 0]
    for k in (1, 2):
        assert sorted(_rows(zero, SPLIT, k).index) == [1, 2, 3]
    for method in (VOTE, LIKELIHOOD, CEILING):
        assert sorted(_rows(zero, method).index) == [1, 2, 3, 4, 6]
    one = table[table["problem"] == 1]
    assert SPLIT not in set(one["method"])
    for method in (VOTE, LIKELIHOOD, CEILING):
        assert sorted(_rows(one, method).index) == [1, 2, 3]
    assert table["accuracy"].between(0, 1).all()


@pytest.mark.parametrize("k", [1, 2])
def test_split_at_two_of_four_matches_exact_enumeration(k):
    """Weighted selection over random pairs of the 4 verified candidates agrees (within
    0.03 at 4000 resamples) with the exact average over all 12 ordered pairs."""
    rng = np.random.default_rng(7)
    answers = ["7", "3", "7", "5"]
    trajectories = rng.random((4, 2))
    scores = trajectories[:, :k].mean(axis=1)
    # no ties anywhere: every subset's summed scores differ by answer
    assert len({round(s, 9) for s in scores}) == 4
    assert all(abs(scores[0] + scores[2] - s) > 1e-6 for s in scores)
    verified = _verified(5, answers, trajectories)
    samples = _samples(5, answers, "7")
    table = split_accuracy(verified, samples, {5: "7"}, ns=[2], ks=[k], n_resamples=4000)
    pairs = list(itertools.permutations(range(4), 2))
    exact = np.mean([select_answer([answers[i] for i in pair], [scores[i] for i in pair],
                                   "weighted") == "7" for pair in pairs])
    assert 0 < exact < 1
    assert _rows(table, SPLIT, k)[2] == pytest.approx(exact, abs=0.03)


# -- frontier_index -----------------------------------------------------------------------


def test_frontier_index_hand_built():
    """Points (flops, accuracy): a is kept (cheapest), b is dominated by a (more FLOPs, less
    accurate), c improves on a, d only ties c at more FLOPs (not kept), e improves again;
    at equal FLOPs (f, g) only the better one is kept, and equal points keep only one."""
    points = pd.DataFrame({"flops": [10, 20, 30, 40, 50, 60, 60, 70, 70],
                           "accuracy": [0.3, 0.2, 0.5, 0.5, 0.6, 0.65, 0.7, 0.8, 0.8]},
                          index=list("abcdefghi"))
    kept = frontier_index(points.sample(frac=1.0, random_state=3))  # order does not matter
    assert len(kept) == 5
    assert kept[:4] == ["a", "c", "e", "g"]  # in FLOPs order
    assert kept[4] in ("h", "i")  # two equal points: exactly one of them
    assert frontier_index(points.iloc[:0]) == []


def test_frontier_index_equal_flops_keeps_only_best():
    """Three points at the same FLOPs: only the most accurate is on the frontier."""
    points = pd.DataFrame({"flops": [5.0, 5.0, 5.0], "accuracy": [0.4, 0.9, 0.1]})
    assert frontier_index(points) == [1]


# -- split_points -------------------------------------------------------------------------


def _per_problem(accuracy, problems, difficulty="easy"):
    """Hand-built per-problem table: ``accuracy`` maps (method, N, K) to a value or to a
    function of the problem."""
    rows = [(p, m, n, k, float(a(p) if callable(a) else a))
            for (m, n, k), a in accuracy.items() for p in problems]
    frame = pd.DataFrame(rows, columns=["problem", "method", "N", "K", "accuracy"])
    return frame, {p: difficulty for p in problems}


def test_split_points_frontier_share_and_intervals():
    """Frontier flags only on split rows, the expected ones (by hand); verify_share is
    N·K·verify / (N·(generate + K·verify)); every interval contains its mean."""
    costs = {"easy": SplitCosts(generate=10, verify=5, reread=10, check=5)}
    accuracy = {
        (SPLIT, 1, 1): lambda p: p % 2 * 0.5,       # 15 FLOPs, mean 0.25
        (SPLIT, 1, 2): lambda p: 0.6,               # 20 FLOPs, 0.6: frontier
        (SPLIT, 2, 1): lambda p: 0.5,               # 30 FLOPs, 0.5: dominated by (1, 2)
        (SPLIT, 2, 2): lambda p: 0.9 if p < 4 else 0.5,  # 40 FLOPs, 0.7: frontier
        (VOTE, 1, 0): 0.2, (VOTE, 2, 0): 0.95, (VOTE, 4, 0): 1.0,
        (LIKELIHOOD, 2, 0): 0.3, (CEILING, 2, 0): 1.0,
    }
    per_problem, groups = _per_problem(accuracy, range(8))
    per_problem = with_flops(per_problem, groups, costs)
    assert set(per_problem["difficulty"]) == {"easy"}
    table = split_points(per_problem, n_boot=200)
    assert len(table) == len(accuracy)
    assert (table["problems"] == 8).all()
    split = table[table["method"] == SPLIT].set_index(["N", "K"])
    assert split["frontier"].to_dict() == {(1, 1): True, (1, 2): True, (2, 1): False,
                                           (2, 2): True}
    # (1, 1) is the cheapest split point, so it is on the envelope despite its low accuracy
    assert not table.loc[table["method"] != SPLIT, "frontier"].any()
    assert split["accuracy"].to_dict() == pytest.approx(
        {(1, 1): 0.25, (1, 2): 0.6, (2, 1): 0.5, (2, 2): 0.7})
    assert split["flops"].to_dict() == pytest.approx(
        {(1, 1): 15, (1, 2): 20, (2, 1): 30, (2, 2): 40})
    for (n, k), share in split["verify_share"].items():
        assert share == pytest.approx(n * k * 5 / (n * (10 + k * 5)))
    assert (table.loc[table["method"] != SPLIT, "verify_share"] == 0).all()
    assert (table["accuracy_low"] <= table["accuracy"] + 1e-12).all()
    assert (table["accuracy"] <= table["accuracy_high"] + 1e-12).all()
    vote = table[table["method"] == VOTE].set_index("N")["flops"]
    assert vote.to_dict() == pytest.approx({1: 10, 2: 20, 4: 40})


def test_split_points_frontier_is_per_difficulty():
    """Each group has its own envelope and its own costs."""
    costs = {"easy": SplitCosts(generate=10, verify=5, reread=0, check=0),
             "hard": SplitCosts(generate=10, verify=100, reread=0, check=0)}
    accuracy = {(SPLIT, 2, 1): 0.5, (SPLIT, 1, 2): 0.6, (VOTE, 1, 0): 0.1, (VOTE, 2, 0): 0.1}
    easy, easy_groups = _per_problem(accuracy, [0, 1], "easy")
    hard, hard_groups = _per_problem(accuracy, [2, 3], "hard")
    per_problem = with_flops(pd.concat([easy, hard], ignore_index=True),
                             {**easy_groups, **hard_groups}, costs)
    table = split_points(per_problem, n_boot=50)
    split = table[table["method"] == SPLIT].set_index(["difficulty", "N", "K"])
    # in both groups (2, 1) costs more than (1, 2) (30 > 20, 220 > 210) and is less accurate
    assert split["flops"].to_dict() == pytest.approx(
        {("easy", 1, 2): 20, ("easy", 2, 1): 30, ("hard", 1, 2): 210, ("hard", 2, 1): 220})
    assert split["frontier"].to_dict() == {("easy", 1, 2): True, ("easy", 2, 1): False,
                                           ("hard", 1, 2): True, ("hard", 2, 1): False}
    assert split.loc[("hard", 1, 2), "verify_share"] == pytest.approx(200 / 210)


# -- split_verdicts -----------------------------------------------------------------------


COSTS = {"easy": SplitCosts(generate=10, verify=5, reread=10, check=10),
         "hard": SplitCosts(generate=10, verify=5, reread=10, check=10)}


def test_split_verdicts_clear_win_is_above():
    """Split perfect, vote always wrong, 20 problems in each of two groups: every budget
    says "above" with an interval of exactly [1, 1]; ceiling is the perfect verifier at the
    largest N that fits."""
    accuracy = {(SPLIT, 1, 1): 1.0, (SPLIT, 1, 2): 1.0, (SPLIT, 2, 2): 1.0,
                (VOTE, 1, 0): 0.0, (VOTE, 2, 0): 0.0, (VOTE, 4, 0): 0.0,
                (CEILING, 1, 0): 0.25, (CEILING, 2, 0): 0.5, (CEILING, 4, 0): 1.0}
    easy, easy_groups = _per_problem(accuracy, range(20), "easy")
    hard, hard_groups = _per_problem(accuracy, range(20, 40), "hard")
    per_problem = with_flops(pd.concat([easy, hard], ignore_index=True),
                             {**easy_groups, **hard_groups}, COSTS)
    table = split_verdicts(per_problem, n_boot=500)
    assert list(table.columns) == VERDICT_COLUMNS
    # vote at N=1 is no budget; N=2 (20 FLOPs) and N=4 (40 FLOPs) are, in each group
    assert table[["difficulty", "budget_N"]].values.tolist() == [
        ["easy", 2], ["easy", 4], ["hard", 2], ["hard", 4]]
    assert table["flops"].tolist() == pytest.approx([20, 40, 20, 40])
    assert (table["verdict"] == "above").all()
    assert (table["difference"] == 1).all()
    assert (table["low"] > 0).all() and (table["high"] == 1).all()
    assert (table["split"] == 1).all() and (table["vote"] == 0).all()
    assert (table["problems"] == 20).all()
    assert (table["p"] < 0.01).all()
    # ceiling: 20 FLOPs buy N=1 (20 per candidate), 40 FLOPs buy N=2
    assert table["ceiling"].tolist() == pytest.approx([0.25, 0.5, 0.25, 0.5])
    # every option ties at 1: the first (smallest N, then K) is chosen; N=2, K=2 costs 40
    assert table["chosen"].tolist() == ["N=1, K=1"] * 4


def test_split_verdicts_clear_loss_is_below():
    accuracy = {(SPLIT, 1, 1): 0.0, (VOTE, 2, 0): 1.0}
    per_problem, groups = _per_problem(accuracy, range(20))
    table = split_verdicts(with_flops(per_problem, groups, COSTS), n_boot=500)
    assert table["verdict"].tolist() == ["below"]
    assert table["high"].iloc[0] < 0


def test_split_verdicts_null_case():
    """Split and vote equal on every problem: difference 0, p = 1, no detectable
    difference."""
    accuracy = {(SPLIT, 1, 1): lambda p: p % 3 / 2, (SPLIT, 1, 2): lambda p: p % 3 / 2,
                (VOTE, 2, 0): lambda p: p % 3 / 2, (VOTE, 4, 0): lambda p: p % 3 / 2}
    per_problem, groups = _per_problem(accuracy, range(20))
    table = split_verdicts(with_flops(per_problem, groups, COSTS), n_boot=500)
    assert len(table) == 2
    assert (table["verdict"] == "no detectable difference").all()
    assert (table["difference"] == 0).all()
    assert (table["p"] == 1).all()
    assert (table["low"] <= 0).all() and (table["high"] >= 0).all()
    assert table["ceiling"].isna().all()  # no perfect-verifier rows given


def test_split_verdicts_cross_fitting_scores_on_other_fold():
    """Configuration A (N=1, K=1) is perfect on fold-0 problems only, B (N=1, K=2) on
    fold-1 problems only. Fold 0 is scored with the choice made on fold 1 (B) and fold 1
    with the choice made on fold 0 (A), so the held-out split accuracy is 0 everywhere,
    while picking on the same problems would have given 1."""
    problems = [31, 4, 17, 8, 22, 13, 40, 2, 9, 27]
    fold = two_folds(sorted(problems), seed=0)  # the book's folds, drawn in sorted order
    assert sorted(fold.values()) == [0] * 5 + [1] * 5
    accuracy = {(SPLIT, 1, 1): lambda p: float(fold[p] == 0),
                (SPLIT, 1, 2): lambda p: float(fold[p] == 1),
                (VOTE, 2, 0): 0.5}
    per_problem, groups = _per_problem(accuracy, problems)
    per_problem = per_problem.sample(frac=1.0, random_state=0)  # row order does not matter
    table = split_verdicts(with_flops(per_problem, groups, COSTS), n_boot=200)
    assert len(table) == 1
    row = table.iloc[0]
    # fold 0's choice (made on fold 1) first, then fold 1's (made on fold 0)
    assert row["chosen"] == "N=1, K=2 / N=1, K=1"
    assert row["split"] == 0.0
    assert row["vote"] == 0.5
    assert row["difference"] == pytest.approx(-0.5)
    assert row["problems"] == 10


def test_split_verdicts_same_choice_on_both_folds_is_named_once():
    """When both folds choose the same (N, K) the text names it once."""
    accuracy = {(SPLIT, 1, 1): 0.2, (SPLIT, 1, 2): 0.7, (VOTE, 2, 0): 0.5}
    per_problem, groups = _per_problem(accuracy, range(6))
    table = split_verdicts(with_flops(per_problem, groups, COSTS), n_boot=100)
    assert table["chosen"].tolist() == ["N=1, K=2"]
    assert table["split"].iloc[0] == pytest.approx(0.7)


def test_split_verdicts_respects_budget():
    """An option over the budget is never chosen however accurate; one exactly at the
    budget is affordable; a budget no split fits gives no row."""
    costs = {"easy": SplitCosts(generate=10, verify=10, reread=0, check=0)}
    accuracy = {(SPLIT, 1, 1): 0.4,          # 20 FLOPs: fits vote N=2 exactly
                (SPLIT, 1, 3): 1.0,          # 40 FLOPs: only fits vote N=4
                (SPLIT, 3, 1): 0.9,          # 60 FLOPs: never fits
                (VOTE, 1, 0): 0.3, (VOTE, 2, 0): 0.3, (VOTE, 4, 0): 0.3}
    per_problem, groups = _per_problem(accuracy, range(8))
    table = split_verdicts(with_flops(per_problem, groups, costs), n_boot=100)
    chosen = table.set_index("budget_N")["chosen"].to_dict()
    assert chosen == {2: "N=1, K=1", 4: "N=1, K=3"}
    assert table.set_index("budget_N")["split"].to_dict() == pytest.approx({2: 0.4, 4: 1.0})
    # make the cheapest option too expensive for N=2: that budget disappears
    dear = {"easy": SplitCosts(generate=10, verify=10.5, reread=0, check=0)}
    table = split_verdicts(with_flops(per_problem, groups, dear), n_boot=100)
    assert table["budget_N"].tolist() == [4]
    assert table["chosen"].tolist() == ["N=1, K=1"]  # (1, 3) now costs 41.5 > 40


def test_split_verdicts_empty_input():
    """No rows in, no rows out, with the documented columns."""
    empty = pd.DataFrame(columns=["problem", "method", "N", "K", "accuracy", "difficulty",
                                  "flops"])
    table = split_verdicts(empty)
    assert table.empty
    assert list(table.columns) == VERDICT_COLUMNS
    # only vote rows (no split at all): no budget has a split, so no rows either
    per_problem, groups = _per_problem({(VOTE, 2, 0): 0.5}, range(4))
    table = split_verdicts(with_flops(per_problem, groups, COSTS))
    assert table.empty
    assert list(table.columns) == VERDICT_COLUMNS


def test_split_verdicts_ignore_a_duplicated_index():
    """Tables concatenated without a fresh index give the same verdicts as with one."""
    accuracy = {(SPLIT, 1, 1): 1.0, (VOTE, 2, 0): 0.0}
    a, groups_a = _per_problem(accuracy, range(4))
    b, groups_b = _per_problem(accuracy, range(4, 8))
    groups = {**groups_a, **groups_b}
    fresh = split_verdicts(with_flops(pd.concat([a, b], ignore_index=True), groups, COSTS),
                           n_boot=200)
    repeated = split_verdicts(with_flops(pd.concat([a, b]), groups, COSTS), n_boot=200)
    pd.testing.assert_frame_equal(fresh, repeated)
    assert fresh["problems"].tolist() == [8]


def test_split_verdicts_skip_a_group_with_one_scored_fold():
    """One problem: the choice made on its fold has no other fold to be scored on, so there
    is no row rather than an empty one."""
    per_problem, groups = _per_problem({(SPLIT, 1, 1): 1.0, (VOTE, 2, 0): 0.0}, [0])
    assert split_verdicts(with_flops(per_problem, groups, COSTS), n_boot=200).empty


def test_plot_draws_one_panel_per_group_in_table_order_with_the_frontier_ringed():
    """The split figure: panels in the table's order, a line per K and per other method
    with error bars, and exactly the frontier points ringed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ttc.plots import plot_generate_verify_split

    accuracy = {(SPLIT, 1, 1): 0.5, (SPLIT, 2, 1): 0.6, (SPLIT, 1, 2): 0.4,
                (VOTE, 1, 0): 0.3, (VOTE, 2, 0): 0.5, (CEILING, 2, 0): 0.9,
                (LIKELIHOOD, 2, 0): 0.55}
    hard, hard_groups = _per_problem(accuracy, range(4), "hard")
    easy, easy_groups = _per_problem(accuracy, range(4, 8), "easy")
    per_problem = with_flops(pd.concat([hard, easy], ignore_index=True),
                             {**hard_groups, **easy_groups}, COSTS)
    points = split_points(per_problem, n_boot=50)
    points = pd.concat([points[points["difficulty"] == "hard"],
                        points[points["difficulty"] == "easy"]], ignore_index=True)
    fig = plot_generate_verify_split(points)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["hard", "easy"]
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert {"GenRM-CoT, K = 1", "GenRM-CoT, K = 2", VOTE, LIKELIHOOD, CEILING,
            "frontier (N, K)"} <= set(labels)
    ringed = panels[0].collections[-1].get_offsets()
    assert len(ringed) == int(points[points["difficulty"] == "hard"]["frontier"].sum())
    plt.close(fig)
