"""Text data of the language-model chapter: tokenizers, 64-token blocks, corpus splits, and
the word statistics used to follow what recursive training forgets.

The paper (Shumailov et al. 2024, "Language model") fine-tunes OPT-125m on WikiText-2 raw cut
into 64-token blocks. Here the text always comes from
:func:`collapse.core.data.read_wikitext` (sha256-verified; a clear
:class:`collapse.core.data.DataError` when missing). Two tokenizers:

* ``book``/``smoke``: a byte-level BPE tokenizer trained with ``tokenizers`` on the training
  text (the validation split: the only training text on these machines);
* ``paper``: the pretrained OPT tokenizer (``AutoTokenizer.from_pretrained``).

Both are ``transformers.PreTrainedTokenizerFast`` objects, so the rest of the code does not care.
"""
from __future__ import annotations

import dataclasses
import re
from collections import Counter
from typing import Sequence

import numpy as np

from ..core.checks import check_sample_size
from ..core.data import read_wikitext

__all__ = [
    "PAD", "EOS", "train_bpe_tokenizer", "encode_stream", "cut_blocks", "LMCorpus",
    "split_blocks", "decode_blocks", "word_counts", "FREQUENCY_BUCKETS", "bucket_labels",
    "word_type_share", "distinct_n", "sequence_repetition",
]

PAD, EOS = "<pad>", "</s>"
#: lower edges of the original-frequency buckets of word types (counts in the real training text)
FREQUENCY_BUCKETS = (1, 2, 4, 8, 16, 64)


# --------------------------------------------------------------------------- tokenizers
def train_bpe_tokenizer(text: str, vocab_size: int):
    """A byte-level BPE tokenizer with ``vocab_size`` entries trained on ``text``.

    Special tokens: ``<pad>`` (id 0) and ``</s>`` (id 1, used as BOS and EOS, as in OPT).
    Returns a ``transformers.PreTrainedTokenizerFast``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)) \
            or vocab_size < 260:
        raise ValueError(f"vocab_size must be an integer >= 260 (256 bytes + specials), "
                         f"got {vocab_size!r}")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=int(vocab_size), special_tokens=[PAD, EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tokenizer.train_from_iterator(text.splitlines(keepends=True), trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token=PAD, eos_token=EOS,
                                   bos_token=EOS)


def encode_stream(tokenizer, text: str) -> np.ndarray:
    """``text`` as one stream of token ids (no special tokens), shape (n_tokens,), int64.

    Lines are encoded separately (faster, same ids for a byte-level BPE) and concatenated,
    as the usual causal-LM preprocessing concatenates the corpus before cutting blocks.
    """
    lines = text.splitlines(keepends=True)
    encoded = tokenizer(lines, add_special_tokens=False)["input_ids"]
    if not encoded:
        return np.zeros(0, dtype=np.int64)
    return np.fromiter((token for line in encoded for token in line), dtype=np.int64)


def cut_blocks(ids: np.ndarray, block_size: int = 64) -> np.ndarray:
    """Consecutive non-overlapping blocks of ``block_size`` tokens, shape (n_blocks,
    block_size), int32; the remainder is dropped (the paper's 64-token blocks)."""
    block_size = check_sample_size(block_size, "block_size", minimum=2)
    n_blocks = len(ids) // block_size
    return np.asarray(ids[:n_blocks * block_size], dtype=np.int32).reshape(n_blocks, block_size)


_HEADING = re.compile(r"^\s*(=\s+)+(?P<title>.*?)(\s+=)+\s*$")
_JOINERS = ((" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", "."))
_NO_SPACE_BEFORE = re.compile(r" ([,.;:!?%)\]'’]|n't|'t|'s|'re|'ve|'d|'ll|'m)(?=\s|$)")
_NO_SPACE_AFTER = re.compile(r"([(\[$£]) ")


def detokenize_wikitext(text: str) -> str:
    """WikiText's markup undone, as ordinary running text: headings `` = = Title = = `` become
    the bare title, ``@-@``/``@,@``/``@.@`` join their neighbours, and the space WikiText puts
    before punctuation (and after opening brackets) is removed.

    The book's small base model is pretrained on this *plain* text and only meets WikiText's
    own format when it is fine-tuned on real blocks — as OPT-125m, pretrained on general web
    text, first meets it in the paper (zero-shot perplexity 115 → 34 after fine-tuning).
    """
    lines = []
    for line in text.splitlines(keepends=True):
        ending = "\n" if line.endswith("\n") else ""
        body = line.rstrip("\n")
        heading = _HEADING.match(body)
        if heading:
            body = heading.group("title")
        for marker, replacement in _JOINERS:
            body = body.replace(marker, replacement)
        body = _NO_SPACE_BEFORE.sub(r"\1", body)
        body = _NO_SPACE_AFTER.sub(r"\1", body)
        lines.append(body.strip() + ending)
    return "".join(lines)


# --------------------------------------------------------------------------- corpus
@dataclasses.dataclass
class LMCorpus:
    """The token blocks of one experiment, each of shape (n, block_size), int32.

    ``finetune``: the real training blocks (generation 0's data and every generation's
    prompts); ``selection``: real held-out blocks for best-epoch selection; ``pretrain``: the
    text the small base model is pretrained on (empty for a pretrained backbone); ``test``:
    the blocks test perplexity is measured on.
    """

    finetune: np.ndarray
    selection: np.ndarray
    pretrain: np.ndarray
    test: np.ndarray

    def sizes(self) -> dict[str, int]:
        return {name: int(len(getattr(self, name))) for name in
                ("finetune", "selection", "pretrain", "test")}

    def save(self, path) -> None:
        np.savez(path, **{name: getattr(self, name) for name in
                          ("finetune", "selection", "pretrain", "test")})

    @classmethod
    def load(cls, path) -> "LMCorpus":
        with np.load(path) as arrays:
            return cls(**{name: arrays[name] for name in
                          ("finetune", "selection", "pretrain", "test")})


def _take(blocks: np.ndarray, n: int | None, name: str) -> np.ndarray:
    if n is None:
        return blocks
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be a positive integer or None (all), got {n!r}")
    if n > len(blocks):
        raise ValueError(f"{name}={n} but only {len(blocks)} blocks are available")
    return blocks[:n]


def split_blocks(tokenizer, *, train_split: str, n_finetune_blocks: int | None,
                 n_selection_blocks: int | None, n_pretrain_blocks: int | None,
                 n_test_blocks: int | None, block_size: int, data_seed: int,
                 max_text_chars: int | None = None, pretrain_text: str = "raw",
                 keep_pretrain: bool = True) -> LMCorpus:
    """Read WikiText-2, tokenize it and split it into the chapter's block sets.

    ``train_split="validation"`` (``book``/``smoke``: the train split is not on these machines):
    the validation split's blocks are shuffled with ``data_seed``; the first
    ``n_finetune_blocks`` are the fine-tuning set, the next ``n_selection_blocks`` the held-out
    set for best-epoch selection, and the rest (at most ``n_pretrain_blocks``) pretrain the base.
    ``train_split="train"`` (``paper``): fine-tune on the train split, select on the validation
    split, no pretraining text (the backbone is pretrained). The test set is a random
    ``n_test_blocks`` of the test split (all when None). ``max_text_chars`` truncates each
    split's text (``smoke`` only). ``pretrain_text="detokenized"`` turns the pretraining blocks
    back into plain text (:func:`detokenize_wikitext`) and re-cuts them into blocks, so the base
    model never sees WikiText's format before fine-tuning. ``keep_pretrain=False`` (a
    pretrained backbone): no pretraining blocks are kept.
    """
    if pretrain_text not in ("raw", "detokenized"):
        raise ValueError(f"pretrain_text must be 'raw' or 'detokenized', got {pretrain_text!r}")
    rng = np.random.default_rng(data_seed)

    def blocks_of(split: str) -> np.ndarray:
        text = read_wikitext(split)
        if max_text_chars is not None:
            text = text[:max_text_chars]
        return cut_blocks(encode_stream(tokenizer, text), block_size)

    test = blocks_of("test")
    if n_test_blocks is not None and n_test_blocks < len(test):
        test = test[np.sort(rng.choice(len(test), size=n_test_blocks, replace=False))]
    if train_split == "train":
        finetune = _take(blocks_of("train"), n_finetune_blocks, "n_finetune_blocks")
        selection = _take(blocks_of("validation"), n_selection_blocks, "n_selection_blocks")
        pretrain = np.zeros((0, block_size), dtype=np.int32)  # a pretrained backbone
    elif train_split == "validation":
        shuffled = blocks_of("validation")
        shuffled = shuffled[rng.permutation(len(shuffled))]
        if n_finetune_blocks is None or n_selection_blocks is None:
            raise ValueError("with train_split='validation', n_finetune_blocks and "
                             "n_selection_blocks must be integers (the rest pretrains the base)")
        finetune = _take(shuffled, n_finetune_blocks, "n_finetune_blocks")
        rest = shuffled[n_finetune_blocks:]
        selection = _take(rest, n_selection_blocks, "n_selection_blocks")
        pretrain = rest[n_selection_blocks:] if keep_pretrain else rest[:0]
        if n_pretrain_blocks is not None and len(pretrain):  # at most this many (smoke)
            pretrain = _take(pretrain, min(n_pretrain_blocks, len(pretrain)),
                             "n_pretrain_blocks")
        if pretrain_text == "detokenized" and len(pretrain):
            plain = detokenize_wikitext("".join(decode_blocks(tokenizer, pretrain)))
            pretrain = cut_blocks(encode_stream(tokenizer, plain), block_size)
    else:
        raise ValueError(f"unknown train_split {train_split!r}; allowed: train, validation")
    return LMCorpus(finetune=finetune, selection=selection, pretrain=pretrain, test=test)


# --------------------------------------------------------------------------- word statistics
def decode_blocks(tokenizer, blocks: np.ndarray) -> list[str]:
    """Each block (row of token ids) decoded to text."""
    return tokenizer.batch_decode(np.asarray(blocks).tolist(), skip_special_tokens=True)


def word_counts(texts: Sequence[str]) -> Counter:
    """Whitespace-separated word counts over ``texts`` (WikiText is already tokenized by
    spaces, so punctuation marks are words of their own)."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(text.split())
    return counts


def bucket_labels(edges: Sequence[int] = FREQUENCY_BUCKETS) -> list[str]:
    """Human-readable labels of the original-frequency buckets, e.g. '1', '2–3', '≥64'."""
    labels = []
    for low, high in zip(edges, list(edges[1:]) + [None]):
        if high is None:
            labels.append(f"≥{low}")
        elif high - low == 1:
            labels.append(f"{low}")
        else:
            labels.append(f"{low}–{high - 1}")
    return labels


def word_type_share(original: Counter, produced: Counter,
                    edges: Sequence[int] = FREQUENCY_BUCKETS) -> np.ndarray:
    """Share of the original word types that still occur in ``produced``, by bucket of their
    count in the original text; shape (len(edges),). NaN for an empty bucket.

    This is the "tails vanish first" view of early collapse: rare types (count 1) are lost
    before frequent ones (Suresh et al. 2025: the time to forget grows with the count).
    """
    counts = np.array(list(original.values()))
    present = np.array([word in produced for word in original])
    uppers = list(edges[1:]) + [np.inf]
    shares = []
    for low, high in zip(edges, uppers):
        in_bucket = (counts >= low) & (counts < high)
        shares.append(present[in_bucket].mean() if in_bucket.any() else np.nan)
    return np.array(shares, dtype=float)


def distinct_n(blocks: np.ndarray, n: int) -> float:
    """Corpus-level distinct-n (Li et al. 2016): distinct n-grams / all n-grams, counting the
    n-grams inside each block (token level). 1 = no n-gram is ever repeated."""
    blocks = np.asarray(blocks)
    if blocks.shape[1] < n:
        return float("nan")
    windows = np.lib.stride_tricks.sliding_window_view(blocks, n, axis=1).reshape(-1, n)
    return len(np.unique(windows, axis=0)) / len(windows)


def sequence_repetition(blocks: np.ndarray, n: int = 4) -> float:
    """Mean over blocks of seq-rep-n (Welleck et al. 2020): the share of a block's n-grams
    that repeat an n-gram seen earlier in the same block. 0 = no repetition inside blocks."""
    blocks = np.asarray(blocks)
    windows = np.lib.stride_tricks.sliding_window_view(blocks, n, axis=1)
    shares = []
    for row in windows:
        unique = len(np.unique(row, axis=0))
        shares.append(1.0 - unique / len(row))
    return float(np.mean(shares))
