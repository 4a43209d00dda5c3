"""The seed study's analysis (ttc.seeds): spread of greedy accuracy and verdict agreement,
by hand. The study itself runs end to end in the smoke book (chapter 7, seeds 0 and 1)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ttc.chapters.ch07_compute_optimal import ComputeOptimalChapterConfig
from ttc.config import ConfigError
from ttc.seeds import (
    EXCHANGE_COLUMNS,
    empty_study,
    seed_spread,
    study_members,
    verdict_agreement,
)


def test_study_members_are_the_policy_and_every_larger_one():
    sizes = {"a": 1, "b": 2, "c": 3, "d": 4}
    assert study_members(["a", "b", "c", "d"], "b", sizes) == ["b", "c", "d"]
    assert study_members(["a", "b"], "b", sizes) == ["b"]


def test_seed_spread_by_hand():
    greedy = pd.DataFrame({"seed": [0, 1, 2, 0, 1, 2], "model": ["p"] * 3 + ["q"] * 3,
                           "N": [10] * 3 + [20] * 3,
                           "test_accuracy": [0.5, 0.7, 0.6, 0.2, 0.2, 0.2],
                           "main_accuracy": [0.0] * 6})
    spread = seed_spread(greedy).set_index("model")
    assert spread.loc["p", "mean"] == pytest.approx(0.6)
    assert spread.loc["p", "sd"] == pytest.approx(0.1)  # sample sd of 0.5, 0.7, 0.6
    assert (spread.loc["p", "low"], spread.loc["p", "high"]) == (0.5, 0.7)
    assert spread.loc["q", "sd"] == 0 and spread.loc["q", "seeds"] == 3
    assert list(spread.index) == ["p", "q"] and spread.loc["q", "N"] == 20
    one = seed_spread(greedy[greedy["seed"] == 0])
    assert math.isnan(one["sd"].iloc[0])  # one seed: no spread to estimate


def test_verdict_agreement_by_hand():
    rows = []
    for seed, learned, ceiling in ((1, "larger model", "test-time compute"),
                                   (0, "larger model", "no detectable difference"),
                                   (2, "larger model", "test-time compute")):
        rows.append({"large": "big", "R": 0.16, "bin": 1, "seed": seed, "verdict": learned,
                     "ceiling_verdict": ceiling})
    rows.append({"large": "big", "R": 22.0, "bin": 1, "seed": 0,
                 "verdict": "no detectable difference", "ceiling_verdict": "larger model"})
    table = verdict_agreement(pd.DataFrame(rows)).set_index(["large", "R", "bin"])
    first = table.loc[("big", 0.16, 1)]
    assert first["verdicts"] == "larger / larger / larger"  # seed order, one word each
    assert first["stable"] and not first["ceiling_stable"]
    assert first["ceiling_verdicts"] == "none / small / small"
    assert table.loc[("big", 22.0, 1), "seeds"] == 1
    assert bool(table.loc[("big", 22.0, 1), "ceiling_stable"])


def test_empty_study_has_the_study_columns():
    study = empty_study()
    assert set(study) == {"seed_greedy", "seed_spread", "seed_exchange", "seed_verdicts"}
    assert all(t.empty for t in study.values())
    assert list(study["seed_exchange"].columns) == [*EXCHANGE_COLUMNS, "seed"]
    assert "stable" in study["seed_verdicts"] and "sd" in study["seed_spread"]


def test_seeds_parameter_is_validated():
    for bad in ((), (0, 0), (-1,)):
        with pytest.raises(ConfigError, match="'seeds'"):
            ComputeOptimalChapterConfig(seeds=bad)
    assert ComputeOptimalChapterConfig(seeds=(0, 3)).seeds == (0, 3)


def _study(stable=(True, True), ceiling_stable=(True, True)):
    spread = pd.DataFrame({"model": ["p", "q"], "N": [1, 2], "seeds": [3, 3],
                           "mean": [0.5, 0.6], "sd": [0.05, 0.2], "low": [0.45, 0.4],
                           "high": [0.55, 0.8]})
    verdicts = pd.DataFrame({"large": ["q", "q"], "R": [0.16, 22.0], "bin": [1, 1],
                             "seeds": [3, 3], "verdicts": ["x", "y"], "stable": list(stable),
                             "ceiling_verdicts": ["x", "y"],
                             "ceiling_stable": list(ceiling_stable)})
    return {"seed_spread": spread, "seed_verdicts": verdicts}


def test_study_sentences_for_every_outcome():
    from ttc.seeds import study_sentences

    none = study_sentences(empty_study(), "p")
    assert none["seed_summary"] == "This build trained the family once, with one seed."
    assert none["seed_verdict_sentence"].endswith("is not measured by this build.")
    stable = study_sentences(_study(), "p")
    assert stable["seed_summary"] == (
        "Over 3 training seeds, the policy's (p) greedy test accuracy ranges from 0.45 to "
        "0.55 (standard deviation 0.05), and the widest range is q's, 0.40 to 0.80.")
    assert stable["seed_verdict_sentence"].startswith("No verdict changes with the seed: in "
                                                      "all 2 cells")
    changed = study_sentences(_study(stable=(True, False), ceiling_stable=(False, False)),
                              "p")["seed_verdict_sentence"]
    assert changed.startswith("The verdict changes with the seed in 1 of the 2 cells for the "
                              "learned pool and in 2 for the perfect verifier")


def test_hard_subset_is_the_first_problems_of_the_hardest_level():
    from types import SimpleNamespace

    from ttc.upstream import hard_subset

    problems = [SimpleNamespace(n_ops=n, i=i) for i, n in enumerate([1, 3, 2, 3, 3])]
    assert [p.i for p in hard_subset(problems, 2)] == [1, 3]
    assert [p.i for p in hard_subset(problems, 9)] == [1, 3, 4]
