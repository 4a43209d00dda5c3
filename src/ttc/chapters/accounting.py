"""Chapter 1: the FLOPs accounting behind "a smaller model with more inference"."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ttc import flops
from ttc.config import ConfigError, require_range
from ttc.family.specs import check_members, get_spec, spec_parameters
from ttc.tokenizer import build_tokenizer


@dataclass(frozen=True)
class AccountingConfig:
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


def run(config: AccountingConfig) -> dict[str, pd.DataFrame]:
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
