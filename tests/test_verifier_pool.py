"""Scoring on worker processes (ttc.verifiers.pool) gives what one process gives."""

from __future__ import annotations

import numpy as np
import pytest

from ttc.finetune import FinetuneConfig
from ttc.verifiers import (
    LikelihoodVerifier,
    OracleVerifier,
    generative_examples,
    load_generative_verifier,
    train_generative_verifier,
)
from ttc.verifiers.pool import ScorerSpec, batch_order, score_chains

from .test_verifiers_generative import toy_chains


def test_scorer_spec_rejects_unknown_kinds_and_missing_paths():
    with pytest.raises(ValueError, match="kind"):
        ScorerSpec("oracle")
    with pytest.raises(ValueError, match="path"):
        ScorerSpec("likelihood")
    assert ScorerSpec("checker").cost() == 1.0
    assert ScorerSpec("generative", "x", n_rationales=4, max_rationale_tokens=8).cost() == 9.0
    with pytest.raises(ValueError, match="per_trajectory"):
        ScorerSpec("likelihood", "x", per_trajectory=True)


def test_batch_order_is_the_memoised_order_without_repeats():
    keys = [("ab", "c", True), ("a", "b", False), ("ab", "c", True), ("a", "bb", True)]
    assert batch_order(keys) == [("a", "b", False), ("a", "bb", True), ("ab", "c", True)]


def test_pooled_scores_equal_one_process_for_any_worker_count(tiny_base, monkeypatch):
    """Likelihood, a GenRM-CoT with sampled rationales (seeded per batch) and the checker,
    each cut into three slices of whole batches: the same scores and token counts with one
    worker and with two, and the same as scoring in this process."""
    from ttc.family.train import load_member

    base, _ = tiny_base
    problems, samples = toy_chains("train", 10, 0)  # 20 chains
    examples = generative_examples(problems, samples, rationales=True)
    cot = train_generative_verifier(base, examples, FinetuneConfig(epochs=1, batch_size=8),
                                    progress=False, device="cpu")
    prompts = [problems[i].prompt for i in samples["problem"]]
    completions, finished = samples["completion"].tolist(), samples["finished"].tolist()
    specs = {"likelihood": ScorerSpec("likelihood", str(base)),
             "cot": ScorerSpec("generative", str(cot), n_rationales=2,
                               max_rationale_tokens=4, seed=3),
             "checker": ScorerSpec("checker")}
    runs = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("TTC_WORKERS", workers)
        runs[workers] = score_chains(specs, prompts, completions, finished, problems,
                                     slices=3, progress=False, batch=4)
    here = {"likelihood": LikelihoodVerifier(*load_member(base), batch_size=4),
            "cot": load_generative_verifier(cot, n_rationales=2, max_rationale_tokens=4,
                                            seed=3, device="cpu", batch_size=4),
            "checker": OracleVerifier(problems)}
    for name, judge in here.items():
        expected = judge.step_scores(prompts, completions, finished)
        for workers, result in runs.items():
            scores, tokens, seconds = result[name]
            assert len(scores) == len(prompts) and seconds >= 0
            for got, want in zip(scores, expected, strict=True):
                np.testing.assert_array_equal(got, want, err_msg=f"{name}, {workers} workers")
            if name != "checker":
                assert tokens == judge.tokens.total > 0
