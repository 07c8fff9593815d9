"""Why the model tags what it tags: per-label term weights and per-paragraph contributions."""

from __future__ import annotations

import numpy as np

from train.scorer import Features, Scorer

Terms = list[tuple[str, float]]


def top_terms(scorer: Scorer, n: int = 15) -> dict[str, dict[str, Terms]]:
    """The n most positive and most negative features per label."""
    names = scorer.feature_names()
    out: dict[str, dict[str, Terms]] = {}
    for label, row in zip(scorer.labels, scorer.coefficients(), strict=True):
        order = np.argsort(row, kind="stable")
        out[label] = {
            "positive": [(str(names[i]), float(row[i])) for i in order[::-1][:n]],
            "negative": [(str(names[i]), float(row[i])) for i in order[:n]],
        }
    return out


def contributions(scorer: Scorer, features: Features, n: int = 5) -> list[dict[str, Terms]]:
    """Per text and label, the n features that pushed its score up most (feature value × weight)."""
    coefficients = scorer.coefficients()
    names = scorer.feature_names()
    order = np.argsort(features.rows, kind="stable")
    rows, columns, values = features.rows[order], features.columns[order], features.values[order]
    bounds = np.searchsorted(rows, np.arange(features.n_rows + 1))
    out = []
    for row in range(features.n_rows):
        own = slice(bounds[row], bounds[row + 1])
        per_label: dict[str, Terms] = {}
        for index, label in enumerate(scorer.labels):
            pushed = values[own] * coefficients[index, columns[own]]
            best = np.argsort(-pushed, kind="stable")[:n]
            per_label[label] = [(str(names[columns[own][i]]), float(pushed[i])) for i in best if pushed[i] > 0]
        out.append(per_label)
    return out
