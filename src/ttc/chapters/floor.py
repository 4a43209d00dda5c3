"""Chapter 8: where base capability sets a floor.

Across the whole family (chapter 3's samples): which problems no sample of a member ever
solves, how many of those a larger member answers greedily, and the trade-off between training
and test-time compute (Jones 2021): for a target accuracy, the inference FLOPs each member
needs with majority vote, against its training FLOPs, and where a member cannot reach the
target at any budget tried.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ttc.chapters import compute_optimal as compute_optimal_chapter
from ttc.chapters import family as family_chapter
from ttc.chapters import sampling as sampling_chapter
from ttc.claims import MARGIN
from ttc.config import ConfigError, require_range
from ttc.family.train import training_info
from ttc.flops import exchange_factor, inference_flops
from ttc.strategies import budget_to_match


@dataclass(frozen=True)
class FloorConfig:
    """Parameters of chapter 8. Defaults are smoke-sized."""

    #: profile whose 07_compute_optimal parameters (and through them chapters 3-6) apply
    compute_optimal_profile: str = "smoke"
    #: target accuracies (majority vote over all problems) for the trade-off curve
    targets: tuple[float, ...] = (0.2, 0.4, 0.6)

    def __post_init__(self) -> None:
        from ttc.profiles import available_profiles

        if self.compute_optimal_profile not in available_profiles():
            raise ConfigError(f"parameter 'compute_optimal_profile' must be one of "
                              f"{', '.join(map(repr, available_profiles()))}; "
                              f"got {self.compute_optimal_profile!r}")
        if not self.targets:
            raise ConfigError("parameter 'targets' must list at least one accuracy")
        for t in self.targets:
            require_range("targets", t, low=0.01, high=0.99)

    @property
    def compute_optimal(self) -> compute_optimal_chapter.ComputeOptimalConfig:
        from ttc.profiles import chapter_config

        return chapter_config(self.compute_optimal_profile, "07_compute_optimal")


def out_of_reach(per_problem: pd.DataFrame, greedy: pd.DataFrame) -> pd.DataFrame:
    """For each (smaller, larger) pair of members: problems the larger one answers greedily
    and no sample of the smaller one ever solves."""
    solved = per_problem.pivot_table(index="problem", columns="model", values="c") > 0
    right = greedy.pivot_table(index="problem", columns="model", values="correct") > 0
    models = list(dict.fromkeys(per_problem["model"]))
    n = per_problem.groupby("model")["N"].first()
    rows = []
    for small in models:
        for large in models:
            if n[large] <= n[small]:
                continue
            gap = right[large] & ~solved[small]
            rows.append({"small": small, "large": large, "M": n[large] / n[small],
                         "large_greedy_right": int(right[large].sum()),
                         "out_of_reach": int(gap.sum()),
                         "share": float(gap.sum() / max(1, right[large].sum()))})
    return pd.DataFrame(rows)


#: test-time strategies of the trade-off: label -> column of chapter 3's per-k table
TRADEOFF_STRATEGIES = {"majority vote": "majority",
                       "best-of-k with a perfect verifier": "pass_at_k"}


def tradeoff(per_k: pd.DataFrame, greedy: pd.DataFrame, members: pd.DataFrame,
             targets, strategy: str = "majority vote") -> pd.DataFrame:
    """Inference FLOPs per problem each member needs to reach each target accuracy over all
    problems: the cheaper of greedy decoding and ``strategy`` over k samples (interpolated in
    log-FLOPs); NaN where neither reaches it at any k tried. ``"best-of-k with a perfect
    verifier"`` is coverage (pass@k): what a verifier as good as the step checker would give.
    """
    column = TRADEOFF_STRATEGIES[strategy]
    curve = per_k.groupby(["model", "k"], as_index=False).agg(
        majority=(column, "mean"), flops=("flops", "mean"))
    g = greedy.groupby("model").agg(accuracy=("correct", "mean"), tokens=("n_tokens", "mean"))
    rows = []
    for info in members.itertuples():
        mine = curve[curve["model"] == info.model].sort_values("flops")
        greedy_flops = inference_flops(info.N, float(g.loc[info.model, "tokens"]))
        for target in targets:
            vote = budget_to_match(mine["flops"].to_numpy(), mine["majority"].to_numpy(),
                                   target)
            options = [x for x in (vote, greedy_flops
                                   if g.loc[info.model, "accuracy"] >= target else np.nan)
                       if x == x]
            rows.append({"strategy": strategy, "model": info.model, "N": info.N,
                         "train_flops": info.train_flops, "target": target,
                         "test_flops": min(options) if options else np.nan,
                         "reached": bool(options),
                         "best_at_any_k": float(mine["majority"].max()),
                         "greedy": float(g.loc[info.model, "accuracy"])})
    return pd.DataFrame(rows)


def tradeoff_slopes(table: pd.DataFrame) -> pd.DataFrame:
    """Least-squares slope of log10(test FLOPs) against log10(train FLOPs) per target, over
    the members that reach it: -1 means 10× more training removes 10× test-time compute."""
    rows = []
    for (strategy, target), group in table[table["reached"]].groupby(["strategy", "target"]):
        if len(group) < 2:
            rows.append({"strategy": strategy, "target": target, "members": len(group),
                         "slope": np.nan, "test_saved_per_10x_train": np.nan})
            continue
        x, y = np.log10(group["train_flops"]), np.log10(group["test_flops"])
        slope = float(np.polyfit(x, y, 1)[0])
        rows.append({"strategy": strategy, "target": target, "members": len(group),
                     "slope": slope, "test_saved_per_10x_train": 10 ** (-slope)})
    return pd.DataFrame(rows, columns=["strategy", "target", "members", "slope",
                                       "test_saved_per_10x_train"])


def deployment(per_k: pd.DataFrame, greedy: pd.DataFrame, members: pd.DataFrame,
               r_values) -> pd.DataFrame:
    """Over all problems, for every (smaller, larger) pair of members and every R: samples
    the smaller one may draw per query at matched total FLOPs with the larger one's single
    greedy answer, its majority-vote accuracy with that many (the largest k tried that fits),
    and the larger member's greedy accuracy."""
    n = members.set_index("model")["N"]
    tokens = greedy.groupby("model")["n_tokens"].mean()
    acc = greedy.groupby("model")["correct"].mean()
    rows = []
    for small in n.index:
        mine = per_k[per_k["model"] == small]
        curve = mine.groupby("k")["majority"].mean()
        per_sample = mine[mine["k"] == 1]["flops"].mean() / (2 * n[small])  # tokens per sample
        for large in n.index:
            if n[large] <= n[small]:
                continue
            m = n[large] / n[small]
            for r in r_values:
                k_afford = exchange_factor(m, r) * tokens[large] / per_sample
                usable = [k for k in curve.index if k <= k_afford]
                small_acc = float(curve.loc[max(usable)]) if usable else np.nan
                rows.append({"small": small, "large": large, "M": m, "R": r,
                             "samples_affordable": k_afford,
                             "k_used": max(usable) if usable else 0,
                             "small_majority": small_acc, "large_greedy": float(acc[large]),
                             "winner": "test-time compute" if small_acc >= acc[large] + MARGIN
                             else "larger model" if acc[large] >= small_acc + MARGIN
                             else "tie"})
    return pd.DataFrame(rows)


def run(config: FloorConfig, progress: bool = True) -> dict[str, pd.DataFrame]:
    """The floor and the trade-off across the family.

    Tables: ``unsolved`` (per member and difficulty: share of problems no sample solved),
    ``out_of_reach`` (per smaller/larger pair), ``tradeoff`` (per member and target: test
    FLOPs needed), ``slopes`` (per target), ``deployment`` (per larger member and R).
    """
    cconfig = config.compute_optimal
    rconfig = cconfig.revisions
    vconfig = rconfig.search.verifiers
    scfg = vconfig.sampling
    ch3 = sampling_chapter.run(scfg, progress=False)
    per_problem, per_k, greedy = ch3["per_problem"], ch3["per_k"], ch3["greedy"]
    checkpoints = family_chapter.train_family(scfg.family, progress=False)
    members = pd.DataFrame([{"model": name, **{k: training_info(p)[k]
                                               for k in ("N", "D", "train_flops")}}
                            for name, p in checkpoints.items()])
    unsolved = per_problem.assign(
        difficulty=per_problem["n_ops"].map(sampling_chapter.difficulty_group),
        unsolved=per_problem["c"] == 0).groupby(["model", "N", "difficulty"], sort=False,
                                                as_index=False)["unsolved"].mean()
    table = pd.concat([tradeoff(per_k, greedy, members, config.targets, strategy)
                       for strategy in TRADEOFF_STRATEGIES], ignore_index=True)
    return {"unsolved": unsolved, "out_of_reach": out_of_reach(per_problem, greedy),
            "tradeoff": table, "slopes": tradeoff_slopes(table),
            "deployment": deployment(per_k, greedy, members, cconfig.r_values),
            "members": members}
