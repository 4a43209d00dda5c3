"""Left-to-right arithmetic chains: the book's running test-time-compute task.

A problem is a first operand followed by ``(op, operand)`` pairs that are evaluated strictly
left to right, with no operator precedence::

    prompt:    47+38-25*3=
    solution:  47+38=85;85-25=60;60*3=180
    answer:    180

The solution is a chain of thought with exactly one step per operation, so the task has a
controllable difficulty knob (the number of operations), a cheap exact verifier for the final
answer (:func:`grade`), and a cheap exact *step* oracle (:func:`step_labels`) for process
supervision. Intermediate values may be negative (``12-30=-18;-18*3=-54``); a leading ``-`` on
a number is a minus sign, operands written in the prompt are always positive.

Everything that reads model output (:func:`parse_steps`, :func:`parse_answer`, :func:`grade`,
:func:`step_labels`, :func:`first_error`) accepts arbitrary strings and never raises.
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "OPS",
    "SPLITS",
    "Problem",
    "Step",
    "TaskConfig",
    "apply_op",
    "first_error",
    "generate_problems",
    "grade",
    "parse_answer",
    "parse_steps",
    "sample_problem",
    "split_of",
    "step_labels",
    "train_stream",
    "training_text",
]

OPS = "+-*"
"""All supported operators."""

SPLITS = ("train", "val", "test")
"""Split names returned by :func:`split_of`."""

MAX_OPS_LIMIT = 12
"""Hard upper bound on the number of operations in one problem."""

STEP_SEP = ";"
"""Separator between chain-of-thought steps."""


def apply_op(left: int, op: str, right: int) -> int:
    """Apply one operator; the single source of truth for the task's arithmetic."""
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    raise ValueError(f"unknown op {op!r}; allowed: {OPS!r}")


@dataclass(frozen=True)
class TaskConfig:
    """Distribution of problems.

    ``+`` and ``-`` draw their operand from ``operand_min..operand_max`` (as does the first
    operand); ``*`` draws it from ``2..mul_max``. Every intermediate value stays within
    ``±max_abs``, which keeps numbers (and hence sequence lengths) bounded.
    """

    min_ops: int = 1
    max_ops: int = 8
    operand_min: int = 10
    operand_max: int = 99
    mul_max: int = 9
    ops: str = OPS
    max_abs: int = 9999

    def __post_init__(self) -> None:
        if not 1 <= self.min_ops <= self.max_ops <= MAX_OPS_LIMIT:
            raise ValueError(
                f"min_ops={self.min_ops}, max_ops={self.max_ops}: need "
                f"1 <= min_ops <= max_ops <= {MAX_OPS_LIMIT}"
            )
        if not 0 <= self.operand_min <= self.operand_max:
            raise ValueError(
                f"operand_min={self.operand_min}, operand_max={self.operand_max}: need "
                "0 <= operand_min <= operand_max"
            )
        if self.mul_max < 2:
            raise ValueError(f"mul_max={self.mul_max}: need mul_max >= 2")
        if not self.ops or not set(self.ops) <= set(OPS) or len(set(self.ops)) != len(self.ops):
            raise ValueError(
                f"ops={self.ops!r}: need a non-empty subset of {OPS!r} without repeats"
            )
        if self.max_abs < self.operand_max:
            raise ValueError(
                f"max_abs={self.max_abs}: need max_abs >= operand_max ({self.operand_max})"
            )

    def operand_range(self, op: str) -> tuple[int, int]:
        """Inclusive range the operand of ``op`` is drawn from."""
        return (2, self.mul_max) if op == "*" else (self.operand_min, self.operand_max)


@dataclass(frozen=True)
class Problem:
    """One chain: ``first`` then ``steps`` applied left to right."""

    first: int
    steps: tuple[tuple[str, int], ...]

    def __post_init__(self) -> None:
        for op, _ in self.steps:
            if op not in OPS:
                raise ValueError(f"unknown op {op!r} in steps; allowed: {OPS!r}")

    @property
    def n_ops(self) -> int:
        """Number of operations (= number of chain-of-thought steps)."""
        return len(self.steps)

    @property
    def prompt(self) -> str:
        """Model input, e.g. ``"47+38-25*3="``."""
        return str(self.first) + "".join(f"{op}{x}" for op, x in self.steps) + "="

    @property
    def values(self) -> list[int]:
        """Running value after each step (length ``n_ops``; the last one is the answer)."""
        out: list[int] = []
        v = self.first
        for op, x in self.steps:
            v = apply_op(v, op, x)
            out.append(v)
        return out

    @property
    def answer(self) -> int:
        """Final result of the chain."""
        return self.values[-1] if self.steps else self.first

    @property
    def step_texts(self) -> list[str]:
        """Reference step strings, e.g. ``["47+38=85", "85-25=60", "60*3=180"]``."""
        out: list[str] = []
        v = self.first
        for op, x in self.steps:
            nv = apply_op(v, op, x)
            out.append(f"{v}{op}{x}={nv}")
            v = nv
        return out

    @property
    def solution(self) -> str:
        """Reference chain of thought, steps joined by ``;`` (no terminator)."""
        return STEP_SEP.join(self.step_texts)


def _valid_hi(config: TaskConfig, value: int, op: str) -> int:
    """Largest operand for ``op`` keeping ``value op operand`` within ``±max_abs``.

    Operands are positive, so for each op the valid operands form a prefix of its range;
    the caller intersects with the lower bound.
    """
    m = config.max_abs
    if op == "+":
        return m - value
    if op == "-":
        return value + m
    return m // abs(value) if value else config.mul_max


def _sample_once(rng: random.Random, config: TaskConfig, n_ops: int) -> Problem | None:
    """One attempt at a problem; None if the chain got stuck (only possible for odd configs)."""
    first = rng.randint(config.operand_min, config.operand_max)
    v = first
    steps: list[tuple[str, int]] = []
    for _ in range(n_ops):
        # Choose uniformly among the ops that still have an in-range operand, then the
        # operand uniformly among its in-range values. Exact and O(1): no rejection loop.
        choices: list[tuple[str, int, int]] = []
        for op in config.ops:
            lo, hi = config.operand_range(op)
            hi = min(hi, _valid_hi(config, v, op))
            if lo <= hi:
                choices.append((op, lo, hi))
        if not choices:
            return None
        op, lo, hi = choices[rng.randrange(len(choices))]
        x = rng.randint(lo, hi)
        steps.append((op, x))
        v = apply_op(v, op, x)
    return Problem(first, tuple(steps))


def sample_problem(rng: random.Random, config: TaskConfig, n_ops: int) -> Problem:
    """Draw one problem with exactly ``n_ops`` operations, deterministic given ``rng``'s state.

    With both ``+`` and ``-`` available a valid next step always exists; for restricted
    ``ops`` a chain can get stuck, in which case it is redrawn from scratch.
    """
    if not 1 <= n_ops <= MAX_OPS_LIMIT:
        raise ValueError(f"n_ops={n_ops}: need 1 <= n_ops <= {MAX_OPS_LIMIT}")
    for _ in range(1000):
        problem = _sample_once(rng, config, n_ops)
        if problem is not None:
            return problem
    raise ValueError(
        f"cannot build {n_ops}-op chains within max_abs={config.max_abs} with ops={config.ops!r}"
    )


def split_of(prompt: str) -> str:
    """Split ("train" / "val" / "test") of a prompt, a pure function of its text.

    ``bucket = int(sha256(prompt)[:8], 16) % 100``; buckets 0-9 are test (10%), 10-14 are
    val (5%), the rest train (85%). Because the split depends only on the prompt string, the
    same problem can never land in two splits, whatever seed, config or generator produced it.
    """
    bucket = int(hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:8], 16) % 100
    if bucket < 10:
        return "test"
    if bucket < 15:
        return "val"
    return "train"


def generate_problems(config: TaskConfig, split: str, n_per_ops: int, seed: int) -> list[Problem]:
    """Generate ``n_per_ops`` distinct ``split`` problems for each ``n_ops`` (a fixed set).

    Ordered by ``n_ops`` then generation order. Each ``n_ops`` has its own RNG seeded from
    ``(seed, n_ops)``, so a smaller ``n_per_ops`` gives a prefix of a larger one.
    """
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: allowed {SPLITS}")
    if n_per_ops < 0:
        raise ValueError(f"n_per_ops={n_per_ops}: need n_per_ops >= 0")
    return list(_generated(config, split, n_per_ops, seed))


@functools.lru_cache(maxsize=32)
def _generated(config: TaskConfig, split: str, n_per_ops: int, seed: int) -> tuple[Problem, ...]:
    """:func:`generate_problems`, remembered: a test set of 1,000 problems takes about a
    second to draw, and every chapter (and each of its worker jobs) asks for it again.
    Problems are frozen, so the remembered ones are shared safely."""
    out: list[Problem] = []
    for n_ops in range(config.min_ops, config.max_ops + 1):
        rng = random.Random(f"ttc.arithmetic:{seed}:{n_ops}")
        seen: set[str] = set()
        budget = 200 * n_per_ops + 10_000
        while len(seen) < n_per_ops:
            if budget == 0:
                raise ValueError(
                    f"n_per_ops={n_per_ops}: could not find that many distinct {split} "
                    f"problems with n_ops={n_ops}"
                )
            budget -= 1
            p = sample_problem(rng, config, n_ops)
            prompt = p.prompt
            if prompt not in seen and split_of(prompt) == split:
                seen.add(prompt)
                out.append(p)
    return tuple(out)


def train_stream(config: TaskConfig, seed: int) -> Iterator[Problem]:
    """Infinite deterministic stream of training-split problems, ``n_ops`` uniform.

    Repeats are possible (the space of short chains is small); val/test prompts never appear.
    """
    rng = random.Random(f"ttc.arithmetic.train:{seed}")
    while True:
        p = sample_problem(rng, config, rng.randint(config.min_ops, config.max_ops))
        if split_of(p.prompt) == "train":
            yield p


def training_text(problem: Problem) -> str:
    """Full training document ``prompt + solution``; BOS/EOS are added at tokenization."""
    return problem.prompt + problem.solution


# ---------------------------------------------------------------------------------------------
# Parsing and grading of model output.

# Canonical integers only (no leading zeros, no "-0", ASCII digits, bounded length) so that a
# well-formed step has exactly one spelling and parsing huge garbage numbers stays cheap.
_INT = r"(?:0|-?[1-9][0-9]{0,39})"
_POS = r"(?:0|[1-9][0-9]{0,39})"
_STEP_RE = re.compile(rf"({_INT})([+\-*])({_POS})=({_INT})")


@dataclass(frozen=True)
class Step:
    """One parsed chain-of-thought step ``left op right = result`` (not necessarily correct)."""

    left: int
    op: str
    right: int
    result: int


def _parse_step(text: str) -> Step | None:
    m = _STEP_RE.fullmatch(text.strip())
    if m is None:
        return None
    return Step(int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4)))


def parse_steps(completion: str) -> list[Step | None]:
    """Split a completion on ``;`` and parse each piece; malformed pieces become None.

    An empty (or all-whitespace) completion has no steps. A trailing ``;`` yields a final None
    (an unfinished step). Never raises.
    """
    if not isinstance(completion, str) or not completion.strip():
        return []
    return [_parse_step(part) for part in completion.split(STEP_SEP)]


def parse_answer(completion: str) -> int | None:
    """Return the last step's result if that step is well formed, else None. Never raises."""
    steps = parse_steps(completion)
    if not steps or steps[-1] is None:
        return None
    return steps[-1].result


def grade(problem: Problem, completion: str, finished: bool = True) -> bool:
    """Outcome verifier: the completion finished (emitted EOS) and its answer is correct."""
    return finished and parse_answer(completion) == problem.answer


def step_labels(problem: Problem, completion: str) -> list[bool]:
    """Process oracle: one label per ``;``-separated step of the completion.

    Label ``i`` is True iff steps ``0..i`` are all correct. Step ``i`` is correct iff it is
    well formed, its left operand is the true running value before it, its op and right
    operand are the problem's ``i``-th pair, and its result is the true value. Steps beyond
    ``n_ops`` are wrong. Never raises.
    """
    labels: list[bool] = []
    ok = True
    prev = problem.first
    values = problem.values
    for i, step in enumerate(parse_steps(completion)):
        if ok:
            ok = (
                step is not None
                and i < problem.n_ops
                and step.left == prev
                and (step.op, step.right) == problem.steps[i]
                and step.result == values[i]
            )
            if ok:
                prev = values[i]
        labels.append(ok)
    return labels


def first_error(problem: Problem, completion: str) -> int | None:
    """Index of the first wrong step, or None if the chain is correct and complete.

    A correct but incomplete chain reports the index of the first missing step.
    """
    labels = step_labels(problem, completion)
    for i, good in enumerate(labels):
        if not good:
            return i
    return None if len(labels) == problem.n_ops else len(labels)
