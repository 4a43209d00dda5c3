"""Diverse verifier tree search (DVTS; Beeching et al. 2024).

Split the budget N into N/M independent subtrees. Each round, every open subtree samples M
next steps from its current chain and keeps only the best-scored one (greedy with respect to
the verifier); a subtree whose best step ends the chain is done. Independent subtrees keep
the final candidates diverse, where beam search's shared top-N/M can collapse onto one
chain. At the step limit an open subtree samples M completions and keeps the best finished
one, so every returned candidate is a whole chain (returning unfinished candidates at the last
step is a known bug of other implementations).
"""

from __future__ import annotations

from collections.abc import Sequence

from ttc.search.base import (
    Candidate,
    DVTSConfig,
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


def dvts(prompts: Sequence[str], policy: StepPolicy, verifier,
         config: DVTSConfig) -> list[SearchResult]:
    """DVTS for every prompt at once; each query returns up to budget // M candidates."""
    width = resolve_width(config.width, config.budget)
    n_trees = max(1, config.budget // width)
    n_queries = len(prompts)
    costs = [SearchCost() for _ in prompts]
    completed: list[list[Candidate]] = [[] for _ in prompts]
    dropped = [0] * n_queries
    trees: list[tuple[int, str]] = [(q, "") for q in range(n_queries) for _ in range(n_trees)]
    for round_index in range(config.max_steps):
        if not trees:
            break
        rows = [(t, q, prefix) for t, (q, prefix) in enumerate(trees) for _ in range(width)]
        steps = policy.next_steps([prompts[q] for _, q, _ in rows], [p for _, _, p in rows],
                                  config.temperature, round_seed(config, round_index))
        per_query_rows = [0] * n_queries
        children: list[list[Candidate]] = [[] for _ in trees]
        for (t, q, prefix), completion in zip(rows, steps, strict=True):
            costs[q].add([completion])
            per_query_rows[q] += 1
            candidate = extend(prefix, completion)
            if candidate is not None:
                children[t].append(candidate)
        for q, count in enumerate(per_query_rows):
            if count:
                costs[q].rounds += 1
                costs[q].max_rows_per_round = max(costs[q].max_rows_per_round, count)
        flat = [(t, c) for t in range(len(trees)) for c in children[t]]
        score_candidates(verifier, [prompts[trees[t][0]] for t, _ in flat], [c for _, c in flat])
        next_trees = []
        for t, (q, _) in enumerate(trees):
            if not children[t]:  # every step ran away: the subtree is lost
                dropped[q] += 1
                continue
            best = max(children[t], key=lambda c: c.value)  # first maximum on ties
            if best.finished:
                completed[q].append(best)
            else:
                next_trees.append((q, best.text))
        trees = next_trees
    # step limit: M completions per open subtree, keep the best finished one
    rows = [(t, q, prefix) for t, (q, prefix) in enumerate(trees) for _ in range(width)]
    finals = finish_chains(policy, verifier, [prompts[q] for _, q, _ in rows],
                           [p for _, _, p in rows], costs, [q for _, q, _ in rows], config,
                           config.max_steps)
    for t, (q, _) in enumerate(trees):
        mine = [c for c in finals[t * width : (t + 1) * width] if c is not None]
        if mine:
            completed[q].append(max(mine, key=lambda c: c.value))
        else:
            dropped[q] += 1
    results = []
    for q in range(n_queries):
        answer, chosen = select(completed[q], config, task_of(policy))
        results.append(SearchResult(completed[q], answer, chosen, costs[q], dropped[q]))
    return results
