"""Chapter 7: difficulty bins, the compute-optimal strategy per bin, and the exchange.

For the policy of chapters 4-6: its test problems are binned by difficulty (oracle: its own
pass@1 from chapter 3's samples; predicted: the mean PRM score of the same samples). In each
bin and budget the best selection strategy is chosen by two-fold cross-validation, and
compared with best-of-N. Then the FLOPs-matched exchange (Snell et al. 2024, §7): at total
FLOPs equal to a larger member's (pretraining on the same tokens plus greedy inference), for
R = D_inference / D_pretrain, does the policy with its compute-optimal strategy beat the larger
member's greedy answer, bin by bin?
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ttc.claims import COMPUTE_OPTIMAL_CLAIMS, MARGIN
from ttc.config import ConfigError, require_range
from ttc.flops import SNELL_R_VALUES, exchange_factor, inference_flops
from ttc.report import fmt
from ttc.strategies import budget_to_match, cross_validated_choice, difficulty_bins
from ttc.upstream import policy, search_problems, verifier_base

#: strategies that select among independent samples: label -> chapter 4 selector
SAMPLE_STRATEGIES = {"majority vote": "majority vote",
                     "weighted best-of-N (PRM)": "PRM last, weighted",
                     "weighted best-of-N (ORM)": "ORM, weighted",
                     "best-of-N (PRM)": "PRM last, best-of-N"}
BASELINE = "weighted best-of-N (PRM)"  # the best-of-N the compute-optimal choice is measured by
VERIFIER_SELECTORS = {"PRM last, weighted", "ORM, weighted", "PRM last, best-of-N"}


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

    def __post_init__(self) -> None:
        require_range("n_bins", self.n_bins, low=2, high=20)
        require_range("subset_bins", self.subset_bins, low=1, high=10)
        require_range("r_sweep_points", self.r_sweep_points, low=3, high=1000)
        if not self.r_values or any(r <= 0 for r in self.r_values):
            raise ConfigError(f"parameter 'r_values' must be a non-empty list of positive "
                              f"numbers; got {list(self.r_values)!r}")


def _bins(values: pd.Series, n_bins: int, seed: int) -> pd.Series:
    return pd.Series(difficulty_bins(values.to_numpy(), n_bins, seed=seed), index=values.index)


def sample_strategy_table(best_of_n: pd.DataFrame, scored: pd.DataFrame, n_policy: int,
                          n_verifier: int) -> pd.DataFrame:
    """One row per (strategy, N, problem) for the sample-selection strategies, with the
    inference FLOPs each costs on that problem (policy tokens, plus the verifier's)."""
    tokens = scored.groupby("problem")["n_tokens"].mean()
    rows = []
    for label, selector in SAMPLE_STRATEGIES.items():
        part = best_of_n[best_of_n["selector"] == selector]
        per_token = 2.0 * (n_policy + (n_verifier if selector in VERIFIER_SELECTORS else 0))
        rows.append(pd.DataFrame({
            "strategy": label, "budget": part["N"].to_numpy(),
            "problem": part["problem"].to_numpy(), "n_ops": part["n_ops"].to_numpy(),
            "correct": part["accuracy"].to_numpy(),
            "flops": per_token * part["N"].to_numpy()
            * tokens.reindex(part["problem"]).to_numpy(),
        }))
    return pd.concat(rows, ignore_index=True)


def compute_optimal(pool: pd.DataFrame, bins: pd.Series, seed: int) -> pd.DataFrame:
    """Cross-validated best strategy per (bin, budget): one row per (bin, budget, problem)."""
    data = pool.assign(bin=pool["problem"].map(bins))
    scores, _ = cross_validated_choice(data, ["bin", "budget"], seed=seed)
    return scores


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


def exchange(pool: pd.DataFrame, bins: pd.Series, greedy: pd.DataFrame, members: dict,
             policy: str, r_values, seed: int) -> pd.DataFrame:
    """For each larger member and R: the policy's cross-validated best strategy among those it
    can afford at matched total FLOPs, against the larger member's greedy accuracy, per bin.

    Affordable means mean inference FLOPs per problem at most
    ``exchange_factor(M, R) * 2 * N_policy * T_large`` (T_large: the larger member's mean
    greedy tokens per problem), i.e. the small model's total FLOPs (pretraining on the same
    tokens plus inference) do not exceed the larger member's.
    """
    n_policy = members[policy]["N"]
    data = pool.assign(bin=pool["problem"].map(bins))
    cost = data.groupby(["strategy", "budget"])["flops"].mean()
    rows = []
    for large, info in members.items():
        if info["N"] <= n_policy:
            continue
        m = info["N"] / n_policy
        g = greedy[greedy["model"] == large].assign(bin=lambda t: t["problem"].map(bins))
        tokens = float(g["n_tokens"].mean())
        for r in r_values:
            affordable = exchange_factor(m, r) * inference_flops(n_policy, tokens)
            ok = cost[cost <= affordable].index
            allowed = data.set_index(["strategy", "budget"]).loc[
                data.set_index(["strategy", "budget"]).index.isin(ok)].reset_index()
            # every affordable (strategy, budget) pair competes; chosen per bin by CV
            pairs = allowed.assign(strategy=allowed["strategy"] + " @ "
                                   + allowed["budget"].astype(str), budget=0)
            scores = (cross_validated_choice(pairs, ["bin"], seed=seed)[0]
                      if len(pairs) else pd.DataFrame())
            for b in sorted(bins.unique()):
                small_acc = (float(scores[scores["bin"] == b]["correct"].mean())
                             if len(scores) else np.nan)
                large_acc = float(g[g["bin"] == b]["correct"].mean())
                rows.append({"large": large, "M": m, "R": r, "bin": b,
                             "affordable_flops": affordable,
                             "small_accuracy": small_acc, "large_accuracy": large_acc,
                             "relative_improvement": (small_acc - large_acc) / large_acc
                             if large_acc > 0 else np.nan,
                             "winner": "test-time compute" if small_acc >= large_acc + MARGIN
                             else "larger model" if large_acc >= small_acc + MARGIN
                             else "tie"})
    return pd.DataFrame(rows)


def run(config: ComputeOptimalChapterConfig, inputs, progress: bool = True
        ) -> dict[str, pd.DataFrame]:
    """Bins, compute-optimal strategies, efficiency over best-of-N and the exchange.

    Tables: ``bins`` (per problem: pass@1, mean PRM score, oracle and predicted bins),
    ``bin_agreement`` (oracle × predicted counts), ``optimal`` (per bin kind, bin and budget:
    compute-optimal and best-of-N accuracy), ``efficiency`` (budget needed to match best-of-N),
    ``subset`` (the same with search and revisions on chapter 5's problems), ``exchange`` (per
    larger member, R and bin), ``sweep`` (the same over a continuous range of R),
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
    per_problem = scored.groupby("problem").agg(pass1=("correct", "mean"),
                                                prm=("prm_last", "mean"),
                                                n_ops=("n_ops", "first"))
    per_problem["oracle_bin"] = _bins(per_problem["pass1"], config.n_bins, config.seed)
    per_problem["predicted_bin"] = _bins(per_problem["prm"], config.n_bins, config.seed)
    agreement = pd.crosstab(per_problem["oracle_bin"], per_problem["predicted_bin"])

    pool = sample_strategy_table(ver["best_of_n"], scored, n_policy, n_verifier)
    optimal_rows, efficiency_rows = [], []
    for kind in ("oracle", "predicted"):
        bins = per_problem[f"{kind}_bin"]
        opt = compute_optimal(pool, bins, config.seed)
        base = pool[pool["strategy"] == BASELINE]
        base = base.assign(bin=base["problem"].map(bins))
        summary = opt.groupby(["bin", "budget"])["correct"].mean().rename("optimal")
        summary = pd.concat([summary, base.groupby(["bin", "budget"])["correct"].mean()
                             .rename("best_of_n")], axis=1).reset_index()
        optimal_rows.append(summary.assign(bins=kind))
        efficiency_rows.append(efficiency(opt, base).assign(bins=kind))

    greedy = inputs["03_sampling"]["greedy"]
    oracle_bins = per_problem["oracle_bin"]
    table = exchange(pool, oracle_bins, greedy, members, the_policy, config.r_values,
                     config.seed)
    sweep_r = np.logspace(-2, 2, config.r_sweep_points)
    sweep = exchange(pool, oracle_bins, greedy, members, the_policy, sweep_r, config.seed)

    _, indices = search_problems(inputs)
    subset = subset_analysis(config, pool, per_problem, indices,
                             inputs["05_search"]["results"], inputs["06_revisions"]["splits"])
    return {"bins": per_problem.reset_index(), "bin_agreement": agreement.reset_index(),
            "optimal": pd.concat(optimal_rows, ignore_index=True),
            "efficiency": pd.concat(efficiency_rows, ignore_index=True),
            "subset": subset, "exchange": table, "sweep": sweep,
            "members": pd.DataFrame([{"model": k, "N": v["N"], "D": v["D"],
                                      "train_flops": v["train_flops"]}
                                     for k, v in members.items()]),
            "setup": pd.DataFrame([{"policy": the_policy, "n_policy": n_policy,
                                    "verifier_base": verifier_base(inputs),
                                    "n_verifier": n_verifier}])}


def subset_analysis(config: ComputeOptimalChapterConfig, pool: pd.DataFrame,
                    per_problem: pd.DataFrame, indices: list[int], search: pd.DataFrame,
                    rev: pd.DataFrame) -> pd.DataFrame:
    """Compute-optimal choice on chapter 5's problems with every strategy: sample selection,
    PRM-guided search (chapter 5's ``results``) and revision splits (chapter 6's ``splits``).
    ``indices``: chapter 5's problems in chapter 3's main set. Few problems: coarse bins."""
    search = search[search["verifier"] == "PRM"]
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
    chosen = choices.groupby(["bin", "budget"])["strategy"].agg(lambda s: " / ".join(
        dict.fromkeys(s)))
    return out.join(chosen.rename("chosen")).reset_index()


#: labels of the two curves of the compute-optimal figure
CURVE_LABELS = {"optimal": "compute-optimal (cross-validated)", "best_of_n": BASELINE}


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
    ``budget``, ``strategy`` (the curve's label, :data:`CURVE_LABELS`) and ``accuracy``,
    for the ``kind`` of bins ("oracle" or "predicted")."""
    rows = optimal[optimal["bins"] == kind]
    long = rows.melt(id_vars=["bin", "budget"], value_vars=list(CURVE_LABELS),
                     var_name="strategy", value_name="accuracy")
    return long.assign(strategy=long["strategy"].map(CURVE_LABELS),
                       bin="bin " + long["bin"].astype(str))


def winners_table(exchange: pd.DataFrame) -> pd.DataFrame:
    """Who wins the exchange: one row per larger member and R (columns ``large``, ``R``),
    one column per difficulty bin ("bin 1", ...) holding the ``winner``."""
    if exchange.empty:
        return pd.DataFrame(columns=["large", "R"])
    table = exchange.pivot_table(index=["large", "R"], columns="bin", values="winner",
                                 aggfunc="first")
    table.columns = [f"bin {c}" for c in table.columns]
    return table.reset_index()


def savings(efficiency: pd.DataFrame, kind: str = "oracle") -> pd.Series:
    """The measured savings over best-of-N for one kind of bins, every bin and budget above
    the smallest (where best-of-N has something to gain), NaN ones dropped."""
    rows = efficiency[(efficiency["bins"] == kind) & efficiency["saving"].notna()]
    rows = rows[rows["budget"] > rows["budget"].min()]
    return rows["saving"].astype(float).reset_index(drop=True)


def _first(values: pd.Series) -> float | None:
    return float(values.iloc[0]) if len(values) else None


def facts(tables, config: ComputeOptimalChapterConfig) -> dict[str, str]:
    """Every number and sentence chapter 7's prose quotes, as display text.

    The bins (problems, per-bin count, agreement of predicted with oracle bins, mean pass@1
    of the easiest and hardest bins), the savings over best-of-N, the headline claims of
    :data:`ttc.claims.COMPUTE_OPTIMAL_CLAIMS` and the exchange against the largest member
    (wins, ties, the easiest bin at the smallest R). Missing values read "n/a".
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
        "bin1_pass1": fmt(_first(summary["pass1"])),
        "binN_pass1": fmt(_first(summary["pass1"].iloc[::-1])),
        "saving_max": fmt(oracle.max() if len(oracle) else None, ".1f"),
        "saving_median": fmt(oracle.median() if len(oracle) else None, ".1f"),
        "saving_pred_median": fmt(predicted.median() if len(predicted) else None, ".1f"),
        "largest": str(largest["large"].iloc[0]) if len(largest) else "none",
        "largest_M": fmt(_first(largest["M"]), ".1f"),
        "r_lo": fmt(float(r_lo), "g"),
        "r_hi": fmt(float(r_hi), "g"),
        "n_wins": fmt(int((exchange["winner"] == "test-time compute").sum())),
        "n_ties": fmt(int((exchange["winner"] == "tie").sum())),
        "n_cells": fmt(len(exchange)),
        "easy_small": fmt(_first(first["small_accuracy"])),
        "easy_large": fmt(_first(first["large_accuracy"])),
    }
    out.update({claim.key: claim.text(tables) for claim in COMPUTE_OPTIMAL_CLAIMS})
    return out
