"""Scoring many chains with several verifiers, on worker processes.

Scoring chapter 3's test samples with a verifier is one forward pass per chain (a GenRM-CoT
one writes rationales too), and the verifiers of chapter 4 are independent of each other: on
a CPU each (verifier, slice of chains) pair is a job of :func:`ttc.parallel.run_jobs`, one
torch thread each, so two cores score two slices at once instead of sharing one forward pass
between two threads. A job loads its verifier from its checkpoint, so the parent sends paths,
not models.

Results do not depend on the number of workers: the distinct chains are put in the order in
which :class:`ttc.verifiers.scoring.MemoizedVerifier` batches them (by length, then text) and
cut into slices of whole batches, so every verifier scores the same batches as it would in one
process, and a GenRM-CoT draws the same rationales (each chain's from its own random
stream, and with the same batches even the last bits of the batched arithmetic agree).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: the batch every verifier here scores at; slices are whole multiples of it
BATCH = 256
#: kinds of scorer a spec can name
KINDS = ("scalar", "likelihood", "generative", "checker")


@dataclass(frozen=True)
class ScorerSpec:
    """How a worker builds one verifier: ``kind`` is ``"scalar"`` (ORM/PRM checkpoint),
    ``"likelihood"`` (a family member's checkpoint), ``"generative"`` (GenRM; GenRM-CoT when
    ``max_rationale_tokens`` > 0) or ``"checker"`` (the exact checker, no model). With
    ``per_trajectory`` a GenRM-CoT returns each chain's (K, steps) trajectory scores
    instead of their mean."""

    kind: str
    path: str | None = None
    n_rationales: int = 1
    max_rationale_tokens: int = 0
    seed: int = 0
    per_trajectory: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind != "checker" and not self.path:
            raise ValueError(f"a {self.kind!r} scorer needs a checkpoint path")
        if self.per_trajectory and self.kind != "generative":
            raise ValueError(f"per_trajectory scores need a 'generative' scorer, not "
                             f"{self.kind!r}")

    def cost(self) -> float:
        """Rough work per chain, to start the longest jobs first."""
        return 1.0 + self.n_rationales * self.max_rationale_tokens / 4.0


def build_scorer(spec: ScorerSpec, device: str, problems: Sequence, batch: int = BATCH):
    """The verifier a spec names, loaded on ``device``, scoring ``batch`` chains at a time."""
    from ttc.family.train import load_member
    from ttc.verifiers import (
        LikelihoodVerifier,
        OracleVerifier,
        load_generative_verifier,
        load_verifier,
    )

    if spec.kind == "checker":
        return OracleVerifier(problems)
    if spec.kind == "scalar":
        return load_verifier(spec.path, device=device, batch_size=batch)
    if spec.kind == "likelihood":
        model, tokenizer = load_member(spec.path, device=device)
        return LikelihoodVerifier(model, tokenizer, batch_size=batch)
    return load_generative_verifier(spec.path, n_rationales=spec.n_rationales,
                                    max_rationale_tokens=spec.max_rationale_tokens,
                                    seed=spec.seed, device=device, batch_size=batch,
                                    per_trajectory=spec.per_trajectory)


def score_job(job) -> tuple[list[np.ndarray], int, float]:
    """One verifier on one slice of chains (a job of :func:`ttc.parallel.run_jobs`): ``job``
    is (spec, device, problems, keys, batch). Returns the step scores of each key, the tokens
    the verifier processed and the seconds it took."""
    spec, device, problems, keys, batch = job
    judge = build_scorer(spec, device, problems, batch)
    start = time.perf_counter()
    prompts, completions, finished = zip(*keys, strict=True) if keys else ((), (), ())
    scores = judge.step_scores(list(prompts), list(completions), list(finished))
    tokens = judge.tokens.total if hasattr(judge, "tokens") else 0
    return scores, int(tokens), time.perf_counter() - start


def batch_order(keys: Sequence[tuple[str, str, bool]]) -> list[tuple[str, str, bool]]:
    """The distinct keys in the order a memoised verifier batches them."""
    return sorted(set(keys), key=lambda k: (len(k[0]) + len(k[1]), k))


def score_chains(specs: Mapping[str, ScorerSpec], prompts: Sequence[str],
                 completions: Sequence[str], finished: Sequence[bool], problems: Sequence,
                 device: str = "cpu", slices: int = 4, desc: str = "score",
                 progress: bool = True, batch: int = BATCH
                 ) -> dict[str, tuple[list[np.ndarray], int, float]]:
    """Every named verifier's step scores of every chain, with the tokens it processed and
    its seconds (summed over its jobs): ``{name: (scores, tokens, seconds)}``.

    Each verifier's chains are cut into about ``slices`` slices of whole batches of
    ``batch`` chains. On a CPU
    the jobs run on worker processes; on another device one after the other here.
    """
    from ttc.devices import resolve_device
    from ttc.parallel import run_jobs

    keys = list(zip(prompts, completions, (bool(f) for f in finished), strict=True))
    order = batch_order(keys)
    per_slice = batch * max(1, -(-len(order) // (batch * max(1, slices))))
    pieces = [order[start : start + per_slice] for start in range(0, len(order), per_slice)]
    pieces = pieces or [[]]
    jobs, labels, costs, owners = [], [], [], []
    for name, spec in specs.items():
        for index, piece in enumerate(pieces):
            jobs.append((spec, device, problems, piece, batch))
            labels.append(f"{name} {index + 1}/{len(pieces)}")
            costs.append(spec.cost() * len(piece))
            owners.append(name)
    results = run_jobs(score_job, jobs, desc=desc, progress=progress, labels=labels,
                       parallel=resolve_device(device) == "cpu", costs=costs)
    out = {}
    for name in specs:
        mine = [r for r, owner in zip(results, owners, strict=True) if owner == name]
        scored = dict(zip(order, (s for r in mine for s in r[0]), strict=True))
        out[name] = ([scored[k] for k in keys], sum(r[1] for r in mine),
                     sum(r[2] for r in mine))
    return out
