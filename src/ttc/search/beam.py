"""Beam search over reasoning steps against a process verifier, with optional lookahead.

Snell et al. (2024), section 5: keep N chains; at every round extend each by one sampled step,
score the new step with the PRM, keep the top N/M chains and expand each M times. Chains that
reach ``<eos>`` leave the beam as finished candidates, and the beam shrinks so that at most N
candidates finish. After ``max_steps`` rounds the chains still open are completed in one go
(so every returned candidate is a whole chain). The answer is chosen over the finished
candidates by weighted best-of-N.

Lookahead search scores a new step instead by the PRM's score at the end of a greedy
(temperature 0) rollout ``k`` steps further; the rollout is thrown away. Each step then costs
k + 1 generations, so with a budget B it keeps N = B // (k + 1) chains; beam search is
lookahead with k = 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ttc.search.base import (
    BeamConfig,
    Candidate,
    LookaheadConfig,
    SearchCost,
    SearchResult,
    StepPolicy,
    extend,
    finish_chains,
    resolve_width,
    round_seed,
    score_candidates,
    select,
    task_of,
)


def _lookahead_values(policy: StepPolicy, verifier, prompts: list[str],
                      candidates: list[Candidate], owners: list[int], costs: list[SearchCost],
                      k: int, seed: int) -> list[float]:
    """Score of each open candidate after a greedy rollout of up to ``k`` more steps."""
    texts = [c.text for c in candidates]
    finished = [False] * len(candidates)
    rows_per_round = [0] * len(costs)
    for step in range(k):
        open_rows = [i for i, f in enumerate(finished) if not f]
        if not open_rows:
            break
        steps = policy.next_steps([prompts[i] for i in open_rows],
                                  [texts[i] for i in open_rows], 0.0, seed + step)
        for i, completion in zip(open_rows, steps, strict=True):
            costs[owners[i]].add([completion])
            rows_per_round[owners[i]] += 1
            if completion.finished or completion.stopped:
                texts[i] += completion.text
                finished[i] = completion.finished
            else:  # a runaway step: score what was there before it
                finished[i] = True
    for cost, rows in zip(costs, rows_per_round, strict=True):
        cost.max_rollout_rows_per_round = max(cost.max_rollout_rows_per_round, rows)
    scored = [Candidate(t, f) for t, f in zip(texts, finished, strict=True)]
    score_candidates(verifier, prompts, scored)
    return [c.value for c in scored]


def beam_search(prompts: Sequence[str], policy: StepPolicy, verifier,
                config: BeamConfig) -> list[SearchResult]:
    """Beam (or, with a :class:`LookaheadConfig`, lookahead) search for every prompt at once."""
    k = config.lookahead if isinstance(config, LookaheadConfig) else 0
    n = config.budget // (k + 1)
    width = resolve_width(config.width, n)
    n_queries = len(prompts)
    costs = [SearchCost() for _ in prompts]
    completed: list[list[Candidate]] = [[] for _ in prompts]
    dropped = [0] * n_queries
    frontier: list[list[str]] = [[""] * n for _ in prompts]  # prefixes to extend this round
    for round_index in range(config.max_steps):
        owners = [q for q in range(n_queries) for _ in frontier[q]]
        if not owners:
            break
        prefixes = [p for q in range(n_queries) for p in frontier[q]]
        steps = policy.next_steps([prompts[q] for q in owners], prefixes, config.temperature,
                                  round_seed(config, round_index))
        for q in range(n_queries):
            if frontier[q]:
                costs[q].rounds += 1
                costs[q].max_rows_per_round = max(costs[q].max_rows_per_round,
                                                  len(frontier[q]))
        candidates: list[list[Candidate]] = [[] for _ in prompts]
        for q, prefix, completion in zip(owners, prefixes, steps, strict=True):
            costs[q].add([completion])
            candidate = extend(prefix, completion)
            if candidate is None:
                dropped[q] += 1
            else:
                candidates[q].append(candidate)
        flat = [(q, c) for q in range(n_queries) for c in candidates[q]]
        score_candidates(verifier, [prompts[q] for q, _ in flat], [c for _, c in flat])
        values = {id(c): c.value for _, c in flat}
        if k > 0:
            open_flat = [(q, c) for q, c in flat if not c.finished]
            looked = _lookahead_values(policy, verifier, [prompts[q] for q, _ in open_flat],
                                       [c for _, c in open_flat], [q for q, _ in open_flat],
                                       costs, k, round_seed(config, 10_000 + round_index))
            values.update({id(c): v for (_, c), v in zip(open_flat, looked, strict=True)})
        for q in range(n_queries):
            completed[q] += [c for c in candidates[q] if c.finished]
            slots = n - len(completed[q]) - dropped[q]
            open_ = [c for c in candidates[q] if not c.finished]
            if slots <= 0 or not open_:
                frontier[q] = []
                continue
            ranked = sorted(open_, key=lambda c: -values[id(c)])  # stable: ties keep order
            keep = ranked[: math.ceil(slots / width)]
            frontier[q] = [c.text for c in keep for _ in range(width)][:slots]
    # step limit: complete whatever is still open, one sampled completion per slot
    owners = [q for q in range(n_queries) for _ in frontier[q]]
    prefixes = [p for q in range(n_queries) for p in frontier[q]]
    finals = finish_chains(policy, verifier, [prompts[q] for q in owners], prefixes, costs,
                           owners, config, config.max_steps)
    for q, candidate in zip(owners, finals, strict=True):
        if candidate is None:
            dropped[q] += 1
        else:
            completed[q].append(candidate)
    results = []
    for q in range(n_queries):
        answer, chosen = select(completed[q], config, task_of(policy))
        results.append(SearchResult(completed[q], answer, chosen, costs[q], dropped[q]))
    return results
