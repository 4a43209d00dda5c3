"""Grade-school and competition word problems (GSM8K, MATH-500) for hub models.

GSM8K's format: a question, then a solution of reasoning lines ending in a line
``#### <answer>``::

    Natalia sold clips to 48 of her friends in April, and then she sold half as many
    clips in May. How many clips did Natalia sell altogether in April and May?
    ---
    Natalia sold 48/2 = <<48/2=24>>24 clips in May.
    Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.
    #### 72

A completion is read the same way: its steps are its lines (``gsm8k``) or paragraphs
(``math``, whose solutions are paragraphs with the answer in ``\\boxed{}``), its final
answer is the text after its last ``####`` (else the last ``\\boxed{...}``), and grading
compares answers as mathematical expressions with ``math-verify`` (``72``, ``72.0``,
``$72`` and ``144/2`` are all 72). ``math-verify`` is the optional extra ``llm``; without it
grading stops with one line naming the extra. Nothing here raises on model output: a
completion with no answer, or an answer that does not parse, is wrong.

No data set ships with the project (none can be downloaded here): :func:`load_word_problems`
reads GSM8K or MATH-500 records from a local ``.jsonl`` file, or from the hub through
``datasets`` where that is installed, and fails in one line naming what it needs otherwise.
The tests use a small fixture written for the project (``tests/data/word_problems.jsonl``).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from ttc.config import ConfigError
from ttc.tasks.base import Task

#: the GSM8K answer marker
ANSWER_MARK = "####"
#: longest answer text handed to the grader (a garbage completion may "answer" a page)
MAX_ANSWER_CHARS = 200
#: what a plain (non-chat) prompt looks like; the completion starts on the next line
PLAIN_PROMPT = "Question: {question}\nAnswer:\n"
#: the instruction a chat model gets before the question, per task
INSTRUCTIONS = {
    "gsm8k": "Solve the problem step by step, one step per line. End with a line "
             "'#### <answer>' that gives only the final number.",
    "math": "Solve the problem step by step, one paragraph per step, separated by blank "
            "lines. Put the final answer in \\boxed{}.",
}


class MissingExtra(ConfigError):
    """An optional dependency is not installed; the message names the extra to install."""


@dataclass(frozen=True)
class WordProblem:
    """One word problem: the question, its reference answer and solution, and the prompt.

    ``level`` is the difficulty the tables call ``n_ops``: the number of reasoning lines of
    the reference solution for GSM8K, the given level (1-5) for MATH-500. ``prompt`` is the
    model's input; :func:`with_prompt` makes a copy for a chat model's template.
    """

    question: str
    answer: str
    solution: str = ""
    level: int = 0
    task: str = "gsm8k"
    prompt: str = ""

    def __post_init__(self) -> None:
        if not self.prompt:
            object.__setattr__(self, "prompt", PLAIN_PROMPT.format(question=self.question))

    @property
    def n_ops(self) -> int:
        return self.level


def with_prompt(problem: WordProblem, prompt: str) -> WordProblem:
    """The same problem with another model input (e.g. rendered by a chat template)."""
    return replace(problem, prompt=prompt)


# -- reading completions ------------------------------------------------------------------------

_CALCULATOR = re.compile(r"<<[^>]*>>")
_MARKED = re.compile(rf"{ANSWER_MARK}[ \t]*([^\n]*)")


def _clean_answer(text: str) -> str | None:
    """An answer as GSM8K writes it: no thousands commas, dollar signs or final period."""
    text = text.strip().replace(",", "").replace("$", "").strip()
    text = text.rstrip(".").strip()
    return text[:MAX_ANSWER_CHARS] or None


def _last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (braces balanced), or None."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, begin = 0, start + len("\\boxed{")
    for i in range(begin - 1, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[begin:i]
    return None  # unbalanced: no answer


def parse_answer(completion: str) -> str | None:
    """The answer a completion states: after its last ``####``, else in its last
    ``\\boxed{}``; None when it states none. Never raises."""
    if not isinstance(completion, str):
        return None
    marked = _MARKED.findall(completion)
    if marked:
        return _clean_answer(marked[-1])
    boxed = _last_boxed(completion)
    return None if boxed is None else _clean_answer(boxed)


def split_lines(completion: str) -> list[str]:
    """Reasoning steps as lines (GSM8K): non-empty lines, stripped. Never raises."""
    if not isinstance(completion, str):
        return []
    return [line.strip() for line in completion.split("\n") if line.strip()]


def split_paragraphs(completion: str) -> list[str]:
    """Reasoning steps as paragraphs (MATH): blocks between blank lines. Never raises."""
    if not isinstance(completion, str):
        return []
    return [block.strip() for block in completion.split("\n\n") if block.strip()]


# -- grading through math-verify ----------------------------------------------------------------

def _math_verify():
    try:
        import math_verify
    except ImportError:
        raise MissingExtra("grading word problems needs math-verify, which is not installed: "
                           "pip install 'ttc[llm]' (or math-verify==0.9.0)") from None
    return math_verify


def _parse_expression(math_verify, text: str, timeout: int | None) -> list:
    """``text`` as math-verify's parsed forms: as LaTeX (between ``$``) first, then as is."""
    for candidate in (f"${text}$", text):
        parsed = math_verify.parse(candidate, parsing_timeout=timeout)
        if parsed:
            return parsed
    return []


def answers_match(reference: str, answer: str | None) -> bool:
    """Whether ``answer`` equals ``reference`` as a mathematical expression (math-verify).

    Missing, empty or unparseable answers are wrong; any error inside the grader counts as
    wrong too (never a crash). Needs the extra ``llm`` (a one-line error names it)."""
    math_verify = _math_verify()
    if answer is None or not str(answer).strip():
        return False
    answer = str(answer)[:MAX_ANSWER_CHARS]
    if answer == reference:
        return True
    # math-verify bounds its work with SIGALRM, which only the main thread may use
    timeout = 5 if threading.current_thread() is threading.main_thread() else None
    try:
        gold = _parse_expression(math_verify, reference, timeout)
        guess = _parse_expression(math_verify, answer, timeout)
        return bool(gold and guess and math_verify.verify(gold, guess, timeout_seconds=timeout))
    except Exception:  # a grader error on model output: wrong, not fatal
        return False


def is_correct(problem: WordProblem, answer: str | None) -> bool:
    """Whether a parsed answer is the problem's reference answer."""
    return answers_match(problem.answer, answer)


def grade(problem: WordProblem, completion: str, finished: bool = True) -> bool:
    """Outcome check: the completion finished (emitted ``<eos>``) and its answer is right."""
    _math_verify()  # a missing extra is an error even for an unfinished completion
    return bool(finished) and is_correct(problem, parse_answer(completion))


GSM8K = Task(name="gsm8k", separator="\n", parse_answer=parse_answer, grade=grade,
             is_correct=is_correct, split_steps=split_lines)
MATH = Task(name="math", separator="\n\n", parse_answer=parse_answer, grade=grade,
            is_correct=is_correct, split_steps=split_paragraphs)


# -- reading data sets --------------------------------------------------------------------------

def from_gsm8k(record: dict) -> WordProblem:
    """A GSM8K record (``question``, ``answer`` = reasoning lines + ``#### answer``)."""
    question, text = str(record["question"]), str(record["answer"])
    if ANSWER_MARK not in text:
        raise ValueError(f"answer has no '{ANSWER_MARK}' line")
    reasoning, _, final = text.rpartition(ANSWER_MARK)
    answer = _clean_answer(final)
    if answer is None:
        raise ValueError(f"empty answer after '{ANSWER_MARK}'")
    lines = split_lines(_CALCULATOR.sub("", reasoning))
    solution = "\n".join([*lines, f"{ANSWER_MARK} {answer}"])
    return WordProblem(question, answer, solution, level=len(lines), task="gsm8k")


def from_math(record: dict) -> WordProblem:
    """A MATH-500 record (``problem``, ``solution``, ``answer``, ``level`` 1-5)."""
    digits = re.findall(r"\d+", str(record.get("level", "0")))
    answer = str(record["answer"]).strip()
    if not answer:
        raise ValueError("empty answer")
    return WordProblem(str(record["problem"]), answer, str(record.get("solution", "")),
                       level=int(digits[0]) if digits else 0, task="math")


def problems_from_records(records, where: str) -> tuple[Task, list[WordProblem]]:
    """Word problems from GSM8K- or MATH-shaped records (the fields say which)."""
    records = list(records)
    if not records:
        raise ConfigError(f"{where}: no records")
    first = records[0]
    if isinstance(first, dict) and {"question", "answer"} <= set(first):
        task, convert = GSM8K, from_gsm8k
    elif isinstance(first, dict) and {"problem", "answer"} <= set(first):
        task, convert = MATH, from_math
    else:
        raise ConfigError(f"{where}: records need the fields question/answer (GSM8K) or "
                          f"problem/answer (MATH-500)")
    problems = []
    for number, record in enumerate(records, 1):
        try:
            problems.append(convert(record))
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"{where}, record {number}: {type(err).__name__}: {err}") from None
    return task, problems


def _read_jsonl(path: Path) -> list[dict]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ConfigError(f"{path}, line {number}: not JSON ({err.msg})") from None
    return records


def load_word_problems(data: str, split: str = "test", limit: int | None = None
                       ) -> tuple[Task, list[WordProblem]]:
    """The task and problems of a GSM8K or MATH-500 data set: a ``.jsonl`` file, a folder
    holding ``<split>.jsonl``, or (where ``datasets`` is installed) a hub id such as
    ``openai/gsm8k``. Fails in one line naming what to provide when none is there."""
    need = (f"no data set at {data!r}: give data=<a GSM8K or MATH-500 .jsonl file, or a "
            f"folder with {split}.jsonl> (or install 'datasets' to read a hub id)")
    if not data:
        raise ConfigError(need)
    path = Path(data).expanduser()
    if path.is_dir():
        path = path / f"{split}.jsonl"
    if path.is_file():
        task, problems = problems_from_records(_read_jsonl(path), str(path))
    else:
        try:
            import datasets
        except ImportError:
            raise ConfigError(need) from None
        try:
            config = "main" if data.rstrip("/").endswith("gsm8k") else None
            records = datasets.load_dataset(data, config, split=split)
        except Exception as err:
            raise ConfigError(f"{need}; the hub gave {type(err).__name__}: {err}"
                              .replace("\n", " ")) from None
        task, problems = problems_from_records(records, data)
    return task, problems[:limit] if limit else problems
