"""Compare pipeline settings on the scores that predict unseen outlets.

Grouped CV (no article or authored batch split across folds), the same scores
restricted to the seed articles, and the two cross-source directions. Used to
choose FitConfig's defaults; `python tools/sweep.py` prints one table.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

from train.config import USER_DICT, FitConfig, default_data
from train.data import load_dataset
from train.fit import evaluate_config
from train.labels import load_labels
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
    labels = load_labels().names
    records = load_dataset(default_data(), labels).labeled
    words = read_user_words(USER_DICT)
    print(f"{'setting':14}{'grouped':>9}{'g-seed':>8}{'auth→seed':>10}{'seed→auth':>10}{'secs':>6}")
    for name in names or list(CANDIDATES):
        # One stratified repeat: this table is about the grouped and cross-source columns.
        config = replace(FitConfig(), repeats=1, **CANDIDATES[name])  # type: ignore[arg-type]
        started = time.perf_counter()
        m = evaluate_config(build_pipeline(config, words), records, config, labels=labels, n_jobs=2).metrics()
        print(
            f"{name:14}{m['grouped_macro_f1']:9.3f}{m['grouped_seed_macro_f1']:8.3f}"
            f"{m['authored_to_seed_macro_f1']:10.3f}{m['seed_to_authored_macro_f1']:10.3f}"
            f"{time.perf_counter() - started:6.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
