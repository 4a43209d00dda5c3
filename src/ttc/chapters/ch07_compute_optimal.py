"""Chapter 7: difficulty bins, the compute-optimal strategy per bin, and the exchange.

For the policy of chapters 4-6: its test problems are binned by difficulty (oracle: its own
pass@1 from a share of chapter 3's samples; predicted: the mean PRM score of the same
samples). In each bin and budget the best selection strategy is chosen on validation problems
and scored on the test samples that did not estimate the bins, and compared with best-of-N.
Then the FLOPs-matched exchange (Snell et al. 2024, §7): at total FLOPs equal to a larger
member's (pretraining on the same tokens plus greedy inference), for R = D_inference /
D_pretrain, does the policy with its compute-optimal strategy beat the larger member's greedy
answer, bin by bin?
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from ttc.claims import COMPUTE_OPTIMAL_CLAIMS, claim_facts
from ttc.config import ConfigError, require_distinct_ints, require_range
from ttc.exchange import (
    GREEDY,
    add_verdicts,
    break_even,
    exchange_cells,
    first_samples,
    held_out_halves,
    needed_ks,
    rule_of,
    temperature_candidates,
    temperature_curves_of,
)
from ttc.flops import SNELL_R_VALUES, exchange_factor, inference_flops, pretraining_flops
from ttc.metrics import mean_by, paired_bootstrap
from ttc.parallel import run_jobs
from ttc.report import NOT_AFTER_HOLM, cell, difference_text, fmt, joined, shown_verdict
from ttc.seeds import empty_study, seed_study, study_sentences
from ttc.strategies import budget_to_match, cross_validated_choice, difficulty_bins
from ttc.upstream import policy, powers_of_two, search_problems, verifier_base

#: the best-of-N the compute-optimal choice is measured by: weighted by the best learned
#: verifier, the policy's likelihood (chapter 4: the only learned verifier that ranks one
#: problem's answers; Snell et al.'s baseline is weighted by their PRM, which did)
BASELINE = "weighted best-of-N (likelihood)"


@dataclass(frozen=True)
class ComputeOptimalChapterConfig:
    """Parameters of chapter 7. Defaults are smoke-sized. Everything it selects among comes
    from chapters 3-6; nothing is sampled here."""

    #: difficulty bins on chapter 3's problem set, and on chapter 5's smaller subset
    n_bins: int = 5
    subset_bins: int = 2
    #: R = D_inference / D_pretrain values to compare at, and points of the continuous sweep
    r_values: tuple[float, ...] = SNELL_R_VALUES
    r_sweep_points: int = 41
    seed: int = 0
    #: the share of each problem's samples that estimates its difficulty bin; the exchange
    #: scores the rest, so a smaller share leaves more samples to spend the allowance on
    bin_share: float = 0.5
    #: random subsets per budget for the selection rules in the exchange, and bootstrap
    #: resamples for its intervals and p-values (Holm needs fine p-values)
    selection_resamples: int = 100
    n_boot: int = 10_000
    #: training seeds of the family whose exchanges are compared (:mod:`ttc.seeds`: the
    #: policy and every larger member trained again under each seed); one seed, the book's
    #: own (0), runs no study: the ``seeds`` profile runs three
    seeds: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        require_distinct_ints("seeds", self.seeds, low=0)
        require_range("n_bins", self.n_bins, low=2, high=20)
        require_range("subset_bins", self.subset_bins, low=1, high=10)
        require_range("r_sweep_points", self.r_sweep_points, low=3, high=1000)
        require_range("selection_resamples", self.selection_resamples, low=10)
        require_range("n_boot", self.n_boot, low=100)
        if not 0.05 <= self.bin_share <= 0.95:
            raise ConfigError(f"parameter 'bin_share' must be between 0.05 and 0.95; got "
                              f"{self.bin_share!r}")
        if not self.r_values or any(r <= 0 for r in self.r_values):
            raise ConfigError(f"parameter 'r_values' must be a non-empty list of positive "
                              f"numbers; got {list(self.r_values)!r}")


def _bins(values: pd.Series, n_bins: int, seed: int) -> pd.Series:
    return pd.Series(difficulty_bins(values.to_numpy(), n_bins, seed=seed), index=values.index)


def compute_optimal(pool: pd.DataFrame, bins: pd.Series, seed: int,
                    validation: tuple[pd.DataFrame, pd.Series] | None = None) -> pd.DataFrame:
    """The best strategy per (bin, budget), scored on the problems of ``pool``: one row per
    (bin, budget, problem). ``validation``: ``(pool, bins)`` of validation problems, on which
    the strategy of each (bin, budget) is chosen (:func:`validated_choice`); without it, by
    two-fold cross-validation over ``pool``'s own problems."""
    data = pool.assign(bin=pool["problem"].map(bins))
    if validation is not None:
        return validated_choice(data, *validation)[0]
    scores, _ = cross_validated_choice(data, ["bin", "budget"], seed=seed)
    return scores


def validated_choice(data: pd.DataFrame, v_pool: pd.DataFrame, v_bins: pd.Series
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (bin, budget) of ``data`` (a pool with a ``bin`` column): the strategy with the
    highest mean on the validation problems of the same bin (``v_pool`` and its ``v_bins``)
    at the same budget, or at the largest validation budget below it; ties go to the
    strategy listed first. Returns ``scores`` (the rows of ``data`` with the chosen
    strategies) and ``choices`` (one row per bin and budget: ``strategy``,
    ``validation_score``, ``validation_budget``, ``validation_problems``). A bin without
    validation problems keeps nothing (it cannot be chosen for)."""
    v_data = v_pool.assign(bin=v_pool["problem"].map(v_bins))
    order = list(dict.fromkeys(data["strategy"]))
    scores, choices = [], []
    for (b, budget), group in data.groupby(["bin", "budget"], sort=True):
        mine = v_data[(v_data["bin"] == b) & (v_data["budget"] <= budget)]
        if mine.empty:
            continue
        v_budget = mine["budget"].max()
        mine = mine[mine["budget"] == v_budget]
        means = mine.groupby("strategy")["correct"].mean().reindex(order)
        chosen = means.idxmax()
        scores.append(group[group["strategy"] == chosen])
        choices.append({"bin": b, "budget": budget, "strategy": chosen,
                        "validation_score": float(means.max()),
                        "validation_budget": int(v_budget),
                        "validation_problems": int(mine["problem"].nunique())})
    return (pd.concat(scores, ignore_index=True) if scores else data.iloc[:0],
            pd.DataFrame(choices, columns=["bin", "budget", "strategy", "validation_score",
                                           "validation_budget", "validation_problems"]))


def curve_pool(curves: dict, problems: np.ndarray, samples: pd.DataFrame, reference: float,
               n_policy: int, n_verifier: int, budgets) -> pd.DataFrame:
    """The sample-selection strategies as a pool (one row per strategy, budget and problem:
    ``correct`` and ``flops``) from the exchange's per-problem curves at the
    ``reference`` temperature (:func:`ttc.exchange.temperature_curves_of`; ``problems``:
    their order), on ``samples`` (the problems' samples: tokens and ``n_ops``). FLOPs:
    the policy's tokens, plus the verifier's reading them, or for the likelihood the
    policy's reading them unless the sampler kept it (a ``logprob`` column)."""
    from ttc.exchange import SAMPLE_RULES, temperature_label

    per_problem = samples.groupby("problem").agg(tokens=("n_tokens", "mean"),
                                                 n_ops=("n_ops", "first")).reindex(problems)
    scorer = {None: 0, "verifier": n_verifier,
              "policy": 0 if "logprob" in samples else n_policy}
    rows = []
    for label, (_, _, by) in SAMPLE_RULES.items():
        curve = curves.get(temperature_label(label, reference))
        if curve is None:
            continue
        for budget in budgets:
            if budget not in curve:
                continue
            rows.append(pd.DataFrame({
                "strategy": label, "budget": int(budget), "problem": problems,
                "n_ops": per_problem["n_ops"].to_numpy(), "correct": curve[budget],
                "flops": 2.0 * (n_policy + scorer[by]) * budget
                * per_problem["tokens"].to_numpy()}))
    return pd.concat(rows, ignore_index=True)


def saving_intervals(optimal: pd.DataFrame, baseline: pd.DataFrame, n_boot: int = 1000,
                     seed: int = 0) -> dict[str, tuple[float, float]]:
    """95% bootstrap intervals of the median and of the largest saving of :func:`savings`
    (the cells of :func:`efficiency` above the smallest budget), resampling the problems of
    each bin: ``{"median": (low, high), "max": (low, high)}``; NaN where no resample has a
    saving. The largest saving over many cells is an optimistic statistic; its interval
    says how far one draw of problems moves it, not that it is unbiased."""
    rng = np.random.default_rng(seed)
    cells = []
    for b, group in optimal.groupby("bin"):
        opt = group.pivot_table(index="problem", columns="budget", values="correct")
        base = baseline[baseline["bin"] == b].pivot_table(index="problem", columns="budget",
                                                          values="correct")
        common = opt.index.intersection(base.index)
        if len(common):
            cells.append((opt.loc[common].to_numpy(), opt.columns.to_numpy(),
                          base.loc[common].to_numpy(), base.columns.to_numpy()))
    medians, maxima = [], []
    for _ in range(n_boot):
        pairs = []  # (budget, saving) of the cells efficiency() keeps, as savings() reads them
        for opt, opt_budgets, base, base_budgets in cells:
            pick = rng.integers(0, len(opt), len(opt))
            opt_mean, base_mean = opt[pick].mean(axis=0), base[pick].mean(axis=0)
            for budget, target in zip(base_budgets, base_mean, strict=True):
                if target <= base_mean[0] + 1e-9:
                    continue
                need = budget_to_match(opt_budgets, opt_mean, target)
                if need == need:
                    pairs.append((budget, budget / need))
        smallest = min((budget for budget, _ in pairs), default=None)
        found = [saving for budget, saving in pairs if budget > smallest]
        if found:
            medians.append(np.median(found))
            maxima.append(max(found))

    def interval(values: list[float]) -> tuple[float, float]:
        if not values:
            return (float("nan"), float("nan"))
        low, high = np.percentile(values, [2.5, 97.5])
        return (float(low), float(high))

    return {"median": interval(medians), "max": interval(maxima)}


def efficiency(optimal: pd.DataFrame, baseline: pd.DataFrame) -> pd.DataFrame:
    """Per bin and budget b: the budget the compute-optimal strategy needs to match the
    baseline's accuracy at b, and the saving b / that budget. Budgets where the baseline is
    no better than at its smallest budget are left out (nothing to match)."""
    rows = []
    for b, group in optimal.groupby("bin"):
        opt = group.groupby("budget")["correct"].mean()
        base = baseline[baseline["bin"] == b].groupby("budget")["correct"].mean()
        for budget, target in base.items():
            if target <= base.iloc[0] + 1e-9:  # best-of-N gains nothing here: no saving to
                continue                      # measure (e.g. a bin it never solves)
            need = budget_to_match(opt.index.to_numpy(), opt.to_numpy(), target)
            rows.append({"bin": b, "budget": budget, "baseline": target,
                         "optimal": float(opt.get(budget, np.nan)), "budget_needed": need,
                         "saving": budget / need if need == need else np.nan})
    return pd.DataFrame(rows, columns=["bin", "budget", "baseline", "optimal",
                                       "budget_needed", "saving"])


def run(config: ComputeOptimalChapterConfig, inputs, progress: bool = True
        ) -> dict[str, pd.DataFrame]:
    """Bins, compute-optimal strategies, efficiency over best-of-N and the exchange.

    Tables: ``bins`` (per problem: pass@1, mean PRM score, oracle and predicted bins),
    ``bin_agreement`` (oracle × predicted counts), ``optimal`` (per bin kind, bin and budget:
    compute-optimal and best-of-N accuracy), ``efficiency`` (budget needed to match best-of-N),
    ``subset`` (the same with search and revisions on chapter 5's problems), ``exchange`` (per
    larger member, R and bin: :func:`ttc.exchange.exchange_cells` with Holm-corrected
    verdicts), ``sweep`` (the same over a continuous range of R), ``break_even`` (per pool of
    strategies, learned or perfect verifier, larger member and bin: the largest R at which
    test-time compute is still ahead, with bounds from the sweep's intervals),
    ``accounting`` (every FLOP charged or not: :func:`accounting`),
    ``members`` (chapter 2's N, D and training FLOPs) and ``setup`` (the policy, the
    verifiers' base member and their sizes).
    """
    table = inputs["02_family"]["members"]
    members = {row.model: {"N": row.N, "D": row.D, "train_flops": row.train_flops}
               for row in table.itertuples()}
    the_policy = policy(inputs)
    n_policy, n_verifier = members[the_policy]["N"], members[verifier_base(inputs)]["N"]
    if not any(info["N"] > n_policy for info in members.values()):
        raise ConfigError(f"chapter 7 compares the policy {the_policy!r} with larger "
                          f"members, but it is the largest of chapter 2's family; choose a "
                          f"smaller 'policy' in 04_verifiers")

    ver = inputs["04_verifiers"]
    scored = ver["scored"]
    # difficulty from a share of each problem's samples; the exchange scores the rest
    bin_half, score_half = held_out_halves(scored, config.seed, config.bin_share)
    per_problem = bin_half.groupby("problem").agg(pass1=("correct", "mean"),
                                                  prm=("prm_last", "mean"),
                                                  n_ops=("n_ops", "first"))
    per_problem["oracle_bin"] = _bins(per_problem["pass1"], config.n_bins, config.seed)
    per_problem["predicted_bin"] = _bins(per_problem["prm"], config.n_bins, config.seed)
    agreement = pd.crosstab(per_problem["oracle_bin"], per_problem["predicted_bin"])

    greedy = inputs["03_sampling"]["greedy"]
    sizes = {model: info["N"] for model, info in members.items()}
    sweep_r = np.logspace(-2, 2, config.r_sweep_points)
    validation = ((ver["scored_validation"], ver["greedy_validation"])
                  if "scored_validation" in ver.tables else None)
    other_temperatures = (set(ver["scored_temperatures"]["temperature"].astype(float))
                          if "scored_temperatures" in ver.tables else set())
    reference = float(inputs["03_sampling"].config.temperature)
    curves: dict = {}
    table, sweep = fair_exchange(score_half, per_problem["oracle_bin"], greedy, sizes,
                                 the_policy, verifier_base(inputs), config, sweep_r,
                                 ver.tables.get("scored_temperatures"), validation,
                                 reference, curves_out=curves)

    # the compute-optimal strategy per bin: scored on the samples that did not estimate the
    # bins, chosen on the validation problems (else cross-validated on the test problems)
    pool = curve_pool(curves["test"], curves["problems"], score_half, reference, n_policy,
                      n_verifier, curves["budgets"])
    v_pool = (curve_pool(curves["validation"], curves["v_problems"], curves["v_samples"],
                         reference, n_policy, n_verifier, curves["budgets"])
              if "validation" in curves else None)
    if v_pool is not None:
        v_per_problem = curves["v_samples"].groupby("problem")["prm_last"].mean()
        v_bins = {"oracle": curves["v_bins"],
                  "predicted": _bins(v_per_problem, min(config.n_bins, len(v_per_problem)),
                                     config.seed)}
    optimal_rows, efficiency_rows, intervals = [], [], []
    for kind in ("oracle", "predicted"):
        bins = per_problem[f"{kind}_bin"]
        opt = compute_optimal(pool, bins, config.seed,
                              None if v_pool is None else (v_pool, v_bins[kind]))
        base = pool[pool["strategy"] == BASELINE]
        base = base.assign(bin=base["problem"].map(bins))
        summary = opt.groupby(["bin", "budget"])["correct"].mean().rename("optimal")
        chosen = opt.groupby(["bin", "budget"])["strategy"].agg(
            lambda s: " / ".join(dict.fromkeys(s))).rename("chosen")
        summary = pd.concat([summary, base.groupby(["bin", "budget"])["correct"].mean()
                             .rename("best_of_n"), chosen], axis=1).reset_index()
        for frame, name in ((opt, "optimal"), (base, "best_of_n")):  # 95% bands over problems
            band = mean_by(frame, ["bin", "budget"], "correct", name=name)
            summary = summary.merge(band[["bin", "budget", f"{name}_low", f"{name}_high"]],
                                    on=["bin", "budget"], how="left")
        optimal_rows.append(summary.assign(bins=kind))
        efficiency_rows.append(efficiency(opt, base).assign(bins=kind))
        bounds = saving_intervals(opt, base, min(config.n_boot, 1000), config.seed)
        intervals.append({"bins": kind, "median_low": bounds["median"][0],
                          "median_high": bounds["median"][1], "max_low": bounds["max"][0],
                          "max_high": bounds["max"][1]})

    _, indices = search_problems(inputs)
    subset = subset_analysis(config, pool, per_problem, indices,
                             inputs["05_search"]["results"], inputs["06_revisions"]["splits"])
    charges = accounting(score_half, bin_half, prompt_lengths(greedy), greedy, sizes,
                         the_policy, verifier_base(inputs),
                         {m: info["train_flops"] for m, info in members.items()},
                         ver["verifiers"], inputs["04_verifiers"].config.epochs,
                         ver["mc_labels"], inputs["06_revisions"]["splits"], indices)
    study = (seed_study(config.seeds, inputs, config, partial(seed_exchange_table, config),
                        progress) if len(config.seeds) > 1 else empty_study())
    return {**study, "bins": per_problem.reset_index(), "bin_agreement": agreement.reset_index(),
            "optimal": pd.concat(optimal_rows, ignore_index=True),
            "efficiency": pd.concat(efficiency_rows, ignore_index=True),
            "saving_intervals": pd.DataFrame(intervals),
            "subset": subset, "exchange": table, "sweep": sweep, "accounting": charges,
            "break_even": pd.concat(
                [break_even(sweep).assign(pool="learned"),
                 break_even(sweep, "ceiling_difference").assign(pool="perfect verifier")],
                ignore_index=True),
            "members": pd.DataFrame([{"model": k, "N": v["N"], "D": v["D"],
                                      "train_flops": v["train_flops"]}
                                     for k, v in members.items()]),
            "setup": pd.DataFrame([{"policy": the_policy, "n_policy": n_policy,
                                    "optimal_chosen_on": ("validation" if v_pool is not None
                                                          else "cross-validation"),
                                    "verifier_base": verifier_base(inputs),
                                    "n_verifier": n_verifier,
                                    "n_bin_samples": int(bin_half.groupby("problem").size().min()),
                                    "temperatures": ", ".join(
                                        f"{t:g}" for t in sorted({float(inputs["03_sampling"]
                                                                        .config.temperature),
                                                                  *other_temperatures})),
                                    "n_validation": (int(validation[1]["problem"].nunique())
                                                     if validation is not None else 0),
                                    "reference_temperature": float(
                                        inputs["03_sampling"].config.temperature),
                                    "n_score_samples": int(
                                        score_half.groupby("problem").size().min())}])}


def prompt_lengths(greedy: pd.DataFrame) -> pd.Series:
    """Tokens of each problem's prompt (index: problem) as every member reads it: the
    prompts of chapter 3's greedy answers, encoded by the family's tokenizer with its
    ``<bos>`` (the policy of chapters 4-7 is always a family member)."""
    from ttc.tokenizer import build_tokenizer

    tokenizer = build_tokenizer()
    prompts = greedy.drop_duplicates("problem").set_index("problem")["prompt"].sort_index()
    return prompts.map(lambda text: len(tokenizer(text)["input_ids"]))


def fair_exchange(score_half: pd.DataFrame, bins: pd.Series, greedy: pd.DataFrame,
                  sizes: dict[str, int], policy_name: str, verifier_name: str,
                  config: ComputeOptimalChapterConfig, sweep_r,
                  other_temperatures: pd.DataFrame | None = None,
                  validation: tuple[pd.DataFrame, pd.DataFrame] | None = None,
                  reference: float = 1.0, curves_out: dict | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The FLOPs-matched exchange on the scored part of the policy's samples
    (:mod:`ttc.exchange`): every candidate at its exact affordable budget and at every
    temperature sampled, the policy's own greedy answer, the perfect-verifier ceiling,
    paired bootstrap intervals, and verdicts Holm-corrected over the cells of the
    ``r_values`` table. Returns ``(table, sweep)``.

    ``bins``: oracle bin per problem (from the binning part); ``greedy``: chapter 3's greedy
    answers of every member on the same problems; ``other_temperatures``: the policy's
    samples of the same problems at other temperatures (column ``temperature``);
    ``validation``: ``(samples at every temperature, greedy answers)`` of validation
    problems, on which each cell's candidate is chosen (else: two-fold cross-validation on
    the test problems); ``reference``: chapter 3's temperature, that of ``score_half``.
    ``curves_out``: filled with the per-problem selection curves, computed also at every
    power of two up to the samples per problem (``test``, ``problems``, and where there
    are validation problems ``validation``, ``v_problems``, ``v_samples``, ``v_bins``,
    ``budgets``), for the compute-optimal section to reuse."""
    problems = np.array(sorted(score_half["problem"].unique()))
    sets = {reference: score_half}
    if other_temperatures is not None and len(other_temperatures):
        sets |= {float(t): g.drop(columns="temperature")
                 for t, g in other_temperatures.groupby("temperature", sort=True)}
    n = min(int(g.groupby("problem").size().min()) for g in sets.values())
    v_sets: dict[float, pd.DataFrame] = {}
    if validation is not None and len(validation[0]):
        v_sets = {float(t): g.drop(columns="temperature")
                  for t, g in validation[0].groupby("temperature", sort=True)}
        n = min(n, *(int(g.groupby("problem").size().min()) for g in v_sets.values()))
    sets = {t: first_samples(g, n) for t, g in sets.items()}
    by_model = {model: g.set_index("problem").reindex(problems)
                for model, g in greedy.groupby("model")}
    small = by_model[policy_name]
    sample_tokens = {t: float(g["n_tokens"].mean()) for t, g in sets.items()}
    kept = all("logprob" in g for g in sets.values())  # the likelihood came with the samples
    options = temperature_candidates(sizes[policy_name], sizes[verifier_name], sample_tokens,
                                     float(small["n_tokens"].mean()), reference,
                                     likelihood_kept=kept)
    larger = {model: (g["correct"].astype(float).to_numpy(), float(g["n_tokens"].mean()))
              for model, g in by_model.items() if sizes[model] > sizes[policy_name]}
    n_policy = sizes[policy_name]
    allowances = [exchange_factor(sizes[m] / n_policy, r) * inference_flops(n_policy, tokens)
                  for m, (_, tokens) in larger.items() for r in (*config.r_values, *sweep_r)]
    ks = needed_ks(allowances, [o.flops_per_unit for o in options if o.sampled], n)
    budgets = powers_of_two(n)
    if curves_out is not None:
        ks = sorted(set(ks) | set(budgets))
    v_sets = {t: first_samples(g, n) for t, g in v_sets.items()}
    curves, *v_curves = temperature_curves_of(
        [sets, v_sets] if v_sets else [sets], ks, reference,
        n_resamples=config.selection_resamples, seed=config.seed)
    choose_on = None
    if v_sets:
        reference_v = v_sets.get(reference, next(iter(v_sets.values())))
        pass1 = reference_v.groupby("problem")["correct"].mean()
        v_problems = np.array(sorted(pass1.index))
        v_bins = _bins(pass1, min(config.n_bins, len(pass1)), config.seed)
        v_greedy = validation[1].set_index("problem")["correct"].reindex(v_problems)
        choose_on = (v_curves[0], n, v_problems, v_bins.reindex(v_problems).to_numpy(),
                     v_greedy.astype(float).to_numpy())
    if curves_out is not None:
        curves_out |= {"test": curves, "problems": problems, "budgets": budgets}
        if choose_on is not None:
            curves_out |= {"validation": choose_on[0], "v_problems": v_problems,
                           "v_samples": reference_v, "v_bins": v_bins.reindex(v_problems)}
    common = (curves, options, n, problems, bins.reindex(problems).to_numpy(),
              small["correct"].astype(float).to_numpy(), larger, sizes, policy_name)
    # the table and the sweep are independent: one worker process each
    jobs = [(common, list(config.r_values), config.seed, config.n_boot, choose_on),
            (common, list(sweep_r), config.seed, min(config.n_boot, 2000), choose_on)]
    table, sweep = run_jobs(_exchange_cells_job, jobs, desc="exchange", progress=False,
                            costs=[len(job[1]) * job[3] for job in jobs])
    return add_verdicts(table), sweep


def _exchange_cells_job(job: tuple) -> pd.DataFrame:
    """:func:`ttc.exchange.exchange_cells` of one job ``(common, r_values, seed, n_boot,
    choose_on)`` (a job of :func:`ttc.parallel.run_jobs`)."""
    common, r_values, seed, n_boot, choose_on = job
    return exchange_cells(*common, r_values, seed=seed, n_boot=n_boot, choose_on=choose_on)


def seed_exchange_table(config: ComputeOptimalChapterConfig, scored: pd.DataFrame,
                        greedy: pd.DataFrame, sizes: dict[str, int], policy_name: str
                        ) -> pd.DataFrame:
    """The exchange of one training seed's family for :mod:`ttc.seeds`: bins from a share
    of the policy's ``scored`` samples (their pass@1), the rest scored, candidates chosen by
    cross-validation on the test problems (no validation sets per seed), the perfect
    verifier charged at the policy's size; the table of :func:`fair_exchange`."""
    bin_half, score_half = held_out_halves(scored, config.seed, config.bin_share)
    bins = _bins(bin_half.groupby("problem")["correct"].mean(), config.n_bins, config.seed)
    table, _ = fair_exchange(score_half, bins, greedy, sizes, policy_name, policy_name,
                             config, np.array([]))
    return table


def subset_analysis(config: ComputeOptimalChapterConfig, pool: pd.DataFrame,
                    per_problem: pd.DataFrame, indices: list[int], search: pd.DataFrame,
                    rev: pd.DataFrame) -> pd.DataFrame:
    """Compute-optimal choice on chapter 5's problems with every strategy: sample selection,
    verifier-guided search (chapter 5's ``results``) and revision splits (chapter 6's ``splits``).
    ``indices``: chapter 5's problems in chapter 3's main set. Few problems: coarse bins.
    Columns: ``bin``, ``budget``, ``optimal`` and ``best_of_n`` (accuracies), ``difference``
    (optimal minus best-of-N, paired by problem) with its 95% bootstrap interval ``low`` and
    ``high``, and ``chosen`` (one strategy per fold)."""
    search = search[search["verifier"] != "oracle"]  # the learned verifier (chapter 5's)
    rows = [pool[pool["problem"].isin(indices)].assign(
        problem=lambda t: t["problem"].map({p: i for i, p in enumerate(indices)}))]
    rows.append(pd.DataFrame({"strategy": search["variant"], "budget": search["budget"],
                              "problem": search["problem"], "n_ops": search["n_ops"],
                              "correct": search["correct"].astype(float),
                              "flops": search["policy_flops"] + search["verifier_flops"]}))
    rev = rev[rev["rule"] == "majority"]
    rows.append(pd.DataFrame({"strategy": "revisions, " + rev["length"].astype(str)
                              + " per chain", "budget": rev["budget"],
                              "problem": rev["problem"], "n_ops": rev["n_ops"],
                              "correct": rev["correct"], "flops": rev["flops"]}))
    pool_b = pd.concat(rows, ignore_index=True)
    budgets = set(pool_b[pool_b["strategy"].str.startswith("revisions")]["budget"]) | set(
        search["budget"])
    pool_b = pool_b[pool_b["budget"].isin(budgets)]
    pass1 = per_problem["pass1"].reindex(indices).reset_index(drop=True)
    bins = _bins(pass1, min(config.subset_bins, len(pass1)), config.seed)
    scores, choices = cross_validated_choice(pool_b.assign(bin=pool_b["problem"].map(bins)),
                                             ["bin", "budget"], seed=config.seed)
    base = pool_b[pool_b["strategy"] == BASELINE]
    base = base.assign(bin=base["problem"].map(bins))
    out = scores.groupby(["bin", "budget"])["correct"].mean().rename("optimal").to_frame()
    out["best_of_n"] = base.groupby(["bin", "budget"])["correct"].mean()
    # the paired difference per problem, with its 95% bootstrap interval over problems
    paired = scores.merge(base[["bin", "budget", "problem", "correct"]],
                          on=["bin", "budget", "problem"], suffixes=("", "_base"))
    for key, group in paired.groupby(["bin", "budget"]):
        stats = paired_bootstrap((group["correct"] - group["correct_base"]).to_numpy(
            dtype=float), n_boot=config.n_boot, seed=config.seed)
        out.loc[key, ["difference", "low", "high"]] = [stats["mean"], stats["low"],
                                                       stats["high"]]
    chosen = choices.groupby(["bin", "budget"])["strategy"].agg(lambda s: " / ".join(
        dict.fromkeys(s)))
    return out.join(chosen.rename("chosen")).reset_index()


#: what the ``scope`` column of :func:`accounting` says an item is summed over
SCOPE_TEST, SCOPE_SUBSET, SCOPE_ONCE = "test problems", "chapter 5's problems", "once"


def _row(item: str, charged: str, flops: float, scope: str) -> dict:
    return {"item": item, "charged": charged, "flops": float(flops), "scope": scope}


def accounting(score_half: pd.DataFrame, bin_half: pd.DataFrame, prompt_tokens: pd.Series,
               greedy: pd.DataFrame, sizes: dict[str, int], policy_name: str,
               verifier_name: str, pretraining: dict[str, float], verifiers: pd.DataFrame,
               epochs: int, mc_labels: pd.DataFrame, splits: pd.DataFrame,
               subset: list[int]) -> pd.DataFrame:
    """Every FLOP of chapter 7's comparisons, charged or not: one row per item.

    Columns: ``item``, ``charged`` ("yes", "no", or "through R" for pretraining, which the
    exchange factor puts on both sides with the same tokens), ``flops``, ``scope`` (what the
    FLOPs are summed over: :data:`SCOPE_TEST`, the exchange's test problems; :data:`SCOPE_SUBSET`,
    chapter 5's problems of the revisions; :data:`SCOPE_ONCE`, a one-off cost),
    ``vs_greedy`` (FLOPs over the largest member's greedy inference FLOPs on the same
    problems, the test problems for one-off costs: the allowance against the largest member
    approaches it as R grows) and ``vs_pretraining`` (over the policy's pretraining).

    Charged items are at the exchange's largest budget: every scored sample of every
    problem. ``score_half``/``bin_half``: the policy's samples (``problem``, ``n_tokens``)
    that the exchange scores and that estimate the bins; ``prompt_tokens``: tokens of each
    problem's prompt (index: problem); ``greedy``: chapter 3's greedy answers (``model``,
    ``problem``, ``n_tokens``); ``sizes``: non-embedding N per member; ``pretraining``:
    every member's pretraining FLOPs (the policy's and the larger ones'); ``verifiers``: chapter 4's
    table (``verifier``, ``N``, ``train_tokens`` per epoch), trained ``epochs`` times;
    ``mc_labels``: chapter 4's Monte-Carlo rollouts (``rollout_tokens``); ``splits``:
    chapter 6's revision splits (``budget``, ``split``, ``rule``, ``problem``,
    ``context_tokens``, ``flops``) on chapter 5's problems, at positions ``subset`` of
    chapter 3's set. The policy draws the verifiers' training chains: chapter 4's PRM
    learns from every one of them (one example per chain), so its ``train_tokens`` are the
    tokens the policy read and wrote for them.
    """
    n_policy, n_verifier = sizes[policy_name], sizes[verifier_name]
    larger = sorted((m for m in sizes if sizes[m] > n_policy), key=sizes.get)
    if not larger:
        raise ValueError(f"no member is larger than the policy {policy_name!r}")
    problems = np.array(sorted(score_half["problem"].unique()))
    greedy_tokens = {m: g.set_index("problem")["n_tokens"] for m, g in greedy.groupby("model")}
    prompts = prompt_tokens.reindex(problems).to_numpy(dtype=float)
    per_problem = score_half.groupby("problem").size().reindex(problems).to_numpy()
    sample_prompts = float((prompts * per_problem).sum())
    generated = float(score_half["n_tokens"].sum())
    kept = "logprob" in score_half  # the sampler kept the likelihood: no re-reading
    rows = [
        _row("policy's samples: generated tokens (2·N_policy each)", "yes",
             inference_flops(n_policy, generated), SCOPE_TEST),
        _row("verifier reading the samples: generated tokens (2·N_verifier each)", "yes",
             inference_flops(n_verifier, generated), SCOPE_TEST),
        (_row("the policy's likelihood of its samples: kept by the sampler", "yes", 0.0,
              SCOPE_TEST) if kept else
         _row("policy re-reading the samples for its likelihood (2·N_policy each)", "yes",
              inference_flops(n_policy, generated), SCOPE_TEST)),
        _row("policy's own greedy answer (2·N_policy per token)", "yes", inference_flops(
            n_policy, float(greedy_tokens[policy_name].reindex(problems).sum())), SCOPE_TEST),
    ]
    rows += [_row(f"{m}'s greedy answer (2·N per token)", "yes", inference_flops(
        sizes[m], float(greedy_tokens[m].reindex(problems).sum())), SCOPE_TEST)
        for m in larger]
    rows += [
        _row("prompt tokens of the policy's samples", "no",
             inference_flops(n_policy, sample_prompts), SCOPE_TEST),
        _row("prompt tokens the verifier reads with each sample", "no",
             inference_flops(n_verifier, sample_prompts), SCOPE_TEST),
        *([] if kept else [_row("prompt tokens of the likelihood's re-read", "no",
                                inference_flops(n_policy, sample_prompts), SCOPE_TEST)]),
        _row("prompt tokens of the policy's greedy answer", "no",
             inference_flops(n_policy, float(prompts.sum())), SCOPE_TEST),
    ]
    rows += [_row(f"prompt tokens of {m}'s greedy answer", "no",
                  inference_flops(sizes[m], float(prompts.sum())), SCOPE_TEST)
             for m in larger]
    bin_counts = bin_half.groupby("problem").size().reindex(problems, fill_value=0).to_numpy()
    bin_tokens = float(bin_half["n_tokens"].sum() + (prompts * bin_counts).sum())
    rows += [
        _row("samples that estimate the difficulty bins: prompt and generated tokens",
             "no", inference_flops(n_policy, bin_tokens), SCOPE_TEST),
        _row("PRM scores of those samples (the predicted bins)", "no",
             inference_flops(n_verifier, bin_tokens), SCOPE_TEST),
    ]
    by_kind = verifiers.set_index("verifier")
    rows.append(_row("policy drawing the verifiers' training chains (prompt and chain)", "no",
                     inference_flops(n_policy, float(by_kind.loc["PRM", "train_tokens"])),
                     SCOPE_ONCE))
    rows.append(_row("Monte-Carlo rollouts labelling the PRM's data (generated tokens)", "no",
                     inference_flops(n_policy, float(mc_labels["rollout_tokens"].sum())),
                     SCOPE_ONCE))
    rows += [_row(f"training the {kind} ({epochs} epochs, 6·N per token; upper bound)", "no",
                  pretraining_flops(float(row.N), float(row.train_tokens) * epochs),
                  SCOPE_ONCE) for kind, row in by_kind.iterrows()]
    rows += [_row(f"pretraining {m} (6·N·D)", "through R", pretraining[m], SCOPE_ONCE)
             for m in (policy_name, *larger)]
    revisions = _revision_rows(splits, n_policy)
    table = pd.DataFrame(rows + revisions)
    test_ref = inference_flops(sizes[larger[-1]],
                               float(greedy_tokens[larger[-1]].reindex(problems).sum()))
    subset_ref = inference_flops(sizes[larger[-1]],
                                 float(greedy_tokens[larger[-1]].reindex(subset).sum()))
    reference = np.where(table["scope"] == SCOPE_SUBSET, subset_ref, test_ref)
    return table.assign(vs_greedy=table["flops"] / reference,
                        vs_pretraining=table["flops"] / pretraining[policy_name])


def _revision_rows(splits: pd.DataFrame, n_policy: int) -> list[dict]:
    """Chapter 6's revisions at their largest budget, in the split that reads the most
    history: what its majority vote is charged, and the prompt and history tokens the
    revision model (the policy's size) reads without charge."""
    rows = splits[splits["rule"] == "majority"]
    if rows.empty:
        return []
    rows = rows[rows["budget"] == rows["budget"].max()]
    context = rows.groupby("split")["context_tokens"].sum()
    split = context.idxmax()
    chosen = rows[rows["split"] == split]
    budget = int(chosen["budget"].iloc[0])
    return [_row(f"revisions, budget {budget} as {split}: generated tokens (2·N_policy each)",
                 "yes", float(chosen["flops"].sum()), SCOPE_SUBSET),
            _row(f"revisions, budget {budget} as {split}: prompt and history read", "no",
                 inference_flops(n_policy, float(context.max())), SCOPE_SUBSET)]


def largest_uncharged(table: pd.DataFrame, per_problem: bool = False) -> pd.Series | None:
    """The uncharged row of :func:`accounting` largest next to the larger member's greedy
    FLOPs on the same problems (``per_problem``: among the costs paid per problem, on the
    test problems or chapter 5's, not once); None when there is none."""
    rows = table[table["charged"] == "no"]
    if per_problem:
        rows = rows[rows["scope"] != SCOPE_ONCE]
    return None if rows.empty else rows.loc[rows["vs_greedy"].idxmax()]


def _greedy_scope(row: pd.Series | None) -> str:
    """The problems whose greedy FLOPs an accounting row is measured against, as prose: its
    own (chapter 5's for the revisions), the test problems for a one-off cost."""
    if row is None:
        return fmt(None)
    return "chapter 5's problems" if row["scope"] == SCOPE_SUBSET else "the test problems"


def _per_problem_sentence(top: pd.Series | None, per_query: pd.Series | None) -> str:
    """The accounting's sentence on the largest uncharged cost paid per problem; it says only
    that it is the same item when the largest uncharged cost overall is already one."""
    if per_query is None:
        return "No uncharged cost is paid per problem."
    if top is not None and top["item"] == per_query["item"]:
        return "It is also the largest of the uncharged costs paid per problem."
    return (f"Of the uncharged costs paid per problem the largest is {per_query['item']}, "
            f"{fmt(per_query['vs_greedy'])}× the largest member's greedy FLOPs on "
            f"{_greedy_scope(per_query)}.")


#: labels of the two curves of the compute-optimal figure
CURVE_LABELS = {"optimal": "compute-optimal choice", "best_of_n": BASELINE}


def _word_list(text: str | None) -> str:
    """``"0.5, 0.8, 1"`` as ``"0.5, 0.8 and 1"``; n/a for None."""
    if not text:
        return fmt(None)
    return joined([w.strip() for w in str(text).split(",")])


def chose_other_temperature(chosen: str, setup: pd.DataFrame) -> bool:
    """Whether an exchange cell's chosen candidate samples at a temperature other than
    chapter 3's (``setup``'s ``reference_temperature``)."""
    reference = cell(setup, "reference_temperature")
    return bool(re.search(r", T = ([0-9.]+)", chosen)) and (
        reference is None or float(re.search(r", T = ([0-9.]+)", chosen).group(1))
        != float(reference))


def bin_summary(bins: pd.DataFrame) -> pd.DataFrame:
    """Per oracle bin (``bins``: chapter 7's per-problem table): mean pass@1, mean PRM score,
    mean number of operations and the number of problems, one row per bin in order."""
    return (bins.groupby("oracle_bin")
            .agg(pass1=("pass1", "mean"), prm=("prm", "mean"), n_ops=("n_ops", "mean"),
                 problems=("pass1", "size"))
            .reset_index())


def bin_agreement_rates(bins: pd.DataFrame) -> tuple[float, float]:
    """Share of problems whose predicted bin equals the oracle bin, and share within one
    bin of it; NaN for no problems."""
    if bins.empty:
        return float("nan"), float("nan")
    gap = (bins["oracle_bin"] - bins["predicted_bin"]).abs()
    return float((gap == 0).mean()), float((gap <= 1).mean())


def optimal_curves(optimal: pd.DataFrame, kind: str = "oracle") -> pd.DataFrame:
    """The compute-optimal figure's table: ``optimal`` (one row per bin kind, bin and
    budget) melted to one row per (bin, budget, curve), with columns ``bin`` ("bin 1", ...),
    ``budget``, ``strategy`` (the curve's label, :data:`CURVE_LABELS`), ``accuracy`` and,
    where ``optimal`` has them, its 95% band ``accuracy_low`` and ``accuracy_high``, for the
    ``kind`` of bins ("oracle" or "predicted")."""
    rows = optimal[optimal["bins"] == kind]
    long = rows.melt(id_vars=["bin", "budget"], value_vars=list(CURVE_LABELS),
                     var_name="strategy", value_name="accuracy")
    for side in ("low", "high"):
        columns = [f"{c}_{side}" for c in CURVE_LABELS]
        if all(c in rows for c in columns):
            band = rows.melt(id_vars=["bin", "budget"], value_vars=columns,
                             var_name="strategy", value_name=f"accuracy_{side}")
            band["strategy"] = band["strategy"].str.removesuffix(f"_{side}")
            long = long.merge(band, on=["bin", "budget", "strategy"], how="left")
    return long.assign(strategy=long["strategy"].map(CURVE_LABELS),
                       bin="bin " + long["bin"].astype(str))


def winners_table(exchange: pd.DataFrame, column: str = "verdict") -> pd.DataFrame:
    """Who wins the exchange: one row per larger member and R (columns ``large``, ``R``),
    one column per difficulty bin ("bin 1", ...) holding the difference with its 95%
    interval and the Holm-corrected verdict (``column``: ``"verdict"`` for the learned
    candidates, ``"ceiling_verdict"`` for the perfect verifier), which reads "not detectable
    after Holm" where the interval alone excludes zero, or names the sign-flip p-value where
    that test does not reject even alone (:func:`ttc.report.shown_verdict`)."""
    if exchange.empty:
        return pd.DataFrame(columns=["large", "R"])
    prefix = "ceiling_" if column.startswith("ceiling") else ""
    diff = "ceiling_difference" if prefix else "difference"
    short = {"test-time compute": "small wins", "larger model": "larger wins",
             "no detectable difference": "no detectable difference"}
    pvalues = exchange[f"{prefix}p"] if f"{prefix}p" in exchange else [None] * len(exchange)
    cells = [f"{difference_text(d, lo, hi)} {shown_verdict(short.get(v, v), lo, hi, p=p)}"
             for d, lo, hi, v, p in zip(exchange[diff], exchange[f"{prefix}low"],
                                        exchange[f"{prefix}high"], exchange[column], pvalues,
                                        strict=True)]
    table = exchange.assign(cell=cells).pivot_table(index=["large", "R"], columns="bin",
                                                   values="cell", aggfunc="first")
    table.columns = [f"bin {c}" for c in table.columns]
    return table.reset_index()


#: the exchange's full table as the chapter shows it: column -> (header, format)
EXCHANGE_DETAILS = {
    "large": ("larger member", "{}"), "R": ("R", "{:g}"), "bin": ("bin", "{}"),
    "problems": ("problems", "{}"), "k_affordable": ("verified samples affordable", "{:.1f}"),
    "chosen": ("chosen (one per fold where cross-validated)", "{}"),
    "small_accuracy": ("small", "{:.2f}"),
    "large_accuracy": ("larger, greedy", "{:.2f}"), "difference": ("difference", "{:+.2f}"),
    "low": ("95% low", "{:+.2f}"), "high": ("95% high", "{:+.2f}"),
    "verdict": ("verdict", "{}"), "ceiling_accuracy": ("perfect verifier", "{:.2f}"),
    "ceiling_verdict": ("verdict, perfect verifier", "{}"),
}
EXCHANGE_DETAIL_FORMATS = {header: spec for header, spec in EXCHANGE_DETAILS.values()}


def exchange_details(exchange: pd.DataFrame) -> pd.DataFrame:
    """The exchange table's columns the chapter shows in full, with readable headers (format
    them with :data:`EXCHANGE_DETAIL_FORMATS`); a verdict whose uncorrected interval excludes
    zero but that Holm's correction does not keep reads "not detectable after Holm"."""
    columns = [c for c in EXCHANGE_DETAILS if c in exchange]
    shown = exchange[columns].copy()
    for column, prefix in (("verdict", ""), ("ceiling_verdict", "ceiling_")):
        if column in shown and {f"{prefix}low", f"{prefix}high"} <= set(exchange.columns):
            pvalues = (exchange[f"{prefix}p"] if f"{prefix}p" in exchange
                       else [None] * len(exchange))
            shown[column] = [shown_verdict(v, lo, hi, p=p) for v, lo, hi, p in zip(
                exchange[column], exchange[f"{prefix}low"], exchange[f"{prefix}high"],
                pvalues, strict=True)]
    return shown.rename(columns={c: EXCHANGE_DETAILS[c][0] for c in columns})


def savings(efficiency: pd.DataFrame, kind: str = "oracle") -> pd.Series:
    """The measured savings over best-of-N for one kind of bins, every bin and budget above
    the smallest (where best-of-N has something to gain), NaN ones dropped."""
    rows = efficiency[(efficiency["bins"] == kind) & efficiency["saving"].notna()]
    rows = rows[rows["budget"] > rows["budget"].min()]
    return rows["saving"].astype(float).reset_index(drop=True)


#: how the prose says where the compute-optimal strategy of each bin was chosen
CHOSEN_ON_TEXT = {
    "validation": "on the validation problems of the same bin (chapter 4 sampled them at the "
                  "same temperature and scored them with the same verifiers), then applied "
                  "to the test problems",
    "cross-validation": "by two-fold cross-validation over the test problems of the bin (this "
                        "profile has no validation problems): the best rule on one half is "
                        "scored on the other, and the other way round",
}


def _chosen_count(tables, word: str) -> int | None:
    """Cells (oracle bins, budget above 1) whose compute-optimal choice names ``word`` (""
    counts every cell); None without the ``chosen`` column."""
    optimal = tables["optimal"] if "optimal" in tables else pd.DataFrame()
    if "chosen" not in optimal:
        return None
    rows = optimal[(optimal["bins"] == "oracle") & (optimal["budget"] > 1)]
    return int(rows["chosen"].astype(str).str.contains(word, regex=False).sum())


def _interval_text(tables, kind: str, statistic: str) -> str:
    """``[low, high]`` of a saving statistic (``median`` or ``max``) from the
    ``saving_intervals`` table, as the prose quotes it."""
    rows = tables["saving_intervals"] if "saving_intervals" in tables else pd.DataFrame()
    rows = rows[rows["bins"] == kind] if len(rows) else rows
    low, high = cell(rows, f"{statistic}_low"), cell(rows, f"{statistic}_high")
    if low is None or high is None or low != low or high != high:
        return "[n/a]"
    return f"[{fmt(low, '.1f')}, {fmt(high, '.1f')}]"


#: how far above 1 a saving's lower end must be to count as a saving (rounding of a ratio)
SAVING_ATOL = 1e-9


def saving_verdict(tables, kind: str = "oracle") -> str:
    """Whether the median saving is detectable: "a detectable saving" when the lower end
    of its 95% interval is above 1 (the compute-optimal choice needs less compute than the
    baseline), "no detectable saving" otherwise or without an interval.

    A saving is a ratio of budgets, so a resample whose median cell saves nothing gives 1 up
    to rounding (1.0000000000000002 under ``cpu``): a lower end within :data:`SAVING_ATOL`
    of 1 is 1, no saving."""
    rows = tables["saving_intervals"] if "saving_intervals" in tables else pd.DataFrame()
    rows = rows[rows["bins"] == kind] if len(rows) else rows
    low = cell(rows, "median_low")
    if low is None or low != low:
        return "no detectable saving"
    return "a detectable saving" if low > 1.0 + SAVING_ATOL else "no detectable saving"


def _rule_text(chosen: str | None) -> str:
    """A chosen candidate as the prose names it: the rule without its ``@ k=...`` (the
    affordable k depends on the temperature's tokens per sample)."""
    return fmt(None) if chosen is None else " / ".join(rule_of(c) for c in chosen.split(" / "))


def _count(table: pd.DataFrame, column: str, value: str) -> int:
    return int((table[column] == value).sum()) if column in table else 0


def ties_detectable_alone(exchange: pd.DataFrame, prefix: str = "") -> int:
    """Cells with no detectable difference after Holm's correction that are detectable read
    alone: their own 95% interval excludes zero and their sign-flip p-value is below 0.05,
    the cells the tables label :data:`ttc.report.NOT_AFTER_HOLM`
    (:func:`ttc.report.shown_verdict`). ``prefix``: ``"ceiling_"`` for the perfect
    verifier's columns."""
    verdict, low, high, p = (f"{prefix}{c}" for c in ("verdict", "low", "high", "p"))
    if not {verdict, low, high} <= set(exchange.columns):
        return 0
    p_values = exchange[p] if p in exchange else pd.Series(np.nan, index=exchange.index)
    shown = [shown_verdict(v, lo, hi, p=pv) for v, lo, hi, pv
             in zip(exchange[verdict], exchange[low], exchange[high], p_values, strict=True)]
    return sum(label == NOT_AFTER_HOLM for label in shown)


def surely_ahead(break_even_table: pd.DataFrame, pool: str) -> int:
    """How many (larger member, bin) pairs the small model with the ``pool`` strategies is
    ahead of for sure (95% interval above zero) at some R of the sweep, from the smallest R
    on."""
    rows = break_even_table[break_even_table["pool"] == pool]
    return int(rows["break_even_low"].notna().sum())


def facts(tables, config: ComputeOptimalChapterConfig) -> dict[str, str]:
    """Every number and sentence chapter 7's prose quotes, as display text.

    The bins (problems, per-bin count, agreement of predicted with oracle bins, mean pass@1
    of the easiest and hardest bins), the savings over best-of-N, the headline claims of
    :data:`ttc.claims.COMPUTE_OPTIMAL_CLAIMS` and the exchange against the largest member
    (wins, ties, the easiest bin at the smallest R), and the break-even pairs (``n_pairs``;
    ``sure_learned``/``sure_ceiling``: pairs surely ahead at some R), and the largest
    uncharged item of the accounting next to the larger member's greedy FLOPs
    (``uncharged_top``, with ``_vs_greedy``, ``_vs_pretraining`` and ``_scope``, the problems
    its greedy FLOPs are counted on) and the largest one paid per problem
    (``uncharged_query_top``, ``uncharged_query_vs_greedy``, and ``uncharged_query_sentence``,
    which does not repeat the first when they are the same item). Missing
    values read "n/a".
    """
    bins, exchange = tables["bins"], tables["exchange"]
    summary = bin_summary(bins)
    same, near = bin_agreement_rates(bins)
    oracle, predicted = savings(tables["efficiency"], "oracle"), savings(
        tables["efficiency"], "predicted")
    setup = tables["setup"]
    largest = exchange[exchange["M"] == exchange["M"].max()]
    r_lo, r_hi = min(config.r_values), max(config.r_values)
    first = largest[(largest["R"] == r_lo) & (largest["bin"] == largest["bin"].min())]
    out = {
        "policy": str(setup["policy"].iloc[0]) if len(setup) else fmt(None),
        "n_problems": fmt(len(bins)),
        "n_bins": fmt(config.n_bins),
        "per_bin": fmt(len(bins) // config.n_bins),
        "bins_same": fmt(same),
        "bins_near": fmt(near),
        "bin1_pass1": fmt(cell(summary, "pass1")),
        "binN_pass1": fmt(cell(summary, "pass1", -1)),
        "saving_max": fmt(oracle.max() if len(oracle) else None, ".1f"),
        "saving_median": fmt(oracle.median() if len(oracle) else None, ".1f"),
        "saving_pred_median": fmt(predicted.median() if len(predicted) else None, ".1f"),
        "saving_max_ci": _interval_text(tables, "oracle", "max"),
        "saving_median_ci": _interval_text(tables, "oracle", "median"),
        "saving_verdict": saving_verdict(tables),
        "saving_pred_median_ci": _interval_text(tables, "predicted", "median"),
        "optimal_chosen_on": CHOSEN_ON_TEXT.get(cell(setup, "optimal_chosen_on"), fmt(None)),
        "chosen_likelihood": fmt(_chosen_count(tables, "likelihood")),
        "chosen_cells": fmt(_chosen_count(tables, "")),
        "largest": str(largest["large"].iloc[0]) if len(largest) else "none",
        "largest_M": fmt(cell(largest, "M"), ".1f"),
        "r_lo": fmt(float(r_lo), "g"),
        "r_hi": fmt(float(r_hi), "g"),
        "n_wins": fmt(_count(exchange, "verdict", "test-time compute")),
        "n_losses": fmt(_count(exchange, "verdict", "larger model")),
        "n_ties": fmt(_count(exchange, "verdict", "no detectable difference")),
        "n_ties_alone": fmt(ties_detectable_alone(exchange)),
        "ceiling_wins": fmt(_count(exchange, "ceiling_verdict", "test-time compute")),
        "ceiling_losses": fmt(_count(exchange, "ceiling_verdict", "larger model")),
        "ceiling_ties": fmt(_count(exchange, "ceiling_verdict", "no detectable difference")),
        "n_cells": fmt(len(exchange)),
        "easy_small": fmt(cell(first, "small_accuracy")),
        "easy_large": fmt(cell(first, "large_accuracy")),
        "easy_diff": fmt(cell(first, "difference"), "+.2f"),
        "easy_low": fmt(cell(first, "low"), "+.2f"),
        "easy_high": fmt(cell(first, "high"), "+.2f"),
        "easy_ceiling": fmt(cell(first, "ceiling_accuracy")),
        "easy_ceiling_chosen": _rule_text(cell(first, "ceiling_chosen")),
        "easy_k": fmt(cell(first, "k_affordable"), ".1f"),
        "gap_mean": fmt(float((exchange["ceiling_accuracy"] - exchange["small_accuracy"])
                              .mean()) if len(exchange) else None),
        "n_pairs": fmt(len(tables["break_even"]) // 2),
        "n_bin_samples": fmt(cell(setup, "n_bin_samples"), ","),
        "temperatures": _word_list(cell(setup, "temperatures")),
        "n_validation": fmt(cell(setup, "n_validation"), ","),
        "n_chose_greedy": fmt(int(exchange["chosen"].str.startswith(GREEDY).sum())
                              if "chosen" in exchange else None),
        "n_chose_other_t": fmt(int(sum(chose_other_temperature(c, setup)
                                       for c in exchange["chosen"]))
                               if "chosen" in exchange else None),
        "n_score_samples": fmt(cell(setup, "n_score_samples"), ","),
        "sure_learned": fmt(surely_ahead(tables["break_even"], "learned")),
        "sure_ceiling": fmt(surely_ahead(tables["break_even"], "perfect verifier")),
    }
    top = largest_uncharged(tables["accounting"])
    per_query = largest_uncharged(tables["accounting"], per_problem=True)
    out.update({
        "uncharged_top": fmt(None) if top is None else str(top["item"]),
        "uncharged_top_vs_greedy": fmt(None if top is None else top["vs_greedy"]),
        "uncharged_top_vs_pretraining": fmt(None if top is None else top["vs_pretraining"]),
        "uncharged_top_scope": _greedy_scope(top),
        "uncharged_query_top": fmt(None) if per_query is None else str(per_query["item"]),
        "uncharged_query_vs_greedy": fmt(None if per_query is None
                                         else per_query["vs_greedy"]),
        "uncharged_query_sentence": _per_problem_sentence(top, per_query),
    })
    out.update(claim_facts(COMPUTE_OPTIMAL_CLAIMS, tables))
    if "seed_spread" in tables:
        out.update(study_sentences(tables, out["policy"]))
    return out
