"""Check what the family must show (issue: controlled model family), on the held-out test set.

Trains the family of a profile (or takes it from the cache), then measures per member and
number of operations: greedy accuracy on the whole test set, and pass@1 / pass@k at
temperature 1 from ``--samples`` samples on the first ``--per-ops`` test problems of each
length. Prints a markdown table for docs/benchmarks.md. Not a test: it reports, it asserts
nothing.

    .venv/bin/python benchmarks/family_check.py --profile cpu --samples 64 --per-ops 20
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from ttc import upstream
from ttc.cache import resolve_cached
from ttc.family.train import load_member
from ttc.metrics import mean_pass_at_k
from ttc.pipeline import chapter_result
from ttc.sampling import generate
from ttc.tasks import grade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--per-ops", type=int, default=20)
    parser.add_argument("--ks", default="1,8,64")
    args = parser.parse_args()
    ks = [int(k) for k in args.ks.split(",")]

    start = time.perf_counter()
    result = chapter_result("02_family", args.profile, progress=True)
    config, tables = result.config, result.tables
    print(f"family trained/evaluated in {time.perf_counter() - start:.0f} s")
    members, accuracy = tables["members"], tables["accuracy"]
    problems = upstream.test_problems(config)
    subset = [p for p in problems if sum(q.n_ops == p.n_ops for q in problems[: problems.index(p)])
              < args.per_ops]
    rows = []
    for _, member in members.iterrows():
        model, tokenizer = load_member(resolve_cached(member["checkpoint"]))
        prompts = [p.prompt for p in subset for _ in range(args.samples)]
        t0 = time.perf_counter()
        comps = generate(model, tokenizer, prompts, config.max_new_tokens, temperature=1.0,
                         seed=0, batch_size=512, progress=True)
        seconds = time.perf_counter() - t0
        correct = np.array([grade(p, c.text, c.finished) for p, c in
                            zip([p for p in subset for _ in range(args.samples)], comps,
                                strict=True)]).reshape(len(subset), args.samples)
        tokens = sum(c.n_tokens for c in comps)
        print(f"{member['model']}: {tokens / seconds:,.0f} tokens/s sampling")
        for n_ops in sorted({p.n_ops for p in subset}):
            idx = [i for i, p in enumerate(subset) if p.n_ops == n_ops]
            counts = correct[idx].sum(axis=1)
            greedy = accuracy[(accuracy.model == member["model"]) & (accuracy.n_ops == n_ops)]
            row = {"model": member["model"], "n_ops": n_ops,
                   "greedy": float(greedy["accuracy"].iloc[0])}
            for k in ks:
                row[f"pass@{k}"] = mean_pass_at_k(args.samples, counts, k)
            row["unsolved"] = float(np.mean(counts == 0))
            rows.append(row)
    table = pd.DataFrame(rows)
    print(members[["model", "N", "D", "train_flops", "train_seconds"]].to_markdown(index=False))
    print(table.to_markdown(index=False, floatfmt=".2f"))


if __name__ == "__main__":
    main()
