"""Chapter 1: the FLOPs accounting behind "a smaller model with more inference"."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ttc import flops
from ttc.config import ConfigError, require_range
from ttc.family.specs import check_members, get_spec, spec_parameters
from ttc.report import fmt
from ttc.tokenizer import build_tokenizer


@dataclass(frozen=True)
class AccountingChapterConfig:
    """Parameters of chapter 1 (all cheap: no model is trained here)."""

    #: parameter ratios M drawn as curves in the exchange-factor figure
    ratios: tuple[float, ...] = (2.0, 4.0, 14.0, 32.0)
    #: range and resolution of the R sweep
    r_min: float = 0.01
    r_max: float = 100.0
    n_points: int = 50
    #: family members for the worked table (smallest first)
    family: tuple[str, ...] = ("f32x2", "f48x2", "f64x3", "f96x3", "f128x4")

    def __post_init__(self) -> None:
        if not self.ratios:
            raise ConfigError("parameter 'ratios' must list at least one ratio")
        for m in self.ratios:
            require_range("ratios", m, low=1.0)
        require_range("r_min", self.r_min, low=1e-6)
        if self.r_max <= self.r_min:
            raise ConfigError(f"parameter 'r_max' must be > r_min ({self.r_min}); got {self.r_max}")
        require_range("n_points", self.n_points, low=2, high=10_000)
        check_members("family", self.family, minimum=2)


def run(config: AccountingChapterConfig, inputs=None, progress: bool = False
        ) -> dict[str, pd.DataFrame]:
    """Compute the tables of chapter 1.

    Returns ``curve`` (exchange factor over an R sweep for each M), ``snell`` (M = 14 at
    Snell et al.'s three R) and ``family`` (each member against the smallest one).
    """
    r_grid = np.geomspace(config.r_min, config.r_max, config.n_points)
    curve = flops.exchange_table(config.ratios, r_grid)
    snell = flops.exchange_table([flops.SNELL_M], flops.SNELL_R_VALUES)

    vocab_size = len(build_tokenizer())
    rows = []
    for name in config.family:
        counts = spec_parameters(get_spec(name), vocab_size)
        rows.append({"model": name, "params_total": counts["total"], "N": counts["non_embedding"]})
    family = pd.DataFrame(rows)
    family["M"] = family["N"] / family["N"].iloc[0]
    for r in flops.SNELL_R_VALUES:
        family[f"factor_R{r:g}"] = flops.exchange_factor(family["M"].to_numpy(), r)
    return {"curve": curve, "snell": snell, "family": family}


def _curve_end(curve: pd.DataFrame) -> pd.Series | None:
    """The row of the exchange-factor sweep at the largest M and the largest R (None if the
    sweep is empty)."""
    if curve.empty:
        return None
    largest = curve[curve["M"] == curve["M"].max()]
    return largest.sort_values("R").iloc[-1]


def facts(tables, config: AccountingChapterConfig) -> dict[str, str]:
    """What chapter 1's prose quotes, as display text.

    ``snell_M`` and ``snell_factor_R<R>`` (Snell et al.'s M = 14 at each of their R),
    ``curve_largest_M``, ``curve_r_max`` and ``curve_factor_at_r_max`` (the right edge of the
    sweep for the largest ratio), and ``family_smallest``, ``family_largest``, ``family_M``,
    ``family_factor_R0.16``, ``family_factor_R22`` (the largest member against the smallest).
    """
    out: dict[str, str] = {}
    snell = tables["snell"]
    out["snell_M"] = fmt(snell["M"].iloc[0] if len(snell) else None, ".0f")
    for r in flops.SNELL_R_VALUES:  # the prose quotes all three, whatever the table holds
        at_r = snell.loc[np.isclose(snell["R"], r), "exchange_factor"]
        out[f"snell_factor_R{r:g}"] = fmt(at_r.iloc[0] if len(at_r) else None, ".0f")
    end = _curve_end(tables["curve"])
    out["curve_largest_M"] = fmt(None if end is None else end["M"], ".0f")
    out["curve_r_max"] = fmt(None if end is None else end["R"], "g")
    out["curve_factor_at_r_max"] = fmt(None if end is None else end["exchange_factor"], ".1f")
    family = tables["family"]
    smallest = family.iloc[0] if len(family) else None
    largest = family.iloc[-1] if len(family) else None
    out["family_smallest"] = fmt(None if smallest is None else smallest["model"])
    out["family_largest"] = fmt(None if largest is None else largest["model"])
    out["family_M"] = fmt(None if largest is None else largest["M"], ".0f")
    for r in (0.16, 22.0):
        column = f"factor_R{r:g}"
        value = None if largest is None or column not in family else largest[column]
        out[f"family_{column}"] = fmt(value, ".0f")
    return out
