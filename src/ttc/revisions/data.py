"""Training data for a revision model, from the policy's own samples (Snell et al. 2024, §6).

A training sequence is 0–4 *incorrect* attempts at a problem, the problem, then a *correct*
attempt; the model learns to write the correct attempt after seeing the others. The
incorrect attempts are the policy's own wrong samples of that problem, chosen closest to the
correct attempt by character edit distance (so the model learns to repair near misses rather
than to ignore unrelated text), in random order. Attempts are joined by
:data:`ATTEMPT_SEP`, a token the base vocabulary does not have; the revision model's
tokenizer adds it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ttc.tasks import Problem

ATTEMPT_SEP = "|"
MAX_HISTORY = 4  # attempts the model sees at generation time (Snell et al.: the last four)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings (insertions, deletions, substitutions)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def revision_prompt(problem_prompt: str, attempts: Sequence[str],
                    history: int = MAX_HISTORY) -> str:
    """What the revision model reads before writing its next attempt: the last ``history``
    attempts, each followed by the separator, then the problem.

    Snell et al. put the question first; here it comes last, right before the new attempt,
    so that writing the attempt looks exactly like pretraining (prompt, then solution) and a
    small model only has to learn to *use* the attempts, not to find the question behind
    them. A causal model sees the same information either way.
    """
    kept = list(attempts)[-history:] if history > 0 else []
    return "".join(a + ATTEMPT_SEP for a in kept) + problem_prompt


@dataclass(frozen=True)
class RevisionExample:
    """One training sequence: ``prompt`` (problem and earlier attempts) and ``target``."""

    problem: int
    prompt: str
    target: str
    n_wrong: int


def revision_examples(problems: Sequence[Problem], samples: pd.DataFrame,
                      max_wrong: int = MAX_HISTORY, per_problem: int = 4,
                      seed: int = 0, reference_when_unsolved: bool = False
                      ) -> list[RevisionExample]:
    """Up to ``per_problem`` sequences for every problem with at least one correct sample.

    Each draws a correct sample as the target and ``k ~ uniform{0..max_wrong}`` wrong
    samples (finished ones with a wrong answer), the ``k`` closest to the target by edit
    distance, shuffled. Problems with no correct sample contribute nothing, unless
    ``reference_when_unsolved`` makes the task's reference solution their target (for
    policies too weak to solve anything, such as the smoke profile's).
    """
    if max_wrong < 0:
        raise ValueError(f"max_wrong must be >= 0, got {max_wrong}")
    rng = random.Random(seed)
    out = []
    for index, group in samples.groupby("problem", sort=True):
        right = sorted(set(group.loc[group["correct"], "completion"]))
        wrong = sorted(set(group.loc[group["finished"] & ~group["correct"], "completion"]))
        if not right and reference_when_unsolved:
            right = [problems[index].solution]
        if not right:
            continue
        for _ in range(per_problem):
            target = rng.choice(right)
            k = rng.randint(0, min(max_wrong, len(wrong)))
            closest = sorted(wrong, key=lambda w, t=target: (edit_distance(w, t), w))[:k]
            rng.shuffle(closest)
            prompt = revision_prompt(problems[index].prompt, closest, len(closest))
            out.append(RevisionExample(int(index), prompt, target, k))
    return out
