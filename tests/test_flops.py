"""FLOPs accounting against hand-computed values."""

import numpy as np
import pytest

from ttc import flops


def test_pretraining_and_inference_flops():
    assert flops.pretraining_flops(1e6, 2e6) == 6 * 1e6 * 2e6
    assert flops.inference_flops(1e6, 100) == 2e8
    assert flops.total_flops(10, 100, 5) == 6 * 10 * 100 + 2 * 10 * 5


@pytest.mark.parametrize(("r", "expected"), [(0.16, 257.75), (0.79, 63.367), (22.0, 15.773)])
def test_exchange_factor_matches_snell(r, expected):
    # M = 14: 14 + 3 * 13 / R -> about 258x, 63x, 16x (Snell et al. 2024, sec. 7)
    assert flops.exchange_factor(14, r) == pytest.approx(expected, rel=1e-3)


def test_exchange_factor_limits_and_arrays():
    assert flops.exchange_factor(1, 0.5) == 1.0  # equal sizes: no allowance beyond 1x
    assert flops.exchange_factor(4, 1e12) == pytest.approx(4.0)
    out = flops.exchange_factor(np.array([2.0, 4.0]), np.array([1.0, 3.0]))
    np.testing.assert_allclose(out, [2 + 3 / 1, 4 + 9 / 3])


def test_matched_inference_tokens_equalises_total_flops():
    n_small, n_large, d_pre, d_inf = 1e6, 14e6, 1e9, 0.16e9
    d_small = flops.matched_inference_tokens(n_small, n_large, d_pre, d_inf)
    assert flops.total_flops(n_small, d_pre, d_small) == pytest.approx(
        flops.total_flops(n_large, d_pre, d_inf)
    )
    assert d_small / d_inf == pytest.approx(flops.exchange_factor(14, 0.16))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: flops.exchange_factor(0.5, 1.0), "m "),
        (lambda: flops.exchange_factor(2, 0.0), "r "),
        (lambda: flops.pretraining_flops(-1, 10), "n_params"),
        (lambda: flops.matched_inference_tokens(10, 5, 1, 1), "n_large"),
    ],
)
def test_bad_inputs_name_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_exchange_table_is_tidy():
    table = flops.exchange_table([2, 14])
    assert list(table.columns) == ["M", "R", "exchange_factor"]
    assert len(table) == 2 * len(flops.SNELL_R_VALUES)


def test_charged_flops_is_nothing_for_work_already_paid_for():
    from ttc.flops import charged_flops

    assert charged_flops(0, 500) == 0.0  # the kept likelihood
    assert charged_flops(100, 5) == 1000.0  # 2·N per token otherwise
    with pytest.raises(ValueError):
        charged_flops(-1, 5)
