"""Verifiers: labels from the policy's samples, training, and scoring.

Every verifier has ``step_scores(prompts, completions, finished)`` (a score in [0, 1] per
step end), so selection and search take any of them: the exact checker
(:class:`OracleVerifier`), scalar-head reward models (:class:`LearnedVerifier`), the
likelihood of a language model (:class:`LikelihoodVerifier`) and generative verifiers that
write verdict tokens, with or without a rationale (:class:`GenerativeVerifier`).
"""

from __future__ import annotations

from ttc.verifiers.generative import (
    VERDICT_TOKENS,
    GenerativeExample,
    GenerativeVerifier,
    add_verdict_tokens,
    checker_rationales,
    generative_examples,
)
from ttc.verifiers.generative_train import (
    generative_verifier_path,
    load_generative_verifier,
    train_generative_verifier,
)
from ttc.verifiers.labels import (
    VerifierExample,
    checker_examples,
    checker_labels,
    monte_carlo_examples,
    n_step_ends,
    outcome_examples,
    step_prefixes,
)
from ttc.verifiers.likelihood import LikelihoodVerifier
from ttc.verifiers.scoring import (
    LearnedVerifier,
    OracleVerifier,
    Verifier,
    VerifierTokens,
)
from ttc.verifiers.train import (
    VerifierTrainConfig,
    load_verifier,
    train_verifier,
    verifier_info,
    verifier_path,
)

__all__ = [
    "VERDICT_TOKENS",
    "GenerativeExample",
    "GenerativeVerifier",
    "LearnedVerifier",
    "LikelihoodVerifier",
    "OracleVerifier",
    "Verifier",
    "VerifierExample",
    "VerifierTokens",
    "VerifierTrainConfig",
    "add_verdict_tokens",
    "checker_examples",
    "checker_labels",
    "checker_rationales",
    "generative_examples",
    "load_generative_verifier",
    "load_verifier",
    "monte_carlo_examples",
    "n_step_ends",
    "outcome_examples",
    "step_prefixes",
    "generative_verifier_path",
    "train_generative_verifier",
    "train_verifier",
    "verifier_path",
    "verifier_info",
]
