"""Within-problem AUC and best-of-N accuracy of a GenRM against the size of the member it is
fine-tuned from (issue 12, item 6a).

For each family member given, chapter 4's GenRM recipe (the policy's training chains labelled
by the exact checker, the chapter's epochs and learning rate) fine-tunes that member instead
of ``verifier_base``, and the verifier scores chapter 4's comparison subset (the first
``comparison_samples`` of chapter 3's samples of each test problem, distinct chains). Prints
one line per member: N, fine-tune and scoring seconds, and the within-problem AUC of the
outcome score with a 95% bootstrap interval over the problems with right and wrong chains,
and, with ``--samples S``, weighted best-of-N with the verifier's scores over the first S
samples of every test problem against their majority vote: accuracies and the paired
difference with a 95% bootstrap interval over problems, on every problem and on medium
ones. The checkpoints are cached by config hash like every verifier. Not a test.

    TTC_CACHE=... PYTHONPATH=src .venv/bin/python benchmarks/verifier_size.py --profile cpu \\
        --members f32x2 f64x3 f128x4 --samples 8
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from ttc import upstream
from ttc.chapters.ch04_verifiers import _finetune_inputs
from ttc.metrics import paired_bootstrap, within_group_auc
from ttc.pipeline import chapter_inputs
from ttc.profiles import chapter_config
from ttc.selection import selection_curve
from ttc.verifiers import load_generative_verifier, train_generative_verifier


def comparison_subset(config, inputs, samples_per_problem: int | None = None):
    """Chapter 4's comparison subset (or the first ``samples_per_problem`` samples of each
    test problem): ``(subset, distinct, keys)``: the samples, their distinct chains, and
    each chain as a (prompt, completion, finished) key."""
    _, problems, samples = upstream.member_samples(inputs, config.policy)
    subset = samples[samples["sample"] < (samples_per_problem or config.comparison_samples)]
    distinct = subset.drop_duplicates(["problem", "completion", "finished"])
    keys = list(zip([problems[i].prompt for i in distinct["problem"]], distinct["completion"],
                    distinct["finished"], strict=True))
    return subset, distinct, keys


def outcome_auc(verifier, subset, distinct, keys, n_boot: int = 0, seed: int = 0
                ) -> tuple[float, float, float, float]:
    """Score the distinct chains; return (CPU seconds, within-problem AUC of the outcome
    score, and its 95% bootstrap interval over problems, NaN without ``n_boot``)."""
    start = time.process_time()
    scores = verifier.step_scores(*map(list, zip(*keys, strict=True)))
    seconds = time.process_time() - start
    chain = list(zip(distinct["problem"], distinct["completion"], distinct["finished"],
                     strict=True))
    outcome = dict(zip(chain, (s[-1] if len(s) else 0.0 for s in scores), strict=True))
    finished = subset[subset["finished"]]
    score = np.array([outcome[key] for key in zip(finished["problem"], finished["completion"],
                                                  finished["finished"], strict=True)])
    groups, labels = finished["problem"].to_numpy(), finished["correct"].to_numpy()
    auc = within_group_auc(groups, labels, score)
    low = high = float("nan")
    if n_boot:
        mixed = [g for g in np.unique(groups) if 0 < labels[groups == g].mean() < 1]
        if not mixed:  # no problem with right and wrong chains: no AUC to resample
            return seconds, auc, low, high
        rng = np.random.default_rng(seed)
        index = {g: np.flatnonzero(groups == g) for g in mixed}
        values = []
        for _ in range(n_boot):
            pick = rng.choice(len(mixed), len(mixed))
            rows = np.concatenate([index[mixed[i]] for i in pick])
            relabel = np.repeat(np.arange(len(pick)), [len(index[mixed[i]]) for i in pick])
            values.append(within_group_auc(relabel, labels[rows], score[rows]))
        low, high = np.nanpercentile(values, [2.5, 97.5])
    return seconds, auc, float(low), float(high)


def selection_gain(verifier, subset, distinct, keys, problems, n_boot: int = 1000,
                   seed: int = 0) -> dict[str, dict[str, float]]:
    """Weighted best-of-N with the verifier's outcome scores over all of each problem's
    samples in ``subset`` (N = their number; unfinished ones have no answer) against their
    majority vote: per group (``"all"`` and medium problems) the two accuracies and the
    paired difference (:func:`ttc.metrics.paired_bootstrap`)."""
    scores = verifier.step_scores(*map(list, zip(*keys, strict=True)))  # memoised: free
    chain = list(zip(distinct["problem"], distinct["completion"], distinct["finished"],
                     strict=True))
    outcome = dict(zip(chain, (s[-1] if len(s) else 0.0 for s in scores), strict=True))
    rows = []
    for p, group in subset.groupby("problem", sort=True):
        answers = [None if pd.isna(a) else a for a in group["answer"]]
        weights = [outcome[k] for k in zip(group["problem"], group["completion"],
                                           group["finished"], strict=True)]
        truth = str(problems[p].answer)
        n = len(group)
        weighted = selection_curve(answers, truth, [n], weights, "weighted")[0]
        vote = selection_curve(answers, truth, [n], None, "majority")[0]
        rows.append((upstream.difficulty_group(problems[p].n_ops), weighted, vote))
    table = pd.DataFrame(rows, columns=["difficulty", "weighted", "vote"])
    out = {}
    for name, part in (("all", table), ("medium", table[table["difficulty"] == upstream.MEDIUM])):
        test = paired_bootstrap((part["weighted"] - part["vote"]).to_numpy(), n_boot=n_boot,
                                seed=seed)
        out[name] = {"weighted": float(part["weighted"].mean()),
                     "vote": float(part["vote"].mean()), **test}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--members", nargs="+", default=None,
                        help="family members to fine-tune from (default: every member)")
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--samples", type=int, default=0,
                        help="samples per test problem to score and select among (default: "
                             "chapter 4's comparison_samples, and no best-of-N line)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    config = chapter_config(args.profile, "04_verifiers")
    inputs = chapter_inputs("04_verifiers", args.profile, config)
    sizes = upstream.member_sizes(inputs)
    subset, distinct, keys = comparison_subset(config, inputs, args.samples or None)
    problems = upstream.main_problems(inputs)
    print(f"{len(keys)} distinct chains, {len(subset)} samples")
    for member in args.members or list(sizes):
        mine = replace(config, verifier_base=member)
        start = time.perf_counter()
        path = train_generative_verifier(*_finetune_inputs("genrm", mine, inputs), False,
                                         device="cpu")
        trained = time.perf_counter() - start
        verifier = load_generative_verifier(path, device="cpu")
        seconds, auc, low, high = outcome_auc(verifier, subset, distinct, keys, args.boot)
        print(f"{member} (N = {sizes[member]:,}): fine-tune {trained:.0f} s (0 if cached), "
              f"scoring {seconds:.1f} CPU s, within-problem AUC {auc:.3f} "
              f"[{low:.3f}, {high:.3f}]", flush=True)
        if args.samples:
            for name, r in selection_gain(verifier, subset, distinct, keys, problems,
                                          args.boot).items():
                print(f"    best-of-{args.samples} on {name} problems ({r['problems']}): "
                      f"weighted {r['weighted']:.3f}, vote {r['vote']:.3f}, difference "
                      f"{r['mean']:+.3f} [{r['low']:+.3f}, {r['high']:+.3f}] "
                      f"(sign-flip p {r['p']:.3f})", flush=True)


if __name__ == "__main__":
    main()
