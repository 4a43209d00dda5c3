"""Hub models as policies and scorers: any ``AutoModelForCausalLM`` through the same pipeline.

A *hub model* is anything ``from_pretrained`` loads: a local folder (what every machine of
this project has; nothing can be downloaded here) or, on a machine that reaches a model hub,
an id such as ``Qwen/Qwen2.5-0.5B-Instruct``. :func:`load_policy` loads it with its
tokenizer ready for :func:`ttc.sampling.generate` (left padding, a padding token, the
end-of-turn token as ``<eos>`` for chat models); :func:`render_prompts` gives each problem
the model's own prompt: its chat template around an instruction and the question when it has
one, the plain ``Question: ... Answer:`` format otherwise. A model that cannot be loaded is
one line naming what to provide.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from ttc.config import ConfigError
from ttc.tasks.base import Task
from ttc.tasks.word_problems import INSTRUCTIONS, WordProblem, with_prompt

#: bytes of each weight file hashed into a local model's key (with its size)
KEY_BYTES = 1 << 20


def _need(model: str, reason: str) -> ConfigError:
    return ConfigError(f"cannot load model {model!r} ({reason}); give model=<a local folder "
                       "with a saved causal LM and its tokenizer> (a hub id works only on a "
                       "machine that reaches the hub)")


def _reason(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:200]}" if text else type(err).__name__


def _fix_tokenizer(model, tokenizer) -> None:
    """Left padding, a padding token, and the generation config's end token as ``<eos>``
    (a chat model ends its turn with a token of its own, e.g. ``<|im_end|>``)."""
    tokenizer.padding_side = "left"
    ends = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ends = [ends] if isinstance(ends, int) else list(ends or [])
    if ends and tokenizer.eos_token_id not in ends:
        tokenizer.eos_token = tokenizer.convert_ids_to_tokens(ends[0])
    if tokenizer.eos_token_id is None:
        raise ConfigError("the model's tokenizer has no end-of-sequence token; generation "
                          "could never finish")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token


def load_policy(model: str, device: str = "auto", dtype: str = "auto"):
    """``(model, tokenizer)`` of a causal LM (local folder or hub id) on ``device`` at
    ``dtype`` (``auto``: bfloat16 on CUDA, float32 on the CPU)."""
    from ttc.family.train import load_member

    if not model:
        raise _need(model, "no model given")
    try:
        lm, tokenizer = load_member(model, device=device, dtype=dtype)
    except Exception as err:  # missing folder, no hub, not a causal LM: say what to give
        raise _need(model, _reason(err)) from None
    _fix_tokenizer(lm, tokenizer)
    return lm, tokenizer


def load_scorer(model: str, separator: str, device: str = "auto", dtype: str = "auto",
                kind: str = "prm", batch_size: int = 64):
    """A :class:`ttc.verifiers.LearnedVerifier` from a token-classification model with one
    label (a reward model saved that way, or a causal LM's body with a new head), scoring
    at the task's step ends (``separator``)."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from ttc.devices import resolve_device, resolve_dtype
    from ttc.verifiers import LearnedVerifier

    device = resolve_device(device)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # a new score head is reported as "newly initialised"
    try:
        net = AutoModelForTokenClassification.from_pretrained(
            model, num_labels=1, dtype=resolve_dtype(dtype, device))
        tokenizer = AutoTokenizer.from_pretrained(model)
    except Exception as err:
        raise _need(model, _reason(err)) from None
    finally:
        hf_logging.set_verbosity(verbosity)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    net.config.pad_token_id = tokenizer.pad_token_id
    return LearnedVerifier(net.to(device), tokenizer, kind, batch_size, separator=separator)


def render_prompts(problems: Sequence[WordProblem], tokenizer, task: Task
                   ) -> list[WordProblem]:
    """The problems with the model's prompt: its chat template (an instruction naming the
    task's answer format, then the question) when the tokenizer has one, else the plain
    format. A beginning-of-sequence token the template writes is dropped when the tokenizer
    adds one itself, so the prompt never starts with two."""
    if not getattr(tokenizer, "chat_template", None):
        return list(problems)
    instruction = INSTRUCTIONS.get(task.name, "")
    bos = tokenizer.bos_token
    adds_bos = bos is not None and tokenizer("")["input_ids"][:1] == [tokenizer.bos_token_id]
    out = []
    for problem in problems:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": f"{instruction}\n\n{problem.question}".strip()}],
            add_generation_prompt=True, tokenize=False)
        if adds_bos and text.startswith(bos):
            text = text[len(bos):]
        out.append(with_prompt(problem, text))
    return out


def model_key(model: str) -> str:
    """A short name for a model in cache keys: a local folder's name and a hash of its
    config, its tokenizer files and each weight file's size and first megabyte; a hub id
    as it is (with ``/`` replaced)."""
    path = Path(model).expanduser()
    if not path.is_dir():
        return model.replace("/", "--")
    digest = hashlib.sha256()
    for file in sorted(path.iterdir()):
        if not file.is_file():
            continue
        digest.update(file.name.encode())
        digest.update(str(file.stat().st_size).encode())
        with open(file, "rb") as handle:
            digest.update(handle.read(KEY_BYTES))
    return f"{path.name}-{digest.hexdigest()[:16]}"


def parameter_counts(model) -> dict[str, int]:
    """Total and non-embedding parameters (:func:`ttc.family.specs.count_parameters`)."""
    from ttc.family.specs import count_parameters

    return count_parameters(model)
