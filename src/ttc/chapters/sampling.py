"""Chapter 3: parallel sampling, coverage, majority vote, and the floor of base capability."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ttc.chapters import family as family_chapter
from ttc.config import ConfigError, require_range
from ttc.family.train import load_member, training_info
from ttc.flops import inference_flops
from ttc.metrics import (
    bootstrap_mean_ci,
    fit_coverage_power_law,
    majority_vote_curve,
    pass_at_k_curve,
)
from ttc.sampling import SampleSpec, draw_samples
from ttc.tasks import first_error

DIFFICULTY_GROUPS = {"easy (1-2 ops)": (1, 2), "medium (3-5 ops)": (3, 5),
                     "hard (6-8 ops)": (6, 8)}


@dataclass(frozen=True)
class SamplingConfig:
    """Parameters of chapter 3. Defaults are smoke-sized."""

    #: profile whose 02_family parameters define the family to sample (trained or cached)
    family_profile: str = "smoke"
    #: test problems per number of operations (the first ones of chapter 2's test set)
    n_problems_per_ops: int = 3
    #: samples per problem; every smaller k is a subsample of these
    n_samples: int = 16
    #: a subset of the hardest problems sampled many more times
    hard_n_problems: int = 2
    hard_n_samples: int = 32
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    #: resamples used to estimate majority vote at k < n
    vote_resamples: int = 100

    def __post_init__(self) -> None:
        from ttc.profiles import available_profiles

        if self.family_profile not in available_profiles():
            raise ConfigError(f"parameter 'family_profile' must be one of "
                              f"{', '.join(map(repr, available_profiles()))}; "
                              f"got {self.family_profile!r}")
        require_range("n_problems_per_ops", self.n_problems_per_ops, low=1)
        require_range("n_samples", self.n_samples, low=2)
        require_range("hard_n_problems", self.hard_n_problems, low=1)
        require_range("hard_n_samples", self.hard_n_samples, low=2)
        require_range("temperature", self.temperature, low=0.01, high=10.0)
        require_range("top_p", self.top_p, low=0.01, high=1.0)
        require_range("vote_resamples", self.vote_resamples, low=10)

    @property
    def family(self) -> family_chapter.FamilyConfig:
        from ttc.profiles import chapter_config

        return chapter_config(self.family_profile, "02_family")


def powers_of_two(n: int) -> list[int]:
    """1, 2, 4, ... up to n (n itself included)."""
    ks = [2**i for i in range(int(np.log2(n)) + 1)]
    return ks if ks[-1] == n else [*ks, n]


def first_per_ops(problems: list, n: int) -> list:
    """The first ``n`` problems of each length, in their original order."""
    seen: dict[int, int] = {}
    keep = []
    for problem in problems:
        if seen.get(problem.n_ops, 0) < n:
            keep.append(problem)
            seen[problem.n_ops] = seen.get(problem.n_ops, 0) + 1
    return keep


def difficulty_group(n_ops: int) -> str:
    for name, (low, high) in DIFFICULTY_GROUPS.items():
        if low <= n_ops <= high:
            return name
    return f"{n_ops} ops"


def main_problems(config: SamplingConfig) -> list:
    """The chapter's main problem set: the first problems of each length of the test set."""
    return first_per_ops(family_chapter.test_problems(config.family), config.n_problems_per_ops)


def main_sample_spec(config: SamplingConfig) -> SampleSpec:
    """How the main set is sampled (later chapters reuse these cached samples)."""
    return SampleSpec(n_samples=config.n_samples, max_new_tokens=config.family.max_new_tokens,
                      temperature=config.temperature, top_p=config.top_p, seed=config.seed)


def member_samples(config: SamplingConfig, member: str, progress: bool = True):
    """One member's checkpoint, the main problems and their samples (from the cache if this
    chapter already ran): ``(checkpoint, problems, samples)``."""
    fconfig = config.family
    if member not in fconfig.members:
        raise ConfigError(f"member {member!r} is not in profile {config.family_profile!r}'s "
                          f"family; allowed: {', '.join(fconfig.members)}")
    path = family_chapter.train_family(fconfig, progress=progress)[member]
    model, tokenizer = load_member(path, device=fconfig.device)
    problems = main_problems(config)
    samples = draw_samples(model, tokenizer, path.name, problems, main_sample_spec(config),
                           progress)
    return path, problems, samples


def _curves(model: str, n_params: int, samples: pd.DataFrame, problems: list, n: int,
            config: SamplingConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-problem counts and per-(k, problem) pass@k and majority vote from one sample table."""
    ks = powers_of_two(n)
    # a right answer can come from a wrong chain (a lucky number): check the chain as well
    samples = samples.assign(chain_correct=[
        bool(ok) and first_error(problems[i], text) is None
        for i, text, ok in zip(samples["problem"], samples["completion"], samples["correct"],
                               strict=True)
    ])
    counts = samples.groupby("problem", sort=True).agg(
        c=("correct", "sum"), c_chain=("chain_correct", "sum"),
        mean_tokens=("n_tokens", "mean"), n_ops=("n_ops", "first"))
    per_problem = counts.reset_index().assign(model=model, N=n_params, n=n)
    per_problem["success_rate"] = per_problem["c"] / n
    passk = pass_at_k_curve(n, per_problem["c"].to_numpy(), ks)  # (P, K)
    votes = []
    for index, group in samples.groupby("problem", sort=True):
        answers = [None if pd.isna(a) else a for a in group["answer"]]
        votes.append(majority_vote_curve(answers, str(problems[index].answer), ks,
                                         config.vote_resamples, seed=config.seed + index))
    votes = np.array(votes)  # (P, K)
    rows = []
    for j, k in enumerate(ks):
        rows.append(pd.DataFrame({
            "model": model, "N": n_params, "problem": per_problem["problem"],
            "n_ops": per_problem["n_ops"], "k": k, "pass_at_k": passk[:, j],
            "majority": votes[:, j],
            "flops": inference_flops(n_params, 1) * k * per_problem["mean_tokens"],
        }))
    return per_problem, pd.concat(rows, ignore_index=True)


def summarise(per_k: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean coverage and majority vote over problems, with 95% bootstrap intervals."""
    rows = []
    for key, group in per_k.groupby(by, sort=False):
        mean, low, high = bootstrap_mean_ci(group["pass_at_k"].to_numpy(), n_boot=400)
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                     "coverage": mean, "coverage_low": low, "coverage_high": high,
                     "majority": group["majority"].mean(), "flops": group["flops"].mean(),
                     "problems": len(group)})
    return pd.DataFrame(rows)


def run(config: SamplingConfig, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Sample every family member, score coverage and majority vote; return tidy tables.

    ``per_problem`` (one row per model and problem: correct samples ``c``, correct samples
    whose every step is right ``c_chain``, success rate), ``hard_per_problem`` (the same on
    the hard subset),
    ``coverage`` (per model, difficulty group and k), ``coverage_by_ops`` (per model, n_ops
    and k), ``hard`` (the same per model and k on the heavily sampled hard subset),
    ``power_law`` (coverage fit exp(a·k^b) per model on the main set), ``greedy`` (chapter
    2's greedy accuracy on the same problems, for the matched-FLOPs comparison) and ``per_k``
    (per model, problem and k: pass@k, majority vote and inference FLOPs).
    """
    fconfig = config.family
    checkpoints = family_chapter.train_family(fconfig, progress=progress)
    test = family_chapter.test_problems(fconfig)
    problems = main_problems(config)
    hardest = max(p.n_ops for p in test)
    hard = [p for p in test if p.n_ops == hardest][: config.hard_n_problems]
    main_spec = main_sample_spec(config)
    hard_spec = SampleSpec(n_samples=config.hard_n_samples,
                           max_new_tokens=fconfig.max_new_tokens,
                           temperature=config.temperature, top_p=config.top_p,
                           seed=config.seed + 1, problems_per_shard=2)
    per_problem, per_k, hard_problem, hard_k, greedy = [], [], [], [], []
    for name, path in tqdm(checkpoints.items(), desc="members", disable=not progress):
        n_params = training_info(path)["N"]
        model, tokenizer = load_member(path, device=fconfig.device)
        samples = draw_samples(model, tokenizer, path.name, problems, main_spec, progress)
        counts, curve = _curves(name, n_params, samples, problems, config.n_samples, config)
        per_problem.append(counts)
        per_k.append(curve)
        hard_samples = draw_samples(model, tokenizer, path.name, hard, hard_spec, progress)
        hard_counts, hard_curve = _curves(name, n_params, hard_samples, hard,
                                          config.hard_n_samples, config)
        hard_problem.append(hard_counts)
        hard_k.append(hard_curve)
        greedy.append(family_chapter.greedy_results(name, path, problems,
                                                    fconfig.max_new_tokens, fconfig.device)
                      .assign(N=n_params))
    per_problem = pd.concat(per_problem, ignore_index=True)
    per_k = pd.concat(per_k, ignore_index=True)
    per_k["difficulty"] = per_k["n_ops"].map(difficulty_group)
    hard_k = pd.concat(hard_k, ignore_index=True)
    coverage = summarise(per_k, ["model", "N", "difficulty", "k"])
    fits = []
    for (model, n_params), group in summarise(per_k, ["model", "N", "k"]).groupby(
            ["model", "N"], sort=False):
        try:
            a, b = fit_coverage_power_law(group["k"].to_numpy(), group["coverage"].to_numpy())
        except ValueError:
            a, b = np.nan, np.nan
        fits.append({"model": model, "N": n_params, "a": a, "b": b})
    greedy = pd.concat(greedy, ignore_index=True)
    greedy["difficulty"] = greedy["n_ops"].map(difficulty_group)
    return {
        "per_problem": per_problem,
        "coverage": coverage,
        "coverage_by_ops": summarise(per_k, ["model", "N", "n_ops", "k"]),
        "hard": summarise(hard_k, ["model", "N", "k"]),
        "hard_per_problem": pd.concat(hard_problem, ignore_index=True),
        "power_law": pd.DataFrame(fits),
        "greedy": greedy.drop(columns=["completion"]),
        "per_k": per_k,
    }
