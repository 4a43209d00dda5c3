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
    """Levenshtein distance between two strings (insertions, deletions, substitutions).

    Bit-parallel (Myers 1999, in Hyyrö's 2003 form for the global distance): one column of
    the dynamic-programming table is a pair of bit vectors of vertical +1/-1 differences,
    updated for each character of ``a`` with a few integer operations, so two 100-character
    chains cost about 100 steps instead of 10,000 cells (chapter 6 compares thousands).
    """
    if not b:
        return len(a)
    match: dict[str, int] = {}  # character -> bits of the positions of ``b`` holding it
    for i, char in enumerate(b):
        match[char] = match.get(char, 0) | (1 << i)
    mask = (1 << len(b)) - 1
    last = 1 << (len(b) - 1)
    plus, minus, score = mask, 0, len(b)  # vertical +1 / -1 differences; D[len(b)][0]
    for char in a:
        eq = match.get(char, 0)
        x_vertical = eq | minus
        x_horizontal = (((eq & plus) + plus) ^ plus) | eq
        h_plus = minus | ~(x_horizontal | plus)
        h_minus = plus & x_horizontal
        if h_plus & last:
            score += 1
        elif h_minus & last:
            score -= 1
        h_plus = (h_plus << 1) | 1  # row 0 of the table grows by 1 per character of ``a``
        h_minus <<= 1
        plus = (h_minus | ~(x_vertical | h_plus)) & mask
        minus = h_plus & x_vertical & mask
    return score


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
            closest = sorted(wrong, key=lambda w, t=target: (edit_distance(w, t), w))[:k] \
                if k else []
            rng.shuffle(closest)
            prompt = revision_prompt(problems[index].prompt, closest, len(closest))
            out.append(RevisionExample(int(index), prompt, target, k))
    return out
