"""Sampler throughput: ttc.sampling.generate (lean and generic loops; the lean one with the
eager and with the compiled shared-prompt step, :mod:`ttc.fused_decode`, the compiled one
with every row stepped and with rows of equal histories merged, as the book samples) against
a naive per-problem ``model.generate(num_return_sequences=n)`` loop, on the same model and
problems.

Reports generated tokens per second and the share of the machine's matmul peak that the
2·N-per-token count implies. A benchmark to run by hand and record in docs/benchmarks.md,
not a timed test.

    .venv/bin/python benchmarks/sampler.py --member f128x4 --problems 16 --samples 64

``--sharing`` times only the lean loop, with each distinct prompt's keys/values shared
(:class:`ttc.lean_llama.SharedPromptDecoder`) and with one buffer per row, on a trained
checkpoint; ``--sweep`` times one decoding step of each decoder against the number of rows per
distinct prompt (what :data:`ttc.lean_llama.SHARE_MIN_ROWS_PER_PROMPT` is chosen from):

    .venv/bin/python benchmarks/sampler.py --sharing --threads 1 --profile defaults \
        --checkpoint CKPT --problems 16 --samples 128 --ops 3-6 --repeats 2
    .venv/bin/python benchmarks/sampler.py --sweep --threads 1 --checkpoint CKPT
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from ttc import fused_decode, lean_llama, upstream
from ttc.chapters.ch02_family import FamilyChapterConfig
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


def lean_tokens_per_second(model, tokenizer, batch, max_new_tokens, share: bool) -> float:
    """Tokens/s of ``generate`` on the lean loop, prompts shared or one buffer per row."""
    threshold = lean_llama.SHARE_MIN_ROWS_PER_PROMPT
    lean_llama.SHARE_MIN_ROWS_PER_PROMPT = 1 if share else len(batch) + 1  # force the path
    try:
        start = time.perf_counter()
        out = generate(model, tokenizer, batch, max_new_tokens, temperature=1.0, seed=0,
                       batch_size=512, backend="lean")
        return sum(c.n_tokens for c in out) / (time.perf_counter() - start)
    finally:
        lean_llama.SHARE_MIN_ROWS_PER_PROMPT = threshold


def step_seconds(decoder_cls, model, rows: int, per_prompt: int, prompt: int,
                 generated: int, steps: int = 10) -> float:
    """Seconds per decoding step at ``rows`` rows, ``per_prompt`` rows per distinct random
    prompt of ``prompt`` tokens, after ``generated`` tokens (all rows live)."""
    generator = torch.Generator().manual_seed(0)
    distinct = torch.randint(4, model.config.vocab_size, (-(-rows // per_prompt), prompt),
                             generator=generator)
    ids = distinct.repeat_interleave(per_prompt, dim=0)[:rows]
    decoder = decoder_cls(model, ids, torch.ones_like(ids), generated + steps + 1)
    decoder.prefill(ids)
    tokens = torch.randint(4, model.config.vocab_size, (rows,), generator=generator)
    for _ in range(generated):
        decoder.step(tokens)
    start = time.perf_counter()
    for _ in range(steps):
        decoder.step(tokens)
    return (time.perf_counter() - start) / steps


def sweep(model, name: str) -> None:
    """Step time of both decoders against rows per distinct prompt (batch 512, prompt 30,
    25 tokens generated: mid-generation at the book's sizes)."""
    print(f"{name}: seconds per decoding step, batch 512, prompt 30, 25 tokens generated")
    print("| rows per prompt | one buffer per row (ms) | prompts shared (ms) | speed-up |")
    print("|---|---|---|---|")
    for per_prompt in (1, 2, 4, 8, 32, 128):
        old = step_seconds(lean_llama.LeanLlamaDecoder, model, 512, per_prompt, 30, 25)
        new = step_seconds(lean_llama.SharedPromptDecoder, model, 512, per_prompt, 30, 25)
        print(f"| {per_prompt} | {old * 1e3:.1f} | {new * 1e3:.1f} | {old / new:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="cpu",
                        help="profile whose test problems to use; 'defaults': the config's")
    parser.add_argument("--member", default="f128x4")
    parser.add_argument("--checkpoint", help="a trained member's folder (else --member is "
                        "trained or read from the cache)")
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--ops", help="only problems with LO-HI operations, e.g. 3-6")
    parser.add_argument("--threads", type=int, help="torch threads (the book's workers: 1)")
    parser.add_argument("--sharing", action="store_true",
                        help="time the lean loop with and without prompt sharing only")
    parser.add_argument("--sweep", action="store_true",
                        help="time one decoding step of each decoder against rows per prompt")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each --sharing timing")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    config = (FamilyChapterConfig() if args.profile == "defaults"
              else chapter_config(args.profile, "02_family"))
    path = args.checkpoint or train_member(get_spec(args.member), config.train_config,
                                           kernels=config.train_kernels)  # the book's
    model, tokenizer = load_member(path, device="cpu")
    name = args.member if args.checkpoint is None else str(args.checkpoint).rstrip("/")
    name = name.rsplit("/", 1)[-1]
    if args.sweep:
        sweep(model, name)
        return
    n_params = sum(p.numel() for n, p in model.named_parameters()
                   if "embed_tokens" not in n and "lm_head" not in n)
    problems = upstream.test_problems(config)
    if args.ops:
        low, high = (int(part) for part in args.ops.split("-"))
        problems = [p for p in problems if low <= p.n_ops <= high]
    step = max(1, len(problems) // args.problems)
    prompts = [p.prompt for p in problems[::step][: args.problems]]
    if args.sharing:
        batch = [p for p in prompts for _ in range(args.samples)]
        for run in range(args.repeats):
            old = lean_tokens_per_second(model, tokenizer, batch, config.max_new_tokens, False)
            new = lean_tokens_per_second(model, tokenizer, batch, config.max_new_tokens, True)
            print(f"{name}: run {run + 1}, {len(prompts)} problems x {args.samples} samples, "
                  f"{torch.get_num_threads()} thread(s): one buffer per row {old:,.0f} "
                  f"tokens/s, prompts shared {new:,.0f} tokens/s ({new / old:.2f}x)")
        return
    peak = matmul_peak_gflops()
    print(f"{name}: N = {n_params:,}; {len(prompts)} problems x {args.samples} samples;"
          f" matmul peak {peak:.0f} GFLOP/s")
    rows = []
    start = time.perf_counter()
    tokens = naive(model, tokenizer, prompts, args.samples, config.max_new_tokens)
    rows.append(("naive model.generate per problem", tokens, time.perf_counter() - start))
    batch = [p for p in prompts for _ in range(args.samples)]
    merging = fused_decode.FusedSharedDecoder.forks_rows
    for backend, fused, merge in (("hf", True, False), ("lean", False, False),
                                  ("lean", True, False), ("lean", True, True)):
        # the lean loop with the eager shared step, and with the compiled one, every row
        # stepped or each distinct history once (the book's)
        os.environ[fused_decode.ENV_VAR] = "1" if fused else "0"
        fused_decode.FusedSharedDecoder.forks_rows = merge
        start = time.perf_counter()
        out = generate(model, tokenizer, batch, config.max_new_tokens, temperature=1.0,
                       seed=0, batch_size=512, backend=backend)
        label = {"hf": "", "lean": ", compiled step" if fused else ", eager step"}[backend]
        label += ", equal histories merged" if merge else ""
        rows.append((f"ttc generate, backend={backend}{label}, batch 512",
                     sum(c.n_tokens for c in out), time.perf_counter() - start))
    fused_decode.FusedSharedDecoder.forks_rows = merging
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
