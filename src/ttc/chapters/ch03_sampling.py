"""Chapter 3: parallel sampling, coverage, majority vote, and the floor of base capability."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ttc.config import require_range
from ttc.flops import inference_flops
from ttc.metrics import (
    bootstrap_mean_ci,
    fit_coverage_power_law,
    majority_vote_curve,
    pass_at_k_curve,
)
from ttc.report import fmt
from ttc.tasks import first_error
from ttc.upstream import (
    MEDIUM,
    checkpoint,
    difficulty_group,
    first_per_ops,
    main_sample_spec,
    powers_of_two,
    test_problems,
)


@dataclass(frozen=True)
class SamplingChapterConfig:
    """Parameters of chapter 3. Defaults are smoke-sized. The family and its test set are
    chapter 2's (read from its published result)."""

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
        require_range("n_problems_per_ops", self.n_problems_per_ops, low=1)
        require_range("n_samples", self.n_samples, low=2)
        require_range("hard_n_problems", self.hard_n_problems, low=1)
        require_range("hard_n_samples", self.hard_n_samples, low=2)
        require_range("temperature", self.temperature, low=0.01, high=10.0)
        require_range("top_p", self.top_p, low=0.01, high=1.0)
        require_range("vote_resamples", self.vote_resamples, low=10)


def _curves(model: str, n_params: int, samples: pd.DataFrame, problems: list, n: int,
            config: SamplingChapterConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
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


def run(config: SamplingChapterConfig, inputs, progress: bool = True
        ) -> dict[str, pd.DataFrame]:
    """Sample every family member, score coverage and majority vote; return tidy tables.

    ``per_problem`` (one row per model and problem: correct samples ``c``, correct samples
    whose every step is right ``c_chain``, success rate), ``hard_per_problem`` (the same on
    the hard subset),
    ``coverage`` (per model, difficulty group and k), ``coverage_by_ops`` (per model, n_ops
    and k), ``hard`` (the same per model and k on the heavily sampled hard subset),
    ``power_law`` (coverage fit exp(a·k^b) per model on the main set), ``greedy`` (chapter
    2's greedy answers to the same problems, for the matched-FLOPs comparison) and ``per_k``
    (per model, problem and k: pass@k, majority vote and inference FLOPs).
    """
    from ttc.family.train import load_member, training_info
    from ttc.sampling import SampleSpec, draw_samples

    family = inputs["02_family"]
    fconfig = family.config
    members = family["members"]
    test = test_problems(fconfig)
    problems = first_per_ops(test, config.n_problems_per_ops)
    hardest = max(p.n_ops for p in test)
    hard = [p for p in test if p.n_ops == hardest][: config.hard_n_problems]
    main_spec = main_sample_spec(config, fconfig)
    hard_spec = SampleSpec(n_samples=config.hard_n_samples,
                           max_new_tokens=fconfig.max_new_tokens,
                           temperature=config.temperature, top_p=config.top_p,
                           seed=config.seed + 1, problems_per_shard=2)
    per_problem, per_k, hard_problem, hard_k, greedy = [], [], [], [], []
    for name in tqdm(members["model"], desc="members", disable=not progress):
        path = checkpoint(inputs, name)
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
        greedy.append(_greedy_on(family["greedy"], name, problems).assign(N=n_params))
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
    figure: coverage over the main set, and the largest member's greedy accuracy as the
    reference line."""
    by_model = greedy_by_model(tables["greedy"])
    if by_model.empty:
        reference, label = None, ""
    else:
        reference, label = float(by_model["accuracy"].iloc[-1]), f"{by_model.index[-1]} greedy"
    return {"coverage": coverage_all(tables["coverage_by_ops"]), "reference": reference,
            "reference_label": label}


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


def b_range(power_law: pd.DataFrame) -> str:
    """The range of the fitted power-law exponents b, as the prose quotes it."""
    fitted = power_law.dropna(subset=["b"])
    if fitted.empty:
        return "not defined (no coverage strictly between 0 and 1)"
    return f"{fmt(fitted['b'].min())} to {fmt(fitted['b'].max())}"


def facts(tables, config: SamplingChapterConfig) -> dict[str, str]:
    """What chapter 3's prose quotes, as display text.

    Setup (``n_problems``, ``n_samples``, ``hard_n_problems``, ``hard_n_samples``,
    ``temperature``, ``hard_ops``, ``n_models``); for the smallest, middle and largest member
    (``small``, ``mid``, ``large``): ``*_name`` and coverage on medium problems at k = n
    (``*_medium_kmax``); for the middle one also coverage at k = 1 (``mid_medium_k1``) and
    majority vote at k = n (``mid_medium_vote``); the matched-FLOPs comparison
    (``large_greedy``, ``reach_text``); the floor (``small_unsolved``, ``large_unsolved``,
    ``only_large``, ``hard_cov_small``, ``hard_cov_large``, ``hard_right_*``: right answers
    on the hard subset, ``hard_chain_*``: the share of them whose every step is right,
    ``hard_chain_solved_small``); the tail
    (``mid_rare``, ``mid_zero``) and the departures from the papers (``n_below_greedy``,
    ``large_pass1``, ``b_range``).
    """
    per_problem, coverage, hard = tables["per_problem"], tables["coverage"], tables["hard"]
    greedy, hard_pp = tables["greedy"], tables["hard_per_problem"]
    models = model_order(per_problem)
    none = [None] * 3
    smallest, middle, largest = ((models[0], models[len(models) // 2], models[-1])
                                 if models else none)
    out = {
        "n_problems": fmt(per_problem["problem"].nunique(), ","),
        "n_samples": fmt(config.n_samples, ","),
        "hard_n_problems": fmt(config.hard_n_problems, ","),
        "hard_n_samples": fmt(config.hard_n_samples, ","),
        "temperature": fmt(config.temperature, "g"),
        "hard_ops": fmt(int(hard_pp["n_ops"].max()) if len(hard_pp) else None, ","),
        "n_models": fmt(len(models), ","),
    }
    for name, model in (("small", smallest), ("mid", middle), ("large", largest)):
        out[f"{name}_name"] = fmt(model)
        out[f"{name}_medium_kmax"] = fmt(value_at(coverage, model, "coverage",
                                                  difficulty=MEDIUM, k=config.n_samples))
    out["mid_medium_k1"] = fmt(value_at(coverage, middle, "coverage", difficulty=MEDIUM, k=1))
    out["mid_medium_vote"] = fmt(value_at(coverage, middle, "majority", difficulty=MEDIUM,
                                          k=config.n_samples))

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
    out["hard_cov_small"] = fmt(value_at(hard, smallest, "coverage", k=config.hard_n_samples))
    out["hard_cov_large"] = fmt(value_at(hard, largest, "coverage", k=config.hard_n_samples))
    right = hard_pp.groupby("model", sort=False)[["c", "c_chain"]].sum()
    for name, model in (("small", smallest), ("large", largest)):
        c = right["c"].get(model)
        valid = right["c_chain"].get(model)
        out[f"hard_right_{name}"] = fmt(None if c is None else int(c), ",")
        out[f"hard_chain_{name}"] = fmt(None if not c else valid / c, ".0%")
    solved_small = hard_pp[hard_pp["model"] == smallest]
    out["hard_chain_solved_small"] = fmt(int((solved_small["c_chain"] > 0).sum())
                                         if len(solved_small) else None, ",")

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
