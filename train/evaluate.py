"""Honest evaluation: cross-validation, decision thresholds, metrics, top terms.

Pure functions over texts, indicator matrices and estimators; nothing here prints
or touches MLflow.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import GroupKFold

from train.metrics import LabelScores, Metrics, compute_metrics
from train.tokens import memoized

Split = tuple[np.ndarray, np.ndarray]
# What an estimator takes: texts, or row numbers of texts counted once (`train.precount`).
Inputs = Sequence[str] | np.ndarray
OnFold = Callable[[], None]

# Below this many positives the F1-optimal threshold is noise; keep the neutral 0.5.
MIN_POSITIVES_FOR_THRESHOLD = 5
DEFAULT_THRESHOLD = 0.5


# --- thresholds ---------------------------------------------------------------------


def best_thresholds(scores: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    """Per label, the cut on `scores` that maximises F1 (0.5 for rare labels)."""
    return np.array([_best_threshold(scores[:, i], y_true[:, i]) for i in range(scores.shape[1])])


def _best_threshold(score: np.ndarray, truth: np.ndarray) -> float:
    positives = int(truth.sum())
    if positives < MIN_POSITIVES_FOR_THRESHOLD:
        return DEFAULT_THRESHOLD
    order = np.argsort(-score, kind="stable")
    ranked, hits = score[order], truth[order].astype(bool)
    tp = np.cumsum(hits)
    predicted = np.arange(1, len(ranked) + 1)
    f1 = 2 * tp / (predicted + positives)
    # Only cut between distinct scores: ties must land on the same side.
    distinct = np.append(ranked[1:] < ranked[:-1], True)
    best = int(np.argmax(np.where(distinct, f1, -1.0)))
    below = ranked[best + 1] if best + 1 < len(ranked) else 0.0
    # Midway to the next lower score, so unseen texts near the edge are not lost.
    return float((ranked[best] + below) / 2)


def cross_fitted_decisions(scores: np.ndarray, y_true: np.ndarray, fold_of: np.ndarray) -> np.ndarray:
    """Decide each fold's rows with thresholds chosen on the other folds only.

    Choosing thresholds on the same out-of-fold scores they are scored on would
    flatter the metrics; this keeps every row's threshold blind to its own label.
    """
    decisions = np.zeros_like(y_true, dtype=bool)
    for fold in np.unique(fold_of):
        inside = fold_of == fold
        thresholds = best_thresholds(scores[~inside], y_true[~inside])
        decisions[inside] = scores[inside] >= thresholds
    return decisions


# --- cross-validation ---------------------------------------------------------------


def stratified_splits(y: np.ndarray, folds: int, seed: int) -> list[Split]:
    """Multi-label stratified k-fold: every fold keeps each label's share."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

    cv = MultilabelStratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(y)), y))


def grouped_splits(groups: Sequence[str], folds: int) -> list[Split]:
    """K-fold where no article or authored batch is split across folds."""
    n_groups = len(set(groups))
    cv = GroupKFold(n_splits=min(folds, n_groups))
    return list(cv.split(np.zeros(len(groups)), groups=np.asarray(groups)))


def _fit_fold(
    estimator: BaseEstimator, texts: np.ndarray, y: np.ndarray, split: Split
) -> tuple[np.ndarray, np.ndarray]:
    train, test = split
    with warnings.catch_warnings(), memoized():
        # A rare label can be absent from a small training fold; the constant model is the right answer.
        warnings.filterwarnings("ignore", message="Label not .* is present in all training examples")
        fitted = clone(estimator).fit(texts[train], y[train])
        return test, np.asarray(fitted.predict_proba(texts[test]))


def out_of_fold_scores(
    estimator: BaseEstimator,
    texts: Inputs,
    y: np.ndarray,
    splits: Sequence[Split],
    *,
    n_jobs: int = 1,
    on_fold: OnFold | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores for every row from the model that did not see it, and each row's fold."""
    text_array = np.asarray(texts, dtype=object)
    scores = np.zeros(y.shape, dtype=np.float64)
    fold_of = np.full(len(y), -1)
    for index, split in enumerate(splits):
        fold_of[split[1]] = index
    jobs = (delayed(_fit_fold)(estimator, text_array, y, split) for split in splits)
    for test, proba in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs):
        scores[test] = proba
        if on_fold is not None:
            on_fold()
    return scores, fold_of


@dataclass
class CVResult:
    """Out-of-fold evaluation of one estimator over one or more repeats."""

    runs: list[Metrics]
    scores: list[np.ndarray] = field(repr=False)
    folds: list[np.ndarray] = field(repr=False)

    @property
    def macro_f1(self) -> float:
        return float(np.mean([m.macro_f1 for m in self.runs]))

    @property
    def macro_f1_std(self) -> float:
        return float(np.std([m.macro_f1 for m in self.runs]))

    def mean(self) -> Metrics:
        """Metrics averaged over repeats (support from the first repeat)."""
        first = self.runs[0]
        per_label = {
            label: LabelScores(
                precision=float(np.mean([m.per_label[label].precision for m in self.runs])),
                recall=float(np.mean([m.per_label[label].recall for m in self.runs])),
                f1=float(np.mean([m.per_label[label].f1 for m in self.runs])),
                support=first.per_label[label].support,
            )
            for label in first.per_label
        }
        return Metrics(
            per_label=per_label,
            micro_f1=float(np.mean([m.micro_f1 for m in self.runs])),
            macro_f1=self.macro_f1,
            subset_accuracy=float(np.mean([m.subset_accuracy for m in self.runs])),
        )


def cross_validate(
    estimator: BaseEstimator,
    texts: Inputs,
    y: np.ndarray,
    partitions: Sequence[Sequence[Split]],
    *,
    n_jobs: int = 1,
    on_fold: OnFold | None = None,
) -> CVResult:
    """One out-of-fold pass per partition (repeat), each scored with cross-fitted thresholds."""
    result = CVResult(runs=[], scores=[], folds=[])
    for splits in partitions:
        scores, fold_of = out_of_fold_scores(estimator, texts, y, splits, n_jobs=n_jobs, on_fold=on_fold)
        result.scores.append(scores)
        result.folds.append(fold_of)
        result.runs.append(compute_metrics(y, cross_fitted_decisions(scores, y, fold_of)))
    return result


def final_thresholds(result: CVResult, y: np.ndarray) -> np.ndarray:
    """Thresholds for the final model, chosen on all out-of-fold scores of all repeats."""
    return best_thresholds(np.vstack(result.scores), np.vstack([y] * len(result.scores)))


def cross_source(
    estimator: BaseEstimator,
    train_texts: Inputs,
    y_train: np.ndarray,
    test_texts: Inputs,
    y_test: np.ndarray,
    *,
    folds: int,
    seed: int,
    n_jobs: int = 1,
    on_fold: OnFold | None = None,
) -> Metrics:
    """Train on one source, score another; thresholds come from CV on the training side."""
    inner = cross_validate(
        estimator, train_texts, y_train, [stratified_splits(y_train, folds, seed)], n_jobs=n_jobs, on_fold=on_fold
    )
    thresholds = final_thresholds(inner, y_train)
    with memoized():
        fitted = clone(estimator).fit(list(train_texts), y_train)
        scores = np.asarray(fitted.predict_proba(list(test_texts)))
    return compute_metrics(y_test, scores >= thresholds)


def learning_curve(
    estimator: BaseEstimator,
    texts: Inputs,
    y: np.ndarray,
    splits: Sequence[Split],
    *,
    fractions: Sequence[float] = (0.2, 0.4, 0.6, 0.8),
    seed: int = 0,
    n_jobs: int = 1,
    on_fold: OnFold | None = None,
) -> list[tuple[int, float]]:
    """(training paragraphs, out-of-fold macro-F1) when each fold trains on a fraction of its data.

    The test folds stay whole, so the points differ only in how much the model saw.
    """
    rng = np.random.default_rng(seed)
    points = []
    for fraction in fractions:
        smaller = [
            (rng.choice(train, max(1, round(fraction * len(train))), replace=False), test) for train, test in splits
        ]
        scores, fold_of = out_of_fold_scores(estimator, texts, y, smaller, n_jobs=n_jobs, on_fold=on_fold)
        metrics = compute_metrics(y, cross_fitted_decisions(scores, y, fold_of))
        points.append((round(float(np.mean([len(train) for train, _ in smaller]))), metrics.macro_f1))
    return points
