"""Headline claims of the book, computed from the results they are about.

Each claim is a sentence with two forms, one for when the data support it and one for when
they do not, and a predicate over the chapter's tables. Notebooks glue ``claim.text(tables)``
into the prose, so a sentence can only say what the tables show; the tests check every
claim against the tables of a real run and against tables built to contradict it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

Tables = Mapping[str, pd.DataFrame]

#: accuracy differences smaller than this are ties, not wins (one problem in a hundred)
MARGIN = 0.01


@dataclass(frozen=True)
class Claim:
    """A headline sentence, its negation, and the test over the results that decides it."""

    key: str
    holds_text: str
    fails_text: str
    holds: Callable[[Tables], bool]

    def text(self, tables: Tables) -> str:
        return self.holds_text if self.holds(tables) else self.fails_text


def _largest(exchange: pd.DataFrame) -> pd.DataFrame:
    """Rows of the exchange table against the largest member."""
    return exchange[exchange["M"] == exchange["M"].max()]


def _ttc_wins_easiest_at_smallest_r(tables: Tables) -> bool:
    rows = _largest(tables["exchange"])
    rows = rows[(rows["R"] == rows["R"].min()) & (rows["bin"] == rows["bin"].min())]
    return bool((rows["small_accuracy"] >= rows["large_accuracy"] + MARGIN).all()) \
        and len(rows) > 0


def _larger_wins_hardest_at_every_r(tables: Tables) -> bool:
    rows = tables["exchange"]
    rows = rows[rows["bin"] == rows["bin"].max()]
    return bool((rows["large_accuracy"] >= rows["small_accuracy"] + MARGIN).all()) \
        and len(rows) > 0


def _larger_wins_everywhere_at_largest_r(tables: Tables) -> bool:
    rows = tables["exchange"]
    rows = rows[rows["R"] == rows["R"].max()]
    return bool((rows["large_accuracy"] > rows["small_accuracy"] - MARGIN).all()) \
        and len(rows) > 0


def _gain_shrinks_with_r(tables: Tables) -> bool:
    """For the largest member, the mean accuracy difference never rises as R grows."""
    rows = _largest(tables["exchange"])
    diff = (rows["small_accuracy"] - rows["large_accuracy"]).groupby(rows["R"]).mean()
    return bool((diff.sort_index().diff().dropna() < MARGIN).all()) and len(diff) > 1


COMPUTE_OPTIMAL_CLAIMS = (
    Claim("claim_easy_small_r",
          "at the smallest R, the small model with test-time compute beats the largest "
          "member on the easiest bin",
          "even at the smallest R, the small model with test-time compute does not beat the "
          "largest member on the easiest bin",
          _ttc_wins_easiest_at_smallest_r),
    Claim("claim_hardest",
          "on the hardest bin every larger member wins at every R",
          "on the hardest bin test-time compute matches or beats a larger member at some R",
          _larger_wins_hardest_at_every_r),
    Claim("claim_large_r",
          "at the largest R the larger member is at least as good in every bin (within "
          "one point of accuracy)",
          "even at the largest R, test-time compute still wins some bin",
          _larger_wins_everywhere_at_largest_r),
    Claim("claim_shrinks",
          "the small model's margin never grows as R grows",
          "the small model's margin is not monotone in R",
          _gain_shrinks_with_r),
)


def _vote_slope_not_negative(tables: Tables) -> bool:
    """Majority vote never trades test-time for training compute: every fitted slope of
    test FLOPs against training FLOPs is >= 0 (or no target is reached by two members)."""
    slopes = tables["slopes"]
    vote = slopes[(slopes["strategy"] == "majority vote")]["slope"].dropna()
    return bool((vote >= 0).all())


def _ceiling_exchanges(tables: Tables) -> bool:
    """With a perfect verifier, more training always removes test-time compute."""
    slopes = tables["slopes"]
    ceiling = slopes[slopes["strategy"] != "majority vote"]["slope"].dropna()
    return bool(len(ceiling) > 0 and (ceiling < 0).all())


FLOOR_CLAIMS = (
    Claim("claim_vote_no_exchange",
          "with majority vote there is no such exchange: more training never lowers the "
          "test-time compute needed for a target",
          "majority vote also trades test-time compute for training compute for some target",
          _vote_slope_not_negative),
    Claim("claim_ceiling_exchange",
          "with a perfect verifier, more training lowers the test-time compute needed for "
          "every target reached by two or more members",
          "even with a perfect verifier, more training does not always lower the test-time "
          "compute needed",
          _ceiling_exchanges),
)


def glue_claims(claims, tables: Tables) -> dict[str, str]:
    """Glue every claim's sentence under its key; return the sentences."""
    from ttc import report

    texts = {claim.key: claim.text(tables) for claim in claims}
    for key, text in texts.items():
        report.glue(key, text)
    return texts
