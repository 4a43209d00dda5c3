"""The compiled training loss (ttc.fused_train): each operation's backward against finite
differences, the whole loss and every gradient against transformers', and its use in
training (its own cache key, deterministic, the loss goes down)."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from transformers import LlamaForCausalLM
from transformers.models.llama.modeling_llama import LlamaRMSNorm, apply_rotary_pos_emb

from ttc.family.specs import ModelSpec
from ttc.family.train import checkpoint_key, resolve_kernels, train_member
from ttc.fused_train import (
    RMSNormFunction,
    RotaryFunction,
    SwiGLUFunction,
    supports,
    training_loss,
)
from ttc.tokenizer import build_tokenizer

from .test_family import tiny_config


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TTC_CACHE", str(tmp_path))
    return tmp_path


def _f64(*shape, grad=True):
    return torch.randn(*shape, dtype=torch.float64, requires_grad=grad)


def test_rms_norm_backward_matches_finite_differences_and_forward_matches_llama():
    torch.manual_seed(0)
    x, weight = _f64(3, 5, 8), _f64(8)
    assert torch.autograd.gradcheck(lambda a, w: RMSNormFunction.apply(a, w, 1e-5), (x, weight))
    norm = LlamaRMSNorm(8, eps=1e-5)
    with torch.no_grad():
        norm.weight.copy_(weight.float())
    torch.testing.assert_close(RMSNormFunction.apply(x.float(), norm.weight, 1e-5),
                               norm(x.float()), rtol=1e-6, atol=1e-6)


def test_swiglu_backward_matches_finite_differences_and_forward_is_silu_times_up():
    torch.manual_seed(1)
    gate, up = _f64(2, 3, 16), _f64(2, 3, 16)
    assert torch.autograd.gradcheck(SwiGLUFunction.apply, (gate, up))
    torch.testing.assert_close(SwiGLUFunction.apply(gate, up), F.silu(gate) * up)


def test_rotary_matches_transformers_and_its_backward_finite_differences():
    torch.manual_seed(2)
    batch, length, heads, dim = 2, 5, 3, 8
    x = _f64(batch, length, heads, dim)
    angles = torch.rand(length, dim // 2, dtype=torch.float64) * 6
    table = torch.cat((angles, angles), dim=-1)  # (T, Dh), as LlamaRotaryEmbedding
    cos, sin = table.cos(), table.sin()
    assert torch.autograd.gradcheck(lambda a: RotaryFunction.apply(a, cos, sin), (x,))
    expected, _ = apply_rotary_pos_emb(x.transpose(1, 2), x.transpose(1, 2), cos[None],
                                       sin[None])
    torch.testing.assert_close(RotaryFunction.apply(x, cos, sin), expected)


def _model(d_model=32, layers=2, dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    config = ModelSpec("t", d_model, layers).llama_config(len(build_tokenizer()), 32)
    return LlamaForCausalLM(config).to(dtype)


def test_training_loss_and_gradients_equal_transformers():
    model = _model()
    assert supports(model)
    vocab = len(build_tokenizer())
    generator = torch.Generator().manual_seed(3)
    ids = torch.randint(3, vocab, (4, 32), generator=generator)
    labels = ids.clone()
    labels[:, :9] = -100  # prompts are masked, as in the family's blocks
    # perturb the norms' weights so that their gradients are not all alike
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.add_(0.1 * torch.randn(p.shape, generator=generator))
    reference = model(input_ids=ids, labels=labels).loss
    reference.backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    loss = training_loss(model, ids, labels)
    loss.backward()
    assert abs(loss.item() - reference.item()) < 1e-5
    for name, p in model.named_parameters():
        scale = expected[name].abs().max().item()
        assert scale > 0, name
        assert (p.grad - expected[name]).abs().max().item() <= 1e-4 * scale, name


def test_supports_only_float32_on_cpu_with_untied_llama():
    assert not supports(_model(dtype=torch.float64))
    tied = _model()
    tied.config.tie_word_embeddings = True
    assert not supports(tied)
    assert not supports(torch.nn.Linear(2, 2))


def test_resolve_kernels_falls_back_where_fused_cannot_run():
    assert resolve_kernels("fused", "cpu", torch.float32) == "fused"
    assert resolve_kernels("fused", "cuda", torch.bfloat16) == "eager"
    assert resolve_kernels("fused", "cpu", torch.bfloat16) == "eager"
    assert resolve_kernels("eager", "cpu", torch.float32) == "eager"
    with pytest.raises(ValueError, match="kernels must be one of eager, fused"):
        resolve_kernels("fast", "cpu", torch.float32)


def test_fused_members_have_their_own_key_train_deterministically_and_learn(cache):
    spec, config = ModelSpec("tiny", 32, 1), tiny_config(steps=60)
    assert checkpoint_key(spec, config) != checkpoint_key(spec, config, kernels="fused")
    assert checkpoint_key(spec, config, kernels="eager") == checkpoint_key(spec, config)
    path = train_member(spec, config, progress=False, device="cpu", kernels="fused")
    assert path.name == checkpoint_key(spec, config, kernels="fused")
    info = json.loads((path / "training.json").read_text())
    assert info["kernels"] == "fused"
    assert info["curve"][-1]["val_loss"] < info["curve"][0]["val_loss"]
    first = {k: v.clone() for k, v in
             LlamaForCausalLM.from_pretrained(path).state_dict().items()}
    again = train_member(spec, config, progress=False, device="cpu", kernels="fused",
                         force=True)
    assert again == path
    second = LlamaForCausalLM.from_pretrained(path).state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
    eager = train_member(spec, config, progress=False, device="cpu")
    eager_info = json.loads((eager / "training.json").read_text())
    assert eager != path and eager_info["kernels"] == "eager"
    # another draw of the same recipe: a validation loss close to the eager run's
    assert abs(eager_info["curve"][-1]["val_loss"] - info["curve"][-1]["val_loss"]) < 0.1
