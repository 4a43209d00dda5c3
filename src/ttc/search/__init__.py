"""Search against a verifier: best-of-N, beam search, lookahead search, DVTS.

One registry maps a method name to its config dataclass and its function; every function
takes ``(prompts, policy, verifier, config)`` and returns one :class:`SearchResult` per prompt.
:func:`run_search` runs a method on task problems and returns a tidy table with the exact cost
of every query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import pandas as pd

from ttc.config import ConfigError, build_config
from ttc.flops import charged_flops
from ttc.search.base import (
    BeamConfig,
    BestOfNConfig,
    Candidate,
    DVTSConfig,
    LMStepPolicy,
    LookaheadConfig,
    SearchConfig,
    SearchCost,
    SearchResult,
    StepPolicy,
    resolve_width,
    task_of,
)
from ttc.search.beam import beam_search
from ttc.search.best_of_n import best_of_n
from ttc.search.dvts import dvts
from ttc.tasks import Problem


@dataclass(frozen=True)
class Method:
    """A search method: its config class and the function that runs it."""

    config_cls: type
    run: Callable[..., list[SearchResult]]


METHODS: dict[str, Method] = {
    "best_of_n": Method(BestOfNConfig, best_of_n),
    "beam": Method(BeamConfig, beam_search),
    "lookahead": Method(LookaheadConfig, beam_search),
    "dvts": Method(DVTSConfig, dvts),
}


def method_config(method: str, **params) -> SearchConfig:
    """The validated config of ``method``; unknown methods or parameters name what is allowed."""
    if method not in METHODS:
        raise ConfigError(f"search method must be one of {', '.join(map(repr, METHODS))}; "
                          f"got {method!r}")
    return build_config(METHODS[method].config_cls, params)


def _flops(n_params: int | None, tokens: int) -> float:
    """2·N per token; nothing charged at N = 0 (work already paid for); NaN for no N."""
    return float("nan") if n_params is None else charged_flops(n_params, tokens)


def run_search(method: str, config: SearchConfig, problems: Sequence[Problem],
               policy: StepPolicy, verifier, policy_params: int | None = None,
               verifier_params: int | None = None) -> pd.DataFrame:
    """Run one method on ``problems``; one row per problem with answer, grade and cost.

    Answers are read and graded by the policy's task (:func:`ttc.search.base.task_of`);
    ``chain_correct`` (every step of the chosen chain right) needs the task's step oracle
    and is missing for tasks without one.

    FLOPs are 2·N per token for the policy's generated tokens and the verifier's read tokens
    (``policy_params`` / ``verifier_params`` are the non-embedding parameter counts; FLOPs
    are NaN where a count is not given). ``verifier_params`` is what the verifier is charged
    at: 0 for the policy's own likelihood, whose scores are sums of the log-probabilities the
    sampler kept of the steps it drew (:class:`LMStepPolicy`), so they cost nothing more
    (:class:`ttc.verifiers.LikelihoodVerifier` computes the same numbers by re-reading
    each chain, which a search need not do). Prompt tokens, and the prefixes the policy and
    the verifier read again at every round, are not charged (a prefix cache keeps them).
    """
    if not isinstance(config, METHODS[method].config_cls):
        raise TypeError(f"method {method!r} needs a {METHODS[method].config_cls.__name__}")
    results = METHODS[method].run([p.prompt for p in problems], policy, verifier, config)
    params = {f.name: getattr(config, f.name) for f in fields(config)}
    task = task_of(policy)
    rows = []
    for index, (problem, result) in enumerate(zip(problems, results, strict=True)):
        chosen = result.chosen.text if result.chosen is not None else None
        cost = result.cost
        correct = task.is_correct(problem, result.answer)
        rows.append({
            "method": method, **params, "problem": index, "n_ops": problem.n_ops,
            "answer": None if result.answer is None else str(result.answer),
            "correct": correct,
            # a task without a step oracle (word problems) cannot tell: missing, not False
            "chain_correct": (chosen is not None and correct
                              and task.chain_correct(problem, chosen))
            if task.chain_correct is not None else None,
            "chosen": chosen, "n_candidates": len(result.candidates), "dropped": result.dropped,
            "rounds": cost.rounds, "policy_tokens": cost.policy_tokens,
            "verifier_tokens": cost.verifier_tokens,
            "policy_flops": _flops(policy_params, cost.policy_tokens),
            "verifier_flops": _flops(verifier_params, cost.verifier_tokens),
        })
    frame = pd.DataFrame(rows)
    frame["width"] = frame["width"].astype(str) if "width" in frame else "-"
    return frame


__all__ = [
    "METHODS",
    "BeamConfig",
    "BestOfNConfig",
    "Candidate",
    "DVTSConfig",
    "LMStepPolicy",
    "LookaheadConfig",
    "Method",
    "SearchConfig",
    "SearchCost",
    "SearchResult",
    "StepPolicy",
    "beam_search",
    "best_of_n",
    "dvts",
    "method_config",
    "resolve_width",
    "run_search",
]
