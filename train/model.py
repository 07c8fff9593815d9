"""The scikit-learn pipeline and the fitted TopicModel (training side; prediction reads `train.scorer`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

from train.config import FitConfig
from train.tokens import JiebaTokenizer, normalize_all


def build_features(config: FitConfig, user_words: Sequence[str]) -> FeatureUnion:
    """TF-IDF over jieba words, character n-grams, or both side by side."""
    common: dict[str, Any] = {
        "min_df": config.min_df,
        "max_df": config.max_df,
        "sublinear_tf": config.sublinear_tf,
        "lowercase": False,  # normalize_all has already folded case
        "dtype": np.float32,
    }
    parts: list[tuple[str, TfidfVectorizer]] = []
    if config.analyzer in ("word", "both"):
        word = TfidfVectorizer(
            tokenizer=JiebaTokenizer(
                user_words,
                hmm=config.tokenizer != "jieba-nohmm",
                engine="rjieba" if config.tokenizer == "rjieba" else "jieba",
            ),
            token_pattern=None,
            ngram_range=(1, config.word_ngram_max),
            **common,
        )
        parts.append(("word", word))
    if config.analyzer in ("char", "both"):
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=(config.char_ngram_min, config.char_ngram_max), **common)
        parts.append(("char", char))
    return FeatureUnion(parts)


def build_classifier(config: FitConfig) -> BaseEstimator:
    """One binary linear model per label; `C` is the inverse regularisation strength for every kind."""
    base: BaseEstimator
    if config.classifier == "logreg":
        base = LogisticRegression(C=config.C, class_weight="balanced", solver="liblinear", random_state=config.seed)
    elif config.classifier == "svm":
        # LinearSVC has no probabilities; calibration gives scores that thresholds can cut.
        base = CalibratedClassifierCV(LinearSVC(C=config.C, class_weight="balanced", random_state=config.seed), cv=3)
    elif config.classifier == "nb":
        base = ComplementNB(alpha=1.0 / config.C)
    else:
        base = SGDClassifier(
            loss="log_loss", alpha=1e-4 * 4.0 / config.C, class_weight="balanced", random_state=config.seed
        )
    return OneVsRestClassifier(base)


def build_pipeline(config: FitConfig, user_words: Sequence[str] = ()) -> Pipeline:
    """normalize → features → one-vs-rest linear classifier."""
    return Pipeline(
        [
            ("normalize", FunctionTransformer(normalize_all)),
            ("features", build_features(config, user_words)),
            ("clf", build_classifier(config)),
        ]
    )


def build_baseline(config: FitConfig) -> Pipeline:
    """Guess each label at random with its training prior: the floor a model must beat."""
    return Pipeline([("clf", OneVsRestClassifier(DummyClassifier(strategy="stratified", random_state=config.seed)))])


@dataclass
class TopicModel:
    """A fitted pipeline with its label order and per-label decision thresholds."""

    pipeline: Pipeline
    labels: tuple[str, ...]
    thresholds: np.ndarray

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Probability per label, shape (n_texts, n_labels)."""
        return np.asarray(self.pipeline.predict_proba(list(texts)), dtype=np.float64)

    def decide(self, scores: np.ndarray) -> np.ndarray:
        return scores >= self.thresholds
