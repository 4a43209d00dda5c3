"""How much does the family lose when it trains for fewer steps, or on smaller batches?

The ``cpu`` profile's budget (30 minutes on two cores) is spent first on training the family;
the largest member's training alone is most of chapter 2. This script compares every member
trained for ``--steps`` (for example the book's 2,400) against ``--against`` (for example
1,600), or trained on ``--against-batch`` blocks per step instead of the profile's (fewer
tokens at the same number of updates), with the profile's recipe and training kernels
otherwise unchanged (the learning-rate schedule follows the step count), by greedy accuracy
on the *validation* split: recipe choices are made there, never on the test problems.
Checkpoints come from the cache (``TTC_CACHE``) when they are there (a cold ``cpu`` build
leaves them), and are trained otherwise, on worker processes.

    .venv/bin/python benchmarks/recipe_length.py --steps 2400 --against 1600 [--per-ops 50]
    .venv/bin/python benchmarks/recipe_length.py --steps 2400 --against 2400 --against-batch 8
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from ttc.family import train as family_train
from ttc.family.specs import get_spec
from ttc.metrics import bootstrap_mean_ci, paired_bootstrap
from ttc.parallel import run_jobs
from ttc.profiles import chapter_config
from ttc.sampling import generate
from ttc.tasks import generate_problems, grade


def evaluate(job):
    """Train (or find) one member at one step count; return its greedy correctness on the
    validation problems (ordered as generated), its validation loss and training seconds."""
    member, config, kernels, per_ops, max_new_tokens = job
    path = family_train.train_member(get_spec(member), config, progress=False,
                                     kernels=kernels)
    model, tokenizer = family_train.load_member(path, device="cpu")
    problems = generate_problems(config.task, "val", per_ops, seed=4321)
    completions = generate(model, tokenizer, [p.prompt for p in problems], max_new_tokens)
    info = family_train.training_info(path)
    return ([grade(p, c.text, c.finished) for p, c in zip(problems, completions, strict=True)],
            info["curve"][-1]["val_loss"], info["train_seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--steps", type=int, required=True, help="the reference step count")
    parser.add_argument("--against", type=int, required=True, help="the step count compared")
    parser.add_argument("--against-batch", type=int, default=None,
                        help="blocks per step of the recipe compared (default: the profile's)")
    parser.add_argument("--members", default=None,
                        help="comma-separated members (default: the profile's)")
    parser.add_argument("--per-ops", type=int, default=50)
    args = parser.parse_args()
    chapter = chapter_config(args.profile, "02_family")
    base = chapter.train_config
    members = args.members.split(",") if args.members else list(chapter.members)
    # the chapter's own recipe at each step count (its evaluation interval follows the steps),
    # so that the checkpoints are the ones a build with that step count caches
    variants = [replace(chapter, train_steps=args.steps),
                replace(chapter, train_steps=args.against,
                        batch_size=args.against_batch or chapter.batch_size)]
    jobs = [(m, variant.train_config, chapter.train_kernels, args.per_ops,
             chapter.max_new_tokens) for variant in variants for m in members]
    results = run_jobs(evaluate, jobs, desc="members",
                       labels=[f"{j[0]}@{j[1].steps}x{j[1].batch_size}" for j in jobs],
                       costs=[get_spec(j[0]).approx_params * j[1].tokens for j in jobs])
    print(f"greedy accuracy on {args.per_ops} validation problems per number of operations "
          f"({args.per_ops * (base.task.max_ops - base.task.min_ops + 1)} in all), 95% "
          "bootstrap intervals; difference paired by problem\n")
    ref_name = f"{args.steps} x {chapter.batch_size}"
    new_name = f"{args.against} x {variants[1].batch_size}"
    print("steps x blocks per step; training seconds: "
          + ", ".join(f"{m} {results[i][2]:.0f} / {results[len(members) + i][2]:.0f}"
                      for i, m in enumerate(members)) + "\n")
    print(f"| member | val loss, {ref_name} | val loss, {new_name} | accuracy, "
          f"{ref_name} | accuracy, {new_name} | {new_name} minus {ref_name} |")
    print("|---|---|---|---|---|---|")
    for i, member in enumerate(members):
        (ref, ref_loss, _), (new, new_loss, _) = results[i], results[len(members) + i]
        ref, new = np.asarray(ref, dtype=float), np.asarray(new, dtype=float)
        cells = []
        for values in (ref, new):
            mean, low, high = bootstrap_mean_ci(values, n_boot=2000)
            cells.append(f"{mean:.2f} [{low:.2f}, {high:.2f}]")
        diff = paired_bootstrap(new - ref)
        print(f"| {member} | {ref_loss:.3f} | {new_loss:.3f} | {cells[0]} | {cells[1]} | "
              f"{diff['mean']:+.3f} [{diff['low']:+.3f}, {diff['high']:+.3f}] |")


if __name__ == "__main__":
    main()
