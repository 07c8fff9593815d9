"""`train fit`: evaluate honestly, train the final model, save it and track the run."""

from __future__ import annotations

import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from train import __version__
from train.config import LABELS, FitConfig
from train.data import Dataset, Record, label_matrix, load_dataset
from train.errors import DataError
from train.evaluate import (
    CVResult,
    Metrics,
    compute_metrics,
    cross_fitted_decisions,
    cross_source,
    cross_validate,
    final_thresholds,
    grouped_splits,
    stratified_splits,
    top_terms,
)
from train.model import TopicModel, build_baseline, build_pipeline, save
from train.tokens import read_user_words

# A stage name and its number of folds in; returns the callback to tick once per fold.
ProgressFactory = Callable[[str, int], Callable[[], None]]


@dataclass(frozen=True)
class FitRequest:
    data: Sequence[Path]
    model_path: Path
    config: FitConfig
    user_dict: Path | None
    tracking_uri: str
    experiment: str
    run_name: str | None = None
    n_jobs: int = 1


@dataclass
class FitResult:
    n_train: int
    n_unlabeled: int
    cv: CVResult
    baseline: CVResult
    grouped: Metrics | None
    grouped_seed: Metrics | None
    cross_source: dict[str, Metrics]
    thresholds: np.ndarray
    run_id: str
    experiment_id: str
    model_uri: str
    seconds: float


def default_run_name(config: FitConfig) -> str:
    stamp = datetime.now(UTC).strftime("%m%d-%H%M%S")
    return f"{config.classifier}-{config.analyzer}-C{config.C:g}-{stamp}"


def check_trainable(records: Sequence[Record], folds: int) -> None:
    """Stratified k-fold needs each label present at least once per fold."""
    if not records:
        raise DataError("no labeled records to train on (all are unlabeled?)")
    y = np.asarray(label_matrix(records))
    for label, count in zip(LABELS, y.sum(axis=0), strict=True):
        if count < folds:
            raise DataError(
                f"label {label!r} has {count} labeled examples, fewer than --folds {folds}; "
                "label more paragraphs or lower --folds"
            )


def _is_seed(record: Record) -> bool:
    return record.source == "seed"


def run_fit(request: FitRequest, progress: ProgressFactory) -> FitResult:
    """Evaluate with CV, fit on all labeled data, save atomically, log to MLflow."""
    started = time.perf_counter()
    dataset: Dataset = load_dataset(request.data)
    records = dataset.labeled
    config = request.config
    check_trainable(records, config.folds)
    user_words = read_user_words(request.user_dict) if request.user_dict else ()

    from train import tracking  # mlflow is slow to import: only here, after the data is known good

    experiment_id = tracking.connect(request.tracking_uri, request.experiment)
    texts = [r.text for r in records]
    y = np.asarray(label_matrix(records))
    groups = [r.group for r in records]
    pipeline = build_pipeline(config, user_words)
    tags = {"git_commit": tracking.git_commit(), "data_sha256": dataset.sha256, "train_version": __version__}
    run_name = request.run_name or default_run_name(config)

    with tracking.run(experiment_id, run_name, tags) as run_id:
        tracking.log_params(
            {
                **config.to_params(),
                "n_train": len(records),
                "user_words": len(user_words),
                "data": ",".join(map(str, request.data)),
            }
        )
        partitions = [stratified_splits(y, config.folds, config.seed + r) for r in range(config.repeats)]
        tick = progress("cross-validation", config.folds * config.repeats)
        cv = cross_validate(pipeline, texts, y, partitions, n_jobs=request.n_jobs, on_fold=tick)
        baseline = cross_validate(build_baseline(config), texts, y, partitions)

        grouped, grouped_seed = None, None
        if len(set(groups)) >= 2:
            splits = grouped_splits(groups, config.folds)
            tick = progress("grouped CV (by article / batch)", len(splits))
            result = cross_validate(pipeline, texts, y, [splits], n_jobs=request.n_jobs, on_fold=tick)
            grouped = result.runs[0]
            seed = np.array([_is_seed(r) for r in records])
            if seed.any() and not seed.all():
                # The seed articles are real outlets' text: their held-out score is the closest to "unseen".
                decisions = cross_fitted_decisions(result.scores[0], y, result.folds[0])
                grouped_seed = compute_metrics(y[seed], decisions[seed])

        sources = _cross_source_scores(records, y, texts, pipeline, config, request.n_jobs, progress)

        tick = progress("final fit on all labeled data", 1)
        thresholds = final_thresholds(cv, y)
        model = TopicModel(pipeline=pipeline.fit(texts, y), labels=LABELS, thresholds=thresholds)
        tick()

        metrics = {**cv.mean().flat(), "macro_f1_std": cv.macro_f1_std, "baseline_macro_f1": baseline.macro_f1}
        metrics.update({f"baseline_f1_{k}": v.f1 for k, v in baseline.mean().per_label.items()})
        if grouped is not None:
            metrics.update(grouped.flat("grouped_"))
        if grouped_seed is not None:
            metrics.update(grouped_seed.flat("grouped_seed_"))
        for name, scores in sources.items():
            metrics.update(scores.flat(f"{name}_"))
        for label, threshold in zip(LABELS, thresholds, strict=True):
            metrics[f"threshold_{label}"] = float(threshold)
        tracking.log_metrics(metrics)

        save(
            model,
            request.model_path,
            {
                "config": config.to_params(),
                "cv_metrics": metrics,
                "data_files": [vars(f) for f in dataset.files],
                "data_sha256": dataset.sha256,
                "n_train": len(records),
                "versions": _versions(),
                "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "mlflow_run_id": run_id,
                "tracking_uri": request.tracking_uri,
            },
        )
        tracking.log_dataset([r.id for r in records], texts, y, ",".join(map(str, request.data)), dataset.sha256)
        _log_report(records, texts, y, cv, baseline, grouped, sources, model)
        model_uri = tracking.log_model(request.model_path, texts[:3])
        tracking.log_metrics({"fit_seconds": time.perf_counter() - started})

    return FitResult(
        n_train=len(records),
        n_unlabeled=dataset.n_unlabeled,
        cv=cv,
        baseline=baseline,
        grouped=grouped,
        grouped_seed=grouped_seed,
        cross_source=sources,
        thresholds=thresholds,
        run_id=run_id,
        experiment_id=experiment_id,
        model_uri=model_uri,
        seconds=time.perf_counter() - started,
    )


def _cross_source_scores(
    records: Sequence[Record],
    y: np.ndarray,
    texts: Sequence[str],
    pipeline: Pipeline,
    config: FitConfig,
    n_jobs: int,
    progress: ProgressFactory,
) -> dict[str, Metrics]:
    """Train on the seed articles and score the authored corpus, and the other way round."""
    seed = np.array([_is_seed(r) for r in records])
    if seed.all() or not seed.any():
        return {}
    text_array = np.asarray(texts, dtype=object)
    out: dict[str, Metrics] = {}
    for name, train_mask in (("authored_to_seed", ~seed), ("seed_to_authored", seed)):
        y_train = y[train_mask]
        if (y_train.sum(axis=0) < config.folds).any():
            continue  # too few examples of some label on this side to choose thresholds
        tick = progress(f"cross-source {name.replace('_', ' ')}", config.folds)
        out[name] = cross_source(
            pipeline,
            list(text_array[train_mask]),
            y_train,
            list(text_array[~train_mask]),
            y[~train_mask],
            folds=config.folds,
            seed=config.seed,
            n_jobs=n_jobs,
            on_fold=tick,
        )
    return out


def _versions() -> dict[str, str]:
    names = ["scikit-learn", "jieba", "joblib", "numpy", "opencc", "mlflow"]
    return {"python": platform.python_version(), "train": __version__, **{n: version(n) for n in names}}


def _log_report(
    records: Sequence[Record],
    texts: Sequence[str],
    y: np.ndarray,
    cv: CVResult,
    baseline: CVResult,
    grouped: Metrics | None,
    sources: dict[str, Metrics],
    model: TopicModel,
) -> None:
    import pandas as pd

    from train import report, tracking

    decisions = cross_fitted_decisions(cv.scores[0], y, cv.folds[0])
    named = {"cv": cv.mean(), "baseline": baseline.mean()}
    if grouped is not None:
        named["grouped_cv"] = grouped
    named.update(sources)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        text = [
            "Stratified CV (mean over repeats):",
            report.classification_report(cv.mean()),
            "",
            "F1 by evaluation:",
            report.metrics_table(named),
        ]
        (folder / "classification_report.txt").write_text("\n".join(text) + "\n", encoding="utf-8")
        report.confusion_figure(y, decisions, folder / "confusion_matrices.png")
        report.write_json(folder / "top_terms.json", top_terms(model.pipeline))
        tracking.log_artifacts(folder)
    rows = report.mistakes([r.id for r in records], texts, y, decisions, cv.scores[0])
    tracking.log_table(pd.DataFrame(rows), "report/oof_mistakes.json")
