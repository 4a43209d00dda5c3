"""The book's figures: one house style, one function per kind of figure.

Figures carry no titles: captions live in the notebook cell metadata (``mystnb.figure``), so the
book can number and cross-reference them. Every function draws on a given or new ``Axes`` from a
tidy table and returns the ``Axes``.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
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
    # a marker per model as well as a colour: members at zero accuracy lie on each other
    sns.lineplot(data=results, x="n_ops", y=y, hue="model", style="model", markers=True,
                 dashes=False, palette=PALETTE, errorbar=("ci", 95), n_boot=500, seed=0, ax=ax)
    ax.set(xlabel="operations per problem", ylabel="greedy accuracy", ylim=(-0.02, 1.02))
    ax.legend(title="model", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_coverage_curves(coverage: pd.DataFrame, facet: str = "difficulty") -> plt.Figure:
    """Coverage (pass@k, solid, with 95% intervals) and majority vote (dashed) against k,
    one panel per value of ``facet``, one colour per model.

    ``coverage`` has columns ``model``, ``k``, ``coverage``, ``coverage_low``,
    ``coverage_high``, ``majority`` and ``facet``.
    """
    panels = list(dict.fromkeys(coverage[facet]))
    models = list(dict.fromkeys(coverage["model"]))
    colours = dict(zip(models, sns.color_palette(PALETTE, len(models)), strict=True))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), sharey=True,
                             squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        data = coverage[coverage[facet] == panel]
        for model in models:
            rows = data[data["model"] == model].sort_values("k")
            ax.plot(rows["k"], rows["coverage"], color=colours[model], marker="o", ms=3,
                    label=model)
            ax.fill_between(rows["k"], rows["coverage_low"], rows["coverage_high"],
                            color=colours[model], alpha=0.15, lw=0)
            ax.plot(rows["k"], rows["majority"], color=colours[model], ls="--", lw=1)
        ax.set(xscale="log", xlabel="samples per problem (k)", title=str(panel), ylim=(0, 1.02))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axes[0][0].set_ylabel("coverage (solid), majority vote (dashed)")
    axes[0][-1].legend(title="model", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_coverage_vs_flops(
    coverage: pd.DataFrame, reference: float | None = None, reference_label: str = "",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Coverage against inference FLOPs per problem for every model on one axis.

    ``coverage`` has columns ``model``, ``flops``, ``coverage`` and optionally
    ``coverage_low``/``coverage_high`` (a 95% band per model); ``reference`` draws a
    horizontal line (e.g. the largest model's greedy accuracy).
    """
    ax = _axes(ax)
    sns.lineplot(data=coverage, x="flops", y="coverage", hue="model", marker="o",
                 markersize=4, palette=PALETTE, ax=ax)
    if {"coverage_low", "coverage_high"} <= set(coverage.columns):
        models = list(dict.fromkeys(coverage["model"]))
        colours = dict(zip(models, sns.color_palette(PALETTE, len(models)), strict=True))
        for model, rows in coverage.groupby("model", sort=False):
            rows = rows.sort_values("flops")
            ax.fill_between(rows["flops"], rows["coverage_low"], rows["coverage_high"],
                            color=colours[model], alpha=0.2, lw=0)
    if reference is not None:
        ax.axhline(reference, color="0.3", ls=":", lw=1.2)
        ax.annotate(reference_label, (0.01, reference), xycoords=("axes fraction", "data"),
                    xytext=(0, 4), textcoords="offset points", fontsize=9, color="0.3")
    ax.set(xscale="log", xlabel="inference FLOPs per problem (2·N per generated token)",
           ylabel="coverage (pass@k)", ylim=(0, 1.02))
    ax.legend(title="model", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_unsolved(per_problem: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Share of problems with no correct sample at all, by number of operations and model,
    with 95% bootstrap intervals over the problems of each point (seeded)."""
    ax = _axes(ax)
    data = per_problem.assign(unsolved=(per_problem["c"] == 0).astype(float))
    sns.lineplot(data=data, x="n_ops", y="unsolved", hue="model", style="model",
                 markers=True, dashes=False, palette=PALETTE, errorbar=("ci", 95), n_boot=1000,
                 seed=0,
                 err_style="bars", err_kws={"capsize": 2, "lw": 1}, ax=ax)
    ax.set(xlabel="operations per problem", ylabel="share of problems never solved",
           ylim=(-0.02, 1.02))
    ax.legend(title="model", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_success_distribution(per_problem: pd.DataFrame, ax: plt.Axes | None = None):
    """Empirical CDF of per-problem success rates (correct samples / samples), per model."""
    ax = _axes(ax)
    sns.ecdfplot(data=per_problem, x="success_rate", hue="model", palette=PALETTE, ax=ax)
    ax.set(xlabel="per-problem success rate (c / n)", ylabel="share of problems at or below")
    return ax


#: markers of lines that may lie on each other, in order (budget curves, trade-off targets)
LINE_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")


def _yerr(estimate, low, high) -> list:
    """Error-bar lengths below and above each estimate of a 95% interval [low, high] (never
    negative: a percentile interval can sit on its estimate)."""
    return [(estimate - low).clip(lower=0), (high - estimate).clip(lower=0)]


def plot_budget_curves(
    summary: pd.DataFrame, x: str, hue: str, facet: str = "difficulty", y: str = "accuracy",
    xlabel: str = "budget (generations)", ylabel: str = "accuracy",
    dashed: Sequence[str] = (), log_x: bool = True, log_base: int = 2,
) -> plt.Figure:
    """Accuracy (with its 95% band) against a budget, one line per ``hue`` value, one panel
    per ``facet`` value. Lines named in ``dashed`` (references such as coverage, an oracle
    or a baseline) are drawn dashed with a lighter band. Every line has a marker of its own,
    so lines that coincide still show each of them.

    ``summary`` has columns ``x``, ``y``, ``{y}_low``, ``{y}_high``, ``hue`` and ``facet``.
    """
    panels = list(dict.fromkeys(summary[facet]))
    lines = list(dict.fromkeys(summary[hue]))
    colours = dict(zip(lines, sns.color_palette("tab10", len(lines)), strict=True))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), sharey=True,
                             squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        data = summary[summary[facet] == panel]
        for line in lines:
            rows = data[data[hue] == line].sort_values(x)
            if rows.empty:
                continue
            ref = line in dashed
            rank = lines.index(line)
            ax.plot(rows[x], rows[y], color=colours[line], label=line,
                    marker=LINE_MARKERS[rank % len(LINE_MARKERS)], ms=6 - 0.6 * (rank % 4),
                    mfc="none" if rank % 2 else colours[line],
                    ls="--" if ref else "-", lw=1.2 if ref else 1.6)
            if f"{y}_low" in rows:
                ax.fill_between(rows[x], rows[f"{y}_low"], rows[f"{y}_high"],
                                color=colours[line], alpha=0.06 if ref else 0.12, lw=0)
        ax.set(xlabel=xlabel, title=str(panel), ylim=(-0.02, 1.02))
        if log_x:
            ax.set_xscale("log", base=log_base)
            if log_base == 2:  # budgets: plain integers; other bases keep 10^k labels
                ax.xaxis.set_major_formatter(
                    matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(title=hue, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_mc_labels(labels: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Distribution of Monte-Carlo step labels, split by whether the prefix is right (oracle).

    ``labels`` has columns ``mc_label`` and ``oracle``.
    """
    ax = _axes(ax)
    data = labels.assign(prefix=labels["oracle"].map({True: "every step right",
                                                      False: "a step wrong"}))
    sns.histplot(data=data, x="mc_label", hue="prefix", bins=20, stat="probability",
                 common_norm=False, element="step", palette="tab10", ax=ax,
                 hue_order=["every step right", "a step wrong"])
    ax.set(xlabel="Monte-Carlo label (share of rollouts reaching the right answer)",
           ylabel="share of prefixes")
    return ax


def plot_calibration(table: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Share of step prefixes the oracle marks right, against the PRM's mean score per bin.

    ``table`` has columns ``prm`` (mean score in the bin), ``oracle`` (share right) and
    ``steps`` (count, drawn as marker area), and optionally ``oracle_low``/``oracle_high``
    (each bin's interval, drawn as bars).
    """
    ax = _axes(ax)
    ax.plot([0, 1], [0, 1], color="0.6", ls=":", lw=1)
    sizes = 20 + 300 * table["steps"] / table["steps"].max()
    colour = sns.color_palette(PALETTE)[2]
    if {"oracle_low", "oracle_high"} <= set(table.columns):
        ax.errorbar(table["prm"], table["oracle"],
                    yerr=_yerr(table["oracle"], table["oracle_low"], table["oracle_high"]),
                    fmt="none", ecolor=colour, capsize=2, lw=1)
    ax.scatter(table["prm"], table["oracle"], s=sizes, color=colour, alpha=0.8)
    ax.plot(table["prm"], table["oracle"], color=sns.color_palette(PALETTE)[2], lw=1)
    ax.set(xlabel="PRM score (bin mean)", ylabel="share of prefixes right (oracle)",
           xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    return ax


def plot_accuracy_by_position(attempts: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Share of right attempts against the attempt's position in its chain, per difficulty.

    ``attempts`` has columns ``position`` (1-based), ``correct`` and ``difficulty``.
    """
    ax = _axes(ax)
    sns.lineplot(data=attempts, x="position", y="correct", hue="difficulty", marker="o",
                 palette="tab10", errorbar=("ci", 95), n_boot=300, seed=0, ax=ax)
    ax.set(xlabel="attempt in the chain", ylabel="share of attempts right", ylim=(-0.02, 1.02))
    ax.legend(title="difficulty", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_bin_agreement(counts: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Problems per (oracle bin, predicted bin): ``counts`` is a crosstab with the oracle bins
    as the index and the predicted bins as columns."""
    ax = _axes(ax)
    sns.heatmap(counts, annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax)
    ax.set(xlabel="predicted bin (mean PRM score; 1 = easiest)",
           ylabel="oracle bin (pass@1; 1 = easiest)")
    return ax


def plot_exchange(table: pd.DataFrame) -> plt.Figure:
    """The FLOPs-matched exchange with its noise: per difficulty bin and R, the paired
    difference in accuracy (small model with its best learned test-time strategy minus the
    larger model's greedy answer) with its 95% bootstrap interval (filled markers), and the
    same with a perfect verifier (hollow markers, the ceiling); one panel per larger model.
    Above zero: test-time compute is ahead.

    ``table`` has columns ``large``, ``M``, ``R``, ``bin``, ``difference``, ``low``,
    ``high``, ``ceiling_difference``, ``ceiling_low`` and ``ceiling_high``.
    """
    panels = list(dict.fromkeys(table["large"]))
    r_values = sorted(table["R"].unique())
    colours = dict(zip(r_values, sns.color_palette(PALETTE, len(r_values)), strict=True))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.9), sharey=True,
                             squeeze=False)
    width = 0.8 / max(1, len(r_values))
    for ax, large in zip(axes[0], panels, strict=True):
        data = table[table["large"] == large]
        for j, r in enumerate(r_values):
            rows = data[data["R"] == r].sort_values("bin")
            x = rows["bin"].to_numpy() + (j - (len(r_values) - 1) / 2) * width
            ax.errorbar(x - width / 5, rows["difference"],
                        yerr=_yerr(rows["difference"], rows["low"], rows["high"]),
                        fmt="o", ms=5, color=colours[r], capsize=2, lw=1,
                        label=f"R = {r:g}, learned")
            ax.errorbar(x + width / 5, rows["ceiling_difference"],
                        yerr=_yerr(rows["ceiling_difference"], rows["ceiling_low"],
                                   rows["ceiling_high"]),
                        fmt="o", ms=5, mfc="white", color=colours[r], capsize=2, lw=1,
                        label=f"R = {r:g}, perfect verifier")
        ax.axhline(0, color="0.3", lw=1)
        m = float(data["M"].iloc[0])
        ax.set(xlabel="difficulty bin (1 = easiest)", title=f"vs {large} (M = {m:.1f})",
               xticks=sorted(data["bin"].unique()))
    axes[0][0].set_ylabel("accuracy difference\n(small + test-time compute − larger)")
    handles, labels = axes[0][-1].get_legend_handles_labels()
    axes[0][-1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1),
                       fontsize=8)
    return fig


#: line styles of difficulty bins, easiest first
BIN_STYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))


def plot_exchange_sweep(sweep: pd.DataFrame) -> plt.Figure:
    """Accuracy difference (small with its best learned test-time strategy minus larger model
    greedy) against R, one line per difficulty bin with its 95% interval as a band, one panel
    per larger model."""
    panels = list(dict.fromkeys(sweep["large"]))
    bins = sorted(sweep["bin"].unique())
    colours = dict(zip(bins, sns.color_palette(PALETTE, len(bins)), strict=True))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8), sharey=True,
                             squeeze=False)
    for ax, large in zip(axes[0], panels, strict=True):
        data = sweep[sweep["large"] == large]
        # zero behind the lines and dashed, so a bin whose difference is 0 stays visible
        ax.axhline(0, color="0.55", lw=1, ls=(0, (4, 3)), zorder=1)
        for rank, b in enumerate(bins):
            rows = data[data["bin"] == b].sort_values("R")
            # a dash pattern per bin as well as a colour: neighbouring bins' colours are close
            ax.plot(rows["R"], rows["difference"], color=colours[b], label=f"bin {b}",
                    ls=BIN_STYLES[rank % len(BIN_STYLES)], lw=1.8, zorder=3)
            ax.fill_between(rows["R"], rows["low"], rows["high"], color=colours[b],
                            alpha=0.15, lw=0, zorder=2)
        ax.set(xscale="log", xlabel="R = inference tokens / pretraining tokens",
               title=f"vs {large}")
    axes[0][0].set_ylabel("accuracy: small + test-time compute − larger")
    axes[0][-1].legend(title="difficulty", loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def plot_break_even(table: pd.DataFrame) -> plt.Figure:
    """Break-even R per difficulty bin (dot) with the range its pointwise 95% intervals allow
    (bar), one panel per larger model, one colour per pool of strategies (learned, perfect
    verifier). A cross at the left edge marks a bin where the small model is behind at the
    smallest R already; a bar that starts at the left edge is never surely ahead, and one
    that reaches the right edge is not surely behind anywhere in the sweep (R 0.01 to 100).

    ``table``: :func:`ttc.exchange.break_even` rows with a ``pool`` column."""
    panels = list(dict.fromkeys(table["large"]))
    pools = list(dict.fromkeys(table["pool"]))
    bins = sorted(table["bin"].unique())
    colours = dict(zip(pools, sns.color_palette(PALETTE, len(pools)), strict=True))
    left, right = 1e-2, 1e2
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(4.6 * max(1, len(panels)), 3.6),
                             sharey=True, squeeze=False)
    for ax, large in zip(axes[0], panels, strict=True):
        data = table[table["large"] == large]
        for offset, pool in zip(np.linspace(-0.15, 0.15, len(pools)), pools, strict=True):
            rows = data[data["pool"] == pool]
            y = rows["bin"].to_numpy(dtype=float) + offset
            low = rows["break_even_low"].fillna(left).to_numpy()
            high = rows["break_even_high"].to_numpy()
            has = ~np.isnan(high)
            ax.hlines(y[has], low[has], high[has], color=colours[pool], lw=2.5, alpha=0.6)
            point = rows["break_even_R"].to_numpy()
            ax.plot(point, y, "o", color=colours[pool], label=pool)
            behind = np.isnan(point)
            ax.plot(np.full(behind.sum(), left), y[behind], "x", color=colours[pool],
                    clip_on=False)
        ax.set(xscale="log", xlim=(left, right), xlabel="break-even R", title=f"vs {large}")
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set(ylabel="difficulty bin (1 = easiest)", yticks=bins,
                   ylim=(max(bins, default=1) + 0.5, min(bins, default=1) - 0.5))
    axes[0][-1].legend(title="strategies", loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


#: the factor between the trade-off figure's rows of x marks (one row per target)
NEVER_STEP = 1.8


def plot_tradeoff(table: pd.DataFrame) -> plt.Figure:
    """Test-time FLOPs per problem needed to reach each target accuracy against training
    FLOPs, one line per target, one panel per strategy (Jones 2021). Members that never reach
    a target are marked at the top of the panel with an x, one row per target.

    ``table`` has columns ``strategy``, ``model``, ``train_flops``, ``target``,
    ``test_flops`` and ``reached``, and optionally ``test_flops_low``/``test_flops_high``
    (error bars).
    """
    panels = list(dict.fromkeys(table["strategy"]))
    targets = sorted(table["target"].unique())
    colours = dict(zip(targets, sns.color_palette(PALETTE, len(targets)), strict=True))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.0), sharey=True,
                             sharex=True, squeeze=False)
    top = table["test_flops"].max() * 3 if table["reached"].any() else 1.0
    for ax, strategy in zip(axes[0], panels, strict=True):
        data = table[table["strategy"] == strategy]
        for rank, target in enumerate(targets):
            rows = data[data["target"] == target].sort_values("train_flops")
            ok = rows[rows["reached"]]
            # a marker of its own per target: lines of targets reached at the same FLOPs
            # lie on each other, and the markers still show both
            ax.plot(ok["train_flops"], ok["test_flops"], marker=LINE_MARKERS[
                rank % len(LINE_MARKERS)], markersize=7 - 1.5 * (rank % 3),
                color=colours[target], label=f"accuracy {target:g}")
            if "test_flops_low" in ok:  # 95% intervals over problems, where they exist
                bars = ok.dropna(subset=["test_flops_low", "test_flops_high"])
                ax.errorbar(bars["train_flops"], bars["test_flops"],
                            yerr=_yerr(bars["test_flops"], bars["test_flops_low"],
                                       bars["test_flops_high"]),
                            fmt="none", ecolor=colours[target], capsize=2, lw=1)
            missing = rows[~rows["reached"]]
            # one row of x marks per target, so targets a member never reaches do not overlap
            ax.scatter(missing["train_flops"], [top * NEVER_STEP ** rank] * len(missing),
                       marker="x", color=colours[target])
        ax.set(xscale="log", yscale="log", xlabel="training FLOPs (6·N·D)", title=strategy)
    axes[0][0].set_ylabel("test-time FLOPs per problem to reach the target")
    axes[0][-1].legend(title="target (x: never)", loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def plot_generate_verify_split(points: pd.DataFrame) -> plt.Figure:
    """Accuracy against FLOPs per problem for every split of a budget between generating
    N candidates and verifying each with K rationales, one panel per difficulty group.

    GenRM-CoT points are joined over N for each K; majority vote, likelihood-weighted
    best-of-N and the perfect verifier are lines over N; frontier points are ringed; every
    point has its 95% interval over problems. ``points`` is
    :func:`ttc.generate_verify.split_points`.
    """
    from ttc.generate_verify import CEILING, LIKELIHOOD, SPLIT, VOTE

    groups = list(dict.fromkeys(points["difficulty"]))  # in the table's order
    fig, axes = plt.subplots(1, max(1, len(groups)), figsize=(4.6 * max(1, len(groups)), 4.0),
                             sharey=True, squeeze=False)
    ks = sorted(points.loc[points["method"] == SPLIT, "K"].unique())
    colours = dict(zip(ks, sns.color_palette(PALETTE, max(1, len(ks))), strict=False))
    others = {VOTE: ("0.25", "-", "s"), LIKELIHOOD: ("tab:orange", "-", "^"),
              CEILING: ("0.55", "--", "")}

    def line(ax, rows, label, colour, style="-", marker="o"):
        rows = rows.sort_values("flops")
        ax.errorbar(rows["flops"], rows["accuracy"],
                    yerr=_yerr(rows["accuracy"], rows["accuracy_low"], rows["accuracy_high"]),
                    color=colour, ls=style, marker=marker or None, markersize=4, capsize=2,
                    lw=1.2, label=label)

    for ax, group in zip(axes[0], groups, strict=False):
        data = points[points["difficulty"] == group]
        for method, (colour, style, marker) in others.items():
            rows = data[data["method"] == method]
            if len(rows):
                line(ax, rows, method, colour, style, marker)
        for k in ks:
            rows = data[(data["method"] == SPLIT) & (data["K"] == k)]
            line(ax, rows, f"GenRM-CoT, K = {k}", colours[k])
        edge = data[data["frontier"]]
        ax.scatter(edge["flops"], edge["accuracy"], s=90, facecolors="none",
                   edgecolors="crimson", lw=1.3, zorder=5, label="frontier (N, K)")
        ax.set(xscale="log", title=group, ylim=(-0.02, 1.02),
               xlabel="inference FLOPs per problem")
    axes[0][0].set_ylabel("accuracy")
    handles, labels = axes[0][-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4,
               fontsize=9)  # below the panels, so that they keep the page's width
    return fig
