"""Text normalisation and the jieba tokenizer used by the pipeline.

Both are plain module-level callables so a fitted pipeline pickles, and both run
identically at fit and at predict time because they are steps of that pipeline.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    the jieba instance itself is rebuilt lazily after unpickling.
    """

    def __init__(self, user_words: Iterable[str] = (), hmm: bool = True) -> None:
        self.user_words = tuple(normalize(word) for word in user_words)
        self.hmm = hmm
        self._jieba: jieba.Tokenizer | None = None

    def __call__(self, text: str) -> list[str]:
        return [token for token in self._tokenizer().cut(text, HMM=self.hmm) if any(ch.isalnum() for ch in token)]

    def _tokenizer(self) -> jieba.Tokenizer:
        if self._jieba is None:
            self._jieba = _jieba_with(self.user_words)
        return self._jieba

    def __getstate__(self) -> dict[str, Any]:
        return {"user_words": self.user_words, "hmm": self.hmm}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.user_words = state["user_words"]
        self.hmm = state["hmm"]
        self._jieba = None

    def __repr__(self) -> str:
        return f"JiebaTokenizer(<{len(self.user_words)} user words>, hmm={self.hmm})"
