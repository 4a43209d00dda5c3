"""Training data for verifiers, built from the policy's own samples.

Outcome labels (ORM) are the graded answers of finished samples. Process labels (PRM) follow
Math-Shepherd (Wang et al. 2024) as used by Snell et al. (2024): no step-level ground truth is
used. For every step prefix of a sample, ``n_rollouts`` continuations are sampled from the
policy; the label is the fraction of them that reach the right final answer (a soft label,
the prefix's value under the policy). The last step's label is the sample's own outcome. The
task's exact step checker is kept aside, only to measure how well these labels agree with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ttc import steps
from ttc.tasks import STEP_SEP, Problem, first_error, grade, step_labels


@dataclass(frozen=True)
class VerifierExample:
    """One chain with a target per step end (``;`` and a final ``<eos>``); NaN = no target."""

    prompt: str
    completion: str
    finished: bool
    labels: tuple[float, ...]


def n_step_ends(completion: str, finished: bool, separator: str = STEP_SEP) -> int:
    """How many scores a chain gets: one per separator, plus one at ``<eos>`` if finished."""
    return steps.n_step_ends(completion, finished, separator)


def step_prefixes(completion: str, separator: str = STEP_SEP) -> list[str]:
    """Every prefix of ``completion`` that ends at a step separator (separator included)."""
    return steps.step_prefixes(completion, separator)


def outcome_examples(problems: Sequence[Problem], samples: pd.DataFrame) -> list[VerifierExample]:
    """ORM data: every finished sample, labelled only at ``<eos>`` with its correctness."""
    out = []
    for row in samples.itertuples(index=False):
        if not row.finished:
            continue  # no final answer to judge
        n_sep = row.completion.count(STEP_SEP)
        out.append(VerifierExample(problems[row.problem].prompt, row.completion, True,
                                   (math.nan,) * n_sep + (float(row.correct),)))
    return out


def checker_labels(problem: Problem, completion: str, finished: bool) -> list[float]:
    """The exact checker's label at every step end of a chain: 1 while every step so far is
    right, and at ``<eos>`` 1 only if the chain is right and complete (what
    :class:`ttc.verifiers.OracleVerifier` scores)."""
    n = n_step_ends(completion, finished)
    labels = [float(x) for x in step_labels(problem, completion)[:n]]
    labels += [0.0] * (n - len(labels))
    if finished and labels:
        labels[-1] = float(first_error(problem, completion) is None)
    return labels


def checker_examples(problems: Sequence[Problem], samples: pd.DataFrame
                     ) -> list[VerifierExample]:
    """Step labels from the exact checker for every sample (finished or not): the
    ground-truth control for a process verifier, and the labels a generative verifier is
    trained on (the checker never runs at test time)."""
    return [VerifierExample(problems[row.problem].prompt, row.completion, bool(row.finished),
                            tuple(checker_labels(problems[row.problem], row.completion,
                                                 bool(row.finished))))
            for row in samples.itertuples(index=False)]


def monte_carlo_examples(
    policy, problems: Sequence[Problem], samples: pd.DataFrame, n_rollouts: int,
    temperature: float = 1.0, seed: int = 0,
) -> tuple[list[VerifierExample], pd.DataFrame]:
    """PRM data from Monte-Carlo rollouts, and a table comparing the labels with the oracle.

    ``policy`` completes partial chains (``complete(prompts, prefixes, temperature, seed)``,
    e.g. :class:`ttc.search.LMStepPolicy`); ``samples`` is a table as written by
    :func:`ttc.sampling.draw_samples`. Identical prefixes of one problem share their
    rollouts. Returns the examples (one per sample) and a table with one row per distinct
    (problem, prefix): ``problem``, ``n_ops``, ``step`` (0-based), ``mc_label``, ``oracle``
    (every step so far right), ``rollout_tokens``.
    Only samples whose steps all end in a separator or ``<eos>`` get a label per step; the
    unterminated tail of an unfinished sample gets none.
    """
    if n_rollouts < 1:
        raise ValueError(f"n_rollouts must be >= 1, got {n_rollouts}")
    prefixes: dict[tuple[int, str], int] = {}  # (problem, prefix) -> row in the table
    for row in samples.itertuples(index=False):
        for prefix in step_prefixes(row.completion):
            prefixes.setdefault((row.problem, prefix), len(prefixes))
    keys = list(prefixes)
    rollouts = policy.complete([problems[i].prompt for i, _ in keys for _ in range(n_rollouts)],
                               [prefix for _, prefix in keys for _ in range(n_rollouts)],
                               temperature, seed)
    wins = np.zeros(len(keys))
    tokens = np.zeros(len(keys), dtype=int)
    for j, rollout in enumerate(rollouts):
        i, prefix = keys[j // n_rollouts]
        wins[j // n_rollouts] += grade(problems[i], prefix + rollout.text, rollout.finished)
        tokens[j // n_rollouts] += rollout.n_tokens
    value = wins / n_rollouts
    table = pd.DataFrame({
        "problem": [i for i, _ in keys],
        "n_ops": [problems[i].n_ops for i, _ in keys],
        "step": [prefix.count(STEP_SEP) - 1 for _, prefix in keys],
        "mc_label": value,
        "oracle": [step_labels(problems[i], prefix)[prefix.count(STEP_SEP) - 1]
                   for i, prefix in keys],
        "rollout_tokens": tokens,
    })
    examples = []
    for row in samples.itertuples(index=False):
        labels = [float(value[prefixes[(row.problem, p)]])
                  for p in step_prefixes(row.completion)]
        if row.finished:
            labels.append(float(row.correct))
        examples.append(VerifierExample(problems[row.problem].prompt, row.completion,
                                        bool(row.finished), tuple(labels)))
    return examples, table
