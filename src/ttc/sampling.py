"""Batched generation from any ``transformers`` causal LM, with exact token counts.

One loop serves greedy decoding (temperature 0) and sampling (temperature / top-p). Prompts are
left-padded into batches of similar length, the KV cache is reused between steps, and a row
stops at ``<eos>`` or at ``max_new_tokens``; every completion records how many tokens it
generated, so inference FLOPs (2·N per token) are exact.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ttc import fused_decode, lean_llama
from ttc.parallel import bar_row

SAMPLES_TABLE = "samples.parquet"
#: a temporary shard folder untouched this long was left by a killed worker
STALE_SECONDS = 600.0


@dataclass(frozen=True)
class Completion:
    """One generated continuation of a prompt."""

    text: str  # decoded continuation, special tokens removed (a stop token is kept)
    n_tokens: int  # tokens generated, the final <eos> or stop token included
    finished: bool  # True if the model emitted <eos> before the limit
    stopped: bool = False  # True if the row ended at one of ``stop_token_ids``
    #: summed log-probability of the ``n_tokens`` generated tokens under the model itself
    #: (untempered, whatever the sampling temperature): kept from the logits the sampler
    #: computes anyway, so the policy's likelihood of its own sample costs no extra pass
    logprob: float = field(default=float("nan"), compare=False)


def _sample_next(
    logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator | None
) -> torch.Tensor:
    """Pick the next token for each row of ``logits`` (B, V): argmax or nucleus sampling."""
    if temperature == 0.0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)  # (B, V)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        # keep the smallest prefix whose mass reaches top_p (always at least one token)
        drop = sorted_probs.cumsum(dim=-1) - sorted_probs >= top_p
        sorted_probs = sorted_probs.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate(
    model: torch.nn.Module,
    tokenizer,
    prompts: Sequence[str],
    max_new_tokens: int,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int = 0,
    batch_size: int = 256,
    progress: bool = False,
    backend: str = "auto",
    stop_token_ids: Sequence[int] = (),
) -> list[Completion]:
    """Generate one completion per prompt (repeat a prompt in ``prompts`` for more samples).

    Deterministic for a given seed, batch size, prompt order and backend. The prompt is encoded
    with the tokenizer's default special tokens (``<bos>`` first for the family's tokenizer).
    ``backend``: ``"lean"`` (:mod:`ttc.lean_llama`, plain Llama models only), ``"hf"`` (the
    model's own forward with its KV cache; any causal LM), or ``"auto"`` (lean when supported).
    Greedy outputs are the same with either; sampled ones differ (the random stream is
    consumed differently). ``stop_token_ids`` end a row like ``<eos>`` but stay in the text
    (search uses the step separator to generate one reasoning step at a time).
    """
    if backend not in ("auto", "lean", "hf"):
        raise ValueError(f"backend must be 'auto', 'lean' or 'hf', got {backend!r}")
    if backend == "lean" and not lean_llama.supports(model):
        raise ValueError("backend 'lean' needs a plain LlamaForCausalLM; use 'hf' or 'auto'")
    use_lean = backend == "lean" or (backend == "auto" and lean_llama.supports(model))
    decode = _decode_batch_lean if use_lean else _decode_batch
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    model.eval()
    device = next(model.parameters()).device
    eos_id, pad_id = tokenizer.eos_token_id, tokenizer.pad_token_id
    ends = torch.tensor([eos_id, *stop_token_ids], dtype=torch.long, device=device)
    encoded = [tokenizer(p)["input_ids"] for p in prompts]
    # sort by length so each batch pads little; results are returned in the input order
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
    generator = torch.Generator(device=device).manual_seed(seed) if temperature > 0 else None
    results: list[Completion | None] = [None] * len(prompts)
    batches = range(0, len(order), batch_size)
    for start in tqdm(batches, desc="generate", disable=not progress, leave=False):
        rows = order[start : start + batch_size]
        width = max(len(encoded[i]) for i in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):  # left padding: prompts end at the same column
            ids[r, width - len(encoded[i]) :] = torch.tensor(encoded[i])
            mask[r, width - len(encoded[i]) :] = 1
        tokens, logprob = decode(model, ids.to(device), mask.to(device), max_new_tokens,
                                 temperature, top_p, generator, ends, pad_id)
        stops = set(stop_token_ids)
        for r, i in enumerate(rows):
            row = tokens[r].tolist()
            end = next((j for j, t in enumerate(row) if t == eos_id or t in stops), None)
            n = len(row) if end is None else end + 1
            finished = end is not None and row[end] == eos_id
            text = tokenizer.decode(row[: n - 1 if finished else n], skip_special_tokens=True)
            results[i] = Completion(text=text, n_tokens=n, finished=finished,
                                    stopped=end is not None and not finished,
                                    logprob=float(logprob[r]))
    return results  # type: ignore[return-value]


def _cache_keyword(model) -> str:
    """Name of the KV-cache argument: ``cache`` in recent transformers, else the older name."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _cache_of(out) -> object:
    return out["cache"] if "cache" in out else out["past_key_values"]


def _token_logprob(logits: torch.Tensor, token: torch.Tensor) -> torch.Tensor:
    """log p(token) under the untempered ``logits`` (B, V) of each row (B,)."""
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, token[:, None]).squeeze(-1)


def _decode_batch(model, ids, mask, max_new_tokens, temperature, top_p, generator, ends, pad_id):
    """Autoregressive loop for one left-padded batch; returns the generated ids (B, T_new)
    and each row's summed log-probability of them (B,), up to its end token."""
    batch = ids.shape[0]
    cache_kw = _cache_keyword(model)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # (B, T): pads get position 0
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
    past = _cache_of(out)
    next_pos = positions[:, -1:] + 1  # (B, 1)
    done = torch.zeros(batch, dtype=torch.bool, device=ids.device)
    generated = []
    logprob = torch.zeros(batch, dtype=torch.float64, device=ids.device)
    logits = out.logits[:, -1, :]  # (B, V)
    for _ in range(max_new_tokens):
        token = _sample_next(logits, temperature, top_p, generator)  # (B,)
        logprob += torch.where(done, 0.0, _token_logprob(logits, token).double())
        token = torch.where(done, torch.full_like(token, pad_id), token)
        generated.append(token)
        done |= torch.isin(token, ends)
        if bool(done.all()):
            break
        mask = torch.cat([mask, mask.new_ones(batch, 1)], dim=-1)  # (B, T+1)
        out = model(input_ids=token.unsqueeze(-1), attention_mask=mask, position_ids=next_pos,
                    use_cache=True, **{cache_kw: past})
        past, next_pos = _cache_of(out), next_pos + 1
        logits = out.logits[:, -1, :]
    return torch.stack(generated, dim=1), logprob  # (B, T_new), (B,)


#: the lean loops stop computing finished rows once this share of the sampled rows has finished
COMPACT_AT = 0.25


def _draw(logits, rows, finished, out, logprob, step, temperature, top_p, generator, ends):
    """One step's tokens for the sampled rows (B_active,) from their ``logits``: each live
    row's token and log-probability recorded under its original row (``rows``) in ``out``
    and ``logprob``, and ``finished`` updated in place. A finished row still draws (its
    token unused), so that the random stream does not depend on when rows finish."""
    token = _sample_next(logits, temperature, top_p, generator)  # (B_active,)
    live = ~finished
    out[rows[live], step] = token[live]
    logprob[rows[live]] += _token_logprob(logits, token)[live].double()
    finished |= torch.isin(token, ends)
    return token


def _compaction(finished: torch.Tensor) -> torch.Tensor | None:
    """The sampled rows to keep (the unfinished ones) once :data:`COMPACT_AT` of them have
    finished; None before."""
    if finished.float().mean() < COMPACT_AT:
        return None
    return (~finished).nonzero().squeeze(1)


def _decode_batch_lean(model, ids, mask, max_new_tokens, temperature, top_p, generator, ends,
                       pad_id):
    """The same loop on :mod:`ttc.lean_llama`'s decoders, dropping finished rows (a batch that
    repeats its prompts shares their keys and values, with the compiled step on CPU:
    :func:`ttc.fused_decode.decoder_for`)."""
    batch = ids.shape[0]
    out = torch.full((batch, max_new_tokens), pad_id, dtype=torch.long, device=ids.device)
    logprob = torch.zeros(batch, dtype=torch.float64, device=ids.device)  # per original row
    decoder = fused_decode.decoder_for(model, ids, mask, max_new_tokens)
    if getattr(decoder, "forks_rows", False) and batch >= MIN_STEP_ROWS:
        return _decode_states(decoder, ids, out, logprob, max_new_tokens, temperature, top_p,
                              generator, ends)
    rows = torch.arange(batch, device=ids.device)  # original row of each decoder row
    finished = torch.zeros(batch, dtype=torch.bool, device=ids.device)  # per decoder row
    logits = decoder.prefill(ids)  # (B, V)
    for step in range(max_new_tokens):
        token = _draw(logits, rows, finished, out, logprob, step, temperature, top_p,
                      generator, ends)  # (B_active,)
        if bool(finished.all()) or step + 1 == max_new_tokens:
            break
        if (keep := _compaction(finished)) is not None:  # stop computing finished rows
            decoder.keep_rows(keep)
            rows, token, finished = rows[keep], token[keep], finished[keep]
        logits = decoder.step(token)
    return out, logprob  # (B, max_new_tokens): an unfinished row has run to the limit; (B,)


#: the fewest rows :func:`_decode_states` steps at once (padding with copies): MKL multiplies
#: 1, 2 or 3 rows with other kernels than 4 or more, which round differently, so a state's
#: logits would depend on how many states there are; from 4 rows on, a row's result depends
#: on its own inputs only (tests/test_fused_decode.py checks the whole step)
MIN_STEP_ROWS = 4


def _state_slots(parent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the next step's states go in the decoder, copying few rows.

    ``parent`` (S,) is the decoder row each next state continues, non-decreasing (the sorted
    distinct (state, token) pairs). The first child of a parent keeps its parent's row; the
    other children (forks), and the first children of parents whose row lies past the new
    end (S rows), take the rows left free within it (those of states that ended). Returns
    ``rows`` (S,), the decoder row each new row reads (what :meth:`keep_rows` takes, and
    :func:`ttc.fused_decode.keeps_in_place` accepts), and ``slot`` (S,), each state's new
    row."""
    count = len(parent)
    first = torch.ones(count, dtype=torch.bool)
    first[1:] = parent[1:] != parent[:-1]
    firsts = first.nonzero().squeeze(1)
    stays = parent[firsts] < count  # first children whose parent's row is within the new end
    slot = torch.empty(count, dtype=torch.long)
    slot[firsts[stays]] = parent[firsts[stays]]
    taken = torch.zeros(count, dtype=torch.bool)
    taken[parent[firsts[stays]]] = True
    movers = torch.cat([(~first).nonzero().squeeze(1), firsts[~stays]])
    slot[movers] = (~taken).nonzero().squeeze(1)
    rows = torch.empty(count, dtype=torch.long)
    rows[slot] = parent
    return rows, slot


def _decode_states(decoder, ids, out, logprob, max_new_tokens, temperature, top_p, generator,
                   ends):
    """:func:`_decode_batch_lean`'s loop with rows that have generated the same tokens so far
    computed once.

    Samples of one prompt often agree on their first tokens: in the book's samples, summed
    over the steps, the rows still generating hold 15 (f128x4) to 78 (f32x2) distinct
    histories per 100 rows. Rows with equal histories have equal keys, values and logits,
    so the decoder holds one row per
    distinct history (a *state*) and steps only those; each row reads its state's logits, so
    every row still samples its own token from the same random stream, in the same order,
    as when every row is computed. After sampling, each distinct (state, token) becomes a
    state of the next step: a state kept by one token moves on, one that several tokens
    continue forks (its caches copied, :meth:`ttc.fused_decode.FusedSharedDecoder.keep_rows`).
    The rows sampled are those of :func:`_decode_batch_lean`'s loop, compacted at the same
    steps (the random stream draws for every row sampled, finished or not).

    Needs a decoder whose rows do not affect each other's results, so that a state's logits
    are bit for bit those its rows would get each on their own: the compiled step on one
    thread (as the book's sampling workers run, :mod:`ttc.parallel`) with at least
    :data:`MIN_STEP_ROWS` rows. On several threads a row's rounding depends on how the
    batch is split between them, merged or not."""
    device = ids.device
    rows = torch.arange(ids.shape[0], device=device)  # original row of each sampled row
    finished = torch.zeros(ids.shape[0], dtype=torch.bool, device=device)
    logits = decoder.prefill(ids)  # (B, V): the rows of one prompt share their logits
    state = decoder.group.clone()  # (B,) each row's state: at first, its prompt
    # one decoder row per prompt (nothing generated yet to copy)
    decoder.keep_rows(lean_llama.first_rows(state))
    vocab = logits.shape[-1]
    for step in range(max_new_tokens):
        token = _draw(logits, rows, finished, out, logprob, step, temperature, top_p,
                      generator, ends)  # (B_active,)
        if bool(finished.all()) or step + 1 == max_new_tokens:
            break
        if (keep := _compaction(finished)) is not None:  # as _decode_batch_lean compacts
            rows, token, finished, state = rows[keep], token[keep], finished[keep], state[keep]
        live = ~finished
        # the next states: the distinct (state, token) pairs of the live rows, sorted
        pair, child = torch.unique(state[live] * vocab + token[live], return_inverse=True)
        parent, next_token = pair // vocab, pair % vocab
        rows_kept, slot = _state_slots(parent)
        pad = max(0, MIN_STEP_ROWS - len(slot))  # copies of the first row, never read
        by_slot = torch.empty_like(next_token)
        by_slot[slot] = next_token
        decoder.keep_rows(torch.cat([rows_kept, rows_kept[:1].repeat(pad)]))
        state_logits = decoder.step(torch.cat([by_slot, by_slot[:1].repeat(pad)]))
        state = torch.zeros_like(state)  # a finished row reads any state: its draw is unused
        state[live] = slot[child]
        logits = state_logits.index_select(0, state)  # (B_active, V)
    return out, logprob


@dataclass(frozen=True)
class SampleSpec:
    """How to sample a policy: everything that changes the samples is part of the cache key.

    Sample once at the largest ``n_samples`` a chapter needs and subsample for smaller k:
    re-sampling per k would waste compute and make the curves for different k disagree.
    """

    n_samples: int
    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    batch_size: int = 512
    problems_per_shard: int = 16

    def __post_init__(self) -> None:
        if self.n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {self.n_samples}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.problems_per_shard < 1:
            raise ValueError(f"problems_per_shard must be >= 1, got {self.problems_per_shard}")


def _cached_samples(folder: Path):
    """The verified table of a finished sample folder, or None (damaged: reported, removed)."""
    from ttc.cache import DamagedArtifact, discard_artifact, read_verified_frame, warn

    if not folder.exists():
        return None
    try:
        return read_verified_frame(folder, SAMPLES_TABLE, adopt=True)
    except DamagedArtifact as err:
        warn(f"damaged samples: {err}; sampling again")
        discard_artifact(folder)
        return None


@dataclass(frozen=True)
class Shard:
    """Worker ``index`` of ``count``: it samples the shards whose number is ``index`` modulo
    ``count`` (``--shard i/N`` on the command line). Which problems a shard holds, and its
    seed, depend only on the shard's number, so any process computes the same shard."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not (isinstance(self.count, int) and self.count >= 1
                and isinstance(self.index, int) and 0 <= self.index < self.count):
            raise ValueError(f"a shard is i/N with 0 <= i < N; got {self.index}/{self.count}")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"1/4"`` -> ``Shard(1, 4)``; a one-line :class:`ttc.config.ConfigError` else."""
        from ttc.config import ConfigError

        try:
            index, count = (int(part) for part in str(text).split("/"))
            return cls(index, count)
        except ValueError:
            raise ConfigError(f"--shard expects i/N with 0 <= i < N (e.g. 0/4); got "
                              f"{text!r}") from None

    def owns(self, number: int) -> bool:
        return number % self.count == self.index


def decoder_name(model=None) -> str:
    """The name of the decoding step the lean backend uses for ``model`` (a family member
    when None), whose rounding its outputs carry: :data:`ttc.fused_decode.SAMPLE_KEY` where
    the step is compiled, else "lean-shared". Part of the key of every cached artifact made
    by sampling through :func:`generate` (samples, Monte-Carlo labels, searches, revision
    chains), so that a warm cache never mixes the outputs of two versions."""
    compiled = fused_decode.supports(model) if model is not None else fused_decode.enabled()
    return fused_decode.SAMPLE_KEY if compiled else "lean-shared"


def _sample_key(model, model_key: str, problems: Sequence, spec: SampleSpec, backend: str,
                task) -> str:
    """The samples' cache key. The arithmetic task in float32 keeps the key it had before
    tasks and precisions were options; another task adds its name and the reference
    answers (grading is part of the table), another precision its name. The lean backend's
    key names its decoder version ("lean-shared": prompts' keys and values shared by their
    samples, :mod:`ttc.lean_llama`), whose float rounding differs from the earlier one, so a
    warm cache never mixes samples of the two; :data:`ttc.fused_decode.SAMPLE_KEY` where the
    shared prompts' decoding step is compiled (CPU), whose rounding differs again;
    and tables with a ``logprob`` column have their own key, so that no table without it is
    read."""
    from ttc.config import config_hash
    from ttc.devices import dtype_name

    decoder = decoder_name(model) if backend == "lean" else backend
    # "logprob": the table has the samples' log-probabilities (the samples are unchanged)
    parts: tuple = (model_key, [p.prompt for p in problems], spec, decoder, "logprob")
    if task.name != "arithmetic":
        parts = (*parts, task.name, [str(p.answer) for p in problems])
    dtype = next(model.parameters()).dtype
    if dtype != torch.float32:
        parts = (*parts, dtype_name(dtype))
    return config_hash(parts)


def _sample_shard(model, tokenizer, problems: Sequence, spec: SampleSpec, number: int,
                  backend: str, task):
    """The graded samples of shard ``number``: its problems, ``n_samples`` each, seeded by
    the shard's number, through Parquet and back (so a fresh shard has a cached one's
    dtypes)."""
    import io

    import pandas as pd

    start = number * spec.problems_per_shard
    chunk = list(problems[start : start + spec.problems_per_shard])
    prompts = [p.prompt for p in chunk for _ in range(spec.n_samples)]
    completions = generate(model, tokenizer, prompts, spec.max_new_tokens,
                           temperature=spec.temperature, top_p=spec.top_p,
                           seed=spec.seed + number, batch_size=spec.batch_size,
                           backend=backend)
    owners = [p for p in chunk for _ in range(spec.n_samples)]
    # answers as text: a garbage completion may "answer" a 40-digit number
    answers = [task.parse_answer(c.text) if c.finished else None for c in completions]
    answers = [None if a is None else str(a) for a in answers]
    frame = pd.DataFrame({
        "problem": [start + i // spec.n_samples for i in range(len(prompts))],
        "n_ops": [p.n_ops for p in owners],
        "sample": [i % spec.n_samples for i in range(len(prompts))],
        "completion": [c.text for c in completions],
        "finished": [c.finished for c in completions],
        "n_tokens": [c.n_tokens for c in completions],
        "logprob": [c.logprob for c in completions],
        "answer": pd.array(answers, dtype="string"),
        "correct": [task.grade(p, c.text, c.finished)
                    for p, c in zip(owners, completions, strict=True)],
    })
    return pd.read_parquet(io.BytesIO(frame.to_parquet(index=False)))


def samples_folder(model, model_key: str, problems: Sequence, spec: SampleSpec,
                   task=None) -> Path:
    """Where :func:`draw_samples` keeps the merged table for these arguments."""
    from ttc.cache import artifact_path
    from ttc.tasks import ARITHMETIC

    backend = "lean" if lean_llama.supports(model) else "hf"
    key = _sample_key(model, model_key, problems, spec, backend, task or ARITHMETIC)
    return artifact_path("samples", f"{model_key}-{key}")


def samples_cached(model, model_key: str, problems: Sequence, spec: SampleSpec,
                   task=None) -> bool:
    """Whether :func:`draw_samples` would find its table in the cache (without checking
    the table's manifest, which :func:`draw_samples` does when it reads it)."""
    return (samples_folder(model, model_key, problems, spec, task) / SAMPLES_TABLE).is_file()


def draw_samples(
    model, tokenizer, model_key: str, problems: Sequence, spec: SampleSpec,
    progress: bool = True, task=None, shard: Shard | None = None,
):
    """``spec.n_samples`` graded samples per problem, as a tidy table; cached on disk.

    One row per (problem, sample): ``problem`` (index into ``problems``), ``n_ops``,
    ``sample``, ``completion``, ``finished``, ``n_tokens``, ``answer`` (the parsed final
    answer as text; missing when unfinished or malformed) and ``correct``. ``task``
    (default: the arithmetic chains) reads and grades the completions.

    ``model_key`` names the policy in the cache key (for the family, the checkpoint folder
    name, which already hashes the recipe). Problems are sampled in shards seeded by their
    number, each written atomically with a manifest into ``<folder>.shards/shard-NNNNN/``, so
    an interrupted run resumes where it stopped and gives the same table as an uninterrupted
    one, and several workers may share the work: with ``shard`` (worker i of N) a call
    samples only its own shards, and merges when it finds every shard written (returning
    the table; None while shards of other workers are missing). The merged table goes into
    ``<folder>/`` with its manifest; only then are the finished shards removed (a worker
    still writing one keeps its temporary folder, and finds the merged table at its next
    shard). Every shard and table is checked against its manifest when read; a damaged one
    is reported in one line and sampled again, and a shard that vanishes while it is read
    (a worker merged and removed it) sends the reader to the merged table.
    """
    import pandas as pd

    from ttc.cache import (
        DamagedArtifact,
        discard_artifact,
        read_verified_frame,
        warn,
        write_verified_frame,
    )
    from ttc.tasks import ARITHMETIC

    task = task or ARITHMETIC
    backend = "lean" if lean_llama.supports(model) else "hf"
    folder = samples_folder(model, model_key, problems, spec, task)
    shard_dir = folder.with_name(f"{folder.name}.shards")
    table = _cached_samples(folder)
    if table is not None:
        _remove_shards(shard_dir)  # what a killed worker may have left
        return table
    n_shards = -(-len(problems) // spec.problems_per_shard)
    numbers = [n for n in range(n_shards) if shard is None or shard.owns(n)]
    frames: dict[int, pd.DataFrame] = {}
    for number in tqdm(numbers, desc=f"sample {model_key}", disable=not progress,
                       leave=False, position=bar_row()):
        path = shard_dir / f"shard-{number:05d}"
        if frames and folder.exists() and (table := _cached_samples(folder)) is not None:
            _remove_shards(shard_dir)  # another worker merged meanwhile
            return table
        if path.exists():
            try:
                frames[number] = read_verified_frame(path, SAMPLES_TABLE)
                continue
            except (DamagedArtifact, OSError) as err:
                if (table := _cached_samples(folder)) is not None:
                    _remove_shards(shard_dir)  # a worker merged and is removing the shards
                    return table
                warn(f"damaged sample shard: {err}; sampling it again")
                discard_artifact(path)
        frame = _sample_shard(model, tokenizer, problems, spec, number, backend, task)
        try:
            write_verified_frame(frame, path, SAMPLES_TABLE)
        except OSError:  # the shard folder went: a worker that merged removed it
            if (table := _cached_samples(folder)) is not None:
                _remove_shards(shard_dir)
                return table
            raise
        frames[number] = frame
    if shard is not None:  # the others' shards: merge only once every shard is written
        for number in range(n_shards):
            if number in frames:
                continue
            path = shard_dir / f"shard-{number:05d}"
            try:
                frames[number] = read_verified_frame(path, SAMPLES_TABLE)
            except (DamagedArtifact, OSError):
                # not written yet (or merged and removed meanwhile): nothing to merge here
                table = _cached_samples(folder)
                if table is not None:
                    _remove_shards(shard_dir)
                return table
    table = pd.concat([frames[n] for n in range(n_shards)], ignore_index=True)
    write_verified_frame(table, folder, SAMPLES_TABLE)  # kept as is if another worker won
    _remove_shards(shard_dir)
    return table


def _remove_shards(shard_dir: Path) -> None:
    """Remove the shards once the merged table exists.

    The finished shards go; a hidden temporary folder goes only when it is stale (untouched
    for :data:`STALE_SECONDS`, left by a killed worker): a fresh one belongs to a worker still
    writing a shard, which finds the merged table at its next step.
    """
    import contextlib
    import shutil
    import time

    if not shard_dir.is_dir():
        return
    for path in shard_dir.iterdir():
        if path.name.startswith("shard-"):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                if time.time() - path.stat().st_mtime > STALE_SECONDS:
                    shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(OSError):
        shard_dir.rmdir()  # only when empty
