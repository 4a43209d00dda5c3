"""Every task by name (the arithmetic chains, GSM8K, MATH)."""

from __future__ import annotations

from ttc.config import ConfigError
from ttc.tasks.base import ARITHMETIC, Task
from ttc.tasks.word_problems import GSM8K, MATH

TASKS: dict[str, Task] = {task.name: task for task in (ARITHMETIC, GSM8K, MATH)}


def get_task(name: str) -> Task:
    """A task by name: ``arithmetic``, ``gsm8k`` (reasoning lines, ``#### answer``) or
    ``math`` (paragraphs, ``\\boxed{answer}``); a one-line :class:`ConfigError` otherwise."""
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; allowed: {', '.join(TASKS)}")
    return TASKS[name]
