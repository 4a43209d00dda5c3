"""Splitting a FLOPs budget between generating candidates and verifying them.

With a generative verifier that writes K rationales per candidate (GenRM-CoT, Zhang et al.
2024), a budget can buy many candidates checked once or fewer candidates checked many times.
No paper we reproduce answers which split is best on which problems; this module measures it.

For every problem the policy's first ``M`` samples are scored once by the verifier at the
largest K, keeping each rationale trajectory's score (trajectory j of a chain draws from its
own random stream, so the mean of the first k trajectories *is* the K = k verifier's score).
Weighted best-of-N with the K-rationale scores is then estimated at every N <= M from random
subsets (:func:`ttc.selection.selection_curve`); majority vote, likelihood-weighted best-of-N
and the perfect outcome verifier (a right final answer whenever one is among the N: coverage,
pass@N) are estimated the same way from all
of the problem's samples, so that they can reach the larger N that the same FLOPs buy.

FLOPs per problem follow the book's accounting (2·N_params per token): a candidate costs
``generate`` FLOPs, each rationale trajectory ``verify`` FLOPs; majority vote pays for its
candidates only; the likelihood and the perfect verifier pay one more reading of each
candidate (by the policy, and by a verifier of the GenRM's size that happened to be perfect),
as in chapter 7.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ttc.metrics import holm, mean_by, paired_bootstrap, pass_at_k_curve, verdict
from ttc.selection import selection_curve
from ttc.strategies import cross_validated_choice

#: the methods of the split figure and tables
SPLIT = "GenRM-CoT, weighted"
VOTE = "majority vote"
LIKELIHOOD = "likelihood, weighted"
CEILING = "perfect verifier"
METHODS = (SPLIT, VOTE, LIKELIHOOD, CEILING)


@dataclass(frozen=True)
class SplitCosts:
    """FLOPs per problem of each unit of work, in one difficulty group.

    ``generate``: one candidate (2·N_policy per generated token); ``verify``: one rationale
    trajectory of the GenRM-CoT over one candidate (2·N_verifier per token it reads or
    writes, the problem's prompt excluded as everywhere in the book); ``reread``: the policy
    reading a candidate once more (the likelihood's cost); ``check``: a verifier of the
    GenRM's size reading a candidate once (what the perfect verifier is charged)."""

    generate: float
    verify: float
    reread: float
    check: float

    def __post_init__(self) -> None:
        for name in ("generate", "verify", "reread", "check"):
            value = getattr(self, name)
            if not value >= 0 or not np.isfinite(value):
                raise ValueError(f"SplitCosts.{name} must be a finite number >= 0, got {value}")
        if self.generate <= 0:
            raise ValueError(f"SplitCosts.generate must be > 0, got {self.generate}")

    def flops(self, method: str, n: int, k: int = 0) -> float:
        """FLOPs of ``method`` with ``n`` candidates (and ``k`` rationales each)."""
        extra = {SPLIT: k * self.verify, VOTE: 0.0, LIKELIHOOD: self.reread,
                 CEILING: self.check}[method]
        return n * (self.generate + extra)


def _answers(frame: pd.DataFrame) -> list:
    return [None if pd.isna(a) else a for a in frame["answer"]]


def split_accuracy(verified: pd.DataFrame, samples: pd.DataFrame, truths: Mapping[int, str],
                   ns: Sequence[int], ks: Sequence[int], n_resamples: int = 200,
                   seed: int = 0) -> pd.DataFrame:
    """Each problem's expected accuracy of every method, one row per (problem, method, N,
    K).

    ``verified``: one row per verified candidate (``problem``, ``sample``, ``answer`` and
    trajectory scores ``t0`` ... ``t{K_max-1}``: each trajectory's probability that every
    step is right). ``samples``: all of the problem's samples (``problem``, ``answer``,
    ``correct`` and ``likelihood``, the chain's probability under the policy). ``ns`` are
    the numbers of candidates: those up to the verified count serve the split, all up to
    the sample count the other methods; ``ks`` the numbers of rationales (at most K_max).
    K is 0 for the methods without rationales.
    """
    trajectories = sorted((c for c in verified.columns if c.startswith("t") and c[1:].isdigit()),
                          key=lambda c: int(c[1:]))
    if not trajectories:
        raise ValueError("verified needs trajectory score columns t0, t1, ...")
    if any(k < 1 or k > len(trajectories) for k in ks):
        raise ValueError(f"every K must be in 1..{len(trajectories)}; got {list(ks)}")
    rows = []
    verified_by = dict(tuple(verified.groupby("problem", sort=True)))
    for problem, group in samples.groupby("problem", sort=True):
        truth, offset = str(truths[problem]), seed + 1000 * int(problem)
        answers = _answers(group)
        reach = [n for n in ns if n <= len(group)]
        for method, scores, rule in ((VOTE, None, "majority"),
                                     (LIKELIHOOD, group["likelihood"].to_numpy(float),
                                      "weighted")):
            curve = selection_curve(answers, truth, reach, scores, rule, n_resamples, offset)
            rows += [(problem, method, n, 0, a) for n, a in zip(reach, curve, strict=True)]
        # the perfect verifier picks a right candidate whenever one is among the N: pass@N
        right = int(group["correct"].sum())
        ceiling = pass_at_k_curve(len(group), np.array([right]), reach)[0]
        rows += [(problem, CEILING, n, 0, a) for n, a in zip(reach, ceiling, strict=True)]
        mine = verified_by.get(problem)
        if mine is None:
            continue
        mine = mine.sort_values("sample")
        reach = [n for n in ns if n <= len(mine)]
        table = mine[trajectories].to_numpy(float)  # (candidates, K_max)
        for k in ks:
            scores = table[:, :k].mean(axis=1)  # the K = k verifier's score of each candidate
            curve = selection_curve(_answers(mine), truth, reach, scores, "weighted",
                                    n_resamples, offset)
            rows += [(problem, SPLIT, n, k, a) for n, a in zip(reach, curve, strict=True)]
    return pd.DataFrame(rows, columns=["problem", "method", "N", "K", "accuracy"])


def with_flops(per_problem: pd.DataFrame, groups: Mapping[int, str],
               costs: Mapping[str, SplitCosts]) -> pd.DataFrame:
    """``per_problem`` with each problem's ``difficulty`` (``groups``) and the ``flops`` of
    its (method, N, K) under that group's :class:`SplitCosts`."""
    out = per_problem.assign(difficulty=per_problem["problem"].map(groups))
    out["flops"] = [costs[d].flops(m, n, k) for d, m, n, k in
                    zip(out["difficulty"], out["method"], out["N"], out["K"], strict=True)]
    return out


def split_points(per_problem: pd.DataFrame, n_boot: int = 400) -> pd.DataFrame:
    """Mean accuracy of every (difficulty, method, N, K) with its 95% bootstrap interval
    over problems, its ``flops`` and ``verify_share`` (the share of its FLOPs spent on
    rationales), and ``frontier``: True for the GenRM-CoT points that no other (N, K) of
    the same group beats at no more FLOPs (the upper envelope)."""
    table = mean_by(per_problem, ["difficulty", "method", "N", "K"], "accuracy", n_boot=n_boot)
    flops = per_problem.groupby(["difficulty", "method", "N", "K"])["flops"].first()
    table = table.merge(flops.reset_index(), on=["difficulty", "method", "N", "K"])
    table["frontier"] = False
    for _, group in table[table["method"] == SPLIT].groupby("difficulty"):
        table.loc[frontier_index(group), "frontier"] = True
    table["verify_share"] = 0.0
    split = table["method"] == SPLIT
    vote = table[table["method"] == VOTE].set_index(["difficulty", "N"])["flops"]
    generated = np.array([vote.get((d, n), np.nan) for d, n in
                          zip(table.loc[split, "difficulty"], table.loc[split, "N"],
                              strict=True)])
    table.loc[split, "verify_share"] = 1 - generated / table.loc[split, "flops"].to_numpy()
    return table.sort_values(["difficulty", "method", "K", "N"]).reset_index(drop=True)


def frontier_index(points: pd.DataFrame) -> list:
    """Index of the points on the upper envelope of accuracy over ``flops``: sorted by
    FLOPs (then accuracy, best first), a point is kept when it is more accurate than every
    point at no more FLOPs."""
    best, kept = -np.inf, []
    for index, row in points.sort_values(["flops", "accuracy"],
                                         ascending=[True, False]).iterrows():
        if row["accuracy"] > best:
            kept.append(index)
            best = row["accuracy"]
    return kept


def _affordable(table: pd.DataFrame, budget: float) -> pd.DataFrame:
    return table[table["flops"] <= budget * (1 + 1e-9)]


def split_verdicts(per_problem: pd.DataFrame, n_boot: int = 2000, seed: int = 0
                   ) -> pd.DataFrame:
    """At each majority-vote budget (its FLOPs at N = 2, 4, ...), the best split of that
    budget against majority vote, per difficulty group, with a paired difference.

    The split (N, K) is chosen without looking at the problems it is scored on, by the
    book's two-fold cross-validation (:func:`ttc.strategies.cross_validated_choice`, folds
    drawn over the group's problems in sorted order): each fold is scored with the (N, K)
    of highest mean accuracy on the *other* fold among those that cost at most the budget
    (ties: smaller N, then smaller K). ``difference`` is the split's accuracy
    minus majority vote's, per problem, with a 95% paired bootstrap interval and the
    sign-flip p; ``verdict`` ("above", "below", "no detectable difference") applies Holm's
    correction over every row. ``ceiling`` is the perfect verifier at the largest N that
    fits the budget. Rows where no split fits the budget are left out.
    """
    rows = []
    if per_problem.empty:
        per_problem = pd.DataFrame(columns=["difficulty", "problem", "method", "N", "K",
                                            "accuracy", "flops"])
    for group, frame in per_problem.groupby("difficulty", sort=True):
        frame = frame.sort_values(["problem", "N", "K"], kind="stable")  # folds, ties
        vote = frame[frame["method"] == VOTE]
        split = frame[frame["method"] == SPLIT]
        ceiling = frame[frame["method"] == CEILING]
        for n_vote in sorted(vote["N"].unique()):
            if n_vote < 2:
                continue
            at = vote[vote["N"] == n_vote]
            budget = float(at["flops"].iloc[0])
            options = _affordable(split, budget)
            options = options.assign(strategy=[f"N={n}, K={k}" for n, k in
                                               zip(options["N"], options["K"], strict=True)])
            scores, choices = cross_validated_choice(options, ["difficulty"], value="accuracy",
                                                     seed=seed)
            if scores.empty:
                continue
            picks = choices["strategy"].tolist()
            paired = scores[["problem", "accuracy"]].merge(at[["problem", "accuracy"]],
                                                           on="problem", suffixes=("", "_vote"))
            if paired.empty:
                continue
            test = paired_bootstrap((paired["accuracy"] - paired["accuracy_vote"]).to_numpy(),
                                    n_boot=n_boot, seed=seed)
            top = _affordable(ceiling, budget)
            top = top[top["N"] == top["N"].max()] if len(top) else top
            rows.append({"difficulty": group, "budget_N": int(n_vote), "flops": budget,
                         "chosen": " / ".join(dict.fromkeys(picks)),
                         "split": float(paired["accuracy"].mean()),
                         "vote": float(paired["accuracy_vote"].mean()),
                         "ceiling": float(top["accuracy"].mean()) if len(top) else np.nan,
                         "difference": test["mean"], "low": test["low"],
                         "high": test["high"], "p": test["p"],
                         "problems": test["problems"]})
    table = pd.DataFrame(rows, columns=["difficulty", "budget_N", "flops", "chosen", "split",
                                        "vote", "ceiling", "difference", "low", "high", "p",
                                        "problems"])
    rejected = holm(table["p"].to_numpy()) if len(table) else np.zeros(0, bool)
    table["verdict"] = [verdict(m, r, "above", "below") for m, r in
                        zip(table["difference"], rejected, strict=True)]
    return table
