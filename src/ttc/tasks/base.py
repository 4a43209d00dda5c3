"""What every task gives the rest of the package: prompts, answers, grading and steps.

A *task* is a family of problems with a way to read and grade a model's completion. The
sampler, the verifiers and search only touch a task through :class:`Task`, so the arithmetic
chains the book trains on and grade-school word problems for hub models
(:mod:`ttc.tasks.word_problems`) run through the same pipeline. A problem is any object with
a ``prompt`` (the model's input text), an ``answer`` and ``n_ops`` (the task's difficulty
level: operations for arithmetic, reasoning lines for GSM8K, the level for MATH-500).

Everything that reads model output (``parse_answer``, ``grade``, ``split_steps``) accepts
arbitrary strings and never raises: a malformed answer is wrong, never a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ttc.tasks import arithmetic


@dataclass(frozen=True)
class Task:
    """How to read and grade completions of one kind of problem.

    ``separator`` ends a reasoning step in the text (``;`` for the chains, a newline for
    GSM8K's lines, a blank line for MATH's paragraphs); step boundaries at the token level
    follow from it (:mod:`ttc.steps`). ``chain_correct`` is the exact step oracle where the
    task has one (every step of a completion right), else None: then no column claims it.
    """

    name: str
    separator: str
    #: the final answer a completion states, as text (None when it states none)
    parse_answer: Callable[[str], Any]
    #: ``grade(problem, completion, finished)``: finished and the answer is right
    grade: Callable[[Any, str, bool], bool]
    #: ``is_correct(problem, answer)``: a parsed answer (as ``parse_answer`` gives) is right
    is_correct: Callable[[Any, Any], bool]
    #: the completion cut into its reasoning steps (text, separators removed)
    split_steps: Callable[[str], list[str]]
    chain_correct: Callable[[Any, str], bool] | None = None


def _arithmetic_steps(completion: str) -> list[str]:
    if not isinstance(completion, str) or not completion.strip():
        return []
    return completion.split(arithmetic.STEP_SEP)


ARITHMETIC = Task(
    name="arithmetic",
    separator=arithmetic.STEP_SEP,
    parse_answer=arithmetic.parse_answer,
    grade=arithmetic.grade,
    is_correct=lambda problem, answer: answer is not None and answer == problem.answer,
    split_steps=_arithmetic_steps,
    chain_correct=lambda problem, text: arithmetic.first_error(problem, text) is None,
)
