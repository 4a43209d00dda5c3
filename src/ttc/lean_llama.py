"""A lean decoding loop for ``LlamaForCausalLM`` with a preallocated KV cache.

At the family's sizes (33k to 1M parameters) generation with ``transformers`` is dominated by
per-step overhead, not arithmetic: attention masks rebuilt at every step, and a dynamic cache
that copies all keys and values to append one token. This module runs the *same weights* of a
loaded ``LlamaForCausalLM`` with

* one key/value buffer per layer allocated once for prompt plus generation, ``(B, H, T, Dh)``;
* a boolean padding mask kept up to date in place;
* finished rows dropped from the batch (the buffers are compacted) once half of them are done.

It reuses the model's own modules (RMSNorm, projections, rotary embedding), so there is no
second copy of the architecture to drift; ``tests/test_sampling.py`` checks that it produces the
same logits and the same greedy tokens as ``transformers``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def supports(model: torch.nn.Module) -> bool:
    """True for a plain Llama (no biases, default RoPE, all heads keyed) this loop can run."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "model_type", None) != "llama":
        return False
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    rope_type = rope.get("rope_type", rope.get("type", "default")) if rope else "default"
    return (
        rope_type == "default"
        and not getattr(config, "attention_bias", False)
        and not getattr(config, "mlp_bias", False)
        and config.hidden_act == "silu"
    )


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class LeanLlamaDecoder:
    """Prefill a left-padded batch, then decode one token at a time into fixed buffers."""

    def __init__(self, model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor,
                 max_new_tokens: int):
        self.model = model
        self.inner = model.model
        config = model.config
        self.n_heads = config.num_attention_heads
        self.n_kv = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.n_heads
        batch, width = ids.shape
        self.capacity = width + max_new_tokens
        dtype, device = self.inner.embed_tokens.weight.dtype, ids.device
        shape = (batch, self.n_kv, self.capacity, self.head_dim)
        self.keys = [torch.zeros(shape, dtype=dtype, device=device) for _ in self.inner.layers]
        self.values = [torch.zeros(shape, dtype=dtype, device=device) for _ in self.inner.layers]
        self.valid = torch.zeros((batch, self.capacity), dtype=torch.bool, device=device)
        self.valid[:, :width] = mask.bool()
        self.length = 0  # filled cache positions (the same for every row)
        self.positions = (mask.long().cumsum(-1) - 1).clamp(min=0)  # (B, width)

    def _attend(self, layer, x: torch.Tensor, positions: torch.Tensor,
                attn_mask: torch.Tensor, index: int) -> torch.Tensor:
        """One attention block on ``x`` (B, T, C) writing its keys/values at the cache end."""
        attn = layer.self_attn
        batch, steps, _ = x.shape
        q = attn.q_proj(x).view(batch, steps, self.n_heads, self.head_dim).transpose(1, 2)
        k = attn.k_proj(x).view(batch, steps, self.n_kv, self.head_dim).transpose(1, 2)
        v = attn.v_proj(x).view(batch, steps, self.n_kv, self.head_dim).transpose(1, 2)
        cos, sin = self.inner.rotary_emb(x, positions)  # (B, T, Dh) each
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        q = q * cos + _rotate_half(q) * sin  # (B, H, T, Dh)
        k = k * cos + _rotate_half(k) * sin
        end = self.length + steps
        self.keys[index][:, :, self.length:end] = k
        self.values[index][:, :, self.length:end] = v
        keys, values = self.keys[index][:, :, :end], self.values[index][:, :, :end]
        if self.n_kv != self.n_heads:  # grouped-query attention: share each key head
            keys = keys.repeat_interleave(self.n_heads // self.n_kv, dim=1)
            values = values.repeat_interleave(self.n_heads // self.n_kv, dim=1)
        if steps == 1:
            # one query per row: a plain masked softmax beats the CPU flash kernel here
            scores = (q @ keys.transpose(-1, -2)) * self.head_dim**-0.5  # (B, H, 1, T)
            scores = scores.masked_fill(~attn_mask, float("-inf"))
            out = torch.softmax(scores, dim=-1) @ values  # (B, H, 1, Dh)
        else:
            out = F.scaled_dot_product_attention(q, keys, values, attn_mask=attn_mask)
        return attn.o_proj(out.transpose(1, 2).reshape(batch, steps, -1))

    def _forward(self, ids: torch.Tensor, positions: torch.Tensor,
                 attn_mask: torch.Tensor) -> torch.Tensor:
        """Logits of the last position (B, V) after appending ``ids`` (B, T) to the cache."""
        x = self.inner.embed_tokens(ids)  # (B, T, C)
        for index, layer in enumerate(self.inner.layers):
            x = x + self._attend(layer, layer.input_layernorm(x), positions, attn_mask, index)
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        self.length += ids.shape[1]
        return self.model.lm_head(self.inner.norm(x[:, -1]))  # (B, V)

    @torch.no_grad()
    def prefill(self, ids: torch.Tensor) -> torch.Tensor:
        """Run the prompts (B, T); return next-token logits (B, V)."""
        width = ids.shape[1]
        causal = torch.ones((width, width), dtype=torch.bool, device=ids.device).tril()
        keep = causal[None, None] & self.valid[:, None, None, :width]  # (B, 1, T, T)
        # a fully masked row (a pad query) would give NaNs; let pads attend to themselves
        keep |= torch.eye(width, dtype=torch.bool, device=ids.device)[None, None]
        return self._forward(ids, self.positions, keep)

    @torch.no_grad()
    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append one token per row (B,); return next-token logits (B, V)."""
        self.positions = self.positions[:, -1:] + 1  # (B, 1)
        self.valid[:, self.length] = True
        keep = self.valid[:, None, None, : self.length + 1]  # (B, 1, 1, T)
        return self._forward(tokens[:, None], self.positions, keep)

    def keep_rows(self, rows: torch.Tensor) -> None:
        """Drop every batch row not in ``rows`` (finished sequences) from all buffers."""
        self.keys = [k.index_select(0, rows) for k in self.keys]
        self.values = [v.index_select(0, rows) for v in self.values]
        self.valid = self.valid.index_select(0, rows)
        self.positions = self.positions.index_select(0, rows)
