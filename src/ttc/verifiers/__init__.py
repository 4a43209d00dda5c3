"""Outcome and process verifiers: labels from the policy's samples, training, scoring."""

from __future__ import annotations

from ttc.verifiers.labels import (
    VerifierExample,
    monte_carlo_examples,
    outcome_examples,
    step_prefixes,
)
from ttc.verifiers.scoring import LearnedVerifier, OracleVerifier, Verifier, n_step_ends
from ttc.verifiers.train import VerifierTrainConfig, load_verifier, train_verifier, verifier_info

__all__ = [
    "LearnedVerifier",
    "OracleVerifier",
    "Verifier",
    "VerifierExample",
    "VerifierTrainConfig",
    "load_verifier",
    "monte_carlo_examples",
    "n_step_ends",
    "outcome_examples",
    "step_prefixes",
    "train_verifier",
    "verifier_info",
]
