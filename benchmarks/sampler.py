"""Sampler throughput: ttc.sampling.generate (lean and generic loops) against a naive
per-problem ``model.generate(num_return_sequences=n)`` loop, on the same model and problems.

Reports generated tokens per second and the share of the machine's matmul peak that the
2·N-per-token count implies. A benchmark to run by hand and record in docs/benchmarks.md,
not a timed test.

    .venv/bin/python benchmarks/sampler.py --member f128x4 --problems 16 --samples 64
"""

from __future__ import annotations

import argparse
import time

import torch

from ttc import upstream
from ttc.family.specs import get_spec
from ttc.family.train import load_member, train_member
from ttc.profiles import chapter_config
from ttc.sampling import generate


def matmul_peak_gflops(size: int = 2048, repeats: int = 5) -> float:
    """Measured fp32 matmul throughput of this machine (GFLOP/s)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def naive(model, tokenizer, prompts, n, max_new_tokens):
    """One ``model.generate`` call per problem with ``num_return_sequences=n``."""
    tokens = 0
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt")
        out = model.generate(**ids, do_sample=True, temperature=1.0, top_k=0,
                             num_return_sequences=n, max_new_tokens=max_new_tokens,
                             eos_token_id=tokenizer.eos_token_id,
                             pad_token_id=tokenizer.pad_token_id)
        new = out[:, ids["input_ids"].shape[1]:]
        # count tokens up to and including <eos>, as ttc.sampling does
        is_eos = new == tokenizer.eos_token_id
        ended = is_eos.any(dim=1)
        lengths = torch.where(ended, is_eos.int().argmax(dim=1) + 1, new.shape[1])
        tokens += int(lengths.sum())
    return tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--member", default="f128x4")
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--samples", type=int, default=64)
    args = parser.parse_args()

    config = chapter_config(args.profile, "02_family")
    path = train_member(get_spec(args.member), config.train_config)
    model, tokenizer = load_member(path, device="cpu")
    n_params = sum(p.numel() for n, p in model.named_parameters()
                   if "embed_tokens" not in n and "lm_head" not in n)
    problems = upstream.test_problems(config)
    step = max(1, len(problems) // args.problems)
    prompts = [p.prompt for p in problems[::step][: args.problems]]
    peak = matmul_peak_gflops()
    print(f"{args.member}: N = {n_params:,}; {len(prompts)} problems x {args.samples} samples;"
          f" matmul peak {peak:.0f} GFLOP/s")
    rows = []
    start = time.perf_counter()
    tokens = naive(model, tokenizer, prompts, args.samples, config.max_new_tokens)
    rows.append(("naive model.generate per problem", tokens, time.perf_counter() - start))
    batch = [p for p in prompts for _ in range(args.samples)]
    for backend in ("hf", "lean"):
        start = time.perf_counter()
        out = generate(model, tokenizer, batch, config.max_new_tokens, temperature=1.0,
                       seed=0, batch_size=512, backend=backend)
        rows.append((f"ttc generate, backend={backend}, batch 512",
                     sum(c.n_tokens for c in out), time.perf_counter() - start))
    base = rows[0][1] / rows[0][2]
    print("| sampler | tokens | seconds | tokens/s | vs naive | share of matmul peak |")
    print("|---|---|---|---|---|---|")
    for name, tokens, seconds in rows:
        rate = tokens / seconds
        share = 2 * n_params * rate / (peak * 1e9)
        print(f"| {name} | {tokens:,} | {seconds:.1f} | {rate:,.0f} | {rate / base:.1f}x |"
              f" {share:.1%} |")


if __name__ == "__main__":
    main()
