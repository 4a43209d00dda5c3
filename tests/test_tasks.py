"""Tests for the arithmetic-chain task: generation, splits, solution text, parsing, oracles."""

from __future__ import annotations

import itertools
import random

import pytest

from ttc.tasks import (
    Problem,
    Step,
    TaskConfig,
    first_error,
    generate_problems,
    grade,
    parse_answer,
    parse_steps,
    sample_problem,
    split_of,
    step_labels,
    train_stream,
    training_text,
)

P = Problem(47, (("+", 38), ("-", 25), ("*", 3)))  # 47+38=85;85-25=60;60*3=180
NEG = Problem(12, (("-", 30), ("*", 3)))  # 12-30=-18;-18*3=-54


# --- problem representation -----------------------------------------------------------------


def test_hand_made_problem() -> None:
    assert P.n_ops == 3
    assert P.prompt == "47+38-25*3="
    assert P.values == [85, 60, 180]
    assert P.answer == 180
    assert P.step_texts == ["47+38=85", "85-25=60", "60*3=180"]
    assert P.solution == "47+38=85;85-25=60;60*3=180"
    assert training_text(P) == "47+38-25*3=47+38=85;85-25=60;60*3=180"


def test_negative_intermediate() -> None:
    assert NEG.prompt == "12-30*3="
    assert NEG.solution == "12-30=-18;-18*3=-54"
    assert NEG.values == [-18, -54]
    assert NEG.answer == -54
    assert grade(NEG, NEG.solution)
    assert step_labels(NEG, NEG.solution) == [True, True]


# --- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"min_ops": 0}, "min_ops"),
        ({"min_ops": 5, "max_ops": 4}, "max_ops"),
        ({"max_ops": 13}, "max_ops"),
        ({"operand_min": 50, "operand_max": 40}, "operand_min"),
        ({"mul_max": 1}, "mul_max"),
        ({"ops": ""}, "ops"),
        ({"ops": "+/"}, "ops"),
        ({"max_abs": 50}, "max_abs"),
    ],
)
def test_config_validation(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        TaskConfig(**kwargs)  # type: ignore[arg-type]


# --- generation -----------------------------------------------------------------------------


def test_generation_deterministic_and_seed_dependent() -> None:
    cfg = TaskConfig()
    a = generate_problems(cfg, "test", 20, seed=1)
    assert a == generate_problems(cfg, "test", 20, seed=1)
    assert a != generate_problems(cfg, "test", 20, seed=2)
    assert [p.n_ops for p in a] == [n for n in range(1, 9) for _ in range(20)]
    # A smaller request is a per-n_ops prefix of a larger one.
    b = generate_problems(cfg, "test", 10, seed=1)
    assert b == [p for i, p in enumerate(a) if i % 20 < 10]
    r1, r2 = random.Random(5), random.Random(5)
    assert sample_problem(r1, cfg, 4) == sample_problem(r2, cfg, 4)


def test_generate_problems_remembered_but_not_shared() -> None:
    """The test set is drawn once per process; a caller that changes its list does not
    change the next caller's."""
    cfg = TaskConfig(min_ops=1, max_ops=2)
    first = generate_problems(cfg, "test", 4, seed=11)
    first.pop()
    again = generate_problems(cfg, "test", 4, seed=11)
    assert len(again) == 8 and again[:7] == first
    assert generate_problems(cfg, "test", 2, seed=11) == [*again[:2], *again[4:6]]


def test_generate_fast_and_valid() -> None:
    cfg = TaskConfig()
    probs = generate_problems(cfg, "train", 500, seed=0)  # 4000 problems
    assert len(probs) == 4000
    assert len({p.prompt for p in probs}) == len(probs)
    for p in probs:
        assert split_of(p.prompt) == "train"
        assert cfg.operand_min <= p.first <= cfg.operand_max
        assert all(abs(v) <= cfg.max_abs for v in p.values)
        for op, x in p.steps:
            lo, hi = cfg.operand_range(op)
            assert lo <= x <= hi
        assert step_labels(p, p.solution) == [True] * p.n_ops
        assert first_error(p, p.solution) is None


def test_max_abs_and_restricted_ops() -> None:
    cfg = TaskConfig(min_ops=12, max_ops=12, max_abs=300)
    for p in generate_problems(cfg, "val", 50, seed=3):
        assert all(abs(v) <= 300 for v in p.values)
    only_mul = TaskConfig(ops="*", max_ops=3, mul_max=3, max_abs=9999)
    for p in generate_problems(only_mul, "train", 20, seed=0):
        assert {op for op, _ in p.steps} == {"*"}
        assert abs(p.answer) <= 9999
    with pytest.raises(ValueError, match="max_abs"):
        sample_problem(random.Random(0), TaskConfig(ops="*", max_ops=12, max_abs=100), 12)


def test_splits_disjoint() -> None:
    cfg = TaskConfig(max_ops=4)
    prompts = {
        s: {p.prompt for p in generate_problems(cfg, s, 100, seed=7)}
        for s in ("train", "val", "test")
    }
    for s, ps in prompts.items():
        assert all(split_of(x) == s for x in ps)
    assert not prompts["train"] & prompts["val"]
    assert not prompts["train"] & prompts["test"]
    assert not prompts["val"] & prompts["test"]
    with pytest.raises(ValueError, match="split"):
        generate_problems(cfg, "dev", 1, seed=0)


def test_split_proportions() -> None:
    counts = {"train": 0, "val": 0, "test": 0}
    for i in range(20_000):
        counts[split_of(f"{i}+1=")] += 1
    assert 1700 < counts["test"] < 2300
    assert 800 < counts["val"] < 1200


def test_train_stream() -> None:
    cfg = TaskConfig()
    draws = list(itertools.islice(train_stream(cfg, seed=0), 20_000))
    assert all(split_of(p.prompt) == "train" for p in draws)
    assert draws[:50] == list(itertools.islice(train_stream(cfg, seed=0), 50))
    assert draws[:50] != list(itertools.islice(train_stream(cfg, seed=1), 50))
    n_ops = [p.n_ops for p in draws]
    assert set(n_ops) == set(range(1, 9))
    assert min(n_ops.count(k) for k in range(1, 9)) > 2000


# --- parsing and oracles --------------------------------------------------------------------


def test_parse_steps() -> None:
    assert parse_steps("47+38=85;85-25=60") == [Step(47, "+", 38, 85), Step(85, "-", 25, 60)]
    assert parse_steps("12-30=-18;-18*3=-54")[1] == Step(-18, "*", 3, -54)
    assert parse_steps("") == []
    assert parse_steps("47+38=85;") == [Step(47, "+", 38, 85), None]
    assert parse_steps("047+38=85") == [None]  # non-canonical numbers are malformed
    assert parse_steps("1+-2=-1") == [None]  # operands are written without sign


def test_correct_completion() -> None:
    assert parse_answer(P.solution) == 180
    assert grade(P, P.solution)
    assert not grade(P, P.solution, finished=False)
    assert step_labels(P, P.solution) == [True, True, True]
    assert first_error(P, P.solution) is None


def test_wrong_first_step() -> None:
    c = "47+38=86;86-25=61;61*3=183"
    assert not grade(P, c)
    assert step_labels(P, c) == [False, False, False]
    assert first_error(P, c) == 0
    # A wrong operand copied from the prompt is also an error even if the arithmetic is right.
    assert first_error(P, "47+39=86;86-25=61;61*3=183") == 0


def test_wrong_middle_step() -> None:
    c = "47+38=85;85-25=70;70*3=210"
    assert step_labels(P, c) == [True, False, False]
    assert first_error(P, c) == 1
    assert not grade(P, c)


def test_right_answer_wrong_chain() -> None:
    c = "47+38=85;85-25=61;60*3=180"
    assert grade(P, c)
    assert step_labels(P, c) == [True, False, False]
    assert first_error(P, c) == 1


def test_truncated() -> None:
    c = "47+38=85;85-25=60;60*3="
    assert parse_answer(c) is None
    assert not grade(P, c)
    assert step_labels(P, c) == [True, True, False]
    assert first_error(P, c) == 2
    # Correct but incomplete: the first missing step is the error.
    assert step_labels(P, "47+38=85") == [True]
    assert first_error(P, "47+38=85") == 1
    assert not grade(P, "47+38=85;85-25=60;60*3=18", finished=False)


def test_empty_and_garbage() -> None:
    for c in ("", "   ", "abc;;==--9*", ";", "=", "-", "180", "<eos>", "\x00;é"):
        assert parse_answer(c) is None
        assert not grade(P, c)
        assert not any(step_labels(P, c))
        assert first_error(P, c) == 0
    assert parse_steps("abc;;==--9*") == [None, None, None]


def test_extra_steps() -> None:
    c = P.solution + ";180+0=180"
    assert step_labels(P, c) == [True, True, True, False]
    assert first_error(P, c) == 3
    assert grade(P, c)  # the answer is the last step's result


def test_huge_numbers() -> None:
    huge = "9" * 5000
    for c in (
        f"47+38={huge}",
        f"{huge}+38=85",
        f"47+38=85;85-25=60;60*3=1{'0' * 30}",
        "9" * 100_000,
        ";" * 10_000,
    ):
        parse_answer(c)
        assert not grade(P, c)
        assert first_error(P, c) is not None
