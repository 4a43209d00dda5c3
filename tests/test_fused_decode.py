"""The compiled decoding step (ttc.fused_decode) against transformers and brute force (its
logits against transformers' are checked in tests/test_sampling.py, with the eager step's)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from tests.test_sampling import left_padded, steps_match_transformers, tiny_llama
from ttc import fused_decode, lean_llama
from ttc.sampling import generate
from ttc.tokenizer import build_tokenizer


@pytest.fixture(autouse=True)
def kernel_cache(tmp_path_factory, monkeypatch):
    """One scratch cache for the whole module, so each shape compiles once."""
    monkeypatch.setenv("TTC_CACHE", str(tmp_path_factory.getbasetemp() / "fused-cache"))


@pytest.fixture
def one_thread():
    """One torch thread, as the book's sampling workers run (ttc.parallel): with more, MKL
    and torch split a batch's rows between threads, and a row's rounding depends on the
    split."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _rotate(x, cos, sin):
    """The model's rotary embedding of x (..., Dh): pairs i and i + Dh/2."""
    half = x.shape[-1] // 2
    return np.concatenate([x[..., :half] * cos - x[..., half:] * sin,
                           x[..., half:] * cos + x[..., :half] * sin], axis=-1)


@pytest.mark.parametrize(("heads", "dim"), [(3, 8), (2, 16)])
def test_attention_kernels_match_brute_force(heads, dim):
    """Scores and weighted sums of the generated kernels against plain numpy, on random
    caches with a padded prompt and rows of two prompts."""
    rng = np.random.default_rng(0)
    rows, groups, width, capacity, length = 5, 2, 4, 7, 3
    f4 = np.float32
    qkv = rng.standard_normal((rows, 3, dim, heads)).astype(f4)
    angles = rng.uniform(0, 3, (rows, dim // 2)).astype(f4)
    cos, sin = np.cos(angles), np.sin(angles)
    keys = rng.standard_normal((rows, capacity, dim, heads)).astype(f4)
    values = rng.standard_normal((rows, capacity, dim, heads)).astype(f4)
    prompt_keys = rng.standard_normal((groups, width, dim, heads)).astype(f4)
    prompt_values = rng.standard_normal((groups, width, dim, heads)).astype(f4)
    bias = np.zeros((groups, width), f4)
    bias[1, 0] = -np.inf  # prompt 1 is left-padded
    group = np.array([0, 1, 1, 0, 1], dtype=np.int64)
    old_keys, old_values = keys.copy(), values.copy()
    scores = np.empty((rows, heads, width + length + 1), f4)
    scores_kernel, weighted_kernel = fused_decode.attention_kernels(heads, dim)
    scores_kernel(qkv, cos, sin, keys, values, length, prompt_keys, bias, group, scores)
    out = np.empty((rows, dim, heads), f4)
    probs = torch.softmax(torch.from_numpy(scores), -1).numpy()
    weighted_kernel(probs, values, length, prompt_values, group, out)
    for b in range(rows):
        g = group[b]
        for h in range(heads):
            query = _rotate(qkv[b, 0, :, h], cos[b], sin[b]) / math.sqrt(dim)
            key = _rotate(qkv[b, 1, :, h], cos[b], sin[b])
            np.testing.assert_allclose(keys[b, length, :, h], key, rtol=1e-5, atol=1e-6)
            np.testing.assert_array_equal(values[b, length, :, h], qkv[b, 2, :, h])
            own = np.concatenate([old_keys[b, :length, :, h], key[None]])  # (length+1, Dh)
            expected = np.concatenate([prompt_keys[g, :, :, h] @ query + bias[g], own @ query])
            np.testing.assert_allclose(scores[b, h], expected, rtol=1e-5, atol=1e-5)
            weights = np.exp(expected - expected.max())
            weights /= weights.sum()
            own_values = np.concatenate([old_values[b, :length, :, h],
                                         qkv[b, 2, :, h][None]])
            mixed = weights[:width] @ prompt_values[g, :, :, h] + weights[width:] @ own_values
            np.testing.assert_allclose(out[b, :, h], mixed, rtol=1e-4, atol=1e-5)
    # the rows' caches are untouched outside position ``length``
    np.testing.assert_array_equal(np.delete(keys, length, axis=1),
                                  np.delete(old_keys, length, axis=1))


def test_rms_norm_matches_the_models():
    model = tiny_llama()
    norm = model.model.layers[0].input_layernorm
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
    x = torch.randn(6, 32)
    out = np.empty((6, 32), np.float32)
    fused_decode.rms_norm(x.numpy(), norm.weight.detach().numpy(), norm.variance_epsilon, out)
    torch.testing.assert_close(torch.from_numpy(out), norm(x).detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("rows", [1, 3, 4, 9])
def test_rms_norm_rows_at_once_round_as_one_row_at_a_time(rows):
    """The norm sums four rows' squares at once; each row's result is bit-identical to the
    row normalised alone (the one-row path), whatever the number of rows."""
    rng = np.random.default_rng(rows)
    x = rng.standard_normal((rows, 48), dtype=np.float32) * 3
    weight = rng.uniform(0.5, 1.5, 48).astype(np.float32)
    together, alone = np.empty_like(x), np.empty_like(x)
    fused_decode.rms_norm(x, weight, 1e-6, together)
    for i in range(rows):
        fused_decode.rms_norm(x[i:i + 1], weight, 1e-6, alone[i:i + 1])
    assert np.array_equal(together, alone)


@torch.no_grad()
def test_fused_rows_kept_out_of_order_keep_their_caches():
    """keep_rows with rows not in increasing order (copied, not moved in place)."""
    model, tok = tiny_llama(), build_tokenizer()
    prompts = ["5*6="] * 3 + ["99-98+7*3="] * 3
    ids, mask = left_padded(tok, prompts)
    decoder = fused_decode.FusedSharedDecoder(model, ids, mask, max_new_tokens=6)
    decoder.prefill(ids)
    generator = torch.Generator().manual_seed(1)
    appended = steps_match_transformers(decoder, model, ids, mask, ids[:, :0], 2, generator)
    keep = torch.tensor([4, 0, 5])
    decoder.keep_rows(keep)
    steps_match_transformers(decoder, model, ids[keep], mask[keep], appended[keep], 2,
                             generator)


def test_keeps_in_place_only_where_no_source_is_overwritten():
    keeps = fused_decode.keeps_in_place
    assert keeps(np.array([0, 2, 5]))  # increasing
    assert keeps(np.array([0, 0, 2, 0]))  # copies of a row that stays
    assert keeps(np.array([5, 1, 1, 5]))  # copies of a row past the new end (4 rows)
    assert not keeps(np.array([1, 0]))  # row 0 is overwritten before row 1 reads it
    assert not keeps(np.array([2, 0, 1]))
    # brute force: wherever it says yes, one pass in place equals a copy out of place
    rng = np.random.default_rng(0)
    for _ in range(300):
        rows = rng.integers(0, 8, size=rng.integers(1, 8))
        if not keeps(rows):
            continue
        source = rng.standard_normal((8, 5, 2, 2), dtype=np.float32)
        expected = np.empty_like(source)
        fused_decode.gather_rows(source, rows, 3, expected, False)
        fused_decode.gather_rows(source, rows, 3, source, True)
        assert np.array_equal(source[:len(rows), :3], expected[:len(rows), :3])


def test_state_slots_copy_only_forks_and_rows_moved_into_holes():
    from ttc.sampling import _state_slots

    # old rows 0-5; states 1 and 4 ended, 2 forks into three, 5 sits past the new end (5)
    parent = torch.tensor([0, 2, 2, 2, 3, 5])[:5]  # five states: 0, 2, 2, 2, 3
    rows, slot = _state_slots(parent)
    assert rows[slot].tolist() == parent.tolist()  # every state reads its parent's row
    assert slot[[0, 1, 4]].tolist() == [0, 2, 3]  # first children keep their parent's row
    assert sorted(slot.tolist()) == list(range(5))
    assert fused_decode.keeps_in_place(rows.numpy())
    parent = torch.tensor([0, 7, 7])  # row 7 lies past the new end: it moves, its fork too
    rows, slot = _state_slots(parent)
    assert rows[slot].tolist() == [0, 7, 7] and sorted(slot.tolist()) == [0, 1, 2]
    assert fused_decode.keeps_in_place(rows.numpy())
    rng = np.random.default_rng(1)
    for _ in range(200):
        parent = torch.from_numpy(np.sort(rng.integers(0, 12, size=rng.integers(1, 12))))
        rows, slot = _state_slots(parent)
        assert torch.equal(rows[slot], parent)
        assert sorted(slot.tolist()) == list(range(len(parent)))
        assert fused_decode.keeps_in_place(rows.numpy())
        # copies: a row is written only for a fork or a parent moved from past the end
        moved = int((rows != torch.arange(len(rows))).sum())
        forks = len(parent) - len(torch.unique(parent))
        assert moved <= forks + int((torch.unique(parent) >= len(parent)).sum())


@torch.no_grad()
def test_fused_rows_fork_with_their_caches():
    """keep_rows with repeated rows (a sampled state continued by several tokens): every
    copy carries its parent's caches, in place or not, and steps on as transformers does."""
    model, tok = tiny_llama(), build_tokenizer()
    prompts = ["5*6="] * 3 + ["99-98+7*3="] * 3
    ids, mask = left_padded(tok, prompts)
    generator = torch.Generator().manual_seed(2)
    for keep in (torch.tensor([0, 2, 4, 2, 4, 4]), torch.tensor([5, 1, 1])):
        decoder = fused_decode.FusedSharedDecoder(model, ids, mask, max_new_tokens=6)
        decoder.prefill(ids)
        appended = steps_match_transformers(decoder, model, ids, mask, ids[:, :0], 2,
                                            generator)
        decoder.keep_rows(keep)
        steps_match_transformers(decoder, model, ids[keep], mask[keep], appended[keep], 2,
                                 generator)
    with pytest.raises(ValueError, match="7 rows, but the caches hold 6"):
        decoder.keep_rows(torch.zeros(7, dtype=torch.long))


def test_fused_step_of_a_row_does_not_depend_on_the_other_rows(one_thread):
    """With at least MIN_STEP_ROWS rows (on one thread), a row's logits are bit-identical
    whatever rows share its batch, which lets the sampler step each distinct history
    once."""
    from ttc.sampling import MIN_STEP_ROWS

    model, tok = tiny_llama(), build_tokenizer()
    ids, mask = left_padded(tok, ["5*6="] * 4 + ["12+34-5="] * 5)
    full = fused_decode.FusedSharedDecoder(model, ids, mask, max_new_tokens=4)
    full.prefill(ids)
    tokens = torch.tensor([3, 4, 5, 6, 7, 8, 9, 10, 11])
    reference = full.step(tokens)
    for rows in ([0, 1, 2, 3], [1, 5, 6, 8], [2, 3, 4, 5, 6, 7, 8]):
        assert len(rows) >= MIN_STEP_ROWS
        part = fused_decode.FusedSharedDecoder(model, ids, mask, max_new_tokens=4)
        part.prefill(ids)
        part.keep_rows(torch.tensor(rows))
        assert torch.equal(part.step(tokens[rows]), reference[rows])


def test_sampling_steps_each_distinct_history_once(monkeypatch, one_thread):
    """Merging rows with equal histories changes no sample and no log-probability (the
    same random stream, each row its own draw), and steps fewer rows."""

    model, tok = tiny_llama(), build_tokenizer()
    monkeypatch.setattr(lean_llama, "SHARE_MIN_ROWS_PER_PROMPT", 1)
    prompts = ["12+34=", "5*6="] * 12
    stepped = []
    step = fused_decode.FusedSharedDecoder.step

    def counting_step(self, tokens):
        stepped.append(len(tokens))
        return step(self, tokens)

    monkeypatch.setattr(fused_decode.FusedSharedDecoder, "step", counting_step)
    # temperature 0.3: samples of a prompt often agree on their first tokens; max_new_tokens
    # short enough that no row finishes early (a batch of under 4 rows rounds otherwise)
    merged = generate(model, tok, prompts, 6, temperature=0.3, seed=4, backend="lean")
    merged_rows = sum(stepped)
    monkeypatch.setattr(fused_decode.FusedSharedDecoder, "forks_rows", False)
    stepped.clear()
    every = generate(model, tok, prompts, 6, temperature=0.3, seed=4, backend="lean")
    assert [(c.text, c.n_tokens, c.logprob) for c in merged] == \
        [(c.text, c.n_tokens, c.logprob) for c in every]
    assert merged_rows < sum(stepped)


def test_fused_greedy_tokens_match_transformers(monkeypatch):
    model, tok = tiny_llama(), build_tokenizer()
    monkeypatch.setattr(lean_llama, "SHARE_MIN_ROWS_PER_PROMPT", 1)  # every batch shares
    prompts = ["12+34-5=", "5*6=", "99-98+7*3="] * 6
    hf = generate(model, tok, prompts, max_new_tokens=20, backend="hf", batch_size=18)
    for batch_size in (18, 8):
        assert generate(model, tok, prompts, max_new_tokens=20, backend="lean",
                        batch_size=batch_size) == hf


def test_fused_sampling_is_reproducible_and_close_to_the_eager_step(monkeypatch):
    model, tok = tiny_llama(), build_tokenizer()
    prompts = ["12+34=", "5*6=", "7-1="] * 8
    monkeypatch.setattr(lean_llama, "SHARE_MIN_ROWS_PER_PROMPT", 1)
    a = generate(model, tok, prompts, 16, temperature=1.0, seed=1, backend="lean")
    assert a == generate(model, tok, prompts, 16, temperature=1.0, seed=1, backend="lean")
    monkeypatch.setenv(fused_decode.ENV_VAR, "0")  # the eager shared step, same random stream
    eager = generate(model, tok, prompts, 16, temperature=1.0, seed=1, backend="lean")
    assert sum(x == y for x, y in zip(a, eager, strict=True)) >= 0.9 * len(prompts)


def test_supports_only_float32_cpu_models_with_a_key_head_per_query_head(monkeypatch):
    assert fused_decode.supports(tiny_llama())
    assert not fused_decode.supports(tiny_llama(n_kv_heads=1))
    assert not fused_decode.supports(tiny_llama().double())
    wide = LlamaForCausalLM(LlamaConfig(vocab_size=19, hidden_size=512, intermediate_size=64,
                                        num_hidden_layers=1, num_attention_heads=8,
                                        num_key_value_heads=8))
    assert not fused_decode.supports(wide)  # 8 heads of 64: kept on the eager step
    monkeypatch.setenv(fused_decode.ENV_VAR, "0")
    assert not fused_decode.supports(tiny_llama())
    with pytest.raises(ValueError, match="FusedSharedDecoder needs"):
        ids, mask = left_padded(build_tokenizer(), ["5*6="] * 2)
        fused_decode.FusedSharedDecoder(tiny_llama(), ids, mask, 4)


def test_kernel_module_is_written_once_and_named_by_its_source():
    path = fused_decode.kernel_module(2, 16)
    assert path.read_text() == fused_decode.kernel_source(2, 16)
    stamp = path.stat().st_mtime_ns
    assert fused_decode.kernel_module(2, 16) == path and path.stat().st_mtime_ns == stamp
    assert fused_decode.kernel_module(3, 8) != path


def test_samples_name_the_fused_step_in_their_key(monkeypatch):
    """Samples of the compiled step and of the eager one never share a cache entry."""
    from types import SimpleNamespace

    from ttc import sampling
    from ttc.tasks import ARITHMETIC

    model = tiny_llama()
    problems = [SimpleNamespace(prompt=p) for p in ("5*6=", "12+3=")]
    spec = sampling.SampleSpec(n_samples=2, max_new_tokens=8)
    fused = sampling._sample_key(model, "m", problems, spec, "lean", ARITHMETIC)
    # what the other sampled artifacts (labels, searches, revision chains) put in their keys
    assert sampling.decoder_name() == sampling.decoder_name(model) == fused_decode.SAMPLE_KEY
    monkeypatch.setenv(fused_decode.ENV_VAR, "0")
    eager = sampling._sample_key(model, "m", problems, spec, "lean", ARITHMETIC)
    assert fused != eager
    assert sampling.decoder_name() == sampling.decoder_name(model) == "lean-shared"
