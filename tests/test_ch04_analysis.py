"""Chapter 4's analysis: facts and the functions behind them, on hand-built tables."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest

from ttc.chapters.ch04_verifiers import (
    MEDIUM,
    SELECTORS,
    VerifiersChapterConfig,
    accuracy_at,
    best_of_n_curves,
    calibration,
    comparison_table,
    distinct_chain_picks,
    facts,
    mc_label_stats,
    quality_value,
    selector_facts,
    selector_tests,
    split_sentence,
    training_problems,
    training_tokens,
)
from ttc.config import ConfigError
from ttc.report import direction
from ttc.tasks import Problem, TaskConfig

EASY = "easy (1-2 ops)"
CONFIG = VerifiersChapterConfig(policy="f32x2", verifier_base="f32x2", train_samples=4,
                                mc_rollouts=8)


# -- small helpers ----------------------------------------------------------------------------

def test_joined_lists_words_as_a_sentence_does():
    from ttc.report import joined

    assert joined([]) == ""
    assert joined(["a"]) == "a"
    assert joined(["a", "b"]) == "a and b"
    assert joined(["a", "b", "c"]) == "a, b and c"


def test_signed_numbers_never_read_as_a_signed_zero():
    import pandas as pd

    from ttc.report import difference_text, fmt, signed, table

    assert signed(0.123) == "+0.12" and signed(-0.05) == "-0.05"
    assert signed(-0.0017) == "-0.002"  # not "-0.00": the end lies below zero
    assert signed(0.00049, 2) == "+0.0005"
    assert signed(0.0) == signed(-0.0) == signed(1e-12) == "+0.00"
    assert signed(float("nan")) == "n/a"
    assert fmt(-0.0017, "+.3f") == "-0.002" and fmt(-0.0017, "+.4f") == "-0.0017"
    assert fmt(0.5, "+.1f") == "+0.5" and fmt(-0.0017, ".2f") == "-0.00"  # unsigned: as is
    assert difference_text(-0.03, -0.061, -0.0017) == "-0.03 [-0.06, -0.002]"
    html = table(pd.DataFrame({"low": [-0.0017, 0.25]}), formats={"low": "{:+.2f}"}).data
    assert "-0.002" in html and "+0.25" in html and "-0.00<" not in html


def test_shown_verdict_names_the_correction_only_where_it_decides():
    from ttc.report import NOT_AFTER_HOLM, shown_verdict

    neutral = "no detectable difference"
    assert shown_verdict(neutral, 0.02, 0.12) == NOT_AFTER_HOLM  # above zero alone
    assert shown_verdict(neutral, -0.13, -0.02) == NOT_AFTER_HOLM  # below zero alone
    assert shown_verdict(neutral, -0.02, 0.12) == neutral  # contains zero
    assert shown_verdict(neutral, 0.0, 0.1) == neutral  # touches zero
    assert shown_verdict("below", -0.13, -0.02) == "below"  # a kept verdict is unchanged
    assert shown_verdict("tie", 0.1, 0.2, neutral="tie") == NOT_AFTER_HOLM
    # with the comparison's own p-value: Holm decides only where the test alone rejects
    assert shown_verdict(neutral, -0.28, -0.03, p=0.03) == NOT_AFTER_HOLM
    assert shown_verdict(neutral, -0.28, -0.03, p=0.068) == (
        "not detectable (sign-flip p = 0.07)")
    assert shown_verdict(neutral, -0.28, 0.03, p=0.5) == neutral
    # a p just above 0.05 gets a third decimal, so that it does not read as 0.05
    assert shown_verdict(neutral, -0.28, -0.03, p=0.0509) == (
        "not detectable (sign-flip p = 0.051)")
    assert shown_verdict(neutral, -0.28, -0.03, p=float("nan")) == NOT_AFTER_HOLM


def test_direction_words_and_missing():
    assert direction(0.1, "up", "down", "flat") == "up"
    assert direction(-0.1, "up", "down", "flat") == "down"
    assert direction(0.004, "up", "down", "flat") == "flat"  # within the 0.005 tolerance
    assert direction(-0.004, "up", "down", "flat") == "flat"
    assert direction(float("nan"), "up", "down", "flat") == "n/a"


def test_mc_label_stats_splits_by_the_checker():
    labels = pd.DataFrame({"oracle": [True, True, True, False, False, False],
                           "mc_label": [0.5, 0.0, 1.0, 0.25, 0.0, 0.5]})
    stats = mc_label_stats(labels)
    assert stats["right_mean"] == pytest.approx(0.5)  # (0.5 + 0 + 1) / 3
    assert stats["wrong_mean"] == pytest.approx(0.25)  # (0.25 + 0 + 0.5) / 3
    assert stats["right_zero"] == pytest.approx(1 / 3)  # one of three right prefixes is 0


def test_mc_label_stats_without_right_prefixes_is_nan():
    stats = mc_label_stats(pd.DataFrame({"oracle": [False, False], "mc_label": [0.0, 0.5]}))
    assert math.isnan(stats["right_mean"]) and math.isnan(stats["right_zero"])
    assert stats["wrong_mean"] == pytest.approx(0.25)


def test_quality_value_reads_a_cell_or_nan():
    quality = pd.DataFrame({"score": ["ORM", "PRM last"], "auc": [0.8, 0.7],
                            "auc_within_problem": [0.55, 0.6]})
    assert quality_value(quality, "ORM") == pytest.approx(0.8)
    assert quality_value(quality, "PRM last", "auc_within_problem") == pytest.approx(0.6)
    assert math.isnan(quality_value(quality, "oracle"))


def test_accuracy_at_filters_selector_n_and_difficulty():
    summary = pd.DataFrame({
        "selector": ["majority vote", "majority vote", "majority vote", "ORM, weighted"],
        "difficulty": [MEDIUM, MEDIUM, EASY, MEDIUM],
        "N": [4, 8, 8, 8],
        "accuracy": [0.1, 0.3, 0.9, 0.4]})
    assert accuracy_at(summary, "majority vote", 8) == pytest.approx(0.3)
    assert accuracy_at(summary, "majority vote", 4) == pytest.approx(0.1)
    assert accuracy_at(summary, "majority vote", 8, EASY) == pytest.approx(0.9)
    assert math.isnan(accuracy_at(summary, "ORM, weighted", 4))


def test_calibration_bins_prm_scores():
    steps = pd.DataFrame({"prm": [0.05, 0.15, 0.95, 0.97, 1.0],
                          "oracle": [False, True, True, False, True]})
    table = calibration(steps, bins=10).set_index("bin")
    assert list(table.index) == [0, 1, 9]  # a score of exactly 1 falls in the last bin
    assert table.loc[0, "steps"] == 1 and table.loc[0, "oracle"] == 0.0
    assert table.loc[1, "prm"] == pytest.approx(0.15) and table.loc[1, "oracle"] == 1.0
    assert table.loc[9, "steps"] == 3
    assert table.loc[9, "prm"] == pytest.approx((0.95 + 0.97 + 1.0) / 3)
    assert table.loc[9, "oracle"] == pytest.approx(2 / 3)
    # Wilson 95% for 2 of 3 (hand-computed: centre 0.5731, half-width 0.3654); 0 of 1
    assert table.loc[9, "oracle_low"] == pytest.approx(0.2077, abs=1e-4)
    assert table.loc[9, "oracle_high"] == pytest.approx(0.9385, abs=1e-4)
    assert table.loc[0, "oracle_low"] == 0.0 and table.loc[0, "oracle_high"] == pytest.approx(
        0.7935, abs=1e-4)


def test_wilson_interval_edges():
    from ttc.metrics import wilson_interval

    low, high = wilson_interval(0, 10)
    assert low == 0.0 and 0.0 < high < 0.35  # not empty at zero successes
    low, high = wilson_interval(10, 10)
    assert high == pytest.approx(1.0) and 0.65 < low < 1.0
    assert all(x != x for x in wilson_interval(0, 0))  # NaN for no trials


def test_training_problems_come_from_the_train_split_per_length():
    inputs = {"02_family": SimpleNamespace(config=SimpleNamespace(task=TaskConfig()))}
    config = VerifiersChapterConfig(n_train_problems_per_ops=2)
    problems = training_problems(config, inputs)
    assert len(problems) == 16  # 2 per length, 1..8 operations
    assert [p.n_ops for p in problems] == [n for n in range(1, 9) for _ in range(2)]


def test_best_of_n_curves_exact_at_n_and_coverage():
    problem = Problem(first=10, steps=(("+", 5),))  # answer 15, one operation
    scored = pd.DataFrame({
        "problem": [0, 0, 0, 0],
        "answer": ["15", "7", "7", None],
        "correct": [True, False, False, False],
        "orm": [0.9, 0.3, 0.3, 0.5],  # right answer scored highest, also summed
        "prm_last": [0.2, 0.9, 0.1, 0.0],  # a wrong one scored highest
        "prm_min": [0.8, 0.1, 0.1, 0.1],
        "prm_prod": [0.1, 0.7, 0.7, 0.9],
        "likelihood": [0.5, 0.4, 0.4, 0.1],  # best alone, but "7" sums to 0.8
        "oracle": [1.0, 0.0, 0.0, 0.0],
    })
    curves = best_of_n_curves([problem], scored, n_resamples=20, progress=False)
    assert set(curves["N"]) == {1, 2, 4}
    assert set(curves["selector"]) == set(SELECTORS) | {"pass@N (coverage)"}
    assert (curves["difficulty"] == EASY).all() and (curves["n_ops"] == 1).all()
    at4 = curves[curves["N"] == 4].set_index("selector")["accuracy"]
    expected = {"majority vote": 0.0,  # "7" twice beats "15" once
                "ORM, best-of-N": 1.0, "ORM, weighted": 1.0,  # 0.9 > 0.3 + 0.3
                "PRM last, best-of-N": 0.0, "PRM last, weighted": 0.0,  # 0.2 < 0.9 + 0.1
                "PRM min, best-of-N": 1.0, "PRM prod, best-of-N": 0.0,
                "likelihood, best-of-N": 1.0, "likelihood, weighted": 0.0,
                "oracle, best-of-N": 1.0, "pass@N (coverage)": 1.0}
    assert at4.to_dict() == pytest.approx(expected)
    coverage = curves[curves["selector"] == "pass@N (coverage)"].set_index("N")["accuracy"]
    assert coverage[1] == pytest.approx(0.25)  # one right sample of four
    assert coverage[2] == pytest.approx(0.5)  # 1 - C(3,2)/C(4,2)


# -- facts ------------------------------------------------------------------------------------

def _summary_rows(selector, values, difficulty=MEDIUM):
    return [{"selector": selector, "difficulty": difficulty, "N": n, "accuracy": a,
             "accuracy_low": a, "accuracy_high": a, "problems": 3} for n, a in values.items()]


def _tables():
    summary = pd.DataFrame(
        _summary_rows("majority vote", {4: 0.25, 8: 0.3})
        + _summary_rows("ORM, best-of-N", {4: 0.2, 8: 0.1})
        + _summary_rows("ORM, weighted", {4: 0.3, 8: 0.35})
        + _summary_rows("PRM last, best-of-N", {4: 0.4, 8: 0.2})
        + _summary_rows("PRM last, weighted", {4: 0.45, 8: 0.5})
        + _summary_rows("oracle, best-of-N", {4: 0.6, 8: 0.75})
        + _summary_rows("pass@N (coverage)", {4: 0.7, 8: 0.8})
        + _summary_rows("majority vote", {4: 0.9, 8: 0.95}, EASY))  # a different group
    return {
        "verifiers": pd.DataFrame({"verifier": ["ORM", "PRM"], "N": [32928, 32928],
                                   "n_examples": [119, 128]}),
        "setup": pd.DataFrame({"n_train_problems": [32]}),
        "mc_labels": pd.DataFrame({"oracle": [True, True, True, False, False, False],
                                   "mc_label": [0.5, 0.0, 1.0, 0.25, 0.0, 0.5]}),
        "quality": pd.DataFrame({
            "score": ["ORM", "PRM last", "oracle", "PRM step", "Monte-Carlo label"],
            "auc": [0.8, 0.7, 1.0, 0.72, 0.65],
            "auc_within_problem": [0.55, 0.61, 1.0, 0.58, 0.6]}),
        "best_of_n": pd.DataFrame({"N": [1, 2, 4, 8]}),
        "best_of_n_summary": summary,
        "comparison": comparison_table(*_comparison_inputs(), n_boot=200),
        "distinct_picks": distinct_chain_picks(_scored_by_hand()),
        **_split_tables(),
    }


def _scored_by_hand():
    """Two medium problems and an easy one, five samples each (problem 1 has a sixth, which
    must be ignored: every problem is read on its first five). Problem 0: chain a right,
    drawn 3 times; b and c wrong, once each; the ORM's top is b, the PRM's c. Problem 1: x
    right once, y wrong 4 times; the ORM's top is x, the PRM's y (and the ignored z would
    top both). Problem 2 (easy): e right, 5 times."""
    chains = {0: [("a", True, 0.5, 0.5)] * 3 + [("b", False, 0.9, 0.2), ("c", False, 0.1, 0.8)],
              1: [("x", True, 0.9, 0.1)] + [("y", False, 0.1, 0.9)] * 4
              + [("z", False, 1.0, 1.0)],
              2: [("e", True, 0.5, 0.5)] * 5}
    ops = {0: 3, 1: 4, 2: 1}
    return pd.DataFrame([{"problem": p, "n_ops": ops[p], "completion": c, "finished": True,
                          "correct": right, "orm": orm, "prm_last": prm}
                         for p, rows in chains.items() for c, right, orm, prm in rows])


def test_distinct_chain_picks_by_hand():
    table = distinct_chain_picks(_scored_by_hand())
    assert table["difficulty"].tolist() == [EASY, MEDIUM]  # easy to hard
    table = table.set_index("difficulty")
    medium, easy = table.loc[MEDIUM], table.loc[EASY]
    assert medium["problems"] == 2 and medium["N"] == 5
    assert medium["distinct"] == 2.5  # 3 and 2 (z is not among the first five)
    assert medium["drawn_once"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert medium["sample_right"] == pytest.approx((3 / 5 + 1 / 5) / 2)
    assert medium["distinct_right"] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert medium["ORM top drawn once"] == 1.0  # b, x
    assert medium["PRM last top drawn once"] == 0.5  # c, but y was drawn 4 times
    assert (easy["distinct"], easy["drawn_once"], easy["sample_right"],
            easy["distinct_right"]) == (1, 0.0, 1.0, 1.0)


def _split_tables():
    """The generate/verify split on medium problems at two budgets (the largest: majority
    vote's N = 8), and its frontier: two points spending 20% and 60% on rationales."""
    verdicts = pd.DataFrame({
        "difficulty": [MEDIUM, MEDIUM, EASY], "budget_N": [4, 8, 16],
        "chosen": ["N=2, K=1", "N=4, K=1 / N=2, K=2", "N=8, K=1"],
        "split": [0.4, 0.45, 0.9], "vote": [0.42, 0.5, 0.9], "ceiling": [0.7, 0.8, 1.0],
        "difference": [-0.02, -0.05, 0.0], "low": [-0.06, -0.09, 0.0],
        "high": [0.02, -0.01, 0.0], "p": [0.3, 0.001, 1.0], "problems": [40, 40, 30],
        "verdict": ["no detectable difference", "below", "no detectable difference"],
        "flops": [40.0, 80.0, 160.0]})  # majority vote's FLOPs at each budget
    points = pd.DataFrame({
        "difficulty": [MEDIUM, MEDIUM, MEDIUM, EASY], "method": ["GenRM-CoT, weighted"] * 4,
        "N": [1, 2, 4, 1], "K": [1, 1, 2, 1], "accuracy": [0.3, 0.4, 0.45, 0.9],
        "frontier": [True, True, False, True], "verify_share": [0.2, 0.6, 0.7, 0.9],
        "flops": [10.0, 20.0, 60.0, 5.0]})
    return {"split_verdicts": verdicts, "split_points": points}


def _comparison_inputs():
    """Four problems with two right and two wrong samples each: the likelihood separates
    every problem, GenRM-CoT with K = 4 none (its scores are reversed), the rest in between."""
    correct = [True, True, False, False] * 4
    scores = pd.DataFrame({
        "problem": [p for p in range(4) for _ in range(4)],
        "correct": correct,
        "ORM": [0.5] * 16,  # all ties: 0.5 everywhere
        "PRM (last step)": [0.9, 0.1, 0.5, 0.5] * 4,  # 2 of 4 (right, wrong) pairs: 0.5
        "likelihood": [0.9, 0.8, 0.2, 0.1] * 4,
        "GenRM": [0.9, 0.2, 0.8, 0.1] * 4,  # 3 of 4 pairs right: 0.75
        "GenRM-CoT, K = 1": [0.6, 0.6, 0.4, 0.4] * 4,
        "GenRM-CoT, K = 4": [0.1, 0.2, 0.8, 0.9] * 4,
        "exact checker": [1.0 * c for c in correct],
    })
    costs = pd.DataFrame({"verifier": list(scores.columns[2:]),
                          "N": [100, 100, 200, 100, 100, 100, None],
                          "tokens": [20.0, 20.0, 20.0, 22.0, 60.0, 240.0, 0.0],
                          "flops_per_chain": [4e3, 4e3, 8e3, 4.4e3, 1.2e4, 4.8e4, 0.0],
                          "seconds": [0.1] * 7})
    return scores, costs


def test_comparison_table_aucs_and_paired_differences():
    table = comparison_table(*_comparison_inputs(), n_boot=200).set_index("score")
    within = table["auc_within"].to_dict()
    assert within == pytest.approx({"ORM": 0.5, "PRM (last step)": 0.5, "likelihood": 1.0,
                                    "GenRM": 0.75, "GenRM-CoT, K = 1": 1.0,
                                    "GenRM-CoT, K = 4": 0.0, "exact checker": 1.0})
    assert (table["mixed_problems"] == 4).all() and (table["chains"] == 16).all()
    # every problem's difference from the likelihood is the same: no spread, an exact
    # interval; but four problems are little evidence: the sign-flip p is 2 / 2^4 = 0.125
    assert table.loc["GenRM", "vs_likelihood"] == pytest.approx(-0.25)
    assert table.loc["GenRM", "vs_likelihood_low"] == pytest.approx(-0.25)
    assert table.loc["GenRM", "vs_likelihood_p"] == pytest.approx(0.125)
    assert table.loc["GenRM", "vs_likelihood_verdict"] == "no detectable difference"
    assert table.loc["exact checker", "vs_likelihood_verdict"] == "no detectable difference"
    assert table.loc["likelihood", "vs_likelihood_verdict"] == ""
    assert math.isnan(table.loc["likelihood", "vs_likelihood"])
    assert table.loc["GenRM-CoT, K = 4", "tokens"] == 240.0  # costs are joined by name
    assert table.loc["likelihood", "N"] == 200


def test_config_checks_the_comparison_parameters():
    for bad, message in (({"rationale_samples": ()}, "rationale_samples"),
                         ({"rationale_samples": (4, 4)}, "rationale_samples"),
                         ({"rationale_samples": (0,)}, "rationale_samples"),
                         ({"likelihood_member": "f7x1"}, "likelihood_member"),
                         ({"max_rationale_tokens": 0}, "max_rationale_tokens"),
                         ({"comparison_samples": 1}, "comparison_samples"),
                         ({"n_boot": 10}, "n_boot")):
        with pytest.raises(ConfigError, match=message):
            VerifiersChapterConfig(**bad)


def test_facts_quote_the_tables():
    out = facts(_tables(), CONFIG)
    assert all(isinstance(v, str) for v in out.values())
    assert out["policy"] == "f32x2" and out["verifier_base"] == "f32x2"
    assert out["verifier_N"] == "32,928"
    assert out["n_train_problems"] == "32"
    assert out["train_samples"] == "4" and out["mc_rollouts"] == "8"
    assert out["n_prefixes"] == "6"
    assert out["n_max"] == "8" and out["n_small"] == "4"
    assert out["mc_right_mean"] == "0.50" and out["mc_wrong_mean"] == "0.25"
    assert out["mc_right_zero"] == "0.33"
    assert out["mc_auc"] == "0.65"
    assert out["orm_auc"] == "0.80" and out["orm_within"] == "0.55"
    assert out["prm_within"] == "0.61" and out["oracle_within"] == "1.00"
    assert out["prm_step_auc"] == "0.72"
    assert out["vote_max"] == "0.30" and out["vote_small"] == "0.25"  # medium, not easy
    assert out["orm_weighted_max"] == "0.35"
    assert out["prm_weighted_max"] == "0.50"
    assert out["prm_best_small"] == "0.40" and out["prm_best_max"] == "0.20"
    assert out["oracle_max"] == "0.75" and out["coverage_max"] == "0.80"
    # no selector_tests table: the verdict words are missing, never guessed from points
    assert out["weighted_vs_vote"] == "n/a" and out["best_trend"] == "n/a"
    # the comparison of verifiers
    assert out["cot_k_small"] == "1" and out["cot_k_large"] == "4"
    assert out["comparison_samples"] == "4" and out["cmp_problems"] == "4"
    assert out["cmp_likelihood_within"] == "1.00" and out["cmp_likelihood_vs"] == "n/a"
    assert out["cmp_genrm_within"] == "0.75" and out["cmp_genrm_ci"] == "0.75–0.75"
    assert out["cmp_genrm_vs"] == "no detectable difference"  # four problems: p = 0.125
    assert out["cmp_genrm_tokens"] == "22"
    assert out["cmp_cot_small_within"] == "1.00" and out["cmp_cot_large_within"] == "0.00"
    assert out["cmp_cot_large_tokens"] == "240" and out["cmp_checker_within"] == "1.00"
    assert out["cmp_orm_pooled"] == "0.50"
    # chance baselines of a pick, medium problems (_scored_by_hand)
    assert out["distinct_chains"] == "2" and out["distinct_once"] == "0.58"
    assert out["sample_right"] == "0.40" and out["distinct_right"] == "0.42"
    assert out["prm_top_once"] == "0.50"


def _per_problem_best_of_n(n=20):
    """``n`` medium problems (and one easy one that must be ignored): at N = 8 the PRM's
    weighted best-of-N is right on every problem and majority vote on none; the likelihood
    equals the vote at 8 and beats it at 4; the PRM's plain best-of-N is right on all at
    N = 4 and none at 8."""
    rows = []
    for p in range(n):
        for selector, n_, acc in (("PRM last, weighted", 8, 1.0), ("majority vote", 8, 0.0),
                                  ("likelihood, weighted", 8, 0.0),
                                  ("PRM last, best-of-N", 4, 1.0),
                                  ("PRM last, best-of-N", 8, 0.0),
                                  ("likelihood, weighted", 4, 1.0), ("majority vote", 4, 0.0)):
            rows.append({"selector": selector, "problem": p, "N": n_, "accuracy": acc,
                         "difficulty": MEDIUM})
    rows.append({"selector": "majority vote", "problem": 99, "N": 8, "accuracy": 1.0,
                 "difficulty": EASY})
    return pd.DataFrame(rows)


def test_selector_tests_by_hand():
    """N "max" and "64" are both 8 here; verdicts come from paired tests with Holm."""
    table = selector_tests(_per_problem_best_of_n(), n_boot=500).set_index("test")
    assert table.loc["prm_weighted_vs_vote", "verdict"] == "above"
    assert table.loc["prm_weighted_vs_vote", "mean"] == 1.0
    assert table.loc["likelihood_vs_vote", "n_variant"] == 8  # 64 or the most measured
    assert table.loc["likelihood_vs_vote", "verdict"] == "no detectable difference"
    assert table.loc["likelihood_vs_vote_small", "n_variant"] == 4
    assert table.loc["likelihood_vs_vote_small", "verdict"] == "above"
    assert table.loc["prm_best_trend", "verdict"] == "below"
    assert (table.loc["prm_best_trend", "n_variant"],
            table.loc["prm_best_trend", "n_reference"]) == (8, 4)
    assert (table["problems"] == 20).all()  # the easy problem is not read
    out = selector_facts(table.reset_index())
    assert out["weighted_vs_vote"] == "detectably above"
    assert out["best_trend"] == "detectably falls"
    assert out["trend_sentence"].startswith("The more candidates there are")
    assert out["lik_vs_vote"] == "not detectably different from"
    assert (out["lik_n"], out["lik_acc"], out["lik_vote"]) == ("8", "0.00", "0.00")
    assert out["lik_diff"] == "+0.000" and out["lik_ci"] == "+0.000 to +0.000"
    assert out["lik_small_vs_vote"] == "detectably above" and out["lik_small_diff"] == "+1.000"
    assert out["weighted_diff"] == "difference +1.000, 95% interval +1.000 to +1.000"
    assert out["trend_diff"] == "difference -1.000, 95% interval -1.000 to -1.000"
    # two problems cannot make any difference detectable (sign-flip p = 0.5)
    few = selector_tests(_per_problem_best_of_n(2), n_boot=500)
    assert set(few["verdict"]) == {"no detectable difference"}
    words = selector_facts(few)
    # both problems fall by 1: the interval [-1, -1] excludes zero, the test (p = 0.5) decides
    assert words["best_trend"] == ("does not detectably change (sign-flip p = 0.50, though "
                                   "its 95% interval excludes zero)")
    assert words["trend_sentence"].startswith("This run does not detectably show")


def test_selector_tests_on_empty_tables():
    empty = selector_tests(pd.DataFrame({"N": pd.Series([], dtype=int)}))
    assert empty.empty and "verdict" in empty
    out = selector_facts(empty)
    assert out["weighted_vs_vote"] == "n/a" and out["trend_sentence"] == ""
    assert out["weighted_diff"] == "n/a" and out["trend_diff"] == "n/a"
    assert selector_facts(None)["lik_ci"] == "n/a"


def test_facts_on_empty_tables_read_na():
    tables = {
        "verifiers": pd.DataFrame({"verifier": [], "N": []}),
        "setup": pd.DataFrame({"n_train_problems": []}),
        "mc_labels": pd.DataFrame({"oracle": pd.Series([], dtype=bool),
                                   "mc_label": pd.Series([], dtype=float)}),
        "quality": pd.DataFrame({"score": [], "auc": [], "auc_within_problem": []}),
        "best_of_n": pd.DataFrame({"N": pd.Series([], dtype=int)}),
        "best_of_n_summary": pd.DataFrame({"selector": [], "difficulty": [], "N": [],
                                           "accuracy": []}),
        "comparison": pd.DataFrame({"score": ["GenRM"], "auc_within": [float("nan")],
                                    "auc_within_low": [float("nan")],
                                    "auc_within_high": [float("nan")]}),
        "distinct_picks": pd.DataFrame({"difficulty": []}),
        **{name: table.iloc[:0] for name, table in _split_tables().items()},
    }
    out = facts(tables, CONFIG)
    assert out["split_sentence"].startswith("No budget could be compared")
    assert out["n_prefixes"] == "0"
    for key in ("verifier_N", "n_train_problems", "n_max", "n_small", "mc_right_mean",
                "mc_right_zero", "mc_auc", "orm_within", "prm_step_auc", "vote_max",
                "prm_best_small", "weighted_vs_vote", "best_trend", "cmp_problems",
                "cmp_genrm_within", "cmp_genrm_ci", "cmp_cot_large_vs", "cmp_orm_tokens",
                "split_budget_n", "split_chosen", "split_diff", "split_ci", "split_verdict",
                "split_frontier_share", "distinct_chains", "distinct_right", "prm_top_once"):
        assert out[key] == "n/a", key


def test_training_tokens_count_prompt_chain_and_eos_of_finished_chains():
    from ttc.tokenizer import build_tokenizer
    from ttc.verifiers import VerifierExample

    examples = [VerifierExample("12+3=", "15", True, (1.0,)),  # <bos> + 7 chars + <eos>
                VerifierExample("12+3=", "1", False, ())]     # <bos> + 6 chars
    assert training_tokens(build_tokenizer(), examples) == 9 + 7
    assert training_tokens(build_tokenizer(), []) == 0


def test_split_facts_quote_the_largest_medium_budget():
    """The prose quotes medium problems at the largest budget compared, and the median
    rationale share of the medium frontier (0.2 and 0.6: 40%)."""
    out = facts(_tables(), CONFIG)
    assert out["split_budget_n"] == "8" and out["split_chosen"] == "N=4, K=1 / N=2, K=2"
    assert (out["split_acc"], out["split_vote"], out["split_ceiling"]) == ("0.45", "0.50",
                                                                            "0.80")
    assert out["split_diff"] == "-0.05" and out["split_ci"] == "-0.09 to -0.01"
    assert out["split_verdict"] == "below" and out["split_frontier_share"] == "40%"
    # the costliest medium split (60 FLOPs) against the largest medium budget (80)
    assert out["split_fill"] == "75%" and out["split_k_max"] == str(max(CONFIG.split_rationales))
    assert out["split_n"] == str(CONFIG.split_samples)
    assert out["split_sentence"] == split_sentence(_split_tables()["split_verdicts"])


def test_split_sentence_has_an_outcome_for_every_case():
    """Above anywhere: verifying pays; else below somewhere: it never pays and costs; else
    no detectable difference; no rows: nothing to compare."""
    verdicts = _split_tables()["split_verdicts"]
    assert split_sentence(verdicts).startswith("Verifying never pays here, and in 1 of the 3")
    above = verdicts.assign(verdict=["above", "below", "no detectable difference"])
    assert split_sentence(above).startswith("Verifying pays in 1 of the 3 comparisons")
    none = verdicts.assign(verdict="no detectable difference")
    assert split_sentence(none).startswith("In none of the 3 comparisons")
    assert split_sentence(verdicts.iloc[:0]).startswith("No budget could be compared")


def test_config_checks_the_split_parameters():
    for bad in ({"split_rationales": ()}, {"split_rationales": (2, 2)},
                {"split_rationales": (0,)}, {"split_samples": 1}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            VerifiersChapterConfig(**bad)
    config = VerifiersChapterConfig(rationale_samples=(1, 4), split_rationales=(1, 2, 8),
                                    comparison_samples=2, split_samples=8)
    assert config.max_rationales == 8 and config.verified_samples == 8


def test_split_display_joins_the_interval_and_shortens_the_group():
    from ttc.chapters.ch04_verifiers import split_display

    shown = split_display(_split_tables()["split_verdicts"])
    assert shown["difficulty"].tolist() == ["medium", "medium", "easy"]
    assert shown["split − vote [95%]"].iloc[1] == "-0.05 [-0.09, -0.01]"
    assert shown["split chosen (N, K)"].iloc[1] == "N=4,K=1 / N=2,K=2"
    assert shown["split against vote"].iloc[1] == "below"
    tables = _split_tables()
    tables["split_verdicts"].loc[0, ["low", "high"]] = [-0.04, -0.01]  # excludes zero, not kept
    assert split_display(tables["split_verdicts"])["split against vote"].tolist() == [
        "not detectable (sign-flip p = 0.30)", "below", "no detectable difference"]
    tables["split_verdicts"].loc[0, "p"] = 0.01  # the test alone rejects: Holm decides
    assert split_display(tables["split_verdicts"])["split against vote"].iloc[0] == (
        "not detectable after Holm")
    # the ceiling column is coverage (a perfect outcome verifier), named as such
    assert shown["perfect outcome verifier (coverage)"].tolist() == ["0.70", "0.80", "1.00"]
    assert "perfect verifier" not in shown


def _lik_tests(low: float, high: float, p: float, verdict: str = "no detectable difference"
               ) -> pd.DataFrame:
    """One likelihood-against-vote row of :func:`selector_tests`, written by hand."""
    return pd.DataFrame([{"test": "likelihood_vs_vote", "variant": "likelihood, weighted",
                          "n_variant": 64, "reference": "majority vote", "n_reference": 64,
                          "variant_acc": 0.4835, "reference_acc": 0.4568,
                          "mean": 0.0267, "low": low, "high": high, "p": p, "problems": 120,
                          "verdict": verdict}])


def test_selector_words_follow_the_tables_label_logic():
    """The prose's verdict words never contradict the interval quoted next to them: the same
    cases as :func:`ttc.report.shown_verdict` (the split table's labels)."""
    from ttc.chapters.ch04_verifiers import verdict_words

    neutral = "not detectably different from"
    # the stored cpu case: the interval just excludes zero, the sign-flip test does not reject
    out = selector_facts(_lik_tests(0.0014, 0.0543, 0.057))
    assert out["lik_ci"] == "+0.001 to +0.054"
    assert out["lik_vs_vote"] == ("not detectably different (sign-flip p = 0.06, though its "
                                  "95% interval excludes zero) from")
    # the test alone rejects, Holm's correction over the four does not keep it
    assert selector_facts(_lik_tests(0.0015, 0.0543, 0.03))["lik_vs_vote"] == (
        "not detectably different (after Holm's correction over the four tests, though its "
        "95% interval alone excludes zero) from")
    # the interval holds zero (or touches it): the plain words
    assert selector_facts(_lik_tests(-0.01, 0.05, 0.4))["lik_vs_vote"] == neutral
    assert selector_facts(_lik_tests(0.0, 0.05, 0.04))["lik_vs_vote"] == neutral
    # a kept verdict reads its own words, whatever the interval
    assert selector_facts(_lik_tests(0.01, 0.05, 0.001, "above"))["lik_vs_vote"] == (
        "detectably above")
    # a phrase without a closing "from" takes the reason at its end; NaN p: Holm decides
    words = {"above": "detectably rises", "below": "detectably falls"}
    assert verdict_words("no detectable difference", -0.2, -0.1, float("nan"), words,
                         "does not detectably change") == (
        "does not detectably change (after Holm's correction over the four tests, though "
        "its 95% interval alone excludes zero)")
    assert verdict_words("below", -0.2, -0.1, 0.001, words, "x") == "detectably falls"


def test_training_chain_facts_count_the_chains_without_an_answer():
    from ttc.chapters.ch04_verifiers import training_chain_facts

    info = pd.DataFrame({"verifier": ["ORM", "PRM"], "n_examples": [2042, 2048]})
    assert training_chain_facts(info) == {"orm_chains": "2,042", "prm_chains": "2,048",
                                          "unfinished_chains": "6"}
    assert training_chain_facts(info.iloc[:1])["unfinished_chains"] == "n/a"


def test_rationale_order_changes_compare_the_fewest_rationales_with_the_most():
    from ttc.chapters.ch04_verifiers import (
        COMPARED,
        rationale_order_changes,
        rationale_order_facts,
    )

    config = VerifiersChapterConfig(policy="f32x2", verifier_base="f32x2", train_samples=4,
                                    mc_rollouts=8, rationale_samples=(1, 4))
    one, four = COMPARED["cot"].format(k=1), COMPARED["cot"].format(k=4)
    scores = pd.DataFrame({"problem": [0, 0, 0, 1, 1], "correct": [True, True, False, True, False],
                           one: [0.9, 0.2, 0.5, 0.7, 0.1], four: [0.4, 0.6, 0.5, 0.8, 0.2]})
    orders = rationale_order_changes(scores, config)
    assert orders.to_dict("records") == [{"k_small": 1, "k": 4, "pairs": 3, "reordered": 2,
                                          "better": 1, "worse": 1}]
    assert rationale_order_facts(orders) == {"cot_pairs": "3", "cot_reordered": "2 (67%)",
                                             "cot_better": "1", "cot_worse": "1"}
    assert rationale_order_facts(None)["cot_pairs"] == "n/a"
