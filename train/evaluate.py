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

from train.context import CANDIDATES, Context, blend
from train.metrics import LabelScores, Metrics, compute_metrics, macro_f1
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
    estimator: BaseEstimator, texts: np.ndarray, y: np.ndarray, split: Split, number: int
) -> tuple[int, np.ndarray, np.ndarray]:
    train, test = split
    with warnings.catch_warnings(), memoized():
        # A rare label can be absent from a small training fold; the constant model is the right answer.
        warnings.filterwarnings("ignore", message="Label not .* is present in all training examples")
        fitted = clone(estimator).fit(texts[train], y[train])
        return number, test, np.asarray(fitted.predict_proba(texts[test]))


def out_of_fold_scores(
    estimator: BaseEstimator,
    texts: Inputs,
    y: np.ndarray,
    partitions: Sequence[Sequence[Split]],
    *,
    n_jobs: int = 1,
    on_fold: Callable[[int], None] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each partition, every row's score from the model that did not see it, and each row's fold.

    The folds of all partitions share one pool, the largest training sets first (the longest
    fits; the short ones fill in at the end): on 2 workers, 3 repeats of 5 folds take 8 rounds of
    fits rather than 9. `on_fold` gets the partition number of each finished fold.
    """
    text_array = np.asarray(texts, dtype=object)
    results = [(np.zeros(y.shape, dtype=np.float64), np.full(len(y), -1)) for _ in partitions]
    for (_, fold_of), splits in zip(results, partitions, strict=True):
        for index, (_, test) in enumerate(splits):
            fold_of[test] = index
    folds = [(number, split) for number, splits in enumerate(partitions) for split in splits]
    folds.sort(key=lambda fold: -len(fold[1][0]))  # stable: equal sizes keep their order
    jobs = (delayed(_fit_fold)(estimator, text_array, y, split, number) for number, split in folds)
    for number, test, proba in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs):
        results[number][0][test] = proba
        if on_fold is not None:
            on_fold(number)
    return results


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
    labels: Sequence[str],
    n_jobs: int = 1,
    on_fold: OnFold | None = None,
) -> CVResult:
    """One out-of-fold pass per partition (repeat), each scored with cross-fitted thresholds."""
    tick = None if on_fold is None else lambda _: on_fold()
    return cv_result(y, out_of_fold_scores(estimator, texts, y, partitions, n_jobs=n_jobs, on_fold=tick), labels)


def cv_result(y: np.ndarray, out_of_fold: Sequence[tuple[np.ndarray, np.ndarray]], labels: Sequence[str]) -> CVResult:
    """The metrics of out-of-fold scores, one (scores, fold of each row) pair per partition."""
    return CVResult(
        runs=[
            compute_metrics(y, cross_fitted_decisions(scores, y, fold_of), labels) for scores, fold_of in out_of_fold
        ],
        scores=[scores for scores, _ in out_of_fold],
        folds=[fold_of for _, fold_of in out_of_fold],
    )


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
    labels: Sequence[str],
    folds: int,
    seed: int,
    n_jobs: int = 1,
    on_fold: OnFold | None = None,
) -> Metrics:
    """Train on one source, score another; thresholds come from CV on the training side."""
    partitions = [stratified_splits(y_train, folds, seed)]
    inner = cross_validate(estimator, train_texts, y_train, partitions, labels=labels, n_jobs=n_jobs, on_fold=on_fold)
    thresholds = final_thresholds(inner, y_train)
    with memoized():
        fitted = clone(estimator).fit(list(train_texts), y_train)
        scores = np.asarray(fitted.predict_proba(list(test_texts)))
    return compute_metrics(y_test, scores >= thresholds, labels)


def learning_curve_partitions(splits: Sequence[Split], fractions: Sequence[float], seed: int = 0) -> list[list[Split]]:
    """One partition per fraction: each fold trains on that fraction of its training rows, tests on all its rows.

    The test folds stay whole, so the points of the curve differ only in how much the model saw.
    """
    rng = np.random.default_rng(seed)
    return [
        [(rng.choice(train, max(1, round(fraction * len(train))), replace=False), test) for train, test in splits]
        for fraction in fractions
    ]


def learning_curve_points(
    y: np.ndarray, partitions: Sequence[Sequence[Split]], out_of_fold: Sequence[tuple[np.ndarray, np.ndarray]]
) -> list[tuple[int, float]]:
    """(mean training paragraphs, out-of-fold macro-F1) of each learning-curve partition."""
    return [
        (
            round(float(np.mean([len(train) for train, _ in splits]))),
            macro_f1(y, cross_fitted_decisions(scores, y, fold_of)),
        )
        for splits, (scores, fold_of) in zip(partitions, out_of_fold, strict=True)
    ]


# --- article context ----------------------------------------------------------------


def choose_context(scores: np.ndarray, y_true: np.ndarray, article_of: np.ndarray) -> Context:
    """The article context whose blended scores, cut at their best thresholds, give the best macro-F1.

    Off, then the smaller weights, win a tie: context is used only where it helps.
    """

    def score(context: Context) -> float:
        blended = blend(scores, article_of, context)
        return round(macro_f1(y_true, blended >= best_thresholds(blended, y_true)), 9)

    return max(CANDIDATES, key=lambda context: (score(context), -context.weight))


def cross_fitted_context_decisions(
    scores: np.ndarray, y_true: np.ndarray, article_of: np.ndarray, fold_of: np.ndarray
) -> tuple[np.ndarray, list[Context]]:
    """`cross_fitted_decisions` in article context: each fold's context and thresholds from the other folds.

    For grouped folds only (no article split across folds), so that an article's pooled
    scores come from the one model that saw none of it. Also returns each fold's choice.
    """
    decisions = np.zeros_like(y_true, dtype=bool)
    chosen = []
    for fold in np.unique(fold_of):
        inside = fold_of == fold
        context = choose_context(scores[~inside], y_true[~inside], article_of[~inside])
        blended = blend(scores, article_of, context)
        thresholds = best_thresholds(blended[~inside], y_true[~inside])
        decisions[inside] = blended[inside] >= thresholds
        chosen.append(context)
    return decisions, chosen
