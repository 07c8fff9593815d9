"""Per-label precision, recall and F1, micro and macro F1, subset accuracy: plain numpy.

Kept apart from `train.evaluate` (cross-validation, which needs scikit-learn), so that
scoring a saved model on a labeled file imports none of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LabelScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Metrics:
    per_label: dict[str, LabelScores]
    micro_f1: float
    macro_f1: float
    subset_accuracy: float

    def flat(self, prefix: str = "") -> dict[str, float]:
        """Metric names as logged to MLflow: `macro_f1`, `f1_finance`, ..."""
        out = {
            f"{prefix}macro_f1": self.macro_f1,
            f"{prefix}micro_f1": self.micro_f1,
            f"{prefix}subset_accuracy": self.subset_accuracy,
        }
        for label, s in self.per_label.items():
            out[f"{prefix}f1_{label}"] = s.f1
            out[f"{prefix}precision_{label}"] = s.precision
            out[f"{prefix}recall_{label}"] = s.recall
        return out


def compute_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> Metrics:
    """Per-label precision/recall/F1/support, micro and macro F1, subset accuracy; `labels` names the columns."""
    y_true = y_true.astype(bool)
    y_pred = y_pred.astype(bool)
    tp = (y_true & y_pred).sum(axis=0)
    fp = (~y_true & y_pred).sum(axis=0)
    fn = (y_true & ~y_pred).sum(axis=0)
    per_label = {
        label: LabelScores(
            precision=_ratio(tp[i], tp[i] + fp[i]),
            recall=_ratio(tp[i], tp[i] + fn[i]),
            f1=_ratio(2 * tp[i], 2 * tp[i] + fp[i] + fn[i]),
            support=int(y_true[:, i].sum()),
        )
        for i, label in enumerate(labels)
    }
    return Metrics(
        per_label=per_label,
        micro_f1=_ratio(2 * tp.sum(), 2 * tp.sum() + fp.sum() + fn.sum()),
        macro_f1=float(np.mean([s.f1 for s in per_label.values()])),
        subset_accuracy=float((y_true == y_pred).all(axis=1).mean()),
    )


def _ratio(num: float, den: float) -> float:
    # sklearn's zero_division=0 convention: an empty denominator scores 0.
    return float(num / den) if den else 0.0


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The mean of the per-label F1 scores."""
    y_true = y_true.astype(bool)
    y_pred = y_pred.astype(bool)
    tp = (y_true & y_pred).sum(axis=0)
    wrong = (y_true ^ y_pred).sum(axis=0)
    return float(np.mean([_ratio(2 * t, 2 * t + w) for t, w in zip(tp, wrong, strict=True)]))


def evaluate_model(scores: np.ndarray, thresholds: np.ndarray, y_true: np.ndarray, labels: Sequence[str]) -> Metrics:
    """A saved model's metrics on a labeled file it never trained on."""
    return compute_metrics(y_true, scores >= thresholds, labels)
