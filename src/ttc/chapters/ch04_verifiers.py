"""Chapter 4: outcome and process verifiers trained on the policy's own samples.

The policy samples training problems (never test problems); an ORM learns from the graded
answers and a PRM from Monte-Carlo step labels (Math-Shepherd style). Both are then scored
on chapter 3's cached test samples of the same policy: how well they separate right from
wrong, how the PRM agrees with the exact step checker, and what best-of-N selection with each
buys against N, with the oracle checker as the upper bound.

A second comparison puts them next to verifiers without a scalar head, on a subset of the
same test samples: the likelihood of a family member (no training) and generative verifiers
(GenRM, and GenRM-CoT with ``K`` sampled rationales) fine-tuned on the same training chains
with the exact checker's verdicts; within-problem and pooled AUCs with 95% bootstrap
intervals over problems, and each verifier's tokens per chain (its FLOPs are 2·N per token).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ttc import report
from ttc.cache import artifact_path, load_tables, relative_to_cache, save_tables
from ttc.config import ConfigError, config_hash, require_distinct_ints, require_range
from ttc.family.specs import check_members
from ttc.flops import inference_flops
from ttc.generate_verify import (
    SPLIT,
    SplitCosts,
    split_accuracy,
    split_points,
    split_verdicts,
    with_flops,
)
from ttc.metrics import (
    holm,
    mean_by,
    paired_bootstrap,
    pass_at_k_curve,
    roc_auc,
    verdict,
    wilson_interval,
    within_group_auc,
)
from ttc.report import cell
from ttc.search import LMStepPolicy
from ttc.selection import aggregate_steps, selection_curve
from ttc.tasks import Problem, generate_problems
from ttc.upstream import (
    DIFFICULTY_GROUPS,
    MEDIUM,
    checkpoint,
    difficulty_group,
    main_problems,
    member_names,
    member_samples,
    member_sizes,
    powers_of_two,
    quality_value,
)

if TYPE_CHECKING:  # the verifiers load torch: imported where they are used
    from ttc.sampling import SampleSpec
    from ttc.verifiers import VerifierExample, VerifierTrainConfig

#: best-of-N variants of the chapter: label -> (score column, selection rule)
SELECTORS = {
    "majority vote": (None, "majority"),
    "ORM, best-of-N": ("orm", "best"),
    "ORM, weighted": ("orm", "weighted"),
    "PRM last, best-of-N": ("prm_last", "best"),
    "PRM last, weighted": ("prm_last", "weighted"),
    "PRM min, best-of-N": ("prm_min", "best"),
    "PRM prod, best-of-N": ("prm_prod", "best"),
    "likelihood, best-of-N": ("likelihood", "best"),
    "likelihood, weighted": ("likelihood", "weighted"),
    "oracle, best-of-N": ("oracle", "best"),
}


@dataclass(frozen=True)
class VerifiersChapterConfig:
    """Parameters of chapter 4. Defaults are smoke-sized. The policy's test samples are
    chapter 3's."""

    #: the policy (a family member) and the member the verifiers start from
    policy: str = "f64x3"
    verifier_base: str = "f64x3"
    #: training problems per number of operations (train split, never the test set)
    n_train_problems_per_ops: int = 4
    #: policy samples per training problem (the verifiers' training chains)
    train_samples: int = 4
    #: Monte-Carlo rollouts per step prefix for the PRM's soft labels
    mc_rollouts: int = 4
    epochs: int = 2
    batch_size: int = 32
    lr: float = 1e-3
    #: random subsets used to estimate best-of-N at N below the number of samples
    selection_resamples: int = 50
    #: the member whose likelihood is a verifier (empty: the policy itself)
    likelihood_member: str = ""
    #: rationales sampled per chain by GenRM-CoT: one row of the comparison per value
    rationale_samples: tuple[int, ...] = (1, 4)
    max_rationale_tokens: int = 16
    #: chapter 3's samples per test problem that every verifier scores for the comparison
    comparison_samples: int = 4
    #: the split between generating and verifying: GenRM-CoT verifies the first
    #: ``split_samples`` samples of every test problem (N up to it) with each number of
    #: rationales in ``split_rationales`` (K); one pass at the largest K serves every K
    split_samples: int = 4
    split_rationales: tuple[int, ...] = (1, 2)
    #: bootstrap resamples of problems for the comparison's intervals
    n_boot: int = 1000
    #: temperatures besides chapter 3's at which the policy also samples the test problems,
    #: so that chapter 7 can spend its allowance at any of them (:mod:`ttc.policy_samples`)
    temperatures: tuple[float, ...] = (0.5,)
    #: samples per problem at those temperatures, and per validation problem
    extra_samples: int = 8
    #: validation problems per length, sampled at every temperature: chapter 7 chooses its
    #: strategy and temperature on them and reads the test problems only to report
    n_validation_per_ops: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        check_members("policy", (self.policy,))
        check_members("verifier_base", (self.verifier_base,))
        require_range("n_train_problems_per_ops", self.n_train_problems_per_ops, low=1)
        require_range("train_samples", self.train_samples, low=1)
        require_range("mc_rollouts", self.mc_rollouts, low=1)
        require_range("epochs", self.epochs, low=1)
        require_range("batch_size", self.batch_size, low=1)
        require_range("lr", self.lr, low=1e-6, high=1.0)
        require_range("selection_resamples", self.selection_resamples, low=10)
        if self.likelihood_member:
            check_members("likelihood_member", (self.likelihood_member,))
        require_distinct_ints("rationale_samples", self.rationale_samples, low=1)
        require_range("max_rationale_tokens", self.max_rationale_tokens, low=1, high=64)
        require_range("comparison_samples", self.comparison_samples, low=2)
        require_range("split_samples", self.split_samples, low=2)
        require_distinct_ints("split_rationales", self.split_rationales, low=1)
        require_range("n_boot", self.n_boot, low=100)
        if len(set(self.temperatures)) != len(self.temperatures) or any(
                not 0 < t <= 2 for t in self.temperatures):
            raise ConfigError("parameter 'temperatures' must be a list of distinct numbers in "
                              f"(0, 2]; got {list(self.temperatures)!r}")
        require_range("extra_samples", self.extra_samples, low=2)
        require_range("n_validation_per_ops", self.n_validation_per_ops, low=1)

    @property
    def max_rationales(self) -> int:
        """The K of the one GenRM-CoT pass that serves the comparison and the split."""
        return max(*self.rationale_samples, *self.split_rationales)

    @property
    def verified_samples(self) -> int:
        """Samples per test problem that GenRM-CoT verifies (comparison and split)."""
        return max(self.comparison_samples, self.split_samples)

    @property
    def train_config(self) -> VerifierTrainConfig:
        from ttc.verifiers import VerifierTrainConfig

        return VerifierTrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                                   seed=self.seed)


def _examples_frame(examples: list[VerifierExample]) -> pd.DataFrame:
    return pd.DataFrame({"prompt": [e.prompt for e in examples],
                         "completion": [e.completion for e in examples],
                         "finished": [e.finished for e in examples],
                         "labels": [list(e.labels) for e in examples]})


def _examples_of(frame: pd.DataFrame) -> list[VerifierExample]:
    from ttc.verifiers import VerifierExample

    return [VerifierExample(r.prompt, r.completion, bool(r.finished),
                            tuple(float(x) for x in r.labels))
            for r in frame.itertuples(index=False)]


def training_problems(config: VerifiersChapterConfig, inputs) -> list[Problem]:
    """The verifiers' training problems: ``n_train_problems_per_ops`` per length, from the
    train split (never the test problems)."""
    return generate_problems(inputs["02_family"].config.task, "train",
                             config.n_train_problems_per_ops, seed=config.seed + 2024)


def training_samples(config: VerifiersChapterConfig, inputs, progress: bool = True):
    """The policy's ``train_samples`` chains for each training problem (a cached artifact):
    ``(problems, samples)``. Every verifier of the chapter learns from these chains."""
    from ttc.family.train import load_member
    from ttc.sampling import draw_samples

    fconfig = inputs["02_family"].config
    path = checkpoint(inputs, config.policy)
    problems = training_problems(config, inputs)
    model, tokenizer = load_member(path, device=fconfig.device)
    samples = draw_samples(model, tokenizer, path.name, problems, _training_spec(config, inputs),
                           progress)
    return problems, samples


def _training_spec(config: VerifiersChapterConfig, inputs) -> SampleSpec:
    from ttc.sampling import SampleSpec

    return SampleSpec(n_samples=config.train_samples,
                      max_new_tokens=inputs["02_family"].config.max_new_tokens,
                      seed=config.seed + 7)


def training_data(config: VerifiersChapterConfig, inputs, progress: bool = True):
    """The verifiers' training data, cached: ``(orm_examples, prm_examples, mc_labels)``.

    The policy samples ``train_samples`` chains for each training problem; the PRM's labels
    come from ``mc_rollouts`` rollouts per distinct step prefix.
    """
    from ttc.family.train import load_member
    from ttc.verifiers import monte_carlo_examples, outcome_examples

    fconfig = inputs["02_family"].config
    path = checkpoint(inputs, config.policy)
    problems, samples = training_samples(config, inputs, progress)
    folder = _labels_folder(config, inputs, problems)
    orm = outcome_examples(problems, samples)
    if (cached := load_tables(folder, _LABEL_TABLES)) is not None:
        return orm, _examples_of(cached["prm.parquet"]), cached["mc_labels.parquet"]
    model, tokenizer = load_member(path, device=fconfig.device)
    policy = LMStepPolicy(model, tokenizer, max_new_tokens=fconfig.max_new_tokens)
    prm, table = monte_carlo_examples(policy, problems, samples, config.mc_rollouts,
                                      seed=config.seed + 11)
    save_tables(folder, {"prm.parquet": _examples_frame(prm), "mc_labels.parquet": table})
    return orm, prm, table


_LABEL_TABLES = ["prm.parquet", "mc_labels.parquet"]


def _labels_folder(config: VerifiersChapterConfig, inputs, problems: list[Problem]) -> Path:
    """Where :func:`training_data` caches the PRM's Monte-Carlo labels."""
    path = checkpoint(inputs, config.policy)
    from ttc.sampling import decoder_name

    key = config_hash((path.name, [p.prompt for p in problems], _training_spec(config, inputs),
                       config.mc_rollouts, config.seed, "v1", decoder_name()))
    return artifact_path("labels", f"{path.name}-{key}")


#: the chapter's fine-tunes, costliest first (the PRM's job also draws its Monte-Carlo
#: labels; relative one-thread costs in the a9da72c cpu build): the order workers take them
FINETUNES = {"prm": 3.0, "genrm-cot": 2.0, "orm": 1.0, "genrm": 1.0}


def _finetune_inputs(kind: str, config: VerifiersChapterConfig, inputs, examples=None):
    """``(base, examples, recipe)`` of one of :data:`FINETUNES`; the PRM's examples must be
    given (they need the Monte-Carlo labels)."""
    from ttc.finetune import FinetuneConfig
    from ttc.verifiers import generative_examples, outcome_examples

    base = checkpoint(inputs, config.verifier_base)
    if kind in ("orm", "prm"):
        if examples is None:
            examples = outcome_examples(*training_samples(config, inputs, progress=False))
        return base, examples, config.train_config
    problems, samples = training_samples(config, inputs, progress=False)
    recipe = FinetuneConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                            seed=config.seed)
    return base, generative_examples(problems, samples, rationales=kind == "genrm-cot"), recipe


def _finetuned(kind: str, config: VerifiersChapterConfig, inputs) -> bool:
    """Whether one of :data:`FINETUNES` is in the cache already (the PRM: and its labels)."""
    from ttc.finetune import cached_checkpoint
    from ttc.verifiers import generative_verifier_path, verifier_path

    if kind == "prm":
        problems, _ = training_samples(config, inputs, progress=False)
        cached = load_tables(_labels_folder(config, inputs, problems), _LABEL_TABLES)
        if cached is None:
            return False
        base, examples, recipe = _finetune_inputs(kind, config, inputs,
                                                  _examples_of(cached["prm.parquet"]))
    else:
        base, examples, recipe = _finetune_inputs(kind, config, inputs)
    if kind in ("orm", "prm"):
        return cached_checkpoint(verifier_path(base, examples, recipe, kind))
    return cached_checkpoint(generative_verifier_path(base, examples, recipe))


def finetune_job(job: tuple) -> None:
    """Fine-tune one of :data:`FINETUNES` into the cache (a job of
    :func:`ttc.parallel.run_jobs`; ``job`` is ``(config, inputs, kind)``, ``inputs`` holding
    chapter 2's result). The PRM's job first draws the Monte-Carlo labels only it needs."""
    from ttc.verifiers import train_generative_verifier, train_verifier

    config, inputs, kind = job
    device = inputs["02_family"].config.device
    examples = training_data(config, inputs)[1] if kind == "prm" else None
    base, examples, recipe = _finetune_inputs(kind, config, inputs, examples)
    if kind in ("orm", "prm"):
        train_verifier(base, examples, recipe, kind, device=device)
    else:
        train_generative_verifier(base, examples, recipe, device=device)


def finetune_in_workers(config: VerifiersChapterConfig, inputs, progress: bool = True) -> None:
    """Fine-tune the chapter's verifiers on worker processes, one thread each, costliest
    first (:mod:`ttc.parallel`; one after the other on a GPU): the four fine-tunes and the
    Monte-Carlo labels are independent but for the PRM's labels. The training chains are
    drawn here first, so that no two jobs draw them; ``run`` then finds every checkpoint
    in the cache."""
    from ttc.family.train import resolve_device
    from ttc.parallel import run_jobs

    training_samples(config, inputs, progress)
    todo = [kind for kind in FINETUNES if not _finetuned(kind, config, inputs)]
    family = {"02_family": inputs["02_family"]}
    run_jobs(finetune_job, [(config, family, kind) for kind in todo], desc="fine-tune",
             progress=progress and bool(todo), labels=todo,
             costs=[FINETUNES[kind] for kind in todo],
             parallel=resolve_device(inputs["02_family"].config.device) == "cpu")


def validation_problems(config: VerifiersChapterConfig, inputs) -> list[Problem]:
    """Chapter 7's validation problems: ``n_validation_per_ops`` per length from the
    validation split (disjoint from the training and test problems by construction)."""
    return generate_problems(inputs["02_family"].config.task, "val",
                             config.n_validation_per_ops, seed=config.seed + 4048)


def extra_sample_tables(config: VerifiersChapterConfig, inputs, verifiers: dict[str, Path],
                        policy_path: Path, progress: bool = True
                        ) -> dict[str, pd.DataFrame]:
    """The policy's sample sets beyond chapter 3's (:mod:`ttc.policy_samples`), scored:

    - ``scored_temperatures``: the test problems at each of ``temperatures``
      (``extra_samples`` each), with the likelihood;
    - ``scored_validation``: the validation problems at chapter 3's temperature and at each
      of ``temperatures``, with the likelihood, and at chapter 3's temperature also the ORM
      and PRM scores (``orm``, ``prm_last``) whose rules are candidates there;
    - ``greedy_validation``: the policy's greedy answer to each validation problem.

    Every table has ``temperature`` (0 for greedy) and the columns of
    :data:`ttc.policy_samples.KEPT`.
    """
    from ttc.policy_samples import KEPT, draw_sets, likelihood_scored
    from ttc.sampling import SampleSpec

    fconfig = inputs["02_family"].config
    device = fconfig.device
    reference = float(inputs["03_sampling"].config.temperature)
    test = main_problems(inputs)
    val = validation_problems(config, inputs)

    def spec(temperature: float, n: int) -> SampleSpec:
        return SampleSpec(n_samples=n, max_new_tokens=fconfig.max_new_tokens,
                          temperature=temperature, seed=config.seed + 31)

    sets = {("test", t): (test, spec(t, config.extra_samples)) for t in config.temperatures}
    sets |= {("validation", t): (val, spec(t, config.extra_samples))
             for t in (reference, *config.temperatures)}
    sets[("validation", 0.0)] = (val, spec(0.0, 1))
    drawn = draw_sets(policy_path, device, sets, progress)
    tables: dict[str, list[pd.DataFrame]] = {"scored_temperatures": [],
                                             "scored_validation": []}
    for (split, t), samples in drawn.items():
        problems = test if split == "test" else val
        if t == 0.0:
            continue
        if split == "validation" and t == reference:
            scored, _ = score_samples(problems, samples, verifiers | {"likelihood": policy_path},
                                      progress, device=device)
            kept = ["logprob"] if "logprob" in scored else []  # the likelihood came free
            scored = scored[[*KEPT, *kept, "orm", "prm_last", "likelihood"]]
        else:
            scored = likelihood_scored(problems, samples, policy_path, device, progress)
        tables[f"scored_{'temperatures' if split == 'test' else 'validation'}"].append(
            scored.assign(temperature=t))
    greedy = drawn[("validation", 0.0)][list(KEPT)].assign(temperature=0.0)
    out = {name: pd.concat(frames, ignore_index=True) if frames else
           pd.DataFrame(columns=[*KEPT, "likelihood", "temperature"])
           for name, frames in tables.items()}
    out["greedy_validation"] = greedy.drop(columns=["sample"])
    return out
def training_tokens(tokenizer, examples) -> int:
    """Tokens a verifier reads in one epoch over ``examples``: every chain's prompt and
    completion, and the ``<eos>`` of a finished one (:func:`ttc.verifiers.scoring.verifier_ids`;
    padding not counted). Chapter 7 charges training from it (6·N per token per epoch)."""
    from ttc.verifiers.scoring import verifier_ids

    return sum(len(verifier_ids(tokenizer, e.prompt, e.completion, e.finished))
               for e in examples)


def train_verifiers(config: VerifiersChapterConfig, inputs, orm_examples, prm_examples,
                    progress: bool = True) -> dict[str, Path]:
    """Train (or find cached) the ORM and the PRM; return their checkpoint folders."""
    from ttc.verifiers import train_verifier

    base = checkpoint(inputs, config.verifier_base)
    return {kind: train_verifier(base, examples, config.train_config, kind, progress,
                                 device=inputs["02_family"].config.device)
            for kind, examples in (("orm", orm_examples), ("prm", prm_examples))}


def score_samples(problems: list[Problem], samples: pd.DataFrame,
                  verifiers: dict[str, Path], progress: bool = True, device: str = "cpu"
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Verifier scores of every sample, and the PRM's step scores next to the oracle's.

    Returns ``scored`` (the samples table plus ``orm``, ``prm_last``, ``prm_min``,
    ``prm_prod``, ``likelihood`` (the chain's probability under the member whose checkpoint
    is ``verifiers["likelihood"]``, the policy in this chapter: kept by the sampler where the
    samples carry it, :func:`ttc.policy_samples.recorded_likelihood`) and ``oracle``) and
    ``steps`` (one row per step end of each distinct chain: ``prm`` score and ``oracle``
    label). Distinct chains are scored once, on worker processes
    (:mod:`ttc.verifiers.pool`); cached on disk.
    """
    from ttc.policy_samples import recorded_likelihood
    from ttc.verifiers import OracleVerifier
    from ttc.verifiers.pool import ScorerSpec, score_chains

    kept = recorded_likelihood(samples)
    key = config_hash(([p.prompt for p in problems], samples["completion"].tolist(),
                       samples["finished"].tolist(), sorted(v.name for v in verifiers.values()),
                       "v1" if kept is None else "v2-kept"))
    folder = artifact_path("scores", key)
    names = ["scored.parquet", "steps.parquet"]
    if (cached := load_tables(folder, names)) is not None:
        return cached["scored.parquet"], cached["steps.parquet"]
    distinct = samples.drop_duplicates(["problem", "completion", "finished"])
    prompts = [problems[i].prompt for i in distinct["problem"]]
    completions, finished = distinct["completion"].tolist(), distinct["finished"].tolist()
    specs = {"orm": ScorerSpec("scalar", str(verifiers["orm"])),
             "prm": ScorerSpec("scalar", str(verifiers["prm"]))}
    if kept is None:
        specs["likelihood"] = ScorerSpec("likelihood", str(verifiers["likelihood"]))
    scored_by = score_chains(specs, prompts, completions, finished, problems, device=device,
                             desc="score", progress=progress)
    scores = {name: result[0] for name, result in scored_by.items()}
    scores["oracle"] = OracleVerifier(problems).step_scores(prompts, completions, finished)
    columns = {
        "orm": [aggregate_steps(s) for s in scores["orm"]],
        "prm_last": [aggregate_steps(s, "last") for s in scores["prm"]],
        "prm_min": [aggregate_steps(s, "min") for s in scores["prm"]],
        "prm_prod": [aggregate_steps(s, "prod") for s in scores["prm"]],
        "oracle": [aggregate_steps(s) for s in scores["oracle"]],
    }
    columns["likelihood"] = (recorded_likelihood(distinct) if kept is not None else
                             [aggregate_steps(s, "last") for s in scores["likelihood"]])
    distinct = distinct[["problem", "completion", "finished"]].assign(**columns)
    scored = samples.merge(distinct, on=["problem", "completion", "finished"], how="left")
    steps = pd.DataFrame({
        "problem": np.repeat(distinct["problem"].to_numpy(), [len(s) for s in scores["prm"]]),
        "step": np.concatenate([np.arange(len(s)) for s in scores["prm"]]),
        "prm": np.concatenate(scores["prm"]),
        "oracle": np.concatenate(scores["oracle"]).astype(bool),
    })
    steps["n_ops"] = [problems[i].n_ops for i in steps["problem"]]
    save_tables(folder, {"scored.parquet": scored, "steps.parquet": steps})
    return scored, steps


def best_of_n_curves(problems: list[Problem], scored: pd.DataFrame, n_resamples: int,
                     seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """Accuracy at N for every selector of :data:`SELECTORS`, plus coverage (pass@N): one
    row per (selector, problem, N)."""
    n = int(scored.groupby("problem").size().min())
    ks = powers_of_two(n)
    rows = []
    groups = scored.groupby("problem", sort=True)
    for index, group in tqdm(groups, desc="best-of-N", disable=not progress, leave=False):
        group = group.iloc[:n]
        answers = [None if pd.isna(a) else a for a in group["answer"]]
        truth = str(problems[index].answer)
        for label, (column, rule) in SELECTORS.items():
            weights = None if column is None else group[column].to_numpy()
            accuracy = selection_curve(answers, truth, ks, weights, rule, n_resamples,
                                       seed=seed + index)
            rows += [{"selector": label, "problem": index, "n_ops": problems[index].n_ops,
                      "N": k, "accuracy": a} for k, a in zip(ks, accuracy, strict=True)]
        coverage = pass_at_k_curve(n, np.array([group["correct"].sum()]), ks)[0]
        rows += [{"selector": "pass@N (coverage)", "problem": index,
                  "n_ops": problems[index].n_ops, "N": k, "accuracy": a}
                 for k, a in zip(ks, coverage, strict=True)]
    frame = pd.DataFrame(rows)
    frame["difficulty"] = frame["n_ops"].map(difficulty_group)
    return frame


#: the scores whose top pick :func:`distinct_chain_picks` follows: column label -> column
TOP_PICKS = {"ORM": "orm", "PRM last": "prm_last"}


def distinct_chain_picks(scored: pd.DataFrame, columns: dict[str, str] | None = None
                         ) -> pd.DataFrame:
    """Why plain best-of-N can fall *below* a single sample: the chance baselines of picking
    among a problem's samples and among its distinct chains, by difficulty.

    A verifier that cannot tell a problem's chains apart picks its top-scored chain at random
    among the *distinct* chains, not among the samples: identical chains get identical
    scores. Right answers tend to be a few chains drawn many times, wrong ones many chains
    drawn once, so that pick is right less often than a random sample. Per problem, on its
    first ``n`` samples (``n`` the smallest number any problem has, as in
    :func:`best_of_n_curves`): ``distinct`` chains (completion and finished flag), the share
    of them ``drawn_once``, ``sample_right`` (the share of samples that are right: a random
    sample's accuracy) and ``distinct_right`` (the share of distinct chains that are right: a
    random distinct chain's accuracy), and for each score of ``columns`` (default
    :data:`TOP_PICKS`) ``<label> top drawn once``, whether its top-scored chain was drawn
    once. Returns the means over problems per ``difficulty`` (with ``problems`` and ``N``),
    easy to hard.
    """
    columns = TOP_PICKS if columns is None else columns
    n = int(scored.groupby("problem").size().min())
    rows = []
    for problem, group in scored.groupby("problem", sort=True):
        group = group.iloc[:n]
        counts = group.groupby(["completion", "finished"], sort=False)["correct"].agg(
            ["size", "first"])  # (distinct chains,): times drawn, right or not
        row = {"problem": problem, "difficulty": difficulty_group(int(group["n_ops"].iloc[0])),
               "distinct": len(counts), "drawn_once": float((counts["size"] == 1).mean()),
               "sample_right": float(group["correct"].mean()),
               "distinct_right": float(counts["first"].astype(bool).mean())}
        for label, column in columns.items():
            top = group.loc[group[column].idxmax()]
            row[f"{label} top drawn once"] = float(
                counts.loc[(top["completion"], top["finished"]), "size"] == 1)
        rows.append(row)
    frame = pd.DataFrame(rows)
    summary = frame.drop(columns="problem").groupby("difficulty", sort=True).mean()
    summary.insert(0, "problems", frame.groupby("difficulty", sort=True).size())
    summary.insert(1, "N", n)
    order = {name: i for i, name in enumerate(DIFFICULTY_GROUPS)}  # easy, medium, hard
    return summary.reset_index().sort_values("difficulty", key=lambda c: c.map(order),
                                             ignore_index=True)


def calibration(steps: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Share of oracle-right step prefixes per bin of PRM score (a reliability table), with
    a 95% Wilson interval of each bin's share (``oracle_low``, ``oracle_high``; prefixes of
    one chain are not independent, so these are narrower than an interval over chains would
    be). Empty bins are left out."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(steps["prm"], edges) - 1, 0, bins - 1)
    table = steps.assign(bin=which, right=steps["oracle"].astype(int)).groupby("bin").agg(
        prm=("prm", "mean"), oracle=("oracle", "mean"), steps=("oracle", "size"),
        right=("right", "sum"))
    bounds = [wilson_interval(int(r), int(n)) for r, n in zip(table["right"], table["steps"],
                                                              strict=True)]
    table["oracle_low"] = [low for low, _ in bounds]
    table["oracle_high"] = [high for _, high in bounds]
    return table.drop(columns="right").reset_index()


#: the comparison's verifiers in table order: fact key -> display name ("{k}" is K)
COMPARED = {"orm": "ORM", "prm": "PRM (last step)", "likelihood": "likelihood",
            "genrm": "GenRM", "cot": "GenRM-CoT, K = {k}", "checker": "exact checker"}
#: the verifier every other one is compared with, problem by problem
REFERENCE = "likelihood"


def train_generative_verifiers(config: VerifiersChapterConfig, inputs, progress: bool = True
                               ) -> dict[str, Path]:
    """Train (or find cached) GenRM and GenRM-CoT on the policy's training chains, labelled
    by the exact checker; return their checkpoint folders by kind."""
    from ttc.verifiers import train_generative_verifier

    device = inputs["02_family"].config.device
    return {kind: train_generative_verifier(*_finetune_inputs(kind, config, inputs), progress,
                                            device=device)
            for kind in ("genrm", "genrm-cot")}


def comparison_verifiers(config: VerifiersChapterConfig, inputs, scalar: dict[str, Path],
                         generative: dict[str, Path]) -> dict:
    """Every verifier of the comparison that is scored here, by display name: how a worker
    builds it (:class:`ttc.verifiers.pool.ScorerSpec`) and its non-embedding N (None for the
    checker, which runs no model). GenRM-CoT is not among them: its rows come from
    :func:`rationale_scores`, one pass that serves every K."""
    from ttc.verifiers.pool import ScorerSpec

    sizes = member_sizes(inputs)
    judge = config.likelihood_member or config.policy
    base_n = sizes[config.verifier_base]
    return {
        COMPARED["orm"]: (ScorerSpec("scalar", str(scalar["orm"])), base_n),
        COMPARED["prm"]: (ScorerSpec("scalar", str(scalar["prm"])), base_n),
        COMPARED["likelihood"]: (ScorerSpec("likelihood", str(checkpoint(inputs, judge))),
                                 sizes[judge]),
        COMPARED["genrm"]: (ScorerSpec("generative", str(generative["genrm"])), base_n),
        COMPARED["checker"]: (ScorerSpec("checker"), None),
    }


def trajectory_columns(k: int) -> list[str]:
    """The first ``k`` trajectory score columns of :func:`rationale_scores`."""
    return [f"t{j}" for j in range(k)]


def rationale_scores(config: VerifiersChapterConfig, inputs, problems: list[Problem],
                     samples: pd.DataFrame, generative: dict[str, Path],
                     progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """GenRM-CoT's verdicts on the first ``verified_samples`` samples of every test problem,
    each rationale trajectory kept apart, from one pass at K = ``max_rationales``
    (cached): ``(trajectories, cost)``.

    ``trajectories``: one row per sample (``problem``, ``sample``, and ``t0`` ...
    ``t{K-1}``: trajectory j's probability that every step is right; 0 for a chain with no
    step). Trajectory j of a chain draws from its own random stream, so the mean of the
    first k columns is exactly the score of GenRM-CoT with K = k. ``cost``: one row with the
    verifier's ``tokens`` per trajectory (read and written, the prompt included),
    ``prompt_tokens`` (the prompt's share of them), ``seconds`` per trajectory, ``chains``
    (distinct chains verified) and ``K``.
    """
    from transformers import AutoTokenizer

    from ttc.verifiers.generative import encode_steps
    from ttc.verifiers.pool import ScorerSpec, score_chains

    subset = samples[samples["sample"] < config.verified_samples]
    distinct = subset.drop_duplicates(["problem", "completion", "finished"])
    k, path = config.max_rationales, generative["genrm-cot"]
    key = config_hash(([p.prompt for p in problems], distinct["completion"].tolist(),
                       distinct["finished"].tolist(), path.name, k,
                       config.max_rationale_tokens, config.seed, "v1"))
    folder = artifact_path("scores", f"rationales-{key}")
    names = ["trajectories.parquet", "cost.parquet"]
    if (cached := load_tables(folder, names)) is not None:
        return cached["trajectories.parquet"], cached["cost.parquet"]
    prompts = [problems[i].prompt for i in distinct["problem"]]
    completions, finished = distinct["completion"].tolist(), distinct["finished"].tolist()
    spec = ScorerSpec("generative", str(path), n_rationales=k,
                      max_rationale_tokens=config.max_rationale_tokens, seed=config.seed,
                      per_trajectory=True)
    scores, tokens, seconds = score_chains(
        {"cot": spec}, prompts, completions, finished, problems,
        device=inputs["02_family"].config.device, desc="verify", progress=progress)["cot"]
    last = np.stack([s[:, -1] if s.shape[1] else np.zeros(k) for s in scores])  # (chains, K)
    columns = dict(zip(trajectory_columns(k), last.T, strict=True))
    distinct = distinct[["problem", "completion", "finished"]].assign(**columns)
    table = subset.merge(distinct, on=["problem", "completion", "finished"], how="left")
    table = table[["problem", "sample", *columns]].reset_index(drop=True)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    encoded = [encode_steps(tokenizer, *chain) for chain in zip(prompts, completions, finished,
                                                                strict=True)]
    judged = [len(ids) for ids, steps in encoded if steps]  # chains with a step to judge
    trajectories = max(1, len(judged) * k)
    cost = pd.DataFrame([{"tokens": tokens / trajectories,
                          "prompt_tokens": float(np.mean(judged)) if judged else 0.0,
                          "seconds": seconds / trajectories, "chains": len(judged), "K": k}])
    save_tables(folder, {"trajectories.parquet": table, "cost.parquet": cost})
    return table, cost


def compare_verifiers(config: VerifiersChapterConfig, inputs, problems: list[Problem],
                      samples: pd.DataFrame, scalar: dict[str, Path],
                      generative: dict[str, Path], rationales: tuple[pd.DataFrame, pd.DataFrame],
                      progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every verifier's outcome score on the first ``comparison_samples`` samples of each
    test problem, and what scoring cost: ``(scores, costs)``, cached on disk. GenRM-CoT's
    rows, one per K of ``rationale_samples``, are the means of the first K trajectories of
    ``rationales`` (:func:`rationale_scores`), its costs K times the cost of one.

    ``scores`` has one row per finished sample (``problem``, ``correct`` and one column per
    verifier, its last step score); ``costs`` one row per verifier: ``N``, the verifier
    ``tokens`` per distinct chain (rationales and verdicts included), ``flops_per_chain``
    (2·N per token) and ``seconds``.
    """
    subset = samples[samples["sample"] < config.comparison_samples]
    distinct = subset.drop_duplicates(["problem", "completion", "finished"])
    key = config_hash(([p.prompt for p in problems], distinct["completion"].tolist(),
                       distinct["finished"].tolist(), sorted(p.name for p in scalar.values()),
                       sorted(p.name for p in generative.values()), config.likelihood_member,
                       "v3"))
    folder = artifact_path("scores", f"comparison-{key}")
    names = ["scores.parquet", "costs.parquet"]
    if (cached := load_tables(folder, names)) is None:
        cached = _compare(config, inputs, problems, subset, distinct, scalar, generative,
                          progress)
        save_tables(folder, cached)
    scored, costs = cached["scores.parquet"], cached["costs.parquet"]
    trajectories, cost = rationales
    base_n = member_sizes(inputs)[config.verifier_base]
    cot, cot_costs = {}, []
    merged = scored[["problem", "sample"]].merge(trajectories, on=["problem", "sample"],
                                                 how="left")
    for k in sorted(config.rationale_samples):
        name = COMPARED["cot"].format(k=k)
        cot[name] = merged[trajectory_columns(k)].mean(axis=1).to_numpy()
        tokens = k * float(cell(cost, "tokens"))
        cot_costs.append({"verifier": name, "N": base_n, "tokens": tokens,
                          "flops_per_chain": 2.0 * base_n * tokens,
                          "seconds": k * float(cell(cost, "seconds"))})
    checker = COMPARED["checker"]
    scored = scored.drop(columns=[checker, "sample"]).assign(**cot).assign(
        **{checker: scored[checker].to_numpy()})
    costs = pd.concat([costs[costs["verifier"] != checker], pd.DataFrame(cot_costs),
                       costs[costs["verifier"] == checker]], ignore_index=True)
    return scored, costs


def rationale_order_changes(scores: pd.DataFrame, config: VerifiersChapterConfig
                            ) -> pd.DataFrame:
    """How differently GenRM-CoT with more rationales orders a problem's right and wrong
    chains than with the fewest (:func:`ttc.verifiers.quality.pair_order_changes` on the
    comparison's ``scores``): one row per larger K, ``k_small``, ``k``, ``pairs``,
    ``reordered``, ``better`` and ``worse``. Explains why the within-problem AUC can move
    little while the scores change."""
    from ttc.verifiers.quality import pair_order_changes

    ks = sorted(config.rationale_samples)
    small = COMPARED["cot"].format(k=ks[0])
    rows = []
    for k in ks[1:]:
        name = COMPARED["cot"].format(k=k)
        if small in scores and name in scores:
            rows.append({"k_small": ks[0], "k": k, **pair_order_changes(
                scores["problem"], scores["correct"], scores[small], scores[name])})
    return pd.DataFrame(rows, columns=["k_small", "k", "pairs", "reordered", "better",
                                       "worse"])


def _compare(config: VerifiersChapterConfig, inputs, problems: list[Problem],
             subset: pd.DataFrame, distinct: pd.DataFrame, scalar: dict[str, Path],
             generative: dict[str, Path], progress: bool) -> dict[str, pd.DataFrame]:
    """The comparison's verifiers other than GenRM-CoT on ``distinct`` chains of
    ``subset``: the tables that :func:`compare_verifiers` caches."""
    from ttc.verifiers.pool import score_chains

    prompts = [problems[i].prompt for i in distinct["problem"]]
    completions, finished = distinct["completion"].tolist(), distinct["finished"].tolist()
    verifiers = comparison_verifiers(config, inputs, scalar, generative)
    results = score_chains({name: spec for name, (spec, _) in verifiers.items()}, prompts,
                           completions, finished, problems,
                           device=inputs["02_family"].config.device, desc="compare",
                           progress=progress)
    columns, costs = {}, []
    for name, (_, n_params) in verifiers.items():
        scores, tokens, seconds = results[name]
        columns[name] = [aggregate_steps(s) for s in scores]
        tokens = tokens / len(distinct)
        costs.append({"verifier": name, "N": n_params, "tokens": tokens,
                      "flops_per_chain": 0.0 if n_params is None else 2.0 * n_params * tokens,
                      "seconds": seconds})
    distinct = distinct[["problem", "completion", "finished"]].assign(**columns)
    scored = subset.merge(distinct, on=["problem", "completion", "finished"], how="left")
    scored = scored[scored["finished"]][["problem", "sample", "correct", *columns]]
    return {"scores.parquet": scored.reset_index(drop=True),
            "costs.parquet": pd.DataFrame(costs)}


def comparison_table(scores: pd.DataFrame, costs: pd.DataFrame, n_boot: int, seed: int = 0
                     ) -> pd.DataFrame:
    """AUCs with 95% intervals over problems for every verifier (:func:`auc_summary`), its
    cost per chain, and its within-problem AUC minus the likelihood's, problem by problem
    (``vs_likelihood`` with a paired bootstrap interval, p-value, Holm-corrected verdict
    over the verifiers compared)."""
    from ttc.verifiers.quality import auc_summary, per_problem_auc

    names = [c for c in scores.columns if c not in ("problem", "correct")]
    table = auc_summary(scores, {n: n for n in names}, n_boot=n_boot, seed=seed)
    per_problem = {n: per_problem_auc(scores["problem"], scores["correct"], scores[n])
                   for n in names}
    rows = []
    for name in names:
        if name == COMPARED[REFERENCE] or COMPARED[REFERENCE] not in per_problem:
            rows.append({"vs_likelihood": np.nan, "vs_likelihood_low": np.nan,
                         "vs_likelihood_high": np.nan, "vs_likelihood_p": np.nan})
            continue
        test = paired_bootstrap((per_problem[name] - per_problem[COMPARED[REFERENCE]])
                                .to_numpy(), n_boot=n_boot, seed=seed)
        rows.append({"vs_likelihood": test["mean"], "vs_likelihood_low": test["low"],
                     "vs_likelihood_high": test["high"], "vs_likelihood_p": test["p"]})
    table = pd.concat([table, pd.DataFrame(rows)], axis=1)
    rejected = holm(table["vs_likelihood_p"].to_numpy())
    table["vs_likelihood_verdict"] = [
        verdict(m, r, "above", "below", "no detectable difference")
        if not np.isnan(m) else "" for m, r in zip(table["vs_likelihood"], rejected,
                                                    strict=True)]
    return table.merge(costs.rename(columns={"verifier": "score"}), on="score", how="left")


def split_costs(config: VerifiersChapterConfig, inputs, problems: list[Problem],
                scored: pd.DataFrame, trajectories: pd.DataFrame, cost: pd.DataFrame
                ) -> dict[str, SplitCosts]:
    """The FLOPs of a candidate, a rationale trajectory, a re-reading by the policy and a
    check by a verifier of the GenRM's size, per difficulty group (:class:`SplitCosts`).

    Generation is 2·N per generated token, at the group's mean tokens per sample; the
    policy's likelihood of its own samples costs nothing more where the sampler kept it
    (``reread`` 0; else one more reading, 2·N_policy per token). A trajectory is
    2·N_verifier per token the GenRM-CoT reads or writes, prompt
    excluded (the book never charges prompts), measured over all verified chains and scaled
    to the group by its verified chains' mean length against all verified chains'."""
    sizes = member_sizes(inputs)
    n_policy, n_verifier = sizes[config.policy], sizes[config.verifier_base]
    group = scored["problem"].map(lambda p: difficulty_group(problems[p].n_ops))
    tokens = scored.groupby(group)["n_tokens"].mean()
    verified = trajectories[["problem", "sample"]].merge(
        scored[["problem", "sample", "n_tokens"]], on=["problem", "sample"])
    verified_group = verified["problem"].map(lambda p: difficulty_group(problems[p].n_ops))
    lengths = verified.groupby(verified_group)["n_tokens"].mean() / verified["n_tokens"].mean()
    per_trajectory = float(cell(cost, "tokens")) - float(cell(cost, "prompt_tokens"))
    return {name: SplitCosts(generate=inference_flops(n_policy, tokens[name]),
                             verify=inference_flops(n_verifier,
                                                    per_trajectory * lengths.get(name, 1.0)),
                             reread=(0.0 if "logprob" in scored
                                     else inference_flops(n_policy, tokens[name])),
                             check=inference_flops(n_verifier, tokens[name]))
            for name in tokens.index}


def generate_verify_split(config: VerifiersChapterConfig, inputs, problems: list[Problem],
                          scored: pd.DataFrame, rationales: tuple[pd.DataFrame, pd.DataFrame]
                          ) -> dict[str, pd.DataFrame]:
    """How to split a FLOPs budget between generating N candidates and verifying each with K
    rationales (:mod:`ttc.generate_verify`): ``split_points`` (every method, N and K per
    difficulty group, with intervals, FLOPs and the frontier) and ``split_verdicts`` (the
    best split chosen on the other half of the problems against majority vote at the same
    FLOPs, with paired intervals and Holm's correction)."""
    trajectories, cost = rationales
    ks = sorted(config.split_rationales)
    n_all = int(scored.groupby("problem").size().min())
    ns = powers_of_two(n_all)
    truths = {i: str(p.answer) for i, p in enumerate(problems)}
    verified = trajectories[trajectories["sample"] < config.split_samples].merge(
        scored[["problem", "sample", "answer"]], on=["problem", "sample"])
    per_problem = split_accuracy(verified, scored, truths, ns, ks,
                                 config.selection_resamples, config.seed)
    groups = {i: difficulty_group(p.n_ops) for i, p in enumerate(problems)}
    costs = split_costs(config, inputs, problems, scored, trajectories, cost)
    per_problem = with_flops(per_problem, groups, costs)
    order = {name: i for i, name in enumerate(DIFFICULTY_GROUPS)}  # easy, medium, hard

    def ordered(table: pd.DataFrame) -> pd.DataFrame:
        rank = table["difficulty"].map(order)
        return table.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)

    return {"split_points": ordered(split_points(per_problem)),
            "split_verdicts": ordered(split_verdicts(per_problem, n_boot=config.n_boot,
                                                     seed=config.seed)),
            "split_costs": pd.DataFrame([{"difficulty": name, **asdict(c)}
                                         for name, c in costs.items()])}


def run(config: VerifiersChapterConfig, inputs, progress: bool = True
        ) -> dict[str, pd.DataFrame]:
    """Train the verifiers, score chapter 3's test samples, compare selectors.

    Tables: ``verifiers`` (one row per verifier: data, losses, time, ``train_tokens`` read
    per epoch: :func:`training_tokens`), ``training`` (loss per
    epoch), ``mc_labels`` (one row per training prefix: Monte-Carlo label and oracle label),
    ``quality`` (per score: AUC against the outcome, and for the PRM against oracle steps),
    ``calibration`` (PRM score bins against oracle), ``best_of_n`` (per selector, problem,
    N), ``best_of_n_summary`` (per selector, difficulty, N with 95% intervals),
    ``distinct_picks`` (chance baselines among samples and among distinct chains:
    :func:`distinct_chain_picks`),
    ``comparison`` (every verifier, the scalar-head ones, the likelihood, GenRM, GenRM-CoT
    and the checker, on the same subset of test samples: :func:`comparison_table`),
    ``scored`` (chapter 3's samples of the policy with every verifier's score: what later
    chapters select from), the extra sample sets of :func:`extra_sample_tables`
    (``scored_temperatures``, ``scored_validation``, ``greedy_validation``) and ``setup``
    (one row: the numbers of training and validation problems).
    """
    from transformers import AutoTokenizer

    from ttc.verifiers import verifier_info

    for name in (config.policy, config.verifier_base):
        if name not in member_names(inputs):
            raise ConfigError(f"parameter 'policy'/'verifier_base': {name!r} is not in "
                              f"chapter 2's family; allowed: {', '.join(member_names(inputs))}")
    finetune_in_workers(config, inputs, progress)
    orm_examples, prm_examples, mc_labels = training_data(config, inputs, progress)
    paths = train_verifiers(config, inputs, orm_examples, prm_examples, progress)
    generative = train_generative_verifiers(config, inputs, progress)
    policy_path, problems, samples = member_samples(inputs, config.policy, progress)
    scored, steps = score_samples(problems, samples, paths | {"likelihood": policy_path},
                                  progress, device=inputs["02_family"].config.device)
    rationales = rationale_scores(config, inputs, problems, samples, generative, progress)
    compared, costs = compare_verifiers(config, inputs, problems, samples, paths, generative,
                                        rationales, progress)
    extra = extra_sample_tables(config, inputs, paths, policy_path, progress)
    infos = []
    curves = []
    examples = {"orm": orm_examples, "prm": prm_examples}
    for kind, path in paths.items():
        info = verifier_info(path)
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        infos.append({"verifier": kind.upper(), "N": member_sizes(inputs)[config.verifier_base],
                      **{k: info[k] for k in ("n_examples", "n_labels", "val_loss_before",
                                              "val_loss_after", "train_seconds")},
                      "train_tokens": training_tokens(tokenizer, examples[kind]),
                      "checkpoint": relative_to_cache(path)})
        curves += [{"verifier": kind.upper(), **point} for point in info["curve"]]
    for kind, path in generative.items():
        curves += [{"verifier": COMPARED["genrm"] + ("-CoT" if kind.endswith("cot") else ""),
                    **point} for point in verifier_info(path)["curve"]]
    finished = scored[scored["finished"]]
    quality = [{"score": label, "level": "outcome",
                "auc": roc_auc(finished["correct"], finished[column]),
                "auc_within_problem": within_group_auc(finished["problem"],
                                                       finished["correct"], finished[column])}
               for label, column in (("ORM", "orm"), ("PRM last", "prm_last"),
                                     ("PRM min", "prm_min"), ("PRM prod", "prm_prod"),
                                     ("likelihood", "likelihood"), ("oracle", "oracle"))]
    quality.append({"score": "PRM step", "level": "step vs oracle",
                    "auc": roc_auc(steps["oracle"], steps["prm"]),
                    "auc_within_problem": within_group_auc(steps["problem"], steps["oracle"],
                                                           steps["prm"])})
    quality.append({"score": "Monte-Carlo label", "level": "step vs oracle (training)",
                    "auc": roc_auc(mc_labels["oracle"], mc_labels["mc_label"]),
                    "auc_within_problem": within_group_auc(
                        mc_labels["problem"], mc_labels["oracle"], mc_labels["mc_label"])})
    curves_bon = best_of_n_curves(problems, scored, config.selection_resamples, config.seed,
                                  progress)
    return {
        "verifiers": pd.DataFrame(infos),
        "training": pd.DataFrame(curves),
        "mc_labels": mc_labels,
        "quality": pd.DataFrame(quality),
        "calibration": calibration(steps),
        "best_of_n": curves_bon,
        "best_of_n_summary": mean_by(curves_bon, ["selector", "difficulty", "N"], "accuracy"),
        "distinct_picks": distinct_chain_picks(scored),
        "selector_tests": selector_tests(curves_bon, config.n_boot, config.seed),
        "comparison": comparison_table(compared, costs, config.n_boot, config.seed),
        "rationale_orders": rationale_order_changes(compared, config),
        **generate_verify_split(config, inputs, problems, scored, rationales),
        "config": pd.DataFrame([asdict(config) | {"policy_checkpoint":
                                                  relative_to_cache(policy_path)}]),
        "scored": scored,
        **extra,
        "setup": pd.DataFrame([{"n_train_problems": len(training_problems(config, inputs)),
                                "n_validation_problems": len(validation_problems(config,
                                                                                 inputs))}]),
    }


#: the prose's best-of-N figures: glue prefix -> selector
QUOTED_SELECTORS = {"vote": "majority vote", "orm_best": "ORM, best-of-N",
                    "orm_weighted": "ORM, weighted", "prm_best": "PRM last, best-of-N",
                    "prm_weighted": "PRM last, weighted", "oracle": "oracle, best-of-N",
                    "coverage": "pass@N (coverage)"}


def mc_label_stats(mc_labels: pd.DataFrame) -> dict[str, float]:
    """Monte-Carlo labels of the training prefixes split by the exact checker: the mean label
    of right prefixes (``right_mean``) and of wrong ones (``wrong_mean``), and the share of
    right prefixes labelled exactly 0 (``right_zero``); NaN where a group is empty."""
    oracle = mc_labels["oracle"].astype(bool)
    right, wrong = mc_labels.loc[oracle, "mc_label"], mc_labels.loc[~oracle, "mc_label"]
    return {"right_mean": float(right.mean()) if len(right) else float("nan"),
            "wrong_mean": float(wrong.mean()) if len(wrong) else float("nan"),
            "right_zero": float((right == 0).mean()) if len(right) else float("nan")}


def accuracy_at(summary: pd.DataFrame, selector: str, n: int,
                difficulty: str = MEDIUM) -> float:
    """Accuracy of ``selector`` with ``n`` samples on a difficulty group, from
    ``best_of_n_summary``; NaN if that point was not measured."""
    rows = summary[(summary["selector"] == selector) & (summary["N"] == n)
                   & (summary["difficulty"] == difficulty)]
    return float(rows["accuracy"].iloc[0]) if len(rows) else float("nan")


def comparison_keys(config: VerifiersChapterConfig) -> dict[str, str]:
    """Fact key -> display name of every verifier in the comparison: ``orm``, ``prm``,
    ``likelihood``, ``genrm``, ``cot_small`` and ``cot_large`` (GenRM-CoT with the fewest and
    the most rationales) and ``checker``."""
    ks = sorted(config.rationale_samples)
    return {"orm": COMPARED["orm"], "prm": COMPARED["prm"],
            "likelihood": COMPARED["likelihood"], "genrm": COMPARED["genrm"],
            "cot_small": COMPARED["cot"].format(k=ks[0]),
            "cot_large": COMPARED["cot"].format(k=ks[-1]), "checker": COMPARED["checker"]}


def comparison_facts(comparison: pd.DataFrame, config: VerifiersChapterConfig
                     ) -> dict[str, str]:
    """The comparison's quoted numbers: for every key of :func:`comparison_keys`,
    ``cmp_<key>_within`` (within-problem AUC), ``cmp_<key>_ci`` (its 95% interval, "a–b"),
    ``cmp_<key>_pooled``, ``cmp_<key>_tokens`` (verifier tokens per chain) and
    ``cmp_<key>_vs`` (against the likelihood: "above", "below" or "no detectable difference",
    from the Holm-corrected paired test); plus ``cot_k_small``, ``cot_k_large``,
    ``comparison_samples`` and ``cmp_problems`` (test problems with right and wrong
    samples)."""
    rows = comparison.set_index("score") if len(comparison) else comparison
    out = {"cot_k_small": report.fmt(min(config.rationale_samples), ","),
           "cot_k_large": report.fmt(max(config.rationale_samples), ","),
           "comparison_samples": report.fmt(config.comparison_samples, ","),
           "cmp_problems": report.fmt(cell(comparison, "mixed_problems"), ",")}
    for key, name in comparison_keys(config).items():
        def value(column: str, row: str = name):
            return rows.loc[row, column] if row in rows.index and column in rows else None

        out[f"cmp_{key}_within"] = report.fmt(value("auc_within"))
        low, high = (report.fmt(value(c)) for c in ("auc_within_low", "auc_within_high"))
        out[f"cmp_{key}_ci"] = (report.MISSING if report.MISSING in (low, high)
                                else f"{low}–{high}")
        out[f"cmp_{key}_pooled"] = report.fmt(value("auc"))
        out[f"cmp_{key}_tokens"] = report.fmt(value("tokens"), ",.0f")
        out[f"cmp_{key}_vs"] = value("vs_likelihood_verdict") or report.MISSING
    return out


#: the chapter's paired tests of selectors on medium problems (:func:`selector_tests`):
#: key -> (variant, its N: "max", "small" or "64"; reference, its N)
SELECTOR_TESTS = {
    "prm_weighted_vs_vote": ("PRM last, weighted", "max", "majority vote", "max"),
    "likelihood_vs_vote": ("likelihood, weighted", "64", "majority vote", "64"),
    "likelihood_vs_vote_small": ("likelihood, weighted", "small", "majority vote", "small"),
    "prm_best_trend": ("PRM last, best-of-N", "max", "PRM last, best-of-N", "small"),
}


def selector_tests(best_of_n: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                   difficulty: str = MEDIUM) -> pd.DataFrame:
    """The paired tests of :data:`SELECTOR_TESTS` on ``difficulty`` problems, from the
    per-problem accuracies of ``best_of_n`` (:func:`best_of_n_curves`): per test the
    variant's and the reference's N and mean accuracy, the mean per-problem difference with
    a 95% bootstrap interval and sign-flip p, and a verdict ("above", "below", "no
    detectable difference") Holm-corrected over the tests. N "max" is the most samples
    measured, "small" 4 (or fewer), "64" 64 (or the most measured, if fewer)."""
    columns = ["test", "variant", "n_variant", "reference", "n_reference", "variant_acc",
               "reference_acc", "mean", "low", "high", "p", "problems", "verdict"]
    rows = best_of_n[best_of_n["difficulty"] == difficulty] if len(best_of_n) else best_of_n
    if rows.empty or "selector" not in rows:
        return pd.DataFrame(columns=columns)
    n_max = int(best_of_n["N"].max())
    which = {"max": n_max, "small": min(4, n_max), "64": min(64, n_max)}
    from ttc.claims import HIGHER, LOWER, paired_verdicts

    described, comparisons = [], []
    for key, (variant, n_v, reference, n_r) in SELECTOR_TESTS.items():
        def per_problem(selector: str, n: int) -> pd.Series:
            mine = rows[(rows["selector"] == selector) & (rows["N"] == n)]
            return mine.set_index("problem")["accuracy"]

        a, b = per_problem(variant, which[n_v]), per_problem(reference, which[n_r])
        both = a.index.intersection(b.index)
        described.append({"test": key, "n_variant": which[n_v], "n_reference": which[n_r],
                          "variant_acc": float(a[both].mean()) if len(both) else np.nan,
                          "reference_acc": float(b[both].mean()) if len(both) else np.nan})
        comparisons.append(({"comparison": key, "variant": variant, "reference": reference,
                             "difficulty": difficulty, "budget": which[n_v]},
                            (a[both] - b[both]).to_numpy()))
    table = paired_verdicts(comparisons, n_boot=n_boot, seed=seed)  # Holm over the tests
    table = pd.concat([pd.DataFrame(described), table], axis=1)
    table["verdict"] = table["verdict"].replace({HIGHER: "above", LOWER: "below"})
    return table[columns]


def split_display(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The split's verdicts as the chapter shows them: the difficulty group's short name,
    the budget, the chosen split, the three accuracies (the split, majority vote and a
    perfect *outcome* verifier: ``ceiling``, coverage or pass@N at the largest N the budget
    buys, which picks a right final answer whenever one is among the N; not best-of-N by
    the exact step checker, which also needs every step right), the difference with its
    95% interval in one column, and the verdict (:func:`ttc.report.shown_verdict`)."""
    out = pd.DataFrame({
        "difficulty": verdicts["difficulty"].str.split(" ").str[0],
        "budget (vote's N)": verdicts["budget_N"],
        "split chosen (N, K)": verdicts["chosen"].str.replace(", ", ",", regex=False),
        "split": verdicts["split"].map("{:.2f}".format),
        "majority vote": verdicts["vote"].map("{:.2f}".format),
        "perfect outcome verifier (coverage)": verdicts["ceiling"].map("{:.2f}".format),
        "split − vote [95%]": [report.difference_text(m, lo, hi) for m, lo, hi in
                               zip(verdicts["difference"], verdicts["low"],
                                   verdicts["high"], strict=True)],
        "split against vote": [report.shown_verdict(v, lo, hi, p=p) for v, lo, hi, p in
                               zip(verdicts["verdict"], verdicts["low"], verdicts["high"],
                                   verdicts["p"], strict=True)]})
    return out.reset_index(drop=True)


def split_sentence(verdicts: pd.DataFrame) -> str:
    """What the split's verdicts say, as one sentence with an outcome for each case: no
    budget compared, some budget where verifying beats voting, none where it does but some
    where it does worse, and no detectable difference anywhere."""
    if verdicts.empty:
        return ("No budget could be compared here: no split of the budgets fits the "
                "candidates that were verified.")
    cells, above = len(verdicts), int((verdicts["verdict"] == "above").sum())
    below = int((verdicts["verdict"] == "below").sum())
    if above:
        return (f"Verifying pays in {above} of the {cells} comparisons: there the best split "
                "beats majority vote at the same FLOPs by an interval that excludes zero, "
                "after Holm's correction.")
    if below:
        return (f"Verifying never pays here, and in {below} of the {cells} comparisons it "
                "does detectably worse than spending the same FLOPs on more votes (Holm's "
                "correction): with this verifier, a FLOP is better spent generating.")
    return (f"In none of the {cells} comparisons does the best split differ detectably from "
            "majority vote at the same FLOPs (Holm's correction): verifying neither pays nor "
            "costs what these problems can show.")


def split_facts(tables, config: VerifiersChapterConfig) -> dict[str, str]:
    """The split's quoted numbers: ``split_n`` (candidates verified per problem),
    ``split_ks`` (the K values), ``split_sentence`` (:func:`split_sentence`), and on medium
    problems at the largest budget compared: ``split_budget_n`` (majority vote's N there),
    ``split_chosen``, ``split_acc``, ``split_vote``, ``split_ceiling`` (coverage at the
    largest affordable N: a perfect outcome verifier), ``split_diff``,
    ``split_ci`` and ``split_verdict``; ``split_fill``, the costliest measured split's FLOPs
    over that budget (a split may spend less than its budget), and ``split_k_max``; and
    ``split_frontier_share``, the median share of
    FLOPs spent on rationales by the medium group's frontier points."""
    verdicts, points = tables["split_verdicts"], tables["split_points"]
    ks = sorted(config.split_rationales)
    out = {"split_n": report.fmt(config.split_samples, ","),
           "split_ks": (", ".join(map(str, ks[:-1])) + " and " + str(ks[-1]) if len(ks) > 1
                        else str(ks[0])),
           "split_sentence": split_sentence(verdicts)}
    medium = verdicts[verdicts["difficulty"] == MEDIUM]
    last = medium.loc[medium["budget_N"].idxmax()] if len(medium) else None

    def value(column: str, spec: str = ".2f") -> str:
        return report.MISSING if last is None else report.fmt(last[column], spec)

    out |= {"split_budget_n": value("budget_N", ","),
            "split_chosen": report.MISSING if last is None else str(last["chosen"]),
            "split_acc": value("split"), "split_vote": value("vote"),
            "split_ceiling": value("ceiling"), "split_diff": value("difference", "+.2f"),
            "split_ci": (report.MISSING if last is None else
                         report.interval_text(last["low"], last["high"], "+.2f")),
            "split_verdict": report.MISSING if last is None else report.shown_verdict(
                str(last["verdict"]), last["low"], last["high"], p=last["p"])}
    # how much of the largest budget compared the costliest measured split can spend
    medium_points = points[(points["difficulty"] == MEDIUM) & (points["method"] == SPLIT)]
    out["split_fill"] = (report.MISSING if last is None or medium_points.empty else
                         report.fmt(medium_points["flops"].max() / last["flops"], ".0%"))
    out["split_k_max"] = str(ks[-1])
    edge = points[points["frontier"] & (points["difficulty"] == MEDIUM)]
    out["split_frontier_share"] = report.fmt(
        float(edge["verify_share"].median()) if len(edge) else float("nan"), ".0%")
    return out


def facts(tables, config: VerifiersChapterConfig) -> dict[str, str]:
    """What chapter 4's prose quotes, as display text.

    Setup: ``policy``, ``verifier_base``, ``verifier_N``, ``n_train_problems``,
    ``train_samples``, ``mc_rollouts``, ``n_prefixes``, ``orm_chains``, ``prm_chains`` and
    ``unfinished_chains`` (the training chains that reached the token limit: the ORM has no
    answer to label in them, the PRM still labels their steps). Monte-Carlo labels:
    ``mc_right_mean``,
    ``mc_wrong_mean``, ``mc_right_zero``, ``mc_auc``. Verification: ``orm_auc``,
    ``orm_within``, ``prm_within``, ``oracle_within``, ``prm_step_auc``. Best-of-N on medium
    problems at ``n_max`` (all samples) and ``n_small`` (4, or fewer) samples:
    ``<selector>_max`` and ``<selector>_small`` for every key of :data:`QUOTED_SELECTORS`,
    ``weighted_vs_vote`` (weighted PRM best-of-N "above"/"below"/"level with" majority vote
    at ``n_max``) and ``best_trend`` (PRM best-of-N "rises"/"falls"/"stays flat" from
    ``n_small`` to ``n_max``). Chance baselines of a pick: :func:`distinct_pick_facts`.
    """
    info, mc_labels, quality = tables["verifiers"], tables["mc_labels"], tables["quality"]
    summary = tables["best_of_n_summary"]
    n_max = int(tables["best_of_n"]["N"].max()) if len(tables["best_of_n"]) else None
    n_small = None if n_max is None else min(4, n_max)
    stats = mc_label_stats(mc_labels)
    out = {
        "policy": config.policy,
        "verifier_base": config.verifier_base,
        "verifier_N": report.fmt(cell(info, "N"), ","),
        "n_train_problems": report.fmt(cell(tables["setup"], "n_train_problems"), ","),
        "train_samples": report.fmt(config.train_samples, ","),
        "mc_rollouts": report.fmt(config.mc_rollouts, ","),
        "n_prefixes": report.fmt(len(mc_labels), ","),
        **training_chain_facts(info),
        "n_max": report.fmt(n_max, ","),
        "n_small": report.fmt(n_small, ","),
        "mc_right_mean": report.fmt(stats["right_mean"]),
        "mc_wrong_mean": report.fmt(stats["wrong_mean"]),
        "mc_right_zero": report.fmt(stats["right_zero"]),
        "mc_auc": report.fmt(quality_value(quality, "Monte-Carlo label")),
        "orm_auc": report.fmt(quality_value(quality, "ORM")),
        "orm_within": report.fmt(quality_value(quality, "ORM", "auc_within_problem")),
        "prm_within": report.fmt(quality_value(quality, "PRM last", "auc_within_problem")),
        "oracle_within": report.fmt(quality_value(quality, "oracle", "auc_within_problem")),
        "prm_step_auc": report.fmt(quality_value(quality, "PRM step")),
    }

    out |= comparison_facts(tables["comparison"], config)
    out |= rationale_order_facts(tables.get("rationale_orders"))
    out |= split_facts(tables, config)

    def at(selector: str, n: int | None) -> float:
        return float("nan") if n is None else accuracy_at(summary, selector, n)

    for key, selector in QUOTED_SELECTORS.items():
        out[f"{key}_max"] = report.fmt(at(selector, n_max))
        out[f"{key}_small"] = report.fmt(at(selector, n_small))
    out |= selector_facts(tables.get("selector_tests"))
    out |= distinct_pick_facts(tables["distinct_picks"])
    return out


def rationale_order_facts(orders: pd.DataFrame | None) -> dict[str, str]:
    """``cot_pairs`` (right-wrong pairs of chains within the comparison's problems),
    ``cot_reordered`` (how many of them GenRM-CoT with the most rationales orders otherwise
    than with the fewest, with its share), ``cot_better`` and ``cot_worse`` (of those, how
    many move in the right chain's favour and against it), from
    :func:`rationale_order_changes`."""
    row = orders.iloc[-1] if orders is not None and len(orders) else None
    if row is None:
        return {name: report.MISSING for name in ("cot_pairs", "cot_reordered", "cot_better",
                                                  "cot_worse")}
    pairs, reordered = int(row["pairs"]), int(row["reordered"])
    share = report.fmt(reordered / pairs if pairs else None, ".0%")
    return {"cot_pairs": report.fmt(pairs, ","),
            "cot_reordered": f"{report.fmt(reordered, ',')} ({share})",
            "cot_better": report.fmt(int(row["better"]), ","),
            "cot_worse": report.fmt(int(row["worse"]), ",")}


def training_chain_facts(info: pd.DataFrame) -> dict[str, str]:
    """How many training chains each of the ORM and the PRM learned from (the verifiers
    table's ``n_examples``), and the difference: the PRM labels every chain's steps, the ORM
    only chains with a final answer (:func:`ttc.verifiers.labels.outcome_examples`), so the
    difference is the chains that stopped at the token limit."""
    def count(kind: str) -> int | None:
        rows = info[info["verifier"] == kind] if "verifier" in info else info.iloc[:0]
        return int(rows["n_examples"].iloc[0]) if len(rows) else None

    orm, prm = count("ORM"), count("PRM")
    unfinished = None if orm is None or prm is None else prm - orm
    return {"orm_chains": report.fmt(orm, ","), "prm_chains": report.fmt(prm, ","),
            "unfinished_chains": report.fmt(unfinished, ",")}


def distinct_pick_facts(picks: pd.DataFrame, difficulty: str = MEDIUM) -> dict[str, str]:
    """The prose's chance baselines on medium problems (:func:`distinct_chain_picks`):
    ``distinct_chains`` (per problem, of ``n_max``), ``distinct_once`` (share drawn once),
    ``sample_right``, ``distinct_right`` and ``prm_top_once`` (the PRM's top pick drawn
    once); "n/a" where the group is missing."""
    row = picks[picks["difficulty"] == difficulty]

    def get(column: str) -> float:
        return float(row[column].iloc[0]) if len(row) else float("nan")

    return {"distinct_chains": report.fmt(get("distinct"), ".0f"),
            "distinct_once": report.fmt(get("drawn_once")),
            "sample_right": report.fmt(get("sample_right")),
            "distinct_right": report.fmt(get("distinct_right")),
            "prm_top_once": report.fmt(get("PRM last top drawn once"))}


#: how the prose reads each verdict of :func:`selector_tests`: test -> verdict -> words
SELECTOR_WORDS = {
    "prm_weighted_vs_vote": {"above": "detectably above", "below": "detectably below"},
    "likelihood_vs_vote": {"above": "detectably above", "below": "detectably below"},
    "likelihood_vs_vote_small": {"above": "detectably above", "below": "detectably below"},
    "prm_best_trend": {"above": "detectably rises", "below": "detectably falls"},
}
#: the sentence after plain best-of-N's trend, for each verdict; the notebook ends it with
#: the papers that report the over-optimisation ("... by Snell et al. and Cobbe et al.")
TREND_SENTENCES = {
    "below": ("The more candidates there are, the more likely one of the wrong ones fools an "
              "imperfect verifier: a small-scale version of the over-optimisation reported "
              "at large N"),
    "above": ("More candidates help even with this verifier: this run does not show the "
              "over-optimisation reported at large N"),
    "": ("This run does not detectably show the over-optimisation (more candidates giving a "
         "wrong one more chances to fool the verifier) reported at large N"),
}


def verdict_words(verdict: str, low, high, p, words: dict[str, str], neutral: str) -> str:
    """A verdict of :func:`selector_tests` as the prose reads it, with the same label logic as
    the tables (:func:`ttc.report.shown_verdict` on the row's interval and sign-flip p): a
    kept verdict reads ``words[verdict]``; a neutral one reads ``neutral`` ("not detectably
    different from", "does not detectably change"), and where its 95% interval excludes zero
    the words say why it is not detectable: "(after Holm's correction over the four tests)"
    where the test alone rejects, "(sign-flip p = ...)" where even the test alone does not,
    placed before a closing "from" so that "... from majority vote" still reads."""
    if verdict in words:
        return words[verdict]
    lo = np.nan if low is None else float(low)
    hi = np.nan if high is None else float(high)
    shown = report.shown_verdict(verdict, lo, hi,
                                 p=None if p is None else float(p), neutral=verdict)
    if shown == verdict:
        return neutral
    why = ("after Holm's correction over the four tests, though its 95% interval alone "
           "excludes zero" if shown == report.NOT_AFTER_HOLM else
           shown.removeprefix("not detectable (").removesuffix(")")
           + ", though its 95% interval excludes zero")
    head, sep, tail = neutral.rpartition(" from")
    return f"{head} ({why}){sep}{tail}" if sep and not tail else f"{neutral} ({why})"


def selector_facts(tests: pd.DataFrame | None) -> dict[str, str]:
    """The prose's words for :func:`selector_tests`: ``weighted_vs_vote`` and
    ``best_trend`` (verdict words, "not detectably different from"/"does not detectably
    change" without a detectable difference, qualified as the tables do by
    :func:`verdict_words`), ``trend_sentence`` (:data:`TREND_SENTENCES`),
    and for the likelihood against majority vote ``lik_n``, ``lik_acc``, ``lik_vote``,
    ``lik_diff``, ``lik_ci`` and ``lik_vs_vote``, and at N = 4 ``lik_small_diff``,
    ``lik_small_ci`` and ``lik_small_vs_vote``; ``weighted_diff`` and ``trend_diff`` (the
    PRM tests' paired differences with their intervals); "n/a" where a test is missing."""
    rows = (tests.set_index("test") if tests is not None and len(tests)
            else pd.DataFrame(columns=["verdict"]))

    def get(test: str, column: str):
        return rows.loc[test, column] if test in rows.index else None

    def words(test: str, neutral: str) -> str:
        found = get(test, "verdict")
        if found is None:
            return report.MISSING
        return verdict_words(str(found), get(test, "low"), get(test, "high"), get(test, "p"),
                             SELECTOR_WORDS[test], neutral)

    def interval(test: str) -> str:
        return report.interval_text(get(test, "low"), get(test, "high"))

    def difference(test: str) -> str:
        """The paired difference with its interval, as the prose quotes it."""
        if get(test, "mean") is None:
            return report.MISSING
        return (f"difference {report.fmt(get(test, 'mean'), '+.3f')}, 95% interval "
                f"{interval(test)}")

    trend = get("prm_best_trend", "verdict")
    return {
        "weighted_diff": difference("prm_weighted_vs_vote"),
        "trend_diff": difference("prm_best_trend"),
        "weighted_vs_vote": words("prm_weighted_vs_vote", "not detectably different from"),
        "best_trend": words("prm_best_trend", "does not detectably change"),
        "trend_sentence": ("" if trend is None else
                           TREND_SENTENCES.get(trend, TREND_SENTENCES[""])),
        "lik_n": report.fmt(get("likelihood_vs_vote", "n_variant"), ","),
        "lik_acc": report.fmt(get("likelihood_vs_vote", "variant_acc")),
        "lik_vote": report.fmt(get("likelihood_vs_vote", "reference_acc")),
        "lik_diff": report.fmt(get("likelihood_vs_vote", "mean"), "+.3f"),
        "lik_ci": interval("likelihood_vs_vote"),
        "lik_vs_vote": words("likelihood_vs_vote", "not detectably different from"),
        "lik_small_vs_vote": words("likelihood_vs_vote_small",
                                   "not detectably different from"),
        "lik_small_diff": report.fmt(get("likelihood_vs_vote_small", "mean"), "+.3f"),
        "lik_small_ci": interval("likelihood_vs_vote_small"),
    }
