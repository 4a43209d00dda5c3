"""Metrics over repeated samples.

``pass_at_k`` is the unbiased estimator of Chen et al. (2021): with ``n`` samples of which
``c`` are correct, the chance that at least one of ``k`` samples drawn without replacement is
correct is ``1 - C(n-c, k) / C(n, k)``, computed in the numerically stable product form
``1 - prod_{i=n-c+1}^{n} (1 - k / i)``. The naive ``1 - (1 - c/n)^k`` is biased.
"""

from __future__ import annotations

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``n`` samples, ``c`` of them correct."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(n: int, correct_counts: np.ndarray, k: int) -> float:
    """pass@k averaged over problems (coverage at k), all with ``n`` samples."""
    return float(np.mean([pass_at_k(n, int(c), k) for c in np.asarray(correct_counts)]))
