"""Where models run and at what precision, and batch sizes from a memory budget.

``device="auto"`` picks CUDA when there is one; ``dtype="auto"`` picks bfloat16 on CUDA
(what current GPUs compute fastest, with float32's range) and float32 on the CPU (where
bfloat16 matmuls are slow and the book's numbers were measured). Training under bfloat16
autocasts the forward pass and keeps float32 master weights.

Decoding batch sizes follow from the memory a row needs (the KV cache, the attention
scores and the vocabulary-sized logits) and a budget (a share of the
device's *total* memory, so the same machine always gets the same batch size, and sampled
text, which depends on the batch, stays reproducible there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ttc.config import ConfigError, require_choice

if TYPE_CHECKING:  # torch is imported where it is used: profiles validate without it
    import torch

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16", "float16")
#: share of the device's memory a batch may fill (the rest: weights, allocator slack)
MEMORY_FRACTION = 0.6
#: CPU budget cap: a larger batch no longer pays on a few cores
CPU_BUDGET_CAP = 8 * 2**30


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` picks CUDA when available, else CPU; other values pass through."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(dtype: str = "auto", device: str = "auto") -> torch.dtype:
    """The torch dtype for ``dtype`` on ``device``: ``auto`` is bfloat16 on CUDA, float32
    elsewhere; a one-line :class:`ConfigError` for an unknown name."""
    import torch

    require_choice("dtype", dtype, DTYPES)
    if dtype == "auto":
        return torch.bfloat16 if resolve_device(device).startswith("cuda") else torch.float32
    return getattr(torch, dtype)


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``"bfloat16"`` (for cache keys and tables)."""

    return str(dtype).removeprefix("torch.")


def memory_budget(device: str = "auto", fraction: float = MEMORY_FRACTION) -> int:
    """Bytes a batch may use on ``device``: ``fraction`` of the GPU's total memory, or of
    the machine's memory on the CPU (at most :data:`CPU_BUDGET_CAP`)."""
    import torch

    if not 0 < fraction <= 1:
        raise ConfigError(f"parameter 'fraction' must be in (0, 1]; got {fraction}")
    device = resolve_device(device)
    if device.startswith("cuda"):
        return int(torch.cuda.get_device_properties(torch.device(device)).total_memory
                   * fraction)
    import psutil

    return int(min(psutil.virtual_memory().total * fraction, CPU_BUDGET_CAP))


def _shape(config) -> tuple[int, int, int, int, int, int]:
    """(layers, heads, KV heads, head size, hidden size, vocabulary) of a transformers
    config (text config of a multimodal one)."""
    config = getattr(config, "text_config", None) or config
    heads = config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return (config.num_hidden_layers, heads, kv, head_dim, config.hidden_size,
            config.vocab_size)


def decode_row_bytes(config, tokens: int, dtype: torch.dtype) -> int:
    """Memory one sequence of ``tokens`` (prompt plus generation) needs while decoding:
    its keys and values in every layer, one row of attention scores per head, and the
    float32 logits, probabilities and sort buffers over the vocabulary (about 5 copies)."""
    import torch

    layers, heads, kv, head_dim, _, vocab = _shape(config)
    size = torch.empty((), dtype=dtype).element_size()
    cache = 2 * layers * kv * head_dim * tokens * size
    scores = heads * tokens * 4
    logits = 5 * vocab * 4
    return cache + scores + logits


def batch_size_for(row_bytes: int, budget: int, cap: int = 4096) -> int:
    """How many rows of ``row_bytes`` fit in ``budget`` bytes: at least 1, at most ``cap``."""
    if row_bytes <= 0:
        raise ValueError(f"row_bytes must be positive, got {row_bytes}")
    return max(1, min(cap, budget // row_bytes))


def decode_batch_size(model, tokens: int, device: str = "auto", cap: int = 4096,
                      budget: int | None = None) -> int:
    """Rows ``model`` can decode at once for sequences of ``tokens`` on ``device``, from
    :func:`memory_budget` less the weights (or a given ``budget`` of bytes)."""
    if budget is None:
        weights = sum(p.numel() * p.element_size() for p in model.parameters())
        budget = max(0, memory_budget(device) - weights)
    dtype = next(model.parameters()).dtype
    return batch_size_for(decode_row_bytes(model.config, tokens, dtype), budget, cap)
