"""Chapter 5: search against the process verifier, by budget and difficulty.

The policy and the PRM of chapter 4 run beam search (M = 4 and M = √N), lookahead search
(k = 1) and diverse verifier tree search on a subset of chapter 3's test problems, at
budgets counted in generations. Best-of-N with weighted selection and majority vote come
from chapter 3's cached samples of the same problems (sampling N whole chains is exactly what
they did), scored by the same PRM.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from tqdm.auto import tqdm

from ttc.cache import artifact_path, read_frame, write_frame
from ttc.chapters import family as family_chapter
from ttc.chapters import sampling as sampling_chapter
from ttc.chapters import verifiers as verifier_chapter
from ttc.config import ConfigError, config_hash, require_range
from ttc.family.train import load_member, training_info
from ttc.flops import inference_flops
from ttc.metrics import mean_by
from ttc.search import LMStepPolicy, method_config, run_search
from ttc.selection import selection_curve
from ttc.verifiers import OracleVerifier, load_verifier

#: the chapter's search variants: label -> (registry method, parameters besides the budget)
VARIANTS = {
    "beam, width 4": ("beam", {"width": 4}),
    "beam, width √N": ("beam", {"width": "sqrt"}),
    "lookahead, 1 step": ("lookahead", {"width": 4, "lookahead": 1}),
    "DVTS, width 4": ("dvts", {"width": 4}),
}
#: selection from independent samples, for comparison: label -> (score column, rule)
BASELINES = {"best-of-N, weighted": ("prm_last", "weighted"),
             "majority vote": (None, "majority")}


@dataclass(frozen=True)
class SearchChapterConfig:
    """Parameters of chapter 5. Defaults are smoke-sized."""

    #: profile whose 04_verifiers parameters give the policy and the trained PRM
    verifier_profile: str = "smoke"
    #: test problems per number of operations (the first of chapter 3's main set)
    n_problems_per_ops: int = 1
    #: budgets in generations
    budgets: tuple[int, ...] = (4, 16)
    #: search variants to run with the learned PRM (keys of VARIANTS)
    methods: tuple[str, ...] = tuple(VARIANTS)
    #: variants also run with the exact step checker as the verifier (the upper bound)
    oracle_methods: tuple[str, ...] = ("beam, width 4",)
    max_steps: int = 12
    temperature: float = 1.0
    seed: int = 0
    selection_resamples: int = 50

    def __post_init__(self) -> None:
        from ttc.profiles import available_profiles

        if self.verifier_profile not in available_profiles():
            raise ConfigError(f"parameter 'verifier_profile' must be one of "
                              f"{', '.join(map(repr, available_profiles()))}; "
                              f"got {self.verifier_profile!r}")
        require_range("n_problems_per_ops", self.n_problems_per_ops, low=1)
        if not self.budgets or any(b < 2 for b in self.budgets):
            raise ConfigError(f"parameter 'budgets' must be a non-empty list of integers >= 2; "
                              f"got {list(self.budgets)!r}")
        unknown = [m for m in self.methods if m not in VARIANTS]
        if unknown or not self.methods:
            raise ConfigError(f"parameter 'methods' must be a non-empty list of "
                              f"{', '.join(map(repr, VARIANTS))}; got {list(self.methods)!r}")
        if any(m not in VARIANTS for m in self.oracle_methods):
            raise ConfigError(f"parameter 'oracle_methods' must list some of "
                              f"{', '.join(map(repr, VARIANTS))}; "
                              f"got {list(self.oracle_methods)!r}")
        require_range("max_steps", self.max_steps, low=1)
        require_range("temperature", self.temperature, low=0.01, high=10.0)
        require_range("selection_resamples", self.selection_resamples, low=10)

    @property
    def verifiers(self) -> verifier_chapter.VerifiersConfig:
        from ttc.profiles import chapter_config

        return chapter_config(self.verifier_profile, "04_verifiers")


def search_problems(config: SearchChapterConfig) -> tuple[list, list[int]]:
    """The first ``n_problems_per_ops`` problems of each length of chapter 3's main set, and
    their indices in it (so chapter 3's samples of the same problems can be found)."""
    problems = sampling_chapter.main_problems(config.verifiers.sampling)
    seen: dict[int, int] = {}
    keep = []
    for index, problem in enumerate(problems):
        if seen.get(problem.n_ops, 0) < config.n_problems_per_ops:
            keep.append(index)
            seen[problem.n_ops] = seen.get(problem.n_ops, 0) + 1
    return [problems[i] for i in keep], keep


def run_variants(config: SearchChapterConfig, progress: bool = True) -> pd.DataFrame:
    """Every search variant at every budget on the chapter's problems (cached): one row per
    (variant, budget, problem) with the answer, grades and exact costs."""
    vconfig = config.verifiers
    fconfig = vconfig.sampling.family
    members = family_chapter.train_family(fconfig, progress=progress)
    policy_path, base_path = members[vconfig.policy], members[vconfig.verifier_base]
    prm_path = verifier_chapter.train_verifiers(vconfig, progress)["prm"]
    problems, _ = search_problems(config)
    key = config_hash((policy_path.name, prm_path.name, [p.prompt for p in problems],
                       config.budgets, config.methods, config.oracle_methods, config.max_steps,
                       config.temperature, config.seed, "v1"))
    final = artifact_path("search", key) / "results.parquet"
    if final.is_file():
        return read_frame(final)
    model, tokenizer = load_member(policy_path, device=fconfig.device)
    policy = LMStepPolicy(model, tokenizer, max_new_tokens=fconfig.max_new_tokens)
    judges = {"PRM": load_verifier(prm_path, device=fconfig.device),
              "oracle": OracleVerifier(problems)}
    n_policy, n_verifier = training_info(policy_path)["N"], training_info(base_path)["N"]
    frames = []
    runs = [("PRM", label, budget) for label in config.methods for budget in config.budgets]
    runs += [("oracle", label, budget) for label in config.oracle_methods
             for budget in config.budgets]
    for judge, label, budget in tqdm(runs, desc="search", disable=not progress):
        method, params = VARIANTS[label]
        if method == "lookahead" and budget < params["lookahead"] + 1:
            continue
        search = method_config(method, budget=budget, temperature=config.temperature,
                               seed=config.seed, max_steps=config.max_steps, **params)
        frame = run_search(method, search, problems, policy, judges[judge], n_policy,
                           n_verifier)
        name = label if judge == "PRM" else f"{label}, oracle verifier"
        frames.append(frame.assign(variant=name, verifier=judge))
    table = pd.concat(frames, ignore_index=True)
    table["difficulty"] = table["n_ops"].map(sampling_chapter.difficulty_group)
    table["flops"] = table["policy_flops"] + table["verifier_flops"]
    write_frame(table, final)
    return table


def baselines(config: SearchChapterConfig, progress: bool = True) -> pd.DataFrame:
    """Weighted best-of-N (PRM last step) and majority vote at each budget, from chapter 3's
    samples of the same problems: one row per (variant, budget, problem)."""
    vconfig = config.verifiers
    paths = verifier_chapter.train_verifiers(vconfig, progress)
    _, all_problems, samples = sampling_chapter.member_samples(vconfig.sampling, vconfig.policy,
                                                               progress)
    scored, _ = verifier_chapter.score_samples(all_problems, samples, paths, progress)
    members = family_chapter.train_family(vconfig.sampling.family, progress=False)
    n_policy = training_info(members[vconfig.policy])["N"]
    n_verifier = training_info(members[vconfig.verifier_base])["N"]
    _, indices = search_problems(config)
    n = int(scored.groupby("problem").size().min())
    budgets = [b for b in config.budgets if b <= n]
    rows = []
    for local, index in enumerate(indices):
        group = scored[scored["problem"] == index]
        answers = [None if pd.isna(a) else a for a in group["answer"]]
        problem = all_problems[index]
        tokens = float(group["n_tokens"].mean())
        for label, (column, rule) in BASELINES.items():
            weights = None if column is None else group[column].to_numpy()
            accuracy = selection_curve(answers, str(problem.answer), budgets, weights, rule,
                                       config.selection_resamples, seed=config.seed + index)
            for budget, acc in zip(budgets, accuracy, strict=True):
                policy_flops = inference_flops(n_policy, budget * tokens)
                verifier_flops = 0.0 if column is None else inference_flops(n_verifier,
                                                                           budget * tokens)
                rows.append({"variant": label, "budget": budget, "problem": local,
                             "n_ops": problem.n_ops, "correct": acc,
                             "policy_tokens": budget * tokens,
                             "flops": policy_flops + verifier_flops})
    frame = pd.DataFrame(rows)
    frame["difficulty"] = frame["n_ops"].map(sampling_chapter.difficulty_group)
    return frame


def run(config: SearchChapterConfig, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Search variants and sampling baselines on the same problems and budgets.

    Tables: ``results`` (one row per search variant, budget and problem: answer, grades,
    tokens, FLOPs, chosen chain), ``baselines`` (the same for best-of-N and majority vote,
    expected accuracy from chapter 3's samples), ``summary`` (accuracy with 95% intervals and
    mean FLOPs per variant, difficulty and budget) and ``overall`` (the same over all
    problems).
    """
    results = run_variants(config, progress)
    base = baselines(config, progress)
    both = pd.concat([results[["variant", "budget", "problem", "n_ops", "difficulty",
                               "correct", "flops"]].astype({"correct": float}),
                      base[["variant", "budget", "problem", "n_ops", "difficulty", "correct",
                            "flops"]]], ignore_index=True)
    summary = _summary(both, ["variant", "difficulty", "budget"])
    overall = _summary(both, ["variant", "budget"])
    return {"results": results, "baselines": base, "summary": summary, "overall": overall}


def _summary(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    table = mean_by(frame, by, "correct", name="accuracy")
    flops = frame.groupby(by, sort=False)["flops"].mean().reset_index()
    return table.merge(flops, on=by)


def over_optimisation(results: pd.DataFrame) -> pd.DataFrame:
    """Chosen chains that are wrong, with their PRM-preferred text: the verifier's mistakes."""
    wrong = results[~results["correct"] & results["chosen"].notna()]
    return wrong[["variant", "budget", "n_ops", "problem", "chosen"]].reset_index(drop=True)

