"""The book's figures: one house style, one function per kind of figure.

Figures carry no titles: captions live in the notebook cell metadata (``mystnb.figure``), so the
book can number and cross-reference them. Every function draws on a given or new ``Axes`` from a
tidy table and returns the ``Axes``.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

PALETTE = "viridis"


def set_style() -> None:
    """Apply the house style (call once at the top of a notebook)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    plt.rcParams.update(
        {
            "figure.figsize": (7.0, 4.2),
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
        }
    )


def _axes(ax: plt.Axes | None) -> plt.Axes:
    if ax is None:
        _, ax = plt.subplots()
    return ax


def plot_exchange_factor(
    curve: pd.DataFrame, marks: Sequence[float] = (), ax: plt.Axes | None = None
) -> plt.Axes:
    """Exchange factor against R = D_inference / D_pretrain, one line per parameter ratio M.

    ``curve`` has columns ``M``, ``R``, ``exchange_factor``; ``marks`` are R values to mark
    with vertical lines (e.g. Snell et al.'s 0.16, 0.79, 22).
    """
    ax = _axes(ax)
    data = curve.assign(M=curve["M"].map(lambda m: f"M = {m:g}"))
    sns.lineplot(data=data, x="R", y="exchange_factor", hue="M", ax=ax, palette=PALETTE)
    ax.set(xscale="log", yscale="log")
    for r in marks:
        ax.axvline(r, color="0.4", ls="--", lw=1)
        ax.annotate(
            f"R = {r:g}", (r, 1), xycoords=("data", "axes fraction"), xytext=(3, -12),
            textcoords="offset points", fontsize=9, color="0.3",
        )
    ax.set_xlabel("R = inference tokens / pretraining tokens")
    ax.set_ylabel("inference budget multiplier\nfor the smaller model")
    ax.legend(title="parameter ratio", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_training_curves(curves: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Validation loss (solution tokens) against tokens trained, one line per model.

    ``curves`` has columns ``model``, ``tokens``, ``val_loss``.
    """
    ax = _axes(ax)
    sns.lineplot(data=curves, x="tokens", y="val_loss", hue="model", marker="o",
                 markersize=3, palette=PALETTE, ax=ax)
    ax.set(yscale="log", xlabel="tokens trained", ylabel="validation loss (nats per token)")
    ax.legend(title="model", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_accuracy_heatmap(
    accuracy: pd.DataFrame, value: str = "accuracy", ax: plt.Axes | None = None
) -> plt.Axes:
    """Accuracy of each model (rows, in order of first appearance) at each difficulty (columns).

    ``accuracy`` has columns ``model``, ``n_ops`` and ``value``.
    """
    ax = _axes(ax)
    order = list(dict.fromkeys(accuracy["model"]))
    grid = accuracy.pivot(index="model", columns="n_ops", values=value).loc[order]
    sns.heatmap(grid, annot=True, fmt=".2f", vmin=0, vmax=1, cmap=PALETTE, ax=ax,
                cbar_kws={"label": value.replace("_", " ")})
    ax.set(xlabel="operations per problem", ylabel="model")
    return ax


def plot_accuracy_by_difficulty(
    results: pd.DataFrame, y: str = "correct", ax: plt.Axes | None = None
) -> plt.Axes:
    """Mean of a 0/1 outcome against the number of operations, one line per model, with 95%
    bootstrap intervals over problems. ``results`` has one row per (model, problem)."""
    ax = _axes(ax)
    sns.lineplot(data=results, x="n_ops", y=y, hue="model", marker="o", palette=PALETTE,
                 errorbar=("ci", 95), n_boot=500, seed=0, ax=ax)
    ax.set(xlabel="operations per problem", ylabel="greedy accuracy", ylim=(-0.02, 1.02))
    ax.legend(title="model", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax
