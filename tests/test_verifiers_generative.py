"""Likelihood and generative verifiers: scores against hand-computed probabilities on tiny
models whose next-token logits are a lookup table, checker rationales by hand, the token
counts (hence FLOPs) of a K-rationale verification, agreement of the KV-cache scoring loop
with one teacher-forced pass of a real Llama, and training on a trivially separable toy: a
scalar-head PRM and a GenRM must both reach a high within-problem AUC."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from transformers.modeling_outputs import CausalLMOutputWithPast

from ttc.finetune import FinetuneConfig
from ttc.metrics import within_group_auc
from ttc.tasks import Problem, TaskConfig, generate_problems
from ttc.tokenizer import build_tokenizer
from ttc.verifiers import (
    VERDICT_TOKENS,
    GenerativeExample,
    GenerativeVerifier,
    LearnedVerifier,
    LikelihoodVerifier,
    VerifierExample,
    VerifierTokens,
    VerifierTrainConfig,
    add_verdict_tokens,
    checker_labels,
    checker_rationales,
    generative_examples,
    load_generative_verifier,
    load_verifier,
    n_step_ends,
    train_generative_verifier,
    train_verifier,
)
from ttc.verifiers.generative import (
    RATIONALE_CHARS,
    chain_steps,
    encode_steps,
    verdict_ids,
    verifier_document,
)

# 47+38-25*3= : 47+38=85;85-25=60;60*3=180
PROBLEM = Problem(47, (("+", 38), ("-", 25), ("*", 3)))
RIGHT = "47+38=85;85-25=60;60*3=180"


class Bigram(torch.nn.Module):
    """A causal LM whose next-token logits depend only on the current token (a lookup
    table), so every probability a verifier reads can be computed by hand. It takes (and
    ignores) a KV cache, like a ``transformers`` model."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = torch.nn.Parameter(table)

    def forward(self, input_ids, attention_mask=None, position_ids=None, use_cache=None,
                cache=None, **kwargs):
        return CausalLMOutputWithPast(logits=self.table[input_ids], cache=())


def verdict_tokenizer():
    tokenizer = build_tokenizer()
    ok, bad = add_verdict_tokens(tokenizer)
    return tokenizer, ok, bad


def verdict_llama(tiny_base):
    """The tiny random Llama with the verdict tokens added, and its tokenizer. The verdict
    tokens' output weights are drawn afresh (resizing may give both the same row, hence
    P(<ok>) = 1/2 everywhere), at a scale where a verdict competes with the rationale
    characters for the most likely next token and P(<ok>) ranges about 0.3 to 0.7."""
    from transformers import AutoModelForCausalLM

    base, _ = tiny_base
    tokenizer, ok, bad = verdict_tokenizer()
    model = AutoModelForCausalLM.from_pretrained(str(base))
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    torch.manual_seed(1)
    with torch.no_grad():
        model.lm_head.weight[[ok, bad]] = torch.randn(2, model.config.hidden_size) * 0.05
        model.get_input_embeddings().weight[[ok, bad]] = torch.randn(
            2, model.config.hidden_size) * 0.02
    return model.eval(), tokenizer


def ids(tokenizer, chars: str) -> list[int]:
    return tokenizer.convert_tokens_to_ids(list(chars))


# -- tokenizer ----------------------------------------------------------------------------------

def test_verdict_tokens_extend_a_copy_and_leave_the_family_vocabulary_alone():
    family = build_tokenizer().get_vocab()
    tokenizer, ok, bad = verdict_tokenizer()
    assert (ok, bad) == (len(family), len(family) + 1)  # appended after the alphabet
    assert {k: v for k, v in tokenizer.get_vocab().items() if k not in VERDICT_TOKENS} == family
    assert add_verdict_tokens(tokenizer) == (ok, bad)  # idempotent
    assert build_tokenizer().get_vocab() == family  # a fresh family tokenizer has no verdicts
    assert tokenizer("12+5=<ok>", add_special_tokens=False)["input_ids"][-1] == ok


# -- checker rationales and documents -------------------------------------------------------------

@pytest.mark.parametrize("completion,finished,expected", [
    (RIGHT, True, ["47+38=85", "85-25=60", "60*3=180"]),
    # each rationale continues from the chain's own previous result
    ("47+38=85;85-25=61;61*3=183", True, ["47+38=85", "85-25=60", "61*3=183"]),
    ("47+38=86;86-25=61", True, ["47+38=85", "86-25=61"]),
    ("47+38=85;garbage;60*3=180", True, ["47+38=85", "85-25=60", ""]),  # after a malformed step
    (RIGHT + ";180+1=181", True, ["47+38=85", "85-25=60", "60*3=180", ""]),  # past the last op
    ("47+38=85;85-", False, ["47+38=85"]),  # an unterminated tail has no step end
    ("", True, ["47+38=85"]),
    ("", False, []),
])
def test_checker_rationales(completion, finished, expected):
    rationales = checker_rationales(PROBLEM, completion, finished)
    assert rationales == expected
    assert len(rationales) == n_step_ends(completion, finished)
    # the checker's verdict: every step so far equals its rationale (and, at <eos>, complete)
    steps = [s.rstrip(";") for s in chain_steps(completion, finished)]
    verdicts = checker_labels(PROBLEM, completion, finished)
    running = True
    for i, (step, note) in enumerate(zip(steps, rationales, strict=True)):
        running = running and note != "" and step == note
        complete = not (finished and i == len(steps) - 1) or i + 1 == PROBLEM.n_ops
        assert verdicts[i] == float(running and complete), (completion, i)


def test_generative_examples_from_samples():
    samples = pd.DataFrame({"problem": [0, 0], "completion": [RIGHT, "47+38=85;85-25=61;"],
                            "finished": [True, False], "correct": [True, False]})
    plain, cot = (generative_examples([PROBLEM], samples, r) for r in (False, True))
    assert plain[0] == GenerativeExample(PROBLEM.prompt, RIGHT, True, (True, True, True), None)
    assert plain[1].verdicts == (True, False) and not plain[1].finished
    assert cot[1].rationales == ("47+38=85", "85-25=60")


def test_verifier_document_layout():
    tokenizer, ok, bad = verdict_tokenizer()
    example = GenerativeExample("12+5-3=", "12+5=17;17-3=15", True, (True, False),
                                ("12+5=17", "17-3=14"))
    document, written = verifier_document(tokenizer, example)
    expected = ([tokenizer.bos_token_id] + ids(tokenizer, "12+5-3=") + ids(tokenizer, "12+5=17;")
                + ids(tokenizer, "12+5=17") + [ok] + ids(tokenizer, "17-3=15")
                + [tokenizer.eos_token_id] + ids(tokenizer, "17-3=14") + [bad])
    assert document == expected
    assert written == ([False] * 16 + [True] * 8 + [False] * 8 + [True] * 8)
    plain = GenerativeExample("12+5-3=", "12+5=17;17-3=15", True, (True, False))
    document, written = verifier_document(tokenizer, plain)
    assert document == ([tokenizer.bos_token_id] + ids(tokenizer, "12+5-3=12+5=17;") + [ok]
                        + ids(tokenizer, "17-3=15") + [tokenizer.eos_token_id, bad])
    assert sum(written) == 2
    with pytest.raises(ValueError, match="1 verdicts for 2 step ends"):
        verifier_document(tokenizer, GenerativeExample("12+5-3=", "12+5=17;17-3=15", True,
                                                       (True,)))


# -- scoring against hand-computed probabilities --------------------------------------------------

def test_likelihood_scores_by_hand():
    tokenizer = build_tokenizer()
    vocab = len(tokenizer)  # 19
    table = torch.zeros(vocab, vocab)
    table[tokenizer.convert_tokens_to_ids("="), tokenizer.convert_tokens_to_ids("1")] = math.log(9)
    # after "=": "1" has probability 9 / (18 + 9) = 1/3; every other step is uniform, 1/19
    verifier = LikelihoodVerifier(Bigram(table), tokenizer)
    prompts, completions, finished = ["12+5-3="] * 3, ["12+5=17;17-3=14", "12+5=17;17-3=14",
                                                       "12+5=17;1"], [True, False, False]
    scores = verifier.step_scores(prompts, completions, finished)
    third, other = 1 / 3, 1 / 19
    # token by token, each given the one before: "1" (after "=") 1/3, "2+5=" 1/19 each,
    # "1" (after "=") 1/3, "7;" 1/19 each: the first step ends at ";"
    first = third * other**4 * third * other**2
    # then "17-3=" 1/19 each, "1" (after "=") 1/3, "4" 1/19, <eos> 1/19
    chain = first * other**5 * third * other**2
    np.testing.assert_allclose(scores[0], [first, chain], rtol=1e-5)
    np.testing.assert_allclose(scores[1], [first], rtol=1e-5)  # not finished: no <eos> score
    np.testing.assert_allclose(scores[2], [first], rtol=1e-5)  # the tail has no step end
    assert verifier.tokens == VerifierTokens(read=24 + 23 + 17, written=0)
    mean = LikelihoodVerifier(Bigram(table), tokenizer, reduction="mean")
    (s,) = mean.step_scores(prompts[:1], completions[:1], finished[:1])
    np.testing.assert_allclose(s, [first ** (1 / 8), chain ** (1 / 16)], rtol=1e-5)
    with pytest.raises(ValueError, match="reduction"):
        LikelihoodVerifier(Bigram(table), tokenizer, reduction="max")


def verdict_table(tokenizer, ok: int, bad: int) -> torch.Tensor:
    table = torch.zeros(len(tokenizer), len(tokenizer))
    sep, eos = tokenizer.convert_tokens_to_ids(";"), tokenizer.eos_token_id
    table[sep, ok] = math.log(3)  # after ";": P(<ok>) / (P(<ok>) + P(<bad>)) = 3/4
    table[eos, bad] = math.log(4)  # after <eos>: 1/5
    return table


def test_genrm_verdict_scores_by_hand():
    tokenizer, ok, bad = verdict_tokenizer()
    verifier = GenerativeVerifier(Bigram(verdict_table(tokenizer, ok, bad)), tokenizer)
    assert verifier.kind == "genrm"
    prompts = ["12+5-3=", "12+5-3=", "1+1=", "12+5-3="]
    completions = ["12+5=17;17-3=14", "12+5=17;17-3=14;", "1+1=2", "12+5="]
    finished = [True, False, True, False]
    scores = verifier.step_scores(prompts, completions, finished)
    # the running product of verdict probabilities, <ok> fed after each verdict
    np.testing.assert_allclose(scores[0], [0.75, 0.75 * 0.2], rtol=1e-6)
    np.testing.assert_allclose(scores[1], [0.75, 0.75**2], rtol=1e-6)
    np.testing.assert_allclose(scores[2], [0.2], rtol=1e-6)
    assert scores[3].shape == (0,)
    # tokens: every chain token read once (<bos>, prompt, steps, <eos>), one verdict per step
    # end; the last chain has no step end: nothing to verify, nothing read
    assert verifier.tokens == VerifierTokens(read=24 + 24 + 11, written=2 + 2 + 1)
    again = verifier.step_scores(prompts[:1], completions[:1], finished[:1])
    np.testing.assert_array_equal(again[0], scores[0])
    assert verifier.tokens.total == 59 + 5  # a memoised chain costs nothing


def test_genrm_cot_tokens_and_flops_by_hand():
    """K = 4 rationale trajectories of a two-step chain: the rationale after each step end
    is "7=" (two tokens, nearly certain), then a verdict (P(<ok>) : P(<bad>) = 3 : 1)."""
    tokenizer, ok, bad = verdict_tokenizer()
    table = torch.zeros(len(tokenizer), len(tokenizer))
    sep, eos = tokenizer.convert_tokens_to_ids(";"), tokenizer.eos_token_id
    seven, equals = tokenizer.convert_tokens_to_ids(["7", "="])
    table[sep, seven] = table[eos, seven] = 50.0
    table[seven, equals] = 50.0
    table[equals, ok], table[equals, bad] = 50.0, 50.0 - math.log(3)
    verifier = GenerativeVerifier(Bigram(table), tokenizer, n_rationales=4,
                                  max_rationale_tokens=24, temperature=1.0, seed=3)
    assert verifier.kind == "genrm-cot"
    (scores,) = verifier.step_scores(["12+5-3="], ["12+5=17;17-3=14"], [True])
    np.testing.assert_allclose(scores, [0.75, 0.75**2], rtol=1e-6)
    # per trajectory: read <bos> + 7 prompt + 15 completion + <eos> = 24 tokens;
    # write 2 step ends x (2 rationale tokens + 1 verdict) = 6 tokens
    assert verifier.tokens == VerifierTokens(read=4 * 24, written=4 * 6)
    assert verifier.tokens.flops(1000) == 2 * 1000 * 120

    # a rationale that never ends is cut at max_rationale_tokens, then judged
    table[seven, equals], table[seven, seven] = 0.0, 50.0
    table[seven, ok] = math.log(2)  # read at the cut: P(<ok>) : P(<bad>) = 2 : 1
    capped = GenerativeVerifier(Bigram(table), tokenizer, n_rationales=2,
                                max_rationale_tokens=5)
    (scores,) = capped.step_scores(["1+1="], ["1+1=2"], [True])
    np.testing.assert_allclose(scores, [2 / 3], rtol=1e-6)
    assert capped.tokens == VerifierTokens(read=2 * 11, written=2 * (5 + 1))


def test_generative_verifier_rejects_bad_settings():
    tokenizer, ok, bad = verdict_tokenizer()
    model = Bigram(verdict_table(tokenizer, ok, bad))
    with pytest.raises(ValueError, match="n_rationales must be 1"):
        GenerativeVerifier(model, tokenizer, n_rationales=4)  # no rationales, nothing to vary
    with pytest.raises(ValueError, match="n_rationales must be >= 1"):
        GenerativeVerifier(model, tokenizer, n_rationales=0, max_rationale_tokens=8)
    with pytest.raises(ValueError, match="verdict tokens"):
        GenerativeVerifier(model, build_tokenizer())


def test_genrm_scoring_loop_matches_one_teacher_forced_pass(tiny_base):
    """GenRM's one teacher-forced pass and GenRM-CoT's KV-cache loop (left-padded prompts of
    different lengths, one token per row per pass; with no rationale to write here) give the
    verdict probabilities of a full forward pass over each document alone, with <ok> after
    every step, on a random Llama."""
    model, tokenizer = verdict_llama(tiny_base)
    ok, bad = verdict_ids(tokenizer)
    chains = [(PROBLEM.prompt, RIGHT, True), ("12+5-3=", "12+5=17;17-3=15;", False),
              ("1+1=", "1+1=3", True)]
    verifier = GenerativeVerifier(model, tokenizer, batch_size=8)
    scores = verifier.step_scores(*map(list, zip(*chains, strict=True)))
    plans = [encode_steps(tokenizer, *chain) for chain in chains]
    lockstep = verifier._trajectories(plans, [0] * len(plans))  # no rationale here
    for got, loop in zip(scores, lockstep, strict=True):
        np.testing.assert_allclose(got, loop, rtol=1e-4)
    for (prompt, completion, done), got in zip(chains, scores, strict=True):
        n = n_step_ends(completion, done)
        document, _ = verifier_document(
            tokenizer, GenerativeExample(prompt, completion, done, (True,) * n))
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([document])).logits[0]
        where = [i - 1 for i, t in enumerate(document) if t == ok]  # predicts each verdict
        p_ok = torch.sigmoid(logits[where, ok] - logits[where, bad]).double().numpy()
        np.testing.assert_allclose(got, np.cumprod(p_ok), rtol=1e-4)


@torch.no_grad()
def greedy_cot_one_chain(model, tokenizer, chain, limit: int):
    """GenRM-CoT with greedy rationales written the slow, plain way: one chain alone, one
    full forward pass (no cache) per token written. Returns the running products, the tokens
    read and written (as :class:`VerifierTokens` counts them) and how many rationales were
    cut at ``limit``."""
    ok, bad = tokenizer.convert_tokens_to_ids(list(VERDICT_TOKENS))
    rationale = set(tokenizer.convert_tokens_to_ids(list(RATIONALE_CHARS)))
    prompt, steps = encode_steps(tokenizer, *chain)
    document, read, written, cut = list(prompt), len(prompt) if steps else 0, 0, 0
    running, scores = 1.0, []
    for i, step in enumerate(steps):
        document += [ok, *step] if i else step
        read += len(step)
        for thought in range(limit + 1):
            logits = model(input_ids=torch.tensor([document])).logits[0, -1]
            written += 1
            token = int(logits.argmax())
            if token in rationale and thought < limit:
                document.append(token)
                continue
            cut += thought == limit
            running *= float(torch.sigmoid(logits[ok] - logits[bad]))
            scores.append(running)
            break
    return scores, read, written, cut


COT_CHAINS = [(PROBLEM.prompt, RIGHT, True),  # three steps
              ("12+5-3=", "12+5=17;17-3=15;", False),  # two
              ("1+1=", "1+1=3", True),  # one
              ("12+5-3=", "12+5=", False),  # none: nothing to verify
              ("9*9-1+2=", "9*9=81;81-1=80;80+2=82;82*1=82", True)]  # four


@pytest.mark.parametrize("lean", [True, False])
def test_genrm_cot_greedy_matches_one_chain_at_a_time(tiny_base, monkeypatch, lean):
    """Greedy rationales (temperature 0) in batched rounds, on the lean decoder or the
    full-pass fallback, give each chain the step scores and token counts of writing its
    rationales alone with full forward passes; chains of 0 to 4 steps, rationales both
    ended by the model and cut at max_rationale_tokens."""
    from ttc import lean_llama

    model, tokenizer = verdict_llama(tiny_base)
    if not lean:
        monkeypatch.setattr(lean_llama, "supports", lambda model: False)
    limit = 3
    verifier = GenerativeVerifier(model, tokenizer, n_rationales=1, max_rationale_tokens=limit,
                                  temperature=0.0, batch_size=8)
    scores = verifier.step_scores(*map(list, zip(*COT_CHAINS, strict=True)))
    expected = [greedy_cot_one_chain(model, tokenizer, chain, limit) for chain in COT_CHAINS]
    for got, (want, _, _, _) in zip(scores, expected, strict=True):
        assert len(got) == len(want)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    assert verifier.tokens == VerifierTokens(read=sum(e[1] for e in expected),
                                             written=sum(e[2] for e in expected))
    n_verdicts = sum(len(e[0]) for e in expected)
    cut = sum(e[3] for e in expected)
    assert 0 < cut < n_verdicts  # both kinds of rationale end are exercised


def test_genrm_cot_sampling_is_seeded_per_chain(tiny_base):
    """Sampled rationales (temperature 1): the same seed gives the same scores, another seed
    others, and a chain's scores do not depend on which chains share its batch."""
    model, tokenizer = verdict_llama(tiny_base)

    def scores(chains, seed=0, batch_size=8):
        verifier = GenerativeVerifier(model, tokenizer, n_rationales=3, max_rationale_tokens=6,
                                      seed=seed, batch_size=batch_size)
        return verifier.step_scores(*map(list, zip(*chains, strict=True)))

    together = scores(COT_CHAINS)
    for got, want in zip(scores(COT_CHAINS), together, strict=True):
        np.testing.assert_array_equal(got, want)
    alone = [scores([chain], batch_size=1)[0] for chain in COT_CHAINS]
    for got, want in zip(alone, together, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    other = scores(COT_CHAINS, seed=1)
    assert any(not np.allclose(a, b) for a, b in zip(other, together, strict=True))


def test_genrm_cot_trajectories_serve_every_smaller_k(tiny_base):
    """With ``per_trajectory`` each chain's scores are (K, steps), one row per rationale
    trajectory, and the mean of the first k rows is exactly what the same verifier with
    ``n_rationales = k`` gives (to float32 rounding: the batches differ): one pass at the
    largest K serves every smaller K."""
    model, tokenizer = verdict_llama(tiny_base)
    chains = list(map(list, zip(*COT_CHAINS, strict=True)))

    def verifier(k, per_trajectory=False):
        return GenerativeVerifier(model, tokenizer, n_rationales=k, max_rationale_tokens=6,
                                  seed=3, per_trajectory=per_trajectory)

    full = verifier(4, per_trajectory=True).step_scores(*chains)
    assert all(s.ndim == 2 and s.shape[0] == 4 for s in full)
    for k in (1, 2, 4):
        for got, want in zip(full, verifier(k).step_scores(*chains), strict=True):
            np.testing.assert_allclose(got[:k].mean(axis=0), want, rtol=0, atol=1e-6)
    assert any(not np.allclose(s[0], s[1]) for s in full if s.shape[1])  # they do differ


def test_genrm_cot_samples_rationales_with_the_model_probabilities():
    """After each step end the verifier writes the rationale "7" or goes straight to its
    verdict, each with probability 1/2; the verdict read right after the step end is
    certainly <ok>, after "7" <ok> or <bad> equally. So a one-step chain's score averages 1
    and 1/2 equally over K trajectories (mean 3/4), and K plus twice the "7"s is exactly
    the tokens written."""
    tokenizer, ok, bad = verdict_tokenizer()
    table = torch.zeros(len(tokenizer), len(tokenizer))
    eos, seven = tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("7")
    table[eos, seven] = table[eos, ok] = 50.0
    table[seven, ok] = table[seven, bad] = 50.0
    k = 400
    verifier = GenerativeVerifier(Bigram(table), tokenizer, n_rationales=k,
                                  max_rationale_tokens=4, seed=5)
    (score,) = verifier.step_scores(["1+1="], ["1+1=2"], [True])
    thought = round(2 * k * (1 - score[0]))  # trajectories that wrote "7" (score 1/2)
    assert verifier.tokens.written == k + thought
    assert abs(score[0] - 0.75) < 4 * 0.25 / math.sqrt(k)  # four standard errors


# -- training on a trivially separable toy ------------------------------------------------------

def toy_chains(split: str, n_per_ops: int, seed: int) -> tuple[list[Problem], pd.DataFrame]:
    """Addition chains (every value positive), each once right and once with its final result
    negated (``...=-123``): a difference a verifier can see without doing arithmetic."""
    problems = generate_problems(TaskConfig(max_ops=2, ops="+"), split, n_per_ops, seed)
    rows = []
    for i, problem in enumerate(problems):
        head, _, last = problem.solution.rpartition("=")
        rows += [{"problem": i, "completion": problem.solution, "finished": True,
                  "correct": True},
                 {"problem": i, "completion": f"{head}=-{last}", "finished": True,
                  "correct": False}]
    return problems, pd.DataFrame(rows)


def toy_auc(verifier, problems, samples) -> float:
    scores = verifier.step_scores([problems[i].prompt for i in samples["problem"]],
                                  samples["completion"].tolist(), samples["finished"].tolist())
    return within_group_auc(samples["problem"], samples["correct"], [s[-1] for s in scores])


def test_scalar_head_learns_a_separable_toy(tiny_base):
    base, _ = tiny_base
    problems, samples = toy_chains("train", 24, 0)
    examples = [VerifierExample(problems[r.problem].prompt, r.completion, True,
                                tuple(checker_labels(problems[r.problem], r.completion, True)))
                for r in samples.itertuples()]
    config = VerifierTrainConfig(epochs=12, batch_size=16, lr=3e-3, val_frac=0.0)
    verifier = load_verifier(train_verifier(base, examples, config, "prm", progress=False,
                                            device="cpu"), device="cpu")
    assert isinstance(verifier, LearnedVerifier)
    test_problems, test_samples = toy_chains("test", 12, 1)
    assert toy_auc(verifier, test_problems, test_samples) >= 0.95


def test_genrm_learns_a_separable_toy_and_is_cached(tiny_base, monkeypatch):
    import ttc.verifiers.generative_train as train_module

    base, cache = tiny_base
    problems, samples = toy_chains("train", 24, 0)
    examples = generative_examples(problems, samples, rationales=False)
    config = FinetuneConfig(epochs=12, batch_size=16, lr=3e-3, val_frac=0.25)
    path = train_generative_verifier(base, examples, config, progress=False, device="cpu")
    assert path.is_relative_to(cache) and path.name.startswith("genrm-")
    verifier = load_generative_verifier(path, device="cpu")
    assert verifier.kind == "genrm" and verifier.max_rationale_tokens == 0
    test_problems, test_samples = toy_chains("test", 12, 1)
    assert toy_auc(verifier, test_problems, test_samples) >= 0.95

    def no_training(*args, **kwargs):
        raise AssertionError("retrained a cached verifier")

    monkeypatch.setattr(train_module, "_tensors", no_training)
    assert train_generative_verifier(base, examples, config, progress=False,
                                     device="cpu") == path


def test_train_generative_verifier_rejects_mixed_examples(tiny_base):
    base, _ = tiny_base
    plain = GenerativeExample(PROBLEM.prompt, RIGHT, True, (True, True, True))
    cot = GenerativeExample(PROBLEM.prompt, RIGHT, True, (True, True, True),
                            ("47+38=85", "85-25=60", "60*3=180"))
    with pytest.raises(ValueError, match="all have rationales"):
        train_generative_verifier(base, [plain, cot], FinetuneConfig(epochs=1),
                                  progress=False, device="cpu")
    with pytest.raises(ValueError, match="at least one"):
        train_generative_verifier(base, [], FinetuneConfig(epochs=1), progress=False,
                                  device="cpu")
