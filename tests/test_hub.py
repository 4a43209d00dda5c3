"""Hub models through the pipeline, end to end on tiny models saved like hub checkpoints: a
Llama fitted to the word-problem fixture (plain prompts) and a random Qwen2 with a chat
template, each with a byte-level BPE tokenizer. Sampling, a verifier scoring pass, search,
chapter 3 from the command line, and the one-line failures."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
import torch

from tests.toys import WORD_PROBLEMS, fit_to_fixture, tiny_hub_model
from ttc import cli
from ttc.hub import load_policy, load_scorer, model_key, render_prompts
from ttc.sampling import SampleSpec, draw_samples
from ttc.search import BeamConfig, BestOfNConfig, LMStepPolicy, run_search
from ttc.steps import n_step_ends
from ttc.tasks.word_problems import GSM8K, MATH, answers_match, load_word_problems

SMALL = ["--set", "n_problems_per_ops=1", "--set", "n_samples=4", "--set", "hard_n_problems=1",
         "--set", "hard_n_samples=4", "--set", "max_new_tokens=128", "--set", "batch_size=0"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """``{"llama": folder, "qwen2": folder}``; one thread (a busy machine is faster so)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("hub")
    folders = {"llama": fit_to_fixture(tiny_hub_model(root / "llama", "llama")),
               "qwen2": tiny_hub_model(root / "qwen2", "qwen2")}
    yield folders
    torch.set_num_threads(threads)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TTC_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def fixture_problems():
    return load_word_problems(str(WORD_PROBLEMS))[1]


def test_policies_load_with_their_prompt_format(models, fixture_problems):
    llama, llama_tok = load_policy(str(models["llama"]))
    qwen, qwen_tok = load_policy(str(models["qwen2"]))
    assert type(llama).__name__ == "LlamaForCausalLM" and llama_tok.padding_side == "left"
    assert type(qwen).__name__ == "Qwen2ForCausalLM"
    plain = render_prompts(fixture_problems[:1], llama_tok, GSM8K)[0]
    assert plain.prompt.startswith("Question: ")  # no chat template: the plain format
    chat = render_prompts(fixture_problems[:1], qwen_tok, GSM8K)[0]
    assert chat.prompt.startswith("<|im_start|>user\nSolve the problem step by step")
    assert chat.prompt.endswith("<|im_start|>assistant\n") and chat.question in chat.prompt
    assert qwen_tok.eos_token == "<|im_end|>"  # a chat model's turn ends its completion
    assert model_key(str(models["llama"])) != model_key(str(models["qwen2"]))


def test_sampler_grades_word_problems(models, fixture_problems, cache):
    model, tokenizer = load_policy(str(models["llama"]))
    problems = render_prompts(fixture_problems, tokenizer, GSM8K)
    greedy = draw_samples(model, tokenizer, "llama", problems,
                          SampleSpec(n_samples=1, max_new_tokens=80, temperature=0.0),
                          progress=False, task=GSM8K)
    # the fitted model writes the reference solutions: graded right by math-verify
    assert greedy["correct"].sum() >= 12
    for row in greedy.itertuples():
        assert row.correct == (row.finished and answers_match(problems[row.problem].answer,
                                                              row.answer))
    qwen, qwen_tok = load_policy(str(models["qwen2"]))
    sampled = draw_samples(qwen, qwen_tok, "qwen2", render_prompts(fixture_problems[:4],
                                                                  qwen_tok, GSM8K),
                           SampleSpec(n_samples=3, max_new_tokens=16), progress=False,
                           task=GSM8K)
    assert len(sampled) == 12 and not sampled["correct"].any()  # garbage is wrong, no crash
    assert (sampled["n_tokens"] <= 16).all()


def test_verifier_scoring_pass(models, fixture_problems):
    scorer = load_scorer(str(models["qwen2"]), GSM8K.separator)
    _, tokenizer = load_policy(str(models["qwen2"]))
    problems = render_prompts(fixture_problems[:3], tokenizer, GSM8K)
    completions = [p.solution for p in problems] + ["half a line", ""]
    prompts = [p.prompt for p in problems] + [problems[0].prompt] * 2
    finished = [True, True, False, False, True]
    scores = scorer.step_scores(prompts, completions, finished)
    for text, done, s in zip(completions, finished, scores, strict=True):
        assert len(s) == n_step_ends(text, done, "\n")
        assert ((s > 0) & (s < 1)).all()
    # the same chain scores the same, alone or in a batch
    again = scorer.step_scores(prompts[:1], completions[:1], finished[:1])
    assert again[0] == pytest.approx(scores[0])


def test_search_on_word_problems(models, fixture_problems):
    model, tokenizer = load_policy(str(models["llama"]))
    problems = render_prompts(fixture_problems[:2], tokenizer, GSM8K)
    policy = LMStepPolicy(model, tokenizer, max_new_tokens=80, max_step_tokens=40,
                          batch_size=64, task=GSM8K)
    scorer = load_scorer(str(models["qwen2"]), GSM8K.separator)
    beam = run_search("beam", BeamConfig(budget=4, width=2, max_steps=5, temperature=0.0),
                      problems, policy, scorer, policy_params=1, verifier_params=1)
    assert beam["correct"].all()  # greedy steps of the fitted model: its solutions
    assert beam["chain_correct"].isna().all()  # word problems have no step oracle
    assert (beam["policy_tokens"] > 0).all() and (beam["rounds"] >= 2).all()
    best = run_search("best_of_n", BestOfNConfig(budget=3, temperature=1.0), problems,
                      policy, scorer)
    for row, problem in zip(best.itertuples(), problems, strict=True):
        assert row.correct == answers_match(problem.answer, row.answer)


def test_steps_with_a_two_character_separator_are_whole(models, fixture_problems):
    model, tokenizer = load_policy(str(models["qwen2"]))
    problems = render_prompts(fixture_problems[:4], tokenizer, MATH)
    policy = LMStepPolicy(model, tokenizer, max_new_tokens=64, max_step_tokens=12, task=MATH)
    steps = policy.next_steps([p.prompt for p in problems] * 4, [""] * 16, 1.0, seed=3)
    for step in steps:
        if step.stopped:  # a step ends only once the blank line is whole
            assert "\n\n" in step.text and not step.finished
        assert step.n_tokens <= 12 or not (step.finished or step.stopped)


def test_chapter_3_runs_hub_models_from_the_command_line(models, cache, tmp_path):
    out = tmp_path / "out"
    code = cli.main(["run", "03_sampling", "--profile", "llm",
                     "--set", f"model={models['llama']}",
                     "--set", f"larger_models=[{models['qwen2']}]",
                     "--set", f"data={WORD_PROBLEMS}", *SMALL, "--out", str(out)])
    assert code == 0
    greedy = pd.read_csv(out / "greedy.csv")
    assert list(dict.fromkeys(greedy["model"])) == ["llama", "qwen2"]
    assert greedy[greedy["model"] == "llama"]["correct"].all()  # fitted: solves its fixture
    per_problem = pd.read_csv(out / "per_problem.csv")
    assert len(per_problem) == 2 * 3 and per_problem["c_chain"].isna().all()
    assert set(pd.read_csv(out / "per_k.csv")["k"]) == {1, 2, 4}


@pytest.mark.parametrize(("args", "message"), [
    ([], "no data set at 'openai/gsm8k': give data="),
    (["--set", f"data={WORD_PROBLEMS}", "--set", "model=/no/such/model",
      "--set", "larger_models=[]"], "cannot load model '/no/such/model'"),
])
def test_llm_profile_without_model_or_data_fails_in_one_line(args, message, cache, capsys,
                                                             monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # no hub library, as here
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert cli.main(["run", "03_sampling", "--profile", "llm", *args]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and message in errors[0]


def test_family_only_chapters_refuse_under_llm(cache, capsys):
    assert cli.main(["run", "05_search", "--profile", "llm"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("ttc: error: chapter 05_search does not run under profile llm (its entry "
                   "is false: it needs the trained model family); chapters that run under "
                   "llm: 01_accounting, 03_sampling")
    assert cli.main(["run", "03_sampling", "--profile", "llm", "--set", "model=",
                     ]) == 2  # YAML null is not a model
    assert cli.main(["run", "03_sampling", "--profile", "llm", "--set", "model=''",
                     "--set", "data=''", "--set", "larger_models=[]"]) == 2
    err = capsys.readouterr().err
    assert "03_sampling with these parameters reads 02_family: chapter 02_family does not " \
           "run under profile llm" in err
