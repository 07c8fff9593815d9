"""Text normalisation and the jieba tokenizer used by the pipeline.

Both are plain module-level callables so a fitted pipeline pickles, and both run
identically at fit and at predict time because they are steps of that pipeline.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jieba
    import opencc


@cache
def _converter() -> opencc.OpenCC:
    import opencc

    # tw2sp converts Taiwan phrasing too (軟體→软件, 執行長→首席执行官), not only characters.
    return opencc.OpenCC("tw2sp")


@cache
def _jieba_with(user_words: tuple[str, ...]) -> jieba.Tokenizer:
    """One jieba instance per process and dictionary: loading costs ~0.5 s."""
    import jieba

    jieba.setLogLevel(60)  # silence "Building prefix dict" on stderr
    tokenizer = jieba.Tokenizer()
    for word in user_words:
        tokenizer.add_word(word)
    return tokenizer


def normalize(text: str) -> str:
    """Fold what varies between outlets: width, case and traditional characters."""
    return str(_converter().convert(unicodedata.normalize("NFKC", text).lower()))


def normalize_all(texts: Iterable[str]) -> list[str]:
    """Vectorised `normalize`, the first step of the pipeline."""
    return [normalize(text) for text in texts]


def read_user_words(path: Path) -> tuple[str, ...]:
    """Words of a jieba user dictionary (`word [freq] [tag]` per line, `#` comments)."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            words.append(line.split()[0])
    return tuple(words)


class JiebaTokenizer:
    """Picklable jieba word tokenizer that carries its user dictionary.

    The words travel inside the model, so a saved model needs no dictionary file;
    the jieba instance is built lazily, once per process, on first use.
    """

    def __init__(self, user_words: Iterable[str] = (), hmm: bool = True) -> None:
        self.user_words = tuple(normalize(word) for word in user_words)
        self.hmm = hmm

    def __call__(self, text: str) -> list[str]:
        return list(_cut(self.user_words, self.hmm, text))

    def __repr__(self) -> str:
        return f"JiebaTokenizer(<{len(self.user_words)} user words>, hmm={self.hmm})"


@lru_cache(maxsize=1 << 16)
def _cut(user_words: tuple[str, ...], hmm: bool, text: str) -> tuple[str, ...]:
    """Segment each text once per process: CV folds, tuning and learning curves re-read the same paragraphs."""
    tokens = _jieba_with(user_words).cut(text, HMM=hmm)
    return tuple(token for token in tokens if any(ch.isalnum() for ch in token))
