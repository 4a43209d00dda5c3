"""benchmarks/roofline.py: the FLOPs and bytes of a decode step against a hand count on a tiny
Llama, and one small run of the whole script (its tables, with interleaved repeats)."""

from __future__ import annotations

import re
import sys

import pytest
from transformers import LlamaConfig, LlamaForCausalLM

from tests.conftest import benchmark_module


@pytest.fixture(scope="module")
def roofline():
    try:
        yield benchmark_module("roofline")
    finally:
        sys.modules.pop("roofline", None)


def _tiny():
    # 1 layer, width 8, 2 heads of 4, MLP 16, vocabulary 10, untied output layer
    config = LlamaConfig(vocab_size=10, hidden_size=8, intermediate_size=16,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                         tie_word_embeddings=False)
    return LlamaForCausalLM(config)


def test_decode_step_cost_by_hand(roofline):
    # weights: embedding 80, q/k/v/o 4·64 = 256, MLP 3·8·16 = 384, three norms 24, head 80:
    # 824 in all, of which 720 are matmul weights (attention, MLP, output layer)
    flops, moved = roofline.decode_step_cost(_tiny(), rows=4, context=5)
    assert flops == 4 * (2 * 720 + 1 * 4 * 5 * 8)  # 6,400
    # keys and values: 1 layer · 2 · width 8 · 4 rows · (5 read + 1 written) = 384 floats;
    # logits 4 · 10
    assert moved == 4 * (824 + 384 + 40)


def test_decode_step_cost_reads_a_shared_prompt_once(roofline):
    # 2 rows per prompt of 3 positions: each row reads its own 5 - 3 = 2 positions and
    # writes 1 (4 · 3 = 12 positions), each of the 2 prompts is read once (6 positions)
    flops, moved = roofline.decode_step_cost(_tiny(), rows=4, context=5, per_prompt=2,
                                             prompt=3)
    assert flops == 6400  # sharing saves bytes, not arithmetic
    assert moved == 4 * (824 + 2 * 8 * (12 + 6) + 40)


def test_a_small_run_prints_both_tables(roofline, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["roofline.py", "--members", "f32x2", "--rows", "4",
                                      "--samples", "2", "--prompt", "3", "--steps", "2",
                                      "--repeats", "2"])
    roofline.main()
    out = capsys.readouterr().out
    assert "median of 2 one-thread peaks" in out
    decode = [line for line in out.splitlines() if line.startswith("| f32x2 |")]
    assert len(decode) == 2  # the decoding row and the training row
    cells = [c.strip() for c in decode[0].strip("|").split("|")]
    assert len(cells) == 14
    ratio = float(cells[12].rstrip("x"))
    low, high = (float(x) for x in re.fullmatch(r"([\d.]+)-([\d.]+)x", cells[13]).groups())
    assert low <= ratio <= high  # of two repeats, the medians' ratio is their mediant
    training = [c.strip() for c in decode[1].strip("|").split("|")]
    assert training[2].endswith("GFLOP/s") and training[4].endswith("%")
    assert training[6].endswith("%") and training[7].endswith("x")


def test_repeats_must_be_positive(roofline, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["roofline.py", "--repeats", "0"])
    with pytest.raises(SystemExit):
        roofline.main()
