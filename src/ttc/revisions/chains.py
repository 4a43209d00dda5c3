"""Sequential revision chains, and how a fixed budget is split between chains and revisions.

A *chain* is a sequence of attempts at one problem, each written by the revision model after
seeing the previous ones (at most the last four). With a budget of B generations, a
sequential:parallel split runs ``B / L`` independent chains of length ``L``: ``L = 1`` is
plain parallel sampling (from the revision model), ``L = B`` is one long chain.

Every split of every budget is read off one set of chains: chain ``j`` is generated to the
longest length any split needs from it (``max{L : j < B_max / L}``), and a split ``(n, L)``
uses the first ``n`` chains cut to their first ``L`` attempts (a chain's first ``L`` attempts
do not depend on what comes after them).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ttc.revisions.data import MAX_HISTORY, revision_prompt
from ttc.sampling import generate
from ttc.selection import select_answer
from ttc.tasks import Problem, grade, parse_answer


def split_lengths(budget: int) -> list[int]:
    """Chain lengths L (powers of two dividing the budget): 1 (all parallel) .. budget."""
    if budget < 1 or budget & (budget - 1):
        raise ValueError(f"budget must be a power of two, got {budget}")
    return [2**i for i in range(int(np.log2(budget)) + 1)]


def chain_lengths(max_budget: int, max_length: int | None = None) -> list[int]:
    """Length each chain ``j`` must reach so that every split of every budget up to
    ``max_budget`` can be read off the first chains; lengths above ``max_length`` are cut."""
    longest = max_budget if max_length is None else min(max_length, max_budget)
    lengths = []
    for j in range(max_budget):
        need = max(L for L in split_lengths(max_budget) if j < max_budget // L)
        lengths.append(min(need, longest))
    return lengths


def generate_chains(model, tokenizer, problems: Sequence[Problem], lengths: Sequence[int],
                    max_new_tokens: int, temperature: float = 1.0, seed: int = 0,
                    batch_size: int = 512, history: int = MAX_HISTORY) -> pd.DataFrame:
    """Chains of attempts for every problem: chain ``j`` has ``lengths[j]`` attempts.

    The model sees the last ``history`` attempts of its chain. All open chains of all
    problems advance together, one attempt per round. Returns one row
    per attempt: ``problem``, ``chain``, ``attempt`` (0-based), ``completion``,
    ``finished``, ``n_tokens`` (generated), ``context_tokens`` (prompt and history read),
    ``answer`` (text, or missing) and ``correct``.
    """
    attempts: dict[tuple[int, int], list[str]] = {
        (p, j): [] for p in range(len(problems)) for j in range(len(lengths))}
    rows = []
    for attempt in range(max(lengths)):
        keys = [(p, j) for (p, j) in attempts if lengths[j] > attempt]
        prompts = [revision_prompt(problems[p].prompt, attempts[(p, j)], history)
                   for p, j in keys]
        outs = generate(model, tokenizer, prompts, max_new_tokens, temperature=temperature,
                        seed=seed * 1_000_003 + attempt, batch_size=batch_size)
        for (p, j), prompt, out in zip(keys, prompts, outs, strict=True):
            attempts[(p, j)].append(out.text)
            answer = parse_answer(out.text) if out.finished else None
            rows.append({"problem": p, "chain": j, "attempt": attempt,
                         "completion": out.text, "finished": out.finished,
                         "n_tokens": out.n_tokens,
                         "context_tokens": len(tokenizer(prompt)["input_ids"]),
                         "answer": None if answer is None else str(answer),
                         "correct": grade(problems[p], out.text, out.finished)})
    frame = pd.DataFrame(rows)
    frame["answer"] = frame["answer"].astype("string")
    return frame


def split_attempts(chains: pd.DataFrame, budget: int, length: int) -> pd.DataFrame:
    """The attempts a split uses: the first ``budget // length`` chains, first ``length``
    attempts of each."""
    if budget % length:
        raise ValueError(f"length {length} does not divide budget {budget}")
    n = budget // length
    return chains[(chains["chain"] < n) & (chains["attempt"] < length)]


SELECTIONS = ("majority", "last majority", "verifier", "oracle")


def select_split(attempts: pd.DataFrame, truth: str, rule: str,
                 scores: np.ndarray | None = None) -> bool:
    """Is the answer a rule picks from one problem's attempts right?

    ``majority``: vote over every attempt; ``last majority``: vote over the last attempt of
    each chain; ``verifier``: weighted best-of-N over every attempt with ``scores`` (one per
    row of ``attempts``); ``oracle``: right if any attempt is right (the ceiling).
    """
    if rule not in SELECTIONS:
        raise ValueError(f"rule must be one of {SELECTIONS}, got {rule!r}")
    if rule == "oracle":
        return bool(attempts["correct"].any())
    rows = attempts
    if rule == "last majority":
        rows = attempts[attempts["attempt"] == attempts.groupby("chain")["attempt"]
                        .transform("max")]
    answers = [None if pd.isna(a) else a for a in rows["answer"]]
    if rule == "verifier":
        if scores is None:
            raise ValueError("rule 'verifier' needs scores")
        return select_answer(answers, list(scores), "weighted") == truth
    return select_answer(answers, rule="majority") == truth


def revised_away(chains: pd.DataFrame) -> tuple[int, int]:
    """How often a right attempt is followed by a wrong one in the same chain:
    ``(right then wrong, right followed by any attempt)``."""
    ordered = chains.sort_values(["problem", "chain", "attempt"])
    nxt = ordered.groupby(["problem", "chain"])["correct"].shift(-1)
    has_next = nxt.notna()
    right = ordered["correct"] & has_next
    return int((right & (nxt == False)).sum()), int(right.sum())  # noqa: E712
