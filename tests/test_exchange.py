"""The FLOPs-matched exchange: exact allowance, held-out halves, paired bootstrap, Holm."""

import numpy as np
import pandas as pd
import pytest

from ttc import exchange as ex
from ttc.flops import exchange_factor
from ttc.metrics import holm, paired_bootstrap, verdict

# -- statistics -------------------------------------------------------------------------------

def test_paired_bootstrap_known_difference():
    stats = paired_bootstrap(np.full(40, 0.5), n_boot=2000)
    assert stats["mean"] == stats["low"] == stats["high"] == 0.5
    # every one of 40 problems favours one side: no random sign pattern is as extreme
    assert stats["p"] == pytest.approx(1 / 2001) and stats["problems"] == 40


def test_paired_bootstrap_known_null():
    diffs = np.array([1.0, -1.0] * 50)  # mean exactly zero, wide spread
    stats = paired_bootstrap(diffs, n_boot=4000, seed=3)
    assert stats["mean"] == 0.0
    assert stats["low"] < 0 < stats["high"]
    assert stats["p"] > 0.5


def test_paired_bootstrap_clear_effect_and_interval_width():
    rng = np.random.default_rng(0)
    diffs = rng.normal(0.3, 0.2, size=200)
    stats = paired_bootstrap(diffs, n_boot=4000)
    # the interval is about ±1.96·σ/√n = ±0.028 around the sample mean
    assert stats["high"] - stats["low"] == pytest.approx(2 * 1.96 * 0.2 / np.sqrt(200), rel=0.2)
    assert stats["low"] > 0.2 and stats["p"] < 0.001


def test_sign_flip_p_exact_by_hand():
    from ttc.metrics import sign_flip_p

    # two problems both favouring one side: 2 of the 4 sign patterns are as extreme
    assert sign_flip_p(np.array([-1.0, -1.0])) == 0.5
    # three: 2 of 8; and the paired bootstrap does not call it certain any more
    assert sign_flip_p(np.array([1.0, 1.0, 1.0])) == 0.25
    assert paired_bootstrap(np.array([1.0, 1.0, 1.0]), n_boot=500)["p"] == 0.25
    # [1, 1, -1]: |mean| = 1/3; patterns with |sum| >= 1: all but none (sums are odd) -> 1
    assert sign_flip_p(np.array([1.0, 1.0, -1.0])) == 1.0
    # [2, 1]: |mean| 1.5 only for ++ and -- -> 0.5; [3, 1, 1]: sums >= 5 for +++ (5),
    # ++- (3)... by hand: patterns (±3 ±1 ±1): |sum| in {5,3,3,1,1,3,3,5} -> 2/8 at >= 5
    assert sign_flip_p(np.array([2.0, 1.0])) == 0.5
    assert sign_flip_p(np.array([3.0, 1.0, 1.0])) == 0.25
    assert np.isnan(sign_flip_p(np.array([])))


def test_sign_flip_p_random_patterns_agree_with_exact_above_the_limit():
    from ttc.metrics import EXACT_SIGN_FLIPS, sign_flip_p

    rng = np.random.default_rng(5)
    values = rng.normal(0.2, 1.0, size=EXACT_SIGN_FLIPS)
    exact = sign_flip_p(values)
    padded = np.concatenate([values, np.zeros(1)])  # 17 problems: the random branch
    # the zero changes no pattern's |sum|, so the p-value is the same up to noise
    assert sign_flip_p(padded, n_flips=20_000, seed=2) == pytest.approx(exact, abs=0.015)


def test_paired_bootstrap_empty_and_nan():
    assert np.isnan(paired_bootstrap(np.array([]))["mean"])
    assert paired_bootstrap(np.array([np.nan, 1.0, 1.0]))["problems"] == 2
    assert paired_bootstrap(np.zeros(5))["p"] == 1.0


def test_holm_by_hand():
    # sorted: 0.01 <= 0.05/4 rejects; 0.03 > 0.05/3 stops
    assert holm([0.01, 0.04, 0.03, 0.2]).tolist() == [True, False, False, False]
    # 0.001 <= 0.05/3, 0.01 <= 0.05/2, 0.04 <= 0.05/1: all rejected
    assert holm([0.04, 0.001, 0.01]).tolist() == [True, True, True]
    assert holm([np.nan, 0.01]).tolist() == [False, True]  # NaN: not counted, not rejected
    assert holm([]).tolist() == []


def test_verdict_words():
    assert verdict(0.2, True) == "wins" and verdict(-0.2, True) == "loses"
    assert verdict(0.2, False) == "no detectable difference"
    assert verdict(float("nan"), True) == "no detectable difference"


# -- exact allowance --------------------------------------------------------------------------

def test_fractional_budget_interpolates_between_floor_and_ceil():
    curve = {2: np.array([0.0, 1.0]), 3: np.array([1.0, 1.0]), 4: np.array([1.0, 0.0])}
    assert ex.fractional(curve, 2.25, 4).tolist() == [0.25, 1.0]
    assert ex.fractional(curve, 3.0, 4).tolist() == [1.0, 1.0]
    assert ex.fractional(curve, 9.5, 4).tolist() == [1.0, 0.0]  # capped at n = 4
    assert ex.fractional(curve, 0.9, 4) is None
    assert ex.needed_ks([10.0, 30.0], [4.0, 20.0], 5) == [1, 2, 3, 5]


def test_held_out_halves_are_disjoint_balanced_and_seeded():
    samples = pd.DataFrame({"problem": np.repeat([0, 1, 2], 6), "sample": np.tile(range(6), 3)})
    a, b = ex.held_out_halves(samples, seed=1)
    assert a.groupby("problem").size().tolist() == [3, 3, 3] == b.groupby("problem").size().tolist()
    for p in range(3):
        left = set(a[a["problem"] == p]["sample"])
        right = set(b[b["problem"] == p]["sample"])
        assert not left & right and left | right == set(range(6))
    a2, _ = ex.held_out_halves(samples, seed=1)
    pd.testing.assert_frame_equal(a, a2)
    assert (a["sample"].diff().fillna(1)[a["problem"].diff().fillna(0) == 0] > 0).all()


def _samples():
    """Two problems, four samples each. Problem 0: right answer '5' twice, '7' once, one
    unfinished; problem 1: never right."""
    return pd.DataFrame({
        "problem": [0, 0, 0, 0, 1, 1, 1, 1],
        "answer": ["5", "5", "7", None, "3", "3", "4", "4"],
        "correct": [True, True, False, False, False, False, False, False],
        "prm_last": [0.1, 0.2, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5],
        "orm": [0.9, 0.9, 0.1, 0.1, 0.5, 0.5, 0.5, 0.5],
    })


def test_rule_curves_by_hand():
    curves = ex.rule_curves(_samples(), [1, 4], n_resamples=400)
    # all four samples: majority picks '5' (2 votes vs 1); best PRM picks '7' (0.9)
    assert curves["majority vote"][4].tolist() == [1.0, 0.0]
    assert curves["best-of-N (PRM)"][4].tolist() == [0.0, 0.0]
    assert curves["weighted best-of-N (ORM)"][4].tolist() == [1.0, 0.0]
    # one sample: right with probability 2/4; the ceiling is exact pass@k
    assert curves["majority vote"][1][0] == pytest.approx(0.5, abs=0.08)
    assert curves[ex.CEILING][1].tolist() == [0.5, 0.0]
    assert curves[ex.CEILING][4].tolist() == [1.0, 0.0]


def test_candidates_charge_policy_and_verifier_tokens():
    options = {c.label: c for c in ex.candidates(100, 50, tokens_per_sample=10,
                                                 greedy_tokens=8)}
    assert options[ex.GREEDY].flops_per_unit == 2 * 100 * 8 and not options[ex.GREEDY].sampled
    assert options["majority vote"].flops_per_unit == 2 * 100 * 10
    assert options["weighted best-of-N (PRM)"].flops_per_unit == 2 * 150 * 10
    assert options[ex.CEILING].flops_per_unit == 2 * 150 * 10
    # the likelihood: the policy reads its own chain once more
    assert options["weighted best-of-N (likelihood)"].flops_per_unit == 2 * 200 * 10
    # ... unless the sampler kept the log-probabilities: then it costs nothing more
    kept = {c.label: c for c in ex.candidates(100, 50, tokens_per_sample=10, greedy_tokens=8,
                                              likelihood_kept=True)}
    assert kept["weighted best-of-N (likelihood)"].flops_per_unit == 2 * 100 * 10
    assert kept["weighted best-of-N (PRM)"].flops_per_unit == 2 * 150 * 10  # unchanged
    at_t = ex.temperature_candidates(100, 50, {1.0: 10.0}, 8, 1.0, likelihood_kept=True)
    assert {c.label: c.flops_per_unit for c in at_t}[
        ex.temperature_label("weighted best-of-N (likelihood)", 1.0)] == 2 * 100 * 10


def test_rules_without_scores_in_the_samples_are_left_out():
    samples = pd.DataFrame({"problem": [0, 0], "answer": ["1", "2"], "correct": [True, False],
                            "prm_last": [0.9, 0.1], "orm": [0.9, 0.1]})
    curves = ex.rule_curves(samples, [1, 2], n_resamples=10)
    assert "weighted best-of-N (likelihood)" not in curves
    assert curves["weighted best-of-N (PRM)"][2].tolist() == [1.0]


# -- the exchange -----------------------------------------------------------------------------

def _cells(r_values, large_correct, greedy_small, n_boot=2000):
    """Four problems in two bins; majority vote is right on problems 0 and 1 at any k; the
    ceiling on all four from k = 2. Policy N = 100, the larger member N = 400 (M = 4)."""
    problems = np.arange(4)
    bins = np.array([1, 1, 2, 2])
    curves = {
        "majority vote": {k: np.array([1.0, 1.0, 0.0, 0.0]) for k in range(1, 9)},
        ex.CEILING: {k: (np.array([1.0, 1.0, 0.0, 0.0]) if k == 1 else np.ones(4))
                     for k in range(1, 9)},
    }
    options = [ex.Candidate(ex.GREEDY, 2 * 100 * 10, sampled=False),
               ex.Candidate("majority vote", 2 * 100 * 10),
               ex.Candidate(ex.CEILING, 2 * 100 * 10)]
    return ex.exchange_cells(curves, options, 8, problems, bins, np.asarray(greedy_small),
                             {"big": (np.asarray(large_correct, float), 10.0),
                              "tiny": (np.zeros(4), 10.0)},
                             {"small": 100, "big": 400, "tiny": 50}, "small", r_values,
                             n_boot=n_boot)


def test_exchange_allowance_candidates_and_differences():
    cells = _cells([1.0], large_correct=[0, 0, 1, 1], greedy_small=[0, 0, 0, 0])
    assert set(cells["large"]) == {"big"}  # a smaller member is never compared with
    factor = exchange_factor(4.0, 1.0)  # 4 + 3·3/1 = 13
    assert factor == pytest.approx(13.0)
    assert cells["affordable_flops"].iloc[0] == pytest.approx(13 * 2 * 100 * 10)
    assert cells["k_affordable"].iloc[0] == pytest.approx(8.0)  # 13 samples, capped at n = 8
    one = cells.set_index("bin")
    # bin 1: majority vote right on both, larger model wrong on both: +1
    assert one.loc[1, "small_accuracy"] == 1.0 and one.loc[1, "large_accuracy"] == 0.0
    assert one.loc[1, "difference"] == 1.0
    # bin 2: nothing the small model can afford is right, the larger model is: -1
    assert one.loc[2, "difference"] == -1.0
    # the ceiling solves bin 2 as well: no difference there
    assert one.loc[2, "ceiling_difference"] == 0.0 and one.loc[1, "ceiling_difference"] == 1.0


def test_exchange_when_nothing_is_affordable():
    # at an R this large with M = 4 the allowance is about 4 greedy answers of the larger
    # member; make the samples dearer than that by pricing them per 100 tokens
    problems, bins = np.arange(2), np.array([1, 1])
    options = [ex.Candidate("majority vote", 1e9), ex.Candidate(ex.CEILING, 1e9)]
    curves = {"majority vote": {1: np.ones(2)}, ex.CEILING: {1: np.ones(2)}}
    cells = ex.exchange_cells(curves, options, 1, problems, bins, np.zeros(2),
                              {"big": (np.ones(2), 10.0)}, {"small": 100, "big": 400},
                              "small", [100.0], n_boot=500)
    assert cells["chosen"].iloc[0] == "nothing affordable"
    assert cells["small_accuracy"].iloc[0] == 0.0 and cells["difference"].iloc[0] == -1.0
    assert cells["ceiling_accuracy"].iloc[0] == 0.0


def test_verdicts_are_holm_corrected():
    cells = pd.DataFrame({"difference": [0.3, -0.3, 0.3, 0.0], "p": [0.001, 0.001, 0.04, 1.0],
                          "ceiling_difference": [0.5, 0.5, 0.5, 0.5],
                          "ceiling_p": [0.001, 0.001, 0.001, 0.001]})
    out = ex.add_verdicts(cells)
    # 0.04 alone would pass at 5%, but not after Holm over four cells (0.04 > 0.05/2)
    assert out["verdict"].tolist() == ["test-time compute", "larger model",
                                       "no detectable difference", "no detectable difference"]
    assert set(out["ceiling_verdict"]) == {"test-time compute"}
    assert ex.add_verdicts(cells.iloc[:0])["verdict"].empty


def test_break_even_r():
    sweep = pd.DataFrame({"large": "big", "bin": [1, 1, 1, 2, 2, 2],
                          "R": [0.1, 1.0, 10.0, 0.1, 1.0, 10.0],
                          "difference": [0.2, 0.1, -0.1, -0.1, 0.2, 0.3],
                          "low": [0.05, -0.02, -0.2, -0.3, 0.0, 0.1],
                          "high": [0.3, 0.2, 0.01, 0.1, 0.4, 0.5]})
    table = ex.break_even(sweep).set_index("bin")
    assert table.loc[1, "break_even_R"] == 1.0
    assert not table.loc[1, "interval_above_zero_there"]  # ahead at R = 1, but not surely
    assert table.loc[1, "break_even_low"] == 0.1  # surely ahead only at the smallest R
    assert table.loc[1, "break_even_high"] == 10.0  # the upper end never goes below zero
    assert np.isnan(table.loc[2, "break_even_R"])  # behind at the smallest R already
    assert np.isnan(table.loc[2, "break_even_low"])
    assert table.loc[2, "break_even_high"] == 10.0  # but not surely behind anywhere
    ceiling = sweep.rename(columns={"difference": "ceiling_difference", "low": "ceiling_low",
                                    "high": "ceiling_high"})
    pd.testing.assert_frame_equal(ex.break_even(ceiling, "ceiling_difference"),
                                  ex.break_even(sweep))
    assert ex.break_even(sweep.iloc[:0]).empty


def test_break_even_figure_has_a_panel_per_larger_member_and_survives_missing_bins():
    import matplotlib

    matplotlib.use("Agg")
    from ttc.plots import plot_break_even

    sweep = pd.DataFrame({"large": ["big"] * 3 + ["huge"] * 3, "bin": [1, 1, 1] * 2,
                          "R": [0.1, 1.0, 10.0] * 2,
                          "difference": [0.2, 0.1, -0.1, -0.1, -0.2, -0.3],
                          "low": [0.05, -0.02, -0.2, -0.3, -0.4, -0.5],
                          "high": [0.3, 0.2, 0.01, 0.1, -0.1, -0.2]})
    table = ex.break_even(sweep).assign(pool="learned")
    fig = plot_break_even(table)
    assert [ax.get_title() for ax in fig.axes] == ["vs big", "vs huge"]
    # one bar in the first panel (ahead up to R = 10 at most); the second has only a bar
    assert len(fig.axes[0].collections[0].get_segments()) == 1
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_held_out_share_splits_by_the_share_and_rejects_bad_shares():
    samples = pd.DataFrame({"problem": np.repeat([0, 1], 8), "sample": np.tile(range(8), 2)})
    binning, scoring = ex.held_out_halves(samples, seed=3, share=0.25)
    assert binning.groupby("problem").size().tolist() == [2, 2]
    assert scoring.groupby("problem").size().tolist() == [6, 6]
    for p in range(2):  # no scored sample is one that decided the bin
        assert not set(binning[binning["problem"] == p]["sample"]) & set(
            scoring[scoring["problem"] == p]["sample"])
    for bad in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError, match="share"):
            ex.held_out_halves(samples, share=bad)


# -- temperatures and the validation choice -----------------------------------------------------

def test_temperature_candidates_label_and_charge_each_temperature():
    options = ex.temperature_candidates(100, 50, {1.0: 10.0, 0.5: 6.0}, greedy_tokens=8,
                                        reference=1.0)
    by_label = {o.label: o for o in options}
    assert [o.label for o in options].count(ex.GREEDY) == 1
    assert by_label[ex.GREEDY].flops_per_unit == 2 * 100 * 8
    assert by_label["majority vote, T = 0.5"].flops_per_unit == 2 * 100 * 6
    assert by_label["majority vote, T = 1"].flops_per_unit == 2 * 100 * 10
    assert by_label["weighted best-of-N (likelihood), T = 0.5"].flops_per_unit == 2 * 200 * 6
    assert [o.label for o in options].count(ex.CEILING) == 1  # at the reference only
    assert by_label[ex.CEILING].flops_per_unit == 2 * 150 * 10


def test_temperature_curves_drop_rules_without_scores_and_keep_one_ceiling():
    cold = _samples().drop(columns=["prm_last", "orm"]).assign(
        likelihood=[0.1, 0.2, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5], orm=np.nan)
    curves = ex.temperature_curves({1.0: _samples(), 0.5: cold}, [4], reference=1.0,
                                   n_resamples=50)
    assert curves["majority vote, T = 0.5"][4].tolist() == [1.0, 0.0]
    assert "weighted best-of-N (ORM), T = 0.5" not in curves  # all-missing column dropped
    assert "weighted best-of-N (ORM), T = 1" in curves
    assert curves["best-of-N (likelihood), T = 0.5"][4].tolist() == [0.0, 0.0]  # picks '7'
    assert curves[ex.CEILING][4].tolist() == [1.0, 0.0]


def test_temperature_curves_of_on_workers_equal_one_call_per_set(monkeypatch):
    """Chapter 7 computes the test and validation curves as jobs on two worker processes;
    they are the curves of one call per set, in the same order."""
    monkeypatch.setenv("TTC_WORKERS", "2")
    cold = _samples().assign(likelihood=[0.1, 0.2, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5])
    many = [{1.0: _samples(), 0.5: cold}, {0.5: cold}]
    parallel = ex.temperature_curves_of(many, [1, 2, 4], reference=1.0, n_resamples=30)
    one_by_one = [ex.temperature_curves(sets, [1, 2, 4], reference=1.0, n_resamples=30)
                  for sets in many]
    assert [list(c) for c in parallel] == [list(c) for c in one_by_one]
    for got, want in zip(parallel, one_by_one, strict=True):
        for label in want:
            for k in want[label]:
                assert np.array_equal(got[label][k], want[label][k]), (label, k)


def test_choose_by_bin_takes_the_best_mean_per_bin_and_breaks_ties():
    def pool(first: str, second: str, correct: list[float]) -> pd.DataFrame:
        return pd.DataFrame({"strategy": [first] * 4 + [second] * 4,
                             "problem": [0, 1, 2, 3] * 2, "correct": correct})

    bins = np.array([1, 1, 2, 2])
    mixed = pool("a @ k=2.0", "b @ k=3.0", [1, 1, 0, 0, 0, 1, 1, 1.0])
    assert ex.choose_by_bin(mixed, np.arange(4), bins) == {1: "a", 2: "b"}
    tied = mixed.assign(correct=0.5)
    assert ex.choose_by_bin(tied, np.arange(4), bins) == {1: "a", 2: "a"}  # listing order
    assert ex.choose_by_bin(mixed.iloc[:0], np.arange(4), bins) == {}
    # bin 1: greedy and the ceiling both solve both problems; bin 2: the ceiling 1.0, greedy
    # 0.0. Greedy is listed first, but over all problems the ceiling is better (1.0 vs 0.5),
    # so it takes the tied bin too
    ceiling = pool("greedy (own answer)", "perfect verifier @ k=42.0", [1, 1, 0, 0, 1, 1, 1, 1.0])
    assert ex.choose_by_bin(ceiling, np.arange(4), bins) == {1: "perfect verifier",
                                                             2: "perfect verifier"}


def test_exchange_reports_on_test_what_validation_chose():
    """Validation says 'good' everywhere; on the test problems 'good' is wrong and 'bad' is
    right: the cell must report 'good' (0), not the test-best 'bad' (1)."""
    problems, bins = np.arange(4), np.array([1, 1, 2, 2])
    test = {"good": {k: np.zeros(4) for k in (1, 2)}, "bad": {k: np.ones(4) for k in (1, 2)},
            ex.CEILING: {k: np.ones(4) for k in (1, 2)}}
    val = {"good": {k: np.ones(4) for k in (1, 2)}, "bad": {k: np.zeros(4) for k in (1, 2)},
           ex.CEILING: {k: np.ones(4) for k in (1, 2)}}
    options = [ex.Candidate("bad", 2 * 100 * 10), ex.Candidate("good", 2 * 100 * 10),
               ex.Candidate(ex.CEILING, 2 * 100 * 10)]
    args = (options, 2, problems, bins, np.zeros(4), {"big": (np.zeros(4), 10.0)},
            {"small": 100, "big": 400}, "small", [1.0])
    chosen = ex.exchange_cells(test, *args, n_boot=300,
                               choose_on=(val, 2, problems, bins, np.zeros(4)))
    assert chosen["small_accuracy"].tolist() == [0.0, 0.0]
    assert set(chosen["chosen"]) == {"good @ k=2.0"}
    crossed = ex.exchange_cells(test, *args, n_boot=300)  # cross-validated on test instead
    assert crossed["small_accuracy"].tolist() == [1.0, 1.0]


def test_first_samples_keeps_the_first_n_of_each_problem():
    samples = pd.DataFrame({"problem": [0, 1, 0, 1, 0], "sample": [0, 0, 1, 1, 2]})
    kept = ex.first_samples(samples, 2)
    assert kept["sample"].tolist() == [0, 0, 1, 1]


def test_ceiling_falls_back_to_the_greedy_answer_when_no_sample_is_affordable():
    problems, bins = np.arange(2), np.array([1, 1])
    options = [ex.Candidate(ex.GREEDY, 10.0, sampled=False),
               ex.Candidate("majority vote", 1e9), ex.Candidate(ex.CEILING, 1e9)]
    curves = {"majority vote": {1: np.ones(2)}, ex.CEILING: {1: np.ones(2)}}
    cells = ex.exchange_cells(curves, options, 1, problems, bins, np.array([1.0, 0.0]),
                              {"big": (np.array([1.0, 0.0]), 10.0)},
                              {"small": 100, "big": 400}, "small", [100.0], n_boot=500)
    # only the greedy answer is affordable: the learned pool and the ceiling both give it
    assert cells["chosen"].iloc[0] == ex.GREEDY
    assert cells["small_accuracy"].iloc[0] == cells["ceiling_accuracy"].iloc[0] == 0.5
    assert cells["ceiling_difference"].iloc[0] == 0.0


def test_ceiling_keeps_the_greedy_answer_or_another_temperature_where_better():
    """One problem per bin. At k = 1.5 the reference perfect verifier (pass@k) reaches 0.2
    on both problems, the one at T = 0.5 reaches 0.9 on problem 1, and the greedy answer is
    right on problem 0: the ceiling takes the greedy answer in bin 1 and T = 0.5 in bin 2,
    chosen on a validation split that agrees."""
    problems, bins = np.arange(2), np.array([1, 2])
    cold = ex.temperature_label(ex.CEILING, 0.5)
    curves = {ex.CEILING: {k: np.full(2, 0.2) for k in (1, 2)},
              cold: {k: np.array([0.0, 0.9]) for k in (1, 2)}}
    options = [ex.Candidate(ex.GREEDY, 100.0, sampled=False),
               ex.Candidate(ex.CEILING, 200.0), ex.Candidate(cold, 200.0)]
    greedy = np.array([1.0, 0.0])
    args = (options, 2, problems, bins, greedy, {"big": (np.zeros(2), 10.0)},
            {"small": 100, "big": 400}, "small", [1.0])
    # the allowance is 13 x the larger member's greedy FLOPs (2 * 100 * 10) = 26,000 FLOPs:
    # k = 130 capped at n = 2; make the samples dearer so that k = 1.5
    options[1] = ex.Candidate(ex.CEILING, 26_000 / 1.5)
    options[2] = ex.Candidate(cold, 26_000 / 1.5)
    cells = ex.exchange_cells(curves, options, *args[1:], n_boot=300,
                              choose_on=(curves, 2, problems, bins, greedy))
    by_bin = cells.set_index("bin")
    assert by_bin.loc[1, "ceiling_chosen"] == ex.GREEDY
    assert by_bin.loc[1, "ceiling_accuracy"] == 1.0
    assert by_bin.loc[2, "ceiling_chosen"].startswith(cold)
    assert by_bin.loc[2, "ceiling_accuracy"] == pytest.approx(0.9)
    assert cells["k_affordable"].tolist() == [1.5, 1.5]
