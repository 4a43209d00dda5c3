"""Word problems in GSM8K's format: reading answers, grading with math-verify, splitting
steps and loading data sets; malformed model output is wrong, never a crash."""

from __future__ import annotations

import json
import sys

import pytest

from tests.toys import WORD_PROBLEMS
from ttc.config import ConfigError
from ttc.tasks import get_task
from ttc.tasks.word_problems import (
    GSM8K,
    MATH,
    MissingExtra,
    WordProblem,
    answers_match,
    from_gsm8k,
    load_word_problems,
    parse_answer,
    split_lines,
    split_paragraphs,
)

NATALIA = {
    "question": "Natalia sold clips to 48 of her friends in April, and then she sold half as "
                "many clips in May. How many clips did Natalia sell altogether?",
    "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
              "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72",
}


def test_gsm8k_record_becomes_a_problem():
    problem = from_gsm8k(NATALIA)
    assert problem.answer == "72"
    assert problem.level == problem.n_ops == 2  # two reasoning lines
    assert problem.solution == ("Natalia sold 48/2 = 24 clips in May.\n"
                                "Natalia sold 48+24 = 72 clips altogether in April and May.\n"
                                "#### 72")  # calculator annotations removed
    assert problem.prompt == f"Question: {NATALIA['question']}\nAnswer:\n"
    assert from_gsm8k({"question": "q", "answer": "x\n#### 1,500"}).answer == "1500"


@pytest.mark.parametrize(("completion", "answer"), [
    ("a\nb\n#### 72", "72"),
    ("#### 7\nwait\n#### 72", "72"),            # the last marker counts
    ("####72.", "72"),                         # no space, a final period
    ("#### $1,234", "1234"),                   # dollars and thousands commas
    ("so the answer is \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
    ("\\boxed{3} then #### 4", "4"),           # the GSM8K marker wins
    ("no answer here", None),
    ("####   \n", None),                       # an empty answer
    ("\\boxed{unbalanced", None),
    ("", None),
    (None, None),
])
def test_parse_answer(completion, answer):
    assert parse_answer(completion) == answer


@pytest.mark.parametrize(("reference", "answer", "right"), [
    ("72", "72", True),
    ("72", "72.0", True),
    ("72", "144/2", True),
    ("24.5", "49/2", True),
    ("\\frac{1}{2}", "0.5", True),
    ("72", "71", False),
    ("72", None, False),
    ("72", "", False),
    ("72", "seventy-two", False),
    ("72", ")(*&^%$#", False),
    ("72", "9" * 5000, False),                 # a page of digits: bounded, wrong
])
def test_answers_match(reference, answer, right):
    assert answers_match(reference, answer) is right


def test_grade_needs_a_finished_completion_with_the_right_answer():
    problem = from_gsm8k(NATALIA)
    good = "48/2 = 24\n48+24 = 72\n#### 72"
    assert GSM8K.grade(problem, good, True)
    assert not GSM8K.grade(problem, good, False)           # no <eos>: no answer
    for malformed in ["#### ", "72", "#### 7 2 x", "\x00\x01####\n", "#" * 10_000]:
        assert GSM8K.grade(problem, malformed, True) is False  # wrong, never a crash


def test_step_splitters():
    assert split_lines("a\n\n b \nc\n") == ["a", "b", "c"]
    assert split_paragraphs("one\nline\n\ntwo\n\n\n") == ["one\nline", "two"]
    assert split_lines(None) == [] and split_paragraphs(3) == []
    assert GSM8K.separator == "\n" and MATH.separator == "\n\n"
    assert get_task("gsm8k") is GSM8K and get_task("arithmetic").separator == ";"
    with pytest.raises(ConfigError, match="unknown task 'gsm9k'; allowed"):
        get_task("gsm9k")


def test_missing_math_verify_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "math_verify", None)  # import fails
    with pytest.raises(MissingExtra) as err:
        GSM8K.grade(WordProblem("q", "1"), "#### 1", True)
    message = str(err.value)
    assert "\n" not in message and "ttc[llm]" in message and "math-verify" in message


def test_loader_reads_the_fixture_and_a_math_file(tmp_path):
    task, problems = load_word_problems(str(WORD_PROBLEMS))
    assert task is GSM8K and len(problems) == 16
    assert problems[12].answer == "1500" and problems[15].answer == "24.5"
    assert {p.level for p in problems} == {2, 3, 4}
    # every reference solution grades as right against its own problem
    assert all(GSM8K.grade(p, p.solution, True) for p in problems)
    assert len(load_word_problems(str(WORD_PROBLEMS), limit=3)[1]) == 3
    folder = tmp_path / "math500"
    folder.mkdir()
    (folder / "test.jsonl").write_text(json.dumps(
        {"problem": "What is $1/2 + 1/4$?", "solution": "Add.\n\nSo \\boxed{\\frac34}.",
         "answer": "\\frac{3}{4}", "level": 2}) + "\n")
    task, (problem,) = load_word_problems(str(folder))  # a folder holding <split>.jsonl
    assert task is MATH and problem.level == 2
    assert MATH.grade(problem, "Add.\n\nSo \\boxed{0.75}.", True)


@pytest.mark.parametrize(("content", "message"), [
    (None, "no data set at"),
    ('{"question": "q", "answer": "no marker"}\n', "record 1: ValueError"),
    ('{"prompt": "q"}\n', "fields question/answer"),
    ("not json\n", "line 1: not JSON"),
    ("", "no records"),
])
def test_loader_fails_in_one_line(tmp_path, monkeypatch, content, message):
    monkeypatch.setitem(sys.modules, "datasets", None)  # as on a machine without it
    path = tmp_path / "data.jsonl"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as err:
        load_word_problems(str(path))
    assert message in str(err.value) and "\n" not in str(err.value)
