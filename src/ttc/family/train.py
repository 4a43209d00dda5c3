"""Training the family: one data stream, one recipe, cached checkpoints.

Every member sees the *same* sequence of training tokens (documents ``<bos> prompt solution
<eos>`` packed into fixed-length blocks, no padding), with the same optimiser, schedule and
peak learning rate: nothing in the recipe depends on the size. (A learning rate scaled as
1/width was tried first and hurt every member but the smallest; see docs/benchmarks.md.)

Loss is computed on solution tokens only: the prompt's operands are random, so predicting them
teaches nothing. ``D`` (tokens trained) counts every token in every block, prompt included,
because every token costs a forward and backward pass: ``C = 6 N D``.

A trained member is saved with ``save_pretrained`` (weights, config, tokenizer) plus
``training.json`` (N, D, FLOPs, wall time, loss curve) and a manifest (sha256 of every file)
into a folder named by the hash of everything that determines it, written atomically. A
folder whose files do not match their manifest is reported in one line and trained again.

Training resumes: every ``resume_every`` steps (by default a tenth of the run; not part of the
cache key) the whole training state (weights, optimiser, step, hence the position in the data
stream and the learning-rate schedule, the loss curve so far and the random generators) is
written atomically, with its manifest, to ``<checkpoint>.resume/step-NNNNNN/``. A run killed
at any point restarts from the last of these and ends with the same weights, bit for bit, as
an uninterrupted run on the same machine; the resume folder is removed once the final
checkpoint is written.
"""

from __future__ import annotations

import json
import math
import random
import re
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

from ttc.cache import (
    MANIFEST,
    DamagedArtifact,
    artifact_path,
    atomic_dir,
    discard_artifact,
    verify_manifest,
    warn,
    write_manifest,
)
from ttc.config import config_hash
from ttc.devices import dtype_name, resolve_device, resolve_dtype
from ttc.family.recipe import KERNELS, TrainConfig
from ttc.family.specs import ModelSpec, count_parameters
from ttc.finetune import cached_checkpoint, save_checkpoint
from ttc.flops import pretraining_flops
from ttc.fused_train import supports as supports_fused
from ttc.fused_train import training_loss
from ttc.parallel import bar_row
from ttc.tasks import generate_problems, train_stream
from ttc.tokenizer import build_tokenizer

IGNORE = -100  # label id that the loss skips
#: share of the steps between two resume checkpoints when ``resume_every`` is not given
RESUME_FRACTION = 0.1
RESUME_STATE = "state.pt"





def _encode(text: str, vocab: dict[str, int]) -> list[int]:
    return [vocab[c] for c in text]


def packed_blocks(
    config: TrainConfig, split: str, n_blocks: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Documents of a split packed into ``n_blocks`` blocks: ids and labels, (n, block_size).

    Training blocks come from :func:`train_stream` (the same stream for every member);
    validation blocks from held-out problems of the ``val`` split.
    """
    tokenizer = build_tokenizer()
    vocab = tokenizer.get_vocab()
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    need = n_blocks * config.block_size
    ids = np.empty(need, dtype=np.int64)
    labels = np.empty(need, dtype=np.int64)
    if split == "train":
        problems = train_stream(config.task, seed)
    else:
        per_ops = max(8, need // (40 * (config.task.max_ops - config.task.min_ops + 1)) + 8)
        pool = generate_problems(config.task, split, per_ops, seed)
        problems = (pool[i % len(pool)] for i in range(10**9))
    filled = 0
    while filled < need:
        problem = next(problems)
        prompt = [bos, *_encode(problem.prompt, vocab)]
        solution = [*_encode(problem.solution, vocab), eos]
        doc_ids = prompt + solution
        doc_labels = [IGNORE] * len(prompt) + solution
        take = min(len(doc_ids), need - filled)
        ids[filled : filled + take] = doc_ids[:take]
        labels[filled : filled + take] = doc_labels[:take]
        filled += take
    return ids.reshape(n_blocks, -1), labels.reshape(n_blocks, -1)


def checkpoint_key(spec: ModelSpec, config: TrainConfig,
                   precision: torch.dtype = torch.float32, kernels: str = "eager") -> str:
    """Cache key of a trained member: its shape, the recipe and the tokenizer's vocabulary,
    the training precision when it is not float32 (mixed-precision training gives other
    weights; float32 keys are those from before precision was an option), and the training
    kernels when they are not torch's own (:mod:`ttc.fused_train` rounds differently, so its
    members are another draw)."""
    vocab = sorted(build_tokenizer().get_vocab().items())
    parts = (spec, config, vocab, "v1")
    if precision != torch.float32:
        parts = (*parts, dtype_name(precision))
    if kernels != "eager":
        parts = (*parts, f"kernels={kernels}")
    return f"{spec.name}-{config_hash(parts)}"


def member_path(spec: ModelSpec, config: TrainConfig, device: str = "auto",
                dtype: str = "auto", kernels: str = "eager") -> Path:
    """The cache folder of a member trained with ``config`` on ``device`` at ``dtype`` with
    ``kernels`` (trained or not): what :func:`train_member` writes and looks for, with the
    precision and kernels resolved as it resolves them."""
    device = resolve_device(device)
    precision = resolve_dtype(dtype, device)
    kernels = resolve_kernels(kernels, device, precision)
    return artifact_path("checkpoints", checkpoint_key(spec, config, precision, kernels))


def resolve_kernels(kernels: str, device: str, precision: torch.dtype) -> str:
    """The training kernels a run uses: ``fused`` (:mod:`ttc.fused_train`) where asked for
    and possible (CPU, float32, numba importable), torch's own (``eager``) otherwise, so a
    profile that asks for them still trains on a GPU."""
    import importlib.util

    if kernels not in KERNELS:
        raise ValueError(f"kernels must be one of {', '.join(KERNELS)}, got {kernels!r}")
    if (kernels == "fused" and device == "cpu" and precision == torch.float32
            and importlib.util.find_spec("numba") is not None):
        return "fused"
    return "eager"


def _lr_at(step: int, config: TrainConfig, peak: float) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak."""
    warmup = max(1, int(config.warmup_frac * config.steps))
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, config.steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def _val_loss(model, ids: torch.Tensor, labels: torch.Tensor, batch_size: int) -> float:
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(ids), batch_size):
        out = model(input_ids=ids[start : start + batch_size],
                    labels=labels[start : start + batch_size])
        n = int((labels[start : start + batch_size, 1:] != IGNORE).sum())
        total, count = total + float(out.loss) * n, count + n
    model.train()
    return total / max(count, 1)


def resume_dir(path: str | Path) -> Path:
    """Where the resume checkpoints of the member whose final checkpoint is ``path`` live."""
    path = Path(path)
    return path.with_name(f"{path.name}.resume")


def _resume_points(folder: Path) -> list[Path]:
    """Finished-looking resume checkpoints, latest first (hidden temporaries excluded)."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if re.fullmatch(r"step-\d{6}", p.name)]
    return sorted(found, reverse=True)


def _rng_state(device: str) -> dict:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if device.startswith("cuda") else [],
            "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
            "python": random.getstate()}


def _set_rng_state(state: dict, device: str) -> None:
    torch.set_rng_state(state["torch"])
    if device.startswith("cuda") and state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))


def _save_resume(folder: Path, step: int, model, optimizer, curve: list, seconds: float,
                 device: str) -> None:
    """Write the training state after ``step`` steps atomically; drop the older ones."""
    target = folder / f"step-{step:06d}"
    with atomic_dir(target) as tmp:
        torch.save({"step": step, "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(), "curve": curve, "seconds": seconds,
                    "rng": _rng_state(device)}, tmp / RESUME_STATE)
        write_manifest(tmp)
    for older in _resume_points(folder):
        if older.name < target.name:
            shutil.rmtree(older, ignore_errors=True)


def _load_resume(folder: Path) -> dict | None:
    """The latest intact resume state, or None. A damaged one is reported and removed."""
    for point in _resume_points(folder):
        try:
            verify_manifest(point)
            # on the CPU: random-generator states must be CPU tensors; weights move on load
            return torch.load(point / RESUME_STATE, map_location="cpu", weights_only=True)
        except DamagedArtifact as err:
            warn(f"damaged resume checkpoint: {err}; trying an earlier one")
        except Exception as err:  # verified bytes that still do not load
            warn(f"unreadable resume checkpoint {point}: {type(err).__name__}: {err}; "
                 "trying an earlier one")
        discard_artifact(point)
    return None


def train_member(
    spec: ModelSpec, config: TrainConfig, progress: bool = True, force: bool = False,
    device: str = "auto", resume_every: int | None = None, dtype: str = "auto",
    kernels: str = "eager",
) -> Path:
    """Train one member (or find it in the cache); return its checkpoint folder.

    The device is not part of the cache key: a member trained on a GPU is reused on a CPU.
    ``dtype``: the forward pass's precision (``auto``: bfloat16 autocast on CUDA, float32 on
    the CPU; weights and optimiser state stay float32); part of the key unless float32.
    ``resume_every``: steps between resume checkpoints (default: a tenth of the steps; 0
    writes none). It is not part of the cache key either: it changes no weight.
    ``kernels``: ``eager`` (torch's) or ``fused`` (:mod:`ttc.fused_train`, on the CPU in
    float32; :func:`resolve_kernels`); part of the key unless eager.
    """
    path = member_path(spec, config, device, dtype, kernels)
    device = resolve_device(device)
    precision = resolve_dtype(dtype, device)
    kernels = resolve_kernels(kernels, device, precision)
    resume = resume_dir(path)
    if force:
        shutil.rmtree(resume, ignore_errors=True)
    elif cached_checkpoint(path):
        return path
    if resume_every is None:
        resume_every = max(1, math.ceil(RESUME_FRACTION * config.steps))

    tokenizer = build_tokenizer()
    torch.manual_seed(config.seed)
    model = LlamaForCausalLM(spec.llama_config(len(tokenizer), config.block_size))
    counts = count_parameters(model)
    model.to(device)
    if kernels == "fused" and not supports_fused(model):
        raise ValueError(f"kernels='fused' cannot train {spec.name} (not a plain Llama "
                         "in float32 on the CPU)")
    train_ids, train_labels = packed_blocks(
        config, "train", config.steps * config.batch_size, config.seed
    )
    val_ids, val_labels = packed_blocks(config, "val", config.n_val_blocks, config.seed)
    train_ids, train_labels = torch.from_numpy(train_ids), torch.from_numpy(train_labels)
    val_ids, val_labels = torch.from_numpy(val_ids).to(device), torch.from_numpy(val_labels).to(
        device
    )

    peak = config.lr
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=peak, betas=(0.9, 0.95),
    )
    curve: list[dict] = []
    first_step, seconds_before, resumed_from = 0, 0.0, None
    state = None if force else _load_resume(resume)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        _set_rng_state(state["rng"], device)
        first_step = resumed_from = int(state["step"])
        curve, seconds_before = list(state["curve"]), float(state["seconds"])
        warn(f"train {spec.name}: resuming from step {first_step} of {config.steps} "
             f"({resume.name})")
    model.train()
    start = time.perf_counter()
    bar = tqdm(range(first_step, config.steps), desc=f"train {spec.name}",
               disable=not progress, leave=False, initial=first_step, total=config.steps,
               position=bar_row())
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, config, peak)
        rows = slice(step * config.batch_size, (step + 1) * config.batch_size)
        batch_ids, batch_labels = train_ids[rows].to(device), train_labels[rows].to(device)
        if kernels == "fused":
            loss = training_loss(model, batch_ids, batch_labels)  # inputs (B, T)
        else:
            with torch.autocast(device.split(":")[0], dtype=precision,
                                enabled=precision != torch.float32):
                loss = model(input_ids=batch_ids, labels=batch_labels).loss  # inputs (B, T)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if (step + 1) % config.eval_every == 0 or step + 1 == config.steps:
            val = _val_loss(model, val_ids, val_labels, 64)
            curve.append({"step": step + 1, "tokens": (step + 1) * config.batch_size
                          * config.block_size, "train_loss": loss.item(), "val_loss": val})
            bar.set_postfix(train=f"{loss.item():.3f}", val=f"{val:.3f}")
        if resume_every and (step + 1) % resume_every == 0 and step + 1 < config.steps:
            if (path / MANIFEST).is_file() and cached_checkpoint(path):
                bar.close()  # another process finished this member meanwhile
                shutil.rmtree(resume, ignore_errors=True)
                return path
            try:
                _save_resume(resume, step + 1, model, optimizer, curve,
                             seconds_before + time.perf_counter() - start, device)
            except Exception as err:  # never lose a run to a failed resume checkpoint
                warn(f"train {spec.name}: could not write a resume checkpoint at step "
                     f"{step + 1} ({type(err).__name__}: {err}); continuing")
    seconds = seconds_before + time.perf_counter() - start

    info = {
        "name": spec.name, "d_model": spec.d_model, "n_layers": spec.n_layers,
        "n_heads": spec.n_heads, "params_total": counts["total"],
        "N": counts["non_embedding"], "D": config.tokens,
        "train_flops": pretraining_flops(counts["non_embedding"], config.tokens),
        "peak_lr": peak, "train_seconds": seconds, "device": device,
        "precision": dtype_name(precision), "kernels": kernels, "curve": curve,
        "resumed_from_step": resumed_from, "train_config": asdict(config),
    }
    save_checkpoint(path, model, tokenizer, info)
    shutil.rmtree(resume, ignore_errors=True)
    return path


def load_member(path_or_id: str | Path, device: str = "auto", dtype: str = "auto"):
    """Load a causal LM and its tokenizer through the Auto classes.

    Takes a local checkpoint folder (as written by :func:`train_member`) or, on a machine with a
    model hub, a hub id: the same code path either way. A local folder with a manifest is
    checked against it first (:class:`ttc.cache.DamagedArtifact` when it does not match).
    ``dtype``: the weights' precision (``auto``: bfloat16 on CUDA, float32 on the CPU).
    """
    from transformers.utils import logging as hf_logging

    if (Path(path_or_id) / MANIFEST).is_file():
        verify_manifest(path_or_id)

    hf_logging.disable_progress_bar()  # a bar per load would drown the notebooks' own bars
    device = resolve_device(device)
    model = AutoModelForCausalLM.from_pretrained(str(path_or_id),
                                                 dtype=resolve_dtype(dtype, device)).to(device)
    tokenizer = AutoTokenizer.from_pretrained(str(path_or_id))
    tokenizer.padding_side = "left"
    model.eval()
    return model, tokenizer


def training_info(path: str | Path) -> dict:
    """The ``training.json`` record of a checkpoint (N, D, FLOPs, time, curve)."""
    return json.loads((Path(path) / "training.json").read_text())
