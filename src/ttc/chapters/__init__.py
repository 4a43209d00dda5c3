"""Registry of the book's chapters: notebook name -> config dataclass and run function.

A notebook and the ``ttc run`` command call the same ``run(config)``; profiles are validated
against the same config dataclasses, so a parameter means the same thing everywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ttc.chapters import (
    accounting,
    compute_optimal,
    family,
    floor,
    revisions,
    sampling,
    search,
    verifiers,
)
from ttc.config import build_config


@dataclass(frozen=True)
class Chapter:
    """One chapter: its notebook (``notebooks/<key>.md``), config class and experiment."""

    key: str
    title: str
    config_cls: type
    run: Callable[[Any], dict[str, pd.DataFrame]]

    @property
    def short_name(self) -> str:
        return self.key.split("_", 1)[1]

    def parameter_names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self.config_cls)]


CHAPTERS: dict[str, Chapter] = {
    c.key: c
    for c in (
        Chapter("01_accounting", "The question and the accounting",
                accounting.AccountingConfig, accounting.run),
        Chapter("02_family", "A controlled model family", family.FamilyConfig, family.run),
        Chapter("03_sampling", "Parallel sampling", sampling.SamplingConfig, sampling.run),
        Chapter("04_verifiers", "Verifiers", verifiers.VerifiersConfig, verifiers.run),
        Chapter("05_search", "Search against a verifier", search.SearchChapterConfig,
                search.run),
        Chapter("06_revisions", "Sequential revisions", revisions.RevisionsConfig,
                revisions.run),
        Chapter("07_compute_optimal", "Compute-optimal scaling and the exchange",
                compute_optimal.ComputeOptimalConfig, compute_optimal.run),
        Chapter("08_floor", "Where capability sets a floor", floor.FloorConfig, floor.run),
    )
}


def get_chapter(name: str) -> Chapter:
    """Find a chapter by notebook name (``01_accounting``), short name (``accounting``) or
    number (``1``)."""
    for chapter in CHAPTERS.values():
        number = chapter.key.split("_", 1)[0]
        if name in (chapter.key, chapter.short_name, number, number.lstrip("0")):
            return chapter
    raise ValueError(f"unknown chapter {name!r}; allowed: {', '.join(CHAPTERS)}")


def config_from_namespace(key: str, namespace: Mapping[str, Any]) -> Any:
    """Build a chapter's config from a notebook's variables (the ``parameters`` cell,
    possibly overridden by papermill)."""
    chapter = get_chapter(key)
    params = {name: namespace[name] for name in chapter.parameter_names() if name in namespace}
    return build_config(chapter.config_cls, params, where=f"notebook {chapter.key}")
