"""Why the model tags what it tags: per-label term weights and per-paragraph contributions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.pipeline import Pipeline

Terms = list[tuple[str, float]]


def label_coefficients(pipeline: Pipeline) -> np.ndarray:
    """Linear weight of every feature for every label, shape (n_labels, n_features)."""
    n_features = len(pipeline.named_steps["features"].get_feature_names_out())
    rows = []
    for estimator in pipeline.named_steps["clf"].estimators_:
        if hasattr(estimator, "coef_"):
            rows.append(estimator.coef_.ravel())
        elif hasattr(estimator, "calibrated_classifiers_"):
            rows.append(np.mean([c.estimator.coef_.ravel() for c in estimator.calibrated_classifiers_], axis=0))
        elif hasattr(estimator, "feature_log_prob_"):
            # Naive Bayes: how much more likely a term is under "yes" than under "no".
            rows.append(estimator.feature_log_prob_[1] - estimator.feature_log_prob_[0])
        else:  # a label that never occurred in training: a constant predictor has no terms
            rows.append(np.zeros(n_features))
    return np.vstack(rows)


def feature_names(pipeline: Pipeline) -> np.ndarray:
    """`word__奥特曼`, `char__诉讼` ...: each feature with the analyzer it came from."""
    return np.asarray(pipeline.named_steps["features"].get_feature_names_out())


def top_terms(pipeline: Pipeline, labels: Sequence[str], n: int = 15) -> dict[str, dict[str, Terms]]:
    """The n most positive and most negative features per label."""
    names = feature_names(pipeline)
    out: dict[str, dict[str, Terms]] = {}
    for label, row in zip(labels, label_coefficients(pipeline), strict=True):
        order = np.argsort(row)
        out[label] = {
            "positive": [(str(names[i]), float(row[i])) for i in order[::-1][:n]],
            "negative": [(str(names[i]), float(row[i])) for i in order[:n]],
        }
    return out


def contributions(
    pipeline: Pipeline, texts: Sequence[str], labels: Sequence[str], n: int = 5
) -> list[dict[str, Terms]]:
    """Per text and label, the n features that pushed its score up most (feature value × weight)."""
    features = pipeline[:-1].transform(list(texts)).tocsr()
    coefficients = label_coefficients(pipeline)
    names = feature_names(pipeline)
    out = []
    for row in range(features.shape[0]):
        start, end = features.indptr[row], features.indptr[row + 1]
        columns, values = features.indices[start:end], features.data[start:end]
        per_label: dict[str, Terms] = {}
        for index, label in enumerate(labels):
            pushed = values * coefficients[index, columns]
            best = np.argsort(-pushed)[:n]
            per_label[label] = [(str(names[columns[i]]), float(pushed[i])) for i in best if pushed[i] > 0]
        out.append(per_label)
    return out
