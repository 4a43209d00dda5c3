"""The sizes of the model family and how their parameters are counted.

Every member is a ``LlamaForCausalLM`` (pre-norm decoder, RoPE, SwiGLU MLP) with head size 16
and an MLP width of ``4 * d_model``; only width and depth change between members, so the
family differs in capacity and nothing else. ``N`` in the book is the non-embedding parameter
count (Kaplan et al. 2020): everything but the token embedding and the output projection.

Importing this module loads no torch or transformers (profiles are validated with it, e.g. by
``ttc check-profile``); the functions that build models import them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from transformers import LlamaConfig

HEAD_DIM = 16


@dataclass(frozen=True)
class ModelSpec:
    """Shape of one family member."""

    name: str
    d_model: int
    n_layers: int

    def __post_init__(self) -> None:
        if self.d_model <= 0 or self.d_model % HEAD_DIM:
            raise ValueError(
                f"d_model must be a positive multiple of {HEAD_DIM}, got {self.d_model}"
            )
        if self.n_layers <= 0:
            raise ValueError(f"n_layers must be positive, got {self.n_layers}")

    @property
    def n_heads(self) -> int:
        return self.d_model // HEAD_DIM

    @property
    def d_ff(self) -> int:
        return 4 * self.d_model

    @property
    def approx_params(self) -> int:
        """Non-embedding weights without the norms: 4·d² attention + 3·d·d_ff MLP per layer.
        Training and decoding time grow with it; jobs are ordered by it."""
        return self.n_layers * (4 * self.d_model**2 + 3 * self.d_model * self.d_ff)

    def llama_config(self, vocab_size: int, max_position_embeddings: int) -> LlamaConfig:
        """The ``transformers`` config of this member for a given tokenizer and context."""
        from transformers import LlamaConfig

        return LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=self.d_model,
            intermediate_size=self.d_ff,
            num_hidden_layers=self.n_layers,
            num_attention_heads=self.n_heads,
            num_key_value_heads=self.n_heads,
            max_position_embeddings=max_position_embeddings,
            tie_word_embeddings=False,
            rms_norm_eps=1e-5,
            # token ids follow ttc.tokenizer: <pad>=0, <bos>=1, <eos>=2
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
        )


#: Family members by name. Profiles choose a subset by name.
SPECS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("f32x2", 32, 2),
        ModelSpec("f48x2", 48, 2),
        ModelSpec("f64x3", 64, 3),
        ModelSpec("f96x3", 96, 3),
        ModelSpec("f128x4", 128, 4),
        ModelSpec("f192x6", 192, 6),
        ModelSpec("f256x8", 256, 8),
    )
}


def get_spec(name: str) -> ModelSpec:
    """Look up a family member by name, with a clear error for a wrong name."""
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(
            f"unknown family member {name!r}; allowed: {', '.join(SPECS)}"
        ) from None


def intermediate_spec(smaller: ModelSpec, larger: ModelSpec) -> ModelSpec:
    """A member shaped between two others, on the family's grid: the width is the geometric
    mean of theirs rounded to a multiple of the head size, the depth their mean rounded up.

    Chapter 2's exercise predicts such a member's accuracy before training it: between
    f96x3 and f128x4 it is 112 wide and 4 deep; between f32x2 and f64x3, 48 wide and 3 deep.
    """
    if (smaller.d_model, smaller.n_layers) > (larger.d_model, larger.n_layers):
        smaller, larger = larger, smaller
    width = HEAD_DIM * max(1, round((smaller.d_model * larger.d_model) ** 0.5 / HEAD_DIM))
    depth = (smaller.n_layers + larger.n_layers + 1) // 2
    return ModelSpec(f"f{width}x{depth}", width, depth)


def check_members(parameter: str, names: tuple[str, ...], minimum: int = 1) -> None:
    """Validate a config parameter listing family members: enough of them, all known."""
    from ttc.config import ConfigError

    if len(names) < minimum:
        raise ConfigError(f"parameter {parameter!r} must name at least {minimum} member(s)")
    for name in names:
        try:
            get_spec(name)
        except ValueError as err:
            raise ConfigError(f"parameter {parameter!r}: {err}") from None


def count_parameters(model: torch.nn.Module) -> dict[str, int]:
    """Total and non-embedding parameter counts of a causal LM.

    Non-embedding excludes the input embedding and the output projection (``lm_head``),
    whose cost is a table look-up and a vocabulary-sized matmul that the 2N/6N rules leave out.
    """
    total = sum(p.numel() for p in model.parameters())
    embedding = model.get_input_embeddings().weight.numel()
    out = model.get_output_embeddings()
    if out is not None and out.weight is not model.get_input_embeddings().weight:
        embedding += out.weight.numel()
    return {"total": int(total), "non_embedding": int(total - embedding)}


def spec_parameters(spec: ModelSpec, vocab_size: int, max_len: int = 256) -> dict[str, int]:
    """Parameter counts of a member without allocating its weights (meta device)."""
    import torch
    from transformers import LlamaForCausalLM

    with torch.device("meta"):
        model = LlamaForCausalLM(spec.llama_config(vocab_size, max_len))
    return count_parameters(model)
