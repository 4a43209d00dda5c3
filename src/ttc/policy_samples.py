"""The policy's sample sets beyond chapter 3's: other temperatures, and a validation split.

Chapter 3 samples every member at one temperature (1.0). For the FLOPs-matched exchange
(chapter 7) that is not the small model's best chance: a lower temperature is often better at
small budgets (search-and-learn samples at 0.8; every member's greedy answer beats its
temperature-1 pass@1 here). So the policy also samples the test problems at the
``temperatures`` of chapter 4's config, and samples a set of *validation* problems at every
temperature, chapter 3's included, with its greedy answer. Chapter 7 chooses what to spend
the allowance on (selection rule and temperature) on the validation problems, and reports
the choice's accuracy on the test problems only.

The extra sets are scored by the policy's likelihood (the one model-based scorer that ranks
chains within a problem, chapter 4); the validation set at chapter 3's temperature is also
scored by the ORM and the PRM, whose rules are candidates at that temperature. Sampling runs
on worker processes (one sample set per job); scoring as in :mod:`ttc.verifiers.pool`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ttc.cache import artifact_path, load_tables, save_tables
from ttc.config import config_hash

#: the columns of a scored sample set that later chapters read (the completion text is left
#: out: it is large and nothing downstream of the scores needs it)
KEPT = ("problem", "n_ops", "sample", "finished", "n_tokens", "answer", "correct")


def sample_set_job(job) -> None:
    """Draw one sample set, or one worker's share of its shards, into the cache (a job of
    :func:`ttc.parallel.run_jobs`): ``job`` is (checkpoint, device, problems, SampleSpec,
    :class:`ttc.sampling.Shard` or None for every shard)."""
    from ttc.family.train import load_member
    from ttc.sampling import draw_samples

    path, device, problems, spec, shard = job
    model, tokenizer = load_member(path, device=device)
    draw_samples(model, tokenizer, Path(path).name, problems, spec, progress=False,
                 shard=shard)


def draw_sets(path: Path, device: str, sets: Mapping[object, tuple[Sequence, object]],
              progress: bool = True) -> dict[object, pd.DataFrame]:
    """Every sample set of one policy (``sets``: name -> (problems, SampleSpec)), drawn on
    worker processes where not cached, largest first; returns name -> samples table.

    On a CPU a set is split between as many jobs as there are workers (each draws the
    :class:`ttc.sampling.Shard` of its number), so one large set keeps every core busy too.
    Shards are seeded by their number, so the tables do not depend on the worker count;
    whatever shards no job merged are merged here."""
    from ttc.devices import resolve_device
    from ttc.family.train import load_member
    from ttc.parallel import run_jobs, worker_count
    from ttc.sampling import Shard, draw_samples, samples_cached

    model, tokenizer = load_member(path, device=device)
    parallel = resolve_device(device) == "cpu"
    jobs, labels, costs = [], [], []
    for name, (problems, spec) in sets.items():
        if samples_cached(model, path.name, problems, spec):
            continue
        parts = worker_count(-(-len(problems) // spec.problems_per_shard)) if parallel else 1
        for index in range(parts):
            jobs.append((str(path), device, problems, spec,
                         Shard(index, parts) if parts > 1 else None))
            labels.append(f"{name} {index + 1}/{parts}" if parts > 1 else str(name))
            costs.append(len(problems) * spec.n_samples / parts)
    run_jobs(sample_set_job, jobs, desc="sample sets", progress=progress and bool(jobs),
             labels=labels, costs=costs, parallel=parallel)
    return {name: draw_samples(model, tokenizer, path.name, problems, spec, progress=False)
            for name, (problems, spec) in sets.items()}


def recorded_likelihood(samples: pd.DataFrame) -> np.ndarray | None:
    """The sampling model's probability of each of its samples, from the log-probabilities
    the sampler kept (``exp(logprob)``; :class:`ttc.sampling.Completion`), or None for a
    table without them. For a finished chain it is the likelihood verifier's score of the
    whole chain (its ``<eos>`` included), which costs the verifier a second pass over the
    chain; for an unfinished one, the probability of everything generated (such a chain has
    no answer to select)."""
    if "logprob" not in samples or samples["logprob"].isna().any():
        return None
    return np.exp(samples["logprob"].to_numpy(dtype=float))


def likelihood_scored(problems: Sequence, samples: pd.DataFrame, policy_path: Path,
                      device: str = "cpu", progress: bool = True) -> pd.DataFrame:
    """``samples`` (the :data:`KEPT` columns) with ``likelihood``: the chain's probability
    under the policy (its last step score, as chapter 4's ``scored`` table). The policy's
    own samples carry it from the sampler (:func:`recorded_likelihood`); otherwise distinct
    chains are scored once, on worker processes, cached on disk."""
    from ttc.selection import aggregate_steps

    if (kept := recorded_likelihood(samples)) is not None:  # the logprob column stays: it
        # tells chapter 7 that the likelihood cost nothing more
        return samples[[*KEPT, "logprob"]].assign(likelihood=kept).reset_index(drop=True)
    from ttc.verifiers.pool import ScorerSpec, score_chains

    key = config_hash(([p.prompt for p in problems], samples["completion"].tolist(),
                       samples["finished"].tolist(), policy_path.name, "likelihood-v1"))
    folder = artifact_path("scores", f"likelihood-{key}")
    if (cached := load_tables(folder, ["scored.parquet"])) is not None:
        return cached["scored.parquet"]
    distinct = samples.drop_duplicates(["problem", "completion", "finished"])
    result = score_chains({"likelihood": ScorerSpec("likelihood", str(policy_path))},
                          [problems[i].prompt for i in distinct["problem"]],
                          distinct["completion"].tolist(), distinct["finished"].tolist(),
                          problems, device=device, desc="likelihood", progress=progress)
    distinct = distinct[["problem", "completion", "finished"]].assign(
        likelihood=[aggregate_steps(s, "last") for s in result["likelihood"][0]])
    scored = samples.merge(distinct, on=["problem", "completion", "finished"], how="left")
    scored = scored[[*KEPT, "likelihood"]].reset_index(drop=True)
    save_tables(folder, {"scored.parquet": scored})
    return scored
