"""Does packing documents end to end into 128-token blocks make long problems hard?

The family trains on documents ``<bos> prompt solution <eos>`` packed end to end into blocks
of ``block_size`` tokens (``ttc.family.train.packed_blocks``). Correct 7- and 8-operation
documents are about 100-114 tokens long, so most of them are cut across two blocks: the
second part is trained without the prompt's operands in view. This script trains the policy's
shape three ways at the same number of tokens and compares greedy accuracy by number of
operations on the *validation* split (chapter 2's choices are made there, never on test):

* ``stream-128``: the book's recipe (end to end, 128-token blocks);
* ``aligned-128``: every block starts at a document; a document that does not fit is moved
  to the next block and the rest is padding, which the loss ignores (fewer useful tokens);
* ``stream-256``: end to end into 256-token blocks, half as many per step.

Each variant trains in its own cache folder, in worker processes (one thread each).

    .venv/bin/python benchmarks/packing.py [--member f64x3] [--steps 2400] [--per-ops 50] \
        [--seed 1] [--variants stream-128,aligned-128]

``--seed`` is the training seed (the data stream and the initial weights; the validation
problems stay the same), so the comparison can be repeated under another draw.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import replace

import numpy as np

from ttc.family import train as family_train
from ttc.family.specs import get_spec
from ttc.metrics import bootstrap_mean_ci, paired_bootstrap
from ttc.parallel import run_jobs
from ttc.profiles import chapter_config
from ttc.sampling import generate
from ttc.tasks import generate_problems, grade, train_stream
from ttc.tokenizer import build_tokenizer

VARIANTS = ("stream-128", "aligned-128", "stream-256")


def aligned_blocks(config, split, n_blocks, seed):
    """Like ``packed_blocks``, but every block starts at a document (the rest is padding)."""
    tokenizer = build_tokenizer()
    vocab = tokenizer.get_vocab()
    size = config.block_size
    ids = np.full((n_blocks, size), tokenizer.pad_token_id, dtype=np.int64)
    labels = np.full((n_blocks, size), family_train.IGNORE, dtype=np.int64)
    if split == "train":
        problems = train_stream(config.task, seed)
    else:
        pool = generate_problems(config.task, split, 64, seed)
        problems = (pool[i % len(pool)] for i in range(10**9))
    block, filled = 0, 0
    while block < n_blocks:
        problem = next(problems)
        prompt = [tokenizer.bos_token_id, *(vocab[c] for c in problem.prompt)]
        solution = [*(vocab[c] for c in problem.solution), tokenizer.eos_token_id]
        doc, doc_labels = prompt + solution, [family_train.IGNORE] * len(prompt) + solution
        doc, doc_labels = doc[:size], doc_labels[:size]  # the rare document over a block
        if filled + len(doc) > size:
            block, filled = block + 1, 0
            if block == n_blocks:
                break
        ids[block, filled:filled + len(doc)] = doc
        labels[block, filled:filled + len(doc)] = doc_labels
        filled += len(doc)
    return ids, labels


def train_variant(job):
    """Train one variant in its own cache folder; return greedy correctness on val problems."""
    variant, member, config, cache, per_ops, max_new_tokens = job
    os.environ["TTC_CACHE"] = os.path.join(cache, variant)
    if variant == "aligned-128":
        family_train.packed_blocks = aligned_blocks
    if variant == "stream-256":
        config = replace(config, block_size=256, batch_size=config.batch_size // 2)
    path = family_train.train_member(get_spec(member), config, progress=False)
    model, tokenizer = family_train.load_member(path, device="cpu")
    problems = generate_problems(config.task, "val", per_ops, seed=4321)
    completions = generate(model, tokenizer, [p.prompt for p in problems], max_new_tokens)
    info = family_train.training_info(path)
    return ([(p.n_ops, grade(p, c.text, c.finished))
             for p, c in zip(problems, completions, strict=True)], info["train_seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--member", default="f64x3")
    parser.add_argument("--steps", type=int, default=None, help="default: the profile's")
    parser.add_argument("--per-ops", type=int, default=50)
    parser.add_argument("--seed", type=int, default=None, help="training seed; default: the "
                        "profile's")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated, the first is the baseline of the paired column")
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown or not variants:
        parser.error(f"--variants: unknown {unknown}; choose from {', '.join(VARIANTS)}")
    chapter = chapter_config(args.profile, "02_family")
    config = chapter.train_config
    if args.steps:
        config = replace(config, steps=args.steps)
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    cache = tempfile.mkdtemp(prefix="ttc-packing-")
    jobs = [(v, args.member, config, cache, args.per_ops, chapter.max_new_tokens)
            for v in variants]
    results = run_jobs(train_variant, jobs, desc="packing variants", labels=variants)
    print(f"{args.member}, seed {config.seed}, {config.steps} steps x "
          f"{config.tokens // config.steps} tokens; "
          f"greedy accuracy on {args.per_ops} validation problems per number of operations "
          "(95% bootstrap interval)\n")
    ops = sorted({n for n, _ in results[0][0]})
    print("| variant | train s | " + " | ".join(f"{n} ops" for n in ops)
          + f" | all | all, minus {variants[0]} (paired) |")
    print("|---|---|" + "---|" * (len(ops) + 2))
    base = np.array([ok for _, ok in results[0][0]], dtype=float)
    for variant, (rows, seconds) in zip(variants, results, strict=True):
        cells = []
        for n in [*ops, None]:
            values = np.array([ok for k, ok in rows if n is None or k == n], dtype=float)
            mean, low, high = bootstrap_mean_ci(values, n_boot=2000)
            cells.append(f"{mean:.2f} [{low:.2f}, {high:.2f}]")
        diff = paired_bootstrap(np.array([ok for _, ok in rows], dtype=float) - base)
        cells.append(f"{diff['mean']:+.3f} [{diff['low']:+.3f}, {diff['high']:+.3f}]")
        print(f"| {variant} | {seconds:.0f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
