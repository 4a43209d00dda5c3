"""Chapter 5: search against a process verifier, by budget and difficulty.

The policy of chapter 4, guided by a learned verifier (the chapter's ``verifier``: the
policy's own likelihood, the learned verifier that chapter 4 found ranking the chains of one
problem, or chapter 4's PRM), runs beam search (M = 4 and M = √N), lookahead search (k = 1)
and diverse verifier tree search on a subset of chapter 3's test problems, at budgets counted
in generations; some searches also run with the exact step checker. Best-of-N with weighted
selection and majority vote come from chapter 3's cached samples of the same problems
(sampling N whole chains is exactly what they did), weighted by the same verifier's scores as
chapter 4 computed them.

FLOPs are 2·N per token the policy generates and per token a verifier reads, with the PRM's
own N; the policy's likelihood costs nothing more, since the sampler keeps the log-probability
of every token it draws (:func:`verifier_charge`). Not charged: prompt tokens, the prefixes
the policy and the verifier read again at every round (a prefix cache keeps them), and the
likelihood's re-reading of each chain in this implementation (it recomputes what the sampler
kept).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ttc import report
from ttc.cache import artifact_path, load_tables, save_tables
from ttc.claims import (
    claim_facts,
    learned_search_comparison,
    paired_verdicts,
    search_claims,
)
from ttc.config import ConfigError, config_hash, require_range
from ttc.devices import resolve_device
from ttc.flops import charged_flops
from ttc.metrics import mean_by
from ttc.parallel import run_jobs
from ttc.search import METHODS, LMStepPolicy, method_config, run_search
from ttc.selection import selection_curve
from ttc.tasks import STEP_SEP, Problem, apply_op, first_error, parse_steps
from ttc.upstream import (
    EASY,
    HARD,
    checkpoint,
    difficulty_group,
    main_problems,
    max_new_tokens,
    member_sizes,
    policy,
    quality_value,
    search_problems,
    verifier_base,
    verifier_checkpoints,
)

#: the chapter's search variants: label -> (registry method, parameters besides the budget)
VARIANTS = {
    "beam, width 4": ("beam", {"width": 4}),
    "beam, width √N": ("beam", {"width": "sqrt"}),
    "lookahead, 1 step": ("lookahead", {"width": 4, "lookahead": 1}),
    "DVTS, width 4": ("dvts", {"width": 4}),
}
#: the search the prose discusses by name (its mistakes, its trend on easy problems)
BEAM = "beam, width 4"
#: the learned verifiers that can guide the searches (the chapter's ``verifier``): value ->
#: (its name in the prose, its column of chapter 4's ``scored`` table, its row of chapter 4's
#: ``quality`` table)
LEARNED_VERIFIERS = {"likelihood": ("the policy's likelihood", "likelihood", "likelihood"),
                     "PRM": ("the learned PRM", "prm_last", "PRM last")}
#: selection from independent samples, for comparison: label -> rule; weighted best-of-N
#: weighs the answers by the scores of the verifier that guides the searches
BASELINES = {"best-of-N, weighted": "weighted", "majority vote": "majority"}
#: the baseline every search is compared with, problem by problem
WEIGHTED = "best-of-N, weighted"


def variant(label: str) -> tuple[str, dict]:
    """A variant's registry method and parameters: a label of :data:`VARIANTS`, or the name
    of any method in ``ttc.search.METHODS`` (run with its default parameters), so a method
    added to the registry can be run here without editing this module."""
    return VARIANTS.get(label, (label, {}))


@dataclass(frozen=True)
class SearchChapterConfig:
    """Parameters of chapter 5. Defaults are smoke-sized. The policy and the PRM are
    chapter 4's; the problems are the first of chapter 3's main set."""

    #: test problems per number of operations (the first of chapter 3's main set)
    n_problems_per_ops: int = 1
    #: budgets in generations
    budgets: tuple[int, ...] = (4, 16)
    #: the learned verifier that guides ``methods`` and weights best-of-N: "likelihood" (the
    #: policy's probability of the chain so far) or "PRM" (chapter 4's process verifier)
    verifier: str = "likelihood"
    #: search variants to run with the learned verifier (keys of VARIANTS)
    methods: tuple[str, ...] = tuple(VARIANTS)
    #: variants also run with the exact step checker as the verifier (the upper bound)
    oracle_methods: tuple[str, ...] = ("beam, width 4",)
    max_steps: int = 12
    temperature: float = 1.0
    seed: int = 0
    selection_resamples: int = 50

    def __post_init__(self) -> None:
        if self.verifier not in LEARNED_VERIFIERS:
            raise ConfigError(f"parameter 'verifier' must be one of "
                              f"{', '.join(map(repr, LEARNED_VERIFIERS))}; "
                              f"got {self.verifier!r}")
        require_range("n_problems_per_ops", self.n_problems_per_ops, low=1)
        if not self.budgets or any(b < 2 for b in self.budgets):
            raise ConfigError(f"parameter 'budgets' must be a non-empty list of integers >= 2; "
                              f"got {list(self.budgets)!r}")
        allowed = [*VARIANTS, *(m for m in METHODS if m not in VARIANTS)]
        unknown = [m for m in self.methods if m not in allowed]
        if unknown or not self.methods:
            raise ConfigError(f"parameter 'methods' must be a non-empty list of "
                              f"{', '.join(map(repr, allowed))}; got {list(self.methods)!r}")
        if any(m not in allowed for m in self.oracle_methods):
            raise ConfigError(f"parameter 'oracle_methods' must list some of "
                              f"{', '.join(map(repr, allowed))}; "
                              f"got {list(self.oracle_methods)!r}")
        require_range("max_steps", self.max_steps, low=1)
        require_range("temperature", self.temperature, low=0.01, high=10.0)
        require_range("selection_resamples", self.selection_resamples, low=10)


def run_variants(config: SearchChapterConfig, inputs, progress: bool = True) -> pd.DataFrame:
    """Every search variant at every budget on the chapter's problems (cached): one row per
    (variant, budget, problem) with the answer, grades and exact costs; ``verifier`` is
    the learned verifier's name (``config.verifier``) or ``"oracle"``."""
    fconfig = inputs["02_family"].config
    policy_path = checkpoint(inputs, policy(inputs))
    verifier_path = (policy_path if config.verifier == "likelihood"
                     else verifier_checkpoints(inputs)["prm"])
    problems, _ = search_problems(inputs, config.n_problems_per_ops)
    from ttc.sampling import decoder_name

    key = config_hash((policy_path.name, config.verifier, verifier_path.name,
                       [p.prompt for p in problems], config.budgets, config.methods,
                       config.oracle_methods, config.max_steps, config.temperature,
                       config.seed, "v1", decoder_name()))
    folder = artifact_path("search", key)
    n_policy, n_verifier = member_sizes(inputs)[policy(inputs)], verifier_charge(config, inputs)
    if (cached := load_tables(folder, ["results.parquet"])) is not None:
        return annotate(cached["results.parquet"], problems, n_policy, n_verifier)
    shared = (policy_path, verifier_path, fconfig.device, max_new_tokens(inputs), problems,
              n_policy, n_verifier, config)
    runs = [(config.verifier, label, budget) for label in config.methods
            for budget in config.budgets]
    runs += [("oracle", label, budget) for label in config.oracle_methods
             for budget in config.budgets]
    runs = [run for run in runs if not (variant(run[1])[0] == "lookahead"
                                        and run[2] < variant(run[1])[1].get("lookahead", 1) + 1)]
    frames = run_jobs(search_job, [(shared, run) for run in runs], desc="search",
                      progress=progress, labels=[f"{label} @ {budget} ({judge})"
                                                 for judge, label, budget in runs],
                      parallel=resolve_device(fconfig.device) == "cpu",
                      costs=[budget for _, _, budget in runs])
    table = pd.concat(frames, ignore_index=True)
    table["difficulty"] = table["n_ops"].map(difficulty_group)
    save_tables(folder, {"results.parquet": table})
    return annotate(table, problems, n_policy, n_verifier)


def verifier_charge(config: SearchChapterConfig, inputs, kept: bool = True) -> int:
    """N the learned verifier is charged at per token it reads (2·N FLOPs each): the PRM's
    base member's for the PRM; for the policy's own likelihood 0 where the sampler kept it
    (``kept``), else the policy's (a second pass over each chain).

    The search's steps come from :class:`ttc.search.LMStepPolicy`, whose sampler keeps the
    untempered log-probability of every token it draws (``Completion.logprob``), and the
    likelihood of a chain so far is the sum over its steps: it is always kept there.
    :class:`ttc.verifiers.LikelihoodVerifier` recomputes the same numbers by re-reading each
    chain (tests/test_search.py checks that they agree), a convenience of this
    implementation that a search need not pay for, and that is not charged. Best-of-N's
    samples kept it where chapter 4's ``scored`` table has a ``logprob`` column."""
    sizes = member_sizes(inputs)
    if config.verifier == "likelihood":
        return 0 if kept else sizes[policy(inputs)]
    return sizes[verifier_base(inputs)]


def annotate(table: pd.DataFrame, problems: list[Problem], n_policy: int,
             n_verifier: int) -> pd.DataFrame:
    """Search results (one row per run and problem) with what follows from them: FLOPs
    (``policy_flops``, ``verifier_flops`` and their sum ``flops``: 2·N per token, the policy
    at ``n_policy`` and the verifier at ``n_verifier``, :func:`verifier_charge`; a stored
    table is charged afresh), the steps of the chosen chain (``n_steps``) and the first of
    them the exact checker rejects (``rejected_step``, 1-based, 0 where it rejects none),
    with why (``rejected_why``; :func:`first_rejected`). ``problems``: the chapter's
    problems, in the order of the ``problem`` column."""
    table = table.copy()
    table["policy_flops"] = [charged_flops(n_policy, t) for t in table["policy_tokens"]]
    table["verifier_flops"] = [charged_flops(n_verifier, t) for t in table["verifier_tokens"]]
    table["flops"] = table["policy_flops"] + table["verifier_flops"]
    chains = [c if isinstance(c, str) else None for c in table["chosen"]]
    verdicts = [(0, "") if c is None else first_rejected(problems[p], c)
                for p, c in zip(table["problem"], chains, strict=True)]
    table["n_steps"] = [0 if c is None else len(parse_steps(c)) for c in chains]
    table["rejected_step"] = [step for step, _ in verdicts]
    table["rejected_why"] = [why for _, why in verdicts]
    return table


def first_rejected(problem: Problem, chain: str) -> tuple[int, str]:
    """The first step of ``chain`` the exact checker rejects (1-based; 0 if it rejects none:
    :func:`ttc.tasks.first_error`) and why. The checker (:func:`ttc.tasks.step_labels`)
    rejects a step that is malformed, that the problem does not have (past its last
    operation), that does not start from the true running value, whose operation and
    operand are not the problem's next, or whose result is wrong; every later step continues
    a rejected prefix and is rejected too. A right chain that stops early is rejected at the
    first step it leaves out."""
    index = first_error(problem, chain)
    if index is None:
        return 0, ""
    steps = parse_steps(chain)
    if index >= len(steps):
        return index + 1, f"missing: stops after {len(steps)} of {problem.n_ops} steps"
    step = steps[index]
    if step is None:
        return index + 1, "not a step"
    if index >= problem.n_ops:
        plural = "s" if problem.n_ops != 1 else ""
        return index + 1, f"a step the problem does not have ({problem.n_ops} operation{plural})"
    value = problem.first if index == 0 else problem.values[index - 1]
    op, right = problem.steps[index]
    reasons = []
    if step.left != value:
        reasons.append(f"starts from {step.left}, not {value}")
    if (step.op, step.right) != (op, right):
        reasons.append(f"applies {step.op}{step.right}, not {op}{right}")
    result = apply_op(step.left, step.op, step.right)
    if step.result != result:
        reasons.append(f"{step.left}{step.op}{step.right} is {result}, not {step.result}")
    return index + 1, "; ".join(reasons)


def search_job(job) -> pd.DataFrame:
    """One search run (a job of :func:`ttc.parallel.run_jobs`): ``job`` is (shared, run) with
    shared = (policy checkpoint, learned verifier's checkpoint (the policy's for the
    likelihood), device, max_new_tokens, problems, N of the policy, N the learned verifier is
    charged at (:func:`verifier_charge`), chapter config) and run = (judge, variant label,
    budget), the judge ``"likelihood"``, ``"PRM"`` or ``"oracle"`` (the exact step checker,
    charged as the learned verifier)."""
    from ttc.family.train import load_member
    from ttc.verifiers import LikelihoodVerifier, OracleVerifier, load_verifier

    (policy_path, verifier_path, device, max_tokens, problems, n_policy, n_verifier,
     config), (judge, label, budget) = job
    model, tokenizer = load_member(policy_path, device=device)
    step_policy = LMStepPolicy(model, tokenizer, max_new_tokens=max_tokens)
    if judge == "likelihood":  # the policy's own checkpoint: the loaded model scores
        verifier = LikelihoodVerifier(model, tokenizer)
    elif judge == "PRM":
        verifier = load_verifier(verifier_path, device=device)
    else:
        verifier = OracleVerifier(problems)
    method, params = variant(label)
    search = method_config(method, budget=budget, temperature=config.temperature,
                           seed=config.seed, max_steps=config.max_steps, **params)
    frame = run_search(method, search, problems, step_policy, verifier, n_policy, n_verifier)
    name = f"{label}, oracle verifier" if judge == "oracle" else label
    return frame.assign(variant=name, verifier=judge)


def baselines(config: SearchChapterConfig, inputs) -> pd.DataFrame:
    """Weighted best-of-N (by the chapter's learned verifier: the chain's likelihood, or the
    PRM's last step) and majority vote at each budget, from chapter 3's samples of the same
    problems as chapter 4 scored them: one row per (variant, budget, problem). The verifier
    is charged as :func:`verifier_charge` says: the likelihood costs nothing where the
    sampler kept it (chapter 4's table has a ``logprob`` column)."""
    scored = inputs["04_verifiers"]["scored"]
    all_problems = main_problems(inputs)
    n_policy = member_sizes(inputs)[policy(inputs)]
    n_verifier = verifier_charge(config, inputs, kept="logprob" in scored)
    score_column = LEARNED_VERIFIERS[config.verifier][1]
    _, indices = search_problems(inputs, config.n_problems_per_ops)
    n = int(scored.groupby("problem").size().min())
    budgets = [b for b in config.budgets if b <= n]
    rows = []
    for local, index in enumerate(indices):
        group = scored[scored["problem"] == index]
        answers = [None if pd.isna(a) else a for a in group["answer"]]
        problem = all_problems[index]
        tokens = float(group["n_tokens"].mean())
        for label, rule in BASELINES.items():
            column = score_column if rule == "weighted" else None
            weights = None if column is None else group[column].to_numpy()
            accuracy = selection_curve(answers, str(problem.answer), budgets, weights, rule,
                                       config.selection_resamples, seed=config.seed + index)
            for budget, acc in zip(budgets, accuracy, strict=True):
                policy_flops = charged_flops(n_policy, budget * tokens)
                verifier_flops = (0.0 if column is None
                                  else charged_flops(n_verifier, budget * tokens))
                rows.append({"variant": label, "budget": budget, "problem": local,
                             "n_ops": problem.n_ops, "correct": acc,
                             "policy_tokens": budget * tokens,
                             "flops": policy_flops + verifier_flops})
    frame = pd.DataFrame(rows)
    frame["difficulty"] = frame["n_ops"].map(difficulty_group)
    return frame


def run(config: SearchChapterConfig, inputs, progress: bool = True
        ) -> dict[str, pd.DataFrame]:
    """Search variants and sampling baselines on the same problems and budgets.

    Tables: ``results`` (one row per search variant, budget and problem: answer, grades,
    tokens, FLOPs, chosen chain, its steps and the first the exact checker rejects:
    :func:`annotate`), ``baselines`` (the same for best-of-N and majority vote,
    expected accuracy from chapter 3's samples), ``summary`` (accuracy with 95% intervals and
    mean FLOPs per variant, difficulty and budget), ``overall`` (the same over all
    problems) and ``setup`` (one row: the policy and the PRM's base member, chapter 4's, the
    learned ``verifier`` and chapter 4's within-problem AUCs of the likelihood and the PRM's
    last step, ``likelihood_within`` and ``prm_within``: why the verifier was chosen).
    """
    results = run_variants(config, inputs, progress)
    base = baselines(config, inputs)
    both = pd.concat([results[["variant", "budget", "problem", "n_ops", "difficulty",
                               "correct", "flops"]].astype({"correct": float}),
                      base[["variant", "budget", "problem", "n_ops", "difficulty", "correct",
                            "flops"]]], ignore_index=True)
    summary = _summary(both, ["variant", "difficulty", "budget"])
    overall = _summary(both, ["variant", "budget"])
    quality = inputs["04_verifiers"]["quality"]
    setup = pd.DataFrame([{
        "policy": policy(inputs), "verifier_base": verifier_base(inputs),
        "verifier": config.verifier,
        "likelihood_within": quality_value(quality, LEARNED_VERIFIERS["likelihood"][2],
                                           "auc_within_problem"),
        "prm_within": quality_value(quality, LEARNED_VERIFIERS["PRM"][2],
                                    "auc_within_problem")}])
    return {"results": results, "baselines": base, "summary": summary, "overall": overall,
            "setup": setup}


def _summary(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    table = mean_by(frame, by, "correct", name="accuracy")
    flops = frame.groupby(by, sort=False)["flops"].mean().reset_index()
    return table.merge(flops, on=by)


#: marks, in a chain shown, the first step the exact checker rejects
REJECTED = "✗"
#: the checker's verdict on a chosen chain, in the results (:func:`annotate`)
CHECKER_COLUMNS = ["n_steps", "rejected_step", "rejected_why"]


def over_optimisation(results: pd.DataFrame) -> pd.DataFrame:
    """Chosen chains that are wrong, with the text their verifier preferred: its mistakes,
    with the exact checker's verdict on them where ``results`` has it (:func:`annotate`)."""
    wrong = results[~results["correct"].astype(bool) & results["chosen"].notna()]
    columns = ["variant", "budget", "n_ops", "problem", "chosen"]
    return wrong[columns + [c for c in CHECKER_COLUMNS if c in wrong]].reset_index(drop=True)


def mark_rejected(chain: str, step: int) -> str:
    """``chain`` as a table shows it: its steps joined by the separator and a space (so that
    a long chain wraps), with :data:`REJECTED` after its ``step``-th step (1-based), the
    first the exact checker rejects; no mark for 0, or for a step the chain lacks (a
    missing one)."""
    parts = chain.split(STEP_SEP)
    if 1 <= step <= len(parts):
        parts[step - 1] += REJECTED
    return (STEP_SEP + " ").join(parts)


def wrong_examples(results: pd.DataFrame, variant: str, budget: int,
                   limit: int = 6) -> pd.DataFrame:
    """A few of ``variant``'s wrong chosen chains at ``budget``: the first (by problem order)
    of each number of operations, shortest problems first, at most ``limit`` rows; where
    ``results`` has the checker's verdict, ``marked`` is the chain with :data:`REJECTED`
    after the first step the checker rejects."""
    wrong = over_optimisation(results)
    rows = wrong[(wrong["variant"] == variant) & (wrong["budget"] == budget)]
    rows = rows.sort_values("n_ops", kind="stable").groupby("n_ops").head(1).head(limit)
    rows = rows.reset_index(drop=True)
    if "rejected_step" in rows:
        rows["marked"] = [mark_rejected(c, int(s))
                          for c, s in zip(rows["chosen"], rows["rejected_step"], strict=True)]
    return rows


def oracle_variants(config: SearchChapterConfig) -> list[str]:
    """Names of the searches run with the exact step checker, as in the tables."""
    return [f"{v}, oracle verifier" for v in config.oracle_methods]


def budget_lines(summary: pd.DataFrame, config: SearchChapterConfig,
                 guide: str = "learned") -> pd.DataFrame:
    """Rows of ``summary`` for one figure: the searches guided by ``guide`` ("learned", the
    chapter's learned verifier, or "oracle") together with the sampling baselines."""
    if guide not in ("learned", "oracle"):
        raise ValueError(f"guide must be 'learned' or 'oracle', got {guide!r}")
    searches = list(config.methods) if guide == "learned" else oracle_variants(config)
    return summary[summary["variant"].isin(searches + list(BASELINES))]


def accuracy_at(summary: pd.DataFrame, variant: str, budget: int,
                difficulty: str | None = None) -> float:
    """Accuracy of ``variant`` at ``budget``: over all problems from ``overall`` (when
    ``difficulty`` is None) or on one difficulty group from ``summary``; NaN if absent."""
    table = summary if difficulty is None else summary[summary["difficulty"] == difficulty]
    rows = table[(table["variant"] == variant) & (table["budget"] == budget)]
    return float(rows["accuracy"].iloc[0]) if len(rows) else float("nan")


def best_variant(overall: pd.DataFrame, variants, budget: int) -> str | None:
    """The variant with the highest overall accuracy at ``budget`` (the first listed on a
    tie); None when none of them was measured there."""
    scores = {v: accuracy_at(overall, v, budget) for v in variants}
    measured = {v: a for v, a in scores.items() if not np.isnan(a)}
    return max(measured, key=measured.get) if measured else None


def lookahead_token_ratio(results: pd.DataFrame, budget: int, learned: str) -> float:
    """Mean policy tokens of lookahead search (width 4) over those of beam search (width 4)
    at ``budget``, guided by the ``learned`` verifier (else by the exact checker); NaN if
    either is missing."""
    at_budget = results[results["budget"] == budget]
    tokens = at_budget.groupby(["verifier", "method", "width"])["policy_tokens"].mean()
    for judge in (learned, "oracle"):
        look, beam = (judge, "lookahead", "4"), (judge, "beam", "4")
        if look in tokens.index and beam in tokens.index:
            return float(tokens[look] / tokens[beam])
    return float("nan")


def per_problem(tables, variant: str, budget: int, difficulty: str = "all") -> pd.Series:
    """``variant``'s score on each problem at ``budget`` (right or not for a search, expected
    accuracy for a baseline), indexed by problem; one difficulty group, or ``"all"``."""
    frames = [tables["results"], tables["baselines"]]
    both = pd.concat([f[["variant", "budget", "problem", "difficulty", "correct"]]
                      for f in frames], ignore_index=True)
    rows = both[(both["variant"] == variant) & (both["budget"] == budget)]
    if difficulty != "all":
        rows = rows[rows["difficulty"] == difficulty]
    return rows.set_index("problem")["correct"].astype(float)


def paired_comparisons(tables, config: SearchChapterConfig) -> pd.DataFrame:
    """The chapter's paired comparisons, problem by problem with 95% intervals and verdicts
    Holm-corrected over all of them (:func:`ttc.claims.paired_verdicts`): at the largest
    budget, every search with the learned verifier against weighted best-of-N over all
    problems (labelled by :func:`ttc.claims.learned_search_comparison`), every search with the
    exact checker against it over all and over hard problems; and :data:`BEAM` with the
    learned verifier on easy problems at the largest against the smallest budget (the
    degradation Snell et al. saw)."""
    b_min, b_max = min(config.budgets), max(config.budgets)
    learned = learned_search_comparison(config.verifier)
    plan = [(learned, v, WEIGHTED, "all", b_max, b_max) for v in config.methods]
    plan += [("exact-checker search - best-of-N", v, WEIGHTED, d, b_max, b_max)
             for v in oracle_variants(config) for d in ("all", HARD)]
    if BEAM in config.methods and b_min < b_max:
        plan.append(("largest - smallest budget", BEAM, BEAM, EASY, b_max, b_min))
    comparisons = []
    for name, v, reference, difficulty, budget, reference_budget in plan:
        diffs = (per_problem(tables, v, budget, difficulty)
                 - per_problem(tables, reference, reference_budget, difficulty))
        comparisons.append(({"comparison": name, "variant": v, "reference": reference,
                             "difficulty": difficulty, "budget": budget}, diffs.to_numpy()))
    return paired_verdicts(comparisons)


def facts(tables, config: SearchChapterConfig) -> dict[str, str]:
    """What chapter 5's prose quotes, as display text.

    Setup: ``policy``, ``n_problems``, ``budgets``, ``b_min``, ``b_max``; the learned verifier,
    ``verifier_name`` (as the prose names it), and chapter 4's within-problem AUCs
    ``likelihood_within`` and ``prm_within``. At ``b_max`` over all problems:
    ``best_search`` (the search with the learned verifier with the highest accuracy) and
    ``best_search_acc``, ``weighted_acc``, ``vote_acc``, ``best_oracle`` and
    ``best_oracle_acc``. Hard problems: ``oracle_first`` (the first oracle-guided search),
    ``oracle_hard_lo`` and ``oracle_hard_hi`` (it at ``b_min`` and ``b_max``),
    ``bon_hard_hi``. Costs: ``lookahead_ratio``, ``dropped``, ``n_runs``. Easy problems:
    ``easy_beam_lo``, ``easy_beam_hi`` for :data:`BEAM` with the learned verifier ("n/a" if it
    was not run), and ``easy_bon_hi``. Verdicts: the sentences of
    :func:`ttc.claims.search_claims` for the config's verifier, decided by
    :func:`paired_comparisons`.
    """
    results, summary, overall = tables["results"], tables["summary"], tables["overall"]
    setup = tables["setup"]
    b_min, b_max = min(config.budgets), max(config.budgets)
    learned, oracle = list(config.methods), oracle_variants(config)
    best_search = best_variant(overall, learned, b_max)
    best_oracle = best_variant(overall, oracle, b_max)
    first_oracle = oracle[0] if oracle else None
    paired = paired_comparisons(tables, config)
    verifier_name = LEARNED_VERIFIERS[config.verifier][0]

    def setup_auc(column: str) -> str:
        return report.fmt(float(setup[column].iloc[0]) if len(setup) and column in setup
                          else float("nan"))

    def acc(variant: str | None, budget: int = b_max, difficulty: str | None = None) -> float:
        if variant is None:
            return float("nan")
        return accuracy_at(overall if difficulty is None else summary, variant, budget,
                           difficulty)

    return {
        "policy": str(setup["policy"].iloc[0]) if len(setup) else report.MISSING,
        "n_problems": report.fmt(int(results["problem"].nunique()), ","),
        "budgets": ", ".join(str(b) for b in sorted(config.budgets)),
        "b_min": report.fmt(b_min, ","),
        "b_max": report.fmt(b_max, ","),
        "verifier_name": verifier_name,
        "likelihood_within": setup_auc("likelihood_within"),
        "prm_within": setup_auc("prm_within"),
        "best_search": best_search or report.MISSING,
        "best_search_acc": report.fmt(acc(best_search)),
        "weighted_acc": report.fmt(acc(WEIGHTED)),
        "vote_acc": report.fmt(acc("majority vote")),
        "best_oracle": best_oracle or "none",
        "best_oracle_acc": report.fmt(acc(best_oracle)),
        "oracle_first": first_oracle or "none",
        "oracle_hard_lo": report.fmt(acc(first_oracle, b_min, HARD)),
        "oracle_hard_hi": report.fmt(acc(first_oracle, b_max, HARD)),
        "bon_hard_hi": report.fmt(acc(WEIGHTED, b_max, HARD)),
        "lookahead_ratio": report.fmt(lookahead_token_ratio(results, b_max, config.verifier),
                                      ".1f"),
        "dropped": report.fmt(int(results["dropped"].sum()), ","),
        "n_runs": report.fmt(len(results), ","),
        "easy_beam_lo": report.fmt(acc(BEAM, b_min, EASY)),
        "easy_beam_hi": report.fmt(acc(BEAM, b_max, EASY)),
        "easy_bon_hi": report.fmt(acc(WEIGHTED, b_max, EASY)),
    } | claim_facts(search_claims(config.verifier, verifier_name), {"paired": paired})
