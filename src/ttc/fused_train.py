"""The family's training loss on CPU with the element-wise work compiled.

A training step of ``f128x4`` (batch 16 x 128, one thread) spends about half its time outside
the matmuls, and most of that in small torch kernels and their autograd bookkeeping: RMSNorm
is about ten kernels forward and backward, SwiGLU five, the rotary embedding eight, each
allocating a fresh tensor (docs/benchmarks.md, "Speed, tenth round"). :func:`training_loss`
computes the same loss as ``model(input_ids=..., labels=...).loss`` for a plain Llama
(:func:`supports`) with the linear layers, the attention (torch's fused causal kernel) and the
cross-entropy as torch operations, and three compiled operations written out with their
backward passes (numba loops, one pass over the data each way):

* :class:`RMSNormFunction`: ``w * x / sqrt(mean(x**2) + eps)`` per row;
* :class:`SwiGLUFunction`: ``silu(gate) * up`` (the sigmoid from torch, whose ``exp`` is
  vectorised; numba's is not);
* :class:`RotaryFunction`: the rotary embedding of queries and keys (pairs ``i`` and
  ``i + Dh/2``, as ``transformers``' ``apply_rotary_pos_emb``), written straight into the
  (B, H, T, Dh) layout the attention reads.

The model is unchanged: its weights get their gradients as usual and it is saved with
``save_pretrained``. The loss and gradients equal the eager ones up to rounding (tested in
float64 to 1e-10), not bit for bit: the sums run in another order. A family trained with
these kernels is therefore another draw of the same recipe, and its checkpoints carry the
kernels' name in their cache key (:func:`ttc.family.train.checkpoint_key`).
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np
import torch
import torch.nn.functional as F

from ttc.lean_llama import compiled_loops_fit

#: label id the loss skips (as ``transformers``)
IGNORE = -100


def supports(model: torch.nn.Module) -> bool:
    """True when :func:`training_loss` can train ``model``: what the compiled loops fit
    (:func:`ttc.lean_llama.compiled_loops_fit`), with its own output layer (the family's;
    a tied one would need the embedding's gradient from two places), and numba
    importable."""
    return (importlib.util.find_spec("numba") is not None and compiled_loops_fit(model)
            and not getattr(model.config, "tie_word_embeddings", False))


@functools.cache
def _kernels() -> dict:
    """The compiled loops (numba, cached on disk), compiled on first use per dtype."""
    import numba

    jit = numba.njit(cache=True, nogil=True, fastmath=True)

    @jit
    def norm_forward(x, weight, eps, out, rstd):  # pragma: no cover - compiled
        rows, width = x.shape
        for i in range(rows):
            total = 0.0
            for c in range(width):
                total += x[i, c] * x[i, c]
            rstd[i] = 1.0 / np.sqrt(total / width + eps)
            r = rstd[i]  # in the arrays' precision, so the loop below stays in it
            for c in range(width):
                out[i, c] = weight[c] * (x[i, c] * r)

    @jit
    def norm_backward(grad, x, weight, rstd, grad_x, grad_w):  # pragma: no cover - compiled
        rows, width = x.shape
        scratch = np.empty(1, dtype=rstd.dtype)
        for i in range(rows):
            r = rstd[i]
            dot = 0.0
            for c in range(width):
                dot += grad[i, c] * weight[c] * x[i, c]
            scratch[0] = r * r * r * dot / width
            k = scratch[0]  # in the arrays' precision
            for c in range(width):
                grad_x[i, c] = r * grad[i, c] * weight[c] - k * x[i, c]
                grad_w[c] += grad[i, c] * x[i, c] * r

    @jit
    def swiglu_forward(gate, up, sig, out):  # pragma: no cover - compiled
        for i in range(gate.shape[0]):
            out[i] = gate[i] * sig[i] * up[i]

    @jit
    def swiglu_backward(grad, gate, up, sig, grad_gate, grad_up):  # pragma: no cover
        for i in range(gate.shape[0]):
            s, g = sig[i], gate[i]
            grad_up[i] = grad[i] * g * s
            grad_gate[i] = grad[i] * up[i] * s * (1.0 + g * (1.0 - s))

    @jit
    def rotary_forward(x, cos, sin, out):  # pragma: no cover - compiled
        # x (B, T, H, D), a view of the projection's output; out (B, H, T, D)
        batch, length, heads, dim = x.shape
        half = dim // 2
        for b in range(batch):
            for t in range(length):
                for h in range(heads):
                    for d in range(half):
                        a, c = x[b, t, h, d], x[b, t, h, d + half]
                        out[b, h, t, d] = a * cos[t, d] - c * sin[t, d]
                        out[b, h, t, d + half] = c * cos[t, d + half] + a * sin[t, d + half]

    @jit
    def rotary_backward(grad, cos, sin, out):  # pragma: no cover - compiled
        # grad (B, H, T, D); out (B, T, H, D): the transposed rotation. Not rotary_forward
        # on transposed views with a rolled, negated sine table: that is the same rotation,
        # but fastmath contracts it into other fused multiply-adds (up to 1e-6 apart in
        # float32), and trained members are cached by recipe, not by this code
        batch, heads, length, dim = grad.shape
        half = dim // 2
        for b in range(batch):
            for t in range(length):
                for h in range(heads):
                    for d in range(half):
                        a, c = grad[b, h, t, d], grad[b, h, t, d + half]
                        out[b, t, h, d] = a * cos[t, d] + c * sin[t, d + half]
                        out[b, t, h, d + half] = c * cos[t, d + half] - a * sin[t, d]

    return {"norm_forward": norm_forward, "norm_backward": norm_backward,
            "swiglu_forward": swiglu_forward, "swiglu_backward": swiglu_backward,
            "rotary_forward": rotary_forward, "rotary_backward": rotary_backward}


def _array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().numpy()


class RMSNormFunction(torch.autograd.Function):
    """Llama's RMSNorm, ``weight * x / sqrt(mean(x**2, -1) + eps)``, x (..., C)."""

    @staticmethod
    def forward(ctx, x, weight, eps):
        rows = x.detach().reshape(-1, x.shape[-1]).contiguous()  # (R, C)
        out = torch.empty_like(rows)
        rstd = torch.empty(rows.shape[0], dtype=rows.dtype)  # 1 / RMS per row, (R,)
        _kernels()["norm_forward"](_array(rows), _array(weight), float(eps), _array(out),
                                   _array(rstd))
        ctx.save_for_backward(rows, weight, rstd)
        return out.view(x.shape)

    @staticmethod
    def backward(ctx, grad):
        rows, weight, rstd = ctx.saved_tensors
        grad_rows = grad.reshape(rows.shape).contiguous()
        grad_x = torch.empty_like(rows)
        grad_w = np.zeros(rows.shape[1], dtype=np.float64)  # summed over rows in float64
        _kernels()["norm_backward"](_array(grad_rows), _array(rows), _array(weight),
                                    _array(rstd), _array(grad_x), grad_w)
        return grad_x.view(grad.shape), torch.from_numpy(grad_w).to(weight.dtype), None


class SwiGLUFunction(torch.autograd.Function):
    """``silu(gate) * up``, the Llama MLP's activation; gate, up (..., I)."""

    @staticmethod
    def forward(ctx, gate, up):
        gate, up = gate.detach().contiguous(), up.detach().contiguous()
        sig = torch.sigmoid(gate)
        out = torch.empty_like(gate)
        _kernels()["swiglu_forward"](_array(gate).reshape(-1), _array(up).reshape(-1),
                                     _array(sig).reshape(-1), _array(out).reshape(-1))
        ctx.save_for_backward(gate, up, sig)
        return out

    @staticmethod
    def backward(ctx, grad):
        gate, up, sig = ctx.saved_tensors
        grad = grad.contiguous()
        grad_gate, grad_up = torch.empty_like(gate), torch.empty_like(up)
        _kernels()["swiglu_backward"](_array(grad).reshape(-1), _array(gate).reshape(-1),
                                      _array(up).reshape(-1), _array(sig).reshape(-1),
                                      _array(grad_gate).reshape(-1),
                                      _array(grad_up).reshape(-1))
        return grad_gate, grad_up


class RotaryFunction(torch.autograd.Function):
    """The rotary embedding of a projection (B, T, H, Dh) with tables cos, sin (T, Dh),
    returned as (B, H, T, Dh), the layout the attention reads."""

    @staticmethod
    def forward(ctx, x, cos, sin):
        x = x.detach()
        batch, length, heads, dim = x.shape
        out = torch.empty(batch, heads, length, dim, dtype=x.dtype)
        _kernels()["rotary_forward"](_array(x), _array(cos), _array(sin), _array(out))
        ctx.save_for_backward(cos, sin)
        return out

    @staticmethod
    def backward(ctx, grad):
        cos, sin = ctx.saved_tensors
        grad = grad.contiguous()
        batch, heads, length, dim = grad.shape
        out = torch.empty(batch, length, heads, dim, dtype=grad.dtype)
        _kernels()["rotary_backward"](_array(grad), _array(cos), _array(sin), _array(out))
        return out, None, None


def training_loss(model: torch.nn.Module, input_ids: torch.Tensor,
                  labels: torch.Tensor) -> torch.Tensor:
    """``model(input_ids=input_ids, labels=labels).loss`` for a plain Llama without padding
    (:func:`supports`), with the compiled operations above.

    input_ids, labels (B, T); the loss is the mean cross-entropy of every position's next
    token whose label is not ``-100``, as ``transformers``' causal-LM loss.
    """
    llama = model.model
    config = model.config
    batch, length = input_ids.shape
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    hidden = llama.embed_tokens(input_ids)  # (B, T, C)
    positions = torch.arange(length).unsqueeze(0)
    cos, sin = llama.rotary_emb(hidden, positions)  # (1, T, Dh) each
    cos, sin = cos[0].contiguous(), sin[0].contiguous()
    for layer in llama.layers:
        attn = layer.self_attn
        normed = RMSNormFunction.apply(hidden, layer.input_layernorm.weight,
                                       layer.input_layernorm.variance_epsilon)
        shape = (batch, length, heads, head_dim)
        query = RotaryFunction.apply(attn.q_proj(normed).view(shape), cos, sin)  # (B, H, T, Dh)
        key = RotaryFunction.apply(attn.k_proj(normed).view(shape), cos, sin)
        value = attn.v_proj(normed).view(shape).transpose(1, 2)
        mixed = F.scaled_dot_product_attention(query, key, value, is_causal=True,
                                               scale=attn.scaling)  # (B, H, T, Dh)
        hidden = hidden + attn.o_proj(mixed.transpose(1, 2).reshape(batch, length, -1))
        normed = RMSNormFunction.apply(hidden, layer.post_attention_layernorm.weight,
                                       layer.post_attention_layernorm.variance_epsilon)
        mlp = layer.mlp
        hidden = hidden + mlp.down_proj(SwiGLUFunction.apply(mlp.gate_proj(normed),
                                                             mlp.up_proj(normed)))
    hidden = RMSNormFunction.apply(hidden, llama.norm.weight, llama.norm.variance_epsilon)
    logits = model.lm_head(hidden)  # (B, T, V)
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                           labels[:, 1:].reshape(-1), ignore_index=IGNORE)
