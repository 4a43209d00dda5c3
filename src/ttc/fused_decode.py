"""A decoding step for the family on CPU with everything between the matmuls compiled.

:class:`ttc.lean_llama.SharedPromptDecoder` spends most of a step outside its matmuls: about a
hundred small torch kernels per step, and attention as batched products of thousands of
1 × 16 × T matrices whose cost is per matrix, not per byte (docs/benchmarks.md, "Speed, fifth
round"). :class:`FusedSharedDecoder` keeps the linear layers as torch matmuls (MKL, at this
machine's matmul peak) and the softmax in torch (its vectorised ``exp``), and runs the rest as
numba loops, per layer (the sampler gets it from :func:`decoder_for`):

* RMSNorm, one pass over the rows;
* the rotary embedding of the new query and key, the append to the row's cache, and the
  scores against the row's prompt's cache and its own;
* the probabilities times the values.

The attention loops are written out for the model's head count and head size
(:func:`kernel_source`): the cache is stored *dim-major*, ``(Dh, H)`` per position, and each
score is written as one scalar sum per head, so that LLVM's straight-line vectoriser packs
the heads into vector registers. (As loops over arrays the sums went through memory and
stayed scalar, because numba's arrays may alias: 5 GB/s where a decode step's cache reads at
20-40 GB/s.) numba leaves that vectoriser off by default; :func:`attention_kernels` turns it
on for these two functions only. No reassociation is allowed, so every sum runs in the order
written.

numba ships its own LLVM, so no system compiler is needed. The compiled kernels are cached
on disk (:func:`kernel_module`): the first use of a shape on a machine compiles for a few
seconds (more heads, longer), later ones load in well under a second.

Same model, not the same rounding as :class:`SharedPromptDecoder` (logits agree to about
5e-7): sampled tokens can differ where two tokens' cumulative probabilities straddle the
draw, so samples carry the decoder's name in their cache key (:mod:`ttc.sampling`).
``TTC_FUSED_DECODE=0`` turns the fused step off (:func:`enabled`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
import os
import sys
from pathlib import Path

import numpy as np
import torch

from ttc.lean_llama import SharedPromptDecoder, compiled_loops_fit
from ttc.lean_llama import decoder_for as lean_decoder_for

ENV_VAR = "TTC_FUSED_DECODE"
#: bump when the generated source changes in a way its text does not show (it is hashed)
KERNEL_VERSION = 2
#: the samples' cache-key name of this step (:mod:`ttc.sampling`): change it whenever the
#: step's rounding changes, so that a warm cache never mixes samples of two versions
SAMPLE_KEY = "lean-fused-3"
#: numba's fast-math flags for the attention loops: no reassociation (``reassoc``), so sums
#: keep their written order; ``contract`` allows fused multiply-adds
FASTMATH = {"nsz", "arcp", "contract", "afn"}
#: the widest attention (heads x head size) whose loops are generated: the family's widest
#: is 128 (8 heads of 16), whose kernels compile in about 10 s; a hub model's 4,096 would
#: not compile in useful time, so it keeps the eager step
MAX_WIDTH = 256


def enabled() -> bool:
    """Whether the fused step may be used: numba importable and ``$TTC_FUSED_DECODE`` not
    ``0``."""
    if os.environ.get(ENV_VAR, "").strip() == "0":
        return False
    return importlib.util.find_spec("numba") is not None


def supports(model: torch.nn.Module) -> bool:
    """True when :class:`FusedSharedDecoder` can run ``model``: what the compiled loops fit
    (:func:`ttc.lean_llama.compiled_loops_fit`) with at most :data:`MAX_WIDTH` attention
    channels (every family member), and :func:`enabled`."""
    if not enabled() or not compiled_loops_fit(model):
        return False
    config = model.config
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return config.num_attention_heads * head_dim <= MAX_WIDTH


def kernel_source(n_heads: int, head_dim: int) -> str:
    """Python source of the two attention loops for ``n_heads`` heads of size ``head_dim``.

    ``scores_kernel(qkv (B, 3, Dh, H), cos, sin (B, Dh/2), keys, values (B, T, Dh, H),
    length, prompt_keys (G, P, Dh, H), prompt_bias (G, P), group (B,), scores (B, H, P +
    length + 1))`` rotates each row's new query (scaled by 1/sqrt(Dh)) and key as the
    model's rotary embedding does (pairs ``i`` and ``i + Dh/2``), writes the key and value at
    position ``length`` of the row's cache, and the row's scores against its prompt's keys
    (plus the padding bias, 0 or -inf) and its own keys 0..length.

    ``weighted_kernel(probs (B, H, P + length + 1), values, length, prompt_values, group,
    out (B, Dh, H))`` sums the prompt's and the row's values weighted by the probabilities.

    Both keep one scalar per head (the weighted sum also one per dimension, written out),
    so that LLVM packs the heads into vector registers; the scores of a row are first stored
    by position, (positions, H), because the vectoriser starts from consecutive stores, and
    transposed at the end of the row for the softmax.
    """
    heads, dims, half = range(n_heads), range(head_dim), head_dim // 2
    scale = 1.0 / math.sqrt(head_dim)
    decorator = "@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)"

    lines = [
        f'"""Attention loops for {n_heads} heads of size {head_dim}, generated by',
        'ttc.fused_decode.kernel_source; do not edit."""',
        "import numba",
        "import numpy as np",
        "",
        f"FASTMATH = set({sorted(FASTMATH)!r})",
        "",
        "",
        decorator,
        "def scores_kernel(qkv, cos, sin, keys, values, length, prompt_keys, prompt_bias,",
        "                  group, scores):",
        "    width = prompt_keys.shape[1]",
        f"    scale = np.float32({scale!r})",
        f"    query = np.empty(({head_dim}, {n_heads}), dtype=np.float32)",
        f"    by_position = np.empty((width + length + 1, {n_heads}), dtype=np.float32)",
        "    for b in range(qkv.shape[0]):",
        "        g = group[b]",
        "        row = qkv[b]",
        "        new_key = keys[b, length]",
        f"        for i in range({half}):",
        "            c, s = cos[b, i], sin[b, i]",
        f"            for h in range({n_heads}):",
        f"                q0, q1 = row[0, i, h], row[0, i + {half}, h]",
        "                query[i, h] = (q0 * c - q1 * s) * scale",
        f"                query[i + {half}, h] = (q1 * c + q0 * s) * scale",
        f"                k0, k1 = row[1, i, h], row[1, i + {half}, h]",
        "                new_key[i, h] = k0 * c - k1 * s",
        f"                new_key[i + {half}, h] = k1 * c + k0 * s",
        "        values[b, length, :, :] = row[2]",
    ]
    # one scalar sum per head, over a loop of the head's dimensions: the loop's body is one
    # vector multiply-add of all heads (written out over the dimensions too, the kernel
    # compiled 3.5x longer and ran 20% slower)
    for source, count, offset, bias in (("prompt_keys[g, p]", "width", "", " + prompt_bias[g, p]"),
                                         ("keys[b, p]", "length + 1", "width + ", "")):
        lines += [
            f"        for p in range({count}):",
            f"            key = {source}",
        ]
        lines += [f"            s{h} = np.float32(0.0)" for h in heads]
        lines += [f"            for d in range({head_dim}):"]
        lines += [f"                s{h} += query[d, {h}] * key[d, {h}]" for h in heads]
        lines += [f"            by_position[{offset}p, {h}] = s{h}{bias}" for h in heads]
    lines += [
        "        out = scores[b]",
        "        for j in range(width + length + 1):",
    ]
    lines += [f"            out[{h}, j] = by_position[j, {h}]" for h in heads]
    lines += [
        "",
        "",
        decorator,
        "def weighted_kernel(probs, values, length, prompt_values, group, out):",
        "    width = prompt_values.shape[1]",
        "    for b in range(out.shape[0]):",
        "        g = group[b]",
        "        weight = probs[b]",
    ]
    lines += [f"        a{d}_{h} = np.float32(0.0)" for d in dims for h in heads]
    for source, count, offset in (("prompt_values[g, p]", "width", ""),
                                  ("values[b, p]", "length + 1", "width + ")):
        lines += [
            f"        for p in range({count}):",
            f"            value = {source}",
        ]
        lines += [f"            w{h} = weight[{h}, {offset}p]" for h in heads]
        lines += [f"            a{d}_{h} += w{h} * value[{d}, {h}]" for d in dims for h in heads]
    lines += [f"        out[b, {d}, {h}] = a{d}_{h}" for d in dims for h in heads]
    return "\n".join(lines) + "\n"


def _signatures():
    """The two kernels' argument types (compiled eagerly, so that the vectoriser setting
    applies to their compilation)."""
    import numba

    f4, i8 = numba.float32, numba.int64
    array4, array3, array2 = f4[:, :, :, ::1], f4[:, :, ::1], f4[:, ::1]
    return {
        "scores_kernel": (array4, array2, array2, array4, array4, i8, array4, array2, i8[::1],
                          array3),
        "weighted_kernel": (array3, array4, i8, array4, i8[::1], array3),
    }


def kernel_module(n_heads: int, head_dim: int) -> Path:
    """The generated kernels' source file in the cache (``<cache>/kernels/``), written once,
    atomically: numba caches the compiled code next to it, keyed by the file, so it must not
    change once written (its name carries a hash of its text)."""
    from ttc.cache import atomic_file, cache_root

    source = kernel_source(n_heads, head_dim)
    digest = hashlib.sha256(f"{KERNEL_VERSION}\n{source}".encode()).hexdigest()[:12]
    path = cache_root() / "kernels" / f"attention_h{n_heads}_d{head_dim}_{digest}.py"
    if not path.is_file():
        with atomic_file(path) as tmp:
            tmp.write_text(source)
    return path


@functools.cache
def attention_kernels(n_heads: int, head_dim: int) -> tuple:
    """``(scores_kernel, weighted_kernel)`` (:func:`kernel_source`) compiled for this shape,
    loaded from numba's on-disk cache when a previous process compiled them."""
    import numba

    path = kernel_module(n_heads, head_dim)
    name = f"ttc_kernels_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    signatures = _signatures()
    slp, numba.config.SLP_VECTORIZE = numba.config.SLP_VECTORIZE, 1
    try:
        kernels = tuple(getattr(module, kernel) for kernel in ("scores_kernel",
                                                               "weighted_kernel"))
        for kernel in kernels:
            kernel.compile(signatures[kernel.py_func.__name__])
    finally:
        numba.config.SLP_VECTORIZE = slp
    return kernels


@functools.cache
def _row_loops() -> tuple:
    """The step's two shape-independent loops, compiled on first use: RMSNorm and the
    gather of kept rows (see :func:`rms_norm` and :func:`gather_rows`)."""
    import numba

    @numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
    def norm(x, weight, eps, out):  # pragma: no cover - compiled
        rows, width = x.shape
        # four rows' sums of squares at once: each is still one chain in column order (the
        # same rounding as one row at a time), but four independent chains hide the adds'
        # latency, which bounds a single chain (three times faster at the family's width)
        whole = rows - rows % 4
        for b in range(0, whole, 4):
            t0, t1 = np.float32(0.0), np.float32(0.0)
            t2, t3 = np.float32(0.0), np.float32(0.0)
            for c in range(width):
                v0, v1, v2, v3 = x[b, c], x[b + 1, c], x[b + 2, c], x[b + 3, c]
                t0 += v0 * v0
                t1 += v1 * v1
                t2 += v2 * v2
                t3 += v3 * v3
            for r, total in ((0, t0), (1, t1), (2, t2), (3, t3)):
                scale = np.float32(1.0) / np.sqrt(total / np.float32(width) + eps)
                for c in range(width):
                    out[b + r, c] = weight[c] * (x[b + r, c] * scale)
        for b in range(whole, rows):
            total = np.float32(0.0)
            for c in range(width):
                total += x[b, c] * x[b, c]
            scale = np.float32(1.0) / np.sqrt(total / np.float32(width) + eps)
            for c in range(width):
                out[b, c] = weight[c] * (x[b, c] * scale)

    @numba.njit(cache=True, nogil=True)
    def gather(source, rows, filled, out, in_place):  # pragma: no cover - compiled
        for i in range(rows.shape[0]):
            if rows[i] != i or not in_place:
                out[i, :filled] = source[rows[i], :filled]

    return norm, gather


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float, out: np.ndarray) -> None:
    """``out = weight * x / sqrt(mean(x**2) + eps)`` row by row, as Llama's RMSNorm in
    float32; x, out (B, C)."""
    _row_loops()[0](x, weight, np.float32(eps), out)


def gather_rows(source: np.ndarray, rows: np.ndarray, filled: int, out: np.ndarray,
                in_place: bool = False) -> None:
    """``out[i, :filled] = source[rows[i], :filled]`` for caches (B, T, ...), in order of
    i, so ``out`` may be ``source`` itself (``in_place``) when ``rows`` is increasing. Each
    row's filled positions are one contiguous block (numpy's ``take`` on the strided slice
    was five times slower)."""
    _row_loops()[1](source, rows, filled, out, in_place)


def keeps_in_place(rows: np.ndarray) -> bool:
    """Whether :func:`gather_rows` may keep ``rows`` of a cache in place, in one pass in
    order: every row that moves (``rows[i] != i``) reads a source that is not overwritten,
    either a row that stays where it is (``rows[j] == j``) or one past the new end. The
    sampler asks for such rows when its states fork and die (:func:`ttc.sampling`), so that
    a step copies only the rows that fork or move into a hole, not everything after a hole.
    An increasing selection (``rows[i] >= i``) is kept in place by :func:`gather_rows`'s
    order anyway."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) < 2 or bool(np.all(np.diff(rows) > 0)):
        return True
    moved = rows[rows != np.arange(len(rows))]
    inside = moved[moved < len(rows)]
    return bool(np.all(rows[inside] == inside))


def decoder_for(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor,
                max_new_tokens: int):
    """:func:`ttc.lean_llama.decoder_for` with :class:`FusedSharedDecoder` for batches that
    share their prompts, where it runs (:func:`supports`): the sampler's decoder."""
    return lean_decoder_for(model, ids, mask, max_new_tokens,
                            shared=FusedSharedDecoder if supports(model) else None)


class FusedSharedDecoder(SharedPromptDecoder):
    """:class:`SharedPromptDecoder` whose decoding step runs the linear layers as torch
    matmuls and the norms, rotary embedding and attention as compiled loops (see the module
    docstring). Prefill is the parent's; the prompts' keys and values are then copied once
    into dim-major arrays. The q/k/v projection's output columns and the output projection's
    input rows are permuted once, so that the matmuls produce and read the dim-major order.
    Needs :func:`supports`.

    A row's step depends on its own inputs only (with at least
    :data:`ttc.sampling.MIN_STEP_ROWS` rows), and :meth:`keep_rows` may repeat rows, so the
    sampler steps each distinct history once (``forks_rows``)."""

    #: :func:`ttc.sampling._decode_states` may merge rows with equal histories
    forks_rows = True

    def __init__(self, model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor,
                 max_new_tokens: int):
        if not supports(model):
            raise ValueError("FusedSharedDecoder needs a float32 plain Llama on CPU with as "
                             "many key heads as query heads, and numba")
        super().__init__(model, ids, mask, max_new_tokens)
        heads, dim = self.n_heads, self.head_dim
        self.kernels = attention_kernels(heads, dim)
        # head-major index h * Dh + d of each dim-major position d * H + h
        dim_major = torch.arange(heads * dim).view(heads, dim).t().reshape(-1)
        self.weights = []
        with torch.no_grad():
            for layer in self.inner.layers:
                attn, mlp = layer.self_attn, layer.mlp
                qkv = torch.cat([attn.q_proj.weight[dim_major], attn.k_proj.weight[dim_major],
                                 attn.v_proj.weight[dim_major]])  # (3 Dh H, C)
                self.weights.append((
                    layer.input_layernorm.weight.detach().numpy(),
                    layer.input_layernorm.variance_epsilon,
                    qkv.detach().t().contiguous(),  # (C, 3 Dh H)
                    attn.o_proj.weight.detach()[:, dim_major].t(),  # (Dh H, C)
                    layer.post_attention_layernorm.weight.detach().numpy(),
                    layer.post_attention_layernorm.variance_epsilon,
                    mlp.gate_proj.weight.detach().t(),  # (C, I)
                    mlp.up_proj.weight.detach().t(),
                    mlp.down_proj.weight.detach().t(),  # (I, C)
                ))
            self.final = (self.inner.norm.weight.detach().numpy(),
                          self.inner.norm.variance_epsilon)
            self.head = self.model.lm_head.weight.detach().t()  # (C, V)
        self.inv_freq = self.inner.rotary_emb.inv_freq.detach().float()  # (Dh/2,)
        self._buffers_for = -1
        self.dm_prompt_keys, self.dm_prompt_values = [], []  # from prefill
        self.bias = torch.zeros(self.prompt_valid.shape).masked_fill(
            ~self.prompt_valid, float("-inf")).numpy()  # (G, P): the prompts' padding

    def _allocate_own(self, batch: int, max_new_tokens: int, device) -> None:
        """The generated tokens' keys and values, (B, T_new, Dh, H) per layer (dim-major),
        in buffers of the first batch's rows that later batches are views of."""
        shape = (batch, max_new_tokens, self.head_dim, self.n_heads)
        self.own_base = [(np.zeros(shape, np.float32), np.zeros(shape, np.float32))
                         for _ in self.inner.layers]
        self.own_keys = [k for k, _ in self.own_base]
        self.own_values = [v for _, v in self.own_base]

    def _keep_own(self, rows: torch.Tensor) -> None:
        """Keep the rows' filled positions only, rows repeated where a state forks
        (:meth:`keep_rows`). In place when :func:`keeps_in_place` allows it (a copy of the
        whole buffers into fresh memory took an eighth of a sampling run), else into fresh
        buffers; the positions after the filled ones are never read before being written."""
        index, filled = np.ascontiguousarray(rows.numpy()), self.generated
        capacity = self.own_base[0][0].shape[0]
        if len(index) > capacity:
            raise ValueError(f"keep_rows: {len(index)} rows, but the caches hold {capacity}")
        in_place = keeps_in_place(index)

        def keep(base: np.ndarray, current: np.ndarray) -> np.ndarray:
            if in_place:
                gather_rows(base, index, filled, base, True)
                return base
            fresh = np.empty_like(base)
            gather_rows(current, index, filled, fresh, False)
            return fresh

        self.own_base = [(keep(k, ck), keep(v, cv)) for (k, v), ck, cv in
                         zip(self.own_base, self.own_keys, self.own_values, strict=True)]
        self.own_keys = [k[: len(index)] for k, _ in self.own_base]
        self.own_values = [v[: len(index)] for _, v in self.own_base]

    def _keep_prompts(self, alive: torch.Tensor) -> None:
        """The parent's, and the same prompts of the dim-major caches and the bias."""
        super()._keep_prompts(alive)
        kept = alive.numpy()
        self.dm_prompt_keys = [np.ascontiguousarray(k[kept]) for k in self.dm_prompt_keys]
        self.dm_prompt_values = [np.ascontiguousarray(v[kept]) for v in self.dm_prompt_values]
        self.bias = np.ascontiguousarray(self.bias[kept])

    def _regroup(self) -> None:
        """The rows' prompts as an array (the parent's blocks for its batched attention are
        not needed here; :meth:`keep_rows` calls this every sampling step)."""
        self.group_np = np.ascontiguousarray(self.group.numpy())

    @torch.no_grad()
    def prefill(self, ids: torch.Tensor) -> torch.Tensor:
        """The parent's prefill, then the prompts' caches as dim-major (G, P, Dh, H)
        arrays."""
        logits = super().prefill(ids)
        self.dm_prompt_keys = [k.permute(0, 2, 3, 1).contiguous().numpy()
                               for k in self.prompt_keys]
        self.dm_prompt_values = [v.permute(0, 2, 3, 1).contiguous().numpy()
                                 for v in self.prompt_values]
        return logits

    def _buffers(self, batch: int) -> None:
        """Per-step work buffers for the first batch's rows (allocated once; a step of
        ``batch`` rows uses their first ``batch`` rows), and the rotary table."""
        if self._buffers_for >= 0:
            return
        capacity = self.own_base[0][0].shape[0]
        width, inner = self.n_heads * self.head_dim, self.weights[0][6].shape[1]
        hidden = self.inner.embed_tokens.weight.shape[1]
        self.h_all = torch.empty(capacity, hidden)
        self.qkv_all = torch.empty(capacity, 3 * width)
        self.attn_out_all = torch.empty(capacity, width)
        self.gate_all = torch.empty(capacity, inner)
        self.up_all = torch.empty(capacity, inner)
        # scores and probabilities of every position a row can attend to, (B, H, P + T_new)
        positions = self.bias.shape[1] + self.own_keys[0].shape[1]
        self.score_buffer = torch.empty(capacity * self.n_heads * positions)
        self.prob_buffer = torch.empty(capacity * self.n_heads * positions)
        # cos and sin of every position a row can reach, computed once in one call whose
        # length is a multiple of 16 rows: torch computes a tensor's last few elements with
        # scalar code (another rounding than its vector code), so angles computed per step
        # would round by where a row sits in the batch; a table makes a row's step depend
        # on its own inputs only, which the sampler's merging of equal rows needs
        reach = int(self.prompt_positions.max()) + 2 + self.own_keys[0].shape[1]
        angles = torch.arange(-(-reach // 16) * 16).float()[:, None] * self.inv_freq
        self.cos_table = torch.cos(angles).numpy()  # (positions, Dh/2)
        self.sin_table = torch.sin(angles).numpy()
        self._buffers_for = capacity

    @torch.no_grad()
    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append one token per row (B,); return next-token logits (B, V)."""
        self.positions = self.positions + 1
        batch, heads, dim = tokens.shape[0], self.n_heads, self.head_dim
        self._buffers(batch)
        where = self.positions[:, 0].numpy()
        cos, sin = self.cos_table[where], self.sin_table[where]  # (B, Dh/2)
        x = self.inner.embed_tokens(tokens)  # (B, C)
        h, qkv, out = self.h_all[:batch], self.qkv_all[:batch], self.attn_out_all[:batch]
        gate, up = self.gate_all[:batch], self.up_all[:batch]
        h_np, x_np = h.numpy(), x.numpy()
        shape = (batch, heads, self.bias.shape[1] + self.generated + 1)
        scores = self.score_buffer[:math.prod(shape)].view(shape)
        probs = self.prob_buffer[:math.prod(shape)].view(shape)
        scores_kernel, weighted_kernel = self.kernels
        for index, (w_in, eps_in, qkv_w, o_w, w_post, eps_post, g_w, u_w, d_w) in enumerate(
                self.weights):
            rms_norm(x_np, w_in, eps_in, h_np)
            torch.mm(h, qkv_w, out=qkv)  # (B, 3 Dh H)
            scores_kernel(qkv.numpy().reshape(batch, 3, dim, heads), cos, sin,
                          self.own_keys[index], self.own_values[index], self.generated,
                          self.dm_prompt_keys[index], self.bias, self.group_np,
                          scores.numpy())
            torch.softmax(scores, dim=-1, out=probs)
            weighted_kernel(probs.numpy(), self.own_values[index], self.generated,
                            self.dm_prompt_values[index], self.group_np,
                            out.numpy().reshape(batch, dim, heads))
            x.addmm_(out, o_w)
            rms_norm(x_np, w_post, eps_post, h_np)
            torch.mm(h, g_w, out=gate)
            torch.mm(h, u_w, out=up)
            torch.nn.functional.silu(gate, inplace=True).mul_(up)
            x.addmm_(gate, d_w)
        rms_norm(x_np, self.final[0], self.final[1], h_np)
        self.generated += 1
        return h @ self.head  # (B, V)
