"""Chapter 8's analysis on hand-built tables: problems out of reach, the training/test-time
trade-off and its slopes, deployment at matched FLOPs, and the facts the prose quotes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.test_claims import with_capitals
from ttc.chapters import ch08_floor as ch8
from ttc.claims import FLOOR_CLAIMS

EASY, HARD = "easy (1-2 ops)", "hard (6-8 ops)"
VOTE, CEILING = "majority vote", "best-of-k with a perfect verifier"


# -- out_of_reach -----------------------------------------------------------------------------

def test_out_of_reach_by_hand():
    sizes = {"a": 10, "c": 20, "b": 40}
    solved = {"a": [0, 2, 0, 1], "c": [1, 0, 0, 3], "b": [2, 2, 2, 2]}  # right samples
    greedy = {"a": [0, 0, 0, 1], "c": [1, 0, 0, 1], "b": [1, 1, 1, 0]}
    per_problem = pd.DataFrame([{"model": m, "N": sizes[m], "problem": p, "c": c}
                                for m in sizes for p, c in enumerate(solved[m])])
    greedy = pd.DataFrame([{"model": m, "problem": p, "correct": bool(r)}
                           for m in sizes for p, r in enumerate(greedy[m])])
    table = ch8.out_of_reach(per_problem, greedy)
    assert list(zip(table["small"], table["large"], strict=True)) == [
        ("a", "c"), ("a", "b"), ("c", "b")]
    got = table.set_index(["small", "large"])
    # b answers 0, 1, 2 greedily; a never solves 0 and 2
    assert got.loc[("a", "b")].tolist() == pytest.approx([4.0, 3, 2, 2 / 3])
    # c answers 0 and 3; a never solves 0
    assert got.loc[("a", "c")].tolist() == pytest.approx([2.0, 2, 1, 0.5])
    # b answers 0, 1, 2; c never solves 1 and 2
    assert got.loc[("c", "b")].tolist() == pytest.approx([2.0, 3, 2, 2 / 3])


def test_out_of_reach_of_one_member_is_empty_with_columns():
    per_problem = pd.DataFrame({"model": ["a"], "N": [10], "problem": [0], "c": [0]})
    greedy = pd.DataFrame({"model": ["a"], "problem": [0], "correct": [True]})
    table = ch8.out_of_reach(per_problem, greedy)
    assert table.empty
    assert list(table.columns) == ["small", "large", "M", "large_greedy_right",
                                   "out_of_reach", "share"]


# -- tradeoff ---------------------------------------------------------------------------------

def _family():
    members = pd.DataFrame({"model": ["a", "b"], "N": [10, 40], "train_flops": [1e3, 1e4]})
    greedy = pd.DataFrame({"model": ["a"] * 4 + ["b"] * 4,
                           "correct": [1, 0, 0, 0, 1, 1, 0, 0],
                           "n_tokens": [5] * 4 + [10] * 4})
    rows = []
    # member a, two problems: majority 0.2, 0.4, 0.5 and pass@k 0.3, 0.6, 1.0 at k = 1, 2, 4
    a = {1: ([0.0, 0.4], [0.2, 0.4]), 2: ([0.4, 0.4], [0.6, 0.6]), 4: ([0.5, 0.5], [1, 1])}
    for k, (majority, passk) in a.items():
        for problem in (0, 1):
            rows.append({"model": "a", "problem": problem, "k": k,
                         "majority": majority[problem], "pass_at_k": passk[problem],
                         "flops": 100.0 * k})
    # member b: majority 0.5 at k = 1 and 2; pass@k 0.5, 0.8
    for k, passk in ((1, 0.5), (2, 0.8)):
        rows.append({"model": "b", "problem": 0, "k": k, "majority": 0.5, "pass_at_k": passk,
                     "flops": 800.0 * k})
    return pd.DataFrame(rows), greedy, members


def test_tradeoff_majority_vote_by_hand():
    per_k, greedy, members = _family()
    table = ch8.tradeoff(per_k, greedy, members, (0.2, 0.3, 0.6))
    got = table.set_index(["model", "target"])
    # a: greedy (0.25, 2·10·5 = 100 FLOPs) and the vote's first point both reach 0.2 at 100
    assert got.loc[("a", 0.2), "test_flops"] == pytest.approx(100)
    # 0.3 is halfway from 0.2 (100) to 0.4 (200) in log-FLOPs; greedy falls short
    assert got.loc[("a", 0.3), "test_flops"] == pytest.approx(100 * math.sqrt(2))
    assert not got.loc[("a", 0.6), "reached"]
    assert np.isnan(got.loc[("a", 0.6), "test_flops"])
    # b: greedy 0.5 at 2·40·10 = 800 FLOPs, the same as one sample
    assert got.loc[("b", 0.2), "test_flops"] == pytest.approx(800)
    assert got.loc[("b", 0.3), "test_flops"] == pytest.approx(800)
    assert not got.loc[("b", 0.6), "reached"]
    assert got.loc[("a", 0.2), "best_at_any_k"] == pytest.approx(0.5)
    assert got.loc[("a", 0.2), "greedy"] == pytest.approx(0.25)
    assert got.loc[("b", 0.2), "greedy"] == pytest.approx(0.5)
    assert set(table["strategy"]) == {VOTE}
    assert table["train_flops"].tolist() == [1e3] * 3 + [1e4] * 3


def test_tradeoff_with_a_perfect_verifier_by_hand():
    per_k, greedy, members = _family()
    table = ch8.tradeoff(per_k, greedy, members, (0.3, 0.6), strategy=CEILING)
    got = table.set_index(["model", "target"])["test_flops"]
    assert got[("a", 0.3)] == pytest.approx(100)  # pass@1 = 0.3
    assert got[("a", 0.6)] == pytest.approx(200)  # pass@2 = 0.6
    # b: 0.6 is a third of the way from 0.5 (800) to 0.8 (1600) in log-FLOPs
    assert got[("b", 0.6)] == pytest.approx(800 * 2 ** (1 / 3))
    assert table.set_index(["model", "target"]).loc[("a", 0.3), "best_at_any_k"] == 1.0
    assert set(table["strategy"]) == {CEILING}


# -- tradeoff_slopes --------------------------------------------------------------------------

def test_tradeoff_slopes_by_hand():
    rows = [("s", 0.2, 1e2, 1e5, True), ("s", 0.2, 1e3, 1e4, True), ("s", 0.2, 1e4, 1e3, True),
            ("s", 0.4, 1e2, 1e3, True), ("s", 0.4, 1e4, 1e4, True),
            ("s", 0.4, 1e3, np.nan, False),
            ("s", 0.6, 1e2, 1e3, True), ("s", 0.6, 1e3, np.nan, False),
            ("s", 0.8, 1e2, np.nan, False),
            ("t", 0.2, 1e2, 1e2, True), ("t", 0.2, 1e4, 1e2, True)]
    table = pd.DataFrame(rows, columns=["strategy", "target", "train_flops", "test_flops",
                                        "reached"])
    slopes = ch8.tradeoff_slopes(table).set_index(["strategy", "target"])
    assert slopes.loc[("s", 0.2), "slope"] == pytest.approx(-1.0)
    assert slopes.loc[("s", 0.2), "test_saved_per_10x_train"] == pytest.approx(10.0)
    assert slopes.loc[("s", 0.2), "members"] == 3
    assert slopes.loc[("s", 0.4), "slope"] == pytest.approx(0.5)  # the unreached row is out
    assert slopes.loc[("s", 0.4), "test_saved_per_10x_train"] == pytest.approx(10 ** -0.5)
    assert slopes.loc[("s", 0.6), "members"] == 1
    assert np.isnan(slopes.loc[("s", 0.6), "slope"])
    assert ("s", 0.8) not in slopes.index  # reached by no member
    assert slopes.loc[("t", 0.2), "slope"] == pytest.approx(0.0)
    assert slopes.loc[("t", 0.2), "test_saved_per_10x_train"] == pytest.approx(1.0)


def test_tradeoff_slopes_of_nothing_reached():
    table = pd.DataFrame({"strategy": ["s"], "target": [0.5], "train_flops": [1e3],
                          "test_flops": [np.nan], "reached": [False]})
    slopes = ch8.tradeoff_slopes(table)
    assert slopes.empty
    assert list(slopes.columns) == ["strategy", "target", "members", "slope",
                                    "test_saved_per_10x_train"]


# -- deployment -------------------------------------------------------------------------------

def _deployment_inputs(large_tokens: float):
    members = pd.DataFrame({"model": ["a", "b"], "N": [10, 40]})
    curve = {1: 0.1, 2: 0.2, 4: 0.3, 8: 0.5, 16: 0.6}
    # a writes 5 tokens per sample: 2·10·5 = 100 FLOPs at k = 1
    per_k = pd.DataFrame([{"model": "a", "k": k, "majority": v, "flops": 100.0 * k}
                          for k, v in curve.items()]
                         + [{"model": "b", "k": 1, "majority": 0.5, "flops": 400.0}])
    greedy = pd.DataFrame({"model": ["a", "a", "b", "b"], "correct": [0, 0, 1, 0],
                           "n_tokens": [5, 5, large_tokens, large_tokens]})
    return per_k, greedy, members


def test_deployment_by_hand():
    table = ch8.deployment(*_deployment_inputs(5.0), r_values=(0.5, 1.0, 100.0))
    assert (table["small"] == "a").all() and (table["large"] == "b").all()
    assert (table["M"] == 4.0).all()
    # exchange factor m + 3 (m - 1) / R: 22, 13, 4.09 samples of a per answer of b
    assert table["samples_affordable"].tolist() == pytest.approx([22.0, 13.0, 4.09])
    assert table["k_used"].tolist() == [16, 8, 4]
    assert table["small_majority"].tolist() == pytest.approx([0.6, 0.5, 0.3])
    assert table["large_greedy"].tolist() == pytest.approx([0.5] * 3)
    assert table["winner"].tolist() == ["test-time compute", "tie", "larger model"]
    # the bracket from above: the next k of the curve at or above the allowance (22 is past
    # the curve's last k, 16: no bracket, the last k again)
    assert table["k_upper"].tolist() == [16, 16, 8]
    assert table["small_majority_upper"].tolist() == pytest.approx([0.6, 0.6, 0.5])
    assert table["winner_upper"].tolist() == ["test-time compute", "test-time compute", "tie"]


def test_deployment_when_not_one_sample_is_affordable():
    # b answers in 0.1 tokens on average: at R = 100, a affords 4.09 · 0.1 / 5 < 1 sample
    table = ch8.deployment(*_deployment_inputs(0.1), r_values=(100.0,))
    row = table.iloc[0]
    assert row["samples_affordable"] == pytest.approx(4.09 * 0.1 / 5)
    assert row["k_used"] == 0
    assert np.isnan(row["small_majority"])
    assert row["winner"] == "larger model"
    assert (row["k_upper"], row["small_majority_upper"]) == (1, pytest.approx(0.1))
    assert row["winner_upper"] == "larger model"


def test_winner_margin():
    assert ch8.winner(0.52, 0.5) == "test-time compute"
    assert ch8.winner(0.505, 0.5) == "tie"
    assert ch8.winner(0.48, 0.5) == "larger model"
    assert ch8.winner(np.nan, 0.5) == "larger model"
    assert ch8.winner(np.nan, 0.0) == "tie"


# -- the figures' and tables' shapes ----------------------------------------------------------

def test_unsolved_curves_policy_deployment_and_winners():
    unsolved = pd.DataFrame({"model": ["a"], "N": [10], "difficulty": [EASY],
                             "unsolved": [0.25]})
    curves = ch8.unsolved_curves(unsolved)
    assert curves["accuracy"].tolist() == [0.25] and curves["panel"].tolist() == ["all members"]
    assert "accuracy_low" not in curves  # no interval in the table: no band
    banded = ch8.unsolved_curves(unsolved.assign(unsolved_low=[0.1], unsolved_high=[0.4]))
    assert (banded["accuracy_low"].tolist(), banded["accuracy_high"].tolist()) == ([0.1], [0.4])
    tables = _tables()
    mine = ch8.policy_deployment(tables)
    assert "small" not in mine
    assert mine["large"].tolist() == ["z", "z"]
    wide = ch8.winners_by_r(tables["deployment"])
    assert list(wide.columns) == ["small", "large", "R = 0.5", "R = 10"]
    assert wide.values.tolist() == [
        ["a", "p", "test-time compute", "tie"], ["a", "z", "larger model", "larger model"],
        ["p", "z", "larger model", "larger model"]]


# -- facts ------------------------------------------------------------------------------------

#: chapter 8's ``drawn`` fact for members p (the policy, N 20, 16 samples) and z (N 40, 4)
DRAWN = ("16 per problem, but z 4, the smallest power of two whose inference FLOPs are "
                     "at least those of the policy's 16 samples (2·N per token, counted at equal "
                     "tokens per sample)")


def _tables():
    members = pd.DataFrame({"model": ["p", "z", "a"], "N": [20, 40, 10],
                            "D": [1, 1, 1], "train_flops": [2e3, 4e3, 1e3]})
    setup = pd.DataFrame([{"policy": "p", "n_samples": 16, "policy_n": 16, "drawn": DRAWN}])
    reach = pd.DataFrame({"small": ["a", "a", "p"], "large": ["p", "z", "z"],
                          "M": [2.0, 4.0, 2.0], "large_greedy_right": [20, 30, 30],
                          "out_of_reach": [4, 15, 6], "share": [0.2, 0.5, 0.2]})
    unsolved = pd.DataFrame({"model": ["a", "p", "z", "a", "p"], "N": [10, 20, 40, 10, 20],
                             "difficulty": [HARD, HARD, HARD, EASY, EASY],
                             "unsolved": [0.9, 0.45, 0.1, 0.0, 0.0]})
    rows = []
    gains = {"a": (0.3, 0.1), "p": (0.5, 0.4), "z": (0.7, 0.65)}  # (best at any k, greedy)
    for strategy in (VOTE, CEILING):
        for model, (best, greedy) in gains.items():
            for target in (0.2, 0.4):
                reached = strategy == CEILING or not (model == "a" and target == 0.4)
                rows.append({"strategy": strategy, "model": model, "target": target,
                             "reached": reached, "test_flops": 1.0 if reached else np.nan,
                             "best_at_any_k": best if strategy == VOTE else 1.0,
                             "greedy": greedy})
    slopes = pd.DataFrame({"strategy": [VOTE, VOTE, VOTE, CEILING, CEILING, CEILING],
                           "target": [0.2, 0.4, 0.6] * 2, "members": [3, 3, 1, 3, 3, 1],
                           "slope": [0.5, 1.5, np.nan, -1.0, -0.5, np.nan],
                           "test_saved_per_10x_train": [10 ** -0.5, 10 ** -1.5, np.nan,
                                                        10.0, 10 ** 0.5, np.nan]})
    deployment = pd.DataFrame({
        "small": ["a", "a", "a", "a", "p", "p"], "large": ["p", "p", "z", "z", "z", "z"],
        "M": [2.0, 2.0, 4.0, 4.0, 2.0, 2.0], "R": [0.5, 10.0] * 3,
        "samples_affordable": [20.0, 3.0, 30.0, 5.0, 9.0, 2.5],
        "k_used": [16, 2, 16, 4, 8, 2],
        "small_majority": [0.5, 0.4, 0.3, 0.2, 0.55, 0.45],
        "large_greedy": [0.4, 0.4, 0.65, 0.65, 0.65, 0.65],
        "winner": ["test-time compute", "tie", "larger model", "larger model",
                   "larger model", "larger model"],
        "k_upper": [16, 4, 16, 8, 16, 4],
        "small_majority_upper": [0.5, 0.45, 0.3, 0.25, 0.6, 0.5],
        "winner_upper": ["test-time compute", "test-time compute", "larger model",
                         "larger model", "larger model", "larger model"]})
    return {"unsolved": unsolved, "out_of_reach": reach, "tradeoff": pd.DataFrame(rows),
            "slopes": slopes, "deployment": deployment, "members": members, "setup": setup}


def test_facts_by_hand():
    claims = with_capitals({claim.key: claim.holds_text for claim in FLOOR_CLAIMS})
    assert ch8.facts(_tables(), ch8.FloorChapterConfig()) == {
        "n_samples": "16", "smallest": "a", "largest": "z", "policy": "p",
        "drawn": DRAWN, "policy_n": "16",
        "reach_n": "6", "reach_of": "30", "reach_share": "0.20", "tiny_share": "0.50",
        "hard_small": "0.90", "hard_policy": "0.45",
        # medians of 10 and 10^0.5 = 3.16 saved; of vote slopes 0.5 and 1.5
        "ceiling_saved": "6.6", "vote_slope": "1.0",
        # three targets; the 0.6 one is reached by one member only, so two slopes each
        "n_targets": "3", "ceiling_fitted": "2", "vote_fitted": "2",
        "vote_never": "1", "vote_cells": "6",
        # best vote minus greedy: a 0.2, p 0.1, z 0.05
        "vote_gain_min": "+0.050", "vote_gain_max": "+0.200",
        **claims,
        "pair_wins": "1", "pair_cells": "6", "pair_wins_upper": "2", "pair_changed": "1",
        "dep_small_lo_upper": "0.60", "dep_k_lo_upper": "16",
        "dep_k_lo": "8", "dep_k_hi": "2", "dep_r_lo": "0.5", "dep_r_hi": "10",
        "dep_afford_lo": "9.0", "dep_afford_hi": "2.5",
        "dep_small_lo": "0.55", "dep_large": "0.65",
    }


def test_facts_claims_follow_the_slopes():
    tables = _tables()
    tables["slopes"].loc[0, "slope"] = -0.2  # majority vote exchanges for one target
    tables["slopes"].loc[3, "slope"] = 0.1  # the ceiling does not, for one target
    facts = ch8.facts(tables, ch8.FloorChapterConfig())
    assert facts == facts | with_capitals({claim.key: claim.fails_text for claim in FLOOR_CLAIMS})


def test_facts_of_empty_tables_read_missing():
    empty = {name: frame.iloc[:0] for name, frame in _tables().items()}
    facts = ch8.facts(empty, ch8.FloorChapterConfig())
    claims = with_capitals({c.key: c.text(empty) for c in FLOOR_CLAIMS})
    counts = {"vote_never": "0", "vote_cells": "0", "pair_wins": "0", "pair_cells": "0",
              "pair_wins_upper": "0", "pair_changed": "0",
              "n_targets": "0", "ceiling_fitted": "0", "vote_fitted": "0"}
    assert {k: facts[k] for k in claims} == claims
    assert {k: facts[k] for k in counts} == counts
    assert {v for k, v in facts.items() if k not in claims | counts} == {"n/a"}


def test_facts_when_the_policy_is_the_largest_member():
    tables = _tables()
    tables["setup"] = pd.DataFrame([{"policy": "z", "n_samples": 16}])
    facts = ch8.facts(tables, ch8.FloorChapterConfig())
    assert facts["policy"] == "z"
    assert facts["reach_share"] == facts["dep_k_lo"] == facts["dep_r_hi"] == "n/a"
    assert facts["hard_policy"] == "0.10"


def test_drawn_text_states_chapter_3s_rule():
    """The cpu profile's counts (chapter 3, :func:`ttc.upstream.matched_samples` with f64x3
    the reference): f96x3 (2.25 times f64x3's N) draws 64, which cost 144 of f64x3's samples
    (32 would cost 72, short of 128), f128x4 (5.33 times) 32, which cost 170 (16: 85). They
    cost at least the reference's 128, not as much: the text says so, and names the rule."""
    per_problem = pd.DataFrame({"model": ["f32x2", "f32x2", "f64x3", "f96x3", "f128x4"],
                                "n": [128, 128, 128, 64, 32]})
    rule = ("the smallest power of two whose inference FLOPs are at least those of the "
            "policy's 128 samples (2·N per token, counted at equal tokens per sample)")
    assert ch8.drawn_text(per_problem, "f64x3", "f64x3") == (
        f"128 per problem, but f96x3 64 and f128x4 32, each {rule}")
    # one member drew fewer: no "each"; a reference that is not the policy is named
    one = per_problem[per_problem["model"] != "f96x3"]
    assert ch8.drawn_text(one, "f64x3", "f64x3") == f"128 per problem, but f128x4 32, {rule}"
    assert ch8.drawn_text(one, "f64x3", "f32x2") == f"128 per problem, but f128x4 32, {rule}" \
        .replace("the policy's", "f64x3's")
    # three members listed "a, b and c"; a count of 2 may be the rule's floor, so it says so
    three = pd.DataFrame({"model": ["s", "m", "l", "xl"], "n": [16, 8, 4, 2]})
    assert ch8.drawn_text(three, "s", "s") == (
        "16 per problem, but m 8, l 4 and xl 2, each the smallest power of two (at least 2) "
        "whose inference FLOPs are at least those of the policy's 16 samples (2·N per token, "
        "counted at equal tokens per sample)")
    # without a reference the counts are listed without a rule; all equal: one number
    assert ch8.drawn_text(one) == "128 per problem, but f128x4 32"
    assert ch8.drawn_text(per_problem[per_problem["n"] == 128], "f64x3", "f64x3") == (
        "128 per problem")
    assert ch8.drawn_text(per_problem.iloc[:0], "f64x3", "f64x3") == ch8.fmt(None)


def test_drawn_text_agrees_with_the_sampling_rule():
    """The counts chapter 3 draws by its rule are the ones the text calls the smallest power
    of two at or above the reference's FLOPs (sizes of the cpu profile's members)."""
    from ttc.chapters.ch03_sampling import SamplingChapterConfig
    from ttc.upstream import matched_samples

    sizes = {"f32x2": 32_928, "f64x3": 197_056, "f96x3": 443_040, "f128x4": 1_049_728}
    counts = matched_samples(SamplingChapterConfig(n_samples=128, flops_matched_to="f64x3"),
                             sizes)
    assert counts == {"f32x2": 128, "f64x3": 128, "f96x3": 64, "f128x4": 32}
    budget = 128 * sizes["f64x3"]
    for model in ("f96x3", "f128x4"):  # at least the reference's FLOPs, and half would not be
        assert counts[model] * sizes[model] >= budget > counts[model] // 2 * sizes[model]
        assert counts[model] * sizes[model] > budget  # more, not as much


def _identical_problems(n=6):
    """One member, ``n`` identical problems: majority 0.2 at k = 1 and 0.4 at k = 2, greedy
    never right; every bootstrap draw is the same table."""
    members = pd.DataFrame({"model": ["a"], "N": [10], "train_flops": [1e3]})
    greedy = pd.DataFrame({"model": "a", "problem": range(n), "correct": 0, "n_tokens": 5})
    per_k = pd.DataFrame([{"model": "a", "problem": p, "k": k, "majority": m,
                           "pass_at_k": m, "flops": 100.0 * k}
                          for p in range(n) for k, m in ((1, 0.2), (2, 0.4))])
    return per_k, greedy, members


def test_tradeoff_intervals_collapse_without_noise_and_contain_the_point():
    per_k, greedy, members = _identical_problems()
    table = ch8.tradeoff_intervals(per_k, greedy, members, (0.3, 0.9), VOTE, n_boot=50)
    row = table.set_index("target").loc[0.3]
    assert row["test_flops"] == pytest.approx(100 * math.sqrt(2))
    assert row["test_flops_low"] == pytest.approx(row["test_flops"])
    assert row["test_flops_high"] == pytest.approx(row["test_flops"])
    assert row["reached_share"] == 1.0
    never = table.set_index("target").loc[0.9]  # no draw reaches it: no interval
    assert never["reached_share"] == 0.0 and np.isnan(never["test_flops_low"])
    # problems that differ: the interval holds the point
    noisy = per_k.assign(majority=per_k["majority"] + np.tile([0.0, 0.0, 0.1, 0.1], 3))
    row = ch8.tradeoff_intervals(noisy, greedy, members, (0.3,), VOTE,
                                 n_boot=200).iloc[0]
    assert row["test_flops_low"] <= row["test_flops"] <= row["test_flops_high"]
    assert row["test_flops_low"] < row["test_flops_high"]
