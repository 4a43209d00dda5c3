"""Chapter 3's scoring, derived tables and facts, on hand-built samples and tables whose
answers are worked out by hand."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from ttc.chapters import ch03_sampling as ch03
from ttc.paths import notebooks_dir
from ttc.tasks import Problem
from ttc.upstream import DIFFICULTY_GROUPS, difficulty_group, first_per_ops, powers_of_two

CONFIG = ch03.SamplingChapterConfig(n_samples=4, hard_n_problems=2, hard_n_samples=8,
                                    temperature=0.7)
MODELS = ["s", "m", "l"]
SIZES = {"s": 10, "m": 20, "l": 40}


def _glue_names(key: str) -> set[str]:
    text = (notebooks_dir() / f"{key}.md").read_text()
    return set(re.findall(r"\{glue:text\}`([^`]+)`", text))


# -- the scoring ----------------------------------------------------------------------------

def test_powers_of_two_and_groups():
    assert powers_of_two(16) == [1, 2, 4, 8, 16]
    assert powers_of_two(12) == [1, 2, 4, 8, 12]
    assert difficulty_group(1) == "easy (1-2 ops)"
    assert difficulty_group(5) == "medium (3-5 ops)"
    assert difficulty_group(8) == "hard (6-8 ops)"
    assert ch03.MEDIUM == "medium (3-5 ops)" and ch03.MEDIUM in DIFFICULTY_GROUPS


def test_first_per_ops_keeps_order():
    problems = [Problem(10, (("+", 11),) * n) for n in (1, 1, 2, 1, 2, 2)]
    kept = first_per_ops(problems, 2)
    assert [p.n_ops for p in kept] == [1, 1, 2, 2]


def test_curves_equal_direct_computation():
    problems = [Problem(10, (("+", 11),)), Problem(20, (("*", 3),))]  # answers 21 and 60
    answers = [["21", "21", "5", None], ["7", "7", "60", "8"]]
    chains = [["10+11=21", "10+12=21", "10+11=5", "10+"], ["20*3=7", "20*3=7", "20*3=60", "8"]]
    rows = []
    for index, problem_answers in enumerate(answers):
        for sample, answer in enumerate(problem_answers):
            rows.append({"problem": index, "n_ops": 1, "sample": sample, "answer": answer,
                         "completion": chains[index][sample],
                         "correct": answer == str(problems[index].answer), "n_tokens": 10})
    samples = pd.DataFrame(rows)
    config = ch03.SamplingChapterConfig(vote_resamples=50)
    per_problem, per_k = ch03._curves("m", 100, samples, problems, 4, config)
    assert per_problem["c"].tolist() == [2, 1]
    assert per_problem["c_chain"].tolist() == [1, 1]  # "10+12=21" is right by luck
    assert per_problem["success_rate"].tolist() == [0.5, 0.25]
    at = per_k.set_index(["problem", "k"])
    assert sorted(set(per_k["k"])) == [1, 2, 4]
    assert at.loc[(0, 1), "pass_at_k"] == pytest.approx(0.5)  # k = 1: c / n
    assert at.loc[(1, 1), "pass_at_k"] == pytest.approx(0.25)
    assert at.loc[(0, 2), "pass_at_k"] == pytest.approx(1 - 1 / 6)  # 1 - C(2,2)/C(4,2)
    assert at.loc[(0, 4), "pass_at_k"] == 1.0 and at.loc[(1, 4), "pass_at_k"] == 1.0
    assert at.loc[(0, 4), "majority"] == 1.0  # all four samples: "21" wins
    assert at.loc[(1, 4), "majority"] == 0.0  # "7" wins over the single "60"
    assert at.loc[(0, 2), "flops"] == pytest.approx(2 * 100 * 2 * 10)  # 2N x k x tokens


def test_greedy_on_reindexes_to_the_subset():
    greedy = pd.DataFrame({"model": ["a", "a", "a", "b"], "N": [1, 1, 1, 2],
                           "problem": [0, 1, 2, 0], "prompt": ["10+11=", "20*3=", "5-1=",
                                                               "10+11="],
                           "correct": [True, False, True, False]})
    subset = [Problem(5, (("-", 1),)), Problem(10, (("+", 11),))]  # "5-1=", "10+11="
    rows = ch03._greedy_on(greedy, "a", subset)
    assert rows["prompt"].tolist() == ["5-1=", "10+11="]
    assert rows["problem"].tolist() == [0, 1]  # positions in the subset
    assert rows["correct"].tolist() == [True, True]
    assert "N" not in rows


def test_summarise_means_and_intervals():
    per_k = pd.DataFrame({"model": ["a"] * 4 + ["b"] * 2, "k": [1, 1, 2, 2, 1, 1],
                          "pass_at_k": [0.0, 1.0, 0.5, 0.5, 0.25, 0.25],
                          "majority": [0.0, 1.0, 1.0, 0.0, 0.0, 1.0],
                          "flops": [10.0, 30.0, 40.0, 60.0, 5.0, 5.0]})
    out = ch03.summarise(per_k, ["model", "k"]).set_index(["model", "k"])
    assert out.loc[("a", 1), "coverage"] == 0.5 and out.loc[("a", 1), "flops"] == 20.0
    assert out.loc[("a", 1), "majority"] == 0.5 and out.loc[("a", 1), "problems"] == 2
    low, high = out.loc[("a", 1), ["coverage_low", "coverage_high"]]
    assert 0.0 <= low <= 0.5 <= high <= 1.0
    # identical values: the interval collapses onto the mean
    assert out.loc[("a", 2), ["coverage", "coverage_low", "coverage_high"]].tolist() == [
        0.5, 0.5, 0.5]
    assert out.loc[("b", 1), "coverage"] == 0.25 and out.loc[("b", 1), "majority"] == 0.5
    single = ch03.summarise(per_k, ["model"])
    assert single["model"].tolist() == ["a", "b"] and single["problems"].tolist() == [4, 2]


# -- hand-built chapter tables ----------------------------------------------------------------

def _per_problem() -> pd.DataFrame:
    """Four main problems (1, 3, 4, 8 ops), n = 4 samples each; correct samples by hand."""
    counts = {"s": [2, 0, 0, 0], "m": [4, 1, 0, 0], "l": [4, 2, 1, 0]}
    rows = [{"problem": p, "c": c, "c_chain": c, "mean_tokens": 10.0, "n_ops": [1, 3, 4, 8][p],
             "model": model, "N": SIZES[model], "n": 4, "success_rate": c / 4}
            for model in MODELS for p, c in enumerate(counts[model])]
    return pd.DataFrame(rows)


def _tables() -> dict[str, pd.DataFrame]:
    coverage_rows = []
    # medium coverage at k = 1 and k = n (4), majority vote at k = n
    for model, k1, k4, vote in (("s", 0.1, 0.3, 0.2), ("m", 0.25, 0.5, 0.45),
                                ("l", 0.6, 1.0, 0.8)):
        coverage_rows += [
            {"model": model, "N": SIZES[model], "difficulty": ch03.MEDIUM, "k": 1,
             "coverage": k1, "majority": k1},
            {"model": model, "N": SIZES[model], "difficulty": ch03.MEDIUM, "k": 4,
             "coverage": k4, "majority": vote},
            {"model": model, "N": SIZES[model], "difficulty": "easy (1-2 ops)", "k": 4,
             "coverage": 0.99, "majority": 0.99},
        ]
    # coverage and FLOPs per n_ops (1 and 8) and k; over both: their mean
    by_ops = {"s": [(0.4, 0.0, 100, 300), (0.6, 0.0, 200, 600), (0.8, 0.2, 400, 1200)],
              "m": [(0.6, 0.2, 200, 600), (0.8, 0.4, 400, 1200), (1.0, 0.6, 800, 2400)],
              "l": [(1.0, 0.4, 400, 1200), (1.0, 0.8, 800, 2400), (1.0, 1.0, 1600, 4800)]}
    by_ops_rows = []
    for model, points in by_ops.items():
        for k, (c1, c8, f1, f8) in zip((1, 2, 4), points, strict=True):
            by_ops_rows += [
                {"model": model, "N": SIZES[model], "n_ops": 1, "k": k, "coverage": c1,
                 "flops": f1},
                {"model": model, "N": SIZES[model], "n_ops": 8, "k": k, "coverage": c8,
                 "flops": f8}]
    greedy_correct = {"s": [1, 0, 0, 0], "m": [1, 1, 0, 0], "l": [1, 1, 1, 0]}
    greedy = pd.DataFrame([
        {"model": model, "N": SIZES[model], "problem": p, "n_ops": [1, 3, 4, 8][p],
         "prompt": f"p{p}", "correct": bool(ok), "n_tokens": 10}
        for model in MODELS for p, ok in enumerate(greedy_correct[model])])
    hard = pd.DataFrame({"model": ["s", "s", "m", "l", "l"], "N": [10, 10, 20, 40, 40],
                         "k": [1, 8, 8, 1, 8], "coverage": [0.1, 0.5, 0.75, 0.4, 1.0]})
    hard_pp = pd.DataFrame({"model": ["s", "s", "m", "m", "l", "l"], "problem": [0, 1] * 3,
                            "n_ops": 8, "c": [3, 0, 5, 5, 6, 4], "c_chain": [1, 0, 5, 5, 6, 3],
                            "n": 8})
    power_law = pd.DataFrame({"model": MODELS, "N": [10, 20, 40], "a": [-1.0, None, -2.0],
                              "b": [0.3, None, 0.55]})
    return {"per_problem": _per_problem(), "coverage": pd.DataFrame(coverage_rows),
            "coverage_by_ops": pd.DataFrame(by_ops_rows), "hard": hard,
            "hard_per_problem": hard_pp, "power_law": power_law, "greedy": greedy,
            "per_k": pd.DataFrame()}


def test_value_at_and_model_order():
    tables = _tables()
    assert ch03.model_order(tables["per_problem"]) == MODELS  # family order, not sorted
    assert ch03.value_at(tables["coverage"], "m", "majority", difficulty=ch03.MEDIUM,
                         k=4) == 0.45
    assert math.isnan(ch03.value_at(tables["coverage"], "m", "coverage", k=3))
    assert math.isnan(ch03.value_at(tables["coverage"], None, "coverage"))


def test_coverage_all_averages_over_n_ops():
    out = ch03.coverage_all(_tables()["coverage_by_ops"]).set_index(["model", "k"])
    assert out.loc[("s", 1), "coverage"] == pytest.approx(0.2)
    assert out.loc[("s", 1), "flops"] == pytest.approx(200)
    assert out.loc[("m", 4), "coverage"] == pytest.approx(0.8)
    assert out.loc[("l", 2), "coverage"] == pytest.approx(0.9)
    assert len(out) == 9 and out.loc[("m", 4), "N"] == 20


def test_greedy_by_model():
    out = ch03.greedy_by_model(_tables()["greedy"])
    assert list(out.index) == MODELS
    assert out["accuracy"].tolist() == pytest.approx([0.25, 0.5, 0.75])
    assert out["flops"].tolist() == pytest.approx([200, 400, 800])  # 2 N x 10 tokens


def test_first_reaching_and_its_sentence():
    tables = _tables()
    all_coverage = ch03.coverage_all(tables["coverage_by_ops"])
    # target: l's greedy accuracy 0.75; s peaks at 0.5; m reaches 0.8 at k = 4, 1600 FLOPs
    # against l's 2 x 40 x 10 = 800
    assert ch03.first_reaching(all_coverage, tables["greedy"]) == {
        "model": "m", "k": 4, "flops_ratio": pytest.approx(2.0)}
    assert ch03.reach_text(all_coverage, tables["greedy"]) == (
        "m is the smallest member whose coverage reaches it: with k = 4 samples, at 2.0 "
        "times the FLOPs of the large model's single answer")
    lower = all_coverage.assign(coverage=all_coverage["coverage"] / 2)
    assert ch03.first_reaching(lower, tables["greedy"]) is None
    assert ch03.reach_text(lower, tables["greedy"]).startswith("no smaller member")
    assert ch03.reach_text(all_coverage, tables["greedy"].iloc[0:0]) == "n/a"


def test_flops_figure_arguments():
    figure = ch03.flops_figure(_tables())
    assert figure["reference"] == pytest.approx(0.75)
    assert figure["reference_label"] == "l greedy"
    assert len(figure["coverage"]) == 9
    empty = {name: frame.iloc[0:0] for name, frame in _tables().items()}
    assert ch03.flops_figure(empty)["reference"] is None


def test_coverage_intervals_come_from_the_per_problem_counts():
    coverage = pd.DataFrame({"model": ["s", "s", "l"], "k": [1, 4, 8], "coverage": [0, 0, 0],
                             "flops": [1.0, 4.0, 8.0]})
    out = ch03.coverage_all_intervals(coverage, _per_problem(), n_boot=2000)
    # s at k = 1: pass@1 = c / n per problem, (0.5, 0, 0, 0). A resample's mean is 0.125
    # times the number of draws of problem 0, Binomial(4, 1/4): P(0) = 0.32, so the 2.5%
    # quantile is 0; P(3 or more) = 0.051 and P(4) = 0.004, so the 97.5% quantile is 0.375
    assert out["coverage_low"].iloc[0] == pytest.approx(0.0)
    assert out["coverage_high"].iloc[0] == pytest.approx(0.375)
    # s at k = 4 = n: pass@4 is (1, 0, 0, 0); l at k = 8 > n: no problem has that many
    assert out["coverage_low"].iloc[1] == 0.0 and out["coverage_high"].iloc[1] == 0.75
    assert math.isnan(out["coverage_low"].iloc[2]) and math.isnan(out["coverage_high"].iloc[2])


def test_flops_figure_has_intervals():
    coverage = ch03.flops_figure(_tables())["coverage"]
    assert {"coverage_low", "coverage_high"} <= set(coverage.columns)


def test_unsolved_and_rare_shares():
    per_problem = _per_problem()
    assert ch03.unsolved_share(per_problem).to_dict() == {"s": 0.75, "m": 0.5, "l": 0.25}
    rates = pd.DataFrame({"model": ["a"] * 5 + ["b"],
                          "success_rate": [0.0, 0.01, 0.04, 0.05, 0.5, 0.02]})
    # rare: solved, but by fewer than 5% of the samples (0.05 itself is not rare)
    assert ch03.rare_share(rates).to_dict() == {"a": pytest.approx(0.4), "b": 1.0}
    assert ch03.rare_share(rates, below=0.5).to_dict() == {"a": pytest.approx(0.6), "b": 1.0}


def test_gap_examples():
    tables = _tables()
    out = ch03.gap_examples(tables["per_problem"], tables["greedy"])
    # problems 1 and 2: no sample of s, some of l (2 and 1 correct); most solved first
    assert out.to_dict("list") == {"prompt": ["p1", "p2"], "s": [0, 0], "m": [1, 0],
                                   "l": [2, 1]}
    # at most one per number of operations, the one l solves most often
    same_ops = tables["per_problem"].assign(n_ops=3)
    out = ch03.gap_examples(same_ops, tables["greedy"])
    assert out["prompt"].tolist() == ["p1"]
    assert ch03.gap_examples(tables["per_problem"], tables["greedy"], n=1)["prompt"].tolist() \
        == ["p1"]
    empty = ch03.gap_examples(tables["per_problem"].iloc[0:0], tables["greedy"])
    assert empty.empty and list(empty.columns) == ["prompt"]


def test_b_range():
    assert ch03.b_range(_tables()["power_law"]) == "0.30 to 0.55"
    none = pd.DataFrame({"model": ["a"], "a": [float("nan")], "b": [float("nan")]})
    assert ch03.b_range(none).startswith("not defined")


def test_facts_on_hand_built_tables():
    assert ch03.facts(_tables(), CONFIG) == {
        "n_problems": "4",
        "n_samples": "4",
        "matched_text": "every member draws as many",
        "small_n": "4", "mid_n": "4", "large_n": "4",
        "hard_n_problems": "2",
        "temperature": "0.7",
        "hard_ops": "8",
        "n_models": "3",
        "small_name": "s", "mid_name": "m", "large_name": "l",
        "small_medium_kmax": "0.30", "large_medium_kmax": "1.00",
        "mid_medium_k1": "0.25", "mid_medium_kmax": "0.50", "mid_medium_vote": "0.45",
        "large_greedy": "0.75",
        "reach_text": ("m is the smallest member whose coverage reaches it: with k = 4 "
                       "samples, at 2.0 times the FLOPs of the large model's single answer"),
        "small_unsolved": "0.75",
        "large_unsolved": "0.25",
        "only_large": "2",  # problems 1 and 2
        "hard_samples_text": "sampled 8 times each",
        "hard_cov_small": "0.50",  # at k = hard_n_samples
        "hard_cov_large": "1.00",
        "hard_chain_text": (  # s: 1 of 3 right chains, on problem 0; l: 9 of 10
            "The smallest member with any right answer here is s: of its 3 samples with the "
            "right answer, 33% have every step right (the step oracle of chapter 2 checks "
            "them), and it produced a fully correct chain for 1 of the 2 problems; for l, 90% "
            "of its 10 right answers come with a correct chain."),
        "mid_rare": "0.00",  # with n = 4 no success rate is below 5%
        "mid_zero": "0.50",
        # pass@1 over all problems: 0.2, 0.4, 0.7 against greedy 0.25, 0.5, 0.75
        "n_below_greedy": "3",
        "large_pass1": "0.70",
        "b_range": "0.30 to 0.55",
    }


def test_facts_without_right_answers_on_the_hard_subset():
    tables = _tables()
    tables["hard_per_problem"] = tables["hard_per_problem"].assign(c=0, c_chain=0)
    facts = ch03.facts(tables, CONFIG)
    assert facts["hard_chain_text"] == ("No member gives the right answer to any of the 2 "
                                        "problems in any sample, so there is no chain to check "
                                        "here.")
    assert "n/a" not in facts["hard_chain_text"]


def test_hard_chain_text_skips_members_without_right_answers():
    """The smallest member has no right answer on the hard subset: the sentence quotes the
    next one, m (5 + 5 right answers, all with right chains, on both problems)."""
    hard_pp = _tables()["hard_per_problem"]
    small = hard_pp["model"] == "s"
    hard_pp = hard_pp.assign(c=hard_pp["c"].where(~small, 0),
                             c_chain=hard_pp["c_chain"].where(~small, 0))
    assert ch03.hard_chain_text(hard_pp) == (
        "The smallest member with any right answer here is m: of its 10 samples with the "
        "right answer, 100% have every step right (the step oracle of chapter 2 checks them), "
        "and it produced a fully correct chain for 2 of the 2 problems; for l, 90% of its 10 "
        "right answers come with a correct chain.")


def test_hard_chain_text_when_only_the_largest_answers():
    """Only l answers (6 + 4, right chains 6 + 3): it is quoted once, without a comparison."""
    hard_pp = _tables()["hard_per_problem"]
    large = hard_pp["model"] == "l"
    hard_pp = hard_pp.assign(c=hard_pp["c"].where(large, 0),
                             c_chain=hard_pp["c_chain"].where(large, 0))
    assert ch03.hard_chain_text(hard_pp) == (
        "The smallest member with any right answer here is l: of its 10 samples with the "
        "right answer, 90% have every step right (the step oracle of chapter 2 checks them), "
        "and it produced a fully correct chain for 2 of the 2 problems.")


def test_hard_chain_text_when_the_largest_has_no_right_answer():
    hard_pp = _tables()["hard_per_problem"]
    hard_pp = hard_pp[hard_pp["model"] != "m"]
    large = hard_pp["model"] == "l"
    hard_pp = hard_pp.assign(c=hard_pp["c"].where(~large, 0),
                             c_chain=hard_pp["c_chain"].where(~large, 0))
    assert ch03.hard_chain_text(hard_pp).endswith("for 1 of the 2 problems; l gives no right "
                                                  "answer here.")


def test_facts_read_each_members_own_sample_count():
    """A member that drew fewer samples (FLOPs-matched) is quoted at its own largest k."""
    tables = _tables()
    fewer = tables["per_problem"]["model"] == "l"
    tables["per_problem"] = tables["per_problem"].assign(n=tables["per_problem"]["n"].where(
        ~fewer, 1))
    facts = ch03.facts(tables, ch03.SamplingChapterConfig(n_samples=4, flops_matched_to="m"))
    assert facts["large_n"] == "1" and facts["large_medium_kmax"] == "0.60"  # k = 1
    assert facts["mid_n"] == "4" and facts["mid_medium_kmax"] == "0.50"
    assert "larger than m" in facts["matched_text"] and "l 1" in facts["matched_text"]


def test_facts_read_each_members_own_hard_count():
    tables = _tables()
    hard_pp = tables["hard_per_problem"]
    tables["hard_per_problem"] = hard_pp.assign(n=hard_pp["n"].where(hard_pp["model"] != "l",
                                                                      1))
    facts = ch03.facts(tables, ch03.SamplingChapterConfig(
        n_samples=4, hard_n_samples=8, flops_matched_to="m"))
    assert facts["hard_cov_large"] == "0.40"  # k = 1
    assert facts["hard_samples_text"] == ("sampled 8 times each by the members up to m and "
                                          "fewer times by the larger ones (l 1), as for the main "
                                          "problems")


def test_facts_on_empty_tables_read_n_a():
    empty = {name: frame.iloc[0:0] for name, frame in _tables().items()}
    facts = ch03.facts(empty, CONFIG)
    assert set(facts) == set(ch03.facts(_tables(), CONFIG))
    from_config = {"n_samples", "hard_n_problems", "hard_n_samples", "temperature"}
    counts = {"n_problems", "n_models", "n_below_greedy"}
    assert {facts[k] for k in set(facts) - from_config - counts - {"b_range"}} == {"n/a"}
    assert {facts[k] for k in counts} == {"0"}
    assert facts["b_range"].startswith("not defined")


def test_every_glue_role_of_the_notebook_is_a_fact():
    assert _glue_names("03_sampling") == set(ch03.facts(_tables(), CONFIG))


# -- FLOPs-matched sample counts ---------------------------------------------------------------

def test_matched_samples_by_hand():
    """128 samples of a member of N = 100 cost as much as 128·100/N of a larger one; the
    larger one draws the next power of two up (never more than 128, never fewer than 2)."""
    from ttc.config import ConfigError
    from ttc.upstream import matched_samples

    sizes = {"a": 50, "b": 100, "c": 226, "d": 400, "e": 100_000}
    config = ch03.SamplingChapterConfig(n_samples=128, flops_matched_to="b")
    # a: smaller, all 128; c: 128·100/226 = 56.6 -> 64; d: 32 exactly; e: 0.128 -> 2
    assert matched_samples(config, sizes) == {"a": 128, "b": 128, "c": 64, "d": 32, "e": 2}
    # another count (the hard subset's) is matched the same way
    assert matched_samples(config, sizes, 256) == {"a": 256, "b": 256, "c": 128, "d": 64,
                                                   "e": 2}
    every = ch03.SamplingChapterConfig(n_samples=128)
    assert set(matched_samples(every, sizes).values()) == {128}
    with pytest.raises(ConfigError, match="flops_matched_to.*'z'.*allowed: a, b"):
        matched_samples(ch03.SamplingChapterConfig(flops_matched_to="z"), sizes)
    with pytest.raises(ConfigError, match="flops_matched_to"):
        ch03.SamplingChapterConfig(model="some/model", flops_matched_to="b")


def test_matched_text_names_the_members_that_draw_fewer():
    config = ch03.SamplingChapterConfig(n_samples=128, flops_matched_to="f64x3")
    drawn = pd.Series({"f32x2": 128, "f64x3": 128, "f96x3": 64, "f128x4": 32})
    text = ch03.matched_text(drawn, config)
    assert text == ("the members larger than f64x3 draw fewer, the smallest power of two whose "
                    "inference FLOPs are at least those of f64x3's 128 samples (2·N per token, "
                    "counted at equal tokens per sample; f96x3 64, f128x4 32), so that every "
                    "member spans at least the same compute")
    assert ch03.matched_text(pd.Series({"f32x2": 128}), config) == "every member draws as many"
    # a count of 2 may be the rule's floor (matched_samples never draws fewer): it says so
    tiny = ch03.matched_text(pd.Series({"f64x3": 128, "huge": 2}), config)
    assert "smallest power of two (at least 2) whose" in tiny and "; huge 2)" in tiny


def test_run_comparison_pairs_two_runs_problem_by_problem():
    from ttc.chapters.ch03_sampling import run_comparison

    def per_k(values):  # one member, two problems, k = 1 and 2: (pass@k, majority) per row
        return pd.DataFrame({"model": "m", "problem": [0, 1, 0, 1], "k": [1, 1, 2, 2],
                             "pass_at_k": [v[0] for v in values],
                             "majority": [v[1] for v in values]})

    a = per_k([(0.5, 0.0), (0.0, 0.0), (1.0, 1.0), (0.0, 0.0)])
    b = per_k([(0.5, 0.0), (0.5, 0.0), (1.0, 1.0), (1.0, 0.0)])
    table = run_comparison(a, b, n_boot=200).set_index("measure")
    assert list(table.index) == ["pass@1", "coverage", "majority vote"]
    assert table.loc["pass@1", "k"] == 1 and table.loc["coverage", "k"] == 2
    assert table.loc["pass@1", "run"] == 0.25 and table.loc["pass@1", "other"] == 0.5
    assert table.loc["pass@1", "difference"] == pytest.approx(0.25)
    assert table.loc["coverage", "difference"] == pytest.approx(0.5)
    assert table.loc["majority vote", "difference"] == 0.0
    assert table.loc["coverage", "low"] <= 0.5 <= table.loc["coverage", "high"]
    assert run_comparison(a, b.assign(model="other")).empty  # no member in common
