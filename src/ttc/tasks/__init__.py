"""Tasks: the arithmetic chains the book trains on (exact verifiers), and word problems
(GSM8K, MATH-500) for hub models; :class:`Task` is what the pipeline reads of either."""

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
from ttc.tasks.base import ARITHMETIC, Task
from ttc.tasks.registry import TASKS, get_task

__all__ = [
    "ARITHMETIC",
    "OPS",
    "SPLITS",
    "STEP_SEP",
    "Problem",
    "Step",
    "TASKS",
    "Task",
    "TaskConfig",
    "apply_op",
    "first_error",
    "generate_problems",
    "get_task",
    "grade",
    "parse_answer",
    "parse_steps",
    "sample_problem",
    "split_of",
    "step_labels",
    "train_stream",
    "training_text",
]
