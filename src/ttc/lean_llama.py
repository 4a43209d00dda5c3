"""A lean decoding loop for ``LlamaForCausalLM`` with a preallocated KV cache.

At the family's sizes (33k to 1M parameters) generation with ``transformers`` is dominated by
per-step overhead, not arithmetic: attention masks rebuilt at every step, and a dynamic cache
that copies all keys and values to append one token. This module runs the *same weights* of a
loaded ``LlamaForCausalLM`` with

* one key/value buffer per layer allocated once for prompt plus generation, ``(B, H, T, Dh)``;
* a boolean padding mask kept up to date in place;
* finished rows dropped from the batch (the buffers are compacted) once half of them are done.

Sampling draws many completions of each prompt, and those rows sit next to each other in a
batch. :class:`SharedPromptDecoder` stores each distinct prompt's keys and values once and
computes the prompt part of attention as one matmul per prompt, which reads far less memory
than a key/value buffer per row; :func:`decoder_for` picks it when a batch repeats its prompts
enough to pay (:data:`SHARE_MIN_ROWS_PER_PROMPT`) and :class:`LeanLlamaDecoder` otherwise.

:class:`RaggedDecoder` serves callers whose rows advance by different numbers of tokens per
call (a verifier reading a chain step in one row while another writes one rationale token):
each row's tokens lie contiguous from the buffer's start, so nothing is padded in between.

All reuse the model's own modules (RMSNorm, projections, rotary embedding), so there is no
second copy of the architecture to drift; ``tests/test_sampling.py`` checks that they produce
the same logits and the same greedy tokens as ``transformers``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: share prompts' keys/values when a batch has at least this many rows per distinct prompt.
#: Measured on one thread at batch 512 (``benchmarks/sampler.py --sweep`` and ``--sharing``):
#: a decoding step of f128x4 is slower shared at 2-4 rows per prompt (0.7-0.76x), even at 8
#: (0.96x) and faster from 32 (1.09x); whole runs (prefill, done once per prompt, included)
#: at 8 rows per prompt were 0.96-1.44x, at 128 rows 1.2-1.4x.
SHARE_MIN_ROWS_PER_PROMPT = 8


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


def compiled_loops_fit(model: torch.nn.Module) -> bool:
    """True for what the compiled loops of :mod:`ttc.fused_decode` and :mod:`ttc.fused_train`
    are written for: a plain Llama (:func:`supports`) in float32 on the CPU, with as many key
    heads as query heads and an even head size (every family member)."""
    if not supports(model):
        return False
    config = model.config
    weight = model.get_input_embeddings().weight
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return (weight.device.type == "cpu" and weight.dtype == torch.float32
            and config.num_key_value_heads == config.num_attention_heads
            and head_dim % 2 == 0)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def prompt_groups(ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct rows of a left-padded batch and each row's group.

    Returns ``(first, group)``: ``first`` (G,) is one batch row holding each distinct prompt
    (tokens and padding both equal), ``group`` (B,) the index into ``first`` of every row.
    """
    _, group = torch.unique(torch.cat([ids, mask.long()], dim=1), dim=0, return_inverse=True)
    return first_rows(group), group


def first_rows(group: torch.Tensor) -> torch.Tensor:
    """The first row of each group, (G,), given each row's group (B,) numbered 0..G-1."""
    first = torch.full((int(group.max()) + 1,), group.shape[0], dtype=torch.long,
                       device=group.device)
    first.scatter_reduce_(0, group, torch.arange(group.shape[0], device=group.device), "amin")
    return first


def decoder_for(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor,
                max_new_tokens: int, shared: type | None = None
                ) -> LeanLlamaDecoder | SharedPromptDecoder:
    """The faster decoder for this batch: prompts shared when each repeats often enough
    (with ``shared``, default :class:`SharedPromptDecoder`, a subclass such as
    :class:`ttc.fused_decode.FusedSharedDecoder`; :func:`ttc.fused_decode.decoder_for`
    picks it where it runs)."""
    first, _ = prompt_groups(ids, mask)
    if ids.shape[0] >= SHARE_MIN_ROWS_PER_PROMPT * len(first):
        return (shared or SharedPromptDecoder)(model, ids, mask, max_new_tokens)
    return LeanLlamaDecoder(model, ids, mask, max_new_tokens)


class _LlamaRunner:
    """The model's modules and shapes, and the parts of a forward pass both decoders share."""

    def __init__(self, model: torch.nn.Module):
        self.model = model
        self.inner = model.model
        config = model.config
        self.n_heads = config.num_attention_heads
        self.n_kv = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.n_heads
        self.dtype = self.inner.embed_tokens.weight.dtype

    def _project(self, attn, x: torch.Tensor, positions: torch.Tensor):
        """Queries (B, H, T, Dh), keys and values (B, H_kv, T, Dh) of ``x``, rotated."""
        batch, steps, _ = x.shape
        q = attn.q_proj(x).view(batch, steps, self.n_heads, self.head_dim).transpose(1, 2)
        k = attn.k_proj(x).view(batch, steps, self.n_kv, self.head_dim).transpose(1, 2)
        v = attn.v_proj(x).view(batch, steps, self.n_kv, self.head_dim).transpose(1, 2)
        cos, sin = self.inner.rotary_emb(x, positions)  # (B, T, Dh) each
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        return q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin, v

    def _attention(self, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                   keep: torch.Tensor) -> torch.Tensor:
        """Attention of queries (B, H, S, Dh) over cached keys and values (B, H_kv, T, Dh)
        where ``keep`` (B, 1, S, T) allows; returns (B, H, S, Dh)."""
        if self.n_kv != self.n_heads:  # grouped-query attention: share each key head
            keys = keys.repeat_interleave(self.n_heads // self.n_kv, dim=1)
            values = values.repeat_interleave(self.n_heads // self.n_kv, dim=1)
        if q.shape[2] == 1:
            # one query per row: a plain masked softmax beats the CPU flash kernel here
            scores = (q @ keys.transpose(-1, -2)) * self.head_dim**-0.5  # (B, H, 1, T)
            scores = scores.masked_fill(~keep, float("-inf"))
            return torch.softmax(scores, dim=-1) @ values  # (B, H, 1, Dh)
        return F.scaled_dot_product_attention(q, keys, values, attn_mask=keep)

    def _run(self, ids: torch.Tensor, attend, last: torch.Tensor | None = None
             ) -> torch.Tensor:
        """Logits (B, V) of the last position, or of position ``last[b]`` of each row b;
        ``attend(layer, x, index)`` is the attention."""
        x = self.inner.embed_tokens(ids)  # (B, T, C)
        for index, layer in enumerate(self.inner.layers):
            x = x + attend(layer, layer.input_layernorm(x), index)
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        x = x[:, -1] if last is None else x[torch.arange(x.shape[0], device=x.device), last]
        return self.model.lm_head(self.inner.norm(x))  # (B, V)


def _prefill_mask(valid: torch.Tensor) -> torch.Tensor:
    """Causal attention among the valid positions of (B, T) prompts, as (B, 1, T, T)."""
    width = valid.shape[1]
    causal = torch.ones((width, width), dtype=torch.bool, device=valid.device).tril()
    keep = causal[None, None] & valid[:, None, None, :]
    # a fully masked row (a pad query) would give NaNs; let pads attend to themselves
    return keep | torch.eye(width, dtype=torch.bool, device=valid.device)[None, None]


class LeanLlamaDecoder(_LlamaRunner):
    """Prefill a left-padded batch, then decode one token at a time into fixed buffers."""

    def __init__(self, model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor,
                 max_new_tokens: int):
        super().__init__(model)
        batch, width = ids.shape
        self.capacity = width + max_new_tokens
        shape = (batch, self.n_kv, self.capacity, self.head_dim)
        device = ids.device
        self.keys = [torch.zeros(shape, dtype=self.dtype, device=device)
                     for _ in self.inner.layers]
        self.values = [torch.zeros(shape, dtype=self.dtype, device=device)
                       for _ in self.inner.layers]
        self.valid = torch.zeros((batch, self.capacity), dtype=torch.bool, device=device)
        self.valid[:, :width] = mask.bool()
        self.length = 0  # filled cache positions (the same for every row)
        self.positions = (mask.long().cumsum(-1) - 1).clamp(min=0)  # (B, width)

    def _attend(self, layer, x: torch.Tensor, positions: torch.Tensor,
                attn_mask: torch.Tensor, index: int) -> torch.Tensor:
        """One attention block on ``x`` (B, T, C) writing its keys/values at the cache end."""
        attn = layer.self_attn
        batch, steps, _ = x.shape
        q, k, v = self._project(attn, x, positions)
        end = self.length + steps
        self.keys[index][:, :, self.length:end] = k
        self.values[index][:, :, self.length:end] = v
        out = self._attention(q, self.keys[index][:, :, :end], self.values[index][:, :, :end],
                              attn_mask)
        return attn.o_proj(out.transpose(1, 2).reshape(batch, steps, -1))

    def _forward(self, ids: torch.Tensor, positions: torch.Tensor,
                 attn_mask: torch.Tensor) -> torch.Tensor:
        """Logits of the last position (B, V) after appending ``ids`` (B, T) to the cache."""
        logits = self._run(ids, lambda layer, x, index:
                           self._attend(layer, x, positions, attn_mask, index))
        self.length += ids.shape[1]
        return logits

    @torch.no_grad()
    def prefill(self, ids: torch.Tensor) -> torch.Tensor:
        """Run the prompts (B, T); return next-token logits (B, V)."""
        keep = _prefill_mask(self.valid[:, : ids.shape[1]])  # (B, 1, T, T)
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


class SharedPromptDecoder(_LlamaRunner):
    """:class:`LeanLlamaDecoder` with each distinct prompt's keys and values stored once.

    The prompt cache is ``(G, H_kv, P, Dh)`` for the G distinct prompts of the batch (equal
    tokens and padding), and the generated tokens' cache ``(B, H_kv, T_new, Dh)`` per row. At a
    decoding step the rows' queries are gathered into a zero-padded block ``(G, H_kv, n_max ·
    H/H_kv, Dh)`` (n_max: the most rows of one prompt) so that the prompt part of attention is
    one matmul per prompt; the generated part is per row as in :class:`LeanLlamaDecoder`; one
    softmax spans both (the prompt's left padding masked); the probabilities of the prompt
    part are gathered into the block the same way for the matmul with the shared values, and
    the result is scattered back to rows. The group index is recomputed only at construction
    and in :meth:`keep_rows`. Prefill runs each distinct prompt once.

    Same interface as :class:`LeanLlamaDecoder` and the same model, but not bit-identical to
    it: the matmuls sum in another order, so logits differ in the last bits and a sampled
    token may rarely differ where two tokens' cumulative probabilities straddle the draw.
    """

    def __init__(self, model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor,
                 max_new_tokens: int):
        super().__init__(model)
        batch, width = ids.shape
        first, self.group = prompt_groups(ids, mask)
        self.prompt_ids = ids.index_select(0, first)  # (G, P)
        self.prompt_valid = mask.bool().index_select(0, first)  # (G, P)
        self.prompt_positions = (self.prompt_valid.long().cumsum(-1) - 1).clamp(min=0)
        self.prompt_keys: list[torch.Tensor] = []  # (G, H_kv, P, Dh) per layer, from prefill
        self.prompt_values: list[torch.Tensor] = []
        self._allocate_own(batch, max_new_tokens, ids.device)
        self.generated = 0  # filled positions of the generated cache (the same for every row)
        self.positions = self.prompt_positions[self.group, -1:]  # (B, 1): last prompt position
        self._regroup()

    def _allocate_own(self, batch: int, max_new_tokens: int, device) -> None:
        """The generated tokens' keys and values, (B, H_kv, T_new, Dh) per layer."""
        shape = (batch, self.n_kv, max_new_tokens, self.head_dim)
        self.keys = [torch.zeros(shape, dtype=self.dtype, device=device)
                     for _ in self.inner.layers]
        self.values = [torch.zeros(shape, dtype=self.dtype, device=device)
                       for _ in self.inner.layers]

    def _keep_own(self, rows: torch.Tensor) -> None:
        """Keep the generated tokens' keys and values of ``rows`` only."""
        self.keys = [k.index_select(0, rows) for k in self.keys]
        self.values = [v.index_select(0, rows) for v in self.values]

    def _regroup(self) -> None:
        """Each row's slot in its prompt's block, the blocks, and the prompt padding bias."""
        groups, batch = self.prompt_ids.shape[0], self.group.shape[0]
        counts = torch.bincount(self.group, minlength=groups)
        order = torch.argsort(self.group, stable=True)
        starts = counts.cumsum(0) - counts
        self.slot = torch.empty_like(self.group)
        self.slot[order] = torch.arange(batch, device=self.group.device) - starts[self.group[order]]
        rep, n_max = self.n_heads // self.n_kv, int(counts.max())
        device, width = self.group.device, self.prompt_ids.shape[1]
        # padding slots stay zero: only the rows' slots are ever written
        self.query_block = torch.zeros((groups, self.n_kv, n_max, rep, self.head_dim),
                                       dtype=self.dtype, device=device)
        self.prob_block = torch.zeros((groups, self.n_kv, n_max, rep, width),
                                      dtype=self.dtype, device=device)
        bias = torch.zeros((batch, 1, 1, width), dtype=self.dtype, device=device)
        self.prompt_bias = bias.masked_fill(~self.prompt_valid[self.group][:, None, None, :],
                                            float("-inf"))  # (B, 1, 1, P)

    def _prefill_attend(self, layer, x: torch.Tensor, keep: torch.Tensor,
                        index: int) -> torch.Tensor:
        """Attention over the distinct prompts (G, P, C), storing their keys and values."""
        attn = layer.self_attn
        groups, width, _ = x.shape
        q, k, v = self._project(attn, x, self.prompt_positions)
        self.prompt_keys.append(k.contiguous())
        self.prompt_values.append(v.contiguous())
        if self.n_kv != self.n_heads:
            k = k.repeat_interleave(self.n_heads // self.n_kv, dim=1)
            v = v.repeat_interleave(self.n_heads // self.n_kv, dim=1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
        return attn.o_proj(out.transpose(1, 2).reshape(groups, width, -1))

    def _step_attend(self, layer, x: torch.Tensor, index: int) -> torch.Tensor:
        """Attention of one new token per row (B, 1, C) over its prompt and its own tokens."""
        attn = layer.self_attn
        batch = x.shape[0]
        rep, groups = self.n_heads // self.n_kv, self.query_block.shape[0]
        q, k, v = self._project(attn, x, self.positions)
        end = self.generated + 1
        self.keys[index][:, :, self.generated] = k[:, :, 0]
        self.values[index][:, :, self.generated] = v[:, :, 0]
        q = (q * self.head_dim**-0.5).reshape(batch, self.n_kv, rep, self.head_dim)
        # prompt part: every row's query in its prompt's block, one matmul per prompt
        self.query_block[self.group, :, self.slot] = q
        blocks = self.query_block.view(groups, self.n_kv, -1, self.head_dim)
        prompt_scores = blocks @ self.prompt_keys[index].transpose(-1, -2)  # (G, H_kv, n·r, P)
        prompt_scores = prompt_scores.view(self.prob_block.shape)[self.group, :, self.slot]
        own_scores = q @ self.keys[index][:, :, :end].transpose(-1, -2)  # (B, H_kv, r, T)
        scores = torch.cat([prompt_scores + self.prompt_bias, own_scores], dim=-1)
        probs = torch.softmax(scores, dim=-1)
        width = self.prompt_bias.shape[-1]
        out = probs[..., width:] @ self.values[index][:, :, :end]  # (B, H_kv, r, Dh)
        self.prob_block[self.group, :, self.slot] = probs[..., :width]
        blocks = self.prob_block.view(groups, self.n_kv, -1, width)
        prompt_out = blocks @ self.prompt_values[index]  # (G, H_kv, n·r, Dh)
        out = out + prompt_out.view(self.query_block.shape)[self.group, :, self.slot]
        return attn.o_proj(out.reshape(batch, 1, -1))

    @torch.no_grad()
    def prefill(self, ids: torch.Tensor) -> torch.Tensor:
        """Run the prompts (B, T) given to the constructor, each distinct one once; return
        next-token logits (B, V)."""
        if ids.shape != (self.group.shape[0], self.prompt_ids.shape[1]):
            raise ValueError("prefill takes the batch the decoder was built for")
        keep = _prefill_mask(self.prompt_valid)
        self.prompt_keys, self.prompt_values = [], []
        logits = self._run(self.prompt_ids, lambda layer, x, index:
                           self._prefill_attend(layer, x, keep, index))
        return logits.index_select(0, self.group)

    @torch.no_grad()
    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append one token per row (B,); return next-token logits (B, V)."""
        self.positions = self.positions + 1
        logits = self._run(tokens[:, None], self._step_attend)
        self.generated += 1
        return logits

    def keep_rows(self, rows: torch.Tensor) -> None:
        """Keep ``rows`` of the batch, in that order: rows not in it are dropped (finished
        sequences) and a row given more than once is copied, caches included (a sampled
        state that forks, :func:`ttc.sampling._decode_states`); prompts left without rows
        are dropped; regroup the rest."""
        self._keep_own(rows)
        self.positions = self.positions.index_select(0, rows)
        group = self.group.index_select(0, rows)
        alive = torch.unique(group)  # sorted: prompts keep their order
        if len(alive) < self.prompt_ids.shape[0]:
            renumber = torch.full((self.prompt_ids.shape[0],), -1, dtype=torch.long,
                                  device=group.device)
            renumber[alive] = torch.arange(len(alive), device=group.device)
            group = renumber[group]
            self._keep_prompts(alive)
        self.group = group
        self._regroup()

    def _keep_prompts(self, alive: torch.Tensor) -> None:
        """Keep the prompts ``alive`` (sorted) only, with their caches."""
        self.prompt_ids = self.prompt_ids.index_select(0, alive)
        self.prompt_valid = self.prompt_valid.index_select(0, alive)
        self.prompt_positions = self.prompt_positions.index_select(0, alive)
        self.prompt_keys = [k.index_select(0, alive) for k in self.prompt_keys]
        self.prompt_values = [v.index_select(0, alive) for v in self.prompt_values]


class RaggedDecoder(_LlamaRunner):
    """Rows that each append their own number of tokens per call, into fixed buffers.

    Row b's tokens occupy buffer columns ``0 .. lengths[b] - 1`` in order, so a row's cache
    never has holes and its positions are its column indices: a call appends ``counts[b]``
    tokens at column ``lengths[b]`` of each row (its other, padding, tokens are written past
    the row's end and overwritten by its next real ones) and attends causally within the row.
    :class:`LeanLlamaDecoder` instead appends the same number of columns to every row and
    masks the padding, which costs a full span per row whenever one row feeds many tokens.
    Buffers start at ``capacity`` columns and double when a call needs more.
    """

    def __init__(self, model: torch.nn.Module, batch: int, capacity: int = 64,
                 device: torch.device | str | None = None):
        super().__init__(model)
        device = device if device is not None else self.inner.embed_tokens.weight.device
        shape = (batch, self.n_kv, max(1, capacity), self.head_dim)
        self.keys = [torch.zeros(shape, dtype=self.dtype, device=device)
                     for _ in self.inner.layers]
        self.values = [torch.zeros(shape, dtype=self.dtype, device=device)
                       for _ in self.inner.layers]
        self.lengths = torch.zeros(batch, dtype=torch.long, device=device)

    def _reserve(self, end: int) -> None:
        """Make the buffers at least ``end`` columns wide (doubling, to amortise copies)."""
        capacity = self.keys[0].shape[2]
        if end <= capacity:
            return
        extra = max(end, 2 * capacity) - capacity

        def grow(buffer: torch.Tensor) -> torch.Tensor:
            batch, heads, _, dim = buffer.shape
            return torch.cat([buffer, buffer.new_zeros((batch, heads, extra, dim))], dim=2)

        self.keys = [grow(k) for k in self.keys]
        self.values = [grow(v) for v in self.values]

    def _attend(self, layer, x: torch.Tensor, positions: torch.Tensor, end: int,
                keep: torch.Tensor, index: int) -> torch.Tensor:
        """One attention block on ``x`` (B, S, C), writing its keys/values at each row's
        positions (B, S) and attending to columns ``< end`` as ``keep`` (B, 1, S, end) says."""
        attn = layer.self_attn
        batch, steps, _ = x.shape
        q, k, v = self._project(attn, x, positions)
        capacity = self.keys[index].shape[2]
        heads = torch.arange(batch * self.n_kv, device=x.device).view(batch, self.n_kv, 1)
        where = (heads * capacity + positions[:, None, :]).reshape(-1)  # rows of a flat view
        self.keys[index].view(-1, self.head_dim).index_copy_(0, where, k.reshape(-1, self.head_dim))
        self.values[index].view(-1, self.head_dim).index_copy_(0, where,
                                                               v.reshape(-1, self.head_dim))
        out = self._attention(q, self.keys[index][:, :, :end], self.values[index][:, :, :end],
                              keep)
        return attn.o_proj(out.transpose(1, 2).reshape(batch, steps, -1))

    @torch.no_grad()
    def feed(self, tokens: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """Append the first ``counts[b]`` of ``tokens[b]`` (B, S) to each row b; return the
        next-token logits (B, V) after each row's last appended token (a row appending
        nothing gets logits of no meaning, and keeps its length)."""
        steps = tokens.shape[1]
        positions = self.lengths[:, None] + torch.arange(steps, device=tokens.device)
        end = int(self.lengths.max()) + steps
        self._reserve(end)
        columns = torch.arange(end, device=tokens.device)
        keep = (columns[None, None, :] <= positions[:, :, None])[:, None]  # (B, 1, S, end)
        logits = self._run(tokens, lambda layer, x, index:
                           self._attend(layer, x, positions, end, keep, index),
                           last=(counts - 1).clamp(min=0))
        self.lengths = self.lengths + counts
        return logits

    def keep_rows(self, rows: torch.Tensor) -> None:
        """Drop every batch row not in ``rows`` (sequences done with) from all buffers."""
        self.keys = [k.index_select(0, rows) for k in self.keys]
        self.values = [v.index_select(0, rows) for v in self.values]
        self.lengths = self.lengths.index_select(0, rows)
