"""Best-of-N: sample N whole chains independently, score them, select one answer."""

from __future__ import annotations

from collections.abc import Sequence

from ttc.search.base import (
    BestOfNConfig,
    Candidate,
    SearchCost,
    SearchResult,
    StepPolicy,
    round_seed,
    score_candidates,
    select,
    task_of,
)


def best_of_n(prompts: Sequence[str], policy: StepPolicy, verifier,
              config: BestOfNConfig) -> list[SearchResult]:
    """N = ``config.budget`` samples per prompt; unfinished samples are never selected."""
    n = config.budget
    rows = [p for p in prompts for _ in range(n)]
    done = policy.complete(rows, [""] * len(rows), config.temperature, round_seed(config, 0))
    results = []
    for q, prompt in enumerate(prompts):
        mine = done[q * n : (q + 1) * n]
        cost = SearchCost(max_rows_per_round=n, rounds=1)
        cost.add(mine)
        finished = [Candidate(c.text, True) for c in mine if c.finished]
        score_candidates(verifier, [prompt] * len(finished), finished)
        answer, chosen = select(finished, config, task_of(policy))
        results.append(SearchResult(finished, answer, chosen, cost, dropped=n - len(finished)))
    return results
