"""Text normalisation and the jieba tokenizer used by the pipeline.

Both are plain module-level callables so a fitted pipeline pickles, and both run
identically at fit and at predict time because they are steps of that pipeline.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import opencc


@cache
def _converter() -> opencc.OpenCC:
    import opencc

    # tw2sp converts Taiwan phrasing too (軟體→软件, 執行長→首席执行官), not only characters.
    return opencc.OpenCC("tw2sp")


Segment = Callable[[str, bool], Iterable[str]]


@cache
def _segmenter(engine: str, user_words: tuple[str, ...]) -> Segment:
    """One segmenter per process, engine and dictionary: loading jieba's dictionary costs ~0.5 s."""
    if engine == "rjieba":
        import rjieba

        rust = rjieba.Jieba()
        for word in user_words:
            rust.add_word(word, None, None)
        return lambda text, hmm: rust.cut(text, hmm)
    import jieba

    jieba.setLogLevel(60)  # silence "Building prefix dict" on stderr
    python = jieba.Tokenizer()
    for word in user_words:
        python.add_word(word)
    return lambda text, hmm: python.cut(text, HMM=hmm)


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


ENGINES = ("jieba", "rjieba")


class JiebaTokenizer:
    """Picklable word tokenizer that carries its user dictionary and segmenter choice.

    The words travel inside the model, so a saved model needs no dictionary file and
    always segments the way it was trained; the segmenter is built lazily, once per
    process. `engine` is jieba itself or rjieba (jieba-rs, the same algorithm and
    dictionary in Rust); `hmm=False` skips jieba's HMM guesses for unknown words.
    """

    engine = "jieba"  # models pickled before the engine choice existed used jieba

    def __init__(self, user_words: Iterable[str] = (), hmm: bool = True, engine: str = "jieba") -> None:
        if engine not in ENGINES:
            raise ValueError(f"unknown segmenter {engine!r}; choose one of {ENGINES}")
        self.user_words = tuple(normalize(word) for word in user_words)
        self.hmm = hmm
        self.engine = engine

    def __call__(self, text: str) -> list[str]:
        cut = _cut_memoized if _memoizing else _cut
        return list(cut(self.engine, self.user_words, self.hmm, text))

    def __repr__(self) -> str:
        return f"JiebaTokenizer(<{len(self.user_words)} user words>, hmm={self.hmm}, engine={self.engine!r})"


def is_word(token: str) -> bool:
    """Whether the word features keep a segment: any with a letter or digit, not punctuation or spaces."""
    # isalnum() settles almost every token in C; only mixed ones like "gpt-4o" need the scan.
    return token.isalnum() or any(ch.isalnum() for ch in token)


def _cut(engine: str, user_words: tuple[str, ...], hmm: bool, text: str) -> tuple[str, ...]:
    return tuple(filter(is_word, _segmenter(engine, user_words)(text, hmm)))


def segmenter(engine: str, user_words: tuple[str, ...], hmm: bool) -> Callable[[str], Iterable[str]]:
    """Raw segments of a text (before `is_word`), with the segmenter resolved once for many texts."""
    segment = _segmenter(engine, user_words)
    return lambda text: segment(text, hmm)


_cut_memoized = lru_cache(maxsize=1 << 16)(_cut)
_memoizing = False


@contextmanager
def memoized() -> Iterator[None]:
    """Segment each text once per process while training: CV folds, tuning and learning
    curves re-read the same paragraphs. Prediction stays uncached, so its memory stays flat."""
    global _memoizing
    previous, _memoizing = _memoizing, True
    try:
        yield
    finally:
        _memoizing = previous
