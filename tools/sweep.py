"""Compare pipeline settings on the scores that predict unseen outlets.

Grouped CV (no article or authored batch split across folds), the same scores
restricted to the seed articles, and the two cross-source directions. Used to
choose FitConfig's defaults; `python tools/sweep.py` prints one table.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

import numpy as np

from train.config import DEFAULT_DATA, USER_DICT, FitConfig
from train.data import label_matrix, load_dataset
from train.evaluate import compute_metrics, cross_fitted_decisions, cross_source, cross_validate, grouped_splits
from train.model import build_pipeline
from train.tokens import read_user_words

CANDIDATES: dict[str, dict[str, object]] = {
    "default": {},
    "word only": {"analyzer": "word"},
    "char only": {"analyzer": "char"},
    "C=1": {"C": 1.0},
    "C=10": {"C": 10.0},
    "C=20": {"C": 20.0},
    "min_df=1": {"min_df": 1},
    "min_df=3": {"min_df": 3},
    "char 1-3": {"char_ngram_min": 1, "char_ngram_max": 3},
    "char 2-3": {"char_ngram_max": 3},
    "word 1-1": {"word_ngram_max": 1},
    "no sublinear": {"sublinear_tf": False},
    "svm": {"classifier": "svm", "C": 0.5},
    "char 1-2": {"char_ngram_min": 1, "char_ngram_max": 2},
    "char 1-4": {"char_ngram_min": 1, "char_ngram_max": 4},
    "c1-3 C=10": {"char_ngram_min": 1, "char_ngram_max": 3, "C": 10.0},
    "c1-3 C=2": {"char_ngram_min": 1, "char_ngram_max": 3, "C": 2.0},
    "c1-3 mindf1": {"char_ngram_min": 1, "char_ngram_max": 3, "min_df": 1},
    "c1-3 w1-1": {"char_ngram_min": 1, "char_ngram_max": 3, "word_ngram_max": 1},
    "c1-3 char": {"char_ngram_min": 1, "char_ngram_max": 3, "analyzer": "char"},
    "jieba-nohmm": {"tokenizer": "jieba-nohmm"},
    "rjieba": {"tokenizer": "rjieba"},
}


def main(names: list[str]) -> None:
    dataset = load_dataset(list(DEFAULT_DATA))
    records = dataset.labeled
    texts = [r.text for r in records]
    y = np.asarray(label_matrix(records))
    groups = [r.group for r in records]
    seed = np.array([r.source == "seed" for r in records])
    words = read_user_words(USER_DICT)
    splits = grouped_splits(groups, 5)
    print(f"{'setting':14}{'grouped':>9}{'g-seed':>8}{'auth→seed':>10}{'seed→auth':>10}{'secs':>6}")
    for name in names or list(CANDIDATES):
        config = replace(FitConfig(), **CANDIDATES[name])  # type: ignore[arg-type]
        started = time.perf_counter()
        pipeline = build_pipeline(config, words)
        grouped = cross_validate(pipeline, texts, y, [splits], n_jobs=2)
        decisions = cross_fitted_decisions(grouped.scores[0], y, grouped.folds[0])
        seed_only = compute_metrics(y[seed], decisions[seed])
        text_array = np.asarray(texts, dtype=object)
        a2s = cross_source(
            pipeline, list(text_array[~seed]), y[~seed], list(text_array[seed]), y[seed], folds=5, seed=42, n_jobs=2
        )
        s2a = cross_source(
            pipeline, list(text_array[seed]), y[seed], list(text_array[~seed]), y[~seed], folds=5, seed=42, n_jobs=2
        )
        print(
            f"{name:14}{grouped.macro_f1:9.3f}{seed_only.macro_f1:8.3f}{a2s.macro_f1:10.3f}{s2a.macro_f1:10.3f}"
            f"{time.perf_counter() - started:6.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
