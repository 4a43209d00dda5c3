"""Chapter 8: where base capability sets a floor.

Across the whole family (chapter 3's samples): which problems no sample of a member ever
solves, how many of those a larger member answers greedily, and the trade-off between training
and test-time compute (Jones 2021): for a target accuracy, the inference FLOPs each member
needs with majority vote, against its training FLOPs, and where a member cannot reach the
target at any budget tried.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ttc.claims import FLOOR_CLAIMS, MARGIN, claim_facts
from ttc.config import ConfigError, require_range
from ttc.flops import exchange_factor, inference_flops
from ttc.metrics import mean_by
from ttc.report import cell, fmt, joined
from ttc.strategies import budget_to_match
from ttc.upstream import DIFFICULTY_GROUPS, difficulty_group, matched_rule_text, policy


@dataclass(frozen=True)
class FloorChapterConfig:
    """Parameters of chapter 8. Defaults are smoke-sized. It reads chapter 3's samples of the
    whole family, and chapter 7's values of R."""

    #: target accuracies (majority vote over all problems) for the trade-off curve
    targets: tuple[float, ...] = (0.2, 0.4, 0.6)

    def __post_init__(self) -> None:
        if not self.targets:
            raise ConfigError("parameter 'targets' must list at least one accuracy")
        for t in self.targets:
            require_range("targets", t, low=0.01, high=0.99)


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
    return pd.DataFrame(rows, columns=["small", "large", "M", "large_greedy_right",
                                       "out_of_reach", "share"])


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


def tradeoff_intervals(per_k: pd.DataFrame, greedy: pd.DataFrame, members: pd.DataFrame,
                       targets, strategy: str, n_boot: int = 200, seed: int = 0
                       ) -> pd.DataFrame:
    """:func:`tradeoff` with a 95% bootstrap interval of each needed FLOPs: the problems are
    resampled (the same draw for every member), the table recomputed, and ``test_flops_low``
    and ``test_flops_high`` are the 2.5th and 97.5th percentiles over the draws in which the
    member reaches the target (NaN where fewer than half of them do: then the point itself
    is uncertain to exist); ``reached_share`` is the share of draws that reach it."""
    table = tradeoff(per_k, greedy, members, targets, strategy)
    problems = np.array(sorted(per_k["problem"].unique()))
    if not len(problems):
        return table.assign(test_flops_low=np.nan, test_flops_high=np.nan, reached_share=0.0)
    rng = np.random.default_rng(seed)
    k_rows = per_k.groupby("problem").indices
    g_rows = greedy.groupby("problem").indices
    draws = []
    for _ in range(n_boot):
        pick = rng.choice(problems, len(problems))
        k_sample = per_k.iloc[np.concatenate([k_rows[p] for p in pick])]
        g_sample = greedy.iloc[np.concatenate([g_rows[p] for p in pick if p in g_rows])]
        draws.append(tradeoff(k_sample, g_sample, members, targets, strategy)["test_flops"]
                     .to_numpy())
    values = np.stack(draws)  # (B, rows)
    reached = ~np.isnan(values)
    share = reached.mean(axis=0)
    with warnings.catch_warnings():  # a row no draw reaches: all-NaN, percentile NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(values, [2.5, 97.5], axis=0)
    enough = share >= 0.5
    return table.assign(test_flops_low=np.where(enough, low, np.nan),
                        test_flops_high=np.where(enough, high, np.nan), reached_share=share)


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


DEPLOYMENT_COLUMNS = ["small", "large", "M", "R", "samples_affordable", "k_used",
                      "small_majority", "large_greedy", "winner", "k_upper",
                      "small_majority_upper", "winner_upper"]


def winner(small_accuracy: float, large_accuracy: float) -> str:
    """Who wins at matched FLOPs, within :data:`~ttc.claims.MARGIN`: ``"test-time compute"``
    (the smaller member's vote), ``"larger model"`` (its greedy answer) or ``"tie"``. A
    smaller member that cannot afford a single sample (NaN) answers nothing: 0 accuracy."""
    small = 0.0 if small_accuracy != small_accuracy else small_accuracy
    if small >= large_accuracy + MARGIN:
        return "test-time compute"
    return "larger model" if large_accuracy >= small + MARGIN else "tie"


def deployment(per_k: pd.DataFrame, greedy: pd.DataFrame, members: pd.DataFrame,
               r_values) -> pd.DataFrame:
    """Over all problems, for every (smaller, larger) pair of members and every R: samples
    the smaller one may draw per query at matched total FLOPs with the larger one's single
    greedy answer, its majority-vote accuracy with that many (the largest k of chapter 3's
    curve that fits: a power of two, so it understates a vote over the whole allowance), and
    the larger member's greedy accuracy.

    Chapter 3 evaluates the vote at powers of two only, so the vote over the exact allowance
    is bracketed: ``k_upper`` is the smallest k of the curve at or above the allowance (the
    largest k of the curve where the allowance exceeds them all, which then brackets nothing),
    ``small_majority_upper`` the vote there and ``winner_upper`` the winner with it. A vote
    rarely loses accuracy with more samples, so a winner that is the same with both
    ``small_majority`` and ``small_majority_upper`` does not hang on the powers of two."""
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
                above = [k for k in curve.index if k >= k_afford]
                k_upper = min(above) if above else max(curve.index)
                upper_acc = float(curve.loc[k_upper])
                rows.append({"small": small, "large": large, "M": m, "R": r,
                             "samples_affordable": k_afford,
                             "k_used": max(usable) if usable else 0,
                             "small_majority": small_acc, "large_greedy": float(acc[large]),
                             "winner": winner(small_acc, float(acc[large])),
                             "k_upper": k_upper, "small_majority_upper": upper_acc,
                             "winner_upper": winner(upper_acc, float(acc[large]))})
    return pd.DataFrame(rows, columns=DEPLOYMENT_COLUMNS)


def run(config: FloorChapterConfig, inputs, progress: bool = True
        ) -> dict[str, pd.DataFrame]:
    """The floor and the trade-off across the family.

    Tables: ``unsolved`` (per member and difficulty: share of problems no sample solved,
    with a 95% bootstrap interval over problems),
    ``out_of_reach`` (per smaller/larger pair), ``tradeoff`` (per member and target: test
    FLOPs needed), ``slopes`` (per target), ``deployment`` (per larger member and R),
    ``members`` (chapter 2's sizes and training FLOPs) and ``setup`` (the policy, chapter 4's,
    and the samples per problem, chapter 3's).
    """
    ch3 = inputs["03_sampling"]
    per_problem, per_k, greedy = ch3["per_problem"], ch3["per_k"], ch3["greedy"]
    members = inputs["02_family"]["members"][["model", "N", "D", "train_flops"]]
    r_values = inputs["07_compute_optimal"].config.r_values
    unsolved = mean_by(per_problem.assign(
        difficulty=per_problem["n_ops"].map(difficulty_group),
        unsolved=(per_problem["c"] == 0).astype(float)), ["model", "N", "difficulty"],
        "unsolved")  # the share, with a 95% bootstrap interval over the group's problems
    table = pd.concat([tradeoff_intervals(per_k, greedy, members, config.targets, strategy)
                       for strategy in TRADEOFF_STRATEGIES], ignore_index=True)
    return {"unsolved": unsolved, "out_of_reach": out_of_reach(per_problem, greedy),
            "tradeoff": table, "slopes": tradeoff_slopes(table),
            "deployment": deployment(per_k, greedy, members, r_values),
            "members": members,
            "setup": pd.DataFrame([{"policy": policy(inputs),
                                    "n_samples": int(per_problem["n"].max()),
                                    "drawn": drawn_text(
                                        per_problem, ch3.config.flops_matched_to,
                                        policy(inputs)),
                                    "policy_n": _drawn(per_problem).get(policy(inputs))}])}


def _drawn(per_problem: pd.DataFrame) -> pd.Series:
    """Main samples per problem of each member (chapter 3's ``n``), smallest member first."""
    return per_problem.groupby("model", sort=False)["n"].first().astype(int)


def drawn_text(per_problem: pd.DataFrame, reference: str = "", policy_name: str = "") -> str:
    """How many samples per problem the members drew, as the prose quotes it: one number
    when all drew as many, else the most and the members that drew fewer, with chapter 3's
    rule for them (:func:`ttc.upstream.matched_samples`): a member larger than ``reference``
    (chapter 3's ``flops_matched_to``) draws the smallest power of two (at least 2) whose
    inference FLOPs, at 2·N per token and equal tokens per sample, reach those of
    ``reference``'s samples; it is named "the policy" when it is ``policy_name``. The rule
    counts parameters and rounds up, so those samples cost at least as much as the
    reference's, not as much. Without a ``reference`` the rule is left out."""
    drawn = _drawn(per_problem)
    if drawn.empty:
        return fmt(None)
    most = int(drawn.max())
    fewer = drawn[drawn < most]
    text = f"{most:,} per problem"
    if fewer.empty:
        return text
    text += ", but " + joined([f"{model} {count:,}" for model, count in fewer.items()])
    if not reference:
        return text
    whose = "the policy's" if reference == policy_name else f"{reference}'s"
    each = "each " if len(fewer) > 1 else ""
    rule = matched_rule_text(whose, most, (fewer == 2).any())
    return f"{text}, {each}{rule} (2·N per token, counted at equal tokens per sample)"


# -- what the prose, the figures and the tables read ------------------------------------------

def unsolved_curves(unsolved: pd.DataFrame) -> pd.DataFrame:
    """The ``unsolved`` table in the shape of a budget-curve figure: the share never solved as
    ``accuracy`` (with its interval as ``accuracy_low``/``accuracy_high`` where the table has
    one), all members in one panel."""
    out = unsolved.assign(accuracy=unsolved["unsolved"], panel="all members")
    if "unsolved_low" in unsolved:
        out = out.assign(accuracy_low=unsolved["unsolved_low"],
                         accuracy_high=unsolved["unsolved_high"])
    return out


def policy_deployment(tables) -> pd.DataFrame:
    """The ``deployment`` rows where the policy (named in ``setup``) is the smaller member,
    without that column."""
    deployment = tables["deployment"]
    mine = deployment["small"] == cell(tables["setup"], "policy")
    return deployment[mine].drop(columns=["small"])


def winners_by_r(deployment: pd.DataFrame) -> pd.DataFrame:
    """Who wins per (smaller, larger) pair (rows) and R (columns ``"R = 1"``, ...)."""
    pairs = deployment.pivot_table(index=["small", "large"], columns="R", values="winner",
                                   aggfunc="first", sort=False)
    pairs.columns = [f"R = {c:g}" for c in pairs.columns]
    return pairs.reset_index()


def _pair(reach: pd.DataFrame, small: str, large: str) -> pd.DataFrame:
    return reach[(reach["small"] == small) & (reach["large"] == large)]


def facts(tables, config: FloorChapterConfig) -> dict[str, str]:
    """What chapter 8's prose quotes, as display text ("n/a" where a value is missing),
    with the headline sentences of :data:`ttc.claims.FLOOR_CLAIMS`."""
    setup, members = tables["setup"], tables["members"]
    reach, unsolved = tables["out_of_reach"], tables["unsolved"]
    table, slopes, deployment = tables["tradeoff"], tables["slopes"], tables["deployment"]
    models = list(members.sort_values("N")["model"])
    smallest = models[0] if models else None
    largest = models[-1] if models else None
    the_policy = cell(setup, "policy")
    out = {"n_samples": fmt(cell(setup, "n_samples")), "drawn": fmt(cell(setup, "drawn")),
           "policy_n": fmt(cell(setup, "policy_n")), "smallest": fmt(smallest),
           "largest": fmt(largest), "policy": fmt(the_policy)}

    pair = _pair(reach, the_policy, largest)
    out["reach_n"] = fmt(cell(pair, "out_of_reach"))
    out["reach_of"] = fmt(cell(pair, "large_greedy_right"))
    out["reach_share"] = fmt(cell(pair, "share"))
    out["tiny_share"] = fmt(cell(_pair(reach, smallest, largest), "share"))
    hardest = list(DIFFICULTY_GROUPS)[-1]
    hard = unsolved[unsolved["difficulty"] == hardest].set_index("model")["unsolved"]
    out["hard_small"] = fmt(hard.get(smallest, np.nan))
    out["hard_policy"] = fmt(hard.get(the_policy, np.nan))

    fitted = slopes.dropna(subset=["slope"])
    ceiling = fitted[fitted["strategy"] == "best-of-k with a perfect verifier"]
    vote = fitted[fitted["strategy"] == "majority vote"]
    out["ceiling_saved"] = fmt(ceiling["test_saved_per_10x_train"].median()
                               if len(ceiling) else None, ".1f")
    out["vote_slope"] = fmt(vote["slope"].median() if len(vote) else None, ".1f")
    # how many targets each median rests on (a slope needs two members reaching the target)
    out["n_targets"] = fmt(int(slopes["target"].nunique()) if len(slopes) else 0)
    out["ceiling_fitted"], out["vote_fitted"] = fmt(len(ceiling)), fmt(len(vote))
    votes = table[table["strategy"] == "majority vote"]
    out["vote_never"] = fmt(int((~votes["reached"].astype(bool)).sum()))
    out["vote_cells"] = fmt(len(votes))
    gain = votes.drop_duplicates("model")
    lift = gain["best_at_any_k"] - gain["greedy"]  # per member: best vote minus greedy
    out["vote_gain_min"] = fmt(lift.min() if len(gain) else None, "+.3f")
    out["vote_gain_max"] = fmt(lift.max() if len(gain) else None, "+.3f")
    out |= claim_facts(FLOOR_CLAIMS, tables)

    out["pair_wins"] = fmt(int((deployment["winner"] == "test-time compute").sum()))
    out["pair_cells"] = fmt(len(deployment))
    # the same with the bracket from above: the vote at the next power of two
    out["pair_wins_upper"] = fmt(int((deployment["winner_upper"]
                                      == "test-time compute").sum()))
    out["pair_changed"] = fmt(int((deployment["winner_upper"] != deployment["winner"]).sum()))
    mine = deployment[deployment["small"] == the_policy]
    big = mine[mine["M"] == mine["M"].max()]
    lo = big[big["R"] == big["R"].min()]
    hi = big[big["R"] == big["R"].max()]
    out["dep_k_lo"], out["dep_k_hi"] = fmt(cell(lo, "k_used")), fmt(cell(hi, "k_used"))
    out["dep_afford_lo"] = fmt(cell(lo, "samples_affordable"), ".1f")
    out["dep_afford_hi"] = fmt(cell(hi, "samples_affordable"), ".1f")
    out["dep_r_lo"], out["dep_r_hi"] = fmt(cell(lo, "R"), "g"), fmt(cell(hi, "R"), "g")
    out["dep_small_lo"] = fmt(cell(lo, "small_majority"))
    out["dep_small_lo_upper"] = fmt(cell(lo, "small_majority_upper"))
    out["dep_k_lo_upper"] = fmt(cell(lo, "k_upper"))
    out["dep_large"] = fmt(cell(lo, "large_greedy"))
    return out
