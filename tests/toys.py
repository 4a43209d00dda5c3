"""Deterministic toy step policies for testing search and verifier labels without a model."""

from __future__ import annotations

import random

from ttc.sampling import Completion
from ttc.tasks import STEP_SEP, Problem, parse_steps


class ToyPolicy:
    """Writes the problem's chain one step at a time; each step is right with probability
    ``p_correct`` (else its result is off by one), so the value of a right prefix with ``r``
    steps left is ``p_correct ** r`` and a wrong prefix is worth 0 (it stays off by one).

    Greedy (temperature 0) always writes the right step. Token counts are characters + 1.
    """

    def __init__(self, problems: list[Problem], p_correct: float = 0.5):
        self.by_prompt = {p.prompt: p for p in problems}
        self.p_correct = p_correct
        self.calls: list[int] = []  # rows per next_steps call

    def _step(self, problem: Problem, prefix: str, rng: random.Random,
              temperature: float) -> Completion:
        done = [s for s in parse_steps(prefix) if s is not None]
        i = len(done)
        left = done[-1].result if done else problem.first
        op, right = problem.steps[i]
        result = {"+": left + right, "-": left - right, "*": left * right}[op]
        if temperature > 0 and rng.random() >= self.p_correct:
            result += 1
        text = f"{left}{op}{right}={result}"
        last = i + 1 == problem.n_ops
        if last:
            return Completion(text, len(text) + 1, finished=True)
        return Completion(text + STEP_SEP, len(text) + 1, finished=False, stopped=True)

    def next_steps(self, prompts, prefixes, temperature, seed):
        rng = random.Random(seed)
        self.calls.append(len(prompts))
        return [self._step(self.by_prompt[p], c, rng, temperature)
                for p, c in zip(prompts, prefixes, strict=True)]

    def complete(self, prompts, prefixes, temperature, seed):
        rng = random.Random(seed)
        out = []
        for prompt, prefix in zip(prompts, prefixes, strict=True):
            text, tokens = "", 0
            while True:
                step = self._step(self.by_prompt[prompt], prefix + text, rng, temperature)
                text, tokens = text + step.text, tokens + step.n_tokens
                if step.finished:
                    break
            out.append(Completion(text, tokens, finished=True))
        return out


# -- module-level jobs for tests/test_parallel.py (worker processes import them) -------------

def parallel_job_square(item):
    """An int squared; a (seed, size) pair: the sum of a seeded matrix product, as a float."""
    if isinstance(item, tuple):
        import torch

        seed, size = item
        generator = torch.Generator().manual_seed(seed)
        a = torch.randn(size, size, generator=generator)
        return float((a @ a).sum())
    return item * item


def parallel_job_threads(_item) -> int:
    """The number of torch threads the job runs with."""
    import torch

    return torch.get_num_threads()


def parallel_job_fails_on(item: int) -> int:
    if item == 2:
        raise ValueError(f"job {item} failed")
    return item


def parallel_job_sleep(pid_file: str) -> None:
    """Record this process's id, then sleep far longer than any test waits."""
    import os
    import time

    with open(pid_file, "a") as out:
        out.write(f"{os.getpid()}\n")
    time.sleep(300)
