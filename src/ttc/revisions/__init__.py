"""Sequential revisions: a model that sees its earlier attempts and writes a better one."""

from __future__ import annotations

from ttc.revisions.chains import (
    SELECTIONS,
    chain_lengths,
    generate_chains,
    revised_away,
    select_split,
    split_attempts,
    split_lengths,
)
from ttc.revisions.data import (
    ATTEMPT_SEP,
    MAX_HISTORY,
    RevisionExample,
    edit_distance,
    revision_examples,
    revision_prompt,
)
from ttc.revisions.train import RevisionTrainConfig, train_reviser

__all__ = [
    "ATTEMPT_SEP",
    "MAX_HISTORY",
    "SELECTIONS",
    "RevisionExample",
    "RevisionTrainConfig",
    "chain_lengths",
    "edit_distance",
    "generate_chains",
    "revised_away",
    "revision_examples",
    "revision_prompt",
    "select_split",
    "split_attempts",
    "split_lengths",
    "train_reviser",
]
