"""Chapter 2's facts and accuracy helpers, on hand-built tables whose answers are known."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from ttc.chapters import ch02_family as ch02
from ttc.paths import notebooks_dir

CONFIG = ch02.FamilyChapterConfig(members=("f32x2", "f64x3"), min_ops=1, max_ops=8,
                                  n_test_per_ops=10)


def _glue_names(key: str) -> set[str]:
    text = (notebooks_dir() / f"{key}.md").read_text()
    return set(re.findall(r"\{glue:text\}`([^`]+)`", text))


def _tables() -> dict[str, pd.DataFrame]:
    """Two members, four test problems (1, 1, 4 and 8 operations)."""
    members = pd.DataFrame({"model": ["s", "l"], "N": [100, 800], "D": [5000, 6000],
                            "train_seconds": [60.0, 120.0]})
    n_ops = [1, 1, 4, 8]
    rows = []
    for model, n_params, correct, finished in (("s", 100, [1, 0, 0, 0], [1, 1, 0, 0]),
                                               ("l", 800, [1, 1, 1, 0], [1, 1, 1, 1])):
        for problem in range(4):
            rows.append({"model": model, "N": n_params, "problem": problem,
                         "n_ops": n_ops[problem], "prompt": f"p{problem}",
                         "correct": bool(correct[problem]),
                         "finished": bool(finished[problem])})
    greedy = pd.DataFrame(rows)
    # per (model, n_ops), by hand: s 1/2, 0, 0; l 1, 1, 0
    accuracy = pd.DataFrame({"model": ["s"] * 3 + ["l"] * 3, "N": [100] * 3 + [800] * 3,
                             "n_ops": [1, 4, 8] * 2,
                             "accuracy": [0.5, 0.0, 0.0, 1.0, 1.0, 0.0]})
    return {"members": members, "curves": pd.DataFrame(), "greedy": greedy,
            "accuracy": accuracy}


def test_facts_on_hand_built_tables():
    assert ch02.facts(_tables(), CONFIG) == {
        "n_test": "4",
        "n_test_per_ops": "10",
        "n_members": "2",
        "smallest_name": "s",
        "largest_name": "l",
        "size_ratio": "8",
        "tokens_trained": "6,000",  # D of the largest member
        "train_minutes": "3.0",  # (60 + 120) s
        "min_ops": "1",
        "medium_ops": "4",  # (1 + 8) // 2
        "max_ops": "8",
        "largest_easy": "1.00",
        "largest_medium": "1.00",
        "largest_hard": "0.00",
        "smallest_easy": "0.50",
        "smallest_medium": "0.00",
        "smallest_overall": "0.25",  # 1 of 4
        "largest_overall": "0.75",  # 3 of 4
        "overall_rises": "rises",
        # problems 1 and 2 flip from wrong to right, 0 and 3 agree: mean +0.5; a resample
        # of the four differences is all zeros with chance 1/16 > 2.5% (and all ones too),
        # so the interval is [0, 1]; two flips give a sign-flip p of 0.5
        "rise_steps": "the step from s to l, +0.500, 95% interval +0.000 to +1.000, is not a "
                      "detectable rise (paired over the 4 test problems)",
        "smallest_unfinished": "0.50",  # 2 of 4 without <eos>
    }


def _three_members(n: int, gains: tuple[int, int]) -> pd.DataFrame:
    """Greedy answers of members a < b < c on ``n`` problems: a answers none, b the first
    ``gains[0]``, c the first ``gains[0] + gains[1]`` (every problem b answers, c does)."""
    rows = []
    for model, right in (("a", 0), ("b", gains[0]), ("c", gains[0] + gains[1])):
        rows += [{"model": model, "prompt": f"p{i}", "correct": i < right} for i in range(n)]
    return pd.DataFrame(rows)


def test_adjacent_steps_pair_problems_and_correct_for_the_steps_read_together():
    # 40 of 100 problems flip a -> b (detectable), 2 flip b -> c (sign-flip p = 0.5)
    steps = ch02.adjacent_steps(_three_members(100, (40, 2)))
    assert steps[["smaller", "larger"]].values.tolist() == [["a", "b"], ["b", "c"]]
    assert steps["mean"].tolist() == pytest.approx([0.40, 0.02])
    assert steps["problems"].tolist() == [100, 100]
    assert steps["p"].iloc[0] < 0.001 and steps["p"].iloc[1] > 0.2
    assert steps["low"].iloc[0] > 0.25 and steps["high"].iloc[0] < 0.55
    assert steps["detectable"].tolist() == [True, False]
    text = ch02.rise_steps_text(steps)
    assert text.startswith("1 of the 2 steps from one member to the next are detectable "
                           "rises (paired over the 100 test problems, Holm-corrected over "
                           "the 2 steps); not detectable: b to c, +0.020, 95% interval")
    both = ch02.adjacent_steps(_three_members(100, (40, 40)))
    assert both["detectable"].all()
    assert ch02.rise_steps_text(both) == (
        "every step from one member to the next is a detectable rise (paired over the 100 "
        "test problems, Holm-corrected over the 2 steps)")
    # a fall is never a rise, however detectable
    falling = _three_members(100, (40, 40))
    falling.loc[falling["model"] == "c", "correct"] = False
    assert ch02.adjacent_steps(falling)["detectable"].tolist() == [True, False]


def test_accuracy_helpers():
    tables = _tables()
    assert ch02.accuracy_at(tables["accuracy"], "s", 1) == 0.5
    assert ch02.accuracy_at(tables["accuracy"], "l", 4) == 1.0
    assert math.isnan(ch02.accuracy_at(tables["accuracy"], "l", 3))  # no such row
    assert math.isnan(ch02.accuracy_at(tables["accuracy"], "x", 1))
    overall = ch02.overall_accuracy(tables["greedy"])
    assert list(overall.index) == ["s", "l"]  # table order, not alphabetical
    assert overall.tolist() == pytest.approx([0.25, 0.75])
    assert ch02.unfinished_share(tables["greedy"]).tolist() == pytest.approx([0.5, 0.0])
    assert ch02.medium_ops(CONFIG) == 4
    assert ch02.medium_ops(ch02.FamilyChapterConfig(min_ops=2, max_ops=5)) == 3


def test_overall_rises_only_when_every_member_beats_the_previous():
    tables = _tables()
    greedy = tables["greedy"].copy()
    greedy.loc[greedy["model"] == "l", "correct"] = [True, False, False, False]  # a tie
    tables["greedy"] = greedy
    facts = ch02.facts(tables, CONFIG)
    assert facts["overall_rises"] == "does not rise"
    assert facts["largest_overall"] == "0.25"
    # one member: nothing rises
    one = {name: (frame[frame["model"] == "s"] if "model" in frame else frame)
           for name, frame in _tables().items()}
    facts = ch02.facts(one, CONFIG)
    assert facts["overall_rises"] == "does not rise"
    assert facts["smallest_name"] == facts["largest_name"] == "s"
    assert facts["size_ratio"] == "1"


def test_facts_on_empty_tables_read_n_a():
    empty = {name: frame.iloc[0:0] for name, frame in _tables().items()}
    facts = ch02.facts(empty, CONFIG)
    assert set(facts) == set(ch02.facts(_tables(), CONFIG))
    config_facts = {"n_test_per_ops", "min_ops", "medium_ops", "max_ops", "n_members",
                    "overall_rises"}
    assert {facts[name] for name in set(facts) - config_facts} == {"n/a"}
    assert facts["n_members"] == "0" and facts["overall_rises"] == "does not rise"


def test_every_glue_role_of_the_notebook_is_a_fact():
    assert _glue_names("02_family") == set(ch02.facts(_tables(), CONFIG))
