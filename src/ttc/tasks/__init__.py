"""Tasks with exact verifiers used throughout the book (currently: arithmetic chains)."""

from __future__ import annotations

from ttc.tasks.arithmetic import (
    OPS,
    SPLITS,
    STEP_SEP,
    Problem,
    Step,
    TaskConfig,
    apply_op,
    first_error,
    generate_problems,
    grade,
    parse_answer,
    parse_steps,
    sample_problem,
    split_of,
    step_labels,
    train_stream,
    training_text,
)

__all__ = [
    "OPS",
    "SPLITS",
    "STEP_SEP",
    "Problem",
    "Step",
    "TaskConfig",
    "apply_op",
    "first_error",
    "generate_problems",
    "grade",
    "parse_answer",
    "parse_steps",
    "sample_problem",
    "split_of",
    "step_labels",
    "train_stream",
    "training_text",
]
