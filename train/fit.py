"""`train fit`: evaluate honestly, train the final model, save it and track the run."""

from __future__ import annotations

import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from train import __version__
from train.changes import ARTIFACT as CHANGES_ARTIFACT
from train.changes import Changes, compare, dumps, first_run, snapshot
from train.config import FitConfig
from train.context import OFF, Context, article_numbers, blend, has_articles
from train.data import Record, label_matrix, load_dataset, too_few_examples
from train.errors import DataError, TrackingError
from train.evaluate import (
    CVResult,
    Split,
    best_thresholds,
    choose_context,
    cross_fitted_context_decisions,
    cross_fitted_decisions,
    cross_source,
    cross_validate,
    cv_result,
    final_thresholds,
    grouped_splits,
    learning_curve_partitions,
    learning_curve_points,
    out_of_fold_scores,
    stratified_splits,
)
from train.explain import top_terms
from train.export import check_exportable, to_scorer
from train.labels import LABELS_PATH, load_labels
from train.metrics import Metrics, compute_metrics
from train.model import TopicModel, build_baseline, build_pipeline
from train.modelfile import save
from train.precount import counted
from train.scorer import Scorer
from train.tokens import memoized, read_user_words

# A stage name and its number of folds in; returns the callback to tick once per fold.
ProgressFactory = Callable[[str, int], Callable[[], None]]


def no_progress(description: str, total: int) -> Callable[[], None]:
    return lambda: None


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
    register: bool = False
    learning_curve: bool = True
    labels_file: Path = LABELS_PATH


@dataclass
class Evaluation:
    """Every out-of-sample score of one configuration on one labeled set."""

    cv: CVResult
    baseline: CVResult
    grouped: Metrics | None = None
    # Grouped CV on parts of the data (`grouped_seed`, `grouped_articles`) and in article context (`..._context`).
    grouped_parts: dict[str, Metrics] = field(default_factory=dict)
    context: Context = OFF  # the article context the model is saved with: on only if grouped CV says it helps
    context_thresholds: np.ndarray | None = None  # out-of-fold thresholds for scores in that context
    cross_source: dict[str, Metrics] = field(default_factory=dict)
    learning_curve: list[tuple[int, float]] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        """Flat metric names as logged to MLflow and written to the sidecar."""
        out = {
            **self.cv.mean().flat(),
            "macro_f1_std": self.cv.macro_f1_std,
            "baseline_macro_f1": self.baseline.macro_f1,
        }
        out.update({f"baseline_f1_{k}": v.f1 for k, v in self.baseline.mean().per_label.items()})
        if self.grouped is not None:
            out.update(self.grouped.flat("grouped_"))
        for name, scores in self.grouped_parts.items():
            out.update(scores.flat(f"{name}_"))
        out["article_context_weight"] = self.context.weight
        for name, scores in self.cross_source.items():
            out.update(scores.flat(f"{name}_"))
        return out


@dataclass
class FitResult:
    n_train: int
    n_unlabeled: int
    evaluation: Evaluation
    thresholds: np.ndarray
    run_id: str
    experiment_id: str
    model_uri: str
    seconds: float
    registered_version: str | None = None
    changes: Changes | None = None  # the data against the experiment's previous run


def default_run_name(config: FitConfig) -> str:
    stamp = datetime.now(UTC).strftime("%m%d-%H%M%S")
    return f"{config.classifier}-{config.analyzer}-C{config.C:g}-{stamp}"


def check_trainable(records: Sequence[Record], folds: int, labels: Sequence[str]) -> None:
    """Stratified k-fold needs each label present at least once per fold."""
    if not records:
        raise DataError("no labeled records to train on (all are unlabeled?)")
    few = too_few_examples(records, labels, folds)
    if few:
        raise DataError(next(iter(few.values())))


def evaluate_config(
    pipeline: Pipeline,
    records: Sequence[Record],
    config: FitConfig,
    *,
    labels: Sequence[str],
    n_jobs: int = 1,
    progress: ProgressFactory = no_progress,
    with_cross_source: bool = True,
    with_learning_curve: bool = False,
) -> Evaluation:
    """Repeated stratified CV with its baseline, grouped CV, cross-source and (optionally) a learning curve.

    Every fold trains `pipeline` as it is, on n-gram counts of each text made once (`train.precount`).
    """
    texts = [r.text for r in records]
    y = np.asarray(label_matrix(records, labels))
    groups = [r.group for r in records]
    seed = np.array([r.source == "seed" for r in records])
    with memoized():
        model, rows = counted(pipeline, texts)

    partitions = [stratified_splits(y, config.folds, config.seed + r) for r in range(config.repeats)]
    grouped = [grouped_splits(groups, config.folds)] if len(set(groups)) >= 2 else []
    smallest_fold = min(len(train) for train, _ in partitions[0])
    # A point trained on a handful of paragraphs says nothing; tiny data gets no curve.
    fractions = [f for f in (0.2, 0.4, 0.6, 0.8) if f * smallest_fold >= 50] if with_learning_curve else []
    curve = learning_curve_partitions(partitions[0], fractions, seed=config.seed)
    stages = {"cross-validation": partitions, "grouped CV (by article / batch)": grouped, "learning curve": curve}
    scored = _score_stages(model, rows, y, {name: parts for name, parts in stages.items() if parts}, n_jobs, progress)

    evaluation = Evaluation(
        cv=cv_result(y, scored["cross-validation"], labels),
        baseline=cross_validate(build_baseline(config), rows, y, partitions, labels=labels),
    )
    if grouped:
        scores, fold_of = scored["grouped CV (by article / batch)"][0]
        _grouped(evaluation, scores, y, fold_of, records, config, labels)
    if curve:
        full = round(float(np.mean([len(train) for train, _ in partitions[0]])))
        points = learning_curve_points(y, curve, scored["learning curve"])
        evaluation.learning_curve = [*points, (full, evaluation.cv.runs[0].macro_f1)]
    if with_cross_source and seed.any() and not seed.all():
        for name, train_mask in (("authored_to_seed", ~seed), ("seed_to_authored", seed)):
            if (y[train_mask].sum(axis=0) < config.folds).any():
                continue  # too few examples of some label on this side to choose thresholds
            tick = progress(f"cross-source {name.replace('_', ' ')}", config.folds)
            evaluation.cross_source[name] = cross_source(
                model,
                rows[train_mask],
                y[train_mask],
                rows[~train_mask],
                y[~train_mask],
                labels=labels,
                folds=config.folds,
                seed=config.seed,
                n_jobs=n_jobs,
                on_fold=tick,
            )
    return evaluation


def _grouped(
    evaluation: Evaluation,
    scores: np.ndarray,
    y: np.ndarray,
    fold_of: np.ndarray,
    records: Sequence[Record],
    config: FitConfig,
    labels: Sequence[str],
) -> None:
    """Grouped-CV metrics with and without article context; and the context to save, if it helps."""
    plain = cross_fitted_decisions(scores, y, fold_of)
    evaluation.grouped = compute_metrics(y, plain, labels)
    article_of = article_numbers([r.article for r in records])
    in_context = None
    if config.article_context == "auto" and has_articles(article_of):
        in_context, _ = cross_fitted_context_decisions(scores, y, article_of, fold_of)
        evaluation.grouped_parts["grouped_context"] = compute_metrics(y, in_context, labels)
        if evaluation.grouped_parts["grouped_context"].macro_f1 > evaluation.grouped.macro_f1:
            evaluation.context = choose_context(scores, y, article_of)
            evaluation.context_thresholds = best_thresholds(blend(scores, article_of, evaluation.context), y)
    # The seed articles are real outlets' text: their held-out score is the closest to "unseen";
    # the written articles are the other text whose paragraphs come in articles.
    parts = {"seed": [r.source == "seed" for r in records], "articles": [r.source == "article" for r in records]}
    for name, flags in parts.items():
        inside = np.array(flags)
        if inside.any() and not inside.all():
            evaluation.grouped_parts[f"grouped_{name}"] = compute_metrics(y[inside], plain[inside], labels)
            if in_context is not None:
                evaluation.grouped_parts[f"grouped_{name}_context"] = compute_metrics(
                    y[inside], in_context[inside], labels
                )


def _score_stages(
    model: Pipeline,
    rows: np.ndarray,
    y: np.ndarray,
    stages: dict[str, list[list[Split]]],
    n_jobs: int,
    progress: ProgressFactory,
) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Out-of-fold scores of each stage's partitions, every fold of every stage in one pool.

    One pool keeps both cores busy: a stage's odd last fold runs beside the next stage's first.
    """
    ticks = [progress(name, sum(map(len, parts))) for name, parts in stages.items()]
    stage_of = [i for i, parts in enumerate(stages.values()) for _ in parts]
    flat = out_of_fold_scores(
        model,
        rows,
        y,
        [splits for parts in stages.values() for splits in parts],
        n_jobs=n_jobs,
        on_fold=lambda number: ticks[stage_of[number]](),
    )
    results = iter(flat)
    return {name: [next(results) for _ in parts] for name, parts in stages.items()}


def run_fit(request: FitRequest, progress: ProgressFactory = no_progress) -> FitResult:
    """Evaluate with CV, fit on all labeled data, save atomically, log to MLflow."""
    started = time.perf_counter()
    labels = load_labels(request.labels_file).names
    dataset = load_dataset(request.data, labels)
    records = dataset.labeled
    config = request.config
    check_trainable(records, config.folds, labels)
    check_exportable(config)
    user_words = read_user_words(request.user_dict) if request.user_dict else ()

    from train import pyfunc, tracking  # mlflow is slow to import: only here, after the data is known good

    experiment_id = tracking.connect(request.tracking_uri, request.experiment)
    texts = [r.text for r in records]
    y = np.asarray(label_matrix(records, labels))
    pipeline = build_pipeline(config, user_words)
    tags = {"git_commit": tracking.git_commit(), "data_sha256": dataset.sha256, "train_version": __version__}
    current = snapshot(records)
    previous = tracking.previous_snapshot(experiment_id)
    data_changes = (
        compare(*previous, current, request.experiment) if previous else first_run(request.experiment, current)
    )
    tags.update(data_changes.tags())

    with tracking.run(experiment_id, request.run_name or default_run_name(config), tags) as run_id:
        tracking.log_params(
            {
                **config.to_params(),
                "n_train": len(records),
                "user_words": len(user_words),
                "data": _joined(request.data),
                "labels": ",".join(labels),
            }
        )
        evaluation = evaluate_config(
            pipeline,
            records,
            config,
            labels=labels,
            n_jobs=request.n_jobs,
            progress=progress,
            with_learning_curve=request.learning_curve,
        )
        tick = progress("final fit on all labeled data", 1)
        thresholds = final_thresholds(evaluation.cv, y)
        if evaluation.context_thresholds is not None:
            thresholds = evaluation.context_thresholds
        with memoized():
            model = TopicModel(pipeline=pipeline.fit(texts, y), labels=labels, thresholds=thresholds)
        scorer = replace(to_scorer(model), context=evaluation.context)
        tick()
        tracking.log_params({"article_context_chosen": str(evaluation.context)})

        metrics = evaluation.metrics()
        metrics.update({f"threshold_{label}": float(t) for label, t in zip(labels, thresholds, strict=True)})
        save(
            model,
            scorer,
            request.model_path,
            {
                "config": config.to_params(),
                "cv_metrics": metrics,
                "data_files": [vars(f) for f in dataset.files],
                "data_sha256": dataset.sha256,
                "n_train": len(records),
                "versions": library_versions(),
                "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "mlflow_run_id": run_id,
                "tracking_uri": request.tracking_uri,
            },
        )
        try:
            tracking.log_metrics(metrics)
            tracking.log_dataset([r.id for r in records], texts, y, labels, _joined(request.data), dataset.sha256)
            tracking.log_text(dumps(current), CHANGES_ARTIFACT)
            _log_report(records, y, evaluation, scorer, labels)
            model_uri = pyfunc.log_model(scorer, request.model_path, texts[:3], request.user_dict)
            registered = tracking.register(model_uri) if request.register else None
            tracking.log_metrics({"fit_seconds": time.perf_counter() - started})
        except Exception as exc:  # the model is safe on disk; say so rather than lose it in a traceback
            raise TrackingError(
                f"model saved to {request.model_path}, but logging run {run_id} to MLflow failed: {exc}"
            ) from None

    return FitResult(
        n_train=len(records),
        n_unlabeled=dataset.n_unlabeled,
        evaluation=evaluation,
        thresholds=thresholds,
        run_id=run_id,
        experiment_id=experiment_id,
        model_uri=model_uri,
        seconds=time.perf_counter() - started,
        registered_version=registered,
        changes=data_changes,
    )


def _joined(paths: Sequence[Path]) -> str:
    return ",".join(map(str, paths))


def library_versions() -> dict[str, str]:
    """Versions the saved pipeline depends on: a joblib pickle loads only with matching scikit-learn and numpy."""
    names = ["scikit-learn", "jieba", "joblib", "numpy", "opencc"]
    return {"python": platform.python_version(), "train": __version__, **{n: version(n) for n in names}}


def _log_report(
    records: Sequence[Record], y: np.ndarray, evaluation: Evaluation, scorer: Scorer, labels: Sequence[str]
) -> None:
    import pandas as pd

    from train import report, tracking

    cv = evaluation.cv
    decisions = cross_fitted_decisions(cv.scores[0], y, cv.folds[0])
    named = {"cv": cv.mean(), "baseline": evaluation.baseline.mean()}
    if evaluation.grouped is not None:
        named["grouped_cv"] = evaluation.grouped
    named.update(evaluation.grouped_parts)
    named.update(evaluation.cross_source)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        text = [
            "Stratified CV (mean over repeats):",
            report.classification_report(cv.mean()),
            "",
            "F1 by evaluation:",
            report.f1_by_evaluation(named),
        ]
        (folder / "classification_report.txt").write_text("\n".join(text) + "\n", encoding="utf-8")
        report.confusion_figure(y, decisions, labels, folder / "confusion_matrices.png")
        if evaluation.learning_curve:
            report.learning_curve_figure(
                evaluation.learning_curve, evaluation.baseline.macro_f1, folder / "learning_curve.png"
            )
        report.write_json(folder / "top_terms.json", top_terms(scorer))
        tracking.log_artifacts(folder)
    rows = report.mistakes([r.id for r in records], [r.text for r in records], y, decisions, cv.scores[0], labels)
    tracking.log_table(pd.DataFrame(rows), "report/oof_mistakes.json")
