"""Chapter 7's analysis on hand-built tables whose answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ttc.chapters.ch07_compute_optimal import (
    BASELINE,
    CURVE_LABELS,
    SCOPE_ONCE,
    SCOPE_SUBSET,
    SCOPE_TEST,
    ComputeOptimalChapterConfig,
    accounting,
    bin_agreement_rates,
    bin_summary,
    compute_optimal,
    curve_pool,
    efficiency,
    facts,
    largest_uncharged,
    optimal_curves,
    prompt_lengths,
    saving_intervals,
    savings,
    subset_analysis,
    validated_choice,
    winners_table,
)
from ttc.claims import COMPUTE_OPTIMAL_CLAIMS
from ttc.strategies import two_folds

CLAIMS = {c.key: c for c in COMPUTE_OPTIMAL_CLAIMS}


def balanced_bins(problems: list[int], n_bins: int, seed: int = 0) -> pd.Series:
    """Bins 1..n_bins over ``problems`` with both cross-validation folds in every bin (as
    ``two_folds`` draws them for problems first seen in this order), so that every problem
    is scored by a choice made on the other fold."""
    folds = two_folds(problems, seed)
    fold0 = [p for p in problems if folds[p] == 0]
    fold1 = [p for p in problems if folds[p] == 1]
    per = len(fold0) // n_bins
    bins = {}
    for b in range(n_bins):
        for p in fold0[b * per:(b + 1) * per] + fold1[b * per:(b + 1) * per]:
            bins[p] = b + 1
    assert len(bins) == len(problems), "choose sizes that split evenly"
    return pd.Series(bins).sort_index()


def scores(bin_budget_correct: dict) -> pd.DataFrame:
    """Rows (bin, budget, problem, correct) from {(bin, budget): [0/1 per problem]}."""
    rows = []
    for (b, budget), correct in bin_budget_correct.items():
        rows += [{"bin": b, "budget": budget, "problem": f"{b}-{i}", "correct": float(c)}
                 for i, c in enumerate(correct)]
    return pd.DataFrame(rows)


# -- the sample-selection pool ----------------------------------------------------------------

def test_curve_pool_costs_policy_and_verifier_tokens():
    """The pool comes from the exchange's per-problem curves at the reference temperature;
    a rule reading a verifier pays 2·(N_policy + N_verifier) per token, the likelihood
    2·(N_policy + N_policy), majority vote 2·N_policy."""
    from ttc.exchange import temperature_label

    problems = np.array([3, 7])
    samples = pd.DataFrame({"problem": [3, 3, 7], "n_tokens": [10, 20, 30],
                            "n_ops": [1, 1, 2]})  # mean tokens 15 and 30
    curves = {temperature_label(label, 1.0): {1: np.array([1.0, 0.0]),
                                              4: np.array([0.5, 1.0])}
              for label in ("majority vote", "weighted best-of-N (PRM)",
                            "best-of-N (likelihood)")}
    curves[temperature_label("majority vote", 0.5)] = {1: np.array([0.0, 0.0])}  # other T
    pool = curve_pool(curves, problems, samples, 1.0, n_policy=100, n_verifier=50,
                      budgets=[1, 4, 8])  # no curve at 8: left out
    assert len(pool) == 3 * 2 * 2
    row = pool.set_index(["strategy", "budget", "problem"])
    assert row.loc[("majority vote", 4, 3), "flops"] == pytest.approx(2 * 100 * 4 * 15)
    assert row.loc[("weighted best-of-N (PRM)", 4, 7), "flops"] == pytest.approx(
        2 * 150 * 4 * 30)
    assert row.loc[("best-of-N (likelihood)", 1, 3), "flops"] == pytest.approx(2 * 200 * 15)
    assert row.loc[("majority vote", 4, 7), "correct"] == 1.0
    assert row.loc[("majority vote", 1, 7), "n_ops"] == 2


# -- the compute-optimal choice ---------------------------------------------------------------

def pool_of(correct: dict, problems: list[int], flops: dict | None = None) -> pd.DataFrame:
    """A pool from {(strategy, budget): function problem -> 0/1}."""
    rows = []
    for (strategy, budget), right in correct.items():
        for p in problems:
            cost = (flops or {}).get((strategy, budget), lambda _p: 1.0)(p)
            rows.append({"strategy": strategy, "budget": budget, "problem": p, "n_ops": 1,
                         "correct": float(right(p)), "flops": cost})
    return pd.DataFrame(rows)


def test_compute_optimal_picks_the_best_strategy_per_bin_and_budget():
    problems = list(range(8))
    bins = balanced_bins(problems, 2)
    in_bin = {b: set(bins[bins == b].index) for b in (1, 2)}
    pool = pool_of({("A", 1): lambda p: p in in_bin[1], ("B", 1): lambda p: False,
                    ("A", 2): lambda p: p in in_bin[1], ("B", 2): lambda p: True},
                   problems)
    result = compute_optimal(pool, bins, seed=0)

    # every problem scored once per budget, by a strategy chosen on the other fold
    assert len(result) == 8 * 2
    assert (result.groupby(["bin", "budget"])["problem"].nunique() == 4).all()
    acc = result.groupby(["bin", "budget"])["correct"].mean()
    chosen = result.groupby(["bin", "budget"])["strategy"].agg(set)
    assert acc[(1, 1)] == 1.0 and chosen[(1, 1)] == {"A"}
    # A and B both solve bin 1 at budget 2: a tie goes to the strategy listed first
    assert acc[(1, 2)] == 1.0 and chosen[(1, 2)] == {"A"}
    assert acc[(2, 1)] == 0.0 and chosen[(2, 1)] == {"A"}  # neither solves bin 2 at 1
    assert acc[(2, 2)] == 1.0 and chosen[(2, 2)] == {"B"}


def test_compute_optimal_is_cross_validated():
    """A strategy that is best only on the fold it is chosen on scores nothing on the
    other: the choice is never fitted on the problems it is scored on."""
    problems = list(range(4))
    folds = two_folds(problems, 0)
    bins = pd.Series(1, index=problems)
    pool = pool_of({("A", 1): lambda p: folds[p] == 0, ("B", 1): lambda p: folds[p] == 1},
                   problems)
    result = compute_optimal(pool, bins, seed=0)
    assert len(result) == 4
    assert result["correct"].mean() == 0.0  # in-sample, either would score 0.5
    assert set(result[result["problem"].map(folds) == 0]["strategy"]) == {"B"}
    assert set(result[result["problem"].map(folds) == 1]["strategy"]) == {"A"}


def test_compute_optimal_on_validation_chooses_there_and_scores_here():
    """With validation problems the choice per (bin, budget) is made on them alone: a
    strategy that is best on the test problems but not on the validation ones is not
    chosen. A test budget the validation pool lacks uses its largest budget below."""
    test = pool_of({("A", 1): lambda p: True, ("B", 1): lambda p: False,
                    ("A", 4): lambda p: True, ("B", 4): lambda p: False}, range(4))
    valid = pool_of({("A", 1): lambda p: False, ("B", 1): lambda p: True},
                    range(10, 16))
    bins, v_bins = pd.Series(1, index=range(4)), pd.Series(1, index=range(10, 16))
    result = compute_optimal(test, bins, seed=0, validation=(valid, v_bins))
    assert set(result["strategy"]) == {"B"} and result["correct"].sum() == 0.0
    assert sorted(result["budget"].unique()) == [1, 4]
    _, choices = validated_choice(test.assign(bin=1), valid, v_bins)
    assert choices.to_dict("list") == {
        "bin": [1, 1], "budget": [1, 4], "strategy": ["B", "B"],
        "validation_score": [1.0, 1.0], "validation_budget": [1, 1],
        "validation_problems": [6, 6]}
    # a tie on the validation problems goes to the strategy listed first
    tie = pool_of({("A", 1): lambda p: True, ("B", 1): lambda p: True}, range(10, 12))
    assert set(compute_optimal(test, bins, 0, (tie, v_bins.iloc[:2]))["strategy"]) == {"A"}
    # a bin without validation problems is not scored
    assert compute_optimal(test, bins, 0, (valid, pd.Series(2, index=range(10, 16)))).empty


def test_saving_intervals_contain_the_point_saving_and_shrink_to_it_without_noise():
    """Every problem of a bin alike: resampling cannot move the saving, so both intervals
    are the point value; with mixed problems they contain it."""
    budgets = [1, 2, 4, 8]
    # the optimal choice reaches at budget b what best-of-N reaches at 2b
    opt = pool_of({("opt", b): (lambda p, b=b: min(1.0, 0.1 * b) > 0.05) for b in budgets},
                  range(6))
    opt["correct"] = [min(1.0, 0.2 * b) for b in opt["budget"]]
    base = opt.assign(strategy="base", correct=[min(1.0, 0.1 * b) for b in opt["budget"]])
    opt, base = opt.assign(bin=1), base.assign(bin=1)
    point = efficiency(opt, base).assign(bins="oracle")
    values = savings(point)
    bounds = saving_intervals(opt, base, n_boot=50, seed=0)
    assert bounds["median"] == pytest.approx((values.median(), values.median()))
    assert bounds["max"] == pytest.approx((values.max(), values.max()))
    noisy_opt = opt.assign(correct=(opt["problem"] % 2 == 0) * opt["correct"])
    noisy_point = savings(efficiency(noisy_opt, base).assign(bins="oracle"))
    low, high = saving_intervals(noisy_opt, base, n_boot=400, seed=1)["median"]
    assert low <= noisy_point.median() <= high and low < high


# -- efficiency over best-of-N ----------------------------------------------------------------

def test_efficiency_measures_the_budget_needed_to_match_best_of_n():
    baseline = scores({
        # bin 1: 0.2, 0.4, 0.6, 0.6 at budgets 1, 2, 4, 8
        (1, 1): [1, 0, 0, 0, 0], (1, 2): [1, 1, 0, 0, 0], (1, 4): [1, 1, 1, 0, 0],
        (1, 8): [1, 1, 1, 0, 0],
        # bin 2: 0.0, 0.0, 0.6 at budgets 1, 2, 4
        (2, 1): [0] * 5, (2, 2): [0] * 5, (2, 4): [1, 1, 1, 0, 0],
        # bin 3: 0.2, 0.8: the compute-optimal choice never gets there
        (3, 1): [1, 0, 0, 0, 0], (3, 2): [1, 1, 1, 1, 0],
        # bin 4: best-of-N gains nothing over its smallest budget: no rows
        (4, 1): [1, 1, 0, 0, 0], (4, 2): [1, 1, 0, 0, 0],
    })
    optimal = scores({
        (1, 1): [1, 1, 0, 0, 0], (1, 2): [1, 1, 1, 0, 0], (1, 4): [1, 1, 1, 1, 0],
        (1, 8): [1, 1, 1, 1, 0],
        (2, 1): [1, 0, 0, 0, 0], (2, 2): [1, 1, 0, 0, 0], (2, 4): [1, 1, 1, 1, 0],
        (3, 1): [1, 0, 0, 0, 0], (3, 2): [1, 1, 0, 0, 0],
        (4, 1): [1, 1, 0, 0, 0], (4, 2): [1, 1, 0, 0, 0],
    })
    table = efficiency(optimal, baseline).set_index(["bin", "budget"])

    assert sorted(table.index) == [(1, 2), (1, 4), (1, 8), (2, 4), (3, 2)]
    # bin 1: optimal reaches 0.4 at budget 1 and 0.6 at budget 2
    assert table.loc[(1, 2), "budget_needed"] == 1.0 and table.loc[(1, 2), "saving"] == 2.0
    assert table.loc[(1, 4), "budget_needed"] == 2.0 and table.loc[(1, 4), "saving"] == 2.0
    assert table.loc[(1, 8), "saving"] == 4.0
    assert table.loc[(1, 4), "baseline"] == pytest.approx(0.6)
    assert table.loc[(1, 4), "optimal"] == pytest.approx(0.8)
    # bin 2: 0.6 lies half-way (linearly) between 0.4 at 2 and 0.8 at 4, in log-budget
    assert table.loc[(2, 4), "budget_needed"] == pytest.approx(2 * math.sqrt(2))
    assert table.loc[(2, 4), "saving"] == pytest.approx(math.sqrt(2))
    # bin 3: never matched
    assert np.isnan(table.loc[(3, 2), "budget_needed"])
    assert np.isnan(table.loc[(3, 2), "saving"])


def test_efficiency_of_nothing_is_an_empty_table():
    empty = pd.DataFrame(columns=["bin", "budget", "problem", "correct"])
    table = efficiency(empty, empty)
    assert table.empty
    assert list(table.columns) == ["bin", "budget", "baseline", "optimal", "budget_needed",
                                   "saving"]


def test_savings_drop_the_smallest_budget_and_missing_values():
    table = pd.DataFrame([
        {"bins": "oracle", "bin": 1, "budget": 2, "saving": 9.0},   # the smallest budget
        {"bins": "oracle", "bin": 1, "budget": 4, "saving": 4.0},
        {"bins": "oracle", "bin": 2, "budget": 4, "saving": np.nan},
        {"bins": "oracle", "bin": 2, "budget": 8, "saving": 1.0},
        {"bins": "predicted", "bin": 1, "budget": 4, "saving": 7.0},
    ])
    assert list(savings(table, "oracle")) == [4.0, 1.0]
    assert list(savings(table, "predicted")) == []  # its only budget is its smallest
    assert savings(table.iloc[:0], "oracle").empty


# -- the exchange (the estimators themselves: tests/test_exchange.py) ------------------------

def test_fair_exchange_end_to_end_on_a_tiny_table():
    """Two problems of four samples each; the policy (N = 100) against a member 4 times
    larger that answers problem 0 only. Every sample rule is right on problem 1 only; the
    policy's greedy answer on neither. Cross-validation with one problem per fold: the
    choice made on problem 1 (a sample rule) is scored on problem 0 (wrong), and the choice
    made on problem 0 (all tie at 0, so the first listed, the greedy answer) on problem 1
    (wrong): 0 of 2, where an in-sample choice would claim 1 of 2."""
    from ttc.chapters.ch07_compute_optimal import fair_exchange

    scored = pd.DataFrame({
        "problem": [0, 0, 0, 0, 1, 1, 1, 1], "sample": [0, 1, 2, 3] * 2,
        "answer": ["9", "9", "9", "9", "3", "3", "3", "3"],
        "correct": [False] * 4 + [True] * 4, "n_tokens": 10,
        "prm_last": 0.5, "orm": 0.5, "n_ops": 1})
    greedy = pd.DataFrame({"model": ["small"] * 2 + ["big"] * 2, "problem": [0, 1, 0, 1],
                           "correct": [False, False, True, False], "n_tokens": 10})
    bins = pd.Series([1, 1], index=[0, 1])
    config = ComputeOptimalChapterConfig(r_values=(1.0,), n_boot=500, selection_resamples=20)
    table, sweep = fair_exchange(scored, bins, greedy, {"small": 100, "big": 400}, "small",
                                 "small", config, [0.1, 1.0])
    row = table.iloc[0]
    assert row["large"] == "big" and row["M"] == 4.0 and row["problems"] == 2
    assert row["small_accuracy"] == 0.0 and row["large_accuracy"] == 0.5
    assert row["ceiling_accuracy"] == 0.5 and row["difference"] == -0.5
    assert row["ceiling_difference"] == 0.0
    assert row["verdict"] == "no detectable difference"  # two problems prove nothing
    assert len(sweep) == 2 and "verdict" not in sweep


# -- the subset with search and revisions -----------------------------------------------------

def subset_inputs(beam_right: set[int], revisions_right: set[int]):
    """Chapter 3's main set of 8 problems, of which chapter 5 used 1, 3, 5 and 7 (the
    subset's problems 0-3). The baseline is right on main problems 0, 2, 4 and 6 only (none
    of the subset); majority vote never. PRM-guided "beam" search and majority-rule
    revisions (budget 4) are right on the subset's problems given. Rows to leave out:
    search with the oracle verifier (budget 16) and revisions by another rule (budget 8),
    both always right."""
    indices = [1, 3, 5, 7]
    pool = pool_of({("majority vote", 1): lambda p: False, ("majority vote", 4): lambda p: False,
                    (BASELINE, 1): lambda p: False,
                    (BASELINE, 4): lambda p: p in (0, 2, 4, 6)}, list(range(8)))
    search = pd.DataFrame(
        [{"verifier": "PRM", "variant": "beam", "budget": 4, "problem": p, "n_ops": 1,
          "correct": p in beam_right, "policy_flops": 1.0, "verifier_flops": 1.0}
         for p in range(4)]
        + [{"verifier": "oracle", "variant": "beam (oracle)", "budget": 16, "problem": p,
            "n_ops": 1, "correct": True, "policy_flops": 1.0, "verifier_flops": 1.0}
           for p in range(4)])
    rev = pd.DataFrame(
        [{"rule": "majority", "length": 2, "budget": 4, "problem": p, "n_ops": 1,
          "correct": float(p in revisions_right), "flops": 1.0} for p in range(4)]
        + [{"rule": "last", "length": 2, "budget": 8, "problem": p, "n_ops": 1,
            "correct": 1.0, "flops": 1.0} for p in range(4)])
    return pool, indices, search, rev


def test_subset_analysis_one_bin():
    pool, indices, search, rev = subset_inputs({0, 1, 2, 3}, set())
    per_problem = pd.DataFrame({"pass1": [0.5] * 8})
    config = ComputeOptimalChapterConfig(subset_bins=1)
    out = subset_analysis(config, pool, per_problem, indices, search, rev)
    # budget 4 only: the budgets of PRM search and of majority-rule revisions
    assert list(out["budget"]) == [4] and list(out["bin"]) == [1]
    assert out["optimal"].iloc[0] == 1.0
    assert out["chosen"].iloc[0] == "beam"  # in both folds
    # the baseline on the subset only (on all 8 main problems it would score 0.5)
    assert out["best_of_n"].iloc[0] == 0.0
    # right on every problem where the baseline is right on none: +1, whatever the resample
    assert out[["difference", "low", "high"]].iloc[0].tolist() == [1.0, 1.0, 1.0]


def test_subset_analysis_chooses_per_bin():
    folds = two_folds([0, 1, 2, 3], 0)  # the subset's problems, as first seen in its pool
    fold0 = [p for p in range(4) if folds[p] == 0]
    fold1 = [p for p in range(4) if folds[p] == 1]
    easy = {fold0[0], fold1[0]}  # bin 1 holds one problem of each fold
    hard = set(range(4)) - easy
    indices = [1, 3, 5, 7]
    pass1 = [0.5] * 8
    for position, main in enumerate(indices):
        pass1[main] = 0.9 if position in easy else 0.1
    pool, indices, search, rev = subset_inputs(beam_right=easy, revisions_right=hard)
    config = ComputeOptimalChapterConfig(subset_bins=2)
    out = subset_analysis(config, pool, pd.DataFrame({"pass1": pass1}), indices, search,
                          rev).set_index("bin")

    assert list(out.index) == [1, 2] and (out["budget"] == 4).all()
    assert out.loc[1, "chosen"] == "beam"
    assert out.loc[2, "chosen"] == "revisions, 2 per chain"
    assert (out["optimal"] == 1.0).all()
    assert (out["best_of_n"] == 0.0).all()


# -- derived tables for the notebook ----------------------------------------------------------

def bins_table() -> pd.DataFrame:
    return pd.DataFrame({"problem": range(6), "pass1": [0.9, 0.7, 0.5, 0.4, 0.3, 0.1],
                         "prm": [0.8, 0.6, 0.5, 0.5, 0.4, 0.2], "n_ops": [1, 1, 2, 4, 6, 8],
                         "oracle_bin": [1, 1, 2, 2, 3, 3],
                         "predicted_bin": [1, 2, 2, 2, 1, 3]})


def test_bin_summary_and_agreement():
    summary = bin_summary(bins_table())
    assert list(summary["oracle_bin"]) == [1, 2, 3]
    assert list(summary["pass1"]) == pytest.approx([0.8, 0.45, 0.2])
    assert list(summary["n_ops"]) == pytest.approx([1.0, 3.0, 7.0])
    assert list(summary["problems"]) == [2, 2, 2]
    same, near = bin_agreement_rates(bins_table())
    assert same == pytest.approx(4 / 6)  # problems 1 (1 vs 2) and 4 (3 vs 1) differ
    assert near == pytest.approx(5 / 6)  # problem 4 is two bins off
    assert all(np.isnan(bin_agreement_rates(bins_table().iloc[:0])))


def test_optimal_curves_melt_one_kind_of_bins():
    optimal = pd.DataFrame([
        {"bin": 1, "budget": 1, "optimal": 0.5, "best_of_n": 0.25, "bins": "oracle"},
        {"bin": 1, "budget": 2, "optimal": 0.75, "best_of_n": 0.5, "bins": "oracle"},
        {"bin": 2, "budget": 1, "optimal": 0.1, "best_of_n": 0.0, "bins": "oracle"},
        {"bin": 1, "budget": 1, "optimal": 0.9, "best_of_n": 0.9, "bins": "predicted"},
    ])
    long = optimal_curves(optimal, "oracle")
    assert len(long) == 3 * 2
    assert set(long.columns) == {"bin", "budget", "strategy", "accuracy"}
    assert set(long["strategy"]) == set(CURVE_LABELS.values())
    assert CURVE_LABELS["best_of_n"] == BASELINE
    row = long.set_index(["bin", "budget", "strategy"])["accuracy"]
    assert row[("bin 1", 2, "compute-optimal choice")] == 0.75
    assert row[("bin 1", 2, BASELINE)] == 0.5
    assert row[("bin 2", 1, BASELINE)] == 0.0
    assert list(optimal_curves(optimal, "predicted")["accuracy"]) == [0.9, 0.9]
    # with bands, each curve keeps its own interval
    banded = optimal.assign(optimal_low=optimal["optimal"] - 0.1,
                            optimal_high=optimal["optimal"] + 0.1,
                            best_of_n_low=optimal["best_of_n"] - 0.2,
                            best_of_n_high=optimal["best_of_n"] + 0.2)
    long = optimal_curves(banded, "oracle").set_index(["bin", "budget", "strategy"])
    assert long.loc[("bin 1", 2, "compute-optimal choice"), "accuracy_low"] == pytest.approx(0.65)
    assert long.loc[("bin 1", 2, BASELINE), "accuracy_high"] == pytest.approx(0.7)
    assert (long["accuracy_low"] < long["accuracy"]).all()


def exchange_table() -> pd.DataFrame:
    """Two larger members, R = 0.16 and 22, bins 1 and 3; differences, intervals and
    verdicts as :func:`ttc.exchange.add_verdicts` writes them."""
    rows = [("mid", 2.0, 0.16, 1, 0.8, 0.7, "test-time compute"),
            ("mid", 2.0, 0.16, 3, 0.1, 0.3, "larger model"),
            ("mid", 2.0, 22.0, 1, 0.6, 0.7, "larger model"),
            ("mid", 2.0, 22.0, 3, 0.1, 0.3, "larger model"),
            ("big", 5.0, 0.16, 1, 0.9, 0.6, "test-time compute"),
            ("big", 5.0, 0.16, 3, 0.1, 0.5, "larger model"),
            ("big", 5.0, 22.0, 1, 0.6, 0.6, "no detectable difference"),
            ("big", 5.0, 22.0, 3, 0.05, 0.5, "larger model")]
    table = pd.DataFrame(rows, columns=["large", "M", "R", "bin", "small_accuracy",
                                        "large_accuracy", "verdict"])
    table["difference"] = table["small_accuracy"] - table["large_accuracy"]
    table["low"], table["high"] = table["difference"] - 0.05, table["difference"] + 0.05
    table["ceiling_accuracy"] = table["small_accuracy"] + 0.1
    table["ceiling_difference"] = table["difference"] + 0.1
    table["ceiling_low"] = table["ceiling_difference"] - 0.05
    table["ceiling_high"] = table["ceiling_difference"] + 0.05
    table["ceiling_verdict"] = np.where(table["bin"] == 1, "test-time compute", "larger model")
    table["k_affordable"] = 12.5
    return table


def test_winners_table_pivots_bins_into_columns():
    table = winners_table(exchange_table())
    assert list(table.columns) == ["large", "R", "bin 1", "bin 3"]
    rows = table.set_index(["large", "R"])
    assert rows.loc[("mid", 0.16), "bin 1"] == "+0.10 [+0.05, +0.15] small wins"
    assert rows.loc[("big", 22.0), "bin 1"] == "+0.00 [-0.05, +0.05] no detectable difference"
    assert rows.loc[("big", 22.0), "bin 3"] == "-0.45 [-0.50, -0.40] larger wins"
    assert len(table) == 4
    ceiling = winners_table(exchange_table(), "ceiling_verdict").set_index(["large", "R"])
    assert ceiling.loc[("big", 22.0), "bin 1"] == "+0.10 [+0.05, +0.15] small wins"
    empty = winners_table(exchange_table().iloc[:0])
    assert empty.empty and list(empty.columns) == ["large", "R"]


def test_winners_table_says_when_only_holm_keeps_a_difference_from_counting():
    from ttc.chapters.ch07_compute_optimal import exchange_details

    table = exchange_table()
    # the uncorrected interval excludes zero, the corrected test does not reject
    table.loc[6, ["difference", "low", "high"]] = [0.06, 0.02, 0.12]
    rows = winners_table(table).set_index(["large", "R"])
    assert rows.loc[("big", 22.0), "bin 1"] == "+0.06 [+0.02, +0.12] not detectable after Holm"
    details = exchange_details(table)
    assert details["verdict"].iloc[6] == "not detectable after Holm"
    assert details["verdict"].iloc[0] == "test-time compute"  # a kept verdict is unchanged
    # where the sign-flip test does not reject even alone, the table says so, not "Holm"
    table["p"] = 0.2
    rows = winners_table(table).set_index(["large", "R"])
    assert rows.loc[("big", 22.0), "bin 1"] == (
        "+0.06 [+0.02, +0.12] not detectable (sign-flip p = 0.20)")
    assert exchange_details(table)["verdict"].iloc[6] == "not detectable (sign-flip p = 0.20)"


def test_exchange_details_headers_and_formats():
    from ttc.chapters.ch07_compute_optimal import EXCHANGE_DETAIL_FORMATS, exchange_details

    details = exchange_details(exchange_table())
    assert list(details.columns)[:3] == ["larger member", "R", "bin"]
    assert "verdict, perfect verifier" in details and "chosen (fold 1 / fold 2)" not in details
    for column in details:
        assert column in EXCHANGE_DETAIL_FORMATS
        details[column].map(EXCHANGE_DETAIL_FORMATS[column].format)  # every value formats


# -- facts ------------------------------------------------------------------------------------

def facts_tables() -> dict[str, pd.DataFrame]:
    eff = pd.DataFrame([
        {"bins": "oracle", "bin": 1, "budget": 2, "saving": 2.0},
        {"bins": "oracle", "bin": 1, "budget": 4, "saving": 4.0},
        {"bins": "oracle", "bin": 2, "budget": 4, "saving": np.nan},
        {"bins": "oracle", "bin": 2, "budget": 8, "saving": 1.0},
        {"bins": "predicted", "bin": 1, "budget": 2, "saving": 3.0},
        {"bins": "predicted", "bin": 1, "budget": 4, "saving": 5.0},
    ])
    nan = np.nan
    break_even = pd.DataFrame({
        "large": ["mid", "big"] * 2, "bin": 1, "pool": ["learned"] * 2 + ["perfect verifier"] * 2,
        "break_even_R": [0.5, nan, 4.0, 1.0], "break_even_low": [nan, nan, 2.0, 0.5],
        "break_even_high": [3.0, nan, 8.0, 2.0], "interval_above_zero_there": [False] * 4})
    return {"bins": bins_table(), "efficiency": eff, "exchange": exchange_table(),
            "break_even": break_even, "accounting": accounting_table(),
            "optimal": pd.DataFrame({
                "bins": ["oracle"] * 4 + ["predicted"], "budget": [1, 2, 4, 4, 4],
                "chosen": ["majority vote", "best-of-N (likelihood)",
                           "weighted best-of-N (likelihood)", "majority vote",
                           "best-of-N (likelihood)"]}),
            "saving_intervals": pd.DataFrame([
                {"bins": "oracle", "median_low": 1.2, "median_high": 3.04, "max_low": 2.0,
                 "max_high": 6.0},
                {"bins": "predicted", "median_low": np.nan, "median_high": np.nan,
                 "max_low": np.nan, "max_high": np.nan}]),
            "setup": pd.DataFrame([{"policy": "f32x2", "n_policy": 1, "verifier_base": "f32x2",
                                    "n_verifier": 1, "optimal_chosen_on": "validation"}])}


def test_facts_quote_the_tables():
    config = ComputeOptimalChapterConfig(n_bins=3, r_values=(0.16, 22.0))
    tables = facts_tables()
    out = facts(tables, config)
    assert out["policy"] == "f32x2"
    assert out["n_problems"] == "6" and out["n_bins"] == "3" and out["per_bin"] == "2"
    assert out["bins_same"] == "0.67" and out["bins_near"] == "0.83"
    assert out["bin1_pass1"] == "0.80" and out["binN_pass1"] == "0.20"
    # oracle savings above the smallest budget: 4.0 and 1.0 (NaN dropped); predicted: 5.0
    assert out["saving_max"] == "4.0" and out["saving_median"] == "2.5"
    assert out["saving_pred_median"] == "5.0"
    assert out["saving_median_ci"] == "[1.2, 3.0]" and out["saving_max_ci"] == "[2.0, 6.0]"
    assert out["saving_pred_median_ci"] == "[n/a]"
    # oracle bins above budget 1: two of three cells chose a likelihood rule
    assert out["chosen_likelihood"] == "2" and out["chosen_cells"] == "3"
    assert out["optimal_chosen_on"].startswith("on the validation problems")
    assert out["largest"] == "big" and out["largest_M"] == "5.0"
    assert out["r_lo"] == "0.16" and out["r_hi"] == "22"
    assert out["n_wins"] == "2" and out["n_ties"] == "1" and out["n_cells"] == "8"
    assert out["n_losses"] == "5" and out["n_ties_alone"] == "0"
    assert out["easy_ceiling_chosen"] == "n/a"  # the table has no ceiling_chosen column
    chose = {**tables, "exchange": tables["exchange"].assign(
        ceiling_chosen="best-of-k, perfect verifier, T = 0.8 @ k=42.2")}
    assert facts(chose, config)["easy_ceiling_chosen"] == "best-of-k, perfect verifier, T = 0.8"
    assert out["easy_small"] == "0.90" and out["easy_large"] == "0.60"
    assert out["easy_diff"] == "+0.30" and out["easy_low"] == "+0.25"
    assert out["easy_high"] == "+0.35" and out["easy_ceiling"] == "1.00"
    assert out["easy_k"] == "12.5" and out["gap_mean"] == "0.10"
    assert out["ceiling_wins"] == "4" and out["ceiling_losses"] == "4"
    # two (larger member, bin) pairs; surely ahead somewhere: none learned, both ceiling
    assert out["n_pairs"] == "2"
    assert out["sure_learned"] == "0" and out["sure_ceiling"] == "2"
    # the accounting of accounting_inputs(): PRM training is the largest uncharged item
    # (1800 / 4000), the revisions' history the largest paid per problem (600 / 2000)
    assert out["uncharged_top"].startswith("training the PRM")
    assert out["uncharged_top_vs_greedy"] == "0.45"
    assert out["uncharged_top_vs_pretraining"] == "0.23"  # 1800 / 8000 = 0.225
    assert out["uncharged_query_top"] == "revisions, budget 4 as 1 × 4: prompt and history read"
    assert out["uncharged_query_vs_greedy"] == "0.30"
    assert out["uncharged_top_scope"] == "the test problems"  # a one-off cost
    assert out["uncharged_query_sentence"] == (
        "Of the uncharged costs paid per problem the largest is revisions, budget 4 as 1 × 4: "
        "prompt and history read, 0.30× the largest member's greedy FLOPs on chapter 5's "
        "problems.")
    # every claim: its sentence for these tables (here, all four hold)
    for key, claim in CLAIMS.items():
        assert out[key] == claim.text(tables) == claim.holds_text, key
    assert all(isinstance(v, str) for v in out.values())


def test_facts_claims_follow_a_contradicting_table():
    tables = facts_tables()
    ex = tables["exchange"]
    # the small model loses the easiest bin at the smallest R against the largest member
    cell = (ex["large"] == "big") & (ex["R"] == 0.16) & (ex["bin"] == 1)
    ex.loc[cell, "small_accuracy"] = 0.2
    ex.loc[cell, "verdict"] = "larger model"
    out = facts(tables, ComputeOptimalChapterConfig(n_bins=3, r_values=(0.16, 22.0)))
    assert out["claim_easy_small_r"] == CLAIMS["claim_easy_small_r"].fails_text
    assert out["easy_small"] == "0.20"


def test_facts_of_empty_tables_read_na():
    tables = facts_tables()
    tables = {**{k: v.iloc[:0] for k, v in tables.items()}, "setup": tables["setup"]}
    out = facts(tables, ComputeOptimalChapterConfig())
    assert out["n_problems"] == "0" and out["per_bin"] == "0" and out["n_bins"] == "5"
    for key in ("bins_same", "bins_near", "bin1_pass1", "binN_pass1", "saving_max",
                "saving_median", "saving_pred_median", "largest_M", "easy_small",
                "easy_large", "easy_diff", "easy_low", "easy_high", "easy_ceiling", "easy_k",
                "gap_mean"):
        assert out[key] == "n/a", key
    assert out["saving_median_ci"] == "[n/a]" and out["saving_max_ci"] == "[n/a]"
    assert out["largest"] == "none"
    assert out["n_wins"] == "0" and out["n_ties"] == "0" and out["n_cells"] == "0"
    assert out["r_lo"] == "0.16" and out["r_hi"] == "22"
    assert out["n_pairs"] == "0" and out["sure_learned"] == "0"
    for key in ("uncharged_top", "uncharged_top_vs_greedy", "uncharged_top_vs_pretraining",
                "uncharged_query_top", "uncharged_query_vs_greedy", "uncharged_top_scope"):
        assert out[key] == "n/a", key
    assert out["uncharged_query_sentence"] == "No uncharged cost is paid per problem."
    for key, claim in CLAIMS.items():
        assert out[key] == claim.fails_text, key


# -- what is charged --------------------------------------------------------------------------

def accounting_inputs() -> dict:
    """Policy "s" (N = 10), verifier "v" (N = 5), larger member "L" (N = 100); test problems
    0 and 1 (prompts of 2 and 3 tokens); chapter 5's problems: [1]."""
    return {
        "score_half": pd.DataFrame({"problem": [0, 0, 1, 1], "n_tokens": [3, 5, 4, 4]}),
        "bin_half": pd.DataFrame({"problem": [0, 1], "n_tokens": [2, 6]}),
        "prompt_tokens": pd.Series({0: 2, 1: 3}),
        # problem 2 is not one of the exchange's problems: it must not count
        "greedy": pd.DataFrame({"model": ["s", "s", "L", "L", "L"],
                                "problem": [0, 1, 0, 1, 2], "n_tokens": [7, 9, 10, 10, 50]}),
        "sizes": {"s": 10, "v": 5, "L": 100}, "policy_name": "s", "verifier_name": "v",
        "pretraining": {"s": 8000.0, "L": 80000.0},
        "verifiers": pd.DataFrame({"verifier": ["ORM", "PRM"], "N": [5, 5],
                                   "train_tokens": [10, 30]}),
        "epochs": 2,
        "mc_labels": pd.DataFrame({"rollout_tokens": [4, 6]}),
        # largest budget 4: "1 × 4" reads 30 history tokens, "4 × 1" 5; budget 2 and the
        # verifier rule are not the ones listed
        "splits": pd.DataFrame({
            "budget": [4, 4, 4, 4, 2, 4], "split": ["1 × 4", "1 × 4", "4 × 1", "4 × 1",
                                                    "1 × 2", "1 × 4"],
            "rule": ["majority"] * 5 + ["verifier"], "problem": [0, 1, 0, 1, 0, 0],
            "context_tokens": [10, 20, 2, 3, 100, 10], "flops": [100.0, 200, 50, 50, 9, 999]}),
        "subset": [1],
    }


def accounting_table() -> pd.DataFrame:
    return accounting(**accounting_inputs())


def test_accounting_lists_every_item_with_hand_computed_flops():
    table = accounting_table()
    # test reference: L's greedy on problems 0 and 1, 2·100·20 = 4000; on chapter 5's
    # problem 1: 2·100·10 = 2000. 16 scored tokens, 10 prompt tokens over the scored
    # samples (2·2 + 2·3), 5 over the problems, 8 + 2 + 3 = 13 in the binning samples.
    expected = [
        ("yes", SCOPE_TEST, 2 * 10 * 16),    # policy's samples
        ("yes", SCOPE_TEST, 2 * 5 * 16),     # verifier reading them
        ("yes", SCOPE_TEST, 2 * 10 * 16),    # likelihood re-read
        ("yes", SCOPE_TEST, 2 * 10 * 16),    # policy's greedy answer (7 + 9 tokens)
        ("yes", SCOPE_TEST, 4000),           # L's greedy answer
        ("no", SCOPE_TEST, 2 * 10 * 10),     # prompts of the policy's samples
        ("no", SCOPE_TEST, 2 * 5 * 10),      # ... the verifier reads
        ("no", SCOPE_TEST, 2 * 10 * 10),     # ... the likelihood re-reads
        ("no", SCOPE_TEST, 2 * 10 * 5),      # prompt of the policy's greedy answer
        ("no", SCOPE_TEST, 2 * 100 * 5),     # prompt of L's greedy answer
        ("no", SCOPE_TEST, 2 * 10 * 13),     # binning samples
        ("no", SCOPE_TEST, 2 * 5 * 13),      # their PRM scores
        ("no", SCOPE_ONCE, 2 * 10 * 30),     # training chains (the PRM's tokens)
        ("no", SCOPE_ONCE, 2 * 10 * 10),     # Monte-Carlo rollouts
        ("no", SCOPE_ONCE, 6 * 5 * 10 * 2),  # training the ORM
        ("no", SCOPE_ONCE, 6 * 5 * 30 * 2),  # training the PRM
        ("through R", SCOPE_ONCE, 8000),     # pretraining s
        ("through R", SCOPE_ONCE, 80000),    # pretraining L
        ("yes", SCOPE_SUBSET, 300),          # revisions 1 × 4, majority
        ("no", SCOPE_SUBSET, 2 * 10 * 30),   # their prompts and history
    ]
    assert list(table["charged"]) == [c for c, _, _ in expected]
    assert list(table["scope"]) == [s for _, s, _ in expected]
    assert table["flops"].tolist() == pytest.approx([f for _, _, f in expected])
    assert table["item"].iloc[4] == "L's greedy answer (2·N per token)"
    assert table["item"].iloc[18].startswith("revisions, budget 4 as 1 × 4")
    reference = [2000.0 if s == SCOPE_SUBSET else 4000.0 for _, s, _ in expected]
    assert table["vs_greedy"].tolist() == pytest.approx(
        [f / r for (_, _, f), r in zip(expected, reference, strict=True)])
    assert table["vs_pretraining"].tolist() == pytest.approx(
        [f / 8000 for _, _, f in expected])


def test_the_per_problem_sentence_does_not_repeat_the_largest_item():
    from ttc.chapters.ch07_compute_optimal import _per_problem_sentence

    row = pd.Series({"item": "revisions: prompt and history read", "vs_greedy": 48.6,
                     "scope": "chapter 5's problems"})
    assert _per_problem_sentence(row, row) == (
        "It is also the largest of the uncharged costs paid per problem.")


def test_largest_uncharged_overall_and_per_test_problem():
    table = accounting_table()
    assert largest_uncharged(table)["item"].startswith("training the PRM")
    # per problem: the revisions' history, 600 / 2000 = 0.3 of L's greedy on problem 1,
    # above L's prompt tokens on the test problems (1000 / 4000)
    assert largest_uncharged(table, per_problem=True)["item"].endswith("prompt and history read")
    assert largest_uncharged(table.iloc[:-2], per_problem=True)["flops"] == 1000.0
    assert largest_uncharged(table.iloc[:5]) is None


def test_accounting_needs_a_larger_member_and_lists_no_revisions_without_them():
    inputs = accounting_inputs()
    table = accounting(**{**inputs, "splits": inputs["splits"].iloc[:0]})
    assert len(table) == 18 and not (table["scope"] == SCOPE_SUBSET).any()
    with pytest.raises(ValueError, match="larger than the policy"):
        accounting(**{**inputs, "sizes": {"s": 10, "v": 5, "L": 10}})


def test_prompt_lengths_count_bos_and_characters_once_per_problem():
    greedy = pd.DataFrame({"model": ["a", "b", "a"], "problem": [1, 1, 0],
                           "prompt": ["12+3=", "12+3=", "7="]})
    assert prompt_lengths(greedy).to_dict() == {0: 3, 1: 6}


def test_saving_verdict_needs_the_interval_above_one():
    from ttc.chapters.ch07_compute_optimal import saving_verdict

    def tables(low):
        return {"saving_intervals": pd.DataFrame([{"bins": "oracle", "median_low": low,
                                                   "median_high": 3.0}])}

    assert saving_verdict(tables(1.2)) == "a detectable saving"
    assert saving_verdict(tables(1.0)) == "no detectable saving"  # one is no saving
    # a ratio of equal budgets, rounded: the cpu run's lower end was 1.0000000000000002
    assert saving_verdict(tables(1.0000000000000002)) == "no detectable saving"
    assert saving_verdict(tables(1.001)) == "a detectable saving"
    assert saving_verdict(tables(float("nan"))) == "no detectable saving"
    assert saving_verdict({}) == "no detectable saving"


def test_accounting_charges_nothing_for_a_likelihood_the_sampler_kept():
    """Samples with the sampler's log-probabilities: the likelihood's re-reading becomes a
    row of 0 FLOPs, and its prompts leave the list of what is not charged."""
    inputs = accounting_inputs()
    base = accounting(**inputs)
    kept = accounting(**{**inputs, "score_half": inputs["score_half"].assign(logprob=-1.0)})
    assert len(kept) == len(base) - 1
    row = kept[kept["item"].str.contains("kept by the sampler")]
    assert len(row) == 1 and row["flops"].iloc[0] == 0 and row["charged"].iloc[0] == "yes"
    assert not kept["item"].str.contains("likelihood's re-read").any()


def test_ties_detectable_alone_counts_the_cells_labelled_not_after_holm():
    from ttc.chapters.ch07_compute_optimal import ties_detectable_alone

    exchange = pd.DataFrame({
        "verdict": ["no detectable difference"] * 4 + ["larger model"],
        "low": [-0.3, -0.1, 0.02, -0.3, -0.4],
        "high": [-0.05, 0.1, 0.2, -0.01, -0.2],
        "p": [0.01, 0.5, 0.03, 0.2, 0.001]})
    # row 0: interval below zero, p < 0.05: detectable alone, not after Holm; row 1: the
    # interval holds zero; row 2: above zero, p < 0.05; row 3: the interval excludes zero
    # but its sign-flip p is 0.2, so the test keeps it undetected even alone; row 4: a verdict
    assert ties_detectable_alone(exchange) == 2
    assert ties_detectable_alone(exchange.drop(columns="p")) == 3  # without p: the interval
    ceiling = exchange.add_prefix("ceiling_")
    assert ties_detectable_alone(ceiling, "ceiling_") == 2
    assert ties_detectable_alone(pd.DataFrame()) == 0
