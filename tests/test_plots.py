"""Figure functions whose layout carries meaning: what a reader must be able to tell apart."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ttc import plots  # noqa: E402


def _tradeoff_table() -> pd.DataFrame:
    """Two members; targets 0.2 and 0.4 reached at the same FLOPs by "a" (their lines
    coincide), and neither reached by "b"."""
    rows = []
    for model, train, reached in (("a", 1e12, True), ("b", 1e13, False)):
        for target in (0.2, 0.4):
            rows.append({"strategy": "majority vote", "model": model, "train_flops": train,
                         "target": target, "reached": reached,
                         "test_flops": 1e8 if reached else np.nan})
    return pd.DataFrame(rows)


def test_tradeoff_marks_each_target_apart():
    fig = plots.plot_tradeoff(_tradeoff_table())
    ax = fig.axes[0]
    lines = [line for line in ax.get_lines() if line.get_label().startswith("accuracy")]
    assert [line.get_label() for line in lines] == ["accuracy 0.2", "accuracy 0.4"]
    # the two targets' lines lie on each other; their markers differ, so both show
    assert lines[0].get_marker() != lines[1].get_marker()
    # "b" never reaches either target: one x per target, at two different heights
    marks = [c.get_offsets() for c in ax.collections if len(c.get_offsets())]
    heights = sorted(float(m[0][1]) for m in marks)
    assert len(heights) == 2 and heights[1] > heights[0] > 1e8
    assert all(float(m[0][0]) == 1e13 for m in marks)
    matplotlib.pyplot.close(fig)


def test_exchange_sweep_tells_bins_apart_beyond_colour():
    rows = [{"large": "z", "bin": b, "R": r, "difference": 0.0, "low": -0.1, "high": 0.1}
            for b in (1, 2, 3) for r in (0.1, 1.0, 10.0)]
    fig = plots.plot_exchange_sweep(pd.DataFrame(rows))
    lines = [line for line in fig.axes[0].get_lines() if line.get_label().startswith("bin")]
    assert len({line.get_linestyle() for line in lines}) == 3  # one dash pattern per bin
    zero = [line for line in fig.axes[0].get_lines() if not line.get_label().startswith("bin")]
    assert all(line.get_zorder() < lines[0].get_zorder() for line in zero)  # drawn behind
    matplotlib.pyplot.close(fig)


def test_budget_curves_mark_every_line_and_band_the_references():
    rows = [{"difficulty": "easy", "selector": name, "N": n, "accuracy": 0.5,
             "accuracy_low": 0.4, "accuracy_high": 0.6}
            for name in ("majority vote", "weighted", "coverage") for n in (1, 2, 4)]
    fig = plots.plot_budget_curves(pd.DataFrame(rows), x="N", hue="selector",
                                   dashed=["coverage"])
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    # the three coincide; their markers differ, so each stays visible
    assert len({line.get_marker() for line in lines.values()}) == 3
    assert lines["coverage"].get_linestyle() == "--"
    assert len(ax.collections) == 3  # a band for every line, the dashed reference included
    matplotlib.pyplot.close(fig)


def test_accuracy_by_difficulty_gives_each_model_a_marker():
    rows = [{"model": m, "n_ops": n, "correct": 0.0, "problem": p}
            for m in ("a", "b", "c") for n in (1, 2) for p in range(3)]
    ax = plots.plot_accuracy_by_difficulty(pd.DataFrame(rows))
    markers = {line.get_marker() for line in ax.get_lines()
               if line.get_label() in ("a", "b", "c")}
    assert len(markers) == 3  # three models at zero accuracy stay apart
    matplotlib.pyplot.close(ax.figure)
