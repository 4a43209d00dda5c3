"""GenRM-CoT scoring time on chapter 4's comparison subset (issue 14).

Takes the profile's GenRM-CoT checkpoint (trained here if the cache lacks it) and chapter
4's comparison subset (the first ``comparison_samples`` of chapter 3's samples of each test
problem by the policy, distinct chains), and scores it with K rationales per chain, one
torch thread, for every K and seed given. Prints one line per run: chains, process CPU
seconds (the machine may be shared), tokens read and written, and the within-problem AUC of
the outcome score (the last step score of each finished chain). Not a test.

    TTC_CACHE=... PYTHONPATH=src .venv/bin/python benchmarks/genrm_cot.py --profile cpu \\
        --k 1 4 --seeds 0 1 2
"""

from __future__ import annotations

import argparse

import torch
from verifier_size import comparison_subset, outcome_auc  # benchmarks/, beside this script

from ttc.chapters.ch04_verifiers import train_generative_verifiers
from ttc.pipeline import chapter_inputs
from ttc.profiles import chapter_config
from ttc.verifiers import load_generative_verifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--k", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--boot", type=int, default=0,
                        help="bootstrap resamples for the AUC's interval (0: none)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    config = chapter_config(args.profile, "04_verifiers")
    inputs = chapter_inputs("04_verifiers", args.profile, config)
    path = train_generative_verifiers(config, inputs, progress=False)["genrm-cot"]
    subset, distinct, keys = comparison_subset(config, inputs)
    print(f"{path.name}: {len(keys)} distinct chains, {len(subset)} samples")
    for k in args.k:
        for seed in args.seeds:
            verifier = load_generative_verifier(
                path, n_rationales=k, max_rationale_tokens=config.max_rationale_tokens,
                seed=seed, device="cpu")
            seconds, auc, low, high = outcome_auc(verifier, subset, distinct, keys,
                                                  args.boot, seed)
            print(f"K = {k}, seed {seed}: {seconds:.1f} CPU s, read {verifier.tokens.read}, "
                  f"written {verifier.tokens.written}, within-problem AUC {auc:.3f} "
                  f"[{low:.3f}, {high:.3f}]", flush=True)


if __name__ == "__main__":
    main()
