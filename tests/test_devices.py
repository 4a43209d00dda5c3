"""Device and precision choices, and batch sizes from a memory budget (hand-computed)."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from ttc.config import ConfigError
from ttc.devices import (
    CPU_BUDGET_CAP,
    batch_size_for,
    decode_batch_size,
    decode_row_bytes,
    dtype_name,
    memory_budget,
    resolve_dtype,
)

CONFIG = LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2)


def test_precision_follows_the_device():
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("auto", "cuda") == torch.bfloat16
    assert resolve_dtype("bfloat16", "cpu") == torch.bfloat16
    assert dtype_name(torch.bfloat16) == "bfloat16"
    with pytest.raises(ConfigError, match="'dtype' must be one of"):
        resolve_dtype("fp8")


def test_row_bytes_by_hand():
    # keys and values: 2 x 2 layers x 2 KV heads x head size 8 x 10 tokens x 4 bytes = 2,560;
    # scores: 4 heads x 10 x 4 = 160; logits and their copies: 5 x 100 x 4 = 2,000
    assert decode_row_bytes(CONFIG, 10, torch.float32) == 2560 + 160 + 2000
    assert decode_row_bytes(CONFIG, 10, torch.bfloat16) == 1280 + 160 + 2000


def test_batch_size_from_a_budget():
    assert batch_size_for(4720, 1_000_000) == 211  # 1,000,000 // 4,720
    assert batch_size_for(4720, 10**12) == 4096  # the cap
    assert batch_size_for(4720, 10, cap=64) == 1  # never zero
    with pytest.raises(ValueError):
        batch_size_for(0, 100)
    model = LlamaForCausalLM(CONFIG)
    assert decode_batch_size(model, 10, budget=1_000_000) == 211
    assert 1 <= decode_batch_size(model, 10, device="cpu") <= 4096
    assert 0 < memory_budget("cpu") <= CPU_BUDGET_CAP
    with pytest.raises(ConfigError, match="fraction"):
        memory_budget("cpu", fraction=0)
