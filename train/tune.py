"""`train tune`: search pipeline settings with the CV that `train fit` uses, one MLflow child run each."""

from __future__ import annotations

import itertools
import json
import random
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from functools import partial
from pathlib import Path
from typing import Any

from train import __version__
from train.config import FitConfig
from train.data import load_dataset
from train.errors import DataError
from train.fit import ProgressFactory, check_trainable, evaluate_config, no_progress
from train.labels import LABELS_PATH, load_labels
from train.model import build_pipeline
from train.tokens import read_user_words

SEARCH_SPACE: dict[str, list[Any]] = {
    "analyzer": ["word", "char", "both"],
    "word_ngram_max": [1, 2],
    "char_ngram_min": [1, 2],
    "char_ngram_max": [3, 4],
    "min_df": [1, 2, 3],
    "sublinear_tf": [True, False],
    "classifier": ["logreg", "svm", "nb", "sgd"],
    "C": [0.5, 1.0, 2.0, 4.0, 10.0, 20.0],
}


@dataclass(frozen=True)
class TuneRequest:
    data: Sequence[Path]
    base: FitConfig
    space: Mapping[str, Sequence[Any]]
    n_iter: int | None  # None: the full grid
    score: str
    out: Path
    user_dict: Path | None
    tracking_uri: str
    experiment: str
    run_name: str = "tune"
    n_jobs: int = 1
    labels_file: Path = LABELS_PATH


@dataclass(frozen=True)
class Trial:
    config: FitConfig
    metrics: dict[str, float]
    run_id: str


@dataclass(frozen=True)
class TuneResult:
    trials: list[Trial]
    best: Trial
    default: Trial | None
    parent_run_id: str
    experiment_id: str


def load_space(path: Path) -> dict[str, list[Any]]:
    """A JSON object of setting name → list of values to try."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read search space: {exc}") from None
    known = {f.name for f in fields(FitConfig)}
    if not isinstance(raw, dict) or not all(isinstance(v, list) and v for v in raw.values()):
        raise DataError(f"{path}: a search space is a JSON object of name → non-empty list")
    unknown = set(raw) - known
    if unknown:
        raise DataError(f"{path}: unknown settings {sorted(unknown)}")
    return raw


def candidates(space: Mapping[str, Sequence[Any]], n_iter: int | None, seed: int) -> list[dict[str, Any]]:
    """The full grid, or `n_iter` distinct points of it drawn with a fixed seed."""
    names = sorted(space)
    grid = [dict(zip(names, values, strict=True)) for values in itertools.product(*(space[n] for n in names))]
    grid = [point for point in grid if _valid(point)]
    if n_iter is None or n_iter >= len(grid):
        return grid
    return random.Random(seed).sample(grid, n_iter)


def _valid(point: Mapping[str, Any]) -> bool:
    return bool(point.get("char_ngram_min", 1) <= point.get("char_ngram_max", 3))


def run_tune(request: TuneRequest, progress: ProgressFactory = no_progress) -> TuneResult:
    """One parent run; one nested child run per configuration; the best written to `request.out`."""
    labels = load_labels(request.labels_file).names
    records = load_dataset(request.data, labels).labeled
    check_trainable(records, request.base.folds, labels)
    user_words = read_user_words(request.user_dict) if request.user_dict else ()
    points = candidates(request.space, request.n_iter, request.base.seed)

    from train import report, tracking

    experiment_id = tracking.connect(request.tracking_uri, request.experiment)
    tags = {"git_commit": tracking.git_commit(), "train_version": __version__, "run_kind": "tune"}
    trials: list[Trial] = []
    with tracking.run(experiment_id, request.run_name, tags) as parent_id:
        tracking.log_params({"n_trials": len(points), "score": request.score, "space": json.dumps(request.space)[:500]})
        tick = progress("trials", len(points) + 1)
        # The tick runs inside each trial's run: a Ctrl-C that Python swallowed during the trial
        # is raised there, so that trial ends KILLED, not FINISHED.
        trial = partial(_trial, request, records, labels, user_words, experiment_id=experiment_id, tags=tags, done=tick)
        default = trial(request.base, "default")
        for index, point in enumerate(points, 1):
            trials.append(trial(replace(request.base, **point), f"trial-{index}"))
        best = max(trials, key=lambda t: t.metrics[request.score])
        tracking.log_params({f"best_{k}": v for k, v in best.config.to_params().items()})
        tracking.log_metrics({f"best_{k}": v for k, v in best.metrics.items()})
        tracking.log_metrics({f"default_{request.score}": default.metrics[request.score]})
        with tempfile.TemporaryDirectory() as tmp:
            figure = Path(tmp) / "search.png"
            scores = [t.metrics[request.score] for t in trials]
            report.search_figure(scores, request.score, default.metrics[request.score], figure)
            tracking.log_artifacts(Path(tmp))
        write_config(best.config, request.out)
    return TuneResult(trials, best, default, parent_id, experiment_id)


def _trial(
    request: TuneRequest,
    records: Sequence[Any],
    labels: Sequence[str],
    user_words: Sequence[str],
    config: FitConfig,
    name: str,
    *,
    experiment_id: str,
    tags: Mapping[str, str],
    done: Callable[[], None],
) -> Trial:
    from train import tracking

    with tracking.run(experiment_id, name, tags, nested=True) as run_id:
        tracking.log_params(config.to_params())
        evaluation = evaluate_config(
            build_pipeline(config, user_words),
            records,
            config,
            labels=labels,
            n_jobs=request.n_jobs,
            with_cross_source=False,
        )
        metrics = evaluation.metrics()
        if request.score not in metrics:
            raise DataError(f"score {request.score!r} is not computed for this data (have: {sorted(metrics)[:8]} …)")
        tracking.log_metrics(metrics)
        done()
    return Trial(config, metrics, run_id)


def write_config(config: FitConfig, path: Path) -> None:
    """The settings as a JSON object that `train fit --config` reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config.to_params(), indent=2) + "\n", encoding="utf-8")
