"""Deterministic toy step policies for testing search and verifier labels without a model."""

from __future__ import annotations

import random
from pathlib import Path

from ttc.sampling import Completion
from ttc.tasks import STEP_SEP, Problem, parse_steps


class ToyPolicy:
    """Writes the problem's chain one step at a time; each step is right with probability
    ``p_correct`` (else its result is off by one), so the value of a right prefix with ``r``
    steps left is ``p_correct ** r`` and a wrong prefix is worth 0 (it stays off by one).

    Greedy (temperature 0) always writes the right step. Token counts are characters + 1.
    """

    def __init__(self, problems: list[Problem], p_correct: float = 0.5):
        self.by_prompt = {p.prompt: p for p in problems}
        self.p_correct = p_correct
        self.calls: list[int] = []  # rows per next_steps call

    def _step(self, problem: Problem, prefix: str, rng: random.Random,
              temperature: float) -> Completion:
        done = [s for s in parse_steps(prefix) if s is not None]
        i = len(done)
        left = done[-1].result if done else problem.first
        op, right = problem.steps[i]
        result = {"+": left + right, "-": left - right, "*": left * right}[op]
        if temperature > 0 and rng.random() >= self.p_correct:
            result += 1
        text = f"{left}{op}{right}={result}"
        last = i + 1 == problem.n_ops
        if last:
            return Completion(text, len(text) + 1, finished=True)
        return Completion(text + STEP_SEP, len(text) + 1, finished=False, stopped=True)

    def next_steps(self, prompts, prefixes, temperature, seed):
        rng = random.Random(seed)
        self.calls.append(len(prompts))
        return [self._step(self.by_prompt[p], c, rng, temperature)
                for p, c in zip(prompts, prefixes, strict=True)]

    def complete(self, prompts, prefixes, temperature, seed):
        rng = random.Random(seed)
        out = []
        for prompt, prefix in zip(prompts, prefixes, strict=True):
            text, tokens = "", 0
            while True:
                step = self._step(self.by_prompt[prompt], prefix + text, rng, temperature)
                text, tokens = text + step.text, tokens + step.n_tokens
                if step.finished:
                    break
            out.append(Completion(text, tokens, finished=True))
        return out


# -- module-level jobs for tests/test_parallel.py (worker processes import them) -------------

def parallel_job_square(item):
    """An int squared; a (seed, size) pair: the sum of a seeded matrix product, as a float."""
    if isinstance(item, tuple):
        import torch

        seed, size = item
        generator = torch.Generator().manual_seed(seed)
        a = torch.randn(size, size, generator=generator)
        return float((a @ a).sum())
    return item * item


def parallel_job_threads(_item) -> int:
    """The number of torch threads the job runs with."""
    import torch

    return torch.get_num_threads()


def parallel_job_fails_on(item: int) -> int:
    if item == 2:
        raise ValueError(f"job {item} failed")
    return item


def parallel_job_pid(_item) -> int:
    """The id of the process that runs the job (after a short pause, so that both workers
    take a job)."""
    import os
    import time

    time.sleep(0.2)
    return os.getpid()


def parallel_job_sleep(pid_file: str) -> None:
    """Record this process's id, then sleep far longer than any test waits."""
    import os
    import time

    with open(pid_file, "a") as out:
        out.write(f"{os.getpid()}\n")
    time.sleep(300)


# -- tiny hub models -----------------------------------------------------------------------------

WORD_PROBLEMS = Path(__file__).parent / "data" / "word_problems.jsonl"
#: a Qwen-style chat template (enough to exercise the chat path)
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


#: Qwen2's pre-tokenizer pattern: digits one by one, punctuation with the newlines after it
#: (``".\n"`` is one piece), words with the space before them
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                 r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def word_problem_tokenizer(chat: bool):
    """A byte-level BPE tokenizer (about 400 tokens) trained on the fixture's text with
    Qwen2's pre-tokenizer: merges put newlines inside longer tokens (``".\n"``), so nothing
    may assume a character per token."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from ttc.tasks.word_problems import PLAIN_PROMPT, load_word_problems

    _, problems = load_word_problems(str(WORD_PROBLEMS))
    texts = [PLAIN_PROMPT.format(question=p.question) + p.solution for p in problems]
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator(texts * 4, trainer)
    eos = "<|im_end|>" if chat else "<|endoftext|>"
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=eos,
                                        pad_token="<|endoftext|>",
                                        clean_up_tokenization_spaces=False)
    if chat:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_hub_model(folder: Path, kind: str, seed: int = 0) -> Path:
    """A randomly initialised ``llama`` (no chat template) or ``qwen2`` (chat template)
    causal LM with a fixture-trained tokenizer, saved into ``folder`` like a hub model."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    tokenizer = word_problem_tokenizer(chat=kind == "qwen2")
    config = AutoConfig.for_model(
        kind, vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
        num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
        max_position_embeddings=512, tie_word_embeddings=False,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def fit_to_fixture(folder: Path, steps: int = 120, lr: float = 1.5e-2) -> Path:
    """Train the saved model in ``folder`` on the fixture's solutions, in its own prompt
    format, until greedy decoding reproduces them; saved in place. A policy that solves
    the problems lets the end-to-end tests check real grades, not just shapes."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ttc.hub import render_prompts
    from ttc.tasks.word_problems import GSM8K, load_word_problems

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    _, problems = load_word_problems(str(WORD_PROBLEMS))
    docs = []
    for problem in render_prompts(problems, tokenizer, GSM8K):
        prompt = tokenizer(problem.prompt)["input_ids"]
        answer = tokenizer(problem.solution, add_special_tokens=False)["input_ids"]
        docs.append((prompt, [*answer, tokenizer.eos_token_id]))
    width = max(len(p) + len(a) for p, a in docs)
    ids = torch.full((len(docs), width), tokenizer.pad_token_id)
    labels = torch.full((len(docs), width), -100)
    mask = torch.zeros((len(docs), width), dtype=torch.long)
    for row, (prompt, answer) in enumerate(docs):
        n = len(prompt) + len(answer)
        ids[row, :n] = torch.tensor(prompt + answer)
        labels[row, len(prompt):n] = torch.tensor(answer)
        mask[row, :n] = 1
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    model.save_pretrained(folder)
    return folder
