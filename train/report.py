"""Human-readable artifacts of a fit: text report, confusion matrices, mistakes, terms."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from train.metrics import Metrics


def f1_by_evaluation(named: Mapping[str, Metrics]) -> str:
    """A fixed-width table: one row per label, one F1 column per evaluation."""
    names = list(named)
    labels = list(next(iter(named.values())).per_label)
    width = max(len(label) for label in labels) + 2
    lines = ["".ljust(width) + "".join(n.rjust(14) for n in names)]
    for label in labels:
        lines.append(label.ljust(width) + "".join(f"{named[n].per_label[label].f1:14.3f}" for n in names))
    for key in ("macro_f1", "micro_f1", "subset_accuracy"):
        lines.append(key.ljust(width) + "".join(f"{getattr(named[n], key):14.3f}" for n in names))
    return "\n".join(lines)


def classification_report(metrics: Metrics) -> str:
    lines = [f"{'label':30}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for label, s in metrics.per_label.items():
        lines.append(f"{label:30}{s.precision:10.3f}{s.recall:10.3f}{s.f1:10.3f}{s.support:10d}")
    lines.append(f"{'micro avg':30}{'':>20}{metrics.micro_f1:10.3f}")
    lines.append(f"{'macro avg':30}{'':>20}{metrics.macro_f1:10.3f}")
    lines.append(f"{'subset accuracy':30}{'':>20}{metrics.subset_accuracy:10.3f}")
    return "\n".join(lines)


def confusion_figure(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str], path: Path) -> None:
    """One 2×2 confusion matrix per label, from out-of-fold decisions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, axes = plt.subplots(1, len(labels), figsize=(4 * len(labels), 4), squeeze=False)
    for i, (label, ax) in enumerate(zip(labels, axes[0], strict=True)):
        ConfusionMatrixDisplay.from_predictions(
            y_true[:, i], y_pred[:, i], display_labels=["no", "yes"], ax=ax, colorbar=False
        )
        ax.set_title(label, fontsize=10)
    fig.suptitle("Out-of-fold confusion per label (stratified CV, first repeat)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def mistakes(
    ids: Sequence[str],
    texts: Sequence[str],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    scores: np.ndarray,
    labels: Sequence[str],
) -> list[dict[str, object]]:
    """Every paragraph whose out-of-fold labels differ from the gold labels."""
    rows = []
    for i in np.flatnonzero((y_true != y_pred).any(axis=1)):
        rows.append(
            {
                "id": ids[int(i)],
                "text": texts[int(i)],
                "gold": ",".join(lab for lab, on in zip(labels, y_true[i], strict=True) if on),
                "predicted": ",".join(lab for lab, on in zip(labels, y_pred[i], strict=True) if on),
                **{f"score_{lab}": round(float(s), 3) for lab, s in zip(labels, scores[i], strict=True)},
            }
        )
    return rows


def write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2), encoding="utf-8")


def learning_curve_figure(points: Sequence[tuple[int, float]], baseline: float, path: Path) -> None:
    """Macro-F1 against training paragraphs: still rising means more labels would help."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes, scores = zip(*points, strict=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(sizes, scores, marker="o", label="model (out-of-fold)")
    ax.axhline(baseline, color="grey", linestyle="--", label="baseline (label priors)")
    ax.set_xlabel("training paragraphs per fold")
    ax.set_ylabel("macro-F1")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Learning curve (stratified CV, first repeat)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def search_figure(scores: Sequence[float], metric: str, default: float | None, path: Path) -> None:
    """Each trial's score in search order, the best so far, and the default settings' score."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trials = range(1, len(scores) + 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(trials, scores, label="trial")
    ax.plot(trials, np.maximum.accumulate(np.asarray(scores)), color="C1", label="best so far")
    if default is not None:
        ax.axhline(default, color="grey", linestyle="--", label="default settings")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(f"train tune: {metric} per trial")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
