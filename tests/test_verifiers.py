"""Verifiers: the oracle's step scores, ORM / Monte-Carlo PRM labels against analytic values,
and training a tiny learned verifier end to end (in a scratch cache)."""

import math

import numpy as np
import pandas as pd
import pytest

from tests.toys import ToyPolicy
from ttc.tasks import Problem, TaskConfig, generate_problems, step_labels
from ttc.verifiers import (
    OracleVerifier,
    VerifierExample,
    VerifierTrainConfig,
    load_verifier,
    monte_carlo_examples,
    n_step_ends,
    outcome_examples,
    step_prefixes,
    train_verifier,
    verifier_info,
)

# 47+38-25*3= : 47+38=85;85-25=60;60*3=180
PROBLEM = Problem(47, (("+", 38), ("-", 25), ("*", 3)))
RIGHT = "47+38=85;85-25=60;60*3=180"


def test_problem_fixture():
    assert PROBLEM.prompt == "47+38-25*3="
    assert PROBLEM.solution == RIGHT and PROBLEM.answer == 180


@pytest.mark.parametrize("completion,finished,expected", [
    ("47+38=85;", False, [1.0]),  # right prefix ending with ';'
    ("47+38=85;85-25=60;", False, [1.0, 1.0]),
    ("47+38=85;85-25=61;", False, [1.0, 0.0]),  # wrong second step
    ("47+38=85;85-25=61;61*3=183", True, [1.0, 0.0, 0.0]),  # and everything after it
    ("47+38=86;86-25=61;61*3=183", True, [0.0, 0.0, 0.0]),
    ("47+38=85;85-25=60", True, [1.0, 0.0]),  # right but incomplete: 0 at <eos>
    ("47+38=85", True, [0.0]),
    (RIGHT, True, [1.0, 1.0, 1.0]),  # right and complete: 1 at the end
    (RIGHT, False, [1.0, 1.0]),  # not finished: no score at the end
    (RIGHT + ";", False, [1.0, 1.0, 1.0]),
    (RIGHT + ";180+1=181", True, [1.0, 1.0, 1.0, 0.0]),  # a step too many
    ("47+38=85;garbage;60*3=180", True, [1.0, 0.0, 0.0]),
    ("", True, [0.0]),  # empty but finished: one score, at <eos>
    ("", False, []),
])
def test_oracle_step_scores(completion, finished, expected):
    other = Problem(12, (("-", 30),))
    verifier = OracleVerifier([other, PROBLEM])
    (scores,) = verifier.step_scores([PROBLEM.prompt], [completion], [finished])
    assert isinstance(scores, np.ndarray)
    assert len(scores) == n_step_ends(completion, finished) == len(expected)
    assert scores.tolist() == expected


def test_oracle_scores_a_batch_of_problems():
    problems = generate_problems(TaskConfig(max_ops=4), "test", 3, 0)
    verifier = OracleVerifier(problems)
    prompts = [p.prompt for p in problems]
    solutions = [p.solution for p in problems]
    scores = verifier.step_scores(prompts, solutions, [True] * len(problems))
    for problem, s in zip(problems, scores, strict=True):
        assert s.tolist() == [1.0] * problem.n_ops
    # every solution is wrong for the next problem (different prompt, different first step)
    shifted = verifier.step_scores(prompts, solutions[1:] + solutions[:1], [True] * len(problems))
    for s in shifted:
        assert s[-1] == 0.0


def test_n_step_ends():
    assert n_step_ends("a;b;c", True) == 3
    assert n_step_ends("a;b;c", False) == 2
    assert n_step_ends("a;b;", False) == 2
    assert n_step_ends("", True) == 1
    assert n_step_ends("", False) == 0


def test_step_prefixes():
    assert step_prefixes("a;b;c") == ["a;", "a;b;"]
    assert step_prefixes("a;b;") == ["a;", "a;b;"]
    assert step_prefixes("a;;b") == ["a;", "a;;"]
    assert step_prefixes("abc") == []
    assert step_prefixes("") == []
    assert step_prefixes(RIGHT) == ["47+38=85;", "47+38=85;85-25=60;"]


def test_outcome_examples():
    other = Problem(12, (("-", 30), ("*", 3)))  # 12-30=-18;-18*3=-54
    problems = [PROBLEM, other]
    samples = pd.DataFrame({
        "problem": [0, 0, 0, 1, 1],
        "completion": [RIGHT, "47+38=85;85-25=61;61*3=183", "47+38=85;85-", "12-30=-18;-18*3=-54",
                       "12-30=-18"],
        "finished": [True, True, False, True, True],
        "correct": [True, False, False, True, False],
    })
    examples = outcome_examples(problems, samples)
    assert len(examples) == 4  # the unfinished sample has no outcome to label
    assert [e.prompt for e in examples] == [PROBLEM.prompt] * 2 + [other.prompt] * 2
    assert [e.completion for e in examples] == [RIGHT, "47+38=85;85-25=61;61*3=183",
                                                "12-30=-18;-18*3=-54", "12-30=-18"]
    assert all(e.finished for e in examples)
    for example, correct in zip(examples, [1.0, 0.0, 1.0, 0.0], strict=True):
        assert len(example.labels) == n_step_ends(example.completion, True)
        assert all(math.isnan(x) for x in example.labels[:-1])  # only <eos> is labelled
        assert example.labels[-1] == correct


def wrong_chain(problem: Problem, at: int) -> str:
    """The problem's chain with step ``at`` off by one, continued from the wrong value."""
    value, steps = problem.first, []
    for i, (op, x) in enumerate(problem.steps):
        result = {"+": value + x, "-": value - x, "*": value * x}[op] + (i == at)
        steps.append(f"{value}{op}{x}={result}")
        value = result
    return ";".join(steps)


def test_monte_carlo_labels_match_the_analytic_value():
    p = 0.6
    problem = Problem(23, (("+", 41), ("*", 3), ("-", 17), ("+", 55)))  # four steps
    wrong = wrong_chain(problem, at=1)
    assert step_labels(problem, wrong) == [True, False, False, False]
    problems = [Problem(12, (("-", 30),)), problem]
    samples = pd.DataFrame({
        "problem": [1, 1, 1],
        "completion": [problem.solution, wrong, "64*3=192;192-17=175;175+"],
        "finished": [True, True, False],
        "correct": [True, False, False],
    })
    policy = ToyPolicy(problems, p_correct=p)
    examples, table = monte_carlo_examples(policy, problems, samples, n_rollouts=2000,
                                           temperature=1.0, seed=0)
    # distinct prefixes: 3 of the right chain, 2 more of the wrong one (the first is shared),
    # and 2 of the unterminated sample (its own first step is not the problem's first step)
    assert len(table) == 7
    assert set(table.columns) >= {"problem", "n_ops", "step", "mc_label", "oracle",
                                  "rollout_tokens"}
    assert (table["problem"] == 1).all() and (table["n_ops"] == 4).all()
    assert (table["rollout_tokens"] > 0).all()
    right_prefixes = step_prefixes(problem.solution)
    for j, prefix in enumerate(right_prefixes, start=1):  # j steps done, 4 - j left
        row = table.iloc[j - 1]
        assert row["step"] == j - 1
        assert row["oracle"]
        # sd of the estimate <= 0.011 at 2000 rollouts; 0.05 is > 4.5 sd
        assert row["mc_label"] == pytest.approx(p ** (4 - j), abs=0.05), prefix
    for i, prefix in enumerate(step_prefixes(wrong)[1:], start=3):
        row = table.iloc[i]
        assert row["step"] == prefix.count(";") - 1
        assert not row["oracle"]
        assert row["mc_label"] == 0.0  # a wrong prefix can never recover: exactly 0
    # the oracle column is the task's step checker on each prefix
    oracle = [step_labels(problem, pre)[pre.count(";") - 1]
              for pre in [*right_prefixes, *step_prefixes(wrong)[1:],
                          *step_prefixes("64*3=192;192-17=175;175+")]]
    assert table["oracle"].tolist() == oracle
    assert table["oracle"].tolist() == [True] * 3 + [False] * 4

    assert len(examples) == 3
    right_ex, wrong_ex, tail_ex = examples
    values = table["mc_label"].tolist()
    assert right_ex.labels == (*values[:3], 1.0)  # the last label is the sample's own outcome
    assert wrong_ex.labels == (values[0], values[3], values[4], 0.0)
    assert tail_ex.labels == (values[5], values[6]) and not tail_ex.finished
    for example in examples:
        assert example.prompt == problem.prompt
        assert len(example.labels) == n_step_ends(example.completion, example.finished)


def test_monte_carlo_needs_rollouts():
    samples = pd.DataFrame({"problem": [0], "completion": [RIGHT], "finished": [True],
                            "correct": [True]})
    with pytest.raises(ValueError, match="n_rollouts"):
        monte_carlo_examples(ToyPolicy([PROBLEM]), [PROBLEM], samples, n_rollouts=0)


# ---------------------------------------------------------------------------------------------
# Training a tiny learned verifier.

def oracle_examples(n_per_ops: int = 16) -> list[VerifierExample]:
    """Right chains and chains wrong at their last step, labelled by the oracle.

    Every ``;`` label is 1 (the steps before the last are right) and only the ``<eos>`` label
    varies, so a verifier can lower its loss by learning which token ends a step."""
    problems = generate_problems(TaskConfig(max_ops=4), "test", n_per_ops, 1)
    examples = []
    for i, problem in enumerate(problems):
        text = problem.solution if i % 2 == 0 else wrong_chain(problem, at=problem.n_ops - 1)
        labels = OracleVerifier([problem]).step_scores([problem.prompt], [text], [True])[0]
        examples.append(VerifierExample(problem.prompt, text, True, tuple(labels.tolist())))
    return examples


def test_train_verifier_lowers_loss_caches_and_scores(tiny_base, monkeypatch):
    import ttc.verifiers.train as train_module
    from ttc.verifiers.scoring import LearnedVerifier

    base, cache = tiny_base
    examples = oracle_examples()
    assert len(examples) == 64 and {e.labels[-1] for e in examples} == {0.0, 1.0}
    assert all(set(e.labels[:-1]) <= {1.0} for e in examples)
    config = VerifierTrainConfig(epochs=8, batch_size=16, lr=3e-3, val_frac=0.25)
    path = train_verifier(base, examples, config, "prm", progress=False, device="cpu")
    assert path.is_relative_to(cache)  # nothing written to the user's cache
    info = verifier_info(path)
    assert info["kind"] == "prm" and info["base"] == base.name
    assert info["n_examples"] == 64 and info["n_val"] == 16 and info["n_train"] == 48
    assert len(info["curve"]) == 8
    assert info["val_loss_after"] < info["val_loss_before"]
    assert info["val_loss_after"] == info["curve"][-1]["val_loss"]

    # the same data and recipe come back from the cache without training again
    written = (path / "training.json").stat().st_mtime_ns

    def no_training(*args, **kwargs):
        raise AssertionError("retrained a cached verifier")

    monkeypatch.setattr(train_module, "_tensors", no_training)
    assert train_verifier(base, examples, config, "prm", progress=False, device="cpu") == path
    assert (path / "training.json").stat().st_mtime_ns == written
    monkeypatch.undo()

    verifier = load_verifier(path, device="cpu")
    assert isinstance(verifier, LearnedVerifier) and verifier.kind == "prm"
    prompts = [PROBLEM.prompt] * 5
    completions = [RIGHT, RIGHT, "47+38=85;", "47+38=85;85-25=61;61*3=183", ""]
    finished = [True, False, False, True, True]
    scores = verifier.step_scores(prompts, completions, finished)
    for s, completion, done in zip(scores, completions, finished, strict=True):
        assert len(s) == n_step_ends(completion, done)
        assert np.all((s > 0) & (s < 1))
    # a prefix's step scores are those of the longer chain at the same step ends (causal model)
    np.testing.assert_allclose(scores[1], scores[0][:2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scores[2], scores[0][:1], rtol=1e-5, atol=1e-6)
    again = verifier.step_scores(prompts[:1], completions[:1], finished[:1])
    np.testing.assert_array_equal(again[0], scores[0])


def test_train_verifier_rejects_bad_input(tiny_base):
    base, cache = tiny_base
    config = VerifierTrainConfig(epochs=1, batch_size=4)
    good = VerifierExample(PROBLEM.prompt, RIGHT, True, (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="kind"):
        train_verifier(base, [good], config, "xyz", progress=False, device="cpu")
    with pytest.raises(ValueError, match="example"):
        train_verifier(base, [], config, "prm", progress=False, device="cpu")
    too_few = VerifierExample(PROBLEM.prompt, RIGHT, True, (1.0, 1.0))  # 3 step ends
    with pytest.raises(ValueError, match="2 labels for 3 step ends"):
        train_verifier(base, [good, too_few], config, "prm", progress=False, device="cpu")
    unfinished = VerifierExample(PROBLEM.prompt, RIGHT, False, (1.0, 1.0, 1.0))  # 2 step ends
    with pytest.raises(ValueError, match="3 labels for 2 step ends"):
        train_verifier(base, [unfinished], config, "orm", progress=False, device="cpu")
    checkpoints = cache / "checkpoints"
    assert not checkpoints.exists() or not any(checkpoints.iterdir())  # nothing half-written


def test_verifier_train_config_checks():
    with pytest.raises(ValueError, match="val_frac"):
        VerifierTrainConfig(val_frac=1.0)
    with pytest.raises(ValueError, match="epochs"):
        VerifierTrainConfig(epochs=0)
    with pytest.raises(ValueError, match="lr"):
        VerifierTrainConfig(lr=0.0)
