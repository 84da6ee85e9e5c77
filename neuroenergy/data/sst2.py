"""SST-2 (GLUE): binary sentiment of movie-review sentences, as token ids.

Layout: ``<root>/SST-2/train.tsv`` and ``dev.tsv`` (GLUE's files: header
``sentence<TAB>label``). GLUE's test labels are not public, so the 872
labelled dev sentences are the test split. No internet and no pretrained
tokenizer: SST-2 text is already lower-cased and tokenised (PTB style), so
tokens are the whitespace-separated words, and the vocabulary comes from the
training split alone.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from neuroenergy.data._checksums import table
from neuroenergy.data.core import DATASETS, Built, DatasetDef
from neuroenergy.data.sources import Archive, SourceFile
from neuroenergy.errors import InvalidInputError
from neuroenergy.vocabulary import InputSpec

__all__ = ["SST2", "build_vocab", "encode", "PAD", "UNK"]

PAD, UNK = 0, 1
MIN_FREQ = 1  # keep every training word: only 507 of 14,816 occur once
MAX_VOCAB = 20_000  # cap including PAD and UNK (not reached: the training split has 14,816 words)
VOCAB_SIZE = 14_818  # 2 specials + 14,816 training words; pinned because models are built from it
DEFAULT_MAX_LEN = 48  # covers every dev sentence (max 47 tokens) and all but 25 of 67,349 training ones (max 52)
_GLUE = Archive("https://dl.fbaipublicfiles.com/glue/data/SST-2.zip", "SST-2.zip")
_FILES = MappingProxyType({"train": "SST-2/train.tsv", "test": "SST-2/dev.tsv"})


def read_tsv(path: Path) -> tuple[list[str], np.ndarray]:
    """Sentences and int64 labels of a GLUE SST-2 tsv file."""
    import pandas as pd

    # QUOTE_NONE: sentences contain quote characters; keep_default_na=False:
    # a sentence such as "null" must stay text.
    frame = pd.read_csv(
        path, sep="\t", quoting=csv.QUOTE_NONE, keep_default_na=False, dtype={"sentence": str, "label": np.int64}
    )
    if list(frame.columns) != ["sentence", "label"]:
        raise InvalidInputError(f"{path}: expected columns sentence, label; got {list(frame.columns)}")
    return frame["sentence"].tolist(), frame["label"].to_numpy(np.int64)


def tokenize(sentence: str) -> list[str]:
    """Lower-case whitespace tokens (SST-2 is already PTB-tokenised)."""
    return sentence.lower().split()


def build_vocab(sentences: list[str]) -> list[str]:
    """Index -> token: ``["<pad>", "<unk>", words by falling frequency, ties alphabetical]``."""
    counts = Counter(token for s in sentences for token in tokenize(s))
    words = sorted((w for w, c in counts.items() if c >= MIN_FREQ), key=lambda w: (-counts[w], w))
    return ["<pad>", "<unk>", *words[: MAX_VOCAB - 2]]


def encode(sentences: list[str], vocab: list[str], max_len: int) -> np.ndarray:
    """int16 ``[N, max_len]`` ids: tokens in order, unknown -> UNK, cut at max_len, PAD after."""
    index = {w: i for i, w in enumerate(vocab)}
    out = np.full((len(sentences), max_len), PAD, np.int16)
    for row, sentence in enumerate(sentences):
        ids = [index.get(token, UNK) for token in tokenize(sentence)[:max_len]]
        out[row, : len(ids)] = ids
    return out


class SST2(DatasetDef):
    """Sentence sentiment, 2 classes (negative, positive): 67,349 train / 872 test (GLUE dev).

    Input ``tokens [max_len]`` (default 48): stored int16, yielded int64 ids
    in [0, 14817]; 0 = padding (after the sentence), 1 = unknown word, 2.. =
    training-split words by frequency. ``meta["vocab"]`` maps id -> token.
    """

    name = "sst2"
    modality = "text"
    class_names = ("negative", "positive")
    storage_dtype = "int16"
    license = "no explicit license published (Stanford Sentiment Treebank); research use"
    citation = (
        "Socher et al. (2013) Recursive Deep Models for Semantic Compositionality Over a Sentiment "
        "Treebank, EMNLP; Wang et al. (2018) GLUE."
    )
    source = "https://gluebenchmark.com/tasks (GLUE SST-2.zip)"
    defaults = MappingProxyType({"max_len": DEFAULT_MAX_LEN})
    counts = MappingProxyType({"train": (29780, 37569), "test": (428, 444)})

    def validate(self, options: dict[str, Any]) -> None:
        n = options["max_len"]
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= 4096:
            raise InvalidInputError(f"sst2: max_len must be an int in 1..4096, got {n!r}")
        options["max_len"] = int(n)

    def input_spec(self, options: Mapping[str, Any]) -> InputSpec:
        return InputSpec("tokens", (int(options["max_len"]),), vocab_size=VOCAB_SIZE)

    def value_range(self, options: Mapping[str, Any]) -> tuple[float, float]:
        return (0.0, float(VOCAB_SIZE - 1))

    def preprocessing(self, options: Mapping[str, Any]) -> str:
        return (
            "tsv read with sep='\\t', quoting=QUOTE_NONE; tokens = lower-cased whitespace-separated words; "
            f"vocabulary from the training split only: every word with count >= {MIN_FREQ} (cap {MAX_VOCAB} "
            f"incl. specials), ordered by falling count then alphabetically, ids from 2; 0 = padding, "
            f"1 = unknown (5.7% of dev tokens); vocab_size {VOCAB_SIZE}; fixed length {options['max_len']}: "
            "longer sentences keep their first tokens, shorter ones are padded at the end; GLUE dev = test split"
        )

    def sources(self, split: str, root: Path, cache: Path, options: Mapping[str, Any]) -> list[SourceFile]:
        known = table("SST-2")
        # The test split needs train.tsv too: the vocabulary comes from it.
        rels = [_FILES["train"]] if split == "train" else [_FILES["train"], _FILES["test"]]
        return [SourceFile(rel, *known[rel], archive=_GLUE) for rel in rels]

    def class_counts(self, split: str, root: Path, cache: Path, options: Mapping[str, Any]) -> tuple[int, ...]:
        return self.counts[split]

    def build(self, split: str, paths: Mapping[str, Path], options: Mapping[str, Any]) -> Built:
        train_sentences, train_labels = read_tsv(paths[_FILES["train"]])
        vocab = build_vocab(train_sentences)
        if len(vocab) != VOCAB_SIZE:
            raise InvalidInputError(f"sst2: vocabulary has {len(vocab)} entries, expected {VOCAB_SIZE}")
        if split == "train":
            sentences, labels = train_sentences, train_labels
        else:
            sentences, labels = read_tsv(paths[_FILES["test"]])
        return Built(encode(sentences, vocab, int(options["max_len"])), labels, {"vocab": vocab})


DATASETS.register(SST2.name, SST2())
