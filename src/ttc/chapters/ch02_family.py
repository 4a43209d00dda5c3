"""Chapter 2: a controlled model family trained from scratch on arithmetic chains."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ttc.cache import artifact_path, load_tables, relative_to_cache, save_tables
from ttc.config import ConfigError, config_hash, require_choice, require_range
from ttc.devices import DEVICES, DTYPES, dtype_name, resolve_device, resolve_dtype
from ttc.family.recipe import KERNELS, TrainConfig
from ttc.family.specs import check_members, get_spec
from ttc.parallel import run_jobs
from ttc.report import fmt
from ttc.tasks import Problem, TaskConfig, first_error, grade
from ttc.upstream import test_problems


@dataclass(frozen=True)
class FamilyChapterConfig:
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
    #: precision of training and decoding: "auto" (bfloat16 on CUDA, float32 on the CPU),
    #: "float32", "bfloat16"; part of the cache keys unless float32
    dtype: str = "auto"
    #: training kernels: "eager" (torch's) or "fused" (ttc.fused_train: the element-wise
    #: work compiled, on the CPU in float32; elsewhere eager); part of the checkpoints' keys
    #: unless eager, since the weights round differently
    train_kernels: str = "eager"

    def __post_init__(self) -> None:
        check_members("members", self.members)
        require_range("train_steps", self.train_steps, low=1)
        require_range("batch_size", self.batch_size, low=1)
        require_range("block_size", self.block_size, low=16, high=4096)
        require_range("lr", self.lr, low=1e-6, high=1.0)
        require_range("n_test_per_ops", self.n_test_per_ops, low=1)
        require_choice("device", self.device, DEVICES)
        require_choice("dtype", self.dtype, DTYPES)
        require_choice("train_kernels", self.train_kernels, KERNELS)
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


def train_family(config: FamilyChapterConfig, progress: bool = True) -> dict[str, Path]:
    """Train every member and decode the test set greedily with it (both cached by config
    hash); return checkpoint folders by name, smallest member first.

    Members are independent jobs: on a CPU they run in worker processes, one thread each,
    largest first (:mod:`ttc.parallel`); on a GPU one after the other."""
    todo = sorted((name for name in config.members if not _member_ready(config, name)),
                  key=lambda name: -get_spec(name).approx_params)
    run_jobs(_prepare_member, [(config, name, progress) for name in todo], desc="family",
             progress=progress and bool(todo), labels=todo,
             parallel=resolve_device(config.device) == "cpu")
    return {name: _prepare_member((config, name, False)) for name in config.members}


def _member_ready(config: FamilyChapterConfig, name: str) -> bool:
    """True when the member's checkpoint and its greedy answers are both in the cache."""
    from ttc.family.train import member_path
    from ttc.finetune import cached_checkpoint

    path = member_path(get_spec(name), config.train_config, config.device, config.dtype,
                       config.train_kernels)
    return (cached_checkpoint(path)
            and _greedy_folder(path, test_problems(config), config.max_new_tokens,
                               config.device, config.dtype).is_dir())


def _prepare_member(job: tuple[FamilyChapterConfig, str, bool]) -> Path:
    """One member's job: train it, then decode the test set greedily (cached)."""
    from ttc.family.train import train_member

    config, name, progress = job
    path = train_member(get_spec(name), config.train_config, progress=progress,
                        device=config.device, dtype=config.dtype,
                        kernels=config.train_kernels)
    greedy_results(name, path, test_problems(config), config.max_new_tokens,
                   device=config.device, dtype=config.dtype)
    return path


def greedy_results(
    name: str, checkpoint: Path, problems: list[Problem], max_new_tokens: int,
    device: str = "auto", dtype: str = "auto",
) -> pd.DataFrame:
    """Greedy completions of ``problems`` by one member, graded: one row per problem.

    Cached by the checkpoint, the prompts, the length limit and the precision unless float32:
    greedy decoding is deterministic, and later chapters read chapter 2's table instead of
    decoding again."""
    from ttc.family.train import load_member
    from ttc.sampling import generate

    folder = _greedy_folder(checkpoint, problems, max_new_tokens, device, dtype)
    if (cached := load_tables(folder, ["greedy.parquet"])) is not None:
        return cached["greedy.parquet"]
    model, tokenizer = load_member(checkpoint, device=device, dtype=dtype)
    completions = generate(model, tokenizer, [p.prompt for p in problems], max_new_tokens)
    pairs = list(zip(problems, completions, strict=True))
    table = pd.DataFrame(
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
    save_tables(folder, {"greedy.parquet": table})
    return load_tables(folder, ["greedy.parquet"])["greedy.parquet"]  # the cached dtypes


def _greedy_folder(checkpoint: Path, problems: list[Problem], max_new_tokens: int,
                   device: str = "auto", dtype: str = "auto") -> Path:
    parts = (checkpoint.name, [p.prompt for p in problems], max_new_tokens, "v1")
    precision = resolve_dtype(dtype, device)
    if dtype_name(precision) != "float32":
        parts = (*parts, dtype_name(precision))
    key = config_hash(parts)
    return artifact_path("greedy", f"{checkpoint.name}-{key}")


def run(config: FamilyChapterConfig, inputs=None, progress: bool = True
        ) -> dict[str, pd.DataFrame]:
    """Train the family, evaluate it greedily on the test set; return the chapter's tables.

    ``members``: one row per model (shape, N, D, 6ND, time); ``curves``: validation loss
    during training; ``greedy``: one row per (model, test problem); ``accuracy``: greedy
    accuracy per (model, n_ops).
    """
    from ttc.family.train import training_info

    checkpoints = train_family(config, progress=progress)
    problems = test_problems(config)  # the held-out test set every chapter uses
    rows, curves, greedy = [], [], []
    for name, path in checkpoints.items():
        info = training_info(path)
        rows.append({k: info[k] for k in ("name", "d_model", "n_layers", "n_heads",
                                          "params_total", "N", "D", "train_flops",
                                          "peak_lr", "train_seconds")}
                    | {"checkpoint": relative_to_cache(path)})
        curves += [{"model": name, **point} for point in info["curve"]]
        greedy.append(greedy_results(name, path, problems, config.max_new_tokens,
                                     device=config.device, dtype=config.dtype))
    members = pd.DataFrame(rows).rename(columns={"name": "model"})
    greedy_table = pd.concat(greedy, ignore_index=True).merge(members[["model", "N"]])
    accuracy = (
        greedy_table.groupby(["model", "N", "n_ops"], as_index=False, sort=False)["correct"]
        .mean()
        .rename(columns={"correct": "accuracy"})
    )
    return {"members": members, "curves": pd.DataFrame(curves), "greedy": greedy_table,
            "accuracy": accuracy}


def accuracy_at(accuracy: pd.DataFrame, model: str, n_ops: int) -> float:
    """Greedy accuracy of ``model`` on the ``n_ops``-operation problems (an ``accuracy`` table
    row); NaN when the table has no such row."""
    row = accuracy[(accuracy["model"] == model) & (accuracy["n_ops"] == n_ops)]
    return float(row["accuracy"].iloc[0]) if len(row) else float("nan")


def overall_accuracy(greedy: pd.DataFrame) -> pd.Series:
    """Greedy accuracy over the whole test set, per model (in table order)."""
    return greedy.groupby("model", sort=False)["correct"].mean()


def adjacent_steps(greedy: pd.DataFrame) -> pd.DataFrame:
    """Greedy accuracy from each member to the next larger one (in table order), paired over
    the test problems: one row per step with the mean difference (larger minus smaller), its
    95% bootstrap interval, the sign-flip p-value and whether it is detectable after Holm's
    correction over the steps read together (:func:`ttc.metrics.paired_bootstrap`)."""
    from ttc.metrics import holm, paired_bootstrap

    models = list(dict.fromkeys(greedy["model"]))
    # (problem, model) -> correct; problems in the order of the first member
    table = greedy.pivot_table(index="prompt", columns="model", values="correct",
                               aggfunc="first", sort=False)
    rows = []
    for smaller, larger in zip(models, models[1:], strict=False):
        both = table[[smaller, larger]].dropna()
        test = paired_bootstrap(both[larger].to_numpy(float) - both[smaller].to_numpy(float))
        rows.append({"smaller": smaller, "larger": larger, **test})
    steps = pd.DataFrame(rows, columns=["smaller", "larger", "mean", "low", "high", "p",
                                        "problems"])
    steps["detectable"] = holm(steps["p"].to_numpy(float)) & (steps["mean"] > 0)
    return steps


def rise_steps_text(steps: pd.DataFrame) -> str:
    """What :func:`adjacent_steps` says in words: whether each step up in size is a
    detectable rise, naming those that are not with their intervals."""
    if steps.empty:
        return "there is no step between members to compare"

    def step(row) -> str:
        return (f"{row.smaller} to {row.larger}, {fmt(row.mean, '+.3f')}, 95% interval "
                f"{fmt(row.low, '+.3f')} to {fmt(row.high, '+.3f')}")

    problems = f"paired over the {int(steps['problems'].max()):,} test problems"
    if len(steps) == 1:
        row = next(steps.itertuples())
        verdict = "is" if row.detectable else "is not"
        return f"the step from {step(row)}, {verdict} a detectable rise ({problems})"
    flat = steps[~steps["detectable"]]
    where = f"{problems}, Holm-corrected over the {len(steps)} steps"
    if flat.empty:
        return f"every step from one member to the next is a detectable rise ({where})"
    return (f"{len(steps) - len(flat)} of the {len(steps)} steps from one member to the next "
            f"are detectable rises ({where}); not detectable: "
            + "; ".join(step(row) for row in flat.itertuples()))


def unfinished_share(greedy: pd.DataFrame) -> pd.Series:
    """Share of greedy answers that never reach ``<eos>`` within the length limit, per model."""
    return 1 - greedy.groupby("model", sort=False)["finished"].mean()


def medium_ops(config: FamilyChapterConfig) -> int:
    """The middle difficulty the prose quotes: halfway between ``min_ops`` and ``max_ops``."""
    return (config.min_ops + config.max_ops) // 2


def facts(tables, config: FamilyChapterConfig) -> dict[str, str]:
    """What chapter 2's prose quotes, as display text.

    The test set (``n_test``, ``n_test_per_ops``), the family (``n_members``,
    ``smallest_name``, ``largest_name``, ``size_ratio``: N of the largest over the smallest,
    ``tokens_trained``: D of the largest, ``train_minutes``: the whole family's training
    time) and greedy accuracy (``min_ops``, ``medium_ops``, ``max_ops``;
    ``largest_easy/medium/hard`` and ``smallest_easy/medium`` at those difficulties;
    ``smallest_overall``, ``largest_overall`` over the test set; ``overall_rises``: "rises"
    when overall accuracy strictly increases from each member to the next, "does not rise"
    otherwise, point estimates; ``rise_steps``: which steps up in size are detectable rises,
    :func:`rise_steps_text`; ``smallest_unfinished``: the smallest member's share of answers
    without ``<eos>``).
    """
    members, greedy, accuracy = tables["members"], tables["greedy"], tables["accuracy"]
    smallest = members.iloc[0] if len(members) else None
    largest = members.iloc[-1] if len(members) else None
    small_name = None if smallest is None else smallest["model"]
    large_name = None if largest is None else largest["model"]
    medium = medium_ops(config)
    overall = overall_accuracy(greedy)
    unfinished = unfinished_share(greedy)
    rising = len(overall) > 1 and bool((overall.diff().dropna() > 0).all())
    # the test set: distinct prompts answered by one member (every member answers all)
    first = greedy[greedy["model"] == greedy["model"].iloc[0]] if len(greedy) else greedy
    return {
        "n_test": fmt(first["prompt"].nunique() if len(first) else None, ","),
        "n_test_per_ops": fmt(config.n_test_per_ops, ","),
        "n_members": fmt(len(members), ","),
        "smallest_name": fmt(small_name),
        "largest_name": fmt(large_name),
        "size_ratio": fmt(None if smallest is None else largest["N"] / smallest["N"], ".0f"),
        "tokens_trained": fmt(None if largest is None else int(largest["D"]), ","),
        "train_minutes": fmt(members["train_seconds"].sum() / 60 if len(members) else None,
                             ".1f"),
        "min_ops": fmt(config.min_ops, ","),
        "medium_ops": fmt(medium, ","),
        "max_ops": fmt(config.max_ops, ","),
        "largest_easy": fmt(accuracy_at(accuracy, large_name, config.min_ops)),
        "largest_medium": fmt(accuracy_at(accuracy, large_name, medium)),
        "largest_hard": fmt(accuracy_at(accuracy, large_name, config.max_ops)),
        "smallest_easy": fmt(accuracy_at(accuracy, small_name, config.min_ops)),
        "smallest_medium": fmt(accuracy_at(accuracy, small_name, medium)),
        "smallest_overall": fmt(overall.get(small_name)),
        "largest_overall": fmt(overall.get(large_name)),
        "overall_rises": "rises" if rising else "does not rise",
        "rise_steps": rise_steps_text(adjacent_steps(greedy)) if len(greedy) else "n/a",
        "smallest_unfinished": fmt(unfinished.get(small_name)),
    }
