"""Search methods on a deterministic toy policy: correctness with a perfect verifier, budgets
respected exactly, whole chains only, exact token counts, determinism and config checks."""

import math
import random
from functools import cache

import pandas as pd
import pytest

from tests.toys import ToyPolicy
from ttc.config import ConfigError
from ttc.sampling import Completion
from ttc.search import (
    BeamConfig,
    DVTSConfig,
    LookaheadConfig,
    beam_search,
    best_of_n,
    dvts,
    method_config,
    resolve_width,
    run_search,
)
from ttc.tasks import TaskConfig, first_error, generate_problems, parse_answer, parse_steps
from ttc.verifiers import OracleVerifier, n_step_ends


@cache
def problems_of(min_ops: int = 1, max_ops: int = 8, n_per_ops: int = 2, seed: int = 0):
    return tuple(generate_problems(TaskConfig(min_ops=min_ops, max_ops=max_ops), "test",
                                   n_per_ops, seed))


def prompts_of(problems):
    return [p.prompt for p in problems]


class Recorder:
    """Wraps a step policy and adds up the tokens of every completion it returns."""

    def __init__(self, policy):
        self.policy, self.tokens = policy, 0

    def _count(self, completions):
        self.tokens += sum(c.n_tokens for c in completions)
        return completions

    def next_steps(self, *args):
        return self._count(self.policy.next_steps(*args))

    def complete(self, *args):
        return self._count(self.policy.complete(*args))


def resolve(config):
    return resolve_width(config.width, config.budget)


def assert_whole_chain(problem, candidate):
    """A returned candidate is a finished chain with one step per operation, fully scored."""
    assert candidate.finished
    assert len(parse_steps(candidate.text)) == problem.n_ops
    assert len(candidate.step_scores) == n_step_ends(candidate.text, True) == problem.n_ops


# ---------------------------------------------------------------------------------------------
# A perfect verifier leads search to the right chain.

@pytest.mark.parametrize("p_correct", [0.5, 0.7])
@pytest.mark.parametrize("width", [4, "sqrt"])
@pytest.mark.parametrize("method", ["beam", "dvts"])
def test_search_with_oracle_finds_the_correct_chain(method, width, p_correct):
    # A right 8-step chain has probability p**8 (1/256 at p = 0.5) when sampled whole; search
    # keeps a right prefix unless every child of every kept right chain goes wrong at once
    problems = problems_of()
    policy = ToyPolicy(list(problems), p_correct=p_correct)
    config = method_config(method, budget=16, width=width)
    results = (beam_search if method == "beam" else dvts)(
        prompts_of(problems), policy, OracleVerifier(problems), config)
    assert len(results) == len(problems)
    for problem, result in zip(problems, results, strict=True):
        assert result.answer == problem.answer
        assert result.chosen is not None
        assert parse_answer(result.chosen.text) == problem.answer
        assert first_error(problem, result.chosen.text) is None
        assert result.chosen.step_scores == (1.0,) * problem.n_ops
        # the oracle scores every right chain 1 and every wrong one 0
        for candidate in result.candidates:
            right = first_error(problem, candidate.text) is None
            assert candidate.value == float(right)


def test_oracle_beam_beats_best_of_n_on_long_chains():
    # With p_correct = 0.5 an 8-step chain is right with probability 1/256: best-of-16 rarely
    # samples one, step-level search with a perfect verifier almost always builds one.
    problems = problems_of(min_ops=8, max_ops=8, n_per_ops=6)
    verifier = OracleVerifier(problems)
    beam = run_search("beam", method_config("beam", budget=16), problems,
                      ToyPolicy(list(problems), 0.5), verifier, 1, 1)
    bon = run_search("best_of_n", method_config("best_of_n", budget=16), problems,
                     ToyPolicy(list(problems), 0.5), verifier, 1, 1)
    assert beam["chain_correct"].all()
    assert bon["correct"].sum() <= 2


# ---------------------------------------------------------------------------------------------
# Budgets are respected exactly.

@pytest.mark.parametrize("budget,width", [(16, 4), (16, "sqrt"), (9, 2), (7, 3), (5, 1)])
def test_beam_budget(budget, width):
    problems = problems_of()
    policy = ToyPolicy(list(problems), 0.5)
    config = method_config("beam", budget=budget, width=width)
    results = beam_search(prompts_of(problems), policy, OracleVerifier(problems), config)
    for problem, result in zip(problems, results, strict=True):
        assert result.cost.max_rows_per_round == budget
        assert result.cost.max_rollout_rows_per_round == 0
        assert len(result.candidates) + result.dropped == budget
        assert result.dropped == 0  # the toy never runs away
        assert result.cost.rounds == problem.n_ops
    # all queries run together: one call per round, with budget rows per still-open query
    n_ops = [p.n_ops for p in problems]
    assert policy.calls == [budget * sum(m > r for m in n_ops) for r in range(max(n_ops))]


@pytest.mark.parametrize("method", ["beam", "lookahead", "dvts"])
def test_rows_per_policy_call_one_problem_at_a_time(method):
    budget, width, k = 12, 2, 2
    params = {"budget": budget, "width": width} | ({"lookahead": k} if method == "lookahead"
                                                   else {})
    config = method_config(method, **params)
    for problem in problems_of(n_per_ops=1):
        policy = ToyPolicy([problem], 0.5)
        (result,) = run_search(method, config, [problem], policy, OracleVerifier([problem]),
                               1, 1).itertuples(index=False)
        m = problem.n_ops
        if method == "beam":
            expected = [budget] * m
        elif method == "dvts":
            expected = [(budget // width) * width] * m
        else:  # a main step of N rows, then min(k, steps left) greedy rollout calls of N rows
            n = budget // (k + 1)
            expected = [x for r in range(1, m + 1) for x in [n] * (1 + min(k, m - r))]
        assert policy.calls == expected, (method, m)
        assert result.n_candidates + result.dropped == (
            budget // width if method == "dvts" else budget // (k + 1) if method == "lookahead"
            else budget)


@pytest.mark.parametrize("budget,k", [(6, 1), (12, 2), (12, 3), (3, 2), (10, 1)])
def test_lookahead_budget(budget, k):
    problems = problems_of()
    policy = ToyPolicy(list(problems), 0.5)
    config = method_config("lookahead", budget=budget, lookahead=k, width=2)
    results = beam_search(prompts_of(problems), policy, OracleVerifier(problems), config)
    n = budget // (k + 1)
    for problem, result in zip(problems, results, strict=True):
        assert result.cost.max_rows_per_round == n
        assert result.cost.max_rows_per_round <= budget // (k + 1)
        assert result.cost.max_rollout_rows_per_round <= n * k
        # exactly: every open chain rolls out min(k, steps left after the first round) steps
        assert result.cost.max_rollout_rows_per_round == n * min(k, problem.n_ops - 1)
        assert len(result.candidates) + result.dropped == n


@pytest.mark.parametrize("budget,width", [(16, 4), (16, "sqrt"), (10, 3), (8, 1), (9, "sqrt")])
def test_dvts_budget(budget, width):
    problems = problems_of()
    config = method_config("dvts", budget=budget, width=width)
    m = 4 if width == "sqrt" and budget == 16 else 3 if width == "sqrt" else width
    results = dvts(prompts_of(problems), ToyPolicy(list(problems), 0.5), OracleVerifier(problems),
                   config)
    for result in results:
        assert len(result.candidates) == budget // m
        assert result.dropped == 0
        assert result.cost.max_rows_per_round == (budget // m) * m <= budget


def test_best_of_n_budget():
    problems = problems_of()
    results = best_of_n(prompts_of(problems), ToyPolicy(list(problems), 0.5),
                        OracleVerifier(problems), method_config("best_of_n", budget=11))
    for problem, result in zip(problems, results, strict=True):
        assert len(result.candidates) == 11 and result.dropped == 0
        assert result.cost.max_rows_per_round == 11 and result.cost.rounds == 1
        for candidate in result.candidates:
            assert_whole_chain(problem, candidate)


# ---------------------------------------------------------------------------------------------
# Every returned candidate is a whole chain, even at a tight step limit.

@pytest.mark.parametrize("method,params", [
    ("beam", {"budget": 8, "width": 2}),
    ("lookahead", {"budget": 8, "width": 2, "lookahead": 1}),
    ("lookahead", {"budget": 9, "width": 1, "lookahead": 2}),
    ("dvts", {"budget": 8, "width": 2}),
    ("dvts", {"budget": 9, "width": "sqrt"}),
])
@pytest.mark.parametrize("max_steps", [1, 2])
def test_tight_step_limit_returns_finished_chains_only(method, params, max_steps):
    problems = problems_of(min_ops=6, max_ops=8)
    config = method_config(method, max_steps=max_steps, **params)
    table = run_search(method, config, problems, ToyPolicy(list(problems), 0.5),
                       OracleVerifier(problems), 1, 1)
    results = {"beam": beam_search, "lookahead": beam_search, "dvts": dvts}[method](
        prompts_of(problems), ToyPolicy(list(problems), 0.5), OracleVerifier(problems), config)
    expected = {"beam": config.budget, "dvts": config.budget // resolve(config),
                "lookahead": config.budget // (params.get("lookahead", 0) + 1)}[method]
    for problem, result in zip(problems, results, strict=True):
        assert len(result.candidates) == expected
        assert result.cost.rounds == max_steps
        for candidate in result.candidates:
            assert_whole_chain(problem, candidate)
        if result.answer is not None:
            assert result.chosen in result.candidates
    assert (table["rounds"] == max_steps).all()
    assert table["answer"].notna().all()  # whole chains always have an answer


class Runaway:
    """The toy policy, except that a step (or a completion) runs away with probability
    ``p_runaway``: it ends in neither ``;`` nor ``<eos>``, as a model out of tokens would."""

    def __init__(self, problems, p_runaway: float):
        self.policy, self.p_runaway = ToyPolicy(list(problems), 0.5), p_runaway

    def _spoil(self, completions, seed):
        rng = random.Random(seed + 12345)
        return [Completion(c.text.rstrip(";") + "1", c.n_tokens, finished=False)
                if rng.random() < self.p_runaway else c for c in completions]

    def next_steps(self, prompts, prefixes, temperature, seed):
        return self._spoil(self.policy.next_steps(prompts, prefixes, temperature, seed), seed)

    def complete(self, prompts, prefixes, temperature, seed):
        return self._spoil(self.policy.complete(prompts, prefixes, temperature, seed), seed)


@pytest.mark.parametrize("method,params,slots", [
    ("best_of_n", {"budget": 12}, 12),
    ("beam", {"budget": 12, "width": 3}, 12),
    ("beam", {"budget": 12, "width": 3, "max_steps": 3}, 12),
    ("lookahead", {"budget": 12, "width": 2, "lookahead": 1}, 6),
    ("dvts", {"budget": 12, "width": 3}, 4),
    ("dvts", {"budget": 12, "width": 2, "max_steps": 3}, 6),
])
def test_runaway_chains_are_dropped_and_counted(method, params, slots):
    problems = problems_of()
    runner = {"best_of_n": best_of_n, "beam": beam_search, "lookahead": beam_search,
              "dvts": dvts}[method]
    results = runner(prompts_of(problems), Runaway(problems, 0.15), OracleVerifier(problems),
                     method_config(method, **params))
    assert sum(r.dropped for r in results) > 0  # the test exercises dropping
    for problem, result in zip(problems, results, strict=True):
        assert len(result.candidates) + result.dropped == slots
        for candidate in result.candidates:
            assert_whole_chain(problem, candidate)
        if result.candidates:
            assert result.chosen in result.candidates
            assert result.answer == parse_answer(result.chosen.text)
        else:
            assert result.answer is None and result.chosen is None


# ---------------------------------------------------------------------------------------------
# Token counts are exact.

def test_best_of_n_policy_tokens_exact():
    # ToyPolicy counts each step as its characters without the ';' plus one token (the ';' or
    # <eos>), so a whole chain of m steps with m - 1 separators costs len(text) + 1 tokens.
    problems = problems_of()
    results = best_of_n(prompts_of(problems), ToyPolicy(list(problems), 0.5),
                        OracleVerifier(problems), method_config("best_of_n", budget=8, seed=3))
    for problem, result in zip(problems, results, strict=True):
        texts = [c.text for c in result.candidates]
        assert len(texts) == 8
        expected = sum(len(t) + 1 for t in texts)
        # the same count written as characters + steps - separators
        assert expected == sum(len(t) + problem.n_ops - t.count(";") for t in texts)
        assert result.cost.policy_tokens == expected
        assert result.cost.verifier_tokens == expected  # each generated token read once


@pytest.mark.parametrize("method,params", [
    ("best_of_n", {"budget": 6}),
    ("beam", {"budget": 8, "width": 2}),
    ("lookahead", {"budget": 9, "width": 3, "lookahead": 2}),
    ("dvts", {"budget": 8, "width": 4, "max_steps": 3}),
])
def test_policy_tokens_match_every_generated_token(method, params):
    problems = problems_of()
    recorder = Recorder(ToyPolicy(list(problems), 0.5))
    table = run_search(method, method_config(method, **params), problems, recorder,
                       OracleVerifier(problems), policy_params=1000, verifier_params=10)
    assert recorder.tokens > 0
    assert table["policy_tokens"].sum() == recorder.tokens
    assert (table["verifier_tokens"] == table["policy_tokens"]).all()


# ---------------------------------------------------------------------------------------------
# Determinism.

@pytest.mark.parametrize("method", ["best_of_n", "beam", "lookahead", "dvts"])
def test_same_seed_same_table_other_seed_other_candidates(method):
    problems = problems_of()

    def table(seed):
        config = method_config(method, budget=8, seed=seed)
        return run_search(method, config, problems, ToyPolicy(list(problems), 0.5),
                          OracleVerifier(problems), 7, 3)

    def candidate_texts(seed):
        run = {"best_of_n": best_of_n, "beam": beam_search, "lookahead": beam_search,
               "dvts": dvts}[method]
        results = run(prompts_of(problems), ToyPolicy(list(problems), 0.5),
                      OracleVerifier(problems), method_config(method, budget=8, seed=seed))
        return [[c.text for c in r.candidates] for r in results]

    pd.testing.assert_frame_equal(table(0), table(0))
    assert candidate_texts(0) == candidate_texts(0)
    assert candidate_texts(0) != candidate_texts(1)
    assert not table(0).drop(columns="seed").equals(table(1).drop(columns="seed"))


# ---------------------------------------------------------------------------------------------
# Config validation and the run_search table.

@pytest.mark.parametrize("method,params,name", [
    ("beam", {"budget": 0}, "budget"),
    ("beam", {"budget": 8, "width": "wide"}, "width"),
    ("beam", {"budget": 8, "width": 0}, "width"),
    ("dvts", {"budget": 8, "width": "wide"}, "width"),
    ("beam", {"budget": 8, "beam_width": 2}, "beam_width"),
    ("best_of_n", {"budget": 8, "width": 2}, "width"),
    ("lookahead", {"budget": 2, "lookahead": 2}, "budget"),
    ("lookahead", {"budget": 8, "lookahead": 0}, "lookahead"),
    ("beam", {"budget": 8, "selection": "vote"}, "selection"),
    ("beam", {"budget": 8, "aggregation": "mean"}, "aggregation"),
    ("beam", {"budget": 8, "max_steps": 0}, "max_steps"),
    ("beam", {"budget": "8"}, "budget"),
])
def test_config_errors_name_the_parameter(method, params, name):
    with pytest.raises(ConfigError, match=f"'{name}'"):
        method_config(method, **params)


def test_unknown_method():
    with pytest.raises(ConfigError, match="'mcts'") as err:
        method_config("mcts", budget=4)
    assert "'beam'" in str(err.value)  # names what is allowed


def test_method_config_types_and_run_search_type_check():
    assert isinstance(method_config("lookahead", budget=4), LookaheadConfig)
    assert isinstance(method_config("beam", budget=4), BeamConfig)
    assert isinstance(method_config("dvts", budget=4, width="sqrt"), DVTSConfig)
    assert method_config("lookahead", budget=2, lookahead=1).budget == 2  # k + 1 is enough
    problems = problems_of(n_per_ops=1)[:2]
    with pytest.raises(TypeError, match="DVTSConfig"):
        run_search("dvts", method_config("beam", budget=4), problems,
                   ToyPolicy(list(problems)), OracleVerifier(problems), 1, 1)


def test_run_search_table():
    problems = problems_of(n_per_ops=1)
    policy_params, verifier_params = 12_345, 678
    table = run_search("beam", method_config("beam", budget=8, width="sqrt"), problems,
                       ToyPolicy(list(problems), 0.7), OracleVerifier(problems),
                       policy_params, verifier_params)
    for column in ("method", "budget", "width", "problem", "n_ops", "answer", "correct",
                   "chain_correct", "n_candidates", "dropped", "rounds", "policy_tokens",
                   "verifier_tokens", "policy_flops", "verifier_flops"):
        assert column in table.columns
    assert len(table) == len(problems)
    assert (table["method"] == "beam").all() and (table["budget"] == 8).all()
    assert (table["width"] == "sqrt").all()
    assert table["problem"].tolist() == list(range(len(problems)))
    assert table["n_ops"].tolist() == [p.n_ops for p in problems]
    assert (table["policy_tokens"] > 0).all()
    assert (table["policy_flops"] == 2 * policy_params * table["policy_tokens"]).all()
    assert (table["verifier_flops"] == 2 * verifier_params * table["verifier_tokens"]).all()
    assert (table["correct"] == [a == str(p.answer) for a, p in
                                 zip(table["answer"], problems, strict=True)]).all()
    assert table["chain_correct"].all()  # the oracle always finds the right chain here


def test_run_search_without_parameter_counts_has_no_flops():
    problems = problems_of(n_per_ops=1)[:2]
    table = run_search("best_of_n", method_config("best_of_n", budget=2), problems,
                       ToyPolicy(list(problems)), OracleVerifier(problems))
    assert table["policy_flops"].isna().all() and table["verifier_flops"].isna().all()
    assert (table["policy_tokens"] > 0).all()


# ---------------------------------------------------------------------------------------------
# The policy's likelihood is kept by the sampler: a search guided by it pays nothing more.

def tiny_policy_model():
    """A tiny random Llama over the arithmetic tokenizer (as tests/test_sampling.py's)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=19, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=128, pad_token_id=0, bos_token_id=1,
                         eos_token_id=2)
    return LlamaForCausalLM(config).eval()


def test_likelihood_of_a_partial_chain_is_the_sum_of_its_steps_kept_logprobs():
    """Chapter 5 charges the policy's likelihood 0 FLOPs: the step policy returns with every
    step the log-probability the sampler kept of its tokens, and summed over the steps of a
    chain so far they give the likelihood verifier's score (which re-reads the chain,
    teacher-forced) of every prefix, finished or not, to float precision. A random model
    also draws special tokens that decoding drops from the text (<pad>, <bos>, <unk>: a
    trained policy almost never does, 41 of chapter 3's 40,960 samples under `cpu`); there
    the kept log-probability is that of the tokens drawn, the verifier's that of the text,
    so those rows are left out."""
    from ttc.search import LMStepPolicy
    from ttc.tokenizer import build_tokenizer
    from ttc.verifiers import LikelihoodVerifier

    model, tokenizer = tiny_policy_model(), build_tokenizer()
    policy = LMStepPolicy(model, tokenizer, max_new_tokens=40, max_step_tokens=10)
    verifier = LikelihoodVerifier(model, tokenizer)
    prompts = [p.prompt for p in problems_of(1, 4, 3)] * 8
    prefixes, kept = [""] * len(prompts), [0.0] * len(prompts)
    open_, visible = [True] * len(prompts), [True] * len(prompts)
    compared = {False: 0, True: 0}  # unfinished, finished
    for round_index in range(3):
        rows = [i for i in range(len(prompts)) if open_[i]]
        steps = policy.next_steps([prompts[i] for i in rows], [prefixes[i] for i in rows],
                                  1.0, round_index)
        for i, step in zip(rows, steps, strict=True):
            if not (step.finished or step.stopped):  # a runaway step: search drops it
                open_[i] = False
                continue
            prefixes[i] += step.text
            kept[i] += step.logprob
            open_[i] = not step.finished
            visible[i] &= step.n_tokens == len(step.text) + step.finished  # <eos> not in text
            if visible[i]:
                (scores,) = verifier.step_scores([prompts[i]], [prefixes[i]], [step.finished])
                assert len(scores) == n_step_ends(prefixes[i], step.finished)
                assert math.log(scores[-1]) == pytest.approx(kept[i], rel=1e-5, abs=1e-5)
                compared[step.finished] += 1
    assert min(compared.values()) >= 10, compared  # finished and unfinished prefixes


def test_a_step_finished_in_two_generations_keeps_both_logprobs(monkeypatch):
    """A separator of several characters that a stop token only began is generated further;
    the step's kept log-probability is that of both pieces."""
    from dataclasses import replace

    from ttc.search import LMStepPolicy
    from ttc.tasks import ARITHMETIC
    from ttc.tokenizer import build_tokenizer

    policy = LMStepPolicy(None, build_tokenizer(), max_new_tokens=20, max_step_tokens=8,
                          task=replace(ARITHMETIC, separator="=;"))
    pieces = iter([[Completion("1+2;", 4, False, True, logprob=-1.25)],
                   [Completion("=;", 2, False, True, logprob=-0.5)]])
    monkeypatch.setattr(policy, "_generate", lambda *args, **kwargs: next(pieces))
    (step,) = policy.next_steps(["1+2="], [""], 1.0, 0)
    assert (step.text, step.n_tokens, step.stopped) == ("1+2;=;", 6, True)
    assert step.logprob == pytest.approx(-1.75)


def test_run_search_charges_a_verifier_at_n_zero_nothing():
    """By hand: 2·N per generated token for the policy, 0 for a verifier charged at N = 0
    (the policy's own likelihood, kept by the sampler), 2·N per read token otherwise."""
    problems = problems_of(n_per_ops=1)[:3]
    config = method_config("beam", budget=4, width=2)
    free = run_search("beam", config, problems, ToyPolicy(list(problems), 0.7),
                      OracleVerifier(problems), 1_000, 0)
    paid = run_search("beam", config, problems, ToyPolicy(list(problems), 0.7),
                      OracleVerifier(problems), 1_000, 50)
    for table in (free, paid):
        assert (table["policy_flops"] == [2 * 1_000 * t for t in table["policy_tokens"]]).all()
    assert (free["verifier_flops"] == 0.0).all()
    assert (paid["verifier_flops"] == [2 * 50 * t for t in paid["verifier_tokens"]]).all()
    assert (free["verifier_tokens"] == paid["verifier_tokens"]).all()  # still counted
