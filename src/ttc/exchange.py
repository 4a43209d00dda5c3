"""The FLOPs-matched exchange, spent exactly and measured with its noise.

Snell et al. (2024, §7) ask: at equal total FLOPs (pretraining plus inference), does a small
model with test-time compute beat a model ``M`` times larger answering once? The small model
may then spend ``exchange_factor(M, R)`` times the larger model's per-query inference FLOPs
(:mod:`ttc.flops`). This module spends that allowance fairly and reads the answer from
intervals:

- **Every candidate the small model could use**: its own greedy answer, and every selection
  rule over its samples (majority vote, best-of-N and weighted best-of-N with a learned
  verifier or the policy's likelihood) at every temperature sampled, each at the *exact*
  number of samples the allowance buys: the per-problem
  estimators work at any integer ``k``, and a fractional allowance ``k* = f + ⌊k*⌋`` is
  spent as ``(1 - f)·acc(⌊k*⌋) + f·acc(⌈k*⌉)`` (no rounding down to a power of two).
- **The ceiling**: best of ``k*`` samples chosen by a perfect verifier (pass@k*), charged
  like the learned verifier, at any temperature sampled, or the greedy answer where that is
  better (chosen per bin like the learned candidates); drawn separately: the gap to it is
  what a verifier is worth.
- **Held-out difficulty**: bins are estimated from one part of each problem's samples
  (``bin_share`` of them) and every accuracy is scored on the rest, so no scored sample
  decides its own bin.
- **Chosen on validation problems**: per cell, the candidate is the one with the best
  accuracy on a validation split binned the same way (:func:`exchange_cells` with
  ``choose_on``); the test problems only report it. Without a validation split it is chosen
  by two-fold cross-validation over the test problems of the bin.
- **Verdicts from intervals**: per cell, the paired difference (small minus larger, per
  problem) with a 95% bootstrap interval over problems; "wins"/"loses" only where Holm's
  correction over all cells of the table rejects "no difference", else "no detectable
  difference".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ttc.flops import exchange_factor, inference_flops
from ttc.metrics import holm, paired_bootstrap, pass_at_k_curve, verdict
from ttc.selection import selection_curve
from ttc.strategies import cross_validated_choice

#: selection rules over samples: label -> (score column or None, rule, the scoring model:
#: None, "verifier" (chapter 4's verifier base) or "policy" (the policy's own likelihood))
SAMPLE_RULES: dict[str, tuple[str | None, str, str | None]] = {
    "majority vote": (None, "majority", None),
    "weighted best-of-N (PRM)": ("prm_last", "weighted", "verifier"),
    "weighted best-of-N (ORM)": ("orm", "weighted", "verifier"),
    "best-of-N (PRM)": ("prm_last", "best", "verifier"),
    "weighted best-of-N (likelihood)": ("likelihood", "weighted", "policy"),
    "best-of-N (likelihood)": ("likelihood", "best", "policy"),
}
GREEDY = "greedy (own answer)"
CEILING = "best-of-k, perfect verifier"


@dataclass(frozen=True)
class Candidate:
    """A way to spend the allowance: its label, its FLOPs per sample (or per answer for the
    greedy answer) and whether it draws several samples."""

    label: str
    flops_per_unit: float
    sampled: bool = True


def held_out_halves(samples: pd.DataFrame, seed: int = 0, share: float = 0.5
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split each problem's samples at random (seeded per problem) into a binning part, with
    ``share`` of them (rounded down), and a scoring part with the rest: one to estimate
    difficulty, one to score. Each part keeps the samples' original order."""
    if not 0 < share < 1:
        raise ValueError(f"share must be between 0 and 1 (exclusive), got {share}")
    rng = np.random.default_rng(seed)
    first = np.zeros(len(samples), dtype=bool)
    positions = samples.groupby("problem", sort=True).indices
    for problem in sorted(positions):
        rows = positions[problem]
        chosen = rng.permutation(len(rows))[: int(len(rows) * share)]
        first[rows[np.sort(chosen)]] = True
    return samples[first].reset_index(drop=True), samples[~first].reset_index(drop=True)


def fractional(curve: Mapping[int, np.ndarray], k: float, n: int) -> np.ndarray | None:
    """Per-problem accuracy at a fractional budget ``k`` from accuracies at integer budgets
    (``curve[k]``: one value per problem): linear between ``⌊k⌋`` and ``⌈k⌉``; capped at
    ``n`` samples; None when ``k < 1`` (not even one sample is affordable)."""
    if not k >= 1:
        return None
    k = min(k, float(n))
    low, high = int(np.floor(k)), int(np.ceil(k))
    if low == high:
        return np.asarray(curve[low], dtype=float)
    weight = k - low
    return (1 - weight) * np.asarray(curve[low], float) + weight * np.asarray(curve[high], float)


def needed_ks(allowances: Sequence[float], costs: Sequence[float], n: int) -> list[int]:
    """Every integer budget the fractional allowances ``allowance / cost`` fall between."""
    ks: set[int] = set()
    for allowance in allowances:
        for cost in costs:
            k = allowance / cost
            if k >= 1:
                k = min(k, float(n))
                ks |= {int(np.floor(k)), int(np.ceil(k))}
    return sorted(ks)


def rule_curves(samples: pd.DataFrame, ks: Sequence[int], rules: Mapping = SAMPLE_RULES,
                n_resamples: int = 100, seed: int = 0) -> dict[str, dict[int, np.ndarray]]:
    """Per-problem accuracy at each ``k`` of every selection rule and of the perfect-verifier
    ceiling (pass@k, exact), over the given samples: ``{label: {k: array (problems,)}}``.

    ``samples`` has ``problem``, ``answer``, ``correct`` and score columns; a rule whose
    column is missing is left out. Every problem must have the same number of samples. A
    problem's truth is the answer of a correct sample; with none correct, no rule can pick
    the truth (accuracy 0).
    """
    rules = {label: rule for label, rule in rules.items()
             if rule[0] is None or rule[0] in samples.columns}  # scores the table has
    groups = [group for _, group in samples.groupby("problem", sort=True)]
    n = min(len(g) for g in groups)
    ks = [k for k in ks if 1 <= k <= n]
    out: dict[str, dict[int, list]] = {label: {k: [] for k in ks} for label in rules}
    ceiling = pass_at_k_curve(n, np.array([int(g["correct"].iloc[:n].sum()) for g in groups]),
                              ks)  # (P, K)
    for index, group in enumerate(groups):
        group = group.iloc[:n]
        answers = [None if pd.isna(a) else a for a in group["answer"]]
        right = group.loc[group["correct"].astype(bool), "answer"]
        truth = right.iloc[0] if len(right) else object()  # matches nothing
        for label, (column, rule, _) in rules.items():
            weights = None if column is None else group[column].to_numpy()
            accuracy = selection_curve(answers, truth, ks, weights, rule, n_resamples,
                                       seed=seed + index)
            for k, value in zip(ks, accuracy, strict=True):
                out[label][k].append(value)
    curves = {label: {k: np.array(v) for k, v in per_k.items()} for label, per_k in out.items()}
    curves[CEILING] = {k: ceiling[:, j] for j, k in enumerate(ks)}
    return curves


def candidates(n_policy: int, n_verifier: int, tokens_per_sample: float,
               greedy_tokens: float, rules: Mapping = SAMPLE_RULES,
               likelihood_kept: bool = False) -> list[Candidate]:
    """The ways the small model can spend its allowance, with their exact FLOPs: 2·N per
    generated token for the policy, plus 2·N per token read by the model that scores the
    sample: the verifier (N_verifier) or, for the likelihood, the policy reading its own
    chain once more (N_policy), unless ``likelihood_kept``: the sampler kept the
    log-probabilities it computed, and the likelihood costs nothing more. The perfect
    verifier is charged like the learned one, as a verifier of that size that happened to
    be perfect. A rule whose scores are missing from the samples is left out by
    :func:`rule_curves`."""
    per_sample = inference_flops(n_policy, tokens_per_sample)
    scorer = {None: 0.0, "verifier": inference_flops(n_verifier, tokens_per_sample),
              "policy": 0.0 if likelihood_kept else inference_flops(n_policy,
                                                                      tokens_per_sample)}
    out = [Candidate(GREEDY, inference_flops(n_policy, greedy_tokens), sampled=False)]
    out += [Candidate(label, per_sample + scorer[by]) for label, (_, _, by) in rules.items()]
    verified = per_sample + scorer["verifier"]
    out.append(Candidate(CEILING, verified))
    return out


def temperature_label(label: str, temperature: float) -> str:
    """A selection rule's label at one sampling temperature."""
    return f"{label}, T = {temperature:g}"


def rule_of(strategy: str) -> str:
    """The candidate of a pool row's strategy label (without its ``@ k=...``)."""
    return strategy.split(" @ k=")[0]


def first_samples(samples: pd.DataFrame, n: int) -> pd.DataFrame:
    """The first ``n`` samples of every problem (in table order)."""
    return samples[samples.groupby("problem").cumcount() < n]


def temperature_curves(sets: Mapping[float, pd.DataFrame], ks: Sequence[int],
                       reference: float, rules: Mapping = SAMPLE_RULES,
                       n_resamples: int = 100, seed: int = 0
                       ) -> dict[str, dict[int, np.ndarray]]:
    """:func:`rule_curves` of each temperature's samples (``sets``: temperature -> samples,
    the same problems in each), labelled by :func:`temperature_label`; a set's score
    columns that are all missing are dropped first, so a rule runs only where its scores
    exist. The perfect verifier's curve (pass@k) is kept at every temperature: at the
    ``reference`` temperature under :data:`CEILING`, at the others under its
    :func:`temperature_label`."""
    return temperature_curves_of([sets], ks, reference, rules, n_resamples, seed,
                                 parallel=False)[0]


def _rule_curves_job(job: tuple) -> dict[str, dict[int, np.ndarray]]:
    """:func:`rule_curves` of one job ``(samples, ks, rules, n_resamples, seed)`` (a job of
    :func:`ttc.parallel.run_jobs`)."""
    samples, ks, rules, n_resamples, seed = job
    return rule_curves(samples.dropna(axis=1, how="all"), ks, rules, n_resamples, seed)


def temperature_curves_of(many: Sequence[Mapping[float, pd.DataFrame]], ks: Sequence[int],
                          reference: float, rules: Mapping = SAMPLE_RULES,
                          n_resamples: int = 100, seed: int = 0, parallel: bool = True,
                          progress: bool = False) -> list[dict[str, dict[int, np.ndarray]]]:
    """:func:`temperature_curves` of several sample sets (chapter 7: the test and the
    validation problems), every (set, temperature) one job on the worker processes
    (``parallel``; the resampled selection curves are the chapter's longest arithmetic, all
    in Python and NumPy). The same curves as one call per set."""
    from ttc.parallel import run_jobs

    jobs = [(samples, list(ks), dict(rules), n_resamples, seed)
            for sets in many for samples in sets.values()]
    results = iter(run_jobs(_rule_curves_job, jobs, desc="selection curves", progress=progress,
                            parallel=parallel, costs=[len(job[0]) for job in jobs]))
    out = []
    for sets in many:
        curves_of: dict[str, dict[int, np.ndarray]] = {}
        for temperature in sets:
            curves = next(results)
            ceiling = curves.pop(CEILING)
            curves_of[CEILING if temperature == reference else
                      temperature_label(CEILING, temperature)] = ceiling
            curves_of |= {temperature_label(label, temperature): curve
                          for label, curve in curves.items()}
        out.append(curves_of)
    return out


def temperature_candidates(n_policy: int, n_verifier: int,
                           tokens_per_sample: Mapping[float, float], greedy_tokens: float,
                           reference: float, rules: Mapping = SAMPLE_RULES,
                           likelihood_kept: bool = False) -> list[Candidate]:
    """:func:`candidates` at every temperature (``tokens_per_sample``: temperature -> mean
    generated tokens per sample), labelled as :func:`temperature_curves` labels them: one
    greedy answer, every rule and the perfect verifier at every temperature (the reference
    temperature's perfect verifier under the plain :data:`CEILING`)."""
    out = [Candidate(GREEDY, inference_flops(n_policy, greedy_tokens), sampled=False)]
    for temperature, tokens in tokens_per_sample.items():
        for option in candidates(n_policy, n_verifier, tokens, greedy_tokens, rules,
                                 likelihood_kept):
            if option.label == CEILING and temperature == reference:
                out.append(option)
            elif option.sampled:
                out.append(replace(option, label=temperature_label(option.label, temperature)))
    return out


def is_ceiling(label: str) -> bool:
    """Whether a candidate is a perfect verifier's (at any temperature)."""
    return label.startswith(CEILING)


def choose_by_bin(pool: pd.DataFrame, problems: np.ndarray, bins: np.ndarray
                  ) -> dict[int, str]:
    """Per bin, the candidate (:func:`rule_of` its strategy) with the highest mean accuracy
    over the bin's problems in ``pool`` (rows: strategy, problem, correct). Ties go to the
    candidate with the higher accuracy over all of the pool's problems, then to the one
    listed first: on a bin where greedy and a perfect verifier both solve every validation
    problem, the choice follows the evidence of the other bins rather than the listing, so a
    tie at the ceiling does not hand a perfect verifier's allowance to greedy. Bins without
    rows get the best candidate over all problems."""
    if pool.empty:
        return {}
    pool = pool.assign(rule=pool["strategy"].map(rule_of),
                       bin=pd.Series(bins, index=problems).reindex(pool["problem"]).to_numpy())
    listed = list(dict.fromkeys(pool["rule"]))
    means = pool.groupby("rule")["correct"].mean().reindex(listed)
    # listing order, stably re-sorted by accuracy over all problems (best first)
    order = sorted(listed, key=lambda rule: -means[rule])
    overall = order[0]
    chosen = {int(b): overall for b in np.unique(bins)}
    for b, group in pool.groupby("bin", sort=True):
        present = set(group["rule"])
        chosen[int(b)] = group.groupby("rule")["correct"].mean().reindex(
            [r for r in order if r in present]).idxmax()
    return chosen


def _pool_rows(allowance: float, options: Sequence[Candidate], curves, greedy_small,
               n: int, problems: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """The affordable candidates as rows (strategy, problem, correct): the learned pool,
    and the ceiling's pool (the perfect verifier at every temperature, and the greedy
    answer, which a perfect verifier may keep when verified samples cost more than they
    bring); and the fractional k the allowance buys of verified samples at the reference
    temperature (NaN without that ceiling)."""
    rows, ceiling_rows = [], []
    k_ceiling = np.nan
    for option in options:
        if not option.sampled:
            if option.flops_per_unit <= allowance:
                greedy = pd.DataFrame({"strategy": option.label, "problem": problems,
                                       "correct": greedy_small})
                rows.append(greedy)
                ceiling_rows.append(greedy)
            continue
        if option.label not in curves:  # no scores for this rule in the samples
            continue
        k = allowance / option.flops_per_unit
        accuracy = fractional(curves[option.label], k, n)
        if option.label == CEILING:
            k_ceiling = min(k, n)
        if accuracy is None:
            continue
        frame = pd.DataFrame({"strategy": f"{option.label} @ k={min(k, n):.1f}",
                              "problem": problems, "correct": accuracy})
        (ceiling_rows if is_ceiling(option.label) else rows).append(frame)
    empty = pd.DataFrame(columns=["strategy", "problem", "correct"])
    return (pd.concat(rows, ignore_index=True) if rows else empty,
            pd.concat(ceiling_rows, ignore_index=True) if ceiling_rows else empty, k_ceiling)


def _choose(pool: pd.DataFrame, bins: np.ndarray, problems: np.ndarray,
            validation: tuple | None, seed: int, ceiling: bool) -> pd.DataFrame:
    """Rows (bin, problem, correct, strategy) of the candidate chosen per bin from ``pool``:
    on the validation split when given (``validation``: the same pool built on it, its
    problems and bins). Without one, the learned candidate by two-fold cross-validation over
    the bin's test problems, and the ceiling as the best on the bin's test problems (an upper
    bound, not a strategy anyone could deploy)."""
    if pool.empty:
        return pd.DataFrame(columns=["bin", "problem", "correct", "strategy"])
    pool = pool.assign(bin=pd.Series(bins, index=problems).reindex(pool["problem"]).to_numpy())
    if validation is None and not ceiling:
        return cross_validated_choice(pool, ["bin"], seed=seed)[0]
    chosen = (choose_by_bin(pool.drop(columns="bin"), problems, bins) if validation is None
              else choose_by_bin(*validation))
    strategies = pool["strategy"].to_numpy(dtype=object)
    labels = pd.unique(strategies)  # one rule_of per distinct label, not per row
    rules = pd.Series([rule_of(s) for s in labels], index=labels).reindex(strategies)
    wanted = pd.Series(pool["bin"].to_numpy()).map(lambda b: chosen.get(int(b)))
    return pool[rules.to_numpy(dtype=object) == wanted.to_numpy(dtype=object)]


def exchange_cells(curves, options: Sequence[Candidate], n: int, problems: np.ndarray,
                   bins: np.ndarray, greedy_small: np.ndarray, greedy_large: Mapping,
                   sizes: Mapping[str, int], policy: str, r_values: Sequence[float],
                   seed: int = 0, n_boot: int = 10_000, choose_on: tuple | None = None
                   ) -> pd.DataFrame:
    """One row per (larger member, R, bin): the allowance, the chosen learned candidate's
    accuracy and the ceiling's, the larger member's greedy accuracy, and both paired
    differences with 95% intervals and bootstrap p-values (uncorrected).

    ``problems``/``bins``/``greedy_small``: per problem (same order as the curves' arrays);
    ``greedy_large[model]``: ``(correct per problem, mean greedy tokens)``.
    ``choose_on``: ``(curves, n, problems, bins, greedy_small)`` of a validation split, on
    which the candidate of each bin is chosen (:func:`choose_by_bin`); without it, two-fold
    cross-validation over the bin's test problems chooses.
    """
    n_policy = sizes[policy]
    rows = []
    for large, (large_correct, large_tokens) in greedy_large.items():
        if sizes[large] <= n_policy:
            continue
        m = sizes[large] / n_policy
        for r in r_values:
            allowance = exchange_factor(m, r) * inference_flops(n_policy, large_tokens)
            pool, ceiling_pool, k_ceiling = _pool_rows(allowance, options, curves,
                                                       greedy_small, n, problems)
            v_learned = v_ceiling = None
            if choose_on is not None:  # the same pools on the validation split, built once
                v_curves, v_n, v_problems, v_bins, v_greedy = choose_on
                v_pool, v_ceiling_pool, _ = _pool_rows(allowance, options, v_curves, v_greedy,
                                                       v_n, v_problems)
                v_learned = (v_pool, v_problems, v_bins)
                v_ceiling = (v_ceiling_pool, v_problems, v_bins)
            scores = _choose(pool, bins, problems, v_learned, seed, ceiling=False)
            ceilings = _choose(ceiling_pool, bins, problems, v_ceiling, seed, ceiling=True)
            for b in np.unique(bins):
                members = problems[bins == b]
                large_b = pd.Series(large_correct, index=problems).loc[members].to_numpy()
                picked = scores[scores["bin"] == b].set_index("problem")
                small_b = (picked["correct"].reindex(members).to_numpy(dtype=float)
                           if len(picked) else np.full(len(members), np.nan))
                if np.isnan(small_b).all() and len(members):
                    small_b = np.zeros(len(members))  # nothing affordable: every answer missed
                pool_stats = paired_bootstrap(small_b - large_b, n_boot=n_boot,
                                              seed=seed + int(b))
                picked_ceiling = ceilings[ceilings["bin"] == b].set_index("problem")
                ceil_b = (picked_ceiling["correct"].reindex(members).to_numpy(dtype=float)
                          if len(picked_ceiling) else np.zeros(len(members)))
                ceil_b = np.nan_to_num(ceil_b)  # a problem no fold scored: nothing right
                ceil_stats = paired_bootstrap(ceil_b - large_b, n_boot=n_boot,
                                              seed=seed + int(b))
                chosen = " / ".join(dict.fromkeys(picked["strategy"])) if len(picked) else \
                    "nothing affordable"
                rows.append({
                    "large": large, "M": m, "R": float(r), "bin": int(b),
                    "problems": len(members), "affordable_flops": allowance,
                    "k_affordable": k_ceiling, "chosen": chosen,
                    "ceiling_chosen": (" / ".join(dict.fromkeys(picked_ceiling["strategy"]))
                                       if len(picked_ceiling) else "nothing affordable"),
                    "small_accuracy": float(np.nanmean(small_b)) if len(members) else np.nan,
                    "ceiling_accuracy": float(ceil_b.mean()) if len(members) else np.nan,
                    "large_accuracy": float(large_b.mean()) if len(members) else np.nan,
                    "difference": pool_stats["mean"], "low": pool_stats["low"],
                    "high": pool_stats["high"], "p": pool_stats["p"],
                    "ceiling_difference": ceil_stats["mean"], "ceiling_low": ceil_stats["low"],
                    "ceiling_high": ceil_stats["high"], "ceiling_p": ceil_stats["p"],
                })
    return pd.DataFrame(rows)


def add_verdicts(cells: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Holm-corrected verdicts over all rows, separately for the learned pool (``verdict``)
    and the ceiling (``ceiling_verdict``): "test-time compute" wins, "larger model" wins, or
    "no detectable difference"."""
    out = cells.copy()
    for prefix in ("", "ceiling_"):
        if out.empty:
            out[f"{prefix}verdict"] = pd.Series(dtype=str)
            continue
        rejected = holm(out[f"{prefix}p"].to_numpy(), alpha)
        out[f"{prefix}verdict"] = [
            verdict(mean, rej, "test-time compute", "larger model")
            for mean, rej in zip(out[f"{prefix}difference"], rejected, strict=True)]
    return out


def _last_ahead(values: np.ndarray) -> int:
    """How many leading entries of ``values`` are > 0 (the run from the smallest R)."""
    ahead = values > 0
    return len(ahead) if ahead.all() else int(np.argmin(ahead))


def break_even(sweep: pd.DataFrame, column: str = "difference") -> pd.DataFrame:
    """Per (larger member, bin): the break-even R, the largest R of the sweep at which the
    small model is still ahead (``column`` > 0) with every smaller R ahead too; NaN where it
    is behind at the smallest R already.

    Its interval comes from the pointwise 95% intervals of the sweep: ``break_even_low`` is
    the largest R up to which the whole interval stays above zero (ahead for sure), and
    ``break_even_high`` the largest R up to which its upper end stays above zero (beyond it,
    surely not ahead). Both are NaN when no R of the sweep qualifies; they inherit the
    pointwise intervals' coverage, not a simultaneous one. ``interval_above_zero_there``:
    whether the interval at the break-even R is above zero.
    """
    rows = []
    prefix = "" if column == "difference" else "ceiling_"
    for (large, b), group in sweep.groupby(["large", "bin"], sort=True):
        group = group.sort_values("R")
        r = group["R"].to_numpy(dtype=float)
        estimate = _last_ahead(group[column].to_numpy(dtype=float))
        sure = _last_ahead(group[f"{prefix}low"].to_numpy(dtype=float))
        possible = (_last_ahead(group[f"{prefix}high"].to_numpy(dtype=float))
                    if f"{prefix}high" in group else estimate)
        rows.append({"large": large, "bin": int(b),
                     "break_even_R": r[estimate - 1] if estimate else np.nan,
                     "break_even_low": r[sure - 1] if sure else np.nan,
                     "break_even_high": r[possible - 1] if possible else np.nan,
                     "interval_above_zero_there": bool(estimate and group[f"{prefix}low"]
                                                       .iloc[estimate - 1] > 0)})
    return pd.DataFrame(rows, columns=["large", "bin", "break_even_R", "break_even_low",
                                       "break_even_high", "interval_above_zero_there"])
