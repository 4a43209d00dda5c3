"""Sequential revisions: edit distance against brute force, the revision training data, how a
budget is split between chains and revisions, selection on hand-made chains, and a tiny
revision model fine-tuned and sampled end to end (in a scratch cache)."""

import functools
import itertools
import json
import random

import numpy as np
import pandas as pd
import pytest

from ttc.revisions import (
    ATTEMPT_SEP,
    MAX_HISTORY,
    SELECTIONS,
    RevisionExample,
    RevisionTrainConfig,
    chain_lengths,
    edit_distance,
    generate_chains,
    revised_away,
    revision_examples,
    revision_prompt,
    select_split,
    split_attempts,
    split_lengths,
    train_reviser,
)
from ttc.sampling import Completion
from ttc.tasks import Problem, TaskConfig, generate_problems, grade, parse_answer, split_of

# ---------------------------------------------------------------------------------------------
# Edit distance.


@functools.cache
def levenshtein(a: str, b: str) -> int:
    """The textbook recursion: delete, insert or substitute the first character."""
    if not a or not b:
        return len(a) + len(b)
    return min(levenshtein(a[1:], b) + 1, levenshtein(a, b[1:]) + 1,
               levenshtein(a[1:], b[1:]) + (a[0] != b[0]))


def levenshtein_table(a: str, b: str) -> int:
    """The full dynamic-programming table, row by row (for strings too long to recurse)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


@pytest.mark.parametrize("a,b,expected", [
    ("", "abc", 3),
    ("abc", "", 3),
    ("", "", 0),
    ("abc", "abc", 0),
    ("kitten", "sitting", 3),
    ("flaw", "lawn", 2),
    ("ab", "ba", 2),  # no transpositions: two substitutions
    ("47+38=85", "47+38=86", 1),
    ("75+64=139", "75+64=1390", 1),
    ("75+64=139", "75+64=140", 2),
])
def test_edit_distance_hand_cases(a, b, expected):
    assert edit_distance(a, b) == expected
    assert edit_distance(b, a) == expected


def test_edit_distance_matches_brute_force():
    rng = random.Random(0)
    alphabet = "0123456789+-*=;"
    for _ in range(400):
        a = "".join(rng.choices(alphabet[:rng.randint(1, len(alphabet))], k=rng.randint(0, 7)))
        b = "".join(rng.choices(alphabet[:rng.randint(1, len(alphabet))], k=rng.randint(0, 7)))
        d = edit_distance(a, b)
        assert d == levenshtein(a, b), (a, b)
        assert d == edit_distance(b, a)
        assert abs(len(a) - len(b)) <= d <= max(len(a), len(b))
        assert (d == 0) == (a == b)


def test_edit_distance_matches_brute_force_beyond_one_machine_word():
    """The bit-parallel distance keeps one bit per character of ``b``: chains of chapter 6's
    length (about 100 characters) need more than 64 of them."""
    rng = random.Random(1)
    alphabet = "0123456789+-=;"
    for _ in range(60):
        a = "".join(rng.choices(alphabet, k=rng.randint(60, 140)))
        # b: a with a few edits (the near misses chapter 6 looks for) or unrelated text
        b = list(a) if rng.random() < 0.7 else rng.choices(alphabet, k=rng.randint(60, 140))
        for _ in range(rng.randint(0, 6)):
            b.insert(rng.randint(0, len(b)), rng.choice(alphabet))
            del b[rng.randrange(len(b))]
            b[rng.randrange(len(b))] = rng.choice(alphabet)
        b = "".join(b)
        assert edit_distance(a, b) == levenshtein_table(a, b) == edit_distance(b, a), (a, b)


# ---------------------------------------------------------------------------------------------
# Training data.

PROBLEMS = generate_problems(TaskConfig(), "train", 1, seed=3033)  # one problem per n_ops


def test_problem_fixture():
    assert [p.prompt for p in PROBLEMS[1:4]] == ["36+39+64=", "14-15*9*2=", "11*8*6-12*2="]
    assert PROBLEMS[1].solution == "36+39=75;75+64=139" and PROBLEMS[1].answer == 139
    assert PROBLEMS[2].solution == "14-15=-1;-1*9=-9;-9*2=-18" and PROBLEMS[2].answer == -18
    assert PROBLEMS[3].answer == 1032


def test_training_problems_come_from_the_train_split():
    # what the chapter trains on: generate_problems(task, "train", n, seed=seed + 3033)
    problems = generate_problems(TaskConfig(), "train", 5, seed=3033)
    assert len(problems) == 5 * 8
    assert all(split_of(p.prompt) == "train" for p in problems)


# (problem index, completion, finished): the flags below are hand-checked against grade()
SAMPLE_ROWS = [
    # problem 1, 36+39+64= -> 139: two distinct right samples, seven distinct wrong ones
    (1, "36+39=75;75+64=139", True),  # right
    (1, "36+39=76;76+64=139", True),  # right answer, wrong steps: still graded right
    (1, "36+39=75;75+64=139", True),  # a repeated right sample
    (1, "36+39=75;75+64=138", True),
    (1, "36+39=75;75+64=138", True),  # a repeated wrong sample
    (1, "36+39=75;75+64=140", True),
    (1, "36+39=75;75+64=1390", True),
    (1, "36+39=75;75-64=11", True),
    (1, "36+39=74;74+64=138", True),
    (1, "36+39=75", True),
    (1, "", True),  # empty but finished: wrong
    (1, "36+39=75;75+64=139", False),  # unfinished: never a wrong attempt (distance 0)
    (1, "36+39=75;75+64=13", False),  # unfinished near miss (distance 1)
    # problem 2, 14-15*9*2= -> -18: never solved
    (2, "14-15=-1;-1*9=-9;-9*2=-17", True),
    (2, "14-15=1;1*9=9;9*2=18", True),
    (2, "14-15=-1", True),
    (2, "14-15=-1;-1*9=-9;-9*2=-18", False),  # the right text, unfinished
    # problem 3, 11*8*6-12*2= -> 1032: one right, one wrong
    (3, "11*8=88;88*6=528;528-12=516;516*2=1032", True),
    (3, "11*8=88;88*6=528;528-12=516;516*2=1033", True),
]
CORRECT = [True, True, True] + [False] * 10 + [False] * 4 + [True, False]


def samples_frame() -> pd.DataFrame:
    problem, completion, finished = zip(*SAMPLE_ROWS, strict=True)
    return pd.DataFrame({"problem": problem, "completion": completion, "finished": finished,
                         "correct": [grade(PROBLEMS[p], c, f) for p, c, f in SAMPLE_ROWS]})


def test_samples_fixture():
    assert samples_frame()["correct"].tolist() == CORRECT


def right_and_wrong(problem: int) -> tuple[set[str], set[str], set[str]]:
    """Right, wrong (finished) and unfinished completions of a problem, from the raw rows."""
    rows = [(c, f, ok) for (p, c, f), ok in zip(SAMPLE_ROWS, CORRECT, strict=True)
            if p == problem]
    return ({c for c, f, ok in rows if ok}, {c for c, f, ok in rows if f and not ok},
            {c for c, f, ok in rows if not f})


def attempts_of(example: RevisionExample) -> list[str]:
    """The wrong attempts shown in an example's prompt (it ends with the problem prompt)."""
    *attempts, last = example.prompt.split(ATTEMPT_SEP)
    assert last == PROBLEMS[example.problem].prompt
    return attempts


def check_example(example: RevisionExample, right: set[str], wrong: set[str],
                  max_wrong: int) -> None:
    problem = PROBLEMS[example.problem]
    assert example.target in right
    attempts = attempts_of(example)
    k = len(attempts)
    assert example.n_wrong == k
    assert 0 <= k <= min(max_wrong, len(wrong))
    # attempts first, each followed by the separator, the problem last
    assert example.prompt == "".join(a + ATTEMPT_SEP for a in attempts) + problem.prompt
    assert example.prompt == revision_prompt(problem.prompt, attempts, len(attempts))
    # k distinct finished wrong samples, the k closest to the target
    assert len(set(attempts)) == k and set(attempts) <= wrong
    distances = sorted(edit_distance(w, example.target) for w in wrong)
    assert sorted(edit_distance(a, example.target) for a in attempts) == distances[:k]


def test_revision_examples_targets_and_closest_wrong_attempts():
    examples = revision_examples(PROBLEMS, samples_frame(), per_problem=40, seed=0)
    # problem 2 has no right sample and problems without samples give nothing
    assert [e.problem for e in examples] == [1] * 40 + [3] * 40
    n_wrong = {1: set(), 3: set()}
    for e in examples:
        right, wrong, unfinished = right_and_wrong(e.problem)
        check_example(e, right, wrong, MAX_HISTORY)
        assert not set(attempts_of(e)) & (unfinished - wrong)
        n_wrong[e.problem].add(e.n_wrong)
    assert n_wrong == {1: {0, 1, 2, 3, 4}, 3: {0, 1}}  # k ~ uniform{0..min(4, #wrong)}
    assert {e.target for e in examples if e.problem == 1} == right_and_wrong(1)[0]

    # hand-checked: with the solution as target the single closest wrong sample is at
    # distance 1, a three-way tie between ...138, ...1390 and the unused unfinished ...13
    solved = [e for e in examples if e.problem == 1 and e.target == PROBLEMS[1].solution]
    for e in solved:
        if e.n_wrong == 1:
            assert attempts_of(e)[0] in {"36+39=75;75+64=138", "36+39=75;75+64=1390"}
        if e.n_wrong == 2:
            assert set(attempts_of(e)) == {"36+39=75;75+64=138", "36+39=75;75+64=1390"}
    # the attempts are shuffled, not always closest first
    orders = [tuple(edit_distance(a, e.target) for a in attempts_of(e)) for e in examples]
    assert any(list(o) != sorted(o) for o in orders)


def test_revision_examples_deterministic_and_max_wrong():
    samples = samples_frame()
    first = revision_examples(PROBLEMS, samples, per_problem=6, seed=5)
    assert first == revision_examples(PROBLEMS, samples, per_problem=6, seed=5)
    assert first != revision_examples(PROBLEMS, samples, per_problem=6, seed=6)
    assert len(first) == 12
    none = revision_examples(PROBLEMS, samples, max_wrong=0, per_problem=6, seed=5)
    assert all(e.n_wrong == 0 and e.prompt == PROBLEMS[e.problem].prompt for e in none)
    two = revision_examples(PROBLEMS, samples, max_wrong=2, per_problem=30, seed=5)
    for e in two:
        right, wrong, _ = right_and_wrong(e.problem)
        check_example(e, right, wrong, 2)
    assert {e.n_wrong for e in two if e.problem == 1} == {0, 1, 2}
    with pytest.raises(ValueError, match="max_wrong"):
        revision_examples(PROBLEMS, samples, max_wrong=-1)


def test_revision_examples_reference_when_unsolved():
    samples = samples_frame()
    plain = revision_examples(PROBLEMS, samples, per_problem=20, seed=1)
    with_ref = revision_examples(PROBLEMS, samples, per_problem=20, seed=1,
                                 reference_when_unsolved=True)
    assert [e.problem for e in with_ref] == [1] * 20 + [2] * 20 + [3] * 20
    assert with_ref[:20] == plain[:20]  # problem 1 comes first: the same random draws
    unsolved = [e for e in with_ref if e.problem == 2]
    _, wrong, _ = right_and_wrong(2)
    assert len(wrong) == 3
    for e in unsolved:
        assert e.target == PROBLEMS[2].solution
        check_example(e, {PROBLEMS[2].solution}, wrong, MAX_HISTORY)
        # the unfinished sample with the right text is not a wrong attempt
        assert PROBLEMS[2].solution not in attempts_of(e)
    assert {e.n_wrong for e in unsolved} == {0, 1, 2, 3}
    # a problem with a right sample keeps its own targets
    assert {e.target for e in with_ref if e.problem == 3} == {PROBLEMS[3].solution}


def test_revision_examples_ignore_problems_without_samples():
    samples = samples_frame()
    samples = samples[samples["problem"] == 2]
    assert revision_examples(PROBLEMS, samples) == []
    examples = revision_examples(PROBLEMS, samples, per_problem=3, reference_when_unsolved=True)
    assert [e.problem for e in examples] == [2, 2, 2]


# ---------------------------------------------------------------------------------------------
# The revision prompt.


def test_revision_prompt_keeps_the_last_attempts():
    attempts = ["1+1=2", "1+1=3", "", "1+1=4", "1+1=5", "1+1=6"]
    prompt = "1+1="
    assert MAX_HISTORY == 4
    assert revision_prompt(prompt, attempts) == "|1+1=4|1+1=5|1+1=6|1+1="
    assert revision_prompt(prompt, attempts, 4) == revision_prompt(prompt, attempts)
    assert revision_prompt(prompt, attempts, 2) == "1+1=5|1+1=6|1+1="
    assert revision_prompt(prompt, attempts, 1) == "1+1=6|1+1="
    assert revision_prompt(prompt, attempts, 0) == prompt
    assert revision_prompt(prompt, attempts, 10) == "1+1=2|1+1=3||1+1=4|1+1=5|1+1=6|1+1="
    assert revision_prompt(prompt, []) == prompt
    assert revision_prompt(prompt, (a for a in ["7", "8"]), 1) == "8|1+1="  # any iterable


# ---------------------------------------------------------------------------------------------
# Splitting a budget between chains and revisions.


def test_split_lengths():
    assert split_lengths(1) == [1]
    assert split_lengths(2) == [1, 2]
    assert split_lengths(16) == [1, 2, 4, 8, 16]
    assert split_lengths(64) == [1, 2, 4, 8, 16, 32, 64]
    for bad in (0, -4, 3, 6, 12, 24, 100):
        with pytest.raises(ValueError, match="power of two"):
            split_lengths(bad)


@pytest.mark.parametrize("max_budget", [1, 2, 4, 8, 16, 64])
def test_chain_lengths_serve_every_split(max_budget):
    lengths = chain_lengths(max_budget)
    assert len(lengths) == max_budget
    budgets = [2**i for i in range(max_budget.bit_length()) if 2**i <= max_budget]
    for b in budgets:
        for length in split_lengths(b):
            assert all(lengths[j] >= length for j in range(b // length)), (b, length)
    # and no longer than some split needs (brute force over every split of every budget)
    need = [max(length for b in budgets for length in split_lengths(b) if j < b // length)
            for j in range(max_budget)]
    assert lengths == need
    # B (the one long chain) + B/2 per further halving of the chain length
    assert sum(lengths) == max_budget + max_budget // 2 * (max_budget.bit_length() - 1)


def test_chain_lengths_hand_cases():
    assert sum(chain_lengths(64)) == 256
    assert chain_lengths(4) == [4, 2, 1, 1]
    assert chain_lengths(8) == [8, 4, 2, 2, 1, 1, 1, 1]
    assert chain_lengths(8, max_length=2) == [2, 2, 2, 2, 1, 1, 1, 1]
    assert chain_lengths(8, max_length=100) == chain_lengths(8)
    with pytest.raises(ValueError):
        chain_lengths(12)


def fake_chains(max_budget: int, n_problems: int = 2) -> pd.DataFrame:
    rows = []
    for p in range(n_problems):
        for j, length in enumerate(chain_lengths(max_budget)):
            for a in range(length):
                rows.append({"problem": p, "chain": j, "attempt": a, "answer": str(a),
                             "correct": a % 2 == 0})
    frame = pd.DataFrame(rows)
    frame["answer"] = frame["answer"].astype("string")
    return frame.sample(frac=1.0, random_state=0)  # row order must not matter


def test_split_attempts_spends_exactly_the_budget():
    table = fake_chains(16)
    assert len(table) == 2 * 48
    for budget in split_lengths(16):
        for length in split_lengths(budget):
            used = split_attempts(table, budget, length)
            assert set(used.columns) == set(table.columns)
            for p in (0, 1):
                mine = used[used["problem"] == p]
                assert len(mine) == budget, (budget, length)
                assert sorted(mine["chain"].unique()) == list(range(budget // length))
                for _, chain in mine.groupby("chain"):
                    assert sorted(chain["attempt"]) == list(range(length))
    with pytest.raises(ValueError, match="divide"):
        split_attempts(table, 8, 3)
    with pytest.raises(ValueError, match="divide"):
        split_attempts(table, 4, 8)


# ---------------------------------------------------------------------------------------------
# Selection over a split's attempts.


def chains_of(*chains: list, correct: list | None = None) -> pd.DataFrame:
    """One problem's attempts, chain by chain; ``None`` is a missing answer."""
    rows = [{"problem": 0, "chain": j, "attempt": a, "answer": pd.NA if x is None else x}
            for j, chain in enumerate(chains) for a, x in enumerate(chain)]
    frame = pd.DataFrame(rows)
    frame["answer"] = frame["answer"].astype("string")
    frame["correct"] = correct if correct is not None else [False] * len(frame)
    return frame


def test_select_split_majority_and_last_majority():
    # all attempts: 5 5 7 | 5 7  -> majority 5; last attempts: 7 | 7 -> last majority 7
    table = chains_of(["5", "5", "7"], ["5", "7"])
    assert select_split(table, "5", "majority")
    assert not select_split(table, "7", "majority")
    assert select_split(table, "7", "last majority")
    assert not select_split(table, "5", "last majority")
    # row order does not decide which attempt is a chain's last
    shuffled = table.iloc[[4, 0, 2, 3, 1]]
    assert select_split(shuffled, "7", "last majority")
    assert not select_split(shuffled, "5", "last majority")
    # a chain whose last attempt has no answer votes for nothing (not for an earlier one)
    table = chains_of(["5", None], ["6"])
    assert select_split(table, "6", "last majority")
    assert select_split(table, "5", "majority")  # 5 and 6 tie: 5 is seen first


def test_select_split_ties_and_missing_answers():
    table = chains_of(["3"], ["4"], ["4"], ["3"])
    assert select_split(table, "3", "majority")  # a tie goes to the first seen
    assert select_split(table.iloc[::-1], "3", "majority")  # 3 is first again
    assert select_split(table.iloc[[1, 0, 2, 3]], "4", "majority")
    table = chains_of([None, None], [None, "8"], [None])
    assert select_split(table, "8", "majority")  # three missing answers do not outvote one
    assert select_split(table, "8", "last majority")
    empty = chains_of([None], [None, None])
    for rule in ("majority", "last majority"):
        for truth in ("8", "", "<NA>", "nan", "None"):
            assert not select_split(empty, truth, rule)
    assert not select_split(empty, "8", "verifier", np.array([1.0, 1.0, 1.0]))


def test_select_split_verifier_and_oracle():
    table = chains_of(["1", "2"], ["2"], correct=[True, False, False])
    # weighted: 0.5 + 0.5 for "2" beats 0.9 for "1"; 0.4 + 0.4 does not
    assert select_split(table, "2", "verifier", np.array([0.9, 0.5, 0.5]))
    assert not select_split(table, "1", "verifier", np.array([0.9, 0.5, 0.5]))
    assert select_split(table, "1", "verifier", np.array([0.9, 0.4, 0.4]))
    # a missing answer's score counts for nothing
    table = chains_of([None, "2"], correct=[False, False])
    assert select_split(table, "2", "verifier", np.array([5.0, 0.1]))
    # oracle: right if any attempt is right, whatever the votes
    table = chains_of(["1", "2"], ["2"], correct=[True, False, False])
    assert not select_split(table, "1", "majority")
    assert select_split(table, "1", "oracle")
    assert not select_split(chains_of(["1", "2"], correct=[False, False]), "1", "oracle")
    with pytest.raises(ValueError, match="rule"):
        select_split(table, "1", "best")
    with pytest.raises(ValueError, match="scores"):
        select_split(table, "1", "verifier")
    assert SELECTIONS == ("majority", "last majority", "verifier", "oracle")


# ---------------------------------------------------------------------------------------------
# Right attempts revised into wrong ones.


def brute_revised_away(table: pd.DataFrame) -> tuple[int, int]:
    away = right = 0
    for _, chain in table.groupby(["problem", "chain"]):
        flags = chain.sort_values("attempt")["correct"].tolist()
        for now, nxt in itertools.pairwise(flags):
            right += now
            away += now and not nxt
    return away, right


def test_revised_away_hand_counted():
    chains = {  # (problem, chain): correct flags by attempt
        (0, 0): [True, False, True],  # 1 right with a successor, revised away; last not counted
        (0, 1): [True, True],  # 1 right with a successor, kept
        (1, 0): [False, True, False, False],  # 1 right with a successor, revised away
        (1, 1): [True],  # a single (last) attempt: nothing
        (1, 2): [False, False, True],  # right only at the end: nothing
    }
    rows = [{"problem": p, "chain": j, "attempt": a, "correct": ok}
            for (p, j), flags in chains.items() for a, ok in enumerate(flags)]
    table = pd.DataFrame(rows)
    assert revised_away(table) == (2, 3)
    assert brute_revised_away(table) == (2, 3)
    assert revised_away(table.sample(frac=1.0, random_state=1)) == (2, 3)
    assert revised_away(table[table["problem"] == 1]) == (1, 1)
    assert revised_away(table[table["chain"] == 1]) == (0, 1)
    assert revised_away(table[table["attempt"] == 0]) == (0, 0)  # no attempt has a successor
    assert revised_away(table.iloc[:0]) == (0, 0)
    # the flags may come back from a table as nullable booleans
    assert revised_away(table.astype({"correct": "boolean"})) == (2, 3)


def test_revised_away_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(30):
        rows = [{"problem": p, "chain": j, "attempt": a, "correct": bool(rng.random() < 0.5)}
                for p in range(3) for j in range(4) for a in range(int(rng.integers(1, 6)))]
        table = pd.DataFrame(rows).sample(frac=1.0, random_state=int(rng.integers(1000)))
        assert revised_away(table) == brute_revised_away(table)


# ---------------------------------------------------------------------------------------------
# Chains written by a scripted "model": prompts, history and grading, exactly.


def test_generate_chains_with_a_scripted_model(monkeypatch):
    import ttc.revisions.chains as chains_module
    from ttc.tokenizer import build_tokenizer

    tokenizer = build_tokenizer()
    tokenizer.add_tokens([ATTEMPT_SEP])
    problems = [PROBLEMS[1], PROBLEMS[2]]
    by_prompt = {p.prompt: p for p in problems}
    calls = []

    def script(problem: Problem, seen: int) -> Completion:
        """What the "model" writes after seeing ``seen`` attempts."""
        if seen == 0:  # wrong: last result off by one
            text = problem.solution[:-1] + str(int(problem.solution[-1]) ^ 1)
            return Completion(text, len(text) + 1, finished=True)
        if seen == 1:
            return Completion(problem.solution, len(problem.solution) + 1, finished=True)
        if seen == 2:  # the right text, but it ran out of tokens
            return Completion(problem.solution, len(problem.solution), finished=False)
        return Completion("garbage", 8, finished=True)

    def fake_generate(model, tok, prompts, max_new_tokens, temperature, seed, batch_size):
        calls.append((list(prompts), seed, max_new_tokens, temperature))
        return [script(by_prompt[p.split(ATTEMPT_SEP)[-1]], p.count(ATTEMPT_SEP))
                for p in prompts]

    monkeypatch.setattr(chains_module, "generate", fake_generate)
    table = generate_chains(None, tokenizer, problems, [4, 2, 1], max_new_tokens=30,
                            temperature=0.7, seed=3)
    assert [len(prompts) for prompts, *_ in calls] == [6, 4, 2, 2]  # open chains per round
    assert [seed for _, seed, *_ in calls] == [3 * 1_000_003 + a for a in range(4)]
    assert all(c[2:] == (30, 0.7) for c in calls)
    assert len(table) == 2 * 7
    for (p, j), chain in table.groupby(["problem", "chain"]):
        problem = problems[p]
        assert chain["attempt"].tolist() == list(range([4, 2, 1][j]))
        wrong = script(problem, 0).text
        expected = [wrong, problem.solution, problem.solution, "garbage"][: len(chain)]
        assert chain["completion"].tolist() == expected
        assert chain["finished"].tolist() == [True, True, False, True][: len(chain)]
        assert chain["correct"].tolist() == [False, True, False, False][: len(chain)]
        answers = [str(parse_answer(wrong)), str(problem.answer), pd.NA, pd.NA][: len(chain)]
        assert [None if pd.isna(a) else a for a in chain["answer"]] == \
            [None if a is pd.NA else a for a in answers]
        # <bos>, then each earlier attempt and its separator, then the prompt: one token a char
        context = [1 + sum(len(c) + 1 for c in expected[:a]) + len(problem.prompt)
                   for a in range(len(chain))]
        assert chain["context_tokens"].tolist() == context
        assert chain["n_tokens"].tolist() == [len(wrong) + 1, len(problem.solution) + 1,
                                              len(problem.solution), 8][: len(chain)]
    assert str(table["answer"].dtype) == "string"
    # every round's prompts are the revision prompts of the open chains' attempts so far
    for attempt, (prompts, *_) in enumerate(calls):
        open_chains = table[table["attempt"] == attempt]
        expected = []
        for _, row in open_chains.iterrows():
            before = table[(table["problem"] == row["problem"])
                           & (table["chain"] == row["chain"]) & (table["attempt"] < attempt)]
            expected.append(revision_prompt(problems[row["problem"]].prompt,
                                            before.sort_values("attempt")["completion"]))
        assert sorted(prompts) == sorted(expected)
    # chains 0 and 1: one right attempt followed by another attempt in each, revised away in
    # chain 0 (its next attempt is unfinished)
    assert revised_away(table) == (2, 2)

    # history 1: the model only ever sees its last attempt, so it never gets past "seen one"
    calls.clear()
    short = generate_chains(None, tokenizer, problems, [4], max_new_tokens=30, seed=3,
                            history=1)
    assert all(p.count(ATTEMPT_SEP) <= 1 for prompts, *_ in calls for p in prompts)
    for p, chain in short.groupby("problem"):
        problem = problems[p]
        assert chain["correct"].tolist() == [False, True, True, True]
        assert chain["context_tokens"].tolist() == [
            1 + len(problem.prompt), 1 + len(script(problem, 0).text) + 1 + len(problem.prompt),
            *[1 + len(problem.solution) + 1 + len(problem.prompt)] * 2]


# ---------------------------------------------------------------------------------------------
# Fine-tuning and sampling a tiny revision model.


def unsolved_examples(per_problem: int = 4) -> list[RevisionExample]:
    """Revision sequences towards the reference solution of 12 short training problems, each
    with three wrong samples (the last result off by 1, 2 or 3)."""
    problems = generate_problems(TaskConfig(max_ops=3), "train", 4, seed=3033)
    rows = []
    for i, problem in enumerate(problems):
        for off in (1, 2, 3):
            *steps, last = problem.step_texts
            left, result = last.split("=")
            text = ";".join([*steps, f"{left}={int(result) + off}"])
            rows.append({"problem": i, "completion": text, "finished": True,
                         "correct": grade(problem, text)})
    samples = pd.DataFrame(rows)
    assert not samples["correct"].any()
    examples = revision_examples(problems, samples, per_problem=per_problem,
                                 seed=0, reference_when_unsolved=True)
    assert len(examples) == 12 * per_problem
    assert all(e.target == problems[e.problem].solution for e in examples)
    return examples


def test_revision_tensors_label_only_the_target():
    from ttc.revisions.train import IGNORE, _tensors
    from ttc.tokenizer import build_tokenizer

    tokenizer = build_tokenizer()
    tokenizer.add_tokens([ATTEMPT_SEP])
    examples = [RevisionExample(0, "3+4=8|3+4=", "3+4=7", 1),
                RevisionExample(1, "9*2=", "9*2=18", 0)]
    ids, mask, labels = _tensors(tokenizer, examples)
    assert ids.shape == mask.shape == labels.shape == (2, 1 + 10 + 5 + 1)
    sep, eos = len(tokenizer) - 1, tokenizer.eos_token_id
    assert ids[0].tolist() == tokenizer("3+4=8")["input_ids"] + [sep] \
        + tokenizer("3+4=", add_special_tokens=False)["input_ids"] \
        + tokenizer("3+4=7", add_special_tokens=False)["input_ids"] + [eos]
    target = tokenizer("3+4=7", add_special_tokens=False)["input_ids"]
    assert labels[0].tolist() == [IGNORE] * 11 + target + [eos]
    assert mask[0].tolist() == [1] * 17
    assert mask[1].tolist() == [1] * (1 + 4 + 6 + 1) + [0] * 5
    assert labels[1].tolist() == [IGNORE] * 5 \
        + tokenizer("9*2=18", add_special_tokens=False)["input_ids"] + [eos] + [IGNORE] * 5
    assert ids[1, 12:].tolist() == [tokenizer.pad_token_id] * 5


def test_train_reviser_lowers_loss_adds_the_separator_and_caches(tiny_base, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import ttc.revisions.train as train_module

    base, cache = tiny_base
    n_base = len(AutoTokenizer.from_pretrained(str(base)))
    examples = unsolved_examples()
    assert any(e.n_wrong > 0 for e in examples)
    config = RevisionTrainConfig(epochs=6, batch_size=16, lr=3e-3, val_frac=0.25)
    path = train_reviser(base, examples, config, progress=False, device="cpu")
    assert path.is_relative_to(cache)  # nothing written to the user's cache
    info = json.loads((path / "training.json").read_text())
    assert info["base"] == base.name
    assert (info["n_examples"], info["n_train"], info["n_val"]) == (48, 36, 12)
    assert len(info["curve"]) == 6
    assert info["val_loss_after"] == info["curve"][-1]["val_loss"]
    assert info["val_loss_after"] < info["val_loss_before"]

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    assert len(tokenizer) == n_base + 1
    assert tokenizer(ATTEMPT_SEP, add_special_tokens=False)["input_ids"] == [n_base]
    prompt = examples[0].prompt
    assert ATTEMPT_SEP in prompt
    ids = tokenizer(prompt)["input_ids"]
    assert len(ids) == 1 + len(prompt) and tokenizer.unk_token_id not in ids
    assert ids.count(n_base) == prompt.count(ATTEMPT_SEP)
    assert tokenizer.decode(ids, skip_special_tokens=True) == prompt
    model = AutoModelForCausalLM.from_pretrained(str(path))
    assert model.config.vocab_size == n_base + 1
    assert model.get_input_embeddings().num_embeddings == n_base + 1
    assert model.get_output_embeddings().out_features == n_base + 1
    assert len(AutoTokenizer.from_pretrained(str(base))) == n_base  # the base is untouched

    # the same data and recipe come back from the cache without training again
    written = (path / "training.json").stat().st_mtime_ns

    def no_training(*args, **kwargs):
        raise AssertionError("retrained a cached reviser")

    monkeypatch.setattr(train_module, "_tensors", no_training)
    assert train_reviser(base, examples, config, progress=False, device="cpu") == path
    assert (path / "training.json").stat().st_mtime_ns == written
    monkeypatch.undo()
    # other data is another checkpoint
    other = train_reviser(base, examples[:8], RevisionTrainConfig(epochs=1, batch_size=8),
                          progress=False, device="cpu")
    assert other != path and (other / "training.json").is_file()


def test_train_reviser_rejects_bad_input(tiny_base):
    base, cache = tiny_base
    with pytest.raises(ValueError, match="example"):
        train_reviser(base, [], RevisionTrainConfig(), progress=False, device="cpu")
    checkpoints = cache / "checkpoints"
    assert not checkpoints.exists() or not any(checkpoints.iterdir())
    with pytest.raises(ValueError, match="val_frac"):
        RevisionTrainConfig(val_frac=1.0)
    with pytest.raises(ValueError, match="epochs"):
        RevisionTrainConfig(epochs=0)
    with pytest.raises(ValueError, match="lr"):
        RevisionTrainConfig(lr=0.0)


def test_generate_chains_with_a_tiny_reviser(tiny_base):
    from ttc.family.train import load_member

    base, _ = tiny_base
    reviser = train_reviser(base, unsolved_examples(per_problem=1),
                            RevisionTrainConfig(epochs=1, batch_size=12), progress=False,
                            device="cpu")
    model, tokenizer = load_member(reviser, device="cpu")
    problems = [PROBLEMS[1], PROBLEMS[2]]
    max_new = 12
    table = generate_chains(model, tokenizer, problems, [3, 1], max_new, seed=0)
    assert set(table.columns) == {"problem", "chain", "attempt", "completion", "finished",
                                  "n_tokens", "context_tokens", "answer", "correct"}
    assert table.groupby(["problem", "chain"]).size().to_dict() == {
        (0, 0): 3, (0, 1): 1, (1, 0): 3, (1, 1): 1}
    for (p, _), chain in table.groupby(["problem", "chain"]):
        chain = chain.sort_values("attempt")
        assert chain["attempt"].tolist() == list(range(len(chain)))
        context = [len(tokenizer(revision_prompt(problems[p].prompt,
                                                 chain["completion"].tolist()[:a]))["input_ids"])
                   for a in range(len(chain))]
        assert chain["context_tokens"].tolist() == context
        assert context[0] == 1 + len(problems[p].prompt)
        assert all(b > a for a, b in itertools.pairwise(context))  # history included
    for row in table.itertuples():
        assert row.correct == grade(problems[row.problem], row.completion, row.finished)
        answer = parse_answer(row.completion) if row.finished else None
        assert (pd.isna(row.answer) if answer is None else row.answer == str(answer))
        assert 1 <= row.n_tokens <= max_new
        assert row.finished or row.n_tokens == max_new
    assert str(table["answer"].dtype) == "string"
    pd.testing.assert_frame_equal(table, generate_chains(model, tokenizer, problems, [3, 1],
                                                         max_new, seed=0))
    other = generate_chains(model, tokenizer, problems, [3, 1], max_new, seed=1)
    assert other["completion"].tolist() != table["completion"].tolist()


def test_sharded_chains_are_each_shards_chains_whatever_the_workers(tiny_base, monkeypatch):
    """Chapter 6 writes its chains in shards on worker processes: shard ``s`` is
    generate_chains on every second problem with seed ``seed * 2 + s``, scored by the ORM and
    numbered back into the whole list; the same table with one worker and with two."""
    from tests.test_verifiers import oracle_examples
    from ttc.chapters.ch06_revisions import CHAIN_SHARDS, sharded_chains
    from ttc.family.train import load_member
    from ttc.verifiers import VerifierTrainConfig, load_verifier, train_verifier

    base, _ = tiny_base
    reviser = train_reviser(base, unsolved_examples(per_problem=1),
                            RevisionTrainConfig(epochs=1, batch_size=12), progress=False,
                            device="cpu")
    orm = train_verifier(base, oracle_examples(2), VerifierTrainConfig(epochs=1, batch_size=8),
                         "orm", progress=False, device="cpu")
    problems = [PROBLEMS[1], PROBLEMS[2], PROBLEMS[3]]  # shards of problems 0, 2 and of 1
    lengths, max_new, seed = [3, 1], 10, 5
    runs = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("TTC_WORKERS", workers)
        runs[workers] = sharded_chains(reviser, orm, problems, lengths, max_new, 1.0, seed,
                                       history=4, progress=False)
    pd.testing.assert_frame_equal(runs["1"], runs["2"])
    table = runs["1"]

    assert CHAIN_SHARDS == 2
    model, tokenizer = load_member(reviser, device="cpu")
    judge = load_verifier(orm, device="cpu")
    parts = []
    for shard, indices in enumerate([[0, 2], [1]]):
        own = [problems[i] for i in indices]
        part = generate_chains(model, tokenizer, own, lengths, max_new, 1.0,
                               seed=seed * 2 + shard, history=4)
        scores = judge.step_scores([own[p].prompt for p in part["problem"]],
                                   part["completion"].tolist(), part["finished"].tolist())
        parts.append(part.assign(score=[float(s[-1]) if len(s) else 0.0 for s in scores],
                                 n_ops=[own[p].n_ops for p in part["problem"]],
                                 problem=[indices[p] for p in part["problem"]]))
    # every attempt once, in generate_chains' order for the whole list: attempt, problem, chain
    order = [(a, p, j) for a in range(3) for p in range(3) for j in range(2) if lengths[j] > a]
    assert list(table[["attempt", "problem", "chain"]].itertuples(index=False)) == order
    keys = ["problem", "chain", "attempt"]
    expected = pd.concat(parts).sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(table.sort_values(keys).reset_index(drop=True), expected)
    assert table["n_ops"].tolist() == [problems[p].n_ops for p in table["problem"]]
    assert table["score"].between(0, 1).all()
    for row in table.itertuples():
        assert row.correct == grade(problems[row.problem], row.completion, row.finished)
    # the policy's likelihood as the scorer: the same chains, scored by the likelihood
    monkeypatch.setenv("TTC_WORKERS", "1")
    by_likelihood = sharded_chains(reviser, base, problems, lengths, max_new, 1.0, seed,
                                   history=4, progress=False, scorer_kind="likelihood")
    pd.testing.assert_frame_equal(by_likelihood.drop(columns="score"),
                                  table.drop(columns="score"))
    from ttc.verifiers import LikelihoodVerifier

    policy_model, policy_tokenizer = load_member(base, device="cpu")
    likelihood = LikelihoodVerifier(policy_model, policy_tokenizer).step_scores(
        [problems[p].prompt for p in table["problem"]], table["completion"].tolist(),
        table["finished"].tolist())
    expected = [float(s[-1]) if len(s) else 0.0 for s in likelihood]
    assert by_likelihood["score"].to_numpy() == pytest.approx(expected, rel=1e-5, abs=1e-9)
