"""Chapter 3's scoring: subsampled curves agree with direct computation on hand-made samples."""

from __future__ import annotations

import pandas as pd
import pytest

from ttc.chapters import sampling
from ttc.config import ConfigError
from ttc.tasks import Problem


def test_powers_of_two_and_groups():
    assert sampling.powers_of_two(16) == [1, 2, 4, 8, 16]
    assert sampling.powers_of_two(12) == [1, 2, 4, 8, 12]
    assert sampling.difficulty_group(1) == "easy (1-2 ops)"
    assert sampling.difficulty_group(5) == "medium (3-5 ops)"
    assert sampling.difficulty_group(8) == "hard (6-8 ops)"


def test_first_per_ops_keeps_order():
    problems = [Problem(10, (("+", 11),) * n) for n in (1, 1, 2, 1, 2, 2)]
    kept = sampling.first_per_ops(problems, 2)
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
    config = sampling.SamplingConfig(vote_resamples=50)
    per_problem, per_k = sampling._curves("m", 100, samples, problems, 4, config)
    assert per_problem["c"].tolist() == [2, 1]
    assert per_problem["c_chain"].tolist() == [1, 1]  # "10+12=21" is right by luck
    at = per_k.set_index(["problem", "k"])
    assert at.loc[(0, 1), "pass_at_k"] == pytest.approx(0.5)  # k = 1: c / n
    assert at.loc[(1, 1), "pass_at_k"] == pytest.approx(0.25)
    assert at.loc[(0, 4), "pass_at_k"] == 1.0 and at.loc[(1, 4), "pass_at_k"] == 1.0
    assert at.loc[(0, 4), "majority"] == 1.0  # all four samples: "21" wins
    assert at.loc[(1, 4), "majority"] == 0.0  # "7" wins over the single "60"
    assert at.loc[(0, 2), "flops"] == pytest.approx(2 * 100 * 2 * 10)  # 2N x k x tokens


def test_bad_family_profile_is_a_clear_error():
    with pytest.raises(ConfigError, match="family_profile"):
        sampling.SamplingConfig(family_profile="laptop")
