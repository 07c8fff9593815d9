import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from tests.conftest import LABELS
from train.config import FitConfig
from train.evaluate import (
    best_thresholds,
    cross_fitted_decisions,
    cross_validate,
    grouped_splits,
    learning_curve_partitions,
    out_of_fold_scores,
    stratified_splits,
)
from train.metrics import compute_metrics
from train.model import build_baseline, build_pipeline


def test_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, size=(40, len(LABELS)))
    y_pred = rng.integers(0, 2, size=(40, len(LABELS)))
    m = compute_metrics(y_true, y_pred, LABELS)
    assert m.macro_f1 == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0))
    assert m.micro_f1 == pytest.approx(f1_score(y_true, y_pred, average="micro", zero_division=0))
    assert m.subset_accuracy == pytest.approx(float((y_true == y_pred).all(axis=1).mean()))
    for i, label in enumerate(LABELS):
        assert m.per_label[label].precision == pytest.approx(
            precision_score(y_true[:, i], y_pred[:, i], zero_division=0)
        )
        assert m.per_label[label].recall == pytest.approx(recall_score(y_true[:, i], y_pred[:, i], zero_division=0))
        assert m.per_label[label].support == y_true[:, i].sum()


def test_threshold_maximises_f1_and_splits_between_scores() -> None:
    scores = np.array([[0.9], [0.8], [0.35], [0.3], [0.2], [0.1], [0.6], [0.05]])
    truth = np.array([[1], [1], [1], [1], [1], [0], [0], [0]])
    (threshold,) = best_thresholds(scores, truth)
    assert 0.1 < threshold <= 0.2  # all five positives kept, at the cost of one false positive
    assert f1_score(truth.ravel(), scores.ravel() >= threshold) == pytest.approx(10 / 11)


def test_rare_label_keeps_default_threshold() -> None:
    scores = np.array([[0.9], [0.2], [0.1]])
    truth = np.array([[1], [0], [0]])
    assert best_thresholds(scores, truth)[0] == 0.5


def test_cross_fitted_thresholds_never_see_their_own_fold() -> None:
    # Fold 0 alone would want a low threshold; fold 1's data says 0.5-ish. Fold 0 must get fold 1's.
    scores = np.array([[0.3]] * 5 + [[0.1]] * 5 + [[0.7]] * 5 + [[0.2]] * 5)
    truth = np.array([[1]] * 5 + [[0]] * 5 + [[1]] * 5 + [[0]] * 5)
    fold_of = np.array([0] * 10 + [1] * 10)
    decisions = cross_fitted_decisions(scores, truth, fold_of)
    assert not decisions[:5].any()  # 0.3 < threshold learned on fold 1 (between 0.7 and 0.2)
    assert decisions[10:15].all()


def test_grouped_splits_keep_groups_whole() -> None:
    groups = ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    for train, test in grouped_splits(groups, folds=5):
        assert not {groups[i] for i in train} & {groups[i] for i in test}


def test_model_beats_baseline_on_tiny_data(tiny_rows) -> None:  # type: ignore[no-untyped-def]
    rows = [r for r in tiny_rows if r["labels"] is not None] * 3
    texts = [str(r["text"]) for r in rows]
    y = np.array([[int(label in r["labels"]) for label in LABELS] for r in rows])
    config = FitConfig(folds=3, repeats=1, min_df=1)
    partitions = [stratified_splits(y, 3, 0)]
    model = cross_validate(build_pipeline(config), texts, y, partitions, labels=LABELS)
    baseline = cross_validate(build_baseline(config), texts, y, partitions, labels=LABELS)
    assert model.macro_f1 > baseline.macro_f1


def test_one_pool_scores_each_partition_as_alone(tiny_rows) -> None:  # type: ignore[no-untyped-def]
    """Sharing one pool, sorted by training size, must not mix up which fold's scores land where."""
    rows = [r for r in tiny_rows if r["labels"] is not None] * 4
    texts = [str(r["text"]) for r in rows]
    y = np.array([[int(label in r["labels"]) for label in LABELS] for r in rows])
    model = build_pipeline(FitConfig(folds=2, repeats=1, min_df=1))
    partitions = [stratified_splits(y, 2, seed) for seed in (0, 1)]
    partitions += learning_curve_partitions(partitions[0], [0.6], seed=0)
    together = out_of_fold_scores(model, texts, y, partitions, n_jobs=2)
    for splits, (scores, fold_of) in zip(partitions, together, strict=True):
        [(alone, alone_folds)] = out_of_fold_scores(model, texts, y, [splits])
        np.testing.assert_array_equal(fold_of, alone_folds)
        np.testing.assert_allclose(scores, alone, atol=1e-12)
