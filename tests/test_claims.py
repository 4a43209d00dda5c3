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


def test_easiest_bin_claim_names_a_ceiling_where_both_are_always_right():
    """Both sides right on every problem of the easiest bin: nothing to win, and the
    sentence says so instead of reading like a loss."""
    from ttc.claims import CEILING_NOTE

    perfect = exchange_table(lambda m, r, b: 1.0 if b == 1 else snell_like(m, r, b),
                             large=lambda m, b: {1: 1.0, 2: 0.6, 3: 0.3}[b])
    claim = CLAIMS["claim_easy_small_r"]
    assert not claim.holds(perfect)
    assert claim.text(perfect) == claim.fails_text + CEILING_NOTE
    level = exchange_table(lambda m, r, b: 0.92 if b == 1 else snell_like(m, r, b))
    assert claim.text(level) == claim.fails_text  # level, but below the ceiling


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


# -- chapters 5 and 6: claims over paired comparisons ------------------------------------------

def test_paired_verdicts_by_hand():
    from ttc.claims import PAIRED_COLUMNS, paired_verdicts

    described = {"variant": "a", "reference": "b", "difficulty": "all", "budget": 16}
    table = paired_verdicts([
        ({**described, "comparison": "up"}, [1.0] * 20),  # every problem +1: p = 1 / (n_boot + 1)
        ({**described, "comparison": "down"}, [-1.0] * 19 + [float("nan")]),  # NaN dropped
        ({**described, "comparison": "flat"}, [1.0, -1.0] * 10),  # mean 0: never a verdict
        ({**described, "comparison": "none"}, []),  # no problem: NaN, no verdict
    ], n_boot=2000)
    assert list(table.columns) == PAIRED_COLUMNS
    rows = table.set_index("comparison")
    assert rows.loc["up", "mean"] == 1.0 and rows.loc["up", "low"] == rows.loc["up", "high"] == 1
    assert rows.loc["up", "p"] == 1 / 2001 and rows.loc["down", "problems"] == 19
    assert list(rows["verdict"]) == ["higher", "lower", "no detectable difference",
                                     "no detectable difference"]
    assert rows.loc["none", "problems"] == 0


def test_paired_verdicts_are_holm_corrected_over_the_table():
    """A difference detectable on its own (sign-flip p = 2 / 2^7 = 0.016: seven problems
    favour one side, nine are ties) is not detectable in a family of 44 comparisons, where
    Holm's threshold for it is 0.05 / 41."""
    from ttc.claims import paired_verdicts

    diffs = [1.0] * 7 + [0.0] * 9  # mean +0.44 over 16 problems
    described = {"variant": "a", "reference": "b", "difficulty": "all", "budget": 4}
    alone = paired_verdicts([({**described, "comparison": "x"}, diffs)])
    p = float(alone["p"].iloc[0])
    assert 0.01 < p < 0.03 and alone["verdict"].iloc[0] == "higher"
    family = paired_verdicts([({**described, "comparison": "x"}, diffs)]
                             + [({**described, "comparison": f"y{i}"}, [1.0] * 20)
                                for i in range(3)]
                             + [({**described, "comparison": f"z{i}"}, [0.0] * 5)
                                for i in range(40)])
    assert family.set_index("comparison").loc["x", "verdict"] == "no detectable difference"


def test_paired_verdicts_of_nothing_is_an_empty_table():
    from ttc.claims import PAIRED_COLUMNS, paired_verdicts

    table = paired_verdicts([])
    assert table.empty and list(table.columns) == PAIRED_COLUMNS


def with_capitals(texts: dict[str, str]) -> dict[str, str]:
    """Claim facts as the chapters publish them: each also under ``<key>_cap``, capitalised."""
    return texts | {f"{k}_cap": v[:1].upper() + v[1:] for k, v in texts.items()}


def paired_table(rows) -> dict[str, pd.DataFrame]:
    """A ``paired`` table from (comparison, variant, difficulty, budget, verdict) rows."""
    from ttc.claims import PAIRED_COLUMNS

    frame = pd.DataFrame([{"comparison": c, "variant": v, "reference": "ref", "difficulty": d,
                           "budget": b, "mean": 0.0, "low": 0.0, "high": 0.0, "p": 0.5,
                           "problems": 10, "verdict": verdict}
                          for c, v, d, b, verdict in rows], columns=PAIRED_COLUMNS)
    return {"paired": frame}


LEARNED, ORACLE = "likelihood search - best-of-N", "exact-checker search - best-of-N"
BUDGET, HARD = "largest - smallest budget", "hard (6-8 ops)"
NONE = "no detectable difference"


def search_table(prm=("higher", "lower"), oracle_all="higher", oracle_hard="higher",
                 easy_beam="lower", learned=LEARNED):
    rows = [(learned, f"search {i}", "all", 16, v) for i, v in enumerate(prm)]
    rows += [(ORACLE, "beam, oracle", "all", 16, oracle_all),
             (ORACLE, "beam, oracle", HARD, 16, oracle_hard),
             (BUDGET, "beam, width 4", "easy (1-2 ops)", 16, easy_beam)]
    return paired_table(rows)


@pytest.mark.parametrize(("key", "contradiction"), [
    # no search with the learned verifier above best-of-N: below it, or no detectable
    # difference
    ("claim_search_above_bon", {"prm": ("lower", NONE)}),
    ("claim_search_below_bon", {"prm": ("higher", NONE)}),
    # the exact checker's search only level with best-of-N, or below it
    ("claim_oracle_above_bon", {"oracle_all": NONE}),
    ("claim_oracle_above_bon", {"oracle_all": "lower"}),
    # ... on hard problems alone (the all-problem row stays a win: the selector matters)
    ("claim_oracle_above_bon_hard", {"oracle_hard": NONE}),
    # beam search rises with the budget on easy problems, or stays level
    ("claim_easy_beam_falls", {"easy_beam": "higher"}),
    ("claim_easy_beam_falls", {"easy_beam": NONE}),
])
def test_search_claims_hold_and_flip(key, contradiction):
    from ttc.claims import search_claims

    claim = {c.key: c for c in search_claims("likelihood", "the policy's likelihood")}[key]
    supported = search_table()
    assert claim.holds(supported) and claim.text(supported) == claim.holds_text
    contradicted = search_table(**contradiction)
    assert not claim.holds(contradicted) and claim.text(contradicted) == claim.fails_text


def test_search_claims_name_and_select_their_verifier():
    """The sentences name the verifier the searches used, and the claims about the learned
    verifier read only its own rows: the PRM's wins say nothing about the likelihood's."""
    from ttc.claims import learned_search_comparison, search_claims

    assert learned_search_comparison("PRM") == "PRM search - best-of-N"
    prm = {c.key: c for c in search_claims("PRM", "the learned PRM")}
    likelihood = {c.key: c for c in search_claims("likelihood", "the policy's likelihood")}
    assert prm["claim_search_above_bon"].holds_text == (
        "at least one search guided by the learned PRM is detectably above weighted best-of-N")
    assert likelihood["claim_search_above_bon"].fails_text == (
        "no search guided by the policy's likelihood is detectably above weighted best-of-N")
    prm_rows = search_table(learned=learned_search_comparison("PRM"))
    for key in ("claim_search_above_bon", "claim_search_below_bon"):
        assert prm[key].holds(prm_rows) and not likelihood[key].holds(prm_rows), key
        assert likelihood[key].holds(search_table()) and not prm[key].holds(search_table())
    # the exact checker's claims do not depend on the learned verifier
    for key in ("claim_oracle_above_bon", "claim_oracle_above_bon_hard",
                "claim_easy_beam_falls"):
        assert prm[key].holds(prm_rows) and likelihood[key].holds(prm_rows), key
        assert prm[key].holds_text == likelihood[key].holds_text


def revision_table(later="higher", explore="lower", last="lower"):
    return paired_table([("later - first attempts", "attempts 2-8", "all", None, later),
                         ("sequential - parallel (oracle)", "1 × 16", "all", 16, explore),
                         ("last attempt - every attempt (one chain)", "last majority", "all",
                          16, last)])


@pytest.mark.parametrize(("key", "supported", "contradiction"), [
    ("claim_later_above_first", {}, {"later": NONE}),
    ("claim_later_above_first", {}, {"later": "lower"}),
    ("claim_later_below_first", {"later": "lower"}, {"later": "higher"}),
    ("claim_later_below_first", {"later": "lower"}, {"later": NONE}),
    ("claim_chain_explores_less", {}, {"explore": "higher"}),
    ("claim_chain_explores_less", {}, {"explore": NONE}),
    ("claim_last_loses", {}, {"last": NONE}),
    ("claim_last_loses", {}, {"last": "higher"}),
])
def test_revision_claims_hold_and_flip(key, supported, contradiction):
    from ttc.claims import REVISION_CLAIMS

    claim = {c.key: c for c in REVISION_CLAIMS}[key]
    tables = revision_table(**supported)
    assert claim.holds(tables) and claim.text(tables) == claim.holds_text
    contradicted = revision_table(**contradiction)
    assert not claim.holds(contradicted) and claim.text(contradicted) == claim.fails_text


def test_paired_claims_on_an_empty_table_do_not_hold():
    from ttc.claims import REVISION_CLAIMS, search_claims

    empty = paired_table([])
    for claim in (search_claims("likelihood", "the policy's likelihood")
                  + search_claims("PRM", "the learned PRM") + REVISION_CLAIMS):
        assert not claim.holds(empty), claim.key
        assert claim.text(empty) == claim.fails_text


def test_paired_claim_selects_rows_by_value_and_extreme():
    from ttc.claims import paired_claim

    tables = paired_table([("c", "v", "all", 4, "higher"), ("c", "v", "all", 16, NONE)])
    assert paired_claim("k", "yes", "no", comparison="c", verdict="higher").holds(tables)
    assert paired_claim("k", "yes", "no", budget="min", verdict="higher").holds(tables)
    assert not paired_claim("k", "yes", "no", budget="max", verdict="higher").holds(tables)
    assert not paired_claim("k", "yes", "no", comparison="other", verdict="higher").holds(tables)


def test_paired_claim_that_fails_only_after_holm_says_so():
    """The negative sentence names the correction where the comparison's own test rejects
    and the difference lies on the claim's side of zero (ch. 6: -0.19 [-0.34, -0.06], not
    detectable after Holm), and only there."""
    from ttc.claims import AFTER_HOLM_NOTE, paired_claim

    lower = paired_claim("k", "fewer", "not detectably fewer", comparison="c", verdict="lower")
    higher = paired_claim("k", "more", "not detectably more", comparison="c", verdict="higher")
    tables = paired_table([("c", "v", "all", 4, NONE)])
    tables["paired"][["mean", "low", "high", "p"]] = [-0.19, -0.34, -0.06, 0.01]
    assert lower.text(tables) == "not detectably fewer" + AFTER_HOLM_NOTE
    assert higher.text(tables) == "not detectably more"  # the difference is on the other side
    tables["paired"]["p"] = 0.5  # the test alone does not reject either (two problems)
    assert lower.text(tables) == "not detectably fewer"
    tables["paired"][["low", "high", "verdict"]] = [-0.34, -0.06, "lower"]
    assert lower.text(tables) == "fewer"


def test_paired_claim_keys_are_unique_across_the_book():
    from ttc.claims import FLOOR_CLAIMS, REVISION_CLAIMS, search_claims

    for verifier in ("likelihood", "PRM"):
        every = (COMPUTE_OPTIMAL_CLAIMS + FLOOR_CLAIMS + search_claims(verifier, "it")
                 + REVISION_CLAIMS)
        assert len({c.key for c in every}) == len(every)
        assert all(c.holds_text != c.fails_text for c in every)


def test_paired_display_is_narrow_and_words_the_correction():
    from ttc.claims import paired_display

    table = pd.DataFrame({
        "comparison": ["search vs vote", "search vs vote"], "variant": ["beam", "DVTS"],
        "reference": ["majority vote"] * 2, "difficulty": ["all"] * 2, "budget": [16, 64],
        "mean": [0.1, -0.2], "low": [0.02, -0.3], "high": [0.18, -0.1], "p": [0.04, 0.001],
        "problems": [32, 32], "verdict": ["no detectable difference", "lower"]})
    shown = paired_display(table)
    assert list(shown.columns) == ["comparison", "variant − reference", "difficulty",
                                   "budget", "difference [95%]", "problems", "verdict"]
    assert shown["variant − reference"].iloc[0] == "beam − majority vote"
    assert shown["difference [95%]"].tolist() == ["+0.10 [+0.02, +0.18]",
                                                  "-0.20 [-0.30, -0.10]"]
    assert shown["verdict"].tolist() == ["not detectable after Holm", "lower"]
    assert paired_display(table.iloc[:0]).empty
