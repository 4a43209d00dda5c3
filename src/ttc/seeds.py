"""Training seeds: how much of the book's answer is one draw of the family's training.

Each member of the family is trained once per build. Two runs of the same recipe differ in
their initialisation and in the order of their training data, and a member's greedy accuracy
moves with that (chapter 2 records one such swing). This module trains the policy and every
larger member again under other seeds, with the same recipe, and repeats the FLOPs-matched
exchange of chapter 7 for each seed, so that the book can show the seed-to-seed spread of
greedy accuracy and whether any exchange verdict changes with the seed.

What a seed's exchange includes, so that every seed is treated alike: the policy's own greedy
answer, and majority vote and likelihood-weighted or plain best-of-N over its samples at
chapter 3's temperature, at the exact affordable budget; and the perfect verifier as the
ceiling. It leaves out what would cost a seed its own fine-tunes and sample sets (the ORM
and PRM rules, the other temperatures, the validation split), so each cell's candidate is
chosen by two-fold cross-validation over the bin's test problems. Seed 0, the book's own
family, is run the same way, which shows how far the reduced pool is from chapter 7's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import pandas as pd

from ttc.cache import artifact_path, load_tables, save_tables
from ttc.config import config_hash

#: the columns of a seed's exchange kept in the study's table
EXCHANGE_COLUMNS = ["large", "M", "R", "bin", "problems", "chosen", "small_accuracy",
                    "large_accuracy", "difference", "low", "high", "verdict",
                    "ceiling_accuracy", "ceiling_difference", "ceiling_low", "ceiling_high",
                    "ceiling_verdict"]


def study_members(family_members: Sequence[str], policy: str, sizes: dict[str, int]
                  ) -> list[str]:
    """The members a seed trains: the policy and every member larger than it."""
    return [m for m in family_members if m == policy or sizes[m] > sizes[policy]]


def seed_exchange(seed: int, inputs, config, exchange: Callable, progress: bool = True
                  ) -> dict[str, pd.DataFrame]:
    """One seed's part of the study (cached by every setting that shapes it): the members
    trained with ``seed`` (chapter 2's recipe otherwise), their greedy accuracy, the policy's
    samples of chapter 3's main problems scored by its likelihood, and chapter 7's exchange
    on them with the reduced pool of the module docstring. ``config`` is chapter 7's;
    ``exchange(scored, greedy, sizes, policy)`` is its exchange on one family's tables (the
    policy's scored samples, every member's greedy answers, members' N), returning its
    table with verdicts (chapter 7 passes it in, so that this module does not import it).

    Tables: ``greedy`` (one row per member: ``N``, accuracy on chapter 2's test set and on
    chapter 3's main problems) and ``exchange`` (:data:`EXCHANGE_COLUMNS` per larger member,
    R and bin, with Holm-corrected verdicts within the seed)."""
    from ttc.chapters.ch02_family import greedy_results, train_family
    from ttc.family.train import load_member, training_info
    from ttc.policy_samples import recorded_likelihood
    from ttc.sampling import draw_samples
    from ttc.selection import aggregate_steps
    from ttc.upstream import (
        first_per_ops,
        hard_subset,
        main_sample_spec,
        member_sizes,
        sample_batch_size,
        test_problems,
    )
    from ttc.verifiers.pool import ScorerSpec, score_chains

    fconfig = replace(inputs["02_family"].config, seed=seed)
    sconfig = inputs["03_sampling"].config
    policy = inputs["04_verifiers"].config.policy
    sizes = member_sizes(inputs)
    members = study_members(fconfig.members, policy, sizes)
    key = config_hash((fconfig, sconfig, policy, members, config.seed, config.bin_share,
                       config.n_bins, config.r_values, config.selection_resamples,
                       config.n_boot, "v2"))  # v2: the likelihood kept by the sampler
    folder = artifact_path("seeds", f"seed{seed}-{key}")
    names = ["greedy.parquet", "exchange.parquet"]
    if (cached := load_tables(folder, names)) is not None:
        return {"greedy": cached["greedy.parquet"], "exchange": cached["exchange.parquet"]}

    checkpoints = train_family(replace(fconfig, members=tuple(members)), progress=progress)
    test = test_problems(fconfig)
    main = first_per_ops(test, sconfig.n_problems_per_ops)
    hard = hard_subset(test, sconfig.hard_n_problems)  # chapter 3 sizes its batch with it
    index = {p.prompt: i for i, p in enumerate(test)}
    greedy_rows, greedy_main = [], []
    for name, path in checkpoints.items():
        table = greedy_results(name, path, test, fconfig.max_new_tokens,
                               device=fconfig.device, dtype=fconfig.dtype)
        on_main = table.set_index("problem").loc[[index[p.prompt] for p in main]]
        on_main = on_main.reset_index(drop=True).rename_axis("problem").reset_index()
        greedy_main.append(on_main[["model", "problem", "correct", "n_tokens"]])
        greedy_rows.append({"seed": seed, "model": name, "N": training_info(path)["N"],
                            "test_accuracy": float(table["correct"].mean()),
                            "main_accuracy": float(on_main["correct"].mean())})

    path = checkpoints[policy]
    model, tokenizer = load_member(path, device=fconfig.device, dtype=fconfig.dtype)
    batch = sample_batch_size(sconfig, model, tokenizer, [*main, *hard],
                              fconfig.max_new_tokens)
    samples = draw_samples(model, tokenizer, path.name, main,
                           main_sample_spec(sconfig, fconfig.max_new_tokens, batch), progress)
    if (kept := recorded_likelihood(samples)) is not None:  # kept by the sampler: free
        scored = samples.assign(likelihood=kept)
    else:
        distinct = samples.drop_duplicates(["problem", "completion", "finished"])
        scores, _, _ = score_chains({"likelihood": ScorerSpec("likelihood", str(path))},
                                    [main[p].prompt for p in distinct["problem"]],
                                    distinct["completion"].tolist(),
                                    distinct["finished"].tolist(), main,
                                    device=fconfig.device, desc="likelihood",
                                    progress=progress)["likelihood"]
        distinct = distinct[["problem", "completion", "finished"]].assign(
            likelihood=[aggregate_steps(s) for s in scores])
        scored = samples.merge(distinct, on=["problem", "completion", "finished"],
                               how="left")
    scored["n_ops"] = [main[p].n_ops for p in scored["problem"]]

    trained = {row["model"]: row["N"] for row in greedy_rows}
    table = exchange(scored, pd.concat(greedy_main, ignore_index=True), trained, policy)
    tables = {"greedy": pd.DataFrame(greedy_rows),
              "exchange": table[EXCHANGE_COLUMNS].assign(seed=seed)}
    save_tables(folder, {"greedy.parquet": tables["greedy"],
                         "exchange.parquet": tables["exchange"]})
    return tables


def seed_study(seeds: Sequence[int], inputs, config, exchange: Callable,
               progress: bool = True) -> dict[str, pd.DataFrame]:
    """Every seed's :func:`seed_exchange` (``exchange``: see there), and what they say
    together.

    Tables: ``seed_greedy`` (per seed and member), ``seed_spread`` (per member: mean,
    standard deviation, minimum and maximum over seeds of the greedy test accuracy),
    ``seed_exchange`` (per seed and cell) and ``seed_verdicts`` (per larger member, R and
    bin: each seed's verdict for the learned pool and for the perfect verifier, and whether
    they agree across seeds)."""
    parts = [seed_exchange(s, inputs, config, exchange, progress) for s in seeds]
    greedy = pd.concat([p["greedy"] for p in parts], ignore_index=True)
    exchange = pd.concat([p["exchange"] for p in parts], ignore_index=True)
    return {"seed_greedy": greedy, "seed_spread": seed_spread(greedy),
            "seed_exchange": exchange, "seed_verdicts": verdict_agreement(exchange)}


def empty_study() -> dict[str, pd.DataFrame]:
    """The tables of :func:`seed_study` when no study ran (one seed), with their columns."""
    greedy = pd.DataFrame(columns=["seed", "model", "N", "test_accuracy", "main_accuracy"])
    exchange = pd.DataFrame(columns=[*EXCHANGE_COLUMNS, "seed"])
    return {"seed_greedy": greedy, "seed_spread": seed_spread(greedy),
            "seed_exchange": exchange, "seed_verdicts": verdict_agreement(exchange)}


def seed_spread(greedy: pd.DataFrame) -> pd.DataFrame:
    """Per member (in the table's order): the number of seeds and the mean, sample standard
    deviation (NaN for one seed), minimum and maximum of its greedy test accuracy."""
    if greedy.empty:
        return pd.DataFrame(columns=["model", "N", "seeds", "mean", "sd", "low", "high"])
    out = greedy.astype({"test_accuracy": float}).groupby("model", sort=False).agg(
        N=("N", "first"), seeds=("seed", "nunique"), mean=("test_accuracy", "mean"),
        sd=("test_accuracy", "std"), low=("test_accuracy", "min"),
        high=("test_accuracy", "max"))
    return out.reset_index()


#: a verdict in one word, for the table of verdicts by seed
SHORT_VERDICTS = {"test-time compute": "small", "larger model": "larger",
                  "no detectable difference": "none"}


def verdict_agreement(exchange: pd.DataFrame) -> pd.DataFrame:
    """Per larger member, R and bin: the verdicts of every seed in seed order, each in one
    word (:data:`SHORT_VERDICTS`: "small" where test-time compute detectably wins, "larger"
    where the larger member does, "none" otherwise; ``verdicts``, ``ceiling_verdicts``:
    "a / b / c") and whether each is the same for every seed (``stable``,
    ``ceiling_stable``)."""
    rows = []
    for (large, r, b), group in exchange.sort_values("seed").groupby(["large", "R", "bin"],
                                                                      sort=True):
        learned = [SHORT_VERDICTS.get(v, v) for v in group["verdict"]]
        ceiling = [SHORT_VERDICTS.get(v, v) for v in group["ceiling_verdict"]]
        rows.append({"large": large, "R": r, "bin": b, "seeds": len(group),
                     "verdicts": " / ".join(learned), "stable": len(set(learned)) == 1,
                     "ceiling_verdicts": " / ".join(ceiling),
                     "ceiling_stable": len(set(ceiling)) == 1})
    return pd.DataFrame(rows, columns=["large", "R", "bin", "seeds", "verdicts", "stable",
                                       "ceiling_verdicts", "ceiling_stable"])


def study_sentences(tables, policy: str) -> dict[str, str]:
    """What the book says of the seed study, with an outcome for each case: ``seed_summary``
    (no study ran: how to run it; else the spread of the policy's greedy accuracy) and
    ``seed_verdict_sentence`` (whether any cell's verdict changes with the seed, for the
    learned pool and the perfect verifier; without a study, that it was not measured)."""
    spread, verdicts = tables["seed_spread"], tables["seed_verdicts"]
    if spread.empty:
        return {"seed_summary": "This build trained the family once, with one seed.",
                "seed_verdict_sentence": ("Whether a verdict changes with the training seed "
                                          "is not measured by this build.")}
    mine = spread[spread["model"] == policy]
    seeds = int(spread["seeds"].max())
    text = f"Over {seeds} training seeds, "
    if len(mine):
        row = mine.iloc[0]
        text += (f"the policy's ({policy}) greedy test accuracy ranges from {row['low']:.2f} "
                 f"to {row['high']:.2f} (standard deviation {row['sd']:.2f}), ")
    widest = spread.loc[spread["high"].sub(spread["low"]).idxmax()]
    text += (f"and the widest range is {widest['model']}'s, {widest['low']:.2f} to "
             f"{widest['high']:.2f}.")
    cells = len(verdicts)
    learned, ceiling = int((~verdicts["stable"].astype(bool)).sum()), int(
        (~verdicts["ceiling_stable"].astype(bool)).sum())
    if not learned and not ceiling:
        sentence = (f"No verdict changes with the seed: in all {cells} cells every seed gives "
                    "the same verdict, for the learned pool and for the perfect verifier.")
    else:
        sentence = (f"The verdict changes with the seed in {learned} of the {cells} cells for "
                    f"the learned pool and in {ceiling} for the perfect verifier: a verdict "
                    "read from one training run there is partly a verdict on that run.")
    return {"seed_summary": text, "seed_verdict_sentence": sentence}
