"""Character-level tokenizer for the arithmetic task, as a Hugging Face fast tokenizer.

One token per character keeps the models tiny and makes every digit visible to them. Building
it with ``tokenizers`` and wrapping it in :class:`transformers.PreTrainedTokenizerFast` means
it saves with ``save_pretrained`` and reloads with ``AutoTokenizer.from_pretrained`` like any
other checkpoint's tokenizer.

Ids: ``<pad>``=0, ``<bos>``=1, ``<eos>``=2, ``<unk>``=3, then :data:`ALPHABET` in order.
Default encoding prepends ``<bos>`` (what a prompt for generation needs); training documents
also end in ``<eos>`` (see :func:`encode_document`). Importing this module loads no
``transformers``; :func:`build_tokenizer` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

__all__ = [
    "ALPHABET",
    "BOS",
    "EOS",
    "PAD",
    "SPECIAL_TOKENS",
    "UNK",
    "build_tokenizer",
    "encode_document",
]

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)
"""Special tokens, in id order 0..3."""

ALPHABET = "0123456789+-*=;"
"""Every character the task's texts use; ids 4.. in this order."""


def build_tokenizer(padding_side: str = "right") -> PreTrainedTokenizerFast:
    """Build the character-level tokenizer.

    A BPE model with no merges is exactly a character lookup whose out-of-vocabulary
    characters map to ``<unk>`` (one each); the ``Fuse`` decoder joins characters without
    spaces so ``decode(encode(t), skip_special_tokens=True) == t``.
    """
    from tokenizers import Tokenizer, decoders, models, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + tuple(ALPHABET))}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK))
    backend.add_special_tokens(list(SPECIAL_TOKENS))
    backend.decoder = decoders.Fuse()
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A",
        pair=f"{BOS} $A $B:1",
        special_tokens=[(BOS, vocab[BOS])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        padding_side=padding_side,
        clean_up_tokenization_spaces=False,
        model_input_names=["input_ids", "attention_mask"],
    )


def encode_document(tokenizer: PreTrainedTokenizerFast, text: str) -> list[int]:
    """Ids of a full training document: ``<bos> + chars + <eos>``."""
    return tokenizer(text)["input_ids"] + [tokenizer.eos_token_id]
