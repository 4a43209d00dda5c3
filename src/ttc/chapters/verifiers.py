"""Chapter 4: outcome and process verifiers trained on the policy's own samples.

The policy samples training problems (never test problems); an ORM learns from the graded
answers and a PRM from Monte-Carlo step labels (Math-Shepherd style). Both are then scored
on chapter 3's cached test samples of the same policy: how well they separate right from
wrong, how the PRM agrees with the exact step checker, and what best-of-N selection with each
buys against N, with the oracle checker as the upper bound.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ttc.cache import artifact_path, read_frame, write_frame
from ttc.chapters import family as family_chapter
from ttc.chapters import sampling as sampling_chapter
from ttc.config import ConfigError, config_hash, require_range
from ttc.family.specs import check_members
from ttc.family.train import load_member, training_info
from ttc.metrics import mean_by, pass_at_k_curve, roc_auc, within_group_auc
from ttc.sampling import SampleSpec, draw_samples
from ttc.search import LMStepPolicy
from ttc.selection import aggregate_steps, selection_curve
from ttc.tasks import Problem, generate_problems
from ttc.verifiers import (
    OracleVerifier,
    VerifierExample,
    VerifierTrainConfig,
    load_verifier,
    monte_carlo_examples,
    outcome_examples,
    train_verifier,
    verifier_info,
)

#: best-of-N variants of the chapter: label -> (score column, selection rule)
SELECTORS = {
    "majority vote": (None, "majority"),
    "ORM, best-of-N": ("orm", "best"),
    "ORM, weighted": ("orm", "weighted"),
    "PRM last, best-of-N": ("prm_last", "best"),
    "PRM last, weighted": ("prm_last", "weighted"),
    "PRM min, best-of-N": ("prm_min", "best"),
    "PRM prod, best-of-N": ("prm_prod", "best"),
    "oracle, best-of-N": ("oracle", "best"),
}


@dataclass(frozen=True)
class VerifiersConfig:
    """Parameters of chapter 4. Defaults are smoke-sized."""

    #: profile whose 03_sampling parameters give the policy's cached test samples
    sampling_profile: str = "smoke"
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
    seed: int = 0

    def __post_init__(self) -> None:
        from ttc.profiles import available_profiles

        if self.sampling_profile not in available_profiles():
            raise ConfigError(f"parameter 'sampling_profile' must be one of "
                              f"{', '.join(map(repr, available_profiles()))}; "
                              f"got {self.sampling_profile!r}")
        check_members("policy", (self.policy,))
        check_members("verifier_base", (self.verifier_base,))
        require_range("n_train_problems_per_ops", self.n_train_problems_per_ops, low=1)
        require_range("train_samples", self.train_samples, low=1)
        require_range("mc_rollouts", self.mc_rollouts, low=1)
        require_range("epochs", self.epochs, low=1)
        require_range("batch_size", self.batch_size, low=1)
        require_range("lr", self.lr, low=1e-6, high=1.0)
        require_range("selection_resamples", self.selection_resamples, low=10)

    @property
    def sampling(self) -> sampling_chapter.SamplingConfig:
        from ttc.profiles import chapter_config

        return chapter_config(self.sampling_profile, "03_sampling")

    @property
    def train_config(self) -> VerifierTrainConfig:
        return VerifierTrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                                   seed=self.seed)


def _examples_frame(examples: list[VerifierExample]) -> pd.DataFrame:
    return pd.DataFrame({"prompt": [e.prompt for e in examples],
                         "completion": [e.completion for e in examples],
                         "finished": [e.finished for e in examples],
                         "labels": [list(e.labels) for e in examples]})


def _examples_of(frame: pd.DataFrame) -> list[VerifierExample]:
    return [VerifierExample(r.prompt, r.completion, bool(r.finished),
                            tuple(float(x) for x in r.labels))
            for r in frame.itertuples(index=False)]


def training_data(config: VerifiersConfig, progress: bool = True):
    """The verifiers' training data, cached: ``(orm_examples, prm_examples, mc_labels)``.

    The policy samples ``train_samples`` chains for each training problem; the PRM's labels
    come from ``mc_rollouts`` rollouts per distinct step prefix.
    """
    fconfig = config.sampling.family
    checkpoints = family_chapter.train_family(fconfig, progress=progress)
    path = checkpoints[config.policy]
    problems = generate_problems(fconfig.task, "train", config.n_train_problems_per_ops,
                                 seed=config.seed + 2024)
    spec = SampleSpec(n_samples=config.train_samples, max_new_tokens=fconfig.max_new_tokens,
                      seed=config.seed + 7)
    key = config_hash((path.name, [p.prompt for p in problems], spec, config.mc_rollouts,
                       config.seed, "v1"))
    folder = artifact_path("labels", f"{path.name}-{key}")
    model, tokenizer = load_member(path, device=fconfig.device)
    samples = draw_samples(model, tokenizer, path.name, problems, spec, progress)
    orm = outcome_examples(problems, samples)
    if (folder / "mc_labels.parquet").is_file():
        return orm, _examples_of(read_frame(folder / "prm.parquet")), \
            read_frame(folder / "mc_labels.parquet")
    policy = LMStepPolicy(model, tokenizer, max_new_tokens=fconfig.max_new_tokens)
    prm, table = monte_carlo_examples(policy, problems, samples, config.mc_rollouts,
                                      seed=config.seed + 11)
    write_frame(_examples_frame(prm), folder / "prm.parquet")
    write_frame(table, folder / "mc_labels.parquet")  # written last: marks the folder done
    return orm, prm, table


def train_verifiers(config: VerifiersConfig, progress: bool = True) -> dict[str, Path]:
    """Train (or find cached) the ORM and the PRM; return their checkpoint folders."""
    orm_examples, prm_examples, _ = training_data(config, progress)
    base = family_chapter.train_family(config.sampling.family, progress=progress)[
        config.verifier_base]
    return {kind: train_verifier(base, examples, config.train_config, kind, progress,
                                 device=config.sampling.family.device)
            for kind, examples in (("orm", orm_examples), ("prm", prm_examples))}


def score_samples(problems: list[Problem], samples: pd.DataFrame,
                  verifiers: dict[str, Path], progress: bool = True
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Verifier scores of every sample, and the PRM's step scores next to the oracle's.

    Returns ``scored`` (the samples table plus ``orm``, ``prm_last``, ``prm_min``,
    ``prm_prod`` and ``oracle``) and ``steps`` (one row per step end of each distinct chain:
    ``prm`` score and ``oracle`` label). Distinct chains are scored once; cached on disk.
    """
    key = config_hash(([p.prompt for p in problems], samples["completion"].tolist(),
                       samples["finished"].tolist(), sorted(v.name for v in verifiers.values()),
                       "v1"))
    folder = artifact_path("scores", key)
    if (folder / "steps.parquet").is_file():
        return read_frame(folder / "scored.parquet"), read_frame(folder / "steps.parquet")
    distinct = samples.drop_duplicates(["problem", "completion", "finished"])
    prompts = [problems[i].prompt for i in distinct["problem"]]
    completions, finished = distinct["completion"].tolist(), distinct["finished"].tolist()
    scores: dict[str, list[np.ndarray]] = {}
    judges = {"orm": load_verifier(verifiers["orm"]), "prm": load_verifier(verifiers["prm"]),
              "oracle": OracleVerifier(problems)}
    for name, judge in tqdm(judges.items(), desc="score", disable=not progress, leave=False):
        scores[name] = []
        for start in range(0, len(prompts), 4096):
            rows = slice(start, start + 4096)
            scores[name] += judge.step_scores(prompts[rows], completions[rows], finished[rows])
    columns = {
        "orm": [aggregate_steps(s) for s in scores["orm"]],
        "prm_last": [aggregate_steps(s, "last") for s in scores["prm"]],
        "prm_min": [aggregate_steps(s, "min") for s in scores["prm"]],
        "prm_prod": [aggregate_steps(s, "prod") for s in scores["prm"]],
        "oracle": [aggregate_steps(s) for s in scores["oracle"]],
    }
    distinct = distinct[["problem", "completion", "finished"]].assign(**columns)
    scored = samples.merge(distinct, on=["problem", "completion", "finished"], how="left")
    steps = pd.DataFrame({
        "problem": np.repeat(distinct["problem"].to_numpy(), [len(s) for s in scores["prm"]]),
        "step": np.concatenate([np.arange(len(s)) for s in scores["prm"]]),
        "prm": np.concatenate(scores["prm"]),
        "oracle": np.concatenate(scores["oracle"]).astype(bool),
    })
    steps["n_ops"] = [problems[i].n_ops for i in steps["problem"]]
    write_frame(scored, folder / "scored.parquet")
    write_frame(steps, folder / "steps.parquet")
    return scored, steps


def best_of_n_curves(problems: list[Problem], scored: pd.DataFrame, n_resamples: int,
                     seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """Accuracy at N for every selector of :data:`SELECTORS`, plus coverage (pass@N): one
    row per (selector, problem, N)."""
    n = int(scored.groupby("problem").size().min())
    ks = sampling_chapter.powers_of_two(n)
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
    frame["difficulty"] = frame["n_ops"].map(sampling_chapter.difficulty_group)
    return frame


def calibration(steps: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Share of oracle-right step prefixes per bin of PRM score (a reliability table)."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(steps["prm"], edges) - 1, 0, bins - 1)
    table = steps.assign(bin=which).groupby("bin").agg(
        prm=("prm", "mean"), oracle=("oracle", "mean"), steps=("oracle", "size"))
    return table.reset_index()


def run(config: VerifiersConfig, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Train the verifiers, score chapter 3's test samples, compare selectors.

    Tables: ``verifiers`` (one row per verifier: data, losses, time), ``training`` (loss per
    epoch), ``mc_labels`` (one row per training prefix: Monte-Carlo label and oracle label),
    ``quality`` (per score: AUC against the outcome, and for the PRM against oracle steps),
    ``calibration`` (PRM score bins against oracle), ``best_of_n`` (per selector, problem,
    N) and ``best_of_n_summary`` (per selector, difficulty, N with 95% intervals).
    """
    scfg = config.sampling
    _, _, mc_labels = training_data(config, progress)
    paths = train_verifiers(config, progress)
    policy_path, problems, samples = sampling_chapter.member_samples(scfg, config.policy,
                                                                     progress)
    scored, steps = score_samples(problems, samples, paths, progress)
    infos = []
    curves = []
    for kind, path in paths.items():
        info = verifier_info(path)
        infos.append({"verifier": kind.upper(), "N": training_info(
            family_chapter.train_family(scfg.family, progress=False)[config.verifier_base]
        )["N"], **{k: info[k] for k in ("n_examples", "n_labels", "val_loss_before",
                                         "val_loss_after", "train_seconds")},
            "checkpoint": str(path)})
        curves += [{"verifier": kind.upper(), **point} for point in info["curve"]]
    finished = scored[scored["finished"]]
    quality = [{"score": label, "level": "outcome",
                "auc": roc_auc(finished["correct"], finished[column]),
                "auc_within_problem": within_group_auc(finished["problem"],
                                                       finished["correct"], finished[column])}
               for label, column in (("ORM", "orm"), ("PRM last", "prm_last"),
                                     ("PRM min", "prm_min"), ("PRM prod", "prm_prod"),
                                     ("oracle", "oracle"))]
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
        "config": pd.DataFrame([asdict(config) | {"policy_checkpoint": str(policy_path)}]),
    }
