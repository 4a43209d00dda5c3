"""Chapter 3's sampling split into shards that any process computes, and fanned out on Ray.

``ttc sample --profile P --shard i/N`` draws worker ``i``'s shards of every sample table
chapter 3 reads under profile ``P`` (shard ``n`` belongs to worker ``n mod N``; a shard's
problems and seed follow from its number alone, so the result does not depend on which
process drew it or in what order). Every worker writes its shards atomically; the worker
that finds all of a table's shards written merges them (:func:`ttc.sampling.draw_samples`),
so N workers need no coordinator and the merged table equals an unsharded run's exactly.
Run them as separate processes, on separate machines sharing ``$TTC_CACHE``, or with
:func:`fan_out`, which hands the N workers to Ray (an existing engine: scheduling, retries
and clusters are its business, not this project's).

Ray is the optional extra ``ray`` (``pip install 'ttc[ray]'``); without it, :func:`fan_out`
stops with one line naming the extra.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ttc.config import ConfigError
from ttc.sampling import Shard

CHAPTER = "03_sampling"


def sample_profile(profile: str | Path, overrides: Mapping[str, Any] | None = None,
                   shard: Shard | None = None, progress: bool = False) -> pd.DataFrame:
    """Draw chapter 3's sample tables under ``profile`` (with chapter 3's ``overrides``),
    or only worker ``shard``'s shards of them; one summary row per table (see
    :func:`ttc.chapters.ch03_sampling.sample_all`)."""
    from ttc.chapters.ch03_sampling import sample_all
    from ttc.pipeline import chapter_inputs
    from ttc.profiles import chapter_config

    config = chapter_config(profile, CHAPTER, dict(overrides or {}))
    inputs = chapter_inputs(CHAPTER, profile, config, progress=progress)
    return sample_all(config, inputs, shard=shard, progress=progress)


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("fanning shards out on Ray needs ray, which is not installed: "
                          "pip install 'ttc[ray]' (or ray==2.60.0); or run the shards as "
                          "separate processes: ttc sample --shard i/N") from None
    return ray


def _worker(profile: str, overrides: dict, index: int, count: int,
            environment: dict[str, str]) -> list[dict]:
    """One Ray task: worker ``index`` of ``count`` (in the worker process)."""
    os.environ.update(environment)
    return sample_profile(profile, overrides, Shard(index, count)).to_dict("records")


def fan_out(profile: str | Path, n_workers: int, overrides: Mapping[str, Any] | None = None,
            address: str | None = None, num_cpus: int | None = None) -> pd.DataFrame:
    """Run the ``n_workers`` shards of chapter 3's sampling as Ray tasks (one CPU each), then
    check in this process that every table is merged (merging any a worker left).

    ``address``: a running Ray cluster (``"auto"``, ``"ray://..."``); None starts a local one
    with ``num_cpus`` CPUs. Workers share the cache through ``$TTC_CACHE``, which must be a
    folder every worker sees. Returns the summary of the final check.
    """
    if n_workers < 1:
        raise ConfigError(f"parameter 'n_workers' must be at least 1; got {n_workers}")
    ray = _ray()
    from ttc.cache import cache_root

    profile = str(Path(profile).resolve()) if Path(str(profile)).suffix in (
        ".yaml", ".yml") else str(profile)
    environment = {"TTC_CACHE": str(cache_root().resolve())}
    for name in ("TTC_ROOT", "PYTHONPATH"):
        if name in os.environ:
            environment[name] = os.environ[name]
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=num_cpus, include_dashboard=False,
                 log_to_driver=False, runtime_env={"env_vars": environment})
    try:
        task = ray.remote(num_cpus=1, max_retries=2)(_worker)
        refs = [task.remote(profile, dict(overrides or {}), i, n_workers, environment)
                for i in range(n_workers)]
        ray.get(refs)
    finally:
        if started:
            ray.shutdown()
    return sample_profile(profile, overrides)
