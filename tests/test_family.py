"""The model family: specs, packing, training, caching, save/load, generation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ttc.family import train as train_mod
from ttc.family.specs import SPECS, ModelSpec, count_parameters, get_spec, spec_parameters
from ttc.family.train import IGNORE, TrainConfig, load_member, packed_blocks, train_member
from ttc.sampling import generate
from ttc.tasks import TaskConfig
from ttc.tokenizer import build_tokenizer

TINY_TASK = TaskConfig(min_ops=1, max_ops=2)


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TTC_CACHE", str(tmp_path))
    return tmp_path


def tiny_config(**kw) -> TrainConfig:
    base = dict(steps=30, batch_size=4, block_size=64, lr=3e-3, eval_every=10, n_val_blocks=4,
                task=TINY_TASK)
    return TrainConfig(**{**base, **kw})


def test_family_spans_thirty_x_in_non_embedding_parameters():
    vocab = len(build_tokenizer())
    n = {name: spec_parameters(SPECS[name], vocab)["non_embedding"] for name in SPECS}
    cpu = ["f32x2", "f48x2", "f64x3", "f96x3", "f128x4"]
    assert n[cpu[-1]] / n[cpu[0]] >= 30
    assert n["f256x8"] / n["f32x2"] >= 100
    assert all(n[a] < n[b] for a, b in zip(cpu[:-1], cpu[1:], strict=True))


def test_non_embedding_count_matches_hand_count():
    spec = ModelSpec("t", 32, 2)
    d, ff = 32, 128
    per_layer = 4 * d * d + 3 * d * ff + 2 * d  # attention, SwiGLU MLP, two RMSNorms
    assert spec_parameters(spec, 19)["non_embedding"] == 2 * per_layer + d  # + final norm


def test_bad_spec_and_name():
    with pytest.raises(ValueError, match="multiple of 16"):
        ModelSpec("bad", 40, 2)
    with pytest.raises(ValueError, match="unknown family member 'f1'; allowed: f32x2"):
        get_spec("f1")


def test_packed_blocks_mask_prompts_and_are_deterministic():
    cfg = tiny_config()
    ids, labels = packed_blocks(cfg, "train", 3, seed=5)
    ids2, _ = packed_blocks(cfg, "train", 3, seed=5)
    assert ids.shape == labels.shape == (3, 64)
    np.testing.assert_array_equal(ids, ids2)
    tok = build_tokenizer()
    flat_ids, flat_labels = ids.ravel(), labels.ravel()
    # every <bos> and every prompt character is masked; every solution token and <eos> is not
    assert (flat_labels[flat_ids == tok.bos_token_id] == IGNORE).all()
    assert (flat_labels[flat_ids == tok.eos_token_id] == tok.eos_token_id).all()
    text = tok.decode(flat_ids[: list(flat_ids).index(tok.eos_token_id)], skip_special_tokens=True)
    prompt_len = text.index("=") + 1  # the prompt ends at its '='
    assert (flat_labels[1 : 1 + prompt_len] == IGNORE).all()
    assert (flat_labels[1 + prompt_len : 1 + len(text)] != IGNORE).all()


def test_recipe_tokens():
    assert tiny_config(steps=10).tokens == 10 * 4 * 64


def test_bad_train_config_names_parameter():
    with pytest.raises(ValueError, match="'steps'"):
        TrainConfig(steps=0)


def test_training_lowers_loss_and_checkpoint_round_trips(cache):
    spec = ModelSpec("tiny", 32, 1)
    path = train_member(spec, tiny_config(steps=60), progress=False)
    info = json.loads((path / "training.json").read_text())
    curve = info["curve"]
    assert curve[-1]["val_loss"] < curve[0]["val_loss"]
    assert info["D"] == 60 * 4 * 64 and info["train_flops"] == 6 * info["N"] * info["D"]

    model, tokenizer = load_member(path)  # through AutoModelForCausalLM / AutoTokenizer
    assert type(model).__name__ == "LlamaForCausalLM"
    assert count_parameters(model)["non_embedding"] == info["N"]
    assert tokenizer("12+3=")["input_ids"] == build_tokenizer()("12+3=")["input_ids"]

    # cached: a second call returns the same folder without training again
    stamp = (path / "training.json").stat().st_mtime
    assert train_member(spec, tiny_config(steps=60), progress=False) == path
    assert (path / "training.json").stat().st_mtime == stamp


def test_interrupted_training_leaves_no_checkpoint(cache, monkeypatch):
    spec = ModelSpec("tiny", 32, 1)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_mod.LlamaForCausalLM, "save_pretrained", boom)
    with pytest.raises(KeyboardInterrupt):
        train_member(spec, tiny_config(steps=2), progress=False)
    # no final checkpoint, no temporary folder: only the state a rerun resumes from
    leftovers = [p.name for p in (cache / "checkpoints").iterdir()]
    assert len(leftovers) == 1 and leftovers[0].endswith(".resume"), leftovers


def _tiny_model():
    torch.manual_seed(0)
    tok = build_tokenizer()
    model = train_mod.LlamaForCausalLM(ModelSpec("t", 32, 1).llama_config(len(tok), 64))
    return model, tok


def test_generation_is_reproducible_and_counts_tokens():
    model, tok = _tiny_model()
    prompts = ["12+34=", "5*6=", "12+34="] * 3
    a = generate(model, tok, prompts, max_new_tokens=12, temperature=1.0, seed=3, batch_size=4)
    b = generate(model, tok, prompts, max_new_tokens=12, temperature=1.0, seed=3, batch_size=4)
    c = generate(model, tok, prompts, max_new_tokens=12, temperature=1.0, seed=4, batch_size=4)
    assert a == b and a != c
    for comp in a:
        assert 1 <= comp.n_tokens <= 12
        assert comp.finished or comp.n_tokens == 12


def test_greedy_batch_matches_one_by_one():
    """Left padding and the KV cache do not change greedy outputs."""
    model, tok = _tiny_model()
    prompts = ["12+34-5=", "5*6=", "99-98+7*3="]
    batched = generate(model, tok, prompts, max_new_tokens=10)
    single = [generate(model, tok, [p], max_new_tokens=10)[0] for p in prompts]
    assert batched == single


def test_generation_rejects_bad_arguments():
    model, tok = _tiny_model()
    with pytest.raises(ValueError, match="temperature"):
        generate(model, tok, ["1+2="], max_new_tokens=4, temperature=-1)
    with pytest.raises(ValueError, match="top_p"):
        generate(model, tok, ["1+2="], max_new_tokens=4, top_p=0)
