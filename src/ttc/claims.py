"""Headline claims of the book, computed from the results they are about.

Each claim is a sentence with two forms, one for when the data support it and one for when
they do not, and a predicate over the chapter's tables. Notebooks glue ``claim.text(tables)``
into the prose, so a sentence can only say what the tables show; the tests check every
claim against the tables of a real run and against tables built to contradict it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ttc.upstream import HARD

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
    #: words appended to ``fails_text`` when they apply (empty otherwise): e.g. that a
    #: difference is detectable alone but not after a correction for many comparisons
    fails_note: Callable[[Tables], str] | None = None

    def text(self, tables: Tables) -> str:
        if self.holds(tables):
            return self.holds_text
        return self.fails_text + (self.fails_note(tables) if self.fails_note else "")


def _largest(exchange: pd.DataFrame) -> pd.DataFrame:
    """Rows of the exchange table against the largest member."""
    return exchange[exchange["M"] == exchange["M"].max()]


TTC_WINS, LARGER_WINS = "test-time compute", "larger model"


def _easiest_at_smallest_r(tables: Tables) -> pd.DataFrame:
    rows = _largest(tables["exchange"])
    return rows[(rows["R"] == rows["R"].min()) & (rows["bin"] == rows["bin"].min())]


def _ttc_wins_easiest_at_smallest_r(tables: Tables) -> bool:
    rows = _easiest_at_smallest_r(tables)
    return len(rows) > 0 and bool((rows["verdict"] == TTC_WINS).all())


#: what the easiest-bin claim adds when both sides are right on every problem of the bin
CEILING_NOTE = (", where both are right on every problem: a ceiling that leaves nothing to "
                "win")


def _both_at_ceiling(tables: Tables) -> str:
    rows = _easiest_at_smallest_r(tables)
    full = (rows["small_accuracy"] >= 1 - 1e-9) & (rows["large_accuracy"] >= 1 - 1e-9)
    return CEILING_NOTE if len(rows) and bool(full.all()) else ""


def _larger_wins_hardest_at_every_r(tables: Tables) -> bool:
    rows = tables["exchange"]
    rows = rows[rows["bin"] == rows["bin"].max()]
    return len(rows) > 0 and bool((rows["verdict"] == LARGER_WINS).all())


def _ttc_never_wins_at_largest_r(tables: Tables) -> bool:
    rows = tables["exchange"]
    rows = rows[rows["R"] == rows["R"].max()]
    return len(rows) > 0 and bool((rows["verdict"] != TTC_WINS).all())


def _gain_shrinks_with_r(tables: Tables) -> bool:
    """For the largest member, the mean (over bins) accuracy difference never rises by more
    than one point as R grows."""
    rows = _largest(tables["exchange"])
    diff = rows.groupby("R")["difference"].mean()
    return len(diff) > 1 and bool((diff.sort_index().diff().dropna() < MARGIN).all())


def cell_claim(key: str, holds_text: str, fails_text: str, *, bin: int | None = None,
               r: float | str | None = "min", large: str | None = None,
               verdict: str = TTC_WINS, column: str = "verdict") -> Claim:
    """A claim about some cells of the exchange table: it holds when at least one selected
    cell has ``verdict`` in ``column`` (``"ceiling_verdict"`` for the perfect verifier).

    Cells are selected by difficulty ``bin``, by ``r`` (a value, or ``"min"``/``"max"`` for
    the smallest or largest R of the table) and by larger member ``large``; None selects all.
    An empty selection never holds."""

    def holds(tables: Tables) -> bool:
        rows = tables["exchange"]
        if bin is not None:
            rows = rows[rows["bin"] == bin]
        if r in ("min", "max"):
            rows = rows[rows["R"] == getattr(rows["R"], r)()]
        elif r is not None:
            rows = rows[rows["R"] == r]
        if large is not None:
            rows = rows[rows["large"] == large]
        return len(rows) > 0 and bool((rows[column] == verdict).any())

    return Claim(key, holds_text, fails_text, holds)


#: verdicts are Holm-corrected over every cell of the exchange table (ttc.exchange)
COMPUTE_OPTIMAL_CLAIMS = (
    Claim("claim_easy_small_r",
          "at the smallest R, the small model with test-time compute detectably beats the "
          "largest member on the easiest bin",
          "even at the smallest R, the small model with test-time compute does not "
          "detectably beat the largest member on the easiest bin",
          _ttc_wins_easiest_at_smallest_r, _both_at_ceiling),
    Claim("claim_hardest",
          "on the hardest bin every larger member detectably wins at every R",
          "on the hardest bin not every comparison is a detectable win for the larger member",
          _larger_wins_hardest_at_every_r),
    Claim("claim_large_r",
          "at the largest R test-time compute detectably wins no bin",
          "even at the largest R, test-time compute detectably wins some bin",
          _ttc_never_wins_at_largest_r),
    Claim("claim_shrinks",
          "against the largest member, the small model's mean margin over the bins (point "
          "estimates, at the R values of the verdict tables) never rises by more than a point "
          "as R grows",
          "against the largest member, the small model's mean margin over the bins (point "
          "estimates, at the R values of the verdict tables) rises by more than a point "
          "somewhere as R grows",
          _gain_shrinks_with_r),
    cell_claim("claim_ceiling",
               "with a perfect verifier, test-time compute detectably wins at least one cell",
               "even with a perfect verifier, test-time compute detectably wins no cell",
               r=None, column="ceiling_verdict"),
)


def _vote_slope_not_negative(tables: Tables) -> bool:
    """Majority vote never trades test-time for training compute: every fitted slope of
    test FLOPs against training FLOPs is >= 0, with at least one slope fitted (no fitted
    slope is no evidence either way)."""
    slopes = tables["slopes"]
    if slopes.empty:
        return False
    vote = slopes[(slopes["strategy"] == "majority vote")]["slope"].dropna()
    return len(vote) > 0 and bool((vote >= 0).all())


def _ceiling_exchanges(tables: Tables) -> bool:
    """With a perfect verifier, more training always removes test-time compute."""
    slopes = tables["slopes"]
    if slopes.empty:
        return False
    ceiling = slopes[slopes["strategy"] != "majority vote"]["slope"].dropna()
    return bool(len(ceiling) > 0 and (ceiling < 0).all())


FLOOR_CLAIMS = (
    Claim("claim_vote_no_exchange",
          "with majority vote the fitted slopes (point estimates) show no such exchange: "
          "more training never lowers the test-time compute needed for a target",
          "the fitted slopes (point estimates) do not show majority vote refusing the "
          "exchange: either more training lowers its test-time compute for some target, or "
          "too few members reach any target to fit a slope",
          _vote_slope_not_negative),
    Claim("claim_ceiling_exchange",
          "with a perfect verifier, the fitted slopes (point estimates) say more training "
          "lowers the test-time compute needed for every target reached by two or more "
          "members",
          "even with a perfect verifier, the fitted slopes (point estimates) do not all say "
          "that more training lowers the test-time compute needed",
          _ceiling_exchanges),
)


# -- paired comparisons of chapters 5 and 6 ---------------------------------------------------

#: the columns of a table of paired comparisons (:func:`paired_verdicts`)
PAIRED_COLUMNS = ["comparison", "variant", "reference", "difficulty", "budget", "mean", "low",
                  "high", "p", "problems", "verdict"]
HIGHER, LOWER = "higher", "lower"


def paired_verdicts(comparisons, n_boot: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """A table of paired comparisons, one row per comparison: the mean per-problem difference
    (variant minus reference) with a 95% bootstrap interval over problems, and a verdict,
    :data:`HIGHER` or :data:`LOWER` only where Holm's correction over every comparison of
    the table rejects "no difference" (else ``"no detectable difference"``).

    ``comparisons`` is a list of (description, differences): the description a dict of
    :data:`PAIRED_COLUMNS` ``comparison``, ``variant``, ``reference``, ``difficulty`` and
    ``budget``; the differences one value per problem (NaN where a problem has no pair)."""
    from ttc.metrics import holm, paired_bootstrap, verdict

    rows = [{**description, **paired_bootstrap(np.asarray(diffs, dtype=float), n_boot=n_boot,
                                               seed=seed)}
            for description, diffs in comparisons]
    table = pd.DataFrame(rows, columns=PAIRED_COLUMNS[:-1])
    rejected = holm(table["p"].to_numpy(dtype=float)) if len(table) else np.zeros(0, bool)
    table["verdict"] = [verdict(m, r, positive=HIGHER, negative=LOWER)
                        for m, r in zip(table["mean"], rejected, strict=True)]
    return table


def paired_display(table: pd.DataFrame) -> pd.DataFrame:
    """A :func:`paired_verdicts` table as a chapter shows it, narrow enough for the page: the
    comparison, "variant − reference", the difficulty and budget, the difference with its
    95% interval in one column, the number of problems and the verdict (as
    :func:`ttc.report.shown_verdict` words it next to an uncorrected interval)."""
    from ttc.report import difference_text, shown_verdict

    columns = ["comparison", "variant − reference", "difficulty", "budget",
               "difference [95%]", "problems", "verdict"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame({
        "comparison": table["comparison"],
        "variant − reference": [f"{v} − {r}" for v, r in zip(table["variant"],
                                                              table["reference"], strict=True)],
        "difficulty": table["difficulty"], "budget": table["budget"],
        "difference [95%]": [difference_text(m, lo, hi) for m, lo, hi in zip(
            table["mean"], table["low"], table["high"], strict=True)],
        "problems": table["problems"],
        "verdict": [shown_verdict(v, lo, hi, p=p) for v, lo, hi, p in zip(
            table["verdict"], table["low"], table["high"], table["p"], strict=True)],
    }, columns=columns)


#: what a paired claim that fails adds when its uncorrected interval alone would decide it
AFTER_HOLM_NOTE = (" after Holm's correction for the comparisons read together (alone, it "
                   "would be detectable)")


def paired_claim(key: str, holds_text: str, fails_text: str, *, verdict: str,
                 **where) -> Claim:
    """A claim over the ``paired`` table (:func:`paired_verdicts`): it holds when at least one
    row selected by ``where`` (column = value; ``"max"``/``"min"`` for a numeric column's
    largest or smallest value among the rows selected so far) has ``verdict``. An empty
    selection never holds, so on an empty table every such claim reads ``fails_text``. A
    claim that fails only because of the correction (a selected row's own test rejects at
    the 5% level, with the difference on the ``verdict``'s side of zero) says so
    (:data:`AFTER_HOLM_NOTE`)."""

    def selected(tables: Tables) -> pd.DataFrame:
        rows = tables["paired"]
        for column, value in where.items():
            if len(rows) == 0:
                return rows
            if value in ("min", "max"):
                value = getattr(rows[column], value)()
            rows = rows[rows[column] == value]
        return rows

    def holds(tables: Tables) -> bool:
        rows = selected(tables)
        return len(rows) > 0 and bool((rows["verdict"] == verdict).any())

    def note(tables: Tables) -> str:
        rows = selected(tables)
        side = rows["mean"] > 0 if verdict == HIGHER else rows["mean"] < 0
        alone = side & (rows["p"] < 0.05)
        return AFTER_HOLM_NOTE if len(rows) and bool(alone.any()) else ""

    return Claim(key, holds_text, fails_text, holds, note)


def learned_search_comparison(verifier: str) -> str:
    """The ``comparison`` label of chapter 5's rows that compare a search guided by the learned
    ``verifier`` (``"likelihood"`` or ``"PRM"``) with weighted best-of-N."""
    return f"{verifier} search - best-of-N"


def search_claims(verifier: str, verifier_name: str) -> tuple[Claim, ...]:
    """Chapter 5's claims when its searches are guided by the learned ``verifier`` (the
    chapter's ``verifier`` parameter), called ``verifier_name`` in the sentences.

    Chapter 5 compares, at its largest budget, every search against weighted best-of-N over
    the same problems, and beam search on easy problems at its largest against its smallest
    budget (ttc.chapters.ch05_search.paired_comparisons)."""
    learned = learned_search_comparison(verifier)
    return (
        paired_claim("claim_search_above_bon",
                     f"at least one search guided by {verifier_name} is detectably above "
                     f"weighted best-of-N",
                     f"no search guided by {verifier_name} is detectably above weighted "
                     f"best-of-N",
                     comparison=learned, verdict=HIGHER),
        paired_claim("claim_search_below_bon",
                     "at least one of them is detectably below it",
                     "none is detectably below it",
                     comparison=learned, verdict=LOWER),
        paired_claim("claim_oracle_above_bon",
                     "a search guided by the exact checker is detectably above weighted "
                     "best-of-N over all problems",
                     "no search guided by the exact checker is detectably above weighted "
                     "best-of-N over all problems",
                     comparison="exact-checker search - best-of-N", difficulty="all",
                     verdict=HIGHER),
        paired_claim("claim_oracle_above_bon_hard",
                     "on hard problems alone, a search guided by the exact checker is "
                     "detectably above weighted best-of-N",
                     "on hard problems alone, no search guided by the exact checker is "
                     "detectably above weighted best-of-N",
                     comparison="exact-checker search - best-of-N", difficulty=HARD,
                     verdict=HIGHER),
        paired_claim("claim_easy_beam_falls",
                     "detectably lower than at the smallest budget, the degradation "
                     "Snell et al. describe",
                     "not detectably lower than at the smallest budget, so this run does not "
                     "show the degradation Snell et al. describe",
                     comparison="largest - smallest budget", verdict=LOWER),
    )


#: chapter 6 compares, over the same problems, later attempts with first attempts, and at its
#: largest budget one sequential chain with all-parallel attempts, the last attempt with
#: every attempt, and all-parallel attempts weighted by the learned verifier with their
#: majority vote (ttc.chapters.ch06_revisions.paired_comparisons)
REVISION_CLAIMS = (
    paired_claim("claim_later_above_first",
                 "later attempts are detectably more often right than first attempts",
                 "later attempts are not detectably more often right than first attempts",
                 comparison="later - first attempts", verdict=HIGHER),
    paired_claim("claim_later_below_first",
                 "they are detectably less often right",
                 "they are not detectably less often right",
                 comparison="later - first attempts", verdict=LOWER),
    paired_claim("claim_chain_explores_less",
                 "one sequential chain detectably reaches fewer right answers than "
                 "independent attempts",
                 "one sequential chain does not detectably reach fewer right answers than "
                 "independent attempts",
                 comparison="sequential - parallel (oracle)", verdict=LOWER),
    paired_claim("claim_last_loses",
                 "a vote over the chain's last attempt only is detectably less often right "
                 "than the vote over every attempt",
                 "a vote over the chain's last attempt only is not detectably less often "
                 "right than the vote over every attempt",
                 comparison="last attempt - every attempt (one chain)", verdict=LOWER),
    paired_claim("claim_verifier_above_vote",
                 "weighting the attempts by the verifier is detectably more often right than "
                 "majority vote",
                 "weighting the attempts by the verifier is not detectably more often right "
                 "than majority vote",
                 comparison="verifier - majority (parallel)", verdict=HIGHER),
    paired_claim("claim_verifier_below_vote",
                 "it is detectably less often right",
                 "it is not detectably less often right either",
                 comparison="verifier - majority (parallel)", verdict=LOWER),
)


def claim_facts(claims, tables: Tables) -> dict[str, str]:
    """Every claim's sentence under its key, and under ``<key>_cap`` with a capital first
    letter (for a sentence or bullet that starts with it)."""
    texts = {claim.key: claim.text(tables) for claim in claims}
    return texts | {f"{key}_cap": text[:1].upper() + text[1:] for key, text in texts.items()}
