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
        "smallest_unfinished": "0.50",  # 2 of 4 without <eos>
    }


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
