"""The lean Llama decoder against transformers, and generation with any causal LM."""

from __future__ import annotations

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from ttc import fused_decode, lean_llama
from ttc.sampling import generate
from ttc.tokenizer import build_tokenizer


def tiny_llama(n_kv_heads: int = 2, seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=19, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=n_kv_heads, max_position_embeddings=128,
                         pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return LlamaForCausalLM(config).eval()


def left_padded(tokenizer, prompts):
    encoded = [tokenizer(p)["input_ids"] for p in prompts]
    width = max(map(len, encoded))
    ids = torch.zeros((len(prompts), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for r, e in enumerate(encoded):
        ids[r, width - len(e):] = torch.tensor(e)
        mask[r, width - len(e):] = 1
    return ids, mask


@pytest.mark.parametrize("n_kv_heads", [2, 1])
@torch.no_grad()
def test_lean_logits_match_transformers(n_kv_heads):
    model, tok = tiny_llama(n_kv_heads), build_tokenizer()
    ids, mask = left_padded(tok, ["12+34-5=", "5*6=", "99-98+7*3="])
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    decoder = lean_llama.LeanLlamaDecoder(model, ids, mask, max_new_tokens=4)
    lean = decoder.prefill(ids)
    ref = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[:, -1]
    torch.testing.assert_close(lean, ref, atol=1e-5, rtol=1e-4)
    # one decoding step: append a token and compare with a full forward over the longer input
    nxt = torch.tensor([5, 6, 7])
    lean = decoder.step(nxt)
    ids2 = torch.cat([ids, nxt[:, None]], 1)
    mask2 = torch.cat([mask, torch.ones(3, 1, dtype=torch.long)], 1)
    pos2 = (mask2.cumsum(-1) - 1).clamp(min=0)
    ref = model(input_ids=ids2, attention_mask=mask2, position_ids=pos2).logits[:, -1]
    torch.testing.assert_close(lean, ref, atol=1e-5, rtol=1e-4)


def test_lean_and_hf_backends_agree_on_greedy():
    model, tok = tiny_llama(), build_tokenizer()
    prompts = ["12+34-5=", "5*6=", "99-98+7*3=", "1=", "10+10+10+10="] * 3
    hf = generate(model, tok, prompts, max_new_tokens=20, backend="hf", batch_size=4)
    lean = generate(model, tok, prompts, max_new_tokens=20, backend="lean", batch_size=4)
    assert hf == lean


def test_lean_sampling_is_reproducible():
    model, tok = tiny_llama(), build_tokenizer()
    prompts = ["12+34=", "5*6="] * 8
    a = generate(model, tok, prompts, 16, temperature=1.0, seed=1, backend="lean")
    b = generate(model, tok, prompts, 16, temperature=1.0, seed=1, backend="lean")
    assert a == b


def test_any_causal_lm_uses_the_generic_path():
    torch.manual_seed(0)
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=19, n_embd=32, n_layer=1, n_head=2,
                                      n_positions=64, bos_token_id=1, eos_token_id=2)).eval()
    assert not lean_llama.supports(gpt2)
    tok = build_tokenizer()
    out = generate(gpt2, tok, ["12+3=", "4*5="], max_new_tokens=6)
    assert len(out) == 2 and all(1 <= c.n_tokens <= 6 for c in out)
    with pytest.raises(ValueError, match="backend 'lean'"):
        generate(gpt2, tok, ["1="], max_new_tokens=2, backend="lean")


def _problems():
    from ttc.tasks import TaskConfig, generate_problems

    return generate_problems(TaskConfig(min_ops=1, max_ops=2), "test", 3, seed=0)  # 6 problems


def test_draw_samples_is_tidy_cached_and_resumable(tmp_path, monkeypatch):
    from ttc import sampling
    from ttc.sampling import SampleSpec, draw_samples

    model, tok = tiny_llama(), build_tokenizer()
    problems = _problems()
    spec = SampleSpec(n_samples=5, max_new_tokens=12, problems_per_shard=2)

    monkeypatch.setenv("TTC_CACHE", str(tmp_path / "fresh"))
    reference = draw_samples(model, tok, "tiny", problems, spec, progress=False)
    assert len(reference) == len(problems) * 5
    assert list(reference.groupby("problem").size()) == [5] * len(problems)
    assert reference["correct"].dtype == bool  # garbage completions are wrong, not errors
    assert (reference["n_tokens"] <= 12).all()
    assert (reference["logprob"] < 0).all()  # the sampler's kept log-probability of each

    # interrupted after the first shard, then resumed: the same table
    monkeypatch.setenv("TTC_CACHE", str(tmp_path / "resumed"))
    real_generate, calls = sampling.generate, []

    def failing_generate(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(sampling, "generate", failing_generate)
    with pytest.raises(KeyboardInterrupt):
        draw_samples(model, tok, "tiny", problems, spec, progress=False)
    monkeypatch.setattr(sampling, "generate", real_generate)
    resumed = draw_samples(model, tok, "tiny", problems, spec, progress=False)
    import pandas as pd

    pd.testing.assert_frame_equal(resumed, reference)

    # cached: no generation at all on the next call
    def no_generate(*args, **kwargs):
        raise AssertionError("should come from the cache")

    monkeypatch.setattr(sampling, "generate", no_generate)
    again = draw_samples(model, tok, "tiny", problems, spec, progress=False)
    pd.testing.assert_frame_equal(again, reference)


def test_sample_spec_validation():
    from ttc.sampling import SampleSpec

    with pytest.raises(ValueError, match="n_samples"):
        SampleSpec(n_samples=0, max_new_tokens=4)
    with pytest.raises(ValueError, match="top_p"):
        SampleSpec(n_samples=1, max_new_tokens=4, top_p=1.5)


@pytest.mark.parametrize("backend", ["lean", "hf"])
def test_stop_tokens_end_a_row_and_stay_in_the_text(backend):
    model, tok = tiny_llama(), build_tokenizer()
    prompts = ["12+34-5=", "5*6=", "99-98+7*3="] * 4
    greedy = generate(model, tok, prompts, 24, temperature=0.0, backend=backend)
    # stop on the character greedy decoding writes most often, so the stop is exercised
    chars = "".join(c.text for c in greedy)
    stop = max(sorted(set(chars)), key=chars.count)
    out = generate(model, tok, prompts, 24, temperature=0.0, backend=backend,
                   stop_token_ids=[tok.convert_tokens_to_ids(stop)])
    for c, g in zip(out, greedy, strict=True):
        if c.stopped:  # ends right after the first stop character, which is kept
            assert c.text.endswith(stop) and c.text.count(stop) == 1 and not c.finished
            assert g.text.startswith(c.text) and c.n_tokens == len(c.text)
        else:  # no stop character before <eos> or the limit: the same as without stops
            assert stop not in c.text and c == g
    assert any(c.stopped for c in out)


def _reference_logits(model, ids, mask, appended):
    """transformers' next-token logits after ``appended`` (B, t) tokens follow the prompts."""
    ids = torch.cat([ids, appended], 1)
    mask = torch.cat([mask, torch.ones_like(appended)], 1)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[:, -1]


def test_prompt_groups_finds_each_distinct_prompt():
    tok = build_tokenizer()
    ids, mask = left_padded(tok, ["5*6=", "12+3=", "5*6=", "1=", "12+3=", "5*6="])
    first, group = lean_llama.prompt_groups(ids, mask)
    # brute force: rows i and j share a group exactly when their tokens and padding agree
    for i in range(6):
        assert torch.equal(ids[first[group[i]]], ids[i])
        for j in range(6):
            same = torch.equal(ids[i], ids[j]) and torch.equal(mask[i], mask[j])
            assert same == bool(group[i] == group[j])
    assert len(first) == 3 and sorted(first.tolist()) == [0, 1, 3]


def steps_match_transformers(decoder, model, ids, mask, appended, steps, generator):
    """Feed ``steps`` random tokens per row to ``decoder``, checking its logits against
    transformers' each time; returns the tokens appended so far."""
    for _ in range(steps):
        token = torch.randint(3, 19, (ids.shape[0],), generator=generator)
        appended = torch.cat([appended, token[:, None]], 1)
        torch.testing.assert_close(decoder.step(token),
                                   _reference_logits(model, ids, mask, appended),
                                   atol=1e-5, rtol=1e-4)
    return appended


@pytest.mark.parametrize(("decoder_kind", "n_kv_heads"),
                         [("eager", 2), ("eager", 1), ("compiled", 2)])
@torch.no_grad()
def test_shared_prompt_logits_match_transformers(decoder_kind, n_kv_heads):
    """The shared-prompt decoders, eager and compiled (ttc.fused_decode): prefill, steps, and
    steps after dropping rows, every row's logits are transformers' for its own tokens."""
    model, tok = tiny_llama(n_kv_heads), build_tokenizer()
    decoder_cls = {"eager": lean_llama.SharedPromptDecoder,
                   "compiled": fused_decode.FusedSharedDecoder}[decoder_kind]
    # three prompts of different lengths, repeated 4, 3 and 5 times, not all adjacent
    prompts = ["5*6="] * 4 + ["12+34-5="] * 2 + ["99-98+7*3="] * 5 + ["12+34-5="]
    ids, mask = left_padded(tok, prompts)
    decoder = decoder_cls(model, ids, mask, max_new_tokens=8)
    assert decoder.prompt_ids.shape[0] == 3
    torch.testing.assert_close(decoder.prefill(ids), _reference_logits(
        model, ids, mask, ids[:, :0]), atol=1e-5, rtol=1e-4)
    generator = torch.Generator().manual_seed(0)
    appended = steps_match_transformers(decoder, model, ids, mask, ids[:, :0], 4, generator)
    # drop rows: "5*6=" keeps 3 rows, "12+34-5=" none, "99-98+7*3=" 2 (unequal groups)
    keep = torch.tensor([0, 1, 3, 6, 9])
    decoder.keep_rows(keep)
    assert decoder.prompt_ids.shape[0] == 2
    assert sorted(torch.bincount(decoder.group).tolist()) == [2, 3]
    steps_match_transformers(decoder, model, ids[keep], mask[keep], appended[keep], 3,
                             generator)


def test_decoder_for_shares_prompts_only_when_they_repeat(monkeypatch):
    model, tok = tiny_llama(), build_tokenizer()
    distinct = ["12+34-5=", "5*6=", "99-98+7*3=", "1="]
    ids, mask = left_padded(tok, distinct)
    assert type(lean_llama.decoder_for(model, ids, mask, 4)) is lean_llama.LeanLlamaDecoder
    repeats = lean_llama.SHARE_MIN_ROWS_PER_PROMPT
    ids, mask = left_padded(tok, [p for p in distinct for _ in range(repeats)])
    assert type(lean_llama.decoder_for(model, ids, mask, 4)) is lean_llama.SharedPromptDecoder
    # the sampler's choice: on CPU in float32 the shared prompts' step is the compiled one ...
    chosen = fused_decode.decoder_for(model, ids, mask, 4)
    assert type(chosen) is fused_decode.FusedSharedDecoder
    # ... unless it is turned off, or the model has fewer key heads than query heads
    monkeypatch.setenv(fused_decode.ENV_VAR, "0")
    assert type(fused_decode.decoder_for(model, ids, mask, 4)) is lean_llama.SharedPromptDecoder
    monkeypatch.delenv(fused_decode.ENV_VAR)
    grouped = tiny_llama(n_kv_heads=1)
    assert (type(fused_decode.decoder_for(grouped, ids, mask, 4))
            is lean_llama.SharedPromptDecoder)
    distinct_ids, distinct_mask = left_padded(tok, distinct)  # too few repeats to share
    assert (type(fused_decode.decoder_for(model, distinct_ids, distinct_mask, 4))
            is lean_llama.LeanLlamaDecoder)


def test_shared_prompt_greedy_tokens_match_transformers(monkeypatch):
    model, tok = tiny_llama(n_kv_heads=1), build_tokenizer()
    monkeypatch.setattr(lean_llama, "SHARE_MIN_ROWS_PER_PROMPT", 1)  # every batch shares
    # 6 copies of each prompt: batches of 18 hold 6 of each, batches of 8 unequal groups
    prompts = ["12+34-5=", "5*6=", "99-98+7*3="] * 6
    hf = generate(model, tok, prompts, max_new_tokens=20, backend="hf", batch_size=18)
    for batch_size in (18, 8):
        lean = generate(model, tok, prompts, max_new_tokens=20, backend="lean",
                        batch_size=batch_size)
        assert lean == hf


def test_shared_prompt_sampling_is_reproducible_and_close_to_per_row(monkeypatch):
    model, tok = tiny_llama(), build_tokenizer()
    prompts = ["12+34=", "5*6=", "7-1="] * 8
    monkeypatch.setattr(lean_llama, "SHARE_MIN_ROWS_PER_PROMPT", 1)  # shared prompts
    a = generate(model, tok, prompts, 16, temperature=1.0, seed=1, backend="lean")
    b = generate(model, tok, prompts, 16, temperature=1.0, seed=1, backend="lean")
    c = generate(model, tok, prompts, 16, temperature=1.0, seed=2, backend="lean")
    assert a == b and a != c
    # the per-row loop draws from the same random stream with logits equal up to rounding:
    # a sample may differ only where rounding moves a draw across a token boundary (rare)
    monkeypatch.setattr(lean_llama, "SHARE_MIN_ROWS_PER_PROMPT", len(prompts) + 1)
    per_row = generate(model, tok, prompts, 16, temperature=1.0, seed=1, backend="lean")
    assert sum(x == y for x, y in zip(a, per_row, strict=True)) >= 0.9 * len(prompts)


@pytest.mark.parametrize("n_kv_heads", [2, 1])
@torch.no_grad()
def test_ragged_decoder_logits_match_each_row_alone(n_kv_heads):
    """Rows appending different numbers of tokens per call (none, one, a span), the buffers
    growing past their first capacity and rows dropped: every row's logits are those of a
    full forward pass over its own tokens alone."""
    model = tiny_llama(n_kv_heads)
    generator = torch.Generator().manual_seed(0)
    decoder = lean_llama.RaggedDecoder(model, batch=4, capacity=3)
    rows: list[list[int]] = [[], [], [], []]
    plan = [[2, 5, 1, 3], [1, 0, 4, 1], [3, 1, 1, 0], [0, 2, 1, 6]]  # call -> tokens per row
    for counts in [*plan, [1, 2, 1]]:
        if len(counts) == 3:  # drop row 1 before the last call
            decoder.keep_rows(torch.tensor([0, 2, 3]))
            del rows[1]
        tokens = torch.randint(3, 19, (len(rows), max(counts)), generator=generator)
        logits = decoder.feed(tokens, torch.tensor(counts))
        for r, count in enumerate(counts):
            rows[r] += tokens[r, :count].tolist()
            if count:  # a row fed nothing gets logits of no meaning
                alone = model(input_ids=torch.tensor([rows[r]])).logits[0, -1]
                torch.testing.assert_close(logits[r], alone, atol=1e-5, rtol=1e-4)
    assert decoder.lengths.tolist() == [len(r) for r in rows]
    assert decoder.keys[0].shape[2] >= max(map(len, rows)) > 3  # grew past its capacity


@pytest.mark.parametrize("backend", ["lean", "hf"])
@pytest.mark.parametrize("temperature", [1.0, 0.5])
@torch.no_grad()
def test_decoders_keep_the_untempered_logprob_of_what_they_sample(backend, temperature):
    """Each row's summed log-probability, kept by the sampler, equals a teacher-forced pass
    of the model over the prompt and the tokens it generated, up to and including the end
    token (untempered, at any sampling temperature)."""
    from ttc import sampling

    model, tok = tiny_llama(), build_tokenizer()
    ids, mask = left_padded(tok, ["12+34-5=", "5*6=", "99-98+7*3=", "1="])
    ends = torch.tensor([tok.eos_token_id])
    decode = sampling._decode_batch_lean if backend == "lean" else sampling._decode_batch
    generator = torch.Generator().manual_seed(3)
    tokens, logprob = decode(model, ids, mask, 12, temperature, 1.0, generator, ends,
                             tok.pad_token_id)
    for r in range(ids.shape[0]):
        row = tokens[r].tolist()
        end = next((j for j, t in enumerate(row) if t == tok.eos_token_id), len(row) - 1)
        generated = torch.tensor(row[: end + 1])
        prompt = ids[r][mask[r].bool()]
        full = torch.cat([prompt, generated])[None]
        logits = model(input_ids=full).logits[0, len(prompt) - 1 : -1]  # predicts generated
        expected = torch.log_softmax(logits.double(), -1).gather(-1, generated[:, None]).sum()
        assert float(logprob[r]) == pytest.approx(float(expected), rel=1e-4, abs=1e-4)


def test_generate_reports_the_logprob_and_equal_samples_compare_equal():
    model, tok = tiny_llama(), build_tokenizer()
    out = generate(model, tok, ["12+34="] * 4, 8, temperature=1.0, seed=2)
    assert all(c.logprob < 0 for c in out)  # a sum of log-probabilities of sampled tokens
    again = generate(model, tok, ["12+34="] * 4, 8, temperature=1.0, seed=2)
    assert out == again and [c.logprob for c in out] == [c.logprob for c in again]


def test_recorded_likelihood_and_likelihood_scored_read_the_kept_logprob(tmp_path,
                                                                         monkeypatch):
    """A table with the sampler's log-probabilities gives the likelihood without a model
    (``likelihood_scored`` never loads the policy); one without them, or with a gap, gives
    None."""
    import math

    import pandas as pd

    from ttc.policy_samples import KEPT, likelihood_scored, recorded_likelihood

    samples = pd.DataFrame({"problem": [0, 0], "n_ops": [1, 1], "sample": [0, 1],
                            "finished": [True, False], "n_tokens": [3, 5],
                            "answer": ["4", None], "correct": [True, False],
                            "completion": ["2+2", "xx"], "logprob": [-0.5, -3.0]})
    assert recorded_likelihood(samples) == pytest.approx([math.exp(-0.5), math.exp(-3.0)])
    assert recorded_likelihood(samples.drop(columns="logprob")) is None
    assert recorded_likelihood(samples.assign(logprob=[-0.5, float("nan")])) is None
    monkeypatch.setenv("TTC_CACHE", str(tmp_path))
    scored = likelihood_scored([], samples, tmp_path / "no-such-policy")
    assert list(scored.columns) == [*KEPT, "logprob", "likelihood"]
    assert scored["likelihood"].tolist() == pytest.approx([math.exp(-0.5), math.exp(-3.0)])
