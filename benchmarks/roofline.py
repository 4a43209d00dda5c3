"""A roofline for decoding and training the family on this machine, measured in one run.

For each family member at the book's sampling batch it counts the FLOPs and the bytes a decode
step must move (weights, the key/value cache read and written, logits), turns them into the
step time this machine's measured matmul throughput and memory bandwidth allow, and times

* the project's sampler (:class:`ttc.lean_llama.LeanLlamaDecoder`, what ``ttc.sampling``
  runs for the family), and
* naive decoding with ``model.generate(num_return_sequences=...)`` per problem,

on the same rows, context and number of steps (random weights: the time of a step does not
depend on them; every row decodes the same number of steps, so no row finishes early). For
training it reports FLOPs per step (6·N per token plus attention) and the share of the matmul
peak reached. Everything runs on one thread, the way the book's worker processes run
(:mod:`ttc.parallel`), with the two-thread matmul peak shown for reference.

    .venv/bin/python benchmarks/roofline.py [--members f32x2,f128x4] [--steps 40]

Prints a Markdown table to paste into docs/benchmarks.md. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import time

import torch
from transformers import LlamaForCausalLM

from ttc import lean_llama
from ttc.family.specs import get_spec
from ttc.tokenizer import build_tokenizer

BYTES = 4  # fp32


def matmul_gflops(threads: int, size: int = 1024, seconds: float = 1.0) -> float:
    """fp32 matmul throughput on ``threads`` threads (GFLOP/s)."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * size**3 * count / (time.perf_counter() - start) / 1e9


def copy_gbytes(megabytes: int = 256, repeats: int = 10) -> float:
    """Memory bandwidth of a large copy (GB/s, bytes read plus bytes written), one thread."""
    torch.set_num_threads(1)
    src = torch.empty(megabytes * 2**20 // BYTES)
    dst = torch.empty_like(src)
    dst.copy_(src)
    start = time.perf_counter()
    for _ in range(repeats):
        dst.copy_(src)
    return 2 * src.numel() * BYTES * repeats / (time.perf_counter() - start) / 1e9


def decode_step_cost(model, rows: int, context: int) -> tuple[float, float]:
    """FLOPs and bytes of one decode step of ``rows`` rows whose cache holds ``context``
    positions: weights read once, each layer's keys and values read (context) and written
    (one position), the logits written."""
    config = model.config
    d, layers, vocab = config.hidden_size, config.num_hidden_layers, config.vocab_size
    weights = sum(p.numel() for p in model.parameters())
    linear = sum(p.numel() for n, p in model.named_parameters()
                 if p.dim() == 2 and "embed_tokens" not in n)  # matmul weights, lm_head too
    flops = rows * (2 * linear + layers * 4 * context * d)  # projections + q·K and p·V
    kv = rows * layers * 2 * d * (context + 1)  # read context, write one position
    return flops, BYTES * (weights + kv + rows * vocab)


def time_lean(model, rows: int, prompt: int, steps: int) -> float:
    """Seconds per decode step of the project's sampler (after ``steps`` warm-up steps)."""
    ids = torch.randint(4, model.config.vocab_size, (rows, prompt))
    decoder = lean_llama.LeanLlamaDecoder(model, ids, torch.ones_like(ids), 2 * steps)
    logits = decoder.prefill(ids)
    for _ in range(steps // 2):  # to mid-generation, as the timed steps are
        logits = decoder.step(torch.multinomial(torch.softmax(logits, -1), 1).squeeze(-1))
    start = time.perf_counter()
    for _ in range(steps):
        logits = decoder.step(torch.multinomial(torch.softmax(logits, -1), 1).squeeze(-1))
    return (time.perf_counter() - start) / steps


def time_naive(model, problems: int, samples: int, prompt: int, steps: int) -> float:
    """Seconds per decode step of ``model.generate`` called once per problem with
    ``num_return_sequences=samples`` (prefill included, as a user of ``generate`` pays it)."""
    total = 0.0
    for _ in range(problems):
        ids = torch.randint(4, model.config.vocab_size, (1, prompt))
        start = time.perf_counter()
        model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True,
                       top_k=0, num_return_sequences=samples, min_new_tokens=steps,
                       max_new_tokens=steps, pad_token_id=0, eos_token_id=2)
        total += time.perf_counter() - start
    return total / steps


def time_training(model, batch: int, block: int, steps: int = 5) -> tuple[float, float]:
    """(seconds per step, FLOPs per step) of AdamW training on (batch, block) tokens."""
    non_embedding = sum(p.numel() for n, p in model.named_parameters()
                        if "embed_tokens" not in n and "lm_head" not in n)
    config = model.config
    # 6·N per token, plus the attention scores and weighted sums (forward 4·T·d per token
    # per layer, causal half, times 3 for the backward pass), plus the output projection
    flops = batch * block * (6 * non_embedding + 3 * 2 * config.num_hidden_layers * block
                             * config.hidden_size + 6 * config.hidden_size * config.vocab_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ids = torch.randint(4, config.vocab_size, (batch, block))
    model.train()
    for index in range(steps + 2):
        if index == 2:
            start = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.eval()
    return (time.perf_counter() - start) / steps, flops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", default="f32x2,f48x2,f64x3,f96x3,f128x4")
    parser.add_argument("--rows", type=int, default=512, help="the book's sampling batch")
    parser.add_argument("--samples", type=int, default=64, help="naive: samples per problem")
    parser.add_argument("--prompt", type=int, default=20, help="prompt tokens")
    parser.add_argument("--steps", type=int, default=40, help="timed decode steps")
    args = parser.parse_args()
    members = [get_spec(name) for name in args.members.split(",")]
    tokenizer = build_tokenizer()

    peak2 = matmul_gflops(2)
    peak = matmul_gflops(1)
    bandwidth = copy_gbytes()
    torch.set_num_threads(1)
    print(f"machine: fp32 matmul {peak:.0f} GFLOP/s on one thread ({peak2:.0f} on two); "
          f"copy bandwidth {bandwidth:.1f} GB/s on one thread\n")
    context = args.prompt + args.steps  # the cache length at the middle of the timed steps
    print(f"decoding: {args.rows} rows, context {context}, one thread\n")
    print("| member | N | FLOPs/step | bytes/step | roofline bound | ttc sampler | share of "
          "bound | naive `generate` | ttc vs naive |")
    print("|---|---|---|---|---|---|---|---|---|")
    train_rows = []
    for spec in members:
        torch.manual_seed(0)
        model = LlamaForCausalLM(spec.llama_config(len(tokenizer), 256)).eval()
        flops, moved = decode_step_cost(model, args.rows, context)
        bound = max(flops / (peak * 1e9), moved / (bandwidth * 1e9))
        lean = time_lean(model, args.rows, args.prompt, args.steps)
        naive = time_naive(model, max(1, args.rows // args.samples), args.samples,
                           args.prompt, 2 * args.steps)
        n = sum(p.numel() for name, p in model.named_parameters()
                if "embed_tokens" not in name and "lm_head" not in name)
        print(f"| {spec.name} | {n:,} | {flops / 1e9:.2f} G | {moved / 1e6:.0f} MB | "
              f"{bound * 1e3:.1f} ms | {lean * 1e3:.1f} ms | {bound / lean:.0%} | "
              f"{naive * 1e3:.1f} ms | {naive / lean:.1f}x |", flush=True)
        model = LlamaForCausalLM(spec.llama_config(len(tokenizer), 128))
        seconds, train_flops = time_training(model, 16, 128)
        train_rows.append((spec.name, train_flops, seconds))
    print("\ntraining: batch 16 x 128 tokens, AdamW, one thread\n")
    print("| member | FLOPs/step | ms/step | GFLOP/s | share of matmul peak |")
    print("|---|---|---|---|---|")
    for name, train_flops, seconds in train_rows:
        rate = train_flops / seconds / 1e9
        print(f"| {name} | {train_flops / 1e9:.1f} G | {seconds * 1e3:.0f} | {rate:.0f} | "
              f"{rate / peak:.0%} |")


if __name__ == "__main__":
    main()
