"""Chapter 6: sequential revisions against parallel sampling at a fixed budget.

The policy is fine-tuned into a revision model on its own samples of training problems
(wrong attempts close to a right one, then the right one). On chapter 5's test problems it
writes chains of attempts; every sequential:parallel split of every budget is scored with
majority vote, a vote over the chains' last attempts, a learned verifier (the chapter's
``verifier``: by default the policy's likelihood, the learned verifier that chapter 4 found
ranking one problem's answers; or chapter 4's ORM) and the oracle.

The policy's samples of the training problems and the chains run on worker processes with one
torch thread each (:mod:`ttc.parallel`): the samples through
:func:`ttc.policy_samples.draw_sets`, the chains in :data:`CHAIN_SHARDS` shards of the test
problems, each with its own seed, so neither depends on the number of workers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ttc.cache import artifact_path, load_tables, save_tables
from ttc.claims import REVISION_CLAIMS, claim_facts, paired_verdicts
from ttc.config import ConfigError, config_hash, require_range
from ttc.devices import resolve_device
from ttc.flops import inference_flops
from ttc.metrics import mean_by
from ttc.parallel import run_jobs
from ttc.report import cell, fmt, joined
from ttc.tasks import Problem, generate_problems
from ttc.upstream import (
    DIFFICULTY_GROUPS,
    checkpoint,
    difficulty_group,
    max_new_tokens,
    member_sizes,
    policy,
    search_problems,
    verifier_base,
    verifier_checkpoints,
)

#: the learned verifiers that can weigh the attempts: value -> (display name, scorer kind of
#: :class:`ttc.verifiers.pool.ScorerSpec`). The likelihood is the policy's probability of an
#: attempt given the problem (not the history the reviser saw); FLOPs 2·N_policy per token.
REVISION_VERIFIERS = {"likelihood": ("the policy's likelihood", "likelihood"),
                      "ORM": ("chapter 4's ORM", "scalar")}


@dataclass(frozen=True)
class RevisionsChapterConfig:
    """Parameters of chapter 6. Defaults are smoke-sized. The test problems are chapter 5's,
    the policy and the verifiers chapter 4's."""

    #: training problems per number of operations, and policy samples of each
    n_train_problems_per_ops: int = 4
    train_samples: int = 8
    #: revision sequences drawn per training problem that has a right sample
    examples_per_problem: int = 4
    #: earlier attempts the model sees (Snell et al.: 4); also the most wrong attempts
    #: in a training sequence
    history: int = 4
    #: use the task's reference solution as the target where the policy never succeeded
    reference_when_unsolved: bool = False
    epochs: int = 2
    batch_size: int = 32
    lr: float = 1e-3
    #: budgets in generations (powers of two); every split L = 1, 2, 4, ... budget is scored
    budgets: tuple[int, ...] = (4, 16)
    temperature: float = 1.0
    #: the learned verifier of the "verifier" rule (weighted best-of-N over every attempt):
    #: a key of :data:`REVISION_VERIFIERS`
    verifier: str = "likelihood"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.verifier not in REVISION_VERIFIERS:
            raise ConfigError(f"parameter 'verifier' must be one of "
                              f"{', '.join(map(repr, REVISION_VERIFIERS))}; "
                              f"got {self.verifier!r}")
        require_range("n_train_problems_per_ops", self.n_train_problems_per_ops, low=1)
        require_range("train_samples", self.train_samples, low=2)
        require_range("examples_per_problem", self.examples_per_problem, low=1)
        require_range("history", self.history, low=0, high=16)
        require_range("epochs", self.epochs, low=1)
        require_range("batch_size", self.batch_size, low=1)
        require_range("lr", self.lr, low=1e-6, high=1.0)
        require_range("temperature", self.temperature, low=0.01, high=10.0)
        if not self.budgets or any(b < 2 or b & (b - 1) for b in self.budgets):
            raise ConfigError(f"parameter 'budgets' must be a non-empty list of powers of two "
                              f">= 2; got {list(self.budgets)!r}")


def train(config: RevisionsChapterConfig, inputs, progress: bool = True):
    """Build the revision data from the policy's samples and fine-tune (cached); return the
    checkpoint folder and the examples."""
    from ttc.policy_samples import draw_sets
    from ttc.revisions import RevisionTrainConfig, revision_examples, train_reviser
    from ttc.sampling import SampleSpec

    fconfig = inputs["02_family"].config
    policy_path = checkpoint(inputs, policy(inputs))
    problems = generate_problems(fconfig.task, "train", config.n_train_problems_per_ops,
                                 seed=config.seed + 3033)
    spec = SampleSpec(n_samples=config.train_samples, max_new_tokens=fconfig.max_new_tokens,
                      seed=config.seed + 13)
    samples = draw_sets(policy_path, fconfig.device, {"train": (problems, spec)},
                        progress)["train"]
    examples = revision_examples(problems, samples, per_problem=config.examples_per_problem,
                                 seed=config.seed, max_wrong=config.history,
                                 reference_when_unsolved=config.reference_when_unsolved)
    if not examples:
        raise ConfigError("no training problem has a right sample to revise towards; raise "
                          "'train_samples' or 'n_train_problems_per_ops', or set "
                          "'reference_when_unsolved'")
    recipe = RevisionTrainConfig(epochs=config.epochs, batch_size=config.batch_size,
                                 lr=config.lr, seed=config.seed)
    return train_reviser(policy_path, examples, recipe, progress, fconfig.device), examples


#: the test problems are split into this many shards (problem ``p`` in shard
#: ``p mod CHAIN_SHARDS``, so every shard has every difficulty), each written by one job of
#: :func:`ttc.parallel.run_jobs` with its own seed; a fixed number, so the chains are the same
#: whatever the number of workers (two keep this project's 2-core machines busy)
CHAIN_SHARDS = 2


@dataclass(frozen=True)
class ChainShard:
    """One job of :func:`sharded_chains`: the chains of the test problems ``problems``
    (``indices`` are their numbers in the whole list), written by the reviser checkpoint
    ``reviser`` with random stream ``seed`` and scored by the verifier of kind
    ``scorer_kind`` (:class:`ttc.verifiers.pool.ScorerSpec`) at checkpoint ``scorer``."""

    reviser: str
    scorer: str
    scorer_kind: str
    device: str
    problems: tuple[Problem, ...]
    indices: tuple[int, ...]
    lengths: tuple[int, ...]
    max_new_tokens: int
    temperature: float
    seed: int
    history: int


def chain_shard_job(job: ChainShard) -> pd.DataFrame:
    """Write and score one shard's chains (a job of :func:`ttc.parallel.run_jobs`): the
    table of :func:`ttc.revisions.generate_chains` with ``score`` (the verifier's last step
    score of the attempt after the problem's prompt; 0 for an empty attempt) and ``n_ops``,
    ``problem`` numbering the whole list."""
    from ttc.family.train import load_member
    from ttc.revisions import generate_chains
    from ttc.verifiers.pool import ScorerSpec, build_scorer

    model, tokenizer = load_member(job.reviser, device=job.device)
    table = generate_chains(model, tokenizer, job.problems, list(job.lengths),
                            job.max_new_tokens, job.temperature, job.seed,
                            history=job.history)
    judge = build_scorer(ScorerSpec(job.scorer_kind, job.scorer), job.device, job.problems)
    scores = judge.step_scores([job.problems[p].prompt for p in table["problem"]],
                             table["completion"].tolist(), table["finished"].tolist())
    table["score"] = [float(s[-1]) if len(s) else 0.0 for s in scores]
    table["n_ops"] = [job.problems[p].n_ops for p in table["problem"]]
    table["problem"] = [job.indices[p] for p in table["problem"]]
    return table


def sharded_chains(reviser, scorer, problems: list[Problem], lengths: list[int],
                   max_new_tokens: int, temperature: float, seed: int, history: int,
                   device: str = "cpu", progress: bool = True,
                   scorer_kind: str = "scalar") -> pd.DataFrame:
    """Chains of ``lengths`` for every problem, written and scored (by the verifier of
    kind ``scorer_kind`` at checkpoint ``scorer``) in
    :data:`CHAIN_SHARDS` shards on worker processes (one after the other on a GPU); shard
    ``s`` draws with seed ``seed * CHAIN_SHARDS + s``. Rows in the order
    :func:`ttc.revisions.generate_chains` gives for the whole list (by attempt, then
    problem, then chain)."""
    count = min(CHAIN_SHARDS, len(problems))
    if count == 0:
        raise ValueError("sharded_chains needs at least one problem")
    jobs = [ChainShard(str(reviser), str(scorer), scorer_kind, device,
                       tuple(problems[s::CHAIN_SHARDS]),
                       tuple(range(s, len(problems), CHAIN_SHARDS)), tuple(lengths),
                       max_new_tokens, temperature, seed * CHAIN_SHARDS + s, history)
            for s in range(count)]
    frames = run_jobs(chain_shard_job, jobs, desc="chains", progress=progress,
                      labels=[f"shard {s + 1}/{count}" for s in range(count)],
                      costs=[len(job.problems) for job in jobs],
                      parallel=resolve_device(device) == "cpu")
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values(["attempt", "problem", "chain"], kind="stable",
                             ignore_index=True)


def scorer_member(config: RevisionsChapterConfig, inputs) -> str:
    """The family member that scores the attempts: the policy for the likelihood, the
    verifiers' base member for chapter 4's ORM (its N is charged, 2·N per token read)."""
    likelihood = REVISION_VERIFIERS[config.verifier][1] == "likelihood"
    return policy(inputs) if likelihood else verifier_base(inputs)


def scorer_checkpoint(config: RevisionsChapterConfig, inputs):
    """The checkpoint and scorer kind of the chapter's ``verifier``: the policy for the
    likelihood, chapter 4's ORM otherwise."""
    kind = REVISION_VERIFIERS[config.verifier][1]
    if kind == "likelihood":
        return checkpoint(inputs, scorer_member(config, inputs)), kind
    return verifier_checkpoints(inputs)["orm"], kind


def chains(config: RevisionsChapterConfig, inputs, reviser, progress: bool = True
           ) -> pd.DataFrame:
    """The revision model's chains on the test problems (cached), with the scores of the
    chapter's ``verifier`` (:func:`sharded_chains`)."""
    from ttc.revisions import chain_lengths

    fconfig = inputs["02_family"].config
    problems, _ = search_problems(inputs)
    scorer, kind = scorer_checkpoint(config, inputs)
    lengths = chain_lengths(max(config.budgets))
    # v2: written in CHAIN_SHARDS shards with a seed each (v1: one stream for every problem)
    from ttc.sampling import decoder_name

    key = config_hash((reviser.name, scorer.name, kind, [p.prompt for p in problems],
                       lengths, config.temperature, config.seed, config.history,
                       ("shards", CHAIN_SHARDS), "v3", decoder_name()))
    folder = artifact_path("revisions", key)
    if (cached := load_tables(folder, ["chains.parquet"])) is not None:
        return cached["chains.parquet"]
    table = sharded_chains(reviser, scorer, problems, lengths, max_new_tokens(inputs),
                           config.temperature, config.seed, config.history,
                           device=fconfig.device, progress=progress, scorer_kind=kind)
    save_tables(folder, {"chains.parquet": table})
    return table


def score_splits(config: RevisionsChapterConfig, table: pd.DataFrame, problems: list,
                 n_policy: int, n_verifier: int) -> pd.DataFrame:
    """One row per (budget, chain length, selection rule, problem): right or not, and cost."""
    from ttc.revisions import SELECTIONS, select_split, split_attempts, split_lengths

    rows: list[dict] = []
    for budget in config.budgets:
        for length in split_lengths(budget):
            used = split_attempts(table, budget, length)
            for p, attempts in used.groupby("problem", sort=True):
                tokens = int(attempts["n_tokens"].sum())
                for rule in SELECTIONS:
                    right = select_split(attempts, str(problems[p].answer), rule,
                                         attempts["score"].to_numpy())
                    verifier_tokens = tokens if rule == "verifier" else 0
                    rows.append({
                        "budget": budget, "length": length, "chains": budget // length,
                        "rule": rule, "problem": p, "n_ops": problems[p].n_ops,
                        "correct": float(right), "policy_tokens": tokens,
                        "context_tokens": int(attempts["context_tokens"].sum()),
                        "flops": inference_flops(n_policy, tokens)
                        + (inference_flops(n_verifier, verifier_tokens)
                           if verifier_tokens else 0.0),
                    })
    frame = pd.DataFrame(rows)
    frame["difficulty"] = frame["n_ops"].map(difficulty_group)
    frame["split"] = frame["chains"].astype(str) + " × " + frame["length"].astype(str)
    return frame


def run(config: RevisionsChapterConfig, inputs, progress: bool = True
        ) -> dict[str, pd.DataFrame]:
    """Train the revision model, write chains, score every split; compare with chapter 5.

    Tables: ``training`` (the fine-tune's record), ``chains`` (every attempt),
    ``splits`` (per budget, chain length, rule and problem), ``summary`` (accuracy with 95%
    intervals per budget, chain length, rule and difficulty), ``best_split`` (the best chain
    length per budget and difficulty, by majority vote), ``revised`` (right attempts
    revised into wrong ones, per difficulty), ``comparison`` (revisions against chapter
    5's best-of-N, majority vote and searches at the same budgets) and ``setup`` (the policy,
    the chapter's verifier and the member that runs it, with their sizes).
    """
    from ttc.revisions import revised_away

    reviser, examples = train(config, inputs, progress)
    table = chains(config, inputs, reviser, progress)
    problems, _ = search_problems(inputs)
    sizes = member_sizes(inputs)
    the_policy = policy(inputs)
    n_policy, n_verifier = sizes[the_policy], sizes[scorer_member(config, inputs)]
    splits = score_splits(config, table, problems, n_policy, n_verifier)
    summary = mean_by(splits, ["budget", "length", "chains", "rule", "difficulty"], "correct",
                      name="accuracy")
    majority = summary[summary["rule"] == "majority"]
    best_split = majority.loc[majority.groupby(["budget", "difficulty"])["accuracy"]
                              .idxmax()].reset_index(drop=True)
    table["difficulty"] = table["n_ops"].map(difficulty_group)
    revised = []
    for difficulty, group in table.groupby("difficulty", sort=False):
        away, right = revised_away(group)
        revised.append({"difficulty": difficulty, "right_then_wrong": away,
                        "right_with_next": right,
                        "share": away / right if right else np.nan})
    away, right = revised_away(table)
    revised.append({"difficulty": "all", "right_then_wrong": away, "right_with_next": right,
                    "share": away / right if right else np.nan})
    info = json.loads((reviser / "training.json").read_text())
    training = pd.DataFrame([{k: info[k] for k in ("n_examples", "n_train", "val_loss_before",
                                                   "val_loss_after", "train_seconds")}
                             | {"wrong_attempts_mean": float(np.mean(
                                 [e.n_wrong for e in examples]))}])
    return {"training": training, "chains": table, "splits": splits, "summary": summary,
            "best_split": best_split, "revised": pd.DataFrame(revised),
            "comparison": comparison(config, splits, inputs["05_search"]["summary"]),
            "setup": pd.DataFrame([{"policy": the_policy, "n_policy": n_policy,
                                    "verifier": REVISION_VERIFIERS[config.verifier][0],
                                    "verifier_model": scorer_member(config, inputs),
                                    "n_verifier": n_verifier}])}


def comparison(config: RevisionsChapterConfig, splits: pd.DataFrame,
               search_summary: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per budget and difficulty: the best revision split (majority vote) next to
    chapter 5's variants at the same budgets (the same problems; ``search_summary`` is
    chapter 5's ``summary`` table)."""
    shared = [b for b in config.budgets if b in set(search_summary["budget"])]
    rows = []
    majority = splits[splits["rule"] == "majority"]
    for budget in shared:
        for difficulty, group in majority[majority["budget"] == budget].groupby(
                "difficulty", sort=False):
            per_length = group.groupby("length")["correct"].mean()
            rows.append({"budget": budget, "difficulty": difficulty,
                         "method": "revisions, best split (majority)",
                         "accuracy": float(per_length.max())})
            rows.append({"budget": budget, "difficulty": difficulty,
                         "method": "revisions, all parallel (majority)",
                         "accuracy": float(per_length.loc[1])})
        other = search_summary[search_summary["budget"] == budget]
        rows += [{"budget": budget, "difficulty": r.difficulty, "method": r.variant,
                  "accuracy": r.accuracy} for r in other.itertuples()]
    return pd.DataFrame(rows, columns=["budget", "difficulty", "method", "accuracy"])


# -- what the prose and the figures read -------------------------------------------------------

def attempts_by_position(chains: pd.DataFrame, max_position: int = 16) -> pd.DataFrame:
    """Every attempt with its 1-based ``position`` in its chain, up to ``max_position`` (the
    figure of right attempts by position)."""
    table = chains.assign(position=chains["attempt"] + 1)
    return table[table["position"] <= max_position]


def first_and_later(chains: pd.DataFrame, last: int = 8) -> tuple[float, float]:
    """Share of right first attempts, and of right attempts two to ``last``, over every
    chain (NaN where there is none)."""
    correct = chains["correct"].astype(float)
    first = correct[chains["attempt"] == 0]
    later = correct[(chains["attempt"] >= 1) & (chains["attempt"] < last)]
    return (float(first.mean()) if len(first) else np.nan,
            float(later.mean()) if len(later) else np.nan)


def majority_curves(summary: pd.DataFrame) -> pd.DataFrame:
    """Majority-vote rows of ``summary`` with the budget as a label (``"B = 16"``): the lines
    of the figure of accuracy against chain length."""
    votes = summary[summary["rule"] == "majority"]
    return votes.assign(budget="B = " + votes["budget"].astype(str))


def rule_accuracy(summary: pd.DataFrame, budget: int) -> pd.Series:
    """Accuracy per (rule, chain length) at ``budget``, averaged over the difficulty groups
    (each group weighs the same)."""
    rows = summary[summary["budget"] == budget]
    return rows.groupby(["rule", "length"])["accuracy"].mean()


def comparison_wide(comparison: pd.DataFrame) -> pd.DataFrame:
    """The comparison as a table: one row per (budget, method), one column per difficulty."""
    wide = comparison.pivot_table(index=["budget", "method"], columns="difficulty",
                                  values="accuracy", sort=False).rename_axis(columns=None)
    return wide.reset_index()


def split_scores(splits: pd.DataFrame, budget: int, length: int, rule: str) -> pd.Series:
    """Right (1) or not (0) per problem for one split of ``budget`` and selection ``rule``."""
    rows = splits[(splits["budget"] == budget) & (splits["length"] == length)
                  & (splits["rule"] == rule)]
    return rows.set_index("problem")["correct"].astype(float)


def paired_comparisons(tables, config: RevisionsChapterConfig, last: int = 8) -> pd.DataFrame:
    """The chapter's paired comparisons over problems, with 95% intervals and verdicts
    Holm-corrected over all four (:func:`ttc.claims.paired_verdicts`): per problem, the share
    of right attempts two to ``last`` minus that of right first attempts; at the largest
    budget, one sequential chain minus all-parallel attempts with the oracle rule; with
    one chain, a vote over its last attempt minus the vote over every attempt; and with
    all-parallel attempts, weighted best-of-N by the learned verifier minus majority vote.
    Every row's ``budget`` is the largest: the chains were written for it."""
    chains, splits = tables["chains"], tables["splits"]
    b_max = max(config.budgets)
    correct = chains.assign(correct=chains["correct"].astype(float))
    first = correct[correct["attempt"] == 0].groupby("problem")["correct"].mean()
    later = correct[(correct["attempt"] >= 1) & (correct["attempt"] < last)] \
        .groupby("problem")["correct"].mean()
    plan = [("later - first attempts", f"attempts 2-{last}", "first attempts", b_max,
             later - first),
            ("sequential - parallel (oracle)", f"1 × {b_max}", f"{b_max} × 1", b_max,
             split_scores(splits, b_max, b_max, "oracle")
             - split_scores(splits, b_max, 1, "oracle")),
            ("last attempt - every attempt (one chain)", "last majority", "majority", b_max,
             split_scores(splits, b_max, b_max, "last majority")
             - split_scores(splits, b_max, b_max, "majority")),
            ("verifier - majority (parallel)", "verifier", "majority", b_max,
             split_scores(splits, b_max, 1, "verifier")
             - split_scores(splits, b_max, 1, "majority"))]
    return paired_verdicts([({"comparison": name, "variant": variant, "reference": reference,
                              "difficulty": "all", "budget": budget}, diffs.to_numpy())
                            for name, variant, reference, budget, diffs in plan])


def best_lengths(summary: pd.DataFrame, best_split: pd.DataFrame, budget: int
                 ) -> pd.DataFrame:
    """Per difficulty group that has a best split at ``budget`` (in
    :data:`~ttc.upstream.DIFFICULTY_GROUPS` order, indexed by group): the best chain length
    by majority vote (``best_split``'s: the shortest where several tie), its ``accuracy``,
    ``tied``, how many chain lengths of ``summary`` reach that accuracy (``np.isclose``: the
    chapter's one tie rule; 1 when the best length is alone at the top) and ``n_lengths``,
    how many chain lengths ``summary`` scores for the group."""
    top = best_split[best_split["budget"] == budget].set_index("difficulty")
    votes = summary[(summary["rule"] == "majority") & (summary["budget"] == budget)]
    rows = []
    for difficulty in DIFFICULTY_GROUPS:
        if difficulty not in top.index:
            continue
        accuracy = float(top.loc[difficulty, "accuracy"])
        lengths = votes[votes["difficulty"] == difficulty]
        rows.append({"difficulty": difficulty, "length": int(top.loc[difficulty, "length"]),
                     "accuracy": accuracy,
                     "tied": int(np.isclose(lengths["accuracy"], accuracy).sum()),
                     "n_lengths": len(lengths)})
    columns = ["difficulty", "length", "accuracy", "tied", "n_lengths"]
    return pd.DataFrame(rows, columns=columns).set_index("difficulty")


def best_split_text(best: pd.DataFrame) -> str:
    """Which chain lengths are at the top by majority vote, per difficulty group, as the
    Summary quotes it (``best``: :func:`best_lengths`): the groups where several lengths tie
    at the top (no length is better there), then those where one length is alone at the top,
    named; :data:`~ttc.report.MISSING` where no group has its lengths scored."""
    ties, alone = [], []
    for difficulty, row in best.iterrows():
        key, accuracy = str(difficulty).split()[0], fmt(row["accuracy"])
        tied, n_lengths, length = int(row["tied"]), int(row["n_lengths"]), int(row["length"])
        if tied > 1:
            count = f"all {n_lengths}" if tied == n_lengths else f"{tied} of {n_lengths}"
            ties.append(f"{count} lengths tie at {accuracy} on {key} problems")
        elif tied == 1:
            attempts = "attempt" if length == 1 else "attempts"
            alone.append(f"{length} {attempts} per chain is alone at the top on {key} "
                         f"problems ({accuracy})")
    clauses = []
    if ties:
        there = " there" if len(ties) > 1 or alone else ""
        clauses.append(f"{joined(ties)}: no length is better than the others{there}")
    if alone:
        clauses.append(joined(alone))
    return "; ".join(clauses) if clauses else fmt(None)


def facts(tables, config: RevisionsChapterConfig) -> dict[str, str]:
    """What chapter 6's prose quotes, as display text ("n/a" where a value is missing), with
    the sentences of :data:`ttc.claims.REVISION_CLAIMS`, decided by
    :func:`paired_comparisons`."""
    from ttc.revisions import SELECTIONS

    training, chains, summary = tables["training"], tables["chains"], tables["summary"]
    revised, best_split = tables["revised"], tables["best_split"]
    b_max = max(config.budgets)
    out = {
        "policy": fmt(cell(tables["setup"], "policy")),
        "verifier_name": REVISION_VERIFIERS[config.verifier][0],
        "n_examples": fmt(cell(training, "n_examples")),
        "wrong_mean": fmt(cell(training, "wrong_attempts_mean"), ".1f"),
        "history": fmt(config.history),
        "n_problems": fmt(chains["problem"].nunique()),
        "b_max": fmt(b_max),
        "budgets": ", ".join(map(str, config.budgets)),
    }
    first, later = first_and_later(chains)
    out["first_acc"], out["later_acc"] = fmt(first), fmt(later)
    overall = revised[revised["difficulty"] == "all"]
    out["revised_share"] = fmt(cell(overall, "share"))
    out["revised_n"] = fmt(cell(overall, "right_with_next"))

    best = best_lengths(summary, best_split, b_max)
    for difficulty in DIFFICULTY_GROUPS:
        key = difficulty.split()[0]
        found = difficulty in best.index  # (a row of ``best`` would read lengths as floats)
        row = {column: best.at[difficulty, column] for column in best} if found else {}
        out[f"best_len_{key}"] = fmt(row.get("length"))
        out[f"best_acc_{key}"] = fmt(row.get("accuracy"))
        out[f"best_tied_{key}"] = fmt(row.get("tied"))
        out[f"n_lengths_{key}"] = fmt(row.get("n_lengths"))
    out["best_split_text"] = best_split_text(best)

    rules = rule_accuracy(summary, b_max)
    par = {rule: float(rules.get((rule, 1), np.nan)) for rule in SELECTIONS}
    seq = {rule: float(rules.get((rule, b_max), np.nan)) for rule in SELECTIONS}
    out["oracle_par"], out["oracle_seq"] = fmt(par["oracle"]), fmt(seq["oracle"])
    out["last_seq"], out["vote_seq"] = fmt(seq["last majority"]), fmt(seq["majority"])
    out["verifier_par"], out["vote_par"] = fmt(par["verifier"]), fmt(par["majority"])
    paired = paired_comparisons(tables, config)
    return out | claim_facts(REVISION_CLAIMS, {"paired": paired})
