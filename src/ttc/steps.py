"""Reasoning-step boundaries in text and in tokens, for any tokenizer.

A task names the text that ends a step (its ``separator``: ``;`` for the arithmetic chains,
a newline for GSM8K's lines, a blank line for MATH's paragraphs). Search and the verifiers
need those boundaries as *tokens*: which generated tokens may end a step (to stop
generation there) and which position of an encoded chain holds a step's end (where a
verifier reads its score). With the family's character tokenizer a separator is one token;
a hub tokenizer merges it with its neighbours (``".\\n"``, ``"\\n\\n"``, ``"\\nThe"``) and
may split a multi-character separator over two tokens. Everything here works from the
text and the tokenizer's character offsets, so it assumes neither.

Conventions: a step ends at every non-overlapping occurrence of the separator (so
``completion.count(separator)`` ends, the same count for text and tokens), at the token
holding the separator's last character; a finished chain has one more end, its ``<eos>``.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

__all__ = [
    "n_step_ends",
    "separator_ends",
    "step_end_positions",
    "step_prefixes",
    "stop_token_ids",
    "token_counts",
]


def separator_ends(text: str, separator: str) -> list[int]:
    """Index in ``text`` of the last character of every non-overlapping ``separator``."""
    if not separator:
        raise ValueError("separator must be a non-empty string")
    ends, start = [], 0
    while (found := text.find(separator, start)) >= 0:
        start = found + len(separator)
        ends.append(start - 1)
    return ends


def n_step_ends(completion: str, finished: bool, separator: str) -> int:
    """How many scores a chain gets: one per separator, plus one at ``<eos>`` if finished."""
    return completion.count(separator) + int(finished)


def step_prefixes(completion: str, separator: str) -> list[str]:
    """The completion cut after each separator: ``"a;b;c"`` gives ``["a;", "a;b;"]``."""
    return [completion[: end + 1] for end in separator_ends(completion, separator)]


def stop_token_ids(tokenizer, separator: str) -> list[int]:
    """Every (non-special) token whose text contains the separator's last character: the
    tokens after which a step may have ended. For a one-character separator that is one
    token per spelling of it; a longer separator needs the caller to check the text (a
    step ends only once the whole separator is there)."""
    last = separator[-1]
    special = set(tokenizer.all_special_ids)
    ids = range(len(tokenizer))
    texts = tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=False,
                                   clean_up_tokenization_spaces=False)
    return [i for i, text in zip(ids, texts, strict=True) if last in text and i not in special]


def step_end_positions(tokenizer, prompt: str, completion: str, finished: bool,
                       separator: str) -> list[int]:
    """Positions in the verifier's ids (``prompt + completion`` encoded, plus ``<eos>`` if
    finished) where the completion's steps end: the token holding each separator's last
    character, then the final ``<eos>``. Uses the tokenizer's character offsets, so a
    separator merged into a longer token, or spread over two, is found all the same."""
    encoded = tokenizer(prompt + completion, return_offsets_mapping=True)
    n_ids = len(encoded["input_ids"])
    special = set(tokenizer.all_special_ids)
    # tokens that cover text (special tokens added by the template cover none), by start
    starts, positions = [], []
    for position, (token, (start, end)) in enumerate(zip(encoded["input_ids"],
                                                         encoded["offset_mapping"],
                                                         strict=True)):
        if end > start or token not in special:
            starts.append(start)
            positions.append(position)
    ends = []
    for char in separator_ends(completion, separator):
        at = len(prompt) + char
        # the last token starting at or before the character holds it (offsets increase)
        index = max(0, bisect.bisect_right(starts, at) - 1)
        ends.append(positions[index])
    if finished:
        ends.append(n_ids)  # the <eos> the verifier appends
    return ends


def token_counts(tokenizer, texts: Sequence[str]) -> list[int]:
    """Tokens each text takes when continued by the model (no special tokens added)."""
    return [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
