"""Generative verifiers (GenRM, Zhang et al. 2024, arXiv:2408.15240): verdicts as tokens.

A family member is fine-tuned with its ordinary language-model loss to *write* a verdict
token after every step of a chain: ``<ok>`` while every step so far is right, ``<bad>``
otherwise (the exact checker's labels, :func:`ttc.verifiers.checker_labels`). Its document
for a chain with steps ``s1; s2; s3<eos>`` is::

    <bos> prompt  s1 ;  [r1] V1  s2 ;  [r2] V2  s3 <eos>  [r3] V3

The chain's tokens are given (no loss on them); the verifier writes the verdicts ``Vi`` and,
for **GenRM-CoT**, first a rationale ``ri``: the step recomputed in its own words, the step it
would write itself continuing from the chain's previous result (``85-25=60`` after a step
``85-25=61``). Training rationales come from the exact checker (:func:`checker_rationales`,
synthetic rationales as in Zhang et al.); at test time the verifier samples its own, ``K``
times, and the checker never runs.

The step score is the probability that the verifier writes ``<ok>`` at every step so far:
with ``<ok>`` teacher-forced after the earlier steps, the product of its verdict probabilities
``P(<ok>) / (P(<ok>) + P(<bad>))`` at each step end up to this one (a ``<bad>`` verdict is
always followed by ``<bad>`` in training, so this is the probability of ``<ok>`` at this step
when the verifier writes its verdicts itself). GenRM-CoT averages it over ``K`` sampled
rationale trajectories. Scores depend on the prefix only, so search reads them like a PRM's.

The verdict tokens extend a copy of the family's tokenizer (:func:`add_verdict_tokens`); the
family's own vocabulary, and hence its checkpoint keys, are untouched. Every token the
verifier processes costs 2·N FLOPs and is counted in ``tokens``: the chain read once per
rationale trajectory, and every rationale and verdict token written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ttc import lean_llama
from ttc.config import config_hash
from ttc.tasks import STEP_SEP, Problem, apply_op, parse_steps
from ttc.tokenizer import ALPHABET
from ttc.verifiers.labels import checker_labels, n_step_ends
from ttc.verifiers.scoring import MemoizedVerifier, right_padded

VERDICT_OK, VERDICT_BAD = "<ok>", "<bad>"
VERDICT_TOKENS = (VERDICT_OK, VERDICT_BAD)
#: characters a rationale may contain: a step without its separator
RATIONALE_CHARS = ALPHABET.replace(STEP_SEP, "")
KINDS = ("genrm", "genrm-cot")


def add_verdict_tokens(tokenizer) -> tuple[int, int]:
    """Add the verdict tokens to ``tokenizer`` (in place, once) and return their ids
    ``(ok, bad)``. Use it on the verifier's own copy of the tokenizer only: the family's
    tokenizer, built by :func:`ttc.tokenizer.build_tokenizer`, never has them."""
    missing = [t for t in VERDICT_TOKENS if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    ok, bad = tokenizer.convert_tokens_to_ids(list(VERDICT_TOKENS))
    return int(ok), int(bad)


def verdict_ids(tokenizer) -> tuple[int, int]:
    """The ids ``(ok, bad)`` of the verdict tokens; a tokenizer without them is an error."""
    vocab = tokenizer.get_vocab()
    if any(t not in vocab for t in VERDICT_TOKENS):
        raise ValueError(f"the tokenizer lacks the verdict tokens {VERDICT_TOKENS}; "
                         "see add_verdict_tokens")
    return vocab[VERDICT_OK], vocab[VERDICT_BAD]


def chain_steps(completion: str, finished: bool) -> list[str]:
    """The text of every step that has an end: pieces ending in ``;``, and for a finished
    chain the last piece (which ends at ``<eos>``). An unfinished tail has no end, no step."""
    pieces = completion.split(STEP_SEP)
    steps = [piece + STEP_SEP for piece in pieces[:-1]]
    return [*steps, pieces[-1]] if finished else steps


def checker_rationales(problem: Problem, completion: str, finished: bool) -> list[str]:
    """The rationale for every step end: the step recomputed from the chain's own previous
    result (the problem's first operand before the first step) with the problem's next
    operation, e.g. ``85-25=60``. Empty where there is nothing to recompute: past the
    problem's last operation, or after a malformed step (whose verdict is ``<bad>``
    anyway). A step is locally right exactly when it equals its rationale."""
    parsed = parse_steps(completion)
    out = []
    for i in range(n_step_ends(completion, finished)):
        previous = problem.first if i == 0 else (
            parsed[i - 1].result if parsed[i - 1] is not None else None)
        if previous is None or i >= problem.n_ops:
            out.append("")
            continue
        op, operand = problem.steps[i]
        out.append(f"{previous}{op}{operand}={apply_op(previous, op, operand)}")
    return out


@dataclass(frozen=True)
class GenerativeExample:
    """One chain with its verdict per step end and, for GenRM-CoT, its rationales."""

    prompt: str
    completion: str
    finished: bool
    verdicts: tuple[bool, ...]
    rationales: tuple[str, ...] | None = None


def generative_examples(problems: Sequence[Problem], samples: pd.DataFrame,
                        rationales: bool) -> list[GenerativeExample]:
    """Training chains for a generative verifier: every sample of the policy (a table as
    written by :func:`ttc.sampling.draw_samples`), its verdicts from the exact checker and,
    with ``rationales``, the checker's rationales."""
    out = []
    for row in samples.itertuples(index=False):
        problem, done = problems[row.problem], bool(row.finished)
        verdicts = tuple(x == 1.0 for x in checker_labels(problem, row.completion, done))
        notes = (tuple(checker_rationales(problem, row.completion, done)) if rationales
                 else None)
        out.append(GenerativeExample(problem.prompt, row.completion, done, verdicts, notes))
    return out


def encode_steps(tokenizer, prompt: str, completion: str, finished: bool
                 ) -> tuple[list[int], list[list[int]]]:
    """The prompt's ids (with ``<bos>``) and each step's ids (ending in ``;`` or ``<eos>``)."""
    prompt_ids = tokenizer(prompt)["input_ids"]
    steps = [tokenizer(text, add_special_tokens=False)["input_ids"]
             for text in chain_steps(completion, finished)]
    if finished:
        steps[-1] = [*steps[-1], tokenizer.eos_token_id]
    return prompt_ids, steps


def verifier_document(tokenizer, example: GenerativeExample) -> tuple[list[int], list[bool]]:
    """The verifier's training document and which of its tokens the verifier writes
    (rationales and verdicts: the tokens the loss is on)."""
    ok, bad = verdict_ids(tokenizer)
    prompt_ids, steps = encode_steps(tokenizer, example.prompt, example.completion,
                                     example.finished)
    if len(steps) != len(example.verdicts):
        raise ValueError(f"example has {len(example.verdicts)} verdicts for {len(steps)} step "
                         f"ends: {example.prompt + example.completion!r}")
    if example.rationales is not None and len(example.rationales) != len(steps):
        raise ValueError(f"example has {len(example.rationales)} rationales for {len(steps)} "
                         f"step ends: {example.prompt + example.completion!r}")
    ids, written = list(prompt_ids), [False] * len(prompt_ids)
    for i, step in enumerate(steps):
        ids += step
        written += [False] * len(step)
        if example.rationales is not None:
            note = tokenizer(example.rationales[i], add_special_tokens=False)["input_ids"]
            ids += note
            written += [True] * len(note)
        ids.append(ok if example.verdicts[i] else bad)
        written.append(True)
    return ids, written


# ---------------------------------------------------------------------------------------------
# Scoring.


class _FullPassFeeder:
    """What :meth:`GenerativeVerifier._trajectories` runs a model on when
    :class:`ttc.lean_llama.RaggedDecoder` cannot (any causal LM that is not a plain Llama):
    the same ``feed``/``keep_rows`` calls, each ``feed`` one full forward pass over every
    row's tokens so far (right-padded, no cache). Slow, but it needs nothing of the model
    beyond ``model(input_ids, attention_mask).logits``."""

    def __init__(self, model: torch.nn.Module, batch: int, pad_id: int, device):
        self.model, self.pad_id = model, pad_id
        self.ids = torch.full((batch, 0), pad_id, dtype=torch.long, device=device)
        self.lengths = torch.zeros(batch, dtype=torch.long, device=device)

    def feed(self, tokens: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """Append the first ``counts[b]`` of ``tokens[b]`` to each row b; next-token logits
        (B, V) after each row's last token."""
        batch, steps = tokens.shape
        end = int((self.lengths + counts).max())
        if end > self.ids.shape[1]:
            extra = self.ids.new_full((batch, end - self.ids.shape[1]), self.pad_id)
            self.ids = torch.cat([self.ids, extra], dim=1)
        offsets = torch.arange(steps, device=tokens.device)
        real = offsets[None, :] < counts[:, None]
        rows = torch.arange(batch, device=tokens.device)[:, None].expand(batch, steps)
        self.ids[rows[real], (self.lengths[:, None] + offsets)[real]] = tokens[real]
        self.lengths = self.lengths + counts
        mask = torch.arange(end, device=tokens.device)[None, :] < self.lengths[:, None]
        logits = self.model(input_ids=self.ids, attention_mask=mask.long()).logits
        return logits[torch.arange(batch, device=tokens.device), (self.lengths - 1).clamp(min=0)]

    def keep_rows(self, rows: torch.Tensor) -> None:
        """Drop every batch row not in ``rows``."""
        self.ids, self.lengths = self.ids.index_select(0, rows), self.lengths.index_select(0, rows)


def _fed(rows: Sequence[Sequence[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of ids right-padded, and how many of each row are real: a ``feed``'s arguments."""
    ids, mask = right_padded(rows, pad_id)
    return ids.to(device), mask.sum(dim=1).to(device)


class GenerativeVerifier(MemoizedVerifier):
    """Step scores from a GenRM's verdict tokens (see the module docstring).

    ``max_rationale_tokens`` 0 is GenRM (the verdict right after each step end; one
    deterministic pass, so ``n_rationales`` must be 1); above 0, GenRM-CoT: ``n_rationales``
    rationale trajectories per chain are sampled at ``temperature``, each rationale ending at
    the first token that is not a rationale character (normally the verdict) or after
    ``max_rationale_tokens`` tokens. Trajectory j of a chain draws from its own random
    stream, seeded by ``(seed, chain, j)``, so a chain's scores do not depend on which chains
    are scored with it. ``model`` is any causal LM whose tokenizer has the verdict tokens
    (:func:`ttc.verifiers.generative_train.load_generative_verifier`); a plain Llama runs on
    :class:`ttc.lean_llama.RaggedDecoder`, anything else on slow full forward passes.

    With ``per_trajectory`` a chain's scores are not averaged: each is a (K, steps) array,
    row j trajectory j's running product. Because trajectory j's stream does not depend on
    K, the mean of its first k rows equals the scores of the same verifier with
    ``n_rationales = k``: one pass at the largest K serves every smaller K.
    """

    def __init__(self, model: torch.nn.Module, tokenizer, n_rationales: int = 1,
                 max_rationale_tokens: int = 0, temperature: float = 1.0, seed: int = 0,
                 batch_size: int = 256, max_cached: int = 1_000_000, kind: str | None = None,
                 per_trajectory: bool = False):
        if n_rationales < 1:
            raise ValueError(f"n_rationales must be >= 1, got {n_rationales}")
        if max_rationale_tokens < 0:
            raise ValueError(f"max_rationale_tokens must be >= 0, got {max_rationale_tokens}")
        if max_rationale_tokens == 0 and n_rationales != 1:
            raise ValueError("without rationales (max_rationale_tokens=0) the verdicts are "
                             f"deterministic: n_rationales must be 1, got {n_rationales}")
        if temperature <= 0 and n_rationales != 1:
            raise ValueError("greedy rationales (temperature 0) are all the same: "
                             f"n_rationales must be 1, got {n_rationales}")
        super().__init__(batch_size, max_cached)
        self.model, self.tokenizer = model.eval(), tokenizer
        self.n_rationales, self.max_rationale_tokens = n_rationales, max_rationale_tokens
        self.temperature, self.seed = temperature, seed
        self.per_trajectory = per_trajectory
        self.kind = kind or ("genrm-cot" if max_rationale_tokens else "genrm")
        self.ok_id, self.bad_id = verdict_ids(tokenizer)
        vocab = tokenizer.get_vocab()
        self.rationale_ids = torch.tensor(sorted(vocab[c] for c in RATIONALE_CHARS))

    @torch.no_grad()
    def _score_chunk(self, chunk):
        k = self.n_rationales
        encoded = [encode_steps(self.tokenizer, *key) for key in chunk]
        todo = [c for c, (_, steps) in enumerate(encoded) if steps]  # others: nothing to judge
        empty = np.zeros((k, 0)) if self.per_trajectory else np.zeros(0)
        out = [empty for _ in chunk]
        if not todo:
            return out
        plans = [encoded[c] for c in todo for _ in range(k)]
        if self.max_rationale_tokens:  # one random stream per chain and trajectory
            seeds = [int(config_hash((self.seed, chunk[c], j))[:8], 16)
                     for c in todo for j in range(k)]
            runs = self._trajectories(plans, seeds)
        else:
            runs = self._one_pass(plans)
        for j, c in enumerate(todo):
            mine = np.asarray(runs[j * k : (j + 1) * k], dtype=float)  # (K, steps)
            out[c] = mine if self.per_trajectory else mine.mean(axis=0)
        return out

    @torch.no_grad()
    def _one_pass(self, plans: list[tuple[list[int], list[list[int]]]]) -> list[list[float]]:
        """Without rationales nothing is sampled: every verdict position is known, so one
        teacher-forced pass over ``prompt s1 <ok> s2 <ok> ... sn`` gives the same running
        products as :meth:`_trajectories`, at the cost of one forward pass."""
        device = next(self.model.parameters()).device
        documents, where = [], []
        for prompt, steps in plans:
            document, ends = list(prompt), []
            for i, step in enumerate(steps):
                document += step
                ends.append(len(document) - 1)  # the step end predicts the verdict
                if i + 1 < len(steps):
                    document.append(self.ok_id)
            documents.append(document)
            where.append(ends)
        ids, mask = right_padded(documents, self.tokenizer.pad_token_id)
        logits = self.model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        p_ok = torch.sigmoid(logits[..., self.ok_id].float() - logits[..., self.bad_id].float())
        p_ok = p_ok.cpu().double().numpy()
        self.tokens.read += sum(len(d) for d in documents) - sum(len(s) - 1 for _, s in plans)
        self.tokens.written += sum(len(s) for _, s in plans)
        return [np.cumprod(p_ok[r, ends]).tolist() for r, ends in enumerate(where)]

    def _uniforms(self, seeds: Sequence[int], width: int) -> torch.Tensor:
        """``width`` uniform draws in [0, 1) per row (R, width), row r's from its own
        generator seeded ``seeds[r]``: a row's rationales do not depend on its batch."""
        out = torch.empty((len(seeds), width), dtype=torch.float64)
        for r, seed in enumerate(seeds):
            out[r] = torch.rand(width, generator=torch.Generator().manual_seed(seed),
                                dtype=torch.float64)
        return out

    def _next_tokens(self, logits: torch.Tensor, uniforms: torch.Tensor | None) -> torch.Tensor:
        """Each row's next rationale token (B,): the most likely one at temperature 0, else
        sampled at ``temperature`` by inverting its cumulative distribution at the row's next
        uniform draw (B,)."""
        if uniforms is None:
            return logits.argmax(dim=-1).cpu()
        probs = torch.softmax(logits.cpu().double() / self.temperature, dim=-1)
        cumulative = probs.cumsum(dim=-1)
        targets = (uniforms * cumulative[:, -1])[:, None]
        picked = torch.searchsorted(cumulative, targets, right=True).squeeze(1)
        return picked.clamp(max=logits.shape[-1] - 1)

    @torch.no_grad()
    def _trajectories(self, plans: list[tuple[list[int], list[list[int]]]],
                      seeds: Sequence[int]) -> list[list[float]]:
        """Every row's rationale trajectory, in rounds, one per chain step: the rows still
        in the batch read step i (after the ``<ok>`` of their previous verdict) in one pass,
        then write their rationales together, one token per pass, until every row has
        reached its verdict (the first token that is not a rationale character, or the cut
        at ``max_rationale_tokens``); rows whose chain has no further step then leave the
        batch. Row r samples from its own stream, seeded ``seeds[r]``, so its trajectory is
        the same in any batch (up to the last bits of the batched arithmetic). Returns each
        row's running product of verdict probabilities per step end."""
        model, device = self.model, next(self.model.parameters()).device
        pad, limit = self.tokenizer.pad_token_id, self.max_rationale_tokens
        n_steps = torch.tensor([len(steps) for _, steps in plans], dtype=torch.long)
        runs: list[list[float]] = [[] for _ in plans]
        rows = torch.nonzero(n_steps > 0).squeeze(1)  # the plan of every batch row
        if len(rows) == 0:
            return runs
        most = int(n_steps.max())
        uniforms = (self._uniforms([seeds[r] for r in rows.tolist()], most * (limit + 1))
                    if self.temperature > 0 else None)
        drawn = torch.zeros(len(rows), dtype=torch.long)  # each row's draws so far
        prompts = [plans[r][0] for r in rows.tolist()]
        longest = max(len(p) + sum(map(len, s)) + len(s) for p, s in plans)
        feeder = (lean_llama.RaggedDecoder(model, len(rows), longest + limit, device)
                  if lean_llama.supports(model) else _FullPassFeeder(model, len(rows), pad,
                                                                     device))
        feeder.feed(*_fed(prompts, pad, device))
        self.tokens.read += sum(map(len, prompts))
        for i in range(most):
            steps = [plans[r][1][i] for r in rows.tolist()]
            self.tokens.read += sum(map(len, steps))
            logits = feeder.feed(*_fed([[self.ok_id, *s] if i else s for s in steps], pad,
                                       device)).float()
            thinking = torch.ones(len(rows), dtype=torch.bool)
            verdicts = torch.zeros(len(rows))
            for thought in range(limit + 1):
                p_ok = torch.sigmoid(logits[:, self.ok_id] - logits[:, self.bad_id]).cpu()
                draws = (None if uniforms is None else  # rows not thinking: any draw
                         uniforms.gather(1, drawn.clamp(max=uniforms.shape[1] - 1)[:, None])[:, 0])
                sampled = self._next_tokens(logits, draws)
                drawn += thinking.long()
                self.tokens.written += int(thinking.sum())  # a rationale token or the verdict
                more = thinking & torch.isin(sampled, self.rationale_ids) & (thought < limit)
                verdicts = torch.where(thinking & ~more, p_ok, verdicts)
                thinking = more
                if not bool(more.any()):
                    break
                logits = feeder.feed(sampled[:, None].to(device), more.long().to(device)).float()
            for b, r in enumerate(rows.tolist()):
                runs[r].append((runs[r][-1] if runs[r] else 1.0) * float(verdicts[b]))
            stay = n_steps[rows] > i + 1
            if not bool(stay.all()):
                keep = torch.nonzero(stay).squeeze(1)
                feeder.keep_rows(keep.to(device))
                rows, drawn = rows[keep], drawn[keep]
                if uniforms is not None:
                    uniforms = uniforms[keep]
        return runs
