"""A fitted scikit-learn pipeline as the plain-data `Scorer`, exactly or not at all.

Only what the scorer reproduces to the last float is exported; anything else is
refused with the reason, never approximated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import Pipeline

from train.config import FitConfig
from train.errors import ModelError
from train.model import TopicModel
from train.scorer import Kind, NgramPart, Scorer
from train.tokens import JiebaTokenizer, normalize_all

# char_wb emits a word shorter than n whole, once; the scorer's windows agree while every
# padded word (at least 3 characters) is as long as the shortest n-gram.
MAX_CHAR_NGRAM_MIN = 3


class NotExportable(ModelError):
    """The pipeline holds something the plain scorer cannot reproduce exactly."""


def check_exportable(config: FitConfig) -> None:
    """Refuse, before any training, settings whose pipeline could not be exported exactly."""
    if config.analyzer != "word" and config.char_ngram_min > MAX_CHAR_NGRAM_MIN:
        raise NotExportable(
            f"--char-ngram-min {config.char_ngram_min}: the plain model reproduces character n-grams "
            f"from {MAX_CHAR_NGRAM_MIN} characters down only; choose {MAX_CHAR_NGRAM_MIN} or less"
        )


def to_scorer(model: TopicModel) -> Scorer:
    """Vocabularies, idf, weights and thresholds of a fitted pipeline, as plain arrays."""
    pipeline = model.pipeline
    _check_steps(pipeline)
    parts: list[NgramPart] = []
    names: list[str] = []
    segmenter = None
    offset = 0
    for name, vectorizer in pipeline.named_steps["features"].transformer_list:
        part, part_segmenter = _part(name, vectorizer, offset)
        segmenter = part_segmenter or segmenter
        parts.append(part)
        names.extend(f"{name}__{term}" for term in _terms_by_column(vectorizer))
        offset += part.n_features
    coef, intercept, scale, shift = _linear_components(pipeline.named_steps["clf"], model.labels, offset)
    return Scorer(
        labels=tuple(model.labels),
        thresholds=np.asarray(model.thresholds, dtype=np.float64),
        segmenter=segmenter,
        parts=tuple(parts),
        classifier=_classifier_kind(pipeline.named_steps["clf"].estimators_[0]),
        coef=coef,
        intercept=intercept,
        scale=scale,
        shift=shift,
        feature_names_source=np.asarray(names),
    )


def _check_steps(pipeline: Pipeline) -> None:
    steps = [name for name, _ in pipeline.steps]
    if steps != ["normalize", "features", "clf"] or pipeline.named_steps["normalize"].func is not normalize_all:
        raise NotExportable(f"pipeline steps {steps} are not normalize → features → clf")
    if pipeline.named_steps["features"].transformer_weights:
        raise NotExportable("weighted feature parts are not exportable")


def _terms_by_column(vectorizer: TfidfVectorizer) -> list[str]:
    terms = [""] * len(vectorizer.vocabulary_)
    for term, column in vectorizer.vocabulary_.items():
        terms[column] = term
    return terms


def _part(name: str, vectorizer: TfidfVectorizer, offset: int) -> tuple[NgramPart, dict[str, Any] | None]:
    settings = vectorizer.get_params()
    expected = {"lowercase": False, "norm": "l2", "use_idf": True, "binary": False, "stop_words": None}
    expected |= {"preprocessor": None, "strip_accents": None, "input": "content", "dtype": np.float32}
    differing = [key for key, value in expected.items() if settings[key] != value]
    if differing:
        raise NotExportable(f"feature part {name!r}: settings {differing} are not exportable")
    low, high = vectorizer.ngram_range
    terms = _terms_by_column(vectorizer)
    segmenter = None
    if vectorizer.analyzer == "char_wb":
        if low > MAX_CHAR_NGRAM_MIN:
            raise NotExportable(f"character n-grams must start at {MAX_CHAR_NGRAM_MIN} or below (got {low})")
        sequences: list[list[Any]] = [[ord(ch) for ch in term] for term in terms]
        symbols = np.unique(np.fromiter((c for seq in sequences for c in seq), dtype=np.uint32))
        kind: Kind = "char"
    elif vectorizer.analyzer == "word" and isinstance(vectorizer.tokenizer, JiebaTokenizer):
        tokenizer = vectorizer.tokenizer
        segmenter = {"engine": tokenizer.engine, "hmm": tokenizer.hmm, "user_words": list(tokenizer.user_words)}
        # Tokens never hold a space (the segmenter splits on whitespace), so a term's tokens are its parts.
        sequences = [term.split(" ") for term in terms]
        symbols = np.asarray(sorted({token for tokens in sequences for token in tokens}))
        kind = "word"
    else:
        raise NotExportable(f"feature part {name!r}: analyzer {vectorizer.analyzer!r} is not exportable")
    if any(not low <= len(seq) <= high for seq in sequences):
        raise NotExportable(f"feature part {name!r}: a vocabulary entry does not split into {low}-{high} symbols")
    ids = {symbol: i for i, symbol in enumerate(symbols.tolist(), 1)}
    base = len(symbols) + 1
    if base**high >= 2**63:
        raise NotExportable(f"feature part {name!r}: {high}-grams over {len(symbols)} symbols overflow 64-bit keys")
    keys = np.asarray([sum(ids[s] * base**j for j, s in enumerate(seq)) for seq in sequences], dtype=np.int64)
    order = np.argsort(keys)
    part = NgramPart(
        kind=kind,
        ngram_range=(low, high),
        sublinear_tf=bool(vectorizer.sublinear_tf),
        symbols=symbols,
        keys=keys[order],
        key_columns=order.astype(np.int64),
        idf=np.asarray(vectorizer.idf_, dtype=np.float32),
        offset=offset,
    )
    return part, segmenter


def _classifier_kind(estimator: Any) -> str:
    if isinstance(estimator, CalibratedClassifierCV):
        return "svm"
    if isinstance(estimator, ComplementNB):
        return "nb"
    if isinstance(estimator, SGDClassifier):
        return "sgd"
    return "logreg"


def _linear_components(
    clf: OneVsRestClassifier, labels: tuple[str, ...], n_features: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per label, the (coef, intercept, scale, shift) of each sigmoid whose mean is its probability."""
    if not isinstance(clf, OneVsRestClassifier) or not clf.multilabel_:
        raise NotExportable("the classifier is not a multi-label one-vs-rest model")
    per_label = [_components(label, estimator) for label, estimator in zip(labels, clf.estimators_, strict=True)]
    n_components = {len(c) for c in per_label}
    if len(n_components) != 1:
        raise NotExportable("labels have different numbers of calibrated models")
    n = n_components.pop()
    coef = np.zeros((n, len(labels), n_features))
    intercept, scale, shift = (np.zeros((n, len(labels))) for _ in range(3))
    for j, components in enumerate(per_label):
        for c, (w, b, a, s) in enumerate(components):
            coef[c, j], intercept[c, j], scale[c, j], shift[c, j] = w, b, a, s
    return coef, intercept, scale, shift


def _components(label: str, estimator: Any) -> list[tuple[np.ndarray, float, float, float]]:
    if not np.array_equal(getattr(estimator, "classes_", []), [0, 1]):
        raise NotExportable(f"label {label!r}: its model did not see both classes in training")
    if isinstance(estimator, LogisticRegression) or (
        isinstance(estimator, SGDClassifier) and estimator.loss == "log_loss"
    ):
        return [(estimator.coef_.ravel(), float(estimator.intercept_[0]), 1.0, 0.0)]
    if isinstance(estimator, ComplementNB):
        # Two classes: exp(jll1 - logsumexp(jll)) is the sigmoid of jll1 - jll0.
        log_prob = estimator.feature_log_prob_
        return [(log_prob[1] - log_prob[0], 0.0, 1.0, 0.0)]
    if isinstance(estimator, CalibratedClassifierCV) and estimator.method == "sigmoid" and estimator.ensemble:
        out = []
        for calibrated in estimator.calibrated_classifiers_:
            svm, (sigmoid,) = calibrated.estimator, calibrated.calibrators
            if not np.array_equal(svm.classes_, [0, 1]):
                raise NotExportable(f"label {label!r}: a calibration fold saw one class only")
            # sklearn's sigmoid calibration is expit(-(a * decision + b)).
            out.append((svm.coef_.ravel(), float(svm.intercept_[0]), -float(sigmoid.a_), -float(sigmoid.b_)))
        return out
    raise NotExportable(f"label {label!r}: {type(estimator).__name__} cannot be exported exactly")
