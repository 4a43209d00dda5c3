"""Chapter 5's analysis: facts and the functions behind them, on hand-built tables."""

from __future__ import annotations

import math
import random
from types import SimpleNamespace

import pandas as pd
import pytest

from ttc.chapters import ch05_search
from ttc.chapters.ch05_search import (
    EASY,
    HARD,
    REJECTED,
    SearchChapterConfig,
    accuracy_at,
    annotate,
    baselines,
    best_variant,
    budget_lines,
    facts,
    first_rejected,
    lookahead_token_ratio,
    mark_rejected,
    oracle_variants,
    over_optimisation,
    paired_comparisons,
    verifier_charge,
    wrong_examples,
)
from ttc.claims import search_claims
from ttc.config import ConfigError
from ttc.report import direction
from ttc.tasks import Problem, TaskConfig, first_error, generate_problems

MEDIUM = "medium (3-5 ops)"
BEAM, DVTS = "beam, width 4", "DVTS, width 4"
BEAM_ORACLE = "beam, width 4, oracle verifier"
WEIGHTED, VOTE = "best-of-N, weighted", "majority vote"
CONFIG = SearchChapterConfig(budgets=(16, 4), methods=(BEAM, DVTS), oracle_methods=(BEAM,))
PRM_CONFIG = SearchChapterConfig(budgets=(16, 4), methods=(BEAM, DVTS), oracle_methods=(BEAM,),
                                 verifier="PRM")
SEARCH_CLAIMS = search_claims("likelihood", "the policy's likelihood")  # CONFIG's claims


# -- small helpers ----------------------------------------------------------------------------

def test_direction_uses_a_one_point_tolerance():
    assert direction(0.02, "rose", "fell", "level") == "rose"
    assert direction(-0.02, "rose", "fell", "level") == "fell"
    assert direction(0.009, "rose", "fell", "level") == "level"
    assert direction(float("nan"), "rose", "fell", "level") == "n/a"


def test_verifier_is_the_likelihood_or_the_prm():
    assert SearchChapterConfig().verifier == "likelihood"
    assert PRM_CONFIG.verifier == "PRM"
    with pytest.raises(ConfigError, match="parameter 'verifier' must be one of "
                                          "'likelihood', 'PRM'; got 'ORM'"):
        SearchChapterConfig(verifier="ORM")


def test_oracle_variants_name_the_oracle_rows():
    assert oracle_variants(CONFIG) == [BEAM_ORACLE]
    assert oracle_variants(SearchChapterConfig(oracle_methods=())) == []


def _summary():
    rows = []
    for variant in (BEAM, DVTS, BEAM_ORACLE, WEIGHTED, VOTE, "lookahead, 1 step"):
        for difficulty in (EASY, MEDIUM, HARD):
            rows.append({"variant": variant, "difficulty": difficulty, "budget": 4,
                         "accuracy": 0.0})
    return pd.DataFrame(rows)


def test_budget_lines_pick_searches_and_baselines():
    summary = _summary()
    learned = budget_lines(summary, CONFIG, "learned")
    assert set(learned["variant"]) == {BEAM, DVTS, WEIGHTED, VOTE}  # no lookahead: not run
    assert len(learned) == 12
    oracle = budget_lines(summary, CONFIG, "oracle")
    assert set(oracle["variant"]) == {BEAM_ORACLE, WEIGHTED, VOTE}
    with pytest.raises(ValueError, match="guide must be"):
        budget_lines(summary, CONFIG, "PRM")


def test_accuracy_at_overall_or_by_difficulty():
    overall = pd.DataFrame({"variant": [BEAM, BEAM], "budget": [4, 16],
                            "accuracy": [0.25, 0.5]})
    summary = pd.DataFrame({"variant": [BEAM, BEAM], "difficulty": [EASY, HARD],
                            "budget": [16, 16], "accuracy": [1.0, 0.0]})
    assert accuracy_at(overall, BEAM, 16) == pytest.approx(0.5)
    assert accuracy_at(summary, BEAM, 16, EASY) == pytest.approx(1.0)
    assert accuracy_at(summary, BEAM, 16, HARD) == pytest.approx(0.0)
    assert math.isnan(accuracy_at(summary, BEAM, 4, EASY))
    assert math.isnan(accuracy_at(overall, DVTS, 16))


def test_best_variant_highest_first_on_ties_none_when_unmeasured():
    overall = pd.DataFrame({"variant": [BEAM, DVTS, BEAM, DVTS], "budget": [16, 16, 4, 4],
                            "accuracy": [0.25, 0.5, 0.9, 0.1]})
    assert best_variant(overall, [BEAM, DVTS], 16) == DVTS
    assert best_variant(overall, [BEAM, DVTS], 4) == BEAM
    tie = overall.assign(accuracy=0.0)
    assert best_variant(tie, [DVTS, BEAM], 16) == DVTS  # the first listed
    assert best_variant(overall, ["lookahead, 1 step", BEAM], 16) == BEAM  # NaN ignored
    assert best_variant(overall, ["lookahead, 1 step"], 16) is None
    assert best_variant(overall, [], 16) is None


def _results():
    return pd.DataFrame({
        "variant": [BEAM, BEAM, BEAM, BEAM, BEAM, DVTS, BEAM],
        "budget": [16, 16, 16, 16, 4, 16, 16],
        "problem": [0, 1, 2, 3, 4, 5, 6],
        "n_ops": [5, 2, 2, 7, 1, 1, 1],
        "correct": [False, False, False, False, False, False, True],
        "chosen": ["a", "b", "c", "d", "e", "f", "g"],
    })


def test_over_optimisation_keeps_wrong_chosen_chains():
    results = pd.DataFrame({"variant": [BEAM] * 3, "budget": [4] * 3, "problem": [0, 1, 2],
                            "n_ops": [1, 2, 3], "correct": [True, False, False],
                            "chosen": ["a", "b", None]})
    wrong = over_optimisation(results)
    assert wrong["chosen"].tolist() == ["b"]  # right, and wrong without a chain, are dropped
    assert list(wrong.columns) == ["variant", "budget", "n_ops", "problem", "chosen"]


def test_wrong_examples_first_per_length_shortest_first():
    examples = wrong_examples(_results(), BEAM, 16)
    # budget 4, DVTS and the right chain are excluded; n_ops 2 keeps its first problem only
    assert examples["n_ops"].tolist() == [2, 5, 7]
    assert examples["chosen"].tolist() == ["b", "a", "d"]
    assert wrong_examples(_results(), BEAM, 16, limit=2)["chosen"].tolist() == ["b", "a"]
    assert wrong_examples(_results(), DVTS, 4).empty
    assert "marked" not in examples  # no checker's verdict in these results


def test_wrong_examples_mark_the_first_step_the_checker_rejects():
    """The table of wrong chains marks the first step the exact checker rejects (every
    later step continues a rejected prefix), and keeps the steps written: a one-operation
    problem whose chosen chain has two steps is the policy's mistake, shown as it is."""
    problems = [ONE_OP, THREE_OPS, THREE_OPS, ONE_OP]
    results = annotate(pd.DataFrame({
        "variant": [BEAM] * 4, "budget": [16] * 4, "problem": [0, 1, 2, 3],
        "n_ops": [1, 3, 3, 1], "correct": [False, False, False, True],
        "chosen": ["93-93=-2;-2-91=-93", "30-78=-48;-48*4=-184;-184+66=-118",
                   "30-78=-48;-48*4=-192", "93-91=2"],
        "policy_tokens": [1] * 4, "verifier_tokens": [1] * 4}), problems, 10, 0)
    examples = wrong_examples(results, BEAM, 16)
    assert examples["n_ops"].tolist() == [1, 3]  # the first wrong chain per length
    assert examples["n_steps"].tolist() == [2, 3]
    assert examples["rejected_step"].tolist() == [1, 2]
    assert examples["marked"].tolist() == [f"93-93=-2{REJECTED}; -2-91=-93",
                                           f"30-78=-48; -48*4=-184{REJECTED}; -184+66=-118"]
    assert examples["rejected_why"].tolist() == ["applies -93, not -91; 93-93 is 0, not -2",
                                                 "-48*4 is -192, not -184"]
    assert mark_rejected("30-78=-48;-48*4=-192", 3) == "30-78=-48; -48*4=-192"  # missing
    assert mark_rejected("93-91=2", 0) == "93-91=2"
    assert list(over_optimisation(results).columns) == [
        "variant", "budget", "n_ops", "problem", "chosen", "n_steps", "rejected_step",
        "rejected_why"]


def _token_rows(verifier, method, width, tokens, budget=16):
    return [{"verifier": verifier, "method": method, "width": width, "budget": budget,
             "policy_tokens": t} for t in tokens]


def test_lookahead_token_ratio_learned_verifier_first_then_oracle():
    rows = (_token_rows("PRM", "lookahead", "4", [30, 50])  # mean 40
            + _token_rows("PRM", "beam", "4", [20, 20])  # mean 20
            + _token_rows("PRM", "beam", "sqrt", [1000])  # other width: ignored
            + _token_rows("PRM", "beam", "4", [1000], budget=4)  # other budget: ignored
            + _token_rows("oracle", "lookahead", "4", [90])
            + _token_rows("oracle", "beam", "4", [30]))
    results = pd.DataFrame(rows)
    assert lookahead_token_ratio(results, 16, "PRM") == pytest.approx(2.0)
    assert lookahead_token_ratio(results, 16, "likelihood") == pytest.approx(3.0)  # oracle's
    no_prm_lookahead = results[~((results["verifier"] == "PRM")
                                 & (results["method"] == "lookahead"))]
    assert lookahead_token_ratio(no_prm_lookahead, 16, "PRM") == pytest.approx(3.0)
    assert math.isnan(lookahead_token_ratio(results[results["method"] == "beam"], 16, "PRM"))


# -- facts ------------------------------------------------------------------------------------

def _tables():
    overall = pd.DataFrame([
        {"variant": BEAM, "budget": 16, "accuracy": 0.25},
        {"variant": DVTS, "budget": 16, "accuracy": 0.375},
        {"variant": BEAM_ORACLE, "budget": 16, "accuracy": 0.75},
        {"variant": WEIGHTED, "budget": 16, "accuracy": 0.25},
        {"variant": VOTE, "budget": 16, "accuracy": 0.125},
        {"variant": DVTS, "budget": 4, "accuracy": 0.9},  # the smaller budget is not quoted
    ])
    summary = pd.DataFrame([
        {"variant": BEAM_ORACLE, "difficulty": HARD, "budget": 4, "accuracy": 0.0},
        {"variant": BEAM_ORACLE, "difficulty": HARD, "budget": 16, "accuracy": 2 / 3},
        {"variant": WEIGHTED, "difficulty": HARD, "budget": 16, "accuracy": 1 / 3},
        {"variant": BEAM, "difficulty": EASY, "budget": 4, "accuracy": 1.0},
        {"variant": BEAM, "difficulty": EASY, "budget": 16, "accuracy": 0.5},
        {"variant": WEIGHTED, "difficulty": EASY, "budget": 16, "accuracy": 0.75},
    ])
    results = pd.DataFrame(
        [{**r, "problem": p, "dropped": d, "variant": v, "difficulty": EASY, "correct": True}
         for r, p, d, v in zip(
            _token_rows("likelihood", "lookahead", "4", [45, 45])
            + _token_rows("likelihood", "beam", "4", [30, 30]), [0, 1, 0, 2], [1, 0, 2, 0],
            ["lookahead, 1 step"] * 2 + [BEAM] * 2, strict=True)])
    baselines = pd.DataFrame({"variant": [WEIGHTED] * 3, "budget": [16] * 3,
                              "problem": [0, 1, 2], "difficulty": [EASY] * 3,
                              "correct": [0.5] * 3})
    setup = pd.DataFrame({"policy": ["f32x2"], "verifier_base": ["f32x2"],
                          "verifier": ["likelihood"], "likelihood_within": [0.8612],
                          "prm_within": [0.5049]})
    return {"results": results, "baselines": baselines, "summary": summary,
            "overall": overall, "setup": setup}


def test_facts_quote_the_tables():
    out = facts(_tables(), CONFIG)
    assert all(isinstance(v, str) for v in out.values())
    assert out["policy"] == "f32x2"
    assert out["n_problems"] == "3"  # problems 0, 1 and 2
    assert out["budgets"] == "4, 16"  # sorted
    assert out["b_min"] == "4" and out["b_max"] == "16"
    assert out["verifier_name"] == "the policy's likelihood"
    assert out["likelihood_within"] == "0.86" and out["prm_within"] == "0.50"
    assert out["best_search"] == DVTS and out["best_search_acc"] == "0.38"
    assert out["weighted_acc"] == "0.25" and out["vote_acc"] == "0.12"
    assert out["best_oracle"] == BEAM_ORACLE and out["best_oracle_acc"] == "0.75"
    assert out["oracle_first"] == BEAM_ORACLE
    assert out["oracle_hard_lo"] == "0.00" and out["oracle_hard_hi"] == "0.67"
    assert out["bon_hard_hi"] == "0.33"
    assert out["lookahead_ratio"] == "1.5"  # 45 / 30
    assert out["dropped"] == "3" and out["n_runs"] == "4"
    assert out["easy_beam_lo"] == "1.00" and out["easy_beam_hi"] == "0.50"
    assert out["easy_bon_hi"] == "0.75"
    # beam search pairs with best-of-N on problems 0 and 2: +0.5 on both, but two problems
    # are no evidence (sign-flip p = 2 / 4 = 0.5); no other comparison has a pair
    assert out["claim_search_above_bon"] == SEARCH_CLAIMS[0].fails_text
    assert {k for k in out if k.startswith("claim_")} == (
        {c.key for c in SEARCH_CLAIMS} | {f"{c.key}_cap" for c in SEARCH_CLAIMS})


def test_facts_without_oracle_searches_or_measurements():
    config = SearchChapterConfig(budgets=(4, 16), methods=(BEAM,), oracle_methods=())
    tables = {
        "results": pd.DataFrame({"verifier": [], "method": [], "width": [], "budget": [],
                                 "policy_tokens": [], "problem": [], "dropped": [],
                                 "variant": [], "difficulty": [], "correct": []}),
        "baselines": pd.DataFrame({"variant": [], "budget": [], "problem": [],
                                   "difficulty": [], "correct": []}),
        "summary": pd.DataFrame({"variant": [], "difficulty": [], "budget": [],
                                 "accuracy": []}),
        "overall": pd.DataFrame({"variant": [], "budget": [], "accuracy": []}),
        "setup": pd.DataFrame({"policy": [], "verifier_base": []}),
    }
    out = facts(tables, config)
    assert out["policy"] == "n/a"
    assert out["likelihood_within"] == "n/a" and out["prm_within"] == "n/a"
    assert out["n_problems"] == "0" and out["n_runs"] == "0" and out["dropped"] == "0"
    assert out["best_search"] == "n/a"
    assert out["best_oracle"] == "none" and out["oracle_first"] == "none"
    for key in ("best_search_acc", "weighted_acc", "vote_acc",
                "best_oracle_acc", "oracle_hard_lo", "oracle_hard_hi", "bon_hard_hi",
                "lookahead_ratio", "easy_beam_lo", "easy_beam_hi", "easy_bon_hi"):
        assert out[key] == "n/a", key
    for claim in SEARCH_CLAIMS:  # nothing measured: no claim holds
        assert out[claim.key] == claim.fails_text, claim.key


def test_facts_level_comparisons():
    tables = _tables()
    overall = tables["overall"]
    overall.loc[overall["variant"] == DVTS, "accuracy"] = 0.255  # within 0.01 of 0.25
    summary = tables["summary"]
    summary.loc[(summary["variant"] == BEAM) & (summary["budget"] == 16), "accuracy"] = 1.0
    out = facts(tables, CONFIG)
    assert out["best_search"] == DVTS and out["best_search_acc"] == "0.26"


def test_facts_quote_beam_search_by_name_even_when_not_listed_first():
    config = SearchChapterConfig(budgets=(4, 16), methods=(DVTS, BEAM), oracle_methods=(BEAM,))
    out = facts(_tables(), config)
    assert out["easy_beam_lo"] == "1.00" and out["easy_beam_hi"] == "0.50"
    without_beam = SearchChapterConfig(budgets=(4, 16), methods=(DVTS,), oracle_methods=())
    tables = _tables()
    tables["summary"] = tables["summary"][tables["summary"]["variant"] != BEAM]
    out = facts(tables, without_beam)
    assert out["easy_beam_lo"] == "n/a" and out["easy_beam_hi"] == "n/a"
    assert out["best_search"] == DVTS


def _paired_tables():
    """24 problems, 12 easy and 12 hard: at budget 16 beam search is right on all,
    DVTS on none, the exact-checker beam search on all; weighted best-of-N is right half
    the time on each; at budget 4 beam search is right on every easy problem."""
    problems = range(24)
    difficulty = [EASY] * 12 + [HARD] * 12
    results = pd.concat([
        pd.DataFrame({"variant": variant, "budget": budget, "problem": list(problems),
                      "difficulty": difficulty, "correct": correct})
        for variant, budget, correct in ((BEAM, 16, True), (DVTS, 16, False),
                                         (BEAM_ORACLE, 16, True), (BEAM, 4, True))],
        ignore_index=True)
    baselines = pd.DataFrame({"variant": WEIGHTED, "budget": 16, "problem": list(problems),
                              "difficulty": difficulty, "correct": 0.5})
    return {"results": results, "baselines": baselines}


def test_paired_comparisons_by_hand():
    table = paired_comparisons(_paired_tables(), CONFIG).set_index(["comparison", "variant",
                                                                    "difficulty"])
    learned, oracle = "likelihood search - best-of-N", "exact-checker search - best-of-N"
    budget = "largest - smallest budget"
    assert list(table.index) == [(learned, BEAM, "all"), (learned, DVTS, "all"),
                                 (oracle, BEAM_ORACLE, "all"), (oracle, BEAM_ORACLE, HARD),
                                 (budget, BEAM, EASY)]
    assert table["mean"].tolist() == [0.5, -0.5, 0.5, 0.5, 0.0]
    assert table["problems"].tolist() == [24, 24, 24, 12, 12]
    assert (table["budget"] == 16).all() and (table["reference"].iloc[:4] == WEIGHTED).all()
    # constant differences: sign-flip p = 1 / 10001 over 24 problems, 2 / 2^12 over the 12
    # hard ones (both rejected by Holm over 5), or 1 (a zero difference)
    assert table["verdict"].tolist() == ["higher", "lower", "higher", "higher",
                                         "no detectable difference"]
    # guided by the PRM, the same rows name it
    prm = paired_comparisons(_paired_tables(), PRM_CONFIG)
    assert prm["comparison"].tolist()[:2] == ["PRM search - best-of-N"] * 2
    assert prm.drop(columns="comparison").equals(table.reset_index()[prm.columns.drop(
        "comparison")])


def test_facts_state_the_search_claims_from_the_paired_comparisons():
    tables = _paired_tables()
    tables |= {"summary": pd.DataFrame(columns=["variant", "difficulty", "budget", "accuracy"]),
               "overall": pd.DataFrame(columns=["variant", "budget", "accuracy"]),
               "setup": pd.DataFrame({"policy": ["f"], "verifier_base": ["f"]})}
    tables["results"] = tables["results"].assign(verifier="likelihood", method="beam",
                                                 width="4", policy_tokens=1, dropped=0)
    out = facts(tables, CONFIG)
    texts = {c.key: c for c in SEARCH_CLAIMS}
    for key in ("claim_search_above_bon", "claim_search_below_bon", "claim_oracle_above_bon",
                "claim_oracle_above_bon_hard"):
        assert out[key] == texts[key].holds_text, key
    assert out["claim_easy_beam_falls"] == texts["claim_easy_beam_falls"].fails_text
    assert "the policy's likelihood" in out["claim_search_above_bon"]
    # the same tables under the PRM name the PRM, with the same verdicts
    prm_out = facts(tables, PRM_CONFIG)
    assert prm_out["verifier_name"] == "the learned PRM"
    assert prm_out["claim_search_above_bon"] == (
        "at least one search guided by the learned PRM is detectably above weighted best-of-N")
    # the easy problems at budget 4 all wrong: beam search now rises, still not a fall
    results = tables["results"]
    results.loc[(results["budget"] == 4), "correct"] = False
    assert facts(tables, CONFIG)["claim_easy_beam_falls"] == \
        texts["claim_easy_beam_falls"].fails_text
    results.loc[(results["budget"] == 4), "correct"] = True
    results.loc[(results["budget"] == 16) & (results["variant"] == BEAM)
                & (results["difficulty"] == EASY), "correct"] = False
    assert facts(tables, CONFIG)["claim_easy_beam_falls"] == \
        texts["claim_easy_beam_falls"].holds_text


def test_any_registered_search_method_can_be_named():
    """A method added to ttc.search.METHODS runs in chapter 5 under its own name (its
    default parameters), without a label in VARIANTS."""
    from ttc.chapters.ch05_search import SearchChapterConfig, variant
    from ttc.config import ConfigError
    from ttc.search import METHODS

    assert variant("beam, width 4") == ("beam", {"width": 4})
    for name in METHODS:
        config = SearchChapterConfig(methods=(name,), oracle_methods=(name,))
        assert variant(config.methods[0]) == (name, {})
    with pytest.raises(ConfigError, match="'methods' must be a non-empty list of"):
        SearchChapterConfig(methods=("nope",))


def _baseline_inputs():
    """One problem (answer 3) with two samples of 10 tokens: "3" that the likelihood prefers
    and "5" that the PRM prefers; the policy has N = 100, the PRM's base member N = 1,000."""
    scored = pd.DataFrame({"problem": [0, 0], "answer": ["3", "5"], "n_tokens": [10, 10],
                           "likelihood": [0.9, 0.1], "prm_last": [0.1, 0.9]})
    return {"04_verifiers": {"scored": scored}}


@pytest.fixture
def one_problem(monkeypatch):
    monkeypatch.setattr(ch05_search, "main_problems",
                        lambda inputs: [SimpleNamespace(answer=3, n_ops=1)])
    monkeypatch.setattr(ch05_search, "search_problems", lambda inputs, n: (None, [0]))
    monkeypatch.setattr(ch05_search, "member_sizes",
                        lambda inputs: {"policy": 100, "base": 1000})
    monkeypatch.setattr(ch05_search, "policy", lambda inputs: "policy")
    monkeypatch.setattr(ch05_search, "verifier_base", lambda inputs: "base")
    return _baseline_inputs()


def test_weighted_best_of_n_uses_the_searches_verifier(one_problem):
    """Weighted best-of-N weighs by the column of the verifier that guides the searches and
    charges it 2·N per token of that verifier's model (both samples read: 20 tokens): the
    PRM's base member's; for the likelihood nothing where the sampler kept it (a
    ``logprob`` column), the policy's where it had to be read again."""
    config = SearchChapterConfig(budgets=(2,), methods=(BEAM,))
    prm = SearchChapterConfig(budgets=(2,), methods=(BEAM,), verifier="PRM")
    scored = one_problem["04_verifiers"]["scored"]
    kept = {"04_verifiers": {"scored": scored.assign(logprob=[-0.1, -2.3])}}
    for cfg, inputs, right, verifier_n in ((config, kept, 1.0, 0), (config, one_problem, 1.0, 100),
                                           (prm, kept, 0.0, 1000),
                                           (prm, one_problem, 0.0, 1000)):
        table = baselines(cfg, inputs).set_index("variant")
        assert table.loc[WEIGHTED, "correct"] == right, cfg.verifier
        assert table.loc[WEIGHTED, "flops"] == pytest.approx(2 * 100 * 20
                                                             + 2 * verifier_n * 20)
        assert table.loc[VOTE, "flops"] == pytest.approx(2 * 100 * 20)  # no verifier


def test_verifier_charge_is_nothing_for_the_kept_likelihood(one_problem):
    config = SearchChapterConfig(budgets=(2,), methods=(BEAM,))
    prm = SearchChapterConfig(budgets=(2,), methods=(BEAM,), verifier="PRM")
    assert verifier_charge(config, one_problem) == 0  # the search's steps keep it
    assert verifier_charge(config, one_problem, kept=False) == 100  # a re-read: the policy
    assert verifier_charge(prm, one_problem) == verifier_charge(prm, one_problem, False) == 1000


def test_annotate_charges_the_tokens_by_hand():
    """FLOPs are charged afresh from the tokens (a stored table's columns are replaced):
    2·N per policy token, 2·N_verifier per verifier token, nothing at N = 0."""
    problem = Problem(93, (("-", 91),))
    stored = pd.DataFrame({"problem": [0, 0], "chosen": ["93-91=2", None],
                           "policy_tokens": [8, 30], "verifier_tokens": [8, 30],
                           "policy_flops": [1.0, 1.0], "verifier_flops": [5.0, 5.0],
                           "flops": [6.0, 6.0]})
    free = annotate(stored, [problem], 100, 0)
    assert free["policy_flops"].tolist() == [1600.0, 6000.0]
    assert free["verifier_flops"].tolist() == [0.0, 0.0]
    assert free["flops"].tolist() == [1600.0, 6000.0]
    prm = annotate(stored, [problem], 100, 1000)
    assert prm["verifier_flops"].tolist() == [16000.0, 60000.0]
    assert prm["flops"].tolist() == [17600.0, 66000.0]
    assert stored["flops"].tolist() == [6.0, 6.0]  # the input is left alone
    # the checker's verdict: a right chain, and no chain at all
    assert free["n_steps"].tolist() == [1, 0]
    assert free["rejected_step"].tolist() == [0, 0]
    assert free["rejected_why"].tolist() == ["", ""]


# -- the exact checker's verdict on the chosen chains ---------------------------------------

#: 93-91 (one operation) and 30-78*4+66 (three: -48, -192, -126)
ONE_OP, THREE_OPS = Problem(93, (("-", 91),)), Problem(30, (("-", 78), ("*", 4), ("+", 66)))


@pytest.mark.parametrize("problem,chain,step,why", [
    (ONE_OP, "93-91=2", 0, ""),
    # the chain of the reader's report: the policy wrote a wrong step, then one more
    (ONE_OP, "93-93=-2;-2-91=-93", 1, "applies -93, not -91; 93-93 is 0, not -2"),
    (ONE_OP, "93-91=2;2-91=-89", 2, "a step the problem does not have (1 operation)"),
    (ONE_OP, "93-91=3", 1, "93-91 is 2, not 3"),
    (ONE_OP, "93-91", 1, "not a step"),
    (THREE_OPS, "30-78=-48;-48*4=-184;-184+66=-118", 2, "-48*4 is -192, not -184"),
    (THREE_OPS, "30-78=-48;-49*4=-196;-196+66=-130", 2, "starts from -49, not -48"),
    (THREE_OPS, "30-78=-48;-48*4=-192", 3, "missing: stops after 2 of 3 steps"),
    (THREE_OPS, "30-78=-48;-48*4=-192;-192+66=-126;-126*1=-126", 4,
     "a step the problem does not have (3 operations)"),
])
def test_first_rejected_by_hand(problem, chain, step, why):
    assert first_rejected(problem, chain) == (step, why)


def test_first_rejected_agrees_with_the_checker():
    """The step is the checker's first wrong one (``first_error``, 0-based), on chains with
    every kind of mistake: the reasons only say why."""
    rng = random.Random(0)
    problems = generate_problems(TaskConfig(min_ops=1, max_ops=6), "test", 4, 0)
    for problem in problems:
        for _ in range(30):
            steps = problem.step_texts
            steps = steps[: rng.randint(0, len(steps))] + (
                [] if rng.random() < 0.5 else [rng.choice(["1+1=2", "5*5=24", "x", "7-9=-2"])])
            steps = [s if rng.random() < 0.8 else s.replace(rng.choice("0123456789"),
                                                          rng.choice("0123456789"))
                     for s in steps]
            chain = ";".join(steps)
            error = first_error(problem, chain)
            step, why = first_rejected(problem, chain)
            assert step == (0 if error is None else error + 1), chain
            assert (why == "") == (step == 0), chain
