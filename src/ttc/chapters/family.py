"""Chapter 2: a controlled model family trained from scratch on arithmetic chains."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ttc.config import ConfigError, require_choice, require_range
from ttc.family.specs import check_members, get_spec
from ttc.family.train import TrainConfig, load_member, train_member, training_info
from ttc.sampling import generate
from ttc.tasks import Problem, TaskConfig, first_error, generate_problems, grade


@dataclass(frozen=True)
class FamilyConfig:
    """Parameters of chapter 2. Defaults are smoke-sized; the ``cpu`` profile trains the
    five-member family the rest of the book uses."""

    #: family members to train, smallest first (names from ttc.family.specs.SPECS)
    members: tuple[str, ...] = ("f32x2", "f64x3")
    #: optimiser steps, blocks per step, tokens per block (the same for every member)
    train_steps: int = 40
    batch_size: int = 8
    block_size: int = 128
    #: peak learning rate, the same for every member
    lr: float = 2.7e-3
    #: difficulty range: number of operations per problem
    min_ops: int = 1
    max_ops: int = 8
    #: held-out test problems per number of operations
    n_test_per_ops: int = 10
    seed: int = 0
    test_seed: int = 1234
    #: "auto" (CUDA if available), "cpu" or "cuda"; not part of any cache key
    device: str = "auto"

    def __post_init__(self) -> None:
        check_members("members", self.members)
        require_range("train_steps", self.train_steps, low=1)
        require_range("batch_size", self.batch_size, low=1)
        require_range("block_size", self.block_size, low=16, high=4096)
        require_range("lr", self.lr, low=1e-6, high=1.0)
        require_range("n_test_per_ops", self.n_test_per_ops, low=1)
        require_choice("device", self.device, ("auto", "cpu", "cuda"))
        try:  # the task and the recipe check their own fields
            _ = (self.task, self.train_config)
        except ValueError as err:
            raise ConfigError(str(err)) from None

    @property
    def task(self) -> TaskConfig:
        return TaskConfig(min_ops=self.min_ops, max_ops=self.max_ops)

    @property
    def train_config(self) -> TrainConfig:
        return TrainConfig(
            steps=self.train_steps, batch_size=self.batch_size, block_size=self.block_size,
            lr=self.lr, seed=self.seed, eval_every=max(1, self.train_steps // 20),
            task=self.task,
        )

    @property
    def max_new_tokens(self) -> int:
        """Room for the longest solution: at most 15 characters per step, plus ``<eos>``."""
        return 16 * self.max_ops + 8


def test_problems(config: FamilyConfig) -> list[Problem]:
    """The fixed held-out test set: hash-split test problems, ``n_test_per_ops`` per length."""
    return generate_problems(config.task, "test", config.n_test_per_ops, config.test_seed)


def train_family(config: FamilyConfig, progress: bool = True) -> dict[str, Path]:
    """Train every member (cached by config hash); return checkpoint folders by name."""
    return {
        name: train_member(get_spec(name), config.train_config, progress=progress,
                           device=config.device)
        for name in tqdm(config.members, desc="family", disable=not progress)
    }


def greedy_results(
    name: str, checkpoint: Path, problems: list[Problem], max_new_tokens: int,
    device: str = "auto",
) -> pd.DataFrame:
    """Greedy completions of ``problems`` by one member, graded: one row per problem."""
    model, tokenizer = load_member(checkpoint, device=device)
    completions = generate(model, tokenizer, [p.prompt for p in problems], max_new_tokens)
    pairs = list(zip(problems, completions, strict=True))
    return pd.DataFrame(
        {
            "model": name,
            "problem": range(len(problems)),
            "n_ops": [p.n_ops for p in problems],
            "prompt": [p.prompt for p in problems],
            "completion": [c.text for c in completions],
            "finished": [c.finished for c in completions],
            "n_tokens": [c.n_tokens for c in completions],
            "correct": [grade(p, c.text, c.finished) for p, c in pairs],
            "first_error": [first_error(p, c.text) for p, c in pairs],
        }
    )


def run(config: FamilyConfig, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Train the family, evaluate it greedily on the test set; return the chapter's tables.

    ``members``: one row per model (shape, N, D, 6ND, time); ``curves``: validation loss
    during training; ``greedy``: one row per (model, test problem); ``accuracy``: greedy
    accuracy per (model, n_ops).
    """
    checkpoints = train_family(config, progress=progress)
    problems = test_problems(config)
    rows, curves, greedy = [], [], []
    for name, path in checkpoints.items():
        info = training_info(path)
        rows.append({k: info[k] for k in ("name", "d_model", "n_layers", "n_heads",
                                          "params_total", "N", "D", "train_flops",
                                          "peak_lr", "train_seconds")}
                    | {"checkpoint": str(path)})
        curves += [{"model": name, **point} for point in info["curve"]]
        greedy.append(greedy_results(name, path, problems, config.max_new_tokens,
                                     device=config.device))
    members = pd.DataFrame(rows).rename(columns={"name": "model"})
    greedy_table = pd.concat(greedy, ignore_index=True).merge(members[["model", "N"]])
    accuracy = (
        greedy_table.groupby(["model", "N", "n_ops"], as_index=False, sort=False)["correct"]
        .mean()
        .rename(columns={"correct": "accuracy"})
    )
    return {"members": members, "curves": pd.DataFrame(curves), "greedy": greedy_table,
            "accuracy": accuracy}
