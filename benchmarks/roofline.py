"""A roofline for decoding and training the family on this machine, measured in one run.

For each family member at the book's sampling batch it counts the FLOPs and the bytes a decode
step must move (weights, the key/value cache read and written, logits), turns them into the
step time this machine's measured matmul throughput and memory bandwidth allow, and times

* the project's decoders: :class:`ttc.lean_llama.LeanLlamaDecoder` (one key/value buffer per
  row), :class:`ttc.lean_llama.SharedPromptDecoder` (each distinct prompt's keys and values
  stored once, whose bound counts the prompt's cache once per prompt) and
  :class:`ttc.fused_decode.FusedSharedDecoder` (the same sharing with the step between the
  matmuls compiled: what ``ttc.sampling`` runs for the book's 128 samples per problem), and
* naive decoding with ``model.generate(num_return_sequences=...)`` per problem,

on the same rows, context and number of steps (random weights: the time of a step does not
depend on them; every row decodes the same number of steps, so no row finishes early).
``--breakdown`` also profiles ten steps of the shared decoder per member and splits their time
into linear layers, attention products, softmax, other element-wise work and copies/indexing.
For training it reports FLOPs per step (6·N per token plus attention) and the share of the
matmul peak reached. Everything runs on one thread, the way the book's worker processes run
(:mod:`ttc.parallel`), with the two-thread matmul peak shown for reference.

This machine's speed moves within minutes (one run measured f128x4's compiled step at 28 ms and
naive ``generate`` at 84 ms, the next at 32 and 69), so a ratio of two times measured minutes
apart says little. ``--repeats K`` (default 3) measures the one-thread peak, the compiled step,
naive ``generate`` and a training step K times per member, interleaved, and reports medians,
with the range of the per-repeat compiled-vs-naive ratios.

    .venv/bin/python benchmarks/roofline.py [--members f32x2,f128x4] [--steps 40] [--repeats 3]
        [--breakdown]

Prints a Markdown table to paste into docs/benchmarks.md. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from transformers import LlamaForCausalLM

from ttc import fused_decode, lean_llama
from ttc.family.specs import get_spec
from ttc.fused_train import training_loss
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


def decode_step_cost(model, rows: int, context: int, per_prompt: int = 1,
                     prompt: int = 0) -> tuple[float, float]:
    """FLOPs and bytes of one decode step of ``rows`` rows whose cache holds ``context``
    positions: weights read once, each layer's keys and values read (context) and written
    (one position), the logits written. With ``per_prompt`` > 1 rows sharing each prompt of
    ``prompt`` positions, the prompt's keys and values are read once per prompt."""
    config = model.config
    d, layers, vocab = config.hidden_size, config.num_hidden_layers, config.vocab_size
    kv_width = config.num_key_value_heads * (getattr(config, "head_dim", None)
                                             or d // config.num_attention_heads)
    weights = sum(p.numel() for p in model.parameters())
    linear = sum(p.numel() for n, p in model.named_parameters()
                 if p.dim() == 2 and "embed_tokens" not in n)  # matmul weights, lm_head too
    flops = rows * (2 * linear + layers * 4 * context * d)  # projections + q·K and p·V
    shared = prompt if per_prompt > 1 else 0
    prompts = -(-rows // per_prompt)
    kv = layers * 2 * kv_width * (rows * (context - shared + 1) + prompts * shared)
    return flops, BYTES * (weights + kv + rows * vocab)


def _decoder(model, decoder_cls, rows: int, per_prompt: int, prompt: int, steps: int):
    """A decoder of ``decoder_cls`` prefilled with random prompts, ``per_prompt`` rows each,
    and advanced ``steps // 2`` steps (to mid-generation, as the timed steps are); and its
    logits."""
    distinct = torch.randint(4, model.config.vocab_size, (-(-rows // per_prompt), prompt))
    ids = distinct.repeat_interleave(per_prompt, dim=0)[:rows]
    decoder = decoder_cls(model, ids, torch.ones_like(ids), 2 * steps + 10)
    logits = decoder.prefill(ids)
    for _ in range(steps // 2):
        logits = decoder.step(torch.multinomial(torch.softmax(logits, -1), 1).squeeze(-1))
    return decoder, logits


def time_decoder(model, decoder_cls, rows: int, per_prompt: int, prompt: int,
                 steps: int) -> float:
    """Seconds per decode step of one of the project's decoders, sampling as the book does."""
    decoder, logits = _decoder(model, decoder_cls, rows, per_prompt, prompt, steps)
    start = time.perf_counter()
    for _ in range(steps):
        logits = decoder.step(torch.multinomial(torch.softmax(logits, -1), 1).squeeze(-1))
    return (time.perf_counter() - start) / steps


#: profiler operator names by what they do in a decoding step
KINDS = {"aten::mm": "linear layers", "aten::addmm": "linear layers",
         "aten::bmm": "attention products", "aten::_softmax": "softmax",
         "aten::copy_": "copies and indexing", "aten::index": "copies and indexing",
         "aten::_index_put_impl_": "copies and indexing", "aten::cat": "copies and indexing",
         "aten::index_select": "copies and indexing", "aten::masked_fill_": "softmax",
         "aten::mul": "element-wise", "aten::add": "element-wise", "aten::silu": "element-wise",
         "aten::pow": "element-wise", "aten::mean": "element-wise", "aten::rsqrt": "element-wise",
         "aten::neg": "element-wise", "aten::embedding": "copies and indexing"}


def step_breakdown(model, rows: int, per_prompt: int, prompt: int, steps: int) -> dict:
    """Share of ten profiled steps of the shared-prompt decoder spent in each kind of work
    (:data:`KINDS`; anything else, e.g. views, sampling and Python, is "other")."""
    from torch.profiler import ProfilerActivity, profile

    decoder, logits = _decoder(model, lean_llama.SharedPromptDecoder, rows, per_prompt,
                               prompt, steps)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(10):
            logits = decoder.step(torch.multinomial(torch.softmax(logits, -1), 1).squeeze(-1))
        wall = time.perf_counter() - start
    shares: dict[str, float] = {}
    for event in prof.key_averages():
        kind = KINDS.get(event.key)
        if kind:
            shares[kind] = shares.get(kind, 0.0) + event.self_cpu_time_total / 1e6
    shares = {kind: seconds / wall for kind, seconds in shares.items()}
    shares["other"] = max(0.0, 1 - sum(shares.values()))
    return shares


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


def time_training(model, batch: int, block: int, steps: int = 5,
                  kernels: str = "eager") -> tuple[float, float]:
    """(seconds per step, FLOPs per step) of AdamW training on (batch, block) tokens, with
    torch's kernels (``eager``) or :func:`ttc.fused_train.training_loss` (``fused``)."""
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
        if kernels == "fused":
            loss = training_loss(model, ids, ids)
        else:
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
    parser.add_argument("--samples", type=int, default=128,
                        help="samples per problem (the book's chapter 3: 128)")
    parser.add_argument("--prompt", type=int, default=20, help="prompt tokens")
    parser.add_argument("--steps", type=int, default=40, help="timed decode steps")
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved measurements of the peak, the compiled step, naive "
                             "generate and training per member; medians are reported")
    parser.add_argument("--breakdown", action="store_true",
                        help="also profile where a step of the shared decoder spends its time")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    members = [get_spec(name) for name in args.members.split(",")]
    tokenizer = build_tokenizer()

    peak2 = matmul_gflops(2)
    peak = matmul_gflops(1)
    bandwidth = copy_gbytes()
    torch.set_num_threads(1)
    print(f"machine: fp32 matmul {peak:.0f} GFLOP/s on one thread ({peak2:.0f} on two); "
          f"copy bandwidth {bandwidth:.1f} GB/s on one thread; each member's bound uses the "
          f"median of {args.repeats} one-thread peaks measured beside its timings\n")
    context = args.prompt + args.steps  # the cache length at the middle of the timed steps
    print(f"decoding: {args.rows} rows, {args.samples} per prompt of {args.prompt} tokens, "
          f"context {context}, one thread; each decoder's bound counts the bytes it must move"
          " (the shared one reads a prompt's cache once per prompt)\n")
    print("| member | N | FLOPs/step | bytes/step, per row / shared | bound, per row / shared |"
          " per-row decoder | share of bound | shared decoder, eager | share of bound | "
          "shared decoder, compiled (the book's) | share of bound | naive `generate` | "
          "compiled vs naive | per repeat |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    train_rows, breakdowns = [], []
    for spec in members:
        torch.manual_seed(0)
        model = LlamaForCausalLM(spec.llama_config(len(tokenizer), 256)).eval()
        flops, moved = decode_step_cost(model, args.rows, context)
        _, moved_shared = decode_step_cost(model, args.rows, context, args.samples, args.prompt)
        lean = time_decoder(model, lean_llama.LeanLlamaDecoder, args.rows, args.samples,
                            args.prompt, args.steps)
        shared = time_decoder(model, lean_llama.SharedPromptDecoder, args.rows, args.samples,
                              args.prompt, args.steps)
        heads = model.config.num_attention_heads
        fused_decode.attention_kernels(heads, model.config.hidden_size // heads)  # untimed
        peaks, fused_times, naive_times = [], [], []
        for _ in range(args.repeats):  # interleaved, so that a drift of the machine hits both
            peaks.append(matmul_gflops(1, seconds=0.5))
            torch.set_num_threads(1)
            fused_times.append(time_decoder(model, fused_decode.FusedSharedDecoder, args.rows,
                                            args.samples, args.prompt, args.steps))
            naive_times.append(time_naive(model, max(1, args.rows // args.samples),
                                          args.samples, args.prompt, 2 * args.steps))
        peak_here = statistics.median(peaks)
        fused, naive = statistics.median(fused_times), statistics.median(naive_times)
        ratios = [b / a for a, b in zip(fused_times, naive_times, strict=True)]
        bound = max(flops / (peak_here * 1e9), moved / (bandwidth * 1e9))
        bound_shared = max(flops / (peak_here * 1e9), moved_shared / (bandwidth * 1e9))
        n = sum(p.numel() for name, p in model.named_parameters()
                if "embed_tokens" not in name and "lm_head" not in name)
        print(f"| {spec.name} | {n:,} | {flops / 1e9:.2f} G | {moved / 1e6:.0f} / "
              f"{moved_shared / 1e6:.0f} MB | {bound * 1e3:.1f} / {bound_shared * 1e3:.1f} ms | "
              f"{lean * 1e3:.1f} ms | {bound / lean:.0%} | {shared * 1e3:.1f} ms | "
              f"{bound_shared / shared:.0%} | {fused * 1e3:.1f} ms | {bound_shared / fused:.0%} | "
              f"{naive * 1e3:.1f} ms | {naive / fused:.1f}x | "
              f"{min(ratios):.1f}-{max(ratios):.1f}x |", flush=True)
        if args.breakdown:
            breakdowns.append((spec.name, step_breakdown(model, args.rows, args.samples,
                                                         args.prompt, args.steps)))
        model = LlamaForCausalLM(spec.llama_config(len(tokenizer), 128))
        time_training(model, 2, 16, steps=1, kernels="fused")  # compile, untimed
        eager, fused = [], []
        for _ in range(args.repeats):  # interleaved
            eager.append(time_training(model, 16, 128))
            fused.append(time_training(model, 16, 128, kernels="fused"))
        train_rows.append((spec.name, eager[0][1], statistics.median(t for t, _ in eager),
                           statistics.median(t for t, _ in fused), peak_here))
    if breakdowns:
        kinds = ["linear layers", "attention products", "softmax", "element-wise",
                 "copies and indexing", "other"]
        print("\nwhere a step of the shared decoder goes (ten profiled steps, share of wall "
              "time)\n")
        print("| member | " + " | ".join(kinds) + " |")
        print("|---|" + "---|" * len(kinds))
        for name, shares in breakdowns:
            print(f"| {name} | " + " | ".join(f"{shares.get(k, 0.0):.0%}" for k in kinds) + " |")
    print("\ntraining: batch 16 x 128 tokens, AdamW, one thread (median step of "
          f"{args.repeats} interleaved runs each; the member's median one-thread peak); eager "
          "is torch's kernels, fused ttc.fused_train's (the book's)\n")
    print("| member | FLOPs/step | one-thread peak | eager ms/step | share of matmul peak | "
          "fused ms/step | share of matmul peak | fused vs eager |")
    print("|---|---|---|---|---|---|---|---|")
    for name, train_flops, eager_s, fused_s, peak_here in train_rows:
        share = [train_flops / s / 1e9 / peak_here for s in (eager_s, fused_s)]
        print(f"| {name} | {train_flops / 1e9:.1f} G | {peak_here:.0f} GFLOP/s | "
              f"{eager_s * 1e3:.0f} | {share[0]:.0%} | {fused_s * 1e3:.0f} | {share[1]:.0%} | "
              f"{eager_s / fused_s:.2f}x |")


if __name__ == "__main__":
    main()
