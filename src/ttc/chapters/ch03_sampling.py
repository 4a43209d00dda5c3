"""Chapter 3: parallel sampling, coverage, majority vote, and the floor of base capability.

The policies are chapter 2's family, sampled on its arithmetic test set, or (with
``model``) external causal LMs (local folders or hub ids, :mod:`ttc.hub`) sampled on word
problems (``data``: GSM8K or MATH-500, :mod:`ttc.tasks.word_problems`). The second path reads
no family: the ``llm`` profile runs it, and the same tables come out of both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ttc.config import ConfigError, require_choice, require_range
from ttc.devices import DEVICES, DTYPES, resolve_device
from ttc.flops import inference_flops
from ttc.metrics import (
    bootstrap_mean_ci,
    fit_coverage_power_law,
    majority_vote_curve,
    pass_at_k,
    pass_at_k_curve,
)
from ttc.parallel import run_jobs
from ttc.report import fmt
from ttc.tasks import ARITHMETIC, Task
from ttc.upstream import (
    MEDIUM,
    checkpoint,
    difficulty_group,
    first_per_ops,
    hard_subset,
    main_sample_spec,
    matched_rule_text,
    matched_samples,
    member_sizes,
    powers_of_two,
    sample_batch_size,
    test_problems,
)


@dataclass(frozen=True)
class SamplingChapterConfig:
    """Parameters of chapter 3. Defaults are smoke-sized. The family and its test set are
    chapter 2's (read from its published result), unless ``model`` names an external
    policy."""

    #: test problems per number of operations (the first ones of chapter 2's test set;
    #: with ``model``: per difficulty level of the word problems)
    n_problems_per_ops: int = 3
    #: samples per problem; every smaller k is a subsample of these
    n_samples: int = 16
    #: a family member: those larger than it draw fewer main samples, the smallest power of
    #: two that costs at least the inference FLOPs of its ``n_samples``
    #: (:func:`ttc.upstream.matched_samples`); "" : every member draws ``n_samples``
    flops_matched_to: str = ""
    #: a subset of the hardest problems sampled many more times
    hard_n_problems: int = 2
    hard_n_samples: int = 32
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    #: resamples used to estimate majority vote at k < n
    vote_resamples: int = 100
    #: rows decoded at once; 0: as many as the memory budget holds (ttc.devices). Sampled
    #: text depends on it, so it is part of the samples' cache key
    batch_size: int = 512
    #: an external policy instead of the family: a local folder or a hub id of any causal
    #: LM (then chapter 2 is not read)
    model: str = ""
    #: larger external models compared with ``model``, smallest first (greedy answers at
    #: matched FLOPs, like the family's largest member)
    larger_models: tuple[str, ...] = ()
    #: with ``model``: the word problems (a GSM8K or MATH-500 .jsonl file, a folder with
    #: ``<split>.jsonl``, or a hub id where ``datasets`` is installed), and which split
    data: str = ""
    split: str = "test"
    #: with ``model``: generation limit, device and precision (the family uses chapter 2's)
    max_new_tokens: int = 512
    device: str = "auto"
    dtype: str = "auto"

    def __post_init__(self) -> None:
        require_range("n_problems_per_ops", self.n_problems_per_ops, low=1)
        require_range("n_samples", self.n_samples, low=2)
        require_range("hard_n_problems", self.hard_n_problems, low=1)
        require_range("hard_n_samples", self.hard_n_samples, low=2)
        require_range("temperature", self.temperature, low=0.01, high=10.0)
        require_range("top_p", self.top_p, low=0.01, high=1.0)
        require_range("vote_resamples", self.vote_resamples, low=10)
        require_range("batch_size", self.batch_size, low=0)
        require_range("max_new_tokens", self.max_new_tokens, low=1)
        require_choice("device", self.device, DEVICES)
        require_choice("dtype", self.dtype, DTYPES)
        if self.model and self.flops_matched_to:
            raise ConfigError("parameter 'flops_matched_to' names a family member; with "
                              "'model' (an external policy) leave it empty")
        if not self.model and (self.larger_models or self.data):
            raise ConfigError("parameters 'larger_models' and 'data' need 'model' (an "
                              "external policy); without it chapter 3 samples the family")


def needs(config: SamplingChapterConfig) -> tuple[str, ...]:
    """The chapters chapter 3 reads: the family, unless it samples an external model."""
    return () if config.model else ("02_family",)


def _curves(model: str, n_params: int, samples: pd.DataFrame, problems: list, n: int,
            config: SamplingChapterConfig, task: Task = ARITHMETIC
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-problem counts and per-(k, problem) pass@k and majority vote from one sample table.

    ``c_chain`` (right answers whose every step is right) needs the task's step oracle; it is
    missing (NaN) for a task without one."""
    ks = powers_of_two(n)
    # a right answer can come from a wrong chain (a lucky number): check the chain as well
    oracle = task.chain_correct
    samples = samples.assign(chain_correct=[
        bool(ok) and oracle(problems[i], text) if oracle is not None else np.nan
        for i, text, ok in zip(samples["problem"], samples["completion"], samples["correct"],
                               strict=True)
    ])
    counts = samples.groupby("problem", sort=True).agg(
        c=("correct", "sum"), c_chain=("chain_correct", lambda x: x.sum(min_count=1)),
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


def _greedy_on(greedy: pd.DataFrame, model: str, problems: list) -> pd.DataFrame:
    """Chapter 2's greedy rows of one member for ``problems`` (a subset of its test set),
    re-indexed to their positions in ``problems``."""
    mine = greedy[greedy["model"] == model].drop(columns=["N"], errors="ignore")
    by_prompt = mine.drop_duplicates("prompt").set_index("prompt")
    rows = by_prompt.loc[[p.prompt for p in problems]].reset_index()
    return rows.assign(problem=range(len(problems)))[mine.columns]


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


@dataclass
class _Policy:
    """One policy to sample: its name and N, the loaded model, its cache key, its problems
    (prompts in its own format) and its greedy answers, or how to get them."""

    name: str
    n_params: int
    model: object
    tokenizer: object
    key: str
    problems: list
    hard: list
    max_new_tokens: int
    #: main and hard-subset samples per problem (:func:`ttc.upstream.matched_samples`)
    n_samples: int
    hard_n_samples: int


def _family_policies(config: SamplingChapterConfig, inputs):
    """Chapter 2's members on its test set (loaded one at a time)."""
    fconfig = inputs["02_family"].config
    counts = matched_samples(config, member_sizes(inputs))
    hard = matched_samples(config, member_sizes(inputs), config.hard_n_samples)
    for name in inputs["02_family"]["members"]["model"]:
        yield _member_policy((config, fconfig, name, checkpoint(inputs, name), counts[name],
                              hard[name]))


def _member_policy(job: tuple) -> _Policy:
    """One family member as a policy: ``job`` is (chapter config, chapter 2's config, the
    member's name, its checkpoint, its main and hard-subset samples per problem)."""
    from ttc.family.train import load_member, training_info

    config, fconfig, name, path, n_samples, hard_n_samples = job
    test = test_problems(fconfig)
    hard = hard_subset(test, config.hard_n_problems)
    model, tokenizer = load_member(path, device=fconfig.device, dtype=fconfig.dtype)
    return _Policy(name, training_info(path)["N"], model, tokenizer, path.name,
                   first_per_ops(test, config.n_problems_per_ops), hard, fconfig.max_new_tokens,
                   n_samples, hard_n_samples)


def sample_member(job: tuple) -> None:
    """Draw every sample set of one family member into the cache (a job of
    :func:`ttc.parallel.run_jobs`; ``job`` as for :func:`_member_policy`)."""
    from ttc.sampling import draw_samples

    policy = _member_policy(job)
    for problems, spec in _sample_sets(job[0], policy).values():
        draw_samples(policy.model, policy.tokenizer, policy.key, problems, spec, progress=True,
                     task=ARITHMETIC)


def _member_sampled(job: tuple) -> bool:
    """Whether every sample set of the member is in the cache already."""
    from ttc.sampling import samples_cached

    policy = _member_policy(job)
    return all(samples_cached(policy.model, policy.key, problems, spec, ARITHMETIC)
               for problems, spec in _sample_sets(job[0], policy).values())


def _sample_family_in_workers(config: SamplingChapterConfig, inputs, progress: bool) -> None:
    """Sample the members in worker processes, one thread each, largest first
    (:mod:`ttc.parallel`; one after the other on a GPU); ``run`` then finds every table in
    the cache."""
    from ttc.family.train import training_info

    fconfig = inputs["02_family"].config
    counts = matched_samples(config, member_sizes(inputs))
    hard = matched_samples(config, member_sizes(inputs), config.hard_n_samples)
    jobs = [(config, fconfig, name, checkpoint(inputs, name), counts[name], hard[name])
            for name in inputs["02_family"]["members"]["model"]]
    todo = [job for job in jobs if not _member_sampled(job)]
    run_jobs(sample_member, todo, desc="sample members", progress=progress and bool(todo),
             labels=[job[2] for job in todo],
             costs=[training_info(job[3])["N"] * job[4] for job in todo],
             parallel=resolve_device(fconfig.device) == "cpu")


def external_problems(config: SamplingChapterConfig) -> tuple[Task, list, list]:
    """The task, main set and hard subset of the word problems ``config.data`` names: the
    first ``n_problems_per_ops`` of each difficulty level, and the first
    ``hard_n_problems`` of the hardest level."""
    from ttc.tasks.word_problems import load_word_problems

    task, every = load_word_problems(config.data, config.split)
    return (task, first_per_ops(every, config.n_problems_per_ops),
            hard_subset(every, config.hard_n_problems))


def _display_names(models: list[str]) -> list[str]:
    """A model's folder (or hub) name, its full string where two would share one."""
    short = [Path(m.rstrip("/")).name or m for m in models]
    return [s if short.count(s) == 1 else m for s, m in zip(short, models, strict=True)]


def _external_policies(config: SamplingChapterConfig, task: Task, problems: list, hard: list):
    """``model`` and ``larger_models`` (loaded one at a time), prompts in each one's format."""
    from ttc.hub import load_policy, model_key, parameter_counts, render_prompts

    models = [config.model, *config.larger_models]
    for name, model_id in zip(_display_names(models), models, strict=True):
        model, tokenizer = load_policy(model_id, device=config.device, dtype=config.dtype)
        yield _Policy(name, parameter_counts(model)["non_embedding"], model, tokenizer,
                      model_key(model_id), render_prompts(problems, tokenizer, task),
                      render_prompts(hard, tokenizer, task), config.max_new_tokens,
                      config.n_samples, config.hard_n_samples)


def _policies(config: SamplingChapterConfig, inputs) -> tuple[Task, object]:
    """The task, and the policies chapter 3 samples (a generator: one model in memory)."""
    if config.model:
        task, problems, hard = external_problems(config)
        return task, _external_policies(config, task, problems, hard)
    return ARITHMETIC, _family_policies(config, inputs)


def _sample_sets(config: SamplingChapterConfig, policy: _Policy) -> dict[str, tuple]:
    """Every sample table chapter 3 draws from one policy: ``main`` (the main set),
    ``hard`` (the hard subset) and, for an external model, ``greedy`` (one temperature-0
    answer per main problem; the family's come from chapter 2): name -> (problems, spec)."""
    from ttc.sampling import SampleSpec

    batch_size = sample_batch_size(config, policy.model, policy.tokenizer,
                                   [*policy.problems, *policy.hard], policy.max_new_tokens)
    sets = {
        "main": (policy.problems, main_sample_spec(config, policy.max_new_tokens, batch_size,
                                                   policy.n_samples)),
        "hard": (policy.hard, SampleSpec(
            n_samples=policy.hard_n_samples, max_new_tokens=policy.max_new_tokens,
            temperature=config.temperature, top_p=config.top_p, seed=config.seed + 1,
            batch_size=batch_size, problems_per_shard=2)),
    }
    if config.model:
        sets["greedy"] = (policy.problems, SampleSpec(
            n_samples=1, max_new_tokens=policy.max_new_tokens, temperature=0.0,
            seed=config.seed, batch_size=batch_size))
    return sets


def sample_all(config: SamplingChapterConfig, inputs, shard=None,
               progress: bool = False) -> pd.DataFrame:
    """Draw (or find cached) every sample table chapter 3 reads, or only the shards of
    worker ``shard`` (:class:`ttc.sampling.Shard`); ``run`` then finds them all cached.

    One row per table: ``model``, ``set`` (main, hard, greedy), ``rows`` (0 while another
    worker's shards are missing, so nothing is merged yet) and ``merged``."""
    from ttc.sampling import draw_samples

    task, policies = _policies(config, inputs)
    rows = []
    for policy in policies:
        for name, (problems, spec) in _sample_sets(config, policy).items():
            table = draw_samples(policy.model, policy.tokenizer, policy.key, problems, spec,
                                 progress, task=task, shard=shard)
            rows.append({"model": policy.name, "set": name, "merged": table is not None,
                         "rows": 0 if table is None else len(table)})
    return pd.DataFrame(rows)


def _greedy_table(policy: _Policy, rows: pd.DataFrame) -> pd.DataFrame:
    """An external policy's greedy answers to the main set (one temperature-0 sample per
    problem), in chapter 2's greedy table's columns (``prompt``: the question)."""
    return pd.DataFrame({
        "model": policy.name, "problem": rows["problem"], "n_ops": rows["n_ops"],
        "prompt": [policy.problems[i].question for i in rows["problem"]],
        "completion": rows["completion"], "finished": rows["finished"],
        "n_tokens": rows["n_tokens"], "correct": rows["correct"], "N": policy.n_params,
    })


def run(config: SamplingChapterConfig, inputs, progress: bool = True
        ) -> dict[str, pd.DataFrame]:
    """Sample every policy, score coverage and majority vote; return tidy tables.

    The policies are chapter 2's members on its test set, or ``model`` and
    ``larger_models`` on the word problems of ``data``. ``per_problem`` (one row per model
    and problem: correct samples ``c``, correct samples whose every step is right
    ``c_chain`` (NaN for word problems: no step oracle), success rate),
    ``hard_per_problem`` (the same on the hard subset),
    ``coverage`` (per model, difficulty group and k), ``coverage_by_ops`` (per model, n_ops
    and k), ``hard`` (the same per model and k on the heavily sampled hard subset),
    ``power_law`` (coverage fit exp(a·k^b) per model on the main set), ``greedy`` (greedy
    answers to the same problems, for the matched-FLOPs comparison: chapter 2's for the
    family) and ``per_k`` (per model, problem and k: pass@k, majority vote and inference
    FLOPs).
    """
    from ttc.sampling import draw_samples

    if not config.model:
        _sample_family_in_workers(config, inputs, progress)
    task, policies = _policies(config, inputs)
    per_problem, per_k, hard_problem, hard_k, greedy = [], [], [], [], []
    for policy in tqdm(policies, desc="models", disable=not progress):
        tables = {name: draw_samples(policy.model, policy.tokenizer, policy.key, problems,
                                     spec, progress, task=task)
                  for name, (problems, spec) in _sample_sets(config, policy).items()}
        counts, curve = _curves(policy.name, policy.n_params, tables["main"], policy.problems,
                                policy.n_samples, config, task)
        per_problem.append(counts)
        per_k.append(curve)
        hard_counts, hard_curve = _curves(policy.name, policy.n_params, tables["hard"],
                                          policy.hard, policy.hard_n_samples, config, task)
        hard_problem.append(hard_counts)
        hard_k.append(hard_curve)
        if config.model:
            greedy.append(_greedy_table(policy, tables["greedy"]))
        else:
            greedy.append(_greedy_on(inputs["02_family"]["greedy"], policy.name,
                                     policy.problems).assign(N=policy.n_params))
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


# -- what the prose and the figures read ------------------------------------------------------

#: a problem solved by fewer than this share of its samples (but at least one) is "rare"
RARE_BELOW = 0.05


def model_order(per_problem: pd.DataFrame) -> list[str]:
    """The members in family order (smallest first), as they appear in ``per_problem``."""
    return list(dict.fromkeys(per_problem["model"]))


def value_at(table: pd.DataFrame, model: str, column: str, **where) -> float:
    """``column`` of the row of ``table`` for ``model`` where every ``where`` column has the
    given value; NaN when there is no such row."""
    rows = table[table["model"] == model]
    for key, val in where.items():
        rows = rows[rows[key] == val]
    return float(rows[column].iloc[0]) if len(rows) else float("nan")


def coverage_all(coverage_by_ops: pd.DataFrame) -> pd.DataFrame:
    """Coverage and inference FLOPs per problem over the whole main set, per (model, N, k):
    the mean over numbers of operations (each holds the same number of problems)."""
    return coverage_by_ops.groupby(["model", "N", "k"], as_index=False, sort=False).agg(
        coverage=("coverage", "mean"), flops=("flops", "mean"))


def coverage_all_intervals(coverage: pd.DataFrame, per_problem: pd.DataFrame,
                           n_boot: int = 400) -> pd.DataFrame:
    """:func:`coverage_all`'s table with ``coverage_low``/``coverage_high``: 95% bootstrap
    intervals over problems of each model's mean pass@k, from the per-problem correct counts
    (``per_problem``: ``model``, ``n``, ``c``), the unbiased estimator at every k (at most a
    problem's ``n``)."""
    low, high = [], []
    for model, k in zip(coverage["model"], coverage["k"], strict=True):
        rows = per_problem[per_problem["model"] == model]
        values = [pass_at_k(int(n), int(c), int(k)) for n, c in zip(rows["n"], rows["c"],
                                                                     strict=True) if k <= n]
        if values:
            _, lo, hi = bootstrap_mean_ci(np.array(values), n_boot=n_boot)
        else:
            lo = hi = np.nan
        low.append(lo)
        high.append(hi)
    return coverage.assign(coverage_low=low, coverage_high=high)


def greedy_by_model(greedy: pd.DataFrame) -> pd.DataFrame:
    """Per model (in table order): greedy ``accuracy`` on the main set and the inference
    ``flops`` of one greedy answer (2·N per generated token, mean over problems)."""
    grouped = greedy.groupby("model", sort=False)
    out = grouped.agg(N=("N", "first"), accuracy=("correct", "mean"),
                      mean_tokens=("n_tokens", "mean"))
    out["flops"] = [inference_flops(n, t) for n, t in zip(out["N"], out["mean_tokens"],
                                                          strict=True)]
    return out.drop(columns=["mean_tokens"])


def first_reaching(all_coverage: pd.DataFrame, greedy: pd.DataFrame) -> dict | None:
    """The smallest member (other than the largest) whose coverage over the main set reaches
    the largest member's greedy accuracy: ``{"model", "k", "flops_ratio"}``, the smallest such
    k and its FLOPs over those of the largest member's greedy answer; None if none does."""
    by_model = greedy_by_model(greedy)
    if by_model.empty:
        return None
    target = by_model["accuracy"].iloc[-1]
    target_flops = by_model["flops"].iloc[-1]
    if pd.isna(target):
        return None
    for model in list(dict.fromkeys(all_coverage["model"])):
        if model == by_model.index[-1]:
            continue
        curve = all_coverage[all_coverage["model"] == model].sort_values("k")
        hit = curve[curve["coverage"] >= target]
        if len(hit):
            row = hit.iloc[0]
            return {"model": model, "k": int(row["k"]),
                    "flops_ratio": float(row["flops"] / target_flops)}
    return None


def reach_text(all_coverage: pd.DataFrame, greedy: pd.DataFrame) -> str:
    """The sentence the prose quotes about :func:`first_reaching`."""
    if greedy.empty:
        return fmt(None)
    hit = first_reaching(all_coverage, greedy)
    if hit is None:
        return "no smaller member's coverage reaches it within the samples drawn"
    return (f"{hit['model']} is the smallest member whose coverage reaches it: with k = "
            f"{hit['k']} samples, at {fmt(hit['flops_ratio'], '.1f')} times the FLOPs of the "
            "large model's single answer")


def flops_figure(tables) -> dict:
    """Keyword arguments of :func:`ttc.plots.plot_coverage_vs_flops` for the chapter's
    figure: coverage over the main set with its 95% intervals over problems, and the largest
    member's greedy accuracy as the reference line."""
    by_model = greedy_by_model(tables["greedy"])
    if by_model.empty:
        reference, label = None, ""
    else:
        reference, label = float(by_model["accuracy"].iloc[-1]), f"{by_model.index[-1]} greedy"
    coverage = coverage_all_intervals(coverage_all(tables["coverage_by_ops"]),
                                      tables["per_problem"])
    return {"coverage": coverage, "reference": reference, "reference_label": label}


#: :func:`run_comparison`'s measures: name -> (per_k column, at k = 1 or at the member's most)
RUN_MEASURES = {"pass@1": ("pass_at_k", "one"), "coverage": ("pass_at_k", "most"),
                "majority vote": ("majority", "most")}


def run_comparison(per_k: pd.DataFrame, other: pd.DataFrame, n_boot: int = 2000,
                   seed: int = 0) -> pd.DataFrame:
    """Two runs of the chapter on the same problems (its ``per_k`` tables, e.g. two sampling
    temperatures), member by member: pass@1, coverage and majority vote at the member's most
    samples (:data:`RUN_MEASURES`), each run's mean over problems and the paired difference
    ``other - per_k`` with a 95% bootstrap interval over problems
    (:func:`ttc.metrics.paired_bootstrap`). Members follow ``per_k``'s order; a member or
    problem missing from ``other`` is left out."""
    from ttc.metrics import paired_bootstrap

    rows = []
    for model in dict.fromkeys(per_k["model"]):
        mine, theirs = per_k[per_k["model"] == model], other[other["model"] == model]
        for measure, (column, at) in RUN_MEASURES.items():
            k = 1 if at == "one" else int(mine["k"].max())
            a = mine[mine["k"] == k].set_index("problem")[column]
            b = theirs[theirs["k"] == k].set_index("problem")[column]
            both = a.index.intersection(b.index)
            if not len(both):
                continue
            test = paired_bootstrap((b[both] - a[both]).to_numpy(), n_boot=n_boot, seed=seed)
            rows.append({"model": model, "measure": measure, "k": k, "run": a[both].mean(),
                         "other": b[both].mean(), "difference": test["mean"],
                         "low": test["low"], "high": test["high"]})
    return pd.DataFrame(rows, columns=["model", "measure", "k", "run", "other", "difference",
                                       "low", "high"])


def unsolved_share(per_problem: pd.DataFrame) -> pd.Series:
    """Per model: the share of problems with no correct sample at all."""
    return (per_problem["c"] == 0).groupby(per_problem["model"], sort=False).mean()


def rare_share(per_problem: pd.DataFrame, below: float = RARE_BELOW) -> pd.Series:
    """Per model: the share of problems solved by some sample but by fewer than ``below`` of
    them."""
    rate = per_problem["success_rate"]
    return ((rate > 0) & (rate < below)).groupby(per_problem["model"], sort=False).mean()


def gap_examples(per_problem: pd.DataFrame, greedy: pd.DataFrame, n: int = 6) -> pd.DataFrame:
    """Problems some sample of the largest member solves and no sample of the smallest does:
    at most one per number of operations (the one the largest solves most often), at most
    ``n``. Columns: ``prompt`` and each member's correct samples."""
    models = model_order(per_problem)
    columns = ["prompt", *models]
    if not models:
        return pd.DataFrame(columns=columns)
    smallest, largest = models[0], models[-1]
    wide = per_problem.pivot_table(index="problem", columns="model", values="c")[models]
    wide = wide.rename_axis(columns=None)
    gap = wide[(wide[smallest] == 0) & (wide[largest] > 0)]
    n_ops = per_problem.drop_duplicates("problem").set_index("problem")["n_ops"]
    examples = gap.sort_values(largest, ascending=False, kind="stable")
    examples = examples.groupby(n_ops.loc[examples.index]).head(1).head(n)
    prompts = greedy.drop_duplicates("problem").set_index("problem")["prompt"]
    out = examples.astype(int).assign(prompt=prompts).reset_index()
    return out[columns]


def matched_text(drawn: pd.Series, config: SamplingChapterConfig) -> str:
    """The sentence on how many main samples each member drew (``drawn``: member -> count,
    smallest member first), as the prose quotes it after "every member draws n samples"."""
    if drawn.empty:
        return fmt(None)
    fewer = drawn[drawn < config.n_samples]
    if fewer.empty:
        return "every member draws as many"
    listed = ", ".join(f"{model} {count:,}" for model, count in fewer.items())
    reference = config.flops_matched_to
    rule = matched_rule_text(f"{reference}'s", config.n_samples, (fewer == 2).any())
    return (f"the members larger than {reference} draw fewer, {rule} (2·N per token, counted "
            f"at equal tokens per sample; {listed}), so that every member spans at least the "
            "same compute")


def hard_samples_text(drawn: pd.Series, config: SamplingChapterConfig) -> str:
    """How often each member sampled the hard subset (``drawn``: member -> count), as the
    prose quotes it after "problems"."""
    if drawn.empty:
        return fmt(None)
    fewer = drawn[drawn < config.hard_n_samples]
    text = f"sampled {config.hard_n_samples:,} times each"
    if fewer.empty:
        return text
    listed = ", ".join(f"{model} {count:,}" for model, count in fewer.items())
    return f"{text} by the members up to {config.flops_matched_to} and fewer times by the " \
           f"larger ones ({listed}), as for the main problems"


def b_range(power_law: pd.DataFrame) -> str:
    """The range of the fitted power-law exponents b, as the prose quotes it."""
    fitted = power_law.dropna(subset=["b"])
    if fitted.empty:
        return "not defined (no coverage strictly between 0 and 1)"
    return f"{fmt(fitted['b'].min())} to {fmt(fitted['b'].max())}"


def hard_chain_text(hard_pp: pd.DataFrame) -> str:
    """The sentence on lucky numbers on the hard subset, as the prose quotes it after
    "through a wrong chain." (``hard_pp``: one row per member and problem, members in family
    order, with right answers ``c`` and right answers whose every step is right ``c_chain``).

    The choice rule: it quotes the smallest member with at least one right answer there (so
    that its share of right chains is a number), then the largest member unless that is the
    same one. When no member has a right answer there, it says so.
    """
    if hard_pp.empty:
        return fmt(None)
    right = hard_pp.groupby("model", sort=False)[["c", "c_chain"]].sum(min_count=1)
    n_problems = hard_pp["problem"].nunique()
    answered = [model for model in model_order(hard_pp) if right["c"].get(model, 0) > 0]
    if not answered:
        return (f"No member gives the right answer to any of the {n_problems:,} problems in "
                f"any sample, so there is no chain to check here.")
    lucky, largest = answered[0], model_order(hard_pp)[-1]
    rows = hard_pp[hard_pp["model"] == lucky]
    c, valid = int(right.at[lucky, "c"]), right.at[lucky, "c_chain"]
    text = (f"The smallest member with any right answer here is {lucky}: of its {c:,} samples "
            f"with the right answer, {fmt(valid / c, '.0%')} have every step right (the step "
            f"oracle of chapter 2 checks them), and it produced a fully correct chain for "
            f"{int((rows['c_chain'] > 0).sum()):,} of the {n_problems:,} problems")
    if largest == lucky:
        return text + "."
    c_large = right["c"].get(largest, 0)
    if not c_large > 0:
        return text + f"; {largest} gives no right answer here."
    return (text + f"; for {largest}, {fmt(right.at[largest, 'c_chain'] / c_large, '.0%')} of "
            f"its {int(c_large):,} right answers come with a correct chain.")


def facts(tables, config: SamplingChapterConfig) -> dict[str, str]:
    """What chapter 3's prose quotes, as display text.

    Setup (``n_problems``, ``n_samples``, ``matched_text``, ``hard_n_problems``,
    ``temperature``, ``hard_ops``, ``n_models``, ``hard_samples_text``);
    for the smallest, middle and largest member
    (``small``, ``mid``, ``large``): ``*_name``, its main samples per problem ``*_n`` and
    coverage on medium problems at that k (``*_medium_kmax``); for the middle one also
    coverage at k = 1 (``mid_medium_k1``) and majority vote at its k (``mid_medium_vote``);
    the matched-FLOPs comparison
    (``large_greedy``, ``reach_text``); the floor (``small_unsolved``, ``large_unsolved``,
    ``only_large``, ``hard_cov_small``, ``hard_cov_large``, ``hard_chain_text``: right
    answers on the hard subset and how many of them have every step right, see
    :func:`hard_chain_text`); the tail
    (``mid_rare``, ``mid_zero``) and the departures from the papers (``n_below_greedy``,
    ``large_pass1``, ``b_range``).
    """
    per_problem, coverage, hard = tables["per_problem"], tables["coverage"], tables["hard"]
    greedy, hard_pp = tables["greedy"], tables["hard_per_problem"]
    models = model_order(per_problem)
    none = [None] * 3
    smallest, middle, largest = ((models[0], models[len(models) // 2], models[-1])
                                 if models else none)
    drawn = per_problem.groupby("model", sort=False)["n"].first()  # main samples per member
    out = {
        "n_problems": fmt(per_problem["problem"].nunique(), ","),
        "n_samples": fmt(config.n_samples, ","),
        "matched_text": matched_text(drawn, config),
        "hard_n_problems": fmt(config.hard_n_problems, ","),
        "temperature": fmt(config.temperature, "g"),
        "hard_ops": fmt(int(hard_pp["n_ops"].max()) if len(hard_pp) else None, ","),
        "n_models": fmt(len(models), ","),
    }
    for name, model in (("small", smallest), ("mid", middle), ("large", largest)):
        out[f"{name}_name"] = fmt(model)
        out[f"{name}_n"] = fmt(drawn.get(model), ",")
        out[f"{name}_medium_kmax"] = fmt(value_at(coverage, model, "coverage",
                                                  difficulty=MEDIUM, k=drawn.get(model)))
    out["mid_medium_k1"] = fmt(value_at(coverage, middle, "coverage", difficulty=MEDIUM, k=1))
    out["mid_medium_vote"] = fmt(value_at(coverage, middle, "majority", difficulty=MEDIUM,
                                          k=drawn.get(middle)))

    # many small samples against one large answer
    by_model = greedy_by_model(greedy)
    all_coverage = coverage_all(tables["coverage_by_ops"])
    out["large_greedy"] = fmt(by_model["accuracy"].get(largest))
    out["reach_text"] = reach_text(all_coverage, greedy)

    # the floor
    unsolved = unsolved_share(per_problem)
    out["small_unsolved"] = fmt(unsolved.get(smallest))
    out["large_unsolved"] = fmt(unsolved.get(largest))
    wide = per_problem.pivot_table(index="problem", columns="model", values="c")
    out["only_large"] = fmt(int(((wide[smallest] == 0) & (wide[largest] > 0)).sum())
                            if models else None, ",")
    hard_drawn = hard_pp.groupby("model", sort=False)["n"].first()
    out["hard_samples_text"] = hard_samples_text(hard_drawn, config)
    out["hard_cov_small"] = fmt(value_at(hard, smallest, "coverage", k=hard_drawn.get(smallest)))
    out["hard_cov_large"] = fmt(value_at(hard, largest, "coverage", k=hard_drawn.get(largest)))
    out["hard_chain_text"] = hard_chain_text(hard_pp)

    # the tail of rare successes
    out["mid_rare"] = fmt(rare_share(per_problem).get(middle))
    out["mid_zero"] = fmt(unsolved.get(middle))

    # where this departs from the papers
    pass1 = all_coverage[all_coverage["k"] == 1].set_index("model")["coverage"]
    below = [m for m in models
             if m in pass1.index and pass1[m] < by_model["accuracy"].get(m, float("nan"))]
    out["n_below_greedy"] = fmt(len(below), ",")
    out["large_pass1"] = fmt(pass1.get(largest))
    out["b_range"] = b_range(tables["power_law"])
    return out
