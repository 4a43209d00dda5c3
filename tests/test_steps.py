"""Token-level step boundaries: the same as before for the character tokenizer, and right for
a byte-level BPE tokenizer whose tokens hold several characters around a newline."""

from __future__ import annotations

import random

import pytest

from tests.toys import word_problem_tokenizer
from ttc.steps import (
    n_step_ends,
    separator_ends,
    step_end_positions,
    step_prefixes,
    stop_token_ids,
)
from ttc.tasks import TaskConfig, generate_problems
from ttc.tokenizer import build_tokenizer


@pytest.fixture(scope="module")
def bpe():
    return word_problem_tokenizer(chat=True)


def _old_positions(tokenizer, prompt, completion, finished):
    """What the verifiers did before: ids equal to the ';' id after the prompt, then <eos>."""
    ids = tokenizer(prompt + completion)["input_ids"] + ([tokenizer.eos_token_id]
                                                         if finished else [])
    n_prompt = len(tokenizer(prompt)["input_ids"])
    sep = tokenizer.convert_tokens_to_ids(";")
    ends = [i for i in range(n_prompt, len(ids)) if ids[i] == sep]
    return [*ends, len(ids) - 1] if finished else ends


def test_character_tokenizer_positions_are_unchanged():
    tokenizer = build_tokenizer()
    rng = random.Random(0)
    problems = generate_problems(TaskConfig(min_ops=1, max_ops=4), "test", 5, seed=0)
    cases = 0
    for problem in problems:
        text = problem.solution
        for cut in range(len(text) + 1):  # every prefix, right or mangled
            completion = text[:cut]
            if rng.random() < 0.3:
                completion = completion.replace("+", ";", 1) + rng.choice(["", ";", ";;", "x"])
            for finished in (False, True):
                new = step_end_positions(tokenizer, problem.prompt, completion, finished, ";")
                assert new == _old_positions(tokenizer, problem.prompt, completion, finished)
                assert len(new) == n_step_ends(completion, finished, ";")
                cases += 1
    assert cases > 500
    assert stop_token_ids(tokenizer, ";") == [tokenizer.convert_tokens_to_ids(";")]


def test_bpe_tokens_are_multi_character_and_boundaries_still_right(bpe):
    stops = stop_token_ids(bpe, "\n")
    texts = [bpe.decode([i]) for i in stops]
    assert "\n" in texts and any(len(t) > 1 for t in texts)  # merged newlines exist
    assert all("\n" in t for t in texts)
    assert bpe.eos_token_id not in stops
    prompt = "<|im_start|>user\nHow many?<|im_end|>\n<|im_start|>assistant\n"
    completion = "He buys 5 more.\nSo 3 + 5 = 8 apples.\n#### 8"
    ids = bpe(prompt + completion)["input_ids"]
    assert len(ids) < len(prompt + completion) - 20  # far fewer tokens than characters
    ends = step_end_positions(bpe, prompt, completion, True, "\n")
    assert len(ends) == n_step_ends(completion, True, "\n") == 3
    # each end is the token holding the newline that ends the line, and the text up to and
    # including that token ends exactly one line further than the one before
    encoded = bpe(prompt + completion, return_offsets_mapping=True)["offset_mapping"]
    lines = separator_ends(completion, "\n")
    for position, char in zip(ends[:-1], lines, strict=True):
        start, end = encoded[position]
        assert start <= len(prompt) + char < end
    assert ends[-1] == len(ids)  # the <eos> a finished chain gets


def test_two_separators_in_one_token_give_two_ends(bpe):
    # "\n\n" may be one token: both separators end a step there (counts stay equal)
    completion = "a.\n\nb"
    ends = step_end_positions(bpe, "Q:", completion, False, "\n")
    assert len(ends) == 2 and ends == sorted(ends)


def test_text_helpers():
    assert separator_ends("a\n\nb\n\n\nc", "\n\n") == [2, 5]
    assert step_prefixes("a;b;c", ";") == ["a;", "a;b;"]
    assert step_prefixes("p1\n\np2\n\n", "\n\n") == ["p1\n\n", "p1\n\np2\n\n"]
    with pytest.raises(ValueError):
        separator_ends("x", "")
