"""Property-based tests (hypothesis): bad input never ends in a traceback.

Profiles and chapter parameters, however malformed, give a one-line ConfigError or
ProfileError; every parser of model output takes any text without raising, and malformed
output counts as wrong.
"""

from __future__ import annotations

import dataclasses
import random
import string

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ttc.chapters import CHAPTERS
from ttc.config import ConfigError, build_config
from ttc.profiles import ProfileError, load_profile
from ttc.tasks import (
    STEP_SEP,
    Problem,
    TaskConfig,
    first_error,
    grade,
    parse_answer,
    parse_steps,
    sample_problem,
    step_labels,
)

FAST = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# -- profiles and parameters ---------------------------------------------------------------

FIELDS = sorted({f.name for spec in CHAPTERS.values()
                 for f in dataclasses.fields(spec.config_cls)})
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["f32x2", "f64x3", "f999x9", "auto", "cpu", "cuda", "beam, width 4",
                     "DVTS, width 4", "oracle", "", "0"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)
params = st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), values,
                         max_size=4)
chapter_names = st.one_of(st.sampled_from(sorted(CHAPTERS)), st.text(max_size=12))


def _one_line(err: Exception) -> None:
    message = str(err)
    assert message and "\n" not in message, repr(message)


@FAST
@given(chapter=st.sampled_from(sorted(CHAPTERS)), params=params)
def test_build_config_raises_only_one_line_config_errors(chapter, params):
    try:
        build_config(CHAPTERS[chapter].config_cls, params, where=f"test, {chapter}")
    except ConfigError as err:
        _one_line(err)


@pytest.fixture(scope="module")
def profile_file(tmp_path_factory):
    return tmp_path_factory.mktemp("profiles") / "generated.yaml"


def _check_profile(path, text: str) -> None:
    path.write_text(text)
    try:
        load_profile(path)
    except ProfileError as err:
        _one_line(err)


@FAST
@given(profile=st.one_of(
    st.dictionaries(chapter_names, st.one_of(params, values), max_size=9),
    # every chapter named, with parameters that may be wrong in any way
    st.fixed_dictionaries({name: st.one_of(st.none(), params) for name in CHAPTERS}),
    values,
))
def test_generated_profiles_fail_in_one_line(profile_file, profile):
    _check_profile(profile_file, yaml.safe_dump(profile, allow_unicode=True))


YAML_PIECES = ["02_family:", "  train_steps: 40", "  lr: [1, 2", "03_sampling: {}", "- a",
               "!!python/object:os.system {}", "!!binary xx", "&a [*a]", "*missing", "? x",
               "key: !!int nope", "%YAML 9.9", "---", "...", "\t", "'", '"', ":", "{", "}",
               "01_accounting:\n  n_points: 1e400", "08_floor: !!set {a}"]


@FAST
@given(text=st.one_of(st.text(max_size=200),
                      st.lists(st.sampled_from(YAML_PIECES), max_size=8).map("\n".join)))
def test_arbitrary_profile_text_fails_in_one_line(profile_file, text):
    _check_profile(profile_file, text)


# -- parsers of model output ---------------------------------------------------------------

TASK = TaskConfig()
problems = st.builds(lambda seed, n_ops: sample_problem(random.Random(seed), TASK, n_ops),
                     st.integers(0, 10**6), st.integers(TASK.min_ops, TASK.max_ops))
# text that looks like model output: digits, operators, separators, some noise
near_output = st.text(alphabet=string.digits + "+-*=;; \n-x.", max_size=120)


def _edited(problem: Problem, data) -> str:
    """The reference chain with a few random character edits."""
    text = list(problem.solution)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(text)))
        kind = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        char = data.draw(st.sampled_from(list(string.digits + "+-*=; x")))
        if kind == "insert":
            text.insert(i, char)
        elif i < len(text):
            text[i:i + 1] = [] if kind == "delete" else [char]
    return "".join(text)


completions = st.one_of(st.text(max_size=200), near_output)


def _check_parsers(problem: Problem, completion) -> None:
    steps = parse_steps(completion)
    assert isinstance(steps, list)
    if isinstance(completion, str) and completion.strip():
        assert len(steps) == completion.count(STEP_SEP) + 1
    answer = parse_answer(completion)
    assert answer is None or isinstance(answer, int)
    assert answer == (steps[-1].result if steps and steps[-1] is not None else None)

    for finished in (True, False):
        verdict = grade(problem, completion, finished)
        assert verdict in (True, False)
        if verdict:  # right only when finished and the final answer parses and is right
            assert finished and answer == problem.answer
    if answer is None:  # malformed output counts as wrong
        assert grade(problem, completion) is False

    labels = step_labels(problem, completion)
    assert len(labels) == len(steps) and all(label in (True, False) for label in labels)
    assert labels == sorted(labels, reverse=True)  # once wrong, wrong to the end
    for step, label in zip(steps, labels, strict=True):
        if step is None:  # a malformed step is never right
            assert not label
    error = first_error(problem, completion)
    if error is None:
        assert all(labels) and len(labels) == problem.n_ops
        assert grade(problem, completion)
    else:
        assert 0 <= error <= len(labels) and all(labels[:error])
        assert error == len(labels) or not labels[error]


@FAST
@given(problem=problems, completion=completions)
def test_parsers_never_raise_on_arbitrary_text(problem, completion):
    _check_parsers(problem, completion)


@FAST
@given(problem=problems, data=st.data())
def test_parsers_on_edited_reference_chains(problem, data):
    completion = _edited(problem, data)
    _check_parsers(problem, completion)
    assume(completion != problem.solution)
    # an edited chain is right only if it still states every right step
    if first_error(problem, completion) is None:
        assert [s.strip() for s in completion.split(STEP_SEP)] == problem.step_texts


@FAST
@given(problem=problems, completion=st.one_of(st.none(), st.integers(), st.binary()))
def test_parsers_take_non_text_as_wrong(problem, completion):
    assert parse_steps(completion) == [] and parse_answer(completion) is None
    assert grade(problem, completion) is False
    assert step_labels(problem, completion) == []
    assert first_error(problem, completion) == 0


@FAST
@given(problem=problems)
def test_reference_chain_is_right(problem):
    assert grade(problem, problem.solution)
    assert first_error(problem, problem.solution) is None
    assert all(step_labels(problem, problem.solution))
