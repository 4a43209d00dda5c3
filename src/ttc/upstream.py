"""What later chapters read from earlier chapters' published results.

A chapter's ``run(config, inputs)`` receives ``inputs``: the published
:class:`~ttc.results.ChapterResult` of every chapter it depends on, by notebook key. These
accessors turn those results into the objects the science needs: the family's checkpoints,
chapter 3's problems and samples, chapter 4's verifiers, chapter 5's problem subset. The
expensive objects behind them (checkpoints, samples) are content-addressed artifacts: an
accessor finds them in the cache by the hash of the config that made them, so reading them
never re-runs a chapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ttc.cache import resolve_cached
from ttc.config import ConfigError
from ttc.tasks import Problem, TaskConfig, generate_problems

Inputs = Mapping[str, Any]  # chapter key -> ChapterResult

#: the book's three difficulty groups, by number of operations
DIFFICULTY_GROUPS = {"easy (1-2 ops)": (1, 2), "medium (3-5 ops)": (3, 5),
                     "hard (6-8 ops)": (6, 8)}
EASY, MEDIUM, HARD = DIFFICULTY_GROUPS


def difficulty_group(n_ops: int) -> str:
    for name, (low, high) in DIFFICULTY_GROUPS.items():
        if low <= n_ops <= high:
            return name
    return f"{n_ops} ops"


def powers_of_two(n: int) -> list[int]:
    """1, 2, 4, ... up to n (n itself included)."""
    ks = [2**i for i in range(int(np.log2(n)) + 1)]
    return ks if ks[-1] == n else [*ks, n]


def first_per_ops(problems: list, n: int) -> list:
    """The first ``n`` problems of each length, in their original order."""
    seen: dict[int, int] = {}
    keep = []
    for problem in problems:
        if seen.get(problem.n_ops, 0) < n:
            keep.append(problem)
            seen[problem.n_ops] = seen.get(problem.n_ops, 0) + 1
    return keep


def _result(inputs: Inputs, key: str):
    try:
        return inputs[key]
    except KeyError:
        raise ConfigError(f"this chapter does not read {key}'s results; declare it in "
                          f"'reads' of ttc.chapters") from None


# -- chapter 2: the family --------------------------------------------------------------------

def test_problems(fconfig) -> list[Problem]:
    """Chapter 2's held-out test set: hash-split test problems, ``n_test_per_ops`` per
    length (``fconfig`` is chapter 2's config)."""
    task = TaskConfig(min_ops=fconfig.min_ops, max_ops=fconfig.max_ops)
    return generate_problems(task, "test", fconfig.n_test_per_ops, fconfig.test_seed)


def member_names(inputs: Inputs) -> list[str]:
    return list(_result(inputs, "02_family")["members"]["model"])


def member_sizes(inputs: Inputs) -> dict[str, int]:
    """Non-embedding parameters N of every member, from chapter 2's ``members`` table."""
    members = _result(inputs, "02_family")["members"]
    return {m: int(n) for m, n in zip(members["model"], members["N"], strict=True)}


def checkpoint(inputs: Inputs, member: str) -> Path:
    """A member's checkpoint folder, as recorded by chapter 2.

    A folder that has gone from the cache since (emptied by hand) is retrained by the same
    content-addressed recipe, which gives the same folder."""
    family = _result(inputs, "02_family")
    members = family["members"].set_index("model")
    if member not in members.index:
        raise ConfigError(f"member {member!r} is not in chapter 2's family; allowed: "
                          f"{', '.join(members.index)}")
    from ttc.finetune import cached_checkpoint

    path = resolve_cached(members.loc[member, "checkpoint"])
    if cached_checkpoint(path):  # intact (verified against its manifest)
        return path
    from ttc.family.specs import get_spec
    from ttc.family.train import train_member

    fconfig = family.config
    return train_member(get_spec(member), fconfig.train_config, progress=False,
                        device=fconfig.device, dtype=fconfig.dtype,
                        kernels=fconfig.train_kernels)


def device(inputs: Inputs) -> str:
    return _result(inputs, "02_family").config.device


def max_new_tokens(inputs: Inputs) -> int:
    return _result(inputs, "02_family").config.max_new_tokens


# -- chapter 3: the main problem set and its samples ------------------------------------------

def hard_subset(problems: list, n: int) -> list:
    """The first ``n`` problems of the hardest level (most operations) of ``problems``:
    chapter 3's hard subset, which also sizes its decoding batch."""
    hardest = max(p.n_ops for p in problems)
    return [p for p in problems if p.n_ops == hardest][:n]


def main_problems(inputs: Inputs) -> list[Problem]:
    """Chapter 3's main set: the first ``n_problems_per_ops`` problems of each length of
    chapter 2's test set."""
    fconfig = _result(inputs, "02_family").config
    config = _result(inputs, "03_sampling").config
    return first_per_ops(test_problems(fconfig), config.n_problems_per_ops)


def matched_rule_text(whose: str, count: int, floor: bool = False) -> str:
    """:func:`matched_samples`'s rule for the members that draw fewer, as the prose states it:
    "the smallest power of two whose inference FLOPs are at least those of ``whose``
    ``count`` samples" (``floor``: some member draws the floor of 2, said as "(at least 2)").
    The rule counts parameters and rounds up, so those samples cost at least as much, not as
    much."""
    return (f"the smallest power of two{' (at least 2)' if floor else ''} whose inference FLOPs "
            f"are at least those of {whose} {count:,} samples")


def matched_samples(config, sizes: Mapping[str, int], n_samples: int = 0) -> dict[str, int]:
    """Samples per main problem chapter 3 draws from each member (``config``: chapter 3's;
    ``sizes``: member -> non-embedding N).

    Every member draws ``n_samples``, except that with ``flops_matched_to`` a member larger
    than that one draws the smallest power of two whose inference FLOPs (2·N per token, at
    equal tokens per sample) reach those of its ``n_samples``: with 128 samples of f64x3,
    f96x3 draws 64 and f128x4 32. Every member's coverage then spans at least the same
    inference FLOPs, and the two largest members, the costliest to sample, take a half and a
    quarter of the time they would with 128. ``n_samples``: another count to match in the
    same way (the hard subset's ``hard_n_samples``); 0 for ``n_samples``."""
    count = n_samples or config.n_samples
    reference = getattr(config, "flops_matched_to", "")
    if not reference:
        return {name: count for name in sizes}
    if reference not in sizes:
        raise ConfigError(f"parameter 'flops_matched_to' of 03_sampling: {reference!r} is not "
                          f"a member of chapter 2's family; allowed: {', '.join(sizes)}")
    out = {}
    for name, n_params in sizes.items():
        wanted = count * sizes[reference] / n_params
        out[name] = (count if n_params <= sizes[reference] else
                     max(2, min(count, 2 ** int(np.ceil(np.log2(wanted))))))
    return out


def main_sample_spec(config, max_new_tokens: int, batch_size: int, n_samples: int = 0):
    """How chapter 3 samples its main set (``config``: chapter 3's; ``max_new_tokens``:
    chapter 2's limit for the family; ``batch_size``: :func:`sample_batch_size`;
    ``n_samples``: the member's count from :func:`matched_samples`, 0 for ``n_samples``);
    later chapters find the same cached samples with it."""
    from ttc.sampling import SampleSpec

    return SampleSpec(n_samples=n_samples or config.n_samples, max_new_tokens=max_new_tokens,
                      temperature=config.temperature, top_p=config.top_p, seed=config.seed,
                      batch_size=batch_size)


def sample_batch_size(config, model, tokenizer, problems, max_new_tokens: int) -> int:
    """Chapter 3's decoding batch: its ``batch_size``, or (0) as many rows of the longest
    prompt of ``problems`` plus ``max_new_tokens`` as the memory budget holds."""
    if config.batch_size > 0:
        return config.batch_size
    from ttc.devices import decode_batch_size

    longest = max(len(tokenizer(p.prompt)["input_ids"]) for p in problems)
    device = str(next(model.parameters()).device)
    return decode_batch_size(model, longest + max_new_tokens, device=device)


def member_samples(inputs: Inputs, member: str, progress: bool = False):
    """One member's checkpoint, chapter 3's main problems and its samples of them (a cached
    artifact): ``(checkpoint, problems, samples)``."""
    from ttc.family.train import load_member
    from ttc.sampling import draw_samples

    fconfig = _result(inputs, "02_family").config
    config = _result(inputs, "03_sampling").config
    path = checkpoint(inputs, member)
    model, tokenizer = load_member(path, device=fconfig.device, dtype=fconfig.dtype)
    test = test_problems(fconfig)
    hard = hard_subset(test, config.hard_n_problems)
    batch_size = sample_batch_size(config, model, tokenizer, [*main_problems(inputs), *hard],
                                   fconfig.max_new_tokens)
    n_samples = matched_samples(config, member_sizes(inputs))[member]
    samples = draw_samples(model, tokenizer, path.name, main_problems(inputs),
                           main_sample_spec(config, fconfig.max_new_tokens, batch_size,
                                            n_samples), progress)
    return path, main_problems(inputs), samples


# -- chapter 4: the policy and its verifiers --------------------------------------------------

def quality_value(quality, score: str, column: str = "auc") -> float:
    """One AUC of chapter 4's ``quality`` table (``column`` of the row ``score``); NaN if
    absent. Chapter 4 quotes it, and chapter 5 reads why it searches with the verifier it
    uses."""
    rows = quality[quality["score"] == score]
    return float(rows[column].iloc[0]) if len(rows) else float("nan")


def policy(inputs: Inputs) -> str:
    return _result(inputs, "04_verifiers").config.policy


def verifier_base(inputs: Inputs) -> str:
    return _result(inputs, "04_verifiers").config.verifier_base


def verifier_checkpoints(inputs: Inputs) -> dict[str, Path]:
    """Chapter 4's trained verifiers by kind (``"orm"``, ``"prm"``)."""
    table = _result(inputs, "04_verifiers")["verifiers"]
    paths = {kind.lower(): resolve_cached(path)
             for kind, path in zip(table["verifier"], table["checkpoint"], strict=True)}
    missing = [str(p) for p in paths.values() if not p.is_dir()]
    if missing:
        raise ConfigError(f"chapter 4's verifier checkpoint {missing[0]} is gone from the "
                          f"cache; rebuild chapter 4 (ttc run 04_verifiers --recompute)")
    return paths


# -- chapter 5: the search subset -------------------------------------------------------------

def search_problems(inputs: Inputs, n_problems_per_ops: int | None = None
                    ) -> tuple[list[Problem], list[int]]:
    """The first ``n_problems_per_ops`` problems of each length of chapter 3's main set
    (default: chapter 5's setting), and their indices in it."""
    if n_problems_per_ops is None:
        n_problems_per_ops = _result(inputs, "05_search").config.n_problems_per_ops
    problems = main_problems(inputs)
    seen: dict[int, int] = {}
    keep = []
    for index, problem in enumerate(problems):
        if seen.get(problem.n_ops, 0) < n_problems_per_ops:
            keep.append(index)
            seen[problem.n_ops] = seen.get(problem.n_ops, 0) + 1
    return [problems[i] for i in keep], keep
