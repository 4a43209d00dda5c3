"""Headline claims follow the tables they are about, and flip when the tables contradict them."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from ttc.claims import COMPUTE_OPTIMAL_CLAIMS, Claim

CLAIMS = {c.key: c for c in COMPUTE_OPTIMAL_CLAIMS}


def _verdict(difference):
    """Stand-in for the Holm-corrected test: differences of 5 points or more are detected."""
    return ("test-time compute" if difference >= 0.05 else "larger model"
            if difference <= -0.05 else "no detectable difference")


def exchange_table(small, large=None, ceiling_gain=0.2) -> dict[str, pd.DataFrame]:
    """An exchange table against two larger members at R = 0.16, 0.79, 22 and 3 bins;
    ``small(member, r, bin)`` gives the small model's accuracy; the perfect-verifier ceiling
    is ``ceiling_gain`` above it."""
    large = large or (lambda member, b: {1: 0.9, 2: 0.6, 3: 0.3}[b])
    rows = []
    for (member, m), r, b in itertools.product((("mid", 2.0), ("big", 5.0)), (0.16, 0.79, 22.0),
                                               (1, 2, 3)):
        diff = small(member, r, b) - large(member, b)
        rows.append({"large": member, "M": m, "R": r, "bin": b,
                     "small_accuracy": small(member, r, b), "large_accuracy": large(member, b),
                     "difference": diff, "verdict": _verdict(diff),
                     "ceiling_difference": diff + ceiling_gain,
                     "ceiling_verdict": _verdict(diff + ceiling_gain)})
    return {"exchange": pd.DataFrame(rows)}


def snell_like(member, r, b):
    """Test-time compute wins easy bins at small R, loses hard bins and at large R."""
    gain = {0.16: 0.05, 0.79: 0.0, 22.0: -0.1}[r]
    return {1: 0.9 + gain, 2: 0.55 + min(gain, 0), 3: 0.1}[b]


def test_claims_hold_on_a_snell_like_result():
    tables = exchange_table(snell_like)
    for key in ("claim_easy_small_r", "claim_hardest", "claim_large_r", "claim_shrinks",
                "claim_ceiling"):
        assert CLAIMS[key].holds(tables), key
        assert CLAIMS[key].text(tables) == CLAIMS[key].holds_text


@pytest.mark.parametrize(("key", "contradiction"), [
    # the small model loses the easiest bin at the smallest R
    ("claim_easy_small_r", lambda m, r, b: 0.5 if b == 1 else snell_like(m, r, b)),
    # ... or is only level with it (no detectable difference is not a win)
    ("claim_easy_small_r", lambda m, r, b: 0.92 if b == 1 else snell_like(m, r, b)),
    # the larger model's edge on the hardest bin is not detectable at some R
    ("claim_hardest", lambda m, r, b: 0.28 if (b == 3 and r == 22.0) else snell_like(m, r, b)),
    # the small model wins the hardest bin at some R
    ("claim_hardest", lambda m, r, b: 0.95 if (b == 3 and r == 0.79) else snell_like(m, r, b)),
    # test-time compute still wins a bin at the largest R
    ("claim_large_r", lambda m, r, b: 0.99 if (r == 22.0 and b == 2) else snell_like(m, r, b)),
    # the margin grows with R
    ("claim_shrinks", lambda m, r, b: {0.16: 0.5, 0.79: 0.7, 22.0: 0.9}[r]),
])
def test_each_claim_fails_on_contradicting_results(key, contradiction):
    tables = exchange_table(contradiction)
    assert not CLAIMS[key].holds(tables)
    assert CLAIMS[key].text(tables) == CLAIMS[key].fails_text


def test_ceiling_claim_fails_when_even_the_ceiling_never_wins():
    tables = exchange_table(snell_like, ceiling_gain=-0.3)
    claim = CLAIMS["claim_ceiling"]
    assert not claim.holds(tables) and claim.text(tables) == claim.fails_text


def test_claims_on_an_empty_table_do_not_hold():
    empty = {"exchange": pd.DataFrame(columns=["large", "M", "R", "bin", "small_accuracy",
                                               "large_accuracy", "difference", "verdict",
                                               "ceiling_difference", "ceiling_verdict"])}
    for claim in COMPUTE_OPTIMAL_CLAIMS:
        assert not claim.holds(empty)


def test_claim_keys_are_unique_and_texts_differ():
    assert len(CLAIMS) == len(COMPUTE_OPTIMAL_CLAIMS)
    for claim in COMPUTE_OPTIMAL_CLAIMS:
        assert isinstance(claim, Claim) and claim.holds_text != claim.fails_text


def slopes_table(vote, ceiling) -> dict[str, pd.DataFrame]:
    rows = [{"strategy": "majority vote", "target": t, "slope": s} for t, s in vote]
    rows += [{"strategy": "best-of-k with a perfect verifier", "target": t, "slope": s}
             for t, s in ceiling]
    return {"slopes": pd.DataFrame(rows)}


def test_floor_claims_follow_the_slopes():
    from ttc.claims import FLOOR_CLAIMS

    claims = {c.key: c for c in FLOOR_CLAIMS}
    supported = slopes_table([(0.2, 1.0), (0.4, float("nan"))], [(0.2, -0.4), (0.4, -0.5)])
    assert claims["claim_vote_no_exchange"].holds(supported)
    assert claims["claim_ceiling_exchange"].holds(supported)
    # majority vote trading compute for some target, or a perfect verifier failing to
    contradicted = slopes_table([(0.2, 1.0), (0.4, -0.3)], [(0.2, -0.4), (0.4, 0.2)])
    assert not claims["claim_vote_no_exchange"].holds(contradicted)
    assert not claims["claim_ceiling_exchange"].holds(contradicted)
    assert claims["claim_ceiling_exchange"].text(contradicted) == \
        claims["claim_ceiling_exchange"].fails_text


def test_floor_claims_do_not_hold_on_empty_slopes():
    from ttc.claims import FLOOR_CLAIMS

    empty = slopes_table([], [])
    nan_only = slopes_table([(0.2, float("nan"))], [(0.2, float("nan"))])
    for claim in FLOOR_CLAIMS:
        assert not claim.holds(empty) and not claim.holds(nan_only), claim.key


def test_cell_claim_selects_cells_by_bin_r_and_member():
    from ttc.claims import cell_claim

    tables = exchange_table(snell_like)  # wins bin 1 at R = 0.16 against both members
    easy = cell_claim("e", "yes", "no", bin=1, r="min")
    assert easy.holds(tables) and easy.text(tables) == "yes"
    assert not cell_claim("h", "yes", "no", bin=3, r="min").holds(tables)
    assert not cell_claim("l", "yes", "no", bin=1, r="max").holds(tables)
    assert cell_claim("v", "yes", "no", bin=3, r=22.0, verdict="larger model").holds(tables)
    assert cell_claim("m", "yes", "no", bin=1, r=0.16, large="mid").holds(tables)
    assert not cell_claim("x", "yes", "no", bin=1, large="nobody").holds(tables)  # empty
    # the ceiling column: 0.2 above the learned line, so bin 2 at R = 0.16 is a win there
    assert cell_claim("c", "yes", "no", bin=2, r="min", column="ceiling_verdict").holds(tables)
    assert not cell_claim("c", "yes", "no", bin=2, r="min").holds(tables)
