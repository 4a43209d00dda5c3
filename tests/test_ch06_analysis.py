"""Chapter 6's analysis on hand-built tables: scoring splits, the comparison with chapter 5,
the figures' derived tables and the facts the prose quotes."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from tests.test_claims import with_capitals
from ttc.chapters import ch06_revisions as ch6
from ttc.claims import REVISION_CLAIMS
from ttc.tasks import Problem

EASY, MEDIUM, HARD = "easy (1-2 ops)", "medium (3-5 ops)", "hard (6-8 ops)"


# -- score_splits -----------------------------------------------------------------------------

def _chain_table():
    """Two problems, budget 2: chain 0 has two attempts, chain 1 one (chain_lengths(2))."""
    rows = [
        # problem 0 (answer 5, 1 op): right, then revised into a wrong 7; chain 1 says 7
        dict(problem=0, chain=0, attempt=0, answer="5", correct=True, n_tokens=10,
             context_tokens=3, score=0.2),
        dict(problem=0, chain=0, attempt=1, answer="7", correct=False, n_tokens=20,
             context_tokens=30, score=0.9),
        dict(problem=0, chain=1, attempt=0, answer="7", correct=False, n_tokens=5,
             context_tokens=4, score=0.3),
        # problem 1 (answer 8, 7 ops): wrong, then right; chain 1 has no answer at all
        dict(problem=1, chain=0, attempt=0, answer="3", correct=False, n_tokens=1,
             context_tokens=0, score=0.5),
        dict(problem=1, chain=0, attempt=1, answer="8", correct=True, n_tokens=1,
             context_tokens=0, score=0.5),
        dict(problem=1, chain=1, attempt=0, answer=None, correct=False, n_tokens=1,
             context_tokens=0, score=0.5),
    ]
    return pd.DataFrame(rows)


def test_score_splits_by_hand():
    problems = [Problem(2, (("+", 3),)), Problem(1, (("+", 1),) * 7)]
    assert [str(p.answer) for p in problems] == ["5", "8"]
    config = ch6.RevisionsChapterConfig(budgets=(2,))
    frame = ch6.score_splits(config, _chain_table(), problems, n_policy=100, n_verifier=10)
    assert len(frame) == 2 * 2 * 4  # lengths 1 and 2, two problems, four rules
    got = frame.set_index(["problem", "length", "rule"])

    # problem 0, all parallel (chains 0 and 1, first attempts): "5" and "7"
    p0 = got.loc[0]
    assert p0.loc[(1, "majority"), "correct"] == 1.0  # a 1-1 tie goes to the first seen
    assert p0.loc[(1, "last majority"), "correct"] == 1.0  # every chain ends at attempt 0
    assert p0.loc[(1, "verifier"), "correct"] == 0.0  # 0.3 for "7" beats 0.2 for "5"
    assert p0.loc[(1, "oracle"), "correct"] == 1.0
    assert p0.loc[(1, "majority"), "policy_tokens"] == 15
    assert p0.loc[(1, "majority"), "context_tokens"] == 7
    assert p0.loc[(1, "majority"), "flops"] == 2 * 100 * 15
    assert p0.loc[(1, "verifier"), "flops"] == 2 * 100 * 15 + 2 * 10 * 15
    assert p0.loc[(1, "majority"), "split"] == "2 × 1"
    # problem 0, one chain of two: "5" then "7"
    assert p0.loc[(2, "majority"), "correct"] == 1.0
    assert p0.loc[(2, "last majority"), "correct"] == 0.0  # the last attempt is the wrong 7
    assert p0.loc[(2, "verifier"), "correct"] == 0.0
    assert p0.loc[(2, "oracle"), "correct"] == 1.0
    assert p0.loc[(2, "majority"), "policy_tokens"] == 30
    assert p0.loc[(2, "verifier"), "flops"] == 2 * 100 * 30 + 2 * 10 * 30
    assert p0.loc[(2, "majority"), "split"] == "1 × 2"
    assert set(p0["chains"].loc[2]) == {1}

    # problem 1: parallel sees "3" and no answer; the chain reaches the right 8
    p1 = got.loc[1]
    assert p1.loc[(1, "majority"), "correct"] == 0.0
    assert p1.loc[(1, "oracle"), "correct"] == 0.0
    assert p1.loc[(2, "last majority"), "correct"] == 1.0
    assert p1.loc[(2, "oracle"), "correct"] == 1.0
    assert set(frame[frame["problem"] == 0]["difficulty"]) == {EASY}
    assert set(frame[frame["problem"] == 1]["difficulty"]) == {HARD}


# -- comparison -------------------------------------------------------------------------------

def _splits():
    rows = []
    per_length = {EASY: {1: [1, 0], 2: [1, 1], 4: [0, 0]},
                  HARD: {1: [0, 0], 2: [0, 0], 4: [1, 0]}}
    for budget in (4, 16):
        for difficulty, lengths in per_length.items():
            for length, correct in lengths.items():
                for problem, right in enumerate(correct):
                    for rule in ("majority", "oracle"):
                        rows.append({"budget": budget, "length": length, "rule": rule,
                                     "difficulty": difficulty, "problem": problem,
                                     "correct": float(right if rule == "majority" else 1)})
    return pd.DataFrame(rows)


def test_comparison_by_hand():
    config = ch6.RevisionsChapterConfig(budgets=(4, 16))
    search = pd.DataFrame({"budget": [4, 4, 8], "difficulty": [EASY, HARD, EASY],
                           "variant": ["beam search", "beam search", "beam search"],
                           "accuracy": [0.75, 0.25, 0.9]})
    table = ch6.comparison(config, _splits(), search)
    # only budget 4 is shared with chapter 5 (16 is not in its summary, 8 not in ours)
    assert set(table["budget"]) == {4}
    got = table.set_index(["difficulty", "method"])["accuracy"]
    assert got[(EASY, "revisions, best split (majority)")] == 1.0  # L = 2
    assert got[(EASY, "revisions, all parallel (majority)")] == 0.5
    assert got[(EASY, "beam search")] == 0.75
    assert got[(HARD, "revisions, best split (majority)")] == 0.5  # L = 4
    assert got[(HARD, "revisions, all parallel (majority)")] == 0.0
    assert got[(HARD, "beam search")] == 0.25
    assert len(table) == 6


def test_comparison_without_shared_budgets_is_empty_with_columns():
    config = ch6.RevisionsChapterConfig(budgets=(4, 16))
    search = pd.DataFrame({"budget": [8], "difficulty": [EASY], "variant": ["beam search"],
                           "accuracy": [0.9]})
    table = ch6.comparison(config, _splits(), search)
    assert table.empty
    assert list(table.columns) == ["budget", "difficulty", "method", "accuracy"]


def test_comparison_wide():
    table = pd.DataFrame({"budget": [4, 4, 4, 4], "difficulty": [EASY, HARD, EASY, HARD],
                          "method": ["a", "a", "b", "b"], "accuracy": [0.1, 0.2, 0.3, 0.4]})
    wide = ch6.comparison_wide(table)
    assert list(wide.columns) == ["budget", "method", EASY, HARD]
    assert wide.values.tolist() == [[4, "a", 0.1, 0.2], [4, "b", 0.3, 0.4]]


# -- the figures' tables ----------------------------------------------------------------------

def test_attempts_by_position():
    chains = pd.DataFrame({"attempt": [0, 1, 2, 15, 16], "correct": [1, 0, 1, 1, 0]})
    table = ch6.attempts_by_position(chains)
    assert table["position"].tolist() == [1, 2, 3, 16]
    assert ch6.attempts_by_position(chains, max_position=2)["position"].tolist() == [1, 2]


def test_majority_curves_and_rule_accuracy():
    summary = pd.DataFrame({
        "budget": [4, 4, 16, 16, 16],
        "length": [1, 1, 1, 1, 16],
        "rule": ["majority", "oracle", "majority", "majority", "majority"],
        "difficulty": [EASY, EASY, EASY, HARD, EASY],
        "accuracy": [0.5, 0.9, 0.6, 0.2, 0.7]})
    curves = ch6.majority_curves(summary)
    assert curves["budget"].tolist() == ["B = 4", "B = 16", "B = 16", "B = 16"]
    rules = ch6.rule_accuracy(summary, 16)
    assert rules[("majority", 1)] == pytest.approx(0.4)  # mean of the two groups
    assert rules[("majority", 16)] == pytest.approx(0.7)
    assert ("oracle", 1) not in rules.index


def test_first_and_later():
    chains = pd.DataFrame({"attempt": [0, 1, 2, 8, 0], "correct": [True, False, True, True,
                                                                    False]})
    first, later = ch6.first_and_later(chains)
    assert first == 0.5
    assert later == 0.5  # attempts 1 and 2; attempt 8 is the ninth
    first, later = ch6.first_and_later(chains.iloc[:0])
    assert first != first and later != later


# -- facts ------------------------------------------------------------------------------------

def _tables():
    chains = pd.DataFrame({
        "problem": [0, 0, 0, 0, 1, 1, 1],
        "chain": [0, 0, 0, 0, 0, 0, 1],
        "attempt": [0, 1, 2, 3, 0, 1, 0],
        "correct": [True, False, True, True, False, False, True],
    })
    summary_rows = []
    values = {  # (rule, length) -> (easy, hard) accuracy at the largest budget, 16
        ("majority", 1): (0.7, 0.3), ("last majority", 1): (0.7, 0.3),
        ("verifier", 1): (0.8, 0.4), ("oracle", 1): (1.0, 0.6),
        ("majority", 16): (0.8, 0.2), ("last majority", 16): (0.6, 0.2),
        ("verifier", 16): (0.8, 0.3), ("oracle", 16): (0.9, 0.5),
    }
    for (rule, length), accs in values.items():
        for difficulty, acc in zip((EASY, HARD), accs, strict=True):
            summary_rows.append({"budget": 16, "length": length, "chains": 16 // length,
                                 "rule": rule, "difficulty": difficulty, "accuracy": acc})
    summary_rows.append({"budget": 4, "length": 1, "chains": 4, "rule": "oracle",
                         "difficulty": EASY, "accuracy": 0.0})  # another budget: ignored
    best_split = pd.DataFrame({"budget": [4, 16, 16], "difficulty": [EASY, EASY, MEDIUM],
                               "length": [2, 4, 16], "accuracy": [0.9, 0.8, 0.55]})
    revised = pd.DataFrame({"difficulty": [EASY, "all"], "right_then_wrong": [0, 1],
                            "right_with_next": [1, 4], "share": [0.0, 0.25]})
    training = pd.DataFrame({"n_examples": [12], "n_train": [10], "val_loss_before": [1.0],
                             "val_loss_after": [0.5], "train_seconds": [3.0],
                             "wrong_attempts_mean": [2.34]})
    splits = pd.DataFrame(columns=["budget", "length", "rule", "problem", "correct"])
    return {"training": training, "chains": chains, "summary": pd.DataFrame(summary_rows),
            "splits": splits, "best_split": best_split, "revised": revised,
            "comparison": pd.DataFrame(columns=["budget", "difficulty", "method", "accuracy"]),
            "setup": pd.DataFrame([{"policy": "m-1M", "n_policy": 1,
                                    "verifier": "the policy's likelihood",
                                    "verifier_model": "m-1M", "n_verifier": 1}])}


def test_facts_by_hand():
    config = ch6.RevisionsChapterConfig(budgets=(4, 16), history=3)
    assert ch6.facts(_tables(), config) == {
        "policy": "m-1M", "verifier_name": "the policy's likelihood",
        "n_examples": "12", "wrong_mean": "2.3", "history": "3",
        "n_problems": "2", "b_max": "16", "budgets": "4, 16",
        # first attempts: 2 of 3 right; attempts two to eight: 2 of 4
        "first_acc": "0.67", "later_acc": "0.50",
        "revised_share": "0.25", "revised_n": "4",
        "best_len_easy": "4", "best_acc_easy": "0.80",
        "best_len_medium": "16", "best_acc_medium": "0.55",
        "best_len_hard": "n/a", "best_acc_hard": "n/a",
        # majority vote at 16 on easy problems: lengths 1 (0.7) and 16 (0.8), one at the best;
        # no medium rows in the summary; hard has no best split
        "best_tied_easy": "1", "n_lengths_easy": "2",
        "best_tied_medium": "0", "n_lengths_medium": "0",
        "best_tied_hard": "n/a", "n_lengths_hard": "n/a",
        # easy: its best length alone at the top; medium has no lengths scored: left out
        "best_split_text": "4 attempts per chain is alone at the top on easy problems (0.80)",
        # oracle: (1.0 + 0.6) / 2 parallel against (0.9 + 0.5) / 2 sequential
        "oracle_par": "0.80", "oracle_seq": "0.70",
        # one chain: last attempts (0.6 + 0.2) / 2 against every attempt (0.8 + 0.2) / 2
        "last_seq": "0.40", "vote_seq": "0.50",
        # all-parallel: the verifier (0.8 + 0.4) / 2 against majority vote (0.7 + 0.3) / 2
        "verifier_par": "0.60", "vote_par": "0.50",
    } | with_capitals({claim.key: claim.fails_text for claim in REVISION_CLAIMS})
    assert ch6.facts(_tables(), replace(config, verifier="ORM"))["verifier_name"] == (
        "chapter 4's ORM")
    # later minus first attempts is -1/3 on problem 0 and -1/2 on problem 1: both below, but
    # two problems are no evidence (sign-flip p = 0.5), so every claim reads its fails text


def _tie_tables():
    """Majority vote at budget 8 (chain lengths 1, 2, 4, 8): easy 0.5, 0.5, 0.25, 0.5 (three
    lengths tie at the top), medium 0.25, 0.5, 0.25, 0.25 (length 2 alone at the top), hard 0
    everywhere (all four tie); the best split is the shortest at the top."""
    accuracy = {EASY: [0.5, 0.5, 0.25, 0.5], MEDIUM: [0.25, 0.5, 0.25, 0.25],
                HARD: [0.0, 0.0, 0.0, 0.0]}
    rows = [{"budget": 8, "length": length, "chains": 8 // length, "rule": "majority",
             "difficulty": difficulty, "accuracy": acc}
            for difficulty, accs in accuracy.items()
            for length, acc in zip((1, 2, 4, 8), accs, strict=True)]
    # ignored: another rule at the top on hard problems, another budget on medium ones
    rows += [{"budget": 8, "length": 4, "chains": 2, "rule": "oracle", "difficulty": HARD,
              "accuracy": 1.0},
             {"budget": 4, "length": 4, "chains": 1, "rule": "majority",
              "difficulty": MEDIUM, "accuracy": 0.5}]
    best_split = pd.DataFrame({"budget": [8, 8, 8, 4], "difficulty": [EASY, MEDIUM, HARD, MEDIUM],
                               "length": [1, 2, 1, 4], "accuracy": [0.5, 0.5, 0.0, 0.5]})
    return pd.DataFrame(rows), best_split


def test_best_lengths_count_the_lengths_tied_at_the_top():
    summary, best_split = _tie_tables()
    best = ch6.best_lengths(summary, best_split, 8)
    assert best.index.tolist() == [EASY, MEDIUM, HARD]
    assert best["length"].tolist() == [1, 2, 1]
    assert best["accuracy"].tolist() == [0.5, 0.5, 0.0]
    assert best["tied"].tolist() == [3, 1, 4]  # 0.5 three times; 0.5 once; 0.0 four times
    assert best["n_lengths"].tolist() == [4, 4, 4]
    # at budget 4 only medium has a best split, and one length scored: alone at the top
    at_4 = ch6.best_lengths(summary, best_split, 4)
    assert at_4.index.tolist() == [MEDIUM] and at_4["tied"].tolist() == [1]


def test_best_split_text_names_a_best_length_only_when_it_is_alone():
    summary, best_split = _tie_tables()
    best = ch6.best_lengths(summary, best_split, 8)
    assert ch6.best_split_text(best) == (
        "3 of 4 lengths tie at 0.50 on easy problems and all 4 lengths tie at 0.00 on hard "
        "problems: no length is better than the others there; 2 attempts per chain is alone "
        "at the top on medium problems (0.50)")
    # one group, tied: no length is named
    assert ch6.best_split_text(best.loc[[EASY]]) == (
        "3 of 4 lengths tie at 0.50 on easy problems: no length is better than the others")
    # one group, alone; one attempt per chain is singular
    alone = best.loc[[MEDIUM]].assign(length=1)
    assert ch6.best_split_text(alone) == (
        "1 attempt per chain is alone at the top on medium problems (0.50)")
    # three tied groups are listed "a, b and c"; a group whose lengths were not scored
    # (tied 0) is left out, and with none left the text is missing
    three = best.assign(tied=[3, 2, 4])
    assert ch6.best_split_text(three).startswith(
        "3 of 4 lengths tie at 0.50 on easy problems, 2 of 4 lengths tie at 0.50 on medium "
        "problems and all 4 lengths tie at 0.00 on hard problems: no length")
    assert ch6.best_split_text(best.assign(tied=0)) == "n/a"
    assert ch6.best_split_text(best.iloc[:0]) == "n/a"
    # the facts quote the same rule, with the body's numbers next to it
    tables = {**_tables(), "summary": summary, "best_split": best_split}
    facts = ch6.facts(tables, ch6.RevisionsChapterConfig(budgets=(4, 8)))
    assert facts["best_split_text"] == ch6.best_split_text(best)
    assert [facts[f"best_{k}_medium"] for k in ("len", "acc", "tied")] == ["2", "0.50", "1"]
    assert facts["best_tied_easy"] == "3" and facts["n_lengths_hard"] == "4"


def _paired_tables(n=12):
    """``n`` problems with 3 first attempts and 3 later ones each; at budget 16 the
    all-parallel split is right on every problem by the oracle, the one chain on none; the
    vote over every attempt of the chain is right on every problem, over its last on none;
    all-parallel attempts weighted by the verifier are right on none, their vote on all."""
    chains = pd.DataFrame([{"problem": p, "chain": c, "attempt": a, "correct": a > 0}
                           for p in range(n) for c in range(3) for a in range(2)])
    splits = pd.DataFrame([
        {"budget": 16, "length": length, "rule": rule, "problem": p, "correct": right}
        for p in range(n)
        for length, rule, right in ((1, "oracle", 1.0), (16, "oracle", 0.0),
                                    (16, "majority", 1.0), (16, "last majority", 0.0),
                                    (1, "verifier", 0.0), (1, "majority", 1.0))])
    return {"chains": chains, "splits": splits}


def test_paired_comparisons_by_hand():
    config = ch6.RevisionsChapterConfig(budgets=(4, 16))
    table = ch6.paired_comparisons(_paired_tables(), config)
    assert table["comparison"].tolist() == ["later - first attempts",
                                            "sequential - parallel (oracle)",
                                            "last attempt - every attempt (one chain)",
                                            "verifier - majority (parallel)"]
    assert table["mean"].tolist() == [1.0, -1.0, -1.0, -1.0]
    assert table["problems"].tolist() == [12, 12, 12, 12]
    assert table["verdict"].tolist() == ["higher", "lower", "lower", "lower"]
    assert table["budget"].tolist() == [16, 16, 16, 16]


def test_facts_state_the_revision_claims():
    claims = {c.key: c for c in REVISION_CLAIMS}
    config = ch6.RevisionsChapterConfig(budgets=(4, 16))
    tables = _tables() | _paired_tables()
    facts = ch6.facts(tables, config)
    for key in ("claim_later_above_first", "claim_chain_explores_less", "claim_last_loses",
                "claim_verifier_below_vote"):
        assert facts[key] == claims[key].holds_text, key
    for key in ("claim_later_below_first", "claim_verifier_above_vote"):
        assert facts[key] == claims[key].fails_text, key
    # later attempts now wrong, the first right; the one chain's oracle as good as parallel;
    # the last attempt as good as every attempt
    chains, splits = tables["chains"], tables["splits"]
    chains["correct"] = chains["attempt"] == 0
    splits.loc[splits["length"] == 16, "correct"] = 1.0
    splits.loc[splits["rule"] == "majority", "correct"] = 0.0
    facts = ch6.facts(tables, config)
    assert facts["claim_later_below_first"] == claims["claim_later_below_first"].holds_text
    for key in ("claim_later_above_first", "claim_chain_explores_less", "claim_last_loses",
                "claim_verifier_below_vote", "claim_verifier_above_vote"):
        assert facts[key] == claims[key].fails_text, key
    # the verifier now right everywhere and the vote nowhere: it is the one above
    splits.loc[splits["rule"] == "verifier", "correct"] = 1.0
    facts = ch6.facts(tables, config)
    assert facts["claim_verifier_above_vote"] == claims["claim_verifier_above_vote"].holds_text
    assert facts["claim_verifier_below_vote"] == claims["claim_verifier_below_vote"].fails_text


def test_facts_of_empty_tables_read_missing():
    empty = {name: frame.iloc[:0] for name, frame in _tables().items()}
    facts = ch6.facts(empty, ch6.RevisionsChapterConfig(budgets=(4, 16)))
    fixed = {"history": "4", "b_max": "16", "budgets": "4, 16", "n_problems": "0",
             "verifier_name": "the policy's likelihood"}  # from the config, not the tables
    claims = with_capitals({claim.key: claim.fails_text for claim in REVISION_CLAIMS})
    assert {k: v for k, v in facts.items() if k in fixed} == fixed
    assert {k: v for k, v in facts.items() if k in claims} == claims
    assert {v for k, v in facts.items() if k not in fixed | claims} == {"n/a"}


def test_verifier_parameter_is_validated_and_names_the_scorer():
    """A bad ``verifier`` names the parameter and the allowed values; each allowed one maps
    to its scorer kind (the likelihood reads the policy, the ORM is chapter 4's)."""
    from ttc.config import ConfigError

    with pytest.raises(ConfigError, match="'verifier'.*'likelihood', 'ORM'"):
        ch6.RevisionsChapterConfig(verifier="PRM")
    assert ch6.REVISION_VERIFIERS["likelihood"][1] == "likelihood"
    assert ch6.REVISION_VERIFIERS["ORM"][1] == "scalar"
