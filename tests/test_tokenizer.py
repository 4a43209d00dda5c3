"""Tests for the character-level tokenizer: ids, round trips, save/load, unknown characters."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer

from ttc.tasks import TaskConfig, generate_problems, training_text
from ttc.tokenizer import ALPHABET, SPECIAL_TOKENS, build_tokenizer, encode_document


def test_vocab_layout() -> None:
    tok = build_tokenizer()
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    assert tok.convert_tokens_to_ids(list(SPECIAL_TOKENS)) == [0, 1, 2, 3]
    assert tok.convert_tokens_to_ids(list(ALPHABET)) == list(range(4, 4 + len(ALPHABET)))
    assert len(tok) == 4 + len(ALPHABET)


def test_known_ids() -> None:
    tok = build_tokenizer()
    # '1'->5, '2'->6, '+'->14, '-'->15, '*'->16, '='->17, ';'->18
    assert tok("12+3=")["input_ids"] == [1, 5, 6, 14, 7, 17]
    assert tok("12+3=", add_special_tokens=False)["input_ids"] == [5, 6, 14, 7, 17]
    assert tok("-1*0;", add_special_tokens=False)["input_ids"] == [15, 5, 16, 4, 18]
    assert encode_document(tok, "1=") == [1, 5, 17, 2]


def test_round_trip_over_generated_problems() -> None:
    tok = build_tokenizer()
    problems = generate_problems(TaskConfig(), "train", 50, seed=0)
    texts = [training_text(p) for p in problems]
    batch = tok(texts)["input_ids"]
    for text, ids in zip(texts, batch, strict=True):
        assert len(ids) == len(text) + 1
        assert tok.decode(ids, skip_special_tokens=True) == text
        assert tok.decode(ids[1:]) == text


def test_padding_side() -> None:
    right = build_tokenizer()(["1", "123"], padding=True)["input_ids"]
    left = build_tokenizer(padding_side="left")(["1", "123"], padding=True)["input_ids"]
    assert right[0] == [1, 5, 0, 0]
    assert left[0] == [0, 0, 1, 5]


def test_unknown_characters() -> None:
    tok = build_tokenizer()
    ids = tok("1 a\n2é", add_special_tokens=False)["input_ids"]
    assert ids == [5, 3, 3, 3, 6, 3]
    assert tok.decode(ids, skip_special_tokens=True) == "12"


def test_save_and_reload(tmp_path: Path) -> None:
    tok = build_tokenizer()
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    text = "47+38-25*3=47+38=85;85-25=60;60*3=180"
    assert loaded(text)["input_ids"] == tok(text)["input_ids"]
    assert (
        loaded(text, add_special_tokens=False)["input_ids"]
        == tok(text, add_special_tokens=False)["input_ids"]
    )
    assert loaded.decode(tok(text)["input_ids"], skip_special_tokens=True) == text
    assert (loaded.pad_token_id, loaded.bos_token_id, loaded.eos_token_id) == (0, 1, 2)
    assert loaded.unk_token_id == 3
