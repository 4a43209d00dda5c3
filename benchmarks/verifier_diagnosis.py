"""Diagnose the learned verifiers where checking is easiest (issue 12, part 1).

Chapter 4's scalar-head verifiers separate right from wrong answers of one problem at chance
(docs/benchmarks.md). This is the controlled check: one- and two-operation problems only, a
scalar-head PRM trained on the *exact* step labels (no Monte-Carlo noise), and the knobs that
could hide a defect varied one at a time (learning rate, epochs, frozen body against full
fine-tune), next to the verifiers that need no head: the policy's own likelihood, and the
generative verifiers (GenRM, GenRM-CoT) trained on the same chains and labels. Every row is
scored on the same test chains; AUCs come with 95% bootstrap intervals over problems.

The policy and every verifier's base is a family member trained with the ``cpu`` profile's
recipe (taken from the cache when the ``cpu`` book has been built; otherwise trained here,
about two minutes for ``f48x2``). Everything else is cached by config hash, so a second run
only scores. Prints a markdown table. Not a test: it reports, it asserts nothing.

    PYTHONPATH=src .venv/bin/python benchmarks/verifier_diagnosis.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from ttc.family.specs import get_spec
from ttc.family.train import TrainConfig, load_member, train_member, training_info
from ttc.finetune import FinetuneConfig, fit, split_examples
from ttc.metrics import roc_auc, within_group_auc
from ttc.sampling import SampleSpec, draw_samples
from ttc.tasks import TaskConfig, generate_problems
from ttc.verifiers import (
    LearnedVerifier,
    LikelihoodVerifier,
    OracleVerifier,
    VerifierTrainConfig,
    checker_examples,
    generative_examples,
    load_generative_verifier,
    load_verifier,
    train_generative_verifier,
    train_verifier,
    verifier_info,
)
from ttc.verifiers.generative import verifier_document
from ttc.verifiers.quality import auc_summary
from ttc.verifiers.scoring import right_padded

#: the cpu profile's family recipe (chapter 2), so its cached members are reused
CPU_RECIPE = dict(steps=2400, batch_size=16, block_size=128, lr=2.7e-3, eval_every=120)
EASY = TaskConfig(min_ops=1, max_ops=2)


def distinct_chains(problems, samples: pd.DataFrame) -> pd.DataFrame:
    """The distinct (problem, completion, finished) chains of a samples table, with the
    number of samples each stands for."""
    return (samples.groupby(["problem", "completion", "finished"], sort=True)
            .agg(correct=("correct", "first"), weight=("sample", "size")).reset_index())


def evaluate(name: str, verifier, problems, chains: pd.DataFrame, n_boot: int) -> dict:
    """Outcome AUCs (the last score of every finished test sample, duplicates counted) and
    step AUCs (every step end of every distinct chain against the exact checker)."""
    prompts = [problems[i].prompt for i in chains["problem"]]
    completions, finished = chains["completion"].tolist(), chains["finished"].tolist()
    start = time.perf_counter()
    scores = verifier.step_scores(prompts, completions, finished)
    seconds = time.perf_counter() - start
    oracle = OracleVerifier(problems).step_scores(prompts, completions, finished)
    done = chains.assign(score=[s[-1] if len(s) else 0.0 for s in scores])
    done = done[done["finished"]].loc[lambda f: f.index.repeat(f["weight"])]
    outcome = auc_summary(done, {name: "score"}, n_boot=n_boot).iloc[0]
    groups = np.concatenate([[p] * len(s) for p, s in zip(chains["problem"], scores,
                                                          strict=True)])
    step_scores, step_truth = np.concatenate(scores), np.concatenate(oracle).astype(bool)
    tokens = getattr(verifier, "tokens", None)
    return {"verifier": name, "outcome_auc": outcome["auc"],
            "outcome_within": outcome["auc_within"],
            "within_low": outcome["auc_within_low"], "within_high": outcome["auc_within_high"],
            "step_auc": roc_auc(step_truth, step_scores),
            "step_within": within_group_auc(groups, step_truth, step_scores),
            "tokens_per_chain": np.nan if tokens is None else tokens.total / len(chains),
            "score_seconds": seconds}


def frozen_body_prm(base, examples, config: VerifierTrainConfig) -> LearnedVerifier:
    """A scalar head trained on a frozen body (a linear probe of the last hidden state at
    the step ends); not cached, it takes seconds."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    import ttc.verifiers.train as scalar

    hf_logging.set_verbosity_error()
    torch.manual_seed(config.seed)
    model = AutoModelForTokenClassification.from_pretrained(str(base), num_labels=1)
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.startswith("score"))
    train, val = split_examples(examples, config.val_frac, config.seed)
    fit(model, scalar._tensors(tokenizer, train), scalar._tensors(tokenizer, val),
        scalar._loss, scalar._n_labels, config, "frozen prm", progress=False)
    return LearnedVerifier(model, tokenizer, "prm")


@torch.no_grad()
def forced_rationale_verdicts(path, problems, chains: pd.DataFrame) -> tuple[float, float]:
    """GenRM-CoT's verdicts when the checker's own rationales (and verdicts) are written in
    for it, one teacher-forced pass: does the verdict compare a step with its rationale?
    Returns the step AUC against the checker, pooled and within problem."""
    verifier = load_generative_verifier(path, device="cpu")
    examples = generative_examples(problems, chains, rationales=True)
    documents = [verifier_document(verifier.tokenizer, e) for e in examples]
    ids, mask = right_padded([d for d, _ in documents], verifier.tokenizer.pad_token_id)
    logits = verifier.model(input_ids=ids, attention_mask=mask).logits.float()
    p_ok = torch.sigmoid(logits[..., verifier.ok_id] - logits[..., verifier.bad_id])
    groups, truth, scores = [], [], []
    for r, (example, (document, _)) in enumerate(zip(examples, documents, strict=True)):
        where = [i - 1 for i, t in enumerate(document) if t in (verifier.ok_id,
                                                                 verifier.bad_id)]
        groups += [chains["problem"].iloc[r]] * len(where)
        truth += list(example.verdicts)
        scores += p_ok[r, where].tolist()
    return roc_auc(truth, scores), within_group_auc(groups, truth, scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--member", default="f48x2", help="policy and verifier base")
    parser.add_argument("--train-per-ops", type=int, default=150)
    parser.add_argument("--train-samples", type=int, default=8)
    parser.add_argument("--test-per-ops", type=int, default=40)
    parser.add_argument("--test-samples", type=int, default=16)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.perf_counter()

    base = train_member(get_spec(args.member), TrainConfig(**CPU_RECIPE), progress=True)
    print(f"policy {base.name}: {training_info(base)['train_seconds']:.0f} s to train "
          f"({time.perf_counter() - clock:.0f} s here)")
    model, tokenizer = load_member(base, device="cpu")
    train_problems = generate_problems(EASY, "train", args.train_per_ops, seed=1)
    test_problems = generate_problems(EASY, "test", args.test_per_ops, seed=2)
    train_samples = draw_samples(model, tokenizer, base.name, train_problems,
                                 SampleSpec(args.train_samples, max_new_tokens=40, seed=3))
    test_samples = draw_samples(model, tokenizer, base.name, test_problems,
                                SampleSpec(args.test_samples, max_new_tokens=40, seed=4))
    chains = distinct_chains(test_problems, test_samples)
    mixed = test_samples.groupby("problem")["correct"].mean().between(0, 1, "neither").mean()
    examples = checker_examples(train_problems, train_samples)
    labels = np.concatenate([e.labels for e in examples])
    print(f"policy accuracy: train {train_samples['correct'].mean():.2f}, "
          f"test {test_samples['correct'].mean():.2f}; test problems with right and wrong "
          f"samples: {mixed:.0%}; training labels: {len(labels):,}, {labels.mean():.0%} right")

    rows, trained = [], {}

    def run(name, verifier, train_seconds=np.nan):
        row = evaluate(name, verifier, test_problems, chains, args.n_boot)
        rows.append({**row, "train_seconds": train_seconds})
        print(f"  {name}: within {row['outcome_within']:.3f}, step within "
              f"{row['step_within']:.3f}", flush=True)

    run("policy likelihood (sum)", LikelihoodVerifier(model, tokenizer, "sum"))
    run("policy likelihood (mean)", LikelihoodVerifier(model, tokenizer, "mean"))
    for label, lr, epochs in (("scalar PRM, ch. 4 recipe (lr 1e-3, 3 ep.)", 1e-3, 3),
                              ("scalar PRM, lr 3e-4", 3e-4, 3),
                              ("scalar PRM, lr 3e-3", 3e-3, 3),
                              ("scalar PRM, 10 epochs", 1e-3, 10)):
        config = VerifierTrainConfig(epochs=epochs, batch_size=32, lr=lr)
        path = train_verifier(base, examples, config, "prm", progress=False, device="cpu")
        run(label, load_verifier(path, device="cpu"), verifier_info(path)["train_seconds"])
    start = time.perf_counter()
    frozen = frozen_body_prm(base, examples, VerifierTrainConfig(epochs=10, lr=1e-2))
    run("scalar PRM, frozen body (head only, lr 1e-2, 10 ep.)", frozen,
        time.perf_counter() - start)
    recipe = FinetuneConfig(epochs=3, batch_size=32, lr=1e-3)
    for cot in (False, True):
        path = train_generative_verifier(
            base, generative_examples(train_problems, train_samples, rationales=cot), recipe,
            progress=False, device="cpu")
        trained[cot] = path
        seconds = verifier_info(path)["train_seconds"]
        if not cot:
            run("GenRM (verdict token, 3 ep.)", load_generative_verifier(path, device="cpu"),
                seconds)
            continue
        for k in (1, 4):
            run(f"GenRM-CoT, K = {k} (3 ep.)",
                load_generative_verifier(path, n_rationales=k, device="cpu"), seconds)
    run("exact checker", OracleVerifier(test_problems))
    pooled, within = forced_rationale_verdicts(trained[True], test_problems, chains)

    table = pd.DataFrame(rows)
    print()
    print("| verifier | outcome AUC pooled | outcome AUC within problem [95% CI] | step AUC "
          "pooled | step AUC within problem | verifier tokens per chain | train s | score s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in table.itertuples():
        print(f"| {r.verifier} | {r.outcome_auc:.3f} | {r.outcome_within:.3f} "
              f"[{r.within_low:.2f}, {r.within_high:.2f}] | {r.step_auc:.3f} | "
              f"{r.step_within:.3f} | {r.tokens_per_chain:.1f} | {r.train_seconds:.1f} | "
              f"{r.score_seconds:.1f} |")
    print(f"\nGenRM-CoT verdicts given the checker's rationales (teacher-forced): step AUC "
          f"pooled {pooled:.3f}, within problem {within:.3f}")
    print(f"test chains: {len(chains):,} distinct of {len(test_samples):,} samples; "
          f"total {time.perf_counter() - clock:.0f} s")


if __name__ == "__main__":
    main()
