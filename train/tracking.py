"""Everything MLflow: the store, the run, what a fit logs, and the pyfunc model.

The only module that imports mlflow, and it is imported lazily by its callers,
so `train predict` on a local model file and `train --help` stay fast.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.data.pandas_dataset import from_pandas
from mlflow.entities import RunStatus

from train import changes
from train.changes import PreviousRun, Snapshot
from train.errors import TrackingError

DEFAULT_STORE = "mlflow.db"
ARTIFACT_DIR = "mlruns"
# The experiment type of MLflow's UI (ExperimentKindUtils.ts): "Machine learning", not "GenAI apps & agents".
# The 3.17 UI still opens a bare experiment page on the GenAI overview (it takes the type from its
# GenAI / Model training switch); later UIs set that switch from this tag.
EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}
# The experiment's training-runs tab; `workflowType` turns the switch to Model training (WorkflowTypeContext.tsx).
RUNS_VIEW = "#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def resolve_tracking_uri(explicit: str | None = None) -> str:
    """--tracking-uri, else MLFLOW_TRACKING_URI, else the project's SQLite store."""
    if explicit:
        return explicit
    from_env = os.environ.get("MLFLOW_TRACKING_URI")
    if from_env:
        return from_env
    return f"sqlite:///{(Path.cwd() / DEFAULT_STORE).as_posix()}"


@contextmanager
def _fail_fast() -> Iterator[None]:
    """No retries and a short timeout, so an unreachable server fails in seconds."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")}
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "5"
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def connect(tracking_uri: str, experiment: str) -> str:
    """Point MLflow at the store and return the experiment id, creating it if needed.

    Runs before any training, so a store that cannot be reached costs seconds, not a fit.
    """
    _quiet()
    mlflow.set_tracking_uri(tracking_uri)  # the registry follows it, unless MLFLOW_REGISTRY_URI is set
    try:
        with _fail_fast(), _sqlite_init_lock(tracking_uri):
            found = mlflow.get_experiment_by_name(experiment)
            if found is not None:
                return str(found.experiment_id)
            location = artifact_root(tracking_uri)
            return str(mlflow.create_experiment(experiment, artifact_location=location, tags=EXPERIMENT_TAGS))
    except Exception as exc:  # mlflow raises many types for an unusable store
        raise TrackingError(f"cannot use MLflow tracking store {tracking_uri}: {_first_line(exc)}") from None


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a local SQLite store, also when given as an SQLite URI
    (`sqlite:///file:/path/db?mode=ro&uri=true`); None for any other store."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    path = tracking_uri.removeprefix("sqlite:///")
    if path.startswith("file:"):
        path = path.removeprefix("file:").split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def artifact_root(tracking_uri: str) -> str | None:
    """Artifacts of a local SQLite store live beside it, not in the current directory."""
    database = sqlite_path(tracking_uri)
    return None if database is None else (database.parent / ARTIFACT_DIR).resolve().as_uri()


@contextmanager
def _sqlite_init_lock(tracking_uri: str) -> Iterator[None]:
    """Serialise the first contact with a local SQLite store: MLflow creates its tables then,
    and two fits creating them at once collide."""
    database = sqlite_path(tracking_uri)
    if database is None or tracking_uri.startswith("sqlite:///file:"):  # a URI store may be read-only
        yield
        return
    import fcntl

    lock = database.with_name(f".{database.name}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def run(experiment_id: str, run_name: str, tags: Mapping[str, str], *, nested: bool = False) -> Iterator[str]:
    """An MLflow run that ends FINISHED, FAILED on error, or KILLED on Ctrl-C.

    Starting the run is the first write to the store, so a read-only or locked store
    fails here, before any training.
    """
    try:
        active = mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=dict(tags), nested=nested)
    except Exception as exc:
        raise TrackingError(f"cannot start an MLflow run: {_first_line(exc)}") from None
    try:
        yield active.info.run_id
    except KeyboardInterrupt:
        _end(RunStatus.KILLED)
        raise
    except BaseException:
        _end(RunStatus.FAILED)
        raise
    _end(RunStatus.FINISHED)


def _end(status: int) -> None:
    """End the active run; if the store itself is what failed, the original error is the one to report."""
    try:
        mlflow.end_run(RunStatus.to_string(status))
    except Exception as exc:
        if status == RunStatus.FINISHED:
            raise TrackingError(f"cannot finish the MLflow run: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    """The root cause in one line: `attempt to write a readonly database`, `Connection refused` ..."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _quiet() -> None:
    """MLflow logs store errors with full tracebacks; we report each failure ourselves, in one line."""
    logging.getLogger("mlflow").setLevel(logging.CRITICAL)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


def log_params(params: Mapping[str, Any]) -> None:
    mlflow.log_params(dict(params))


def log_metrics(metrics: Mapping[str, float]) -> None:
    mlflow.log_metrics({k: float(v) for k, v in metrics.items()})


def log_dataset(
    ids: Sequence[str], texts: Sequence[str], y: np.ndarray, labels: Sequence[str], source: str, digest: str
) -> None:
    """The training table as an MLflow dataset, so runs show which data they saw."""
    frame = pd.DataFrame({"id": list(ids), "text": list(texts)})
    for i, label in enumerate(labels):
        frame[label] = y[:, i].astype(bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "source can be interpreted in multiple ways"
        dataset = from_pandas(frame, source=source, name="topic-paragraphs", digest=digest[:32])
    mlflow.log_input(dataset, context="training")


def log_artifacts(folder: Path) -> None:
    mlflow.log_artifacts(str(folder), artifact_path="report")


def log_table(frame: pd.DataFrame, artifact_file: str) -> None:
    mlflow.log_table(data=frame, artifact_file=artifact_file)


def _ui_base(tracking_uri: str) -> str:
    """The tracking server itself, or `train ui` on its default port for a local store."""
    return tracking_uri.rstrip("/") if tracking_uri.startswith("http") else "http://127.0.0.1:5000"


def run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """Where a run opens: the server's page, or the `#/` path inside `train ui`."""
    return f"{_ui_base(tracking_uri)}/#/experiments/{experiment_id}/runs/{run_id}"


def runs_url(base: str, experiment_id: str) -> str:
    """The experiment's table of training runs (a bare `#/experiments/<id>` opens the GenAI overview)."""
    return f"{base.rstrip('/')}/{RUNS_VIEW.format(experiment_id=experiment_id)}"


def compare_url(tracking_uri: str, experiment_id: str, run_ids: Sequence[str]) -> str:
    """MLflow's compare view of these runs (Routes.getCompareRunPageRoute), on the server or in `train ui`."""
    from urllib.parse import quote

    runs = quote(json.dumps(list(run_ids), separators=(",", ":")))
    experiments = quote(json.dumps([experiment_id]))
    return (
        f"{_ui_base(tracking_uri)}/#/compare-runs?runs={runs}&experiments={experiments}&workflowType=machine_learning"
    )


def log_text(text: str, artifact_file: str) -> None:
    mlflow.log_text(text, artifact_file)


def previous_snapshot(experiment_id: str, limit: int = 10) -> tuple[PreviousRun, Snapshot] | None:
    """The latest FINISHED fit of the experiment (by start time) that logged its records, and those records.

    Only fits carry the `diff.*` tags, so evaluation and tune runs, and fits from before the
    artifact existed, are not even listed.
    """
    try:
        found = mlflow.MlflowClient().search_runs(
            [experiment_id],
            filter_string=f"attributes.status = 'FINISHED' and tags.`{changes.TAG_PREFIX}previous_run` LIKE '%'",
            order_by=["attributes.start_time DESC"],
            max_results=limit,
        )
    except Exception as exc:
        raise TrackingError(f"cannot read the previous run's records: {_first_line(exc)}") from None
    for past in found:
        try:
            records = changes.loads(mlflow.artifacts.load_text(f"runs:/{past.info.run_id}/{changes.ARTIFACT}"))
        except Exception:  # its artifact is missing or damaged: the run before it still tells
            continue
        started = datetime.fromtimestamp(past.info.start_time / 1000, UTC)
        return PreviousRun(past.info.run_id, past.info.run_name or "", started), records
    return None


# --- model registry -----------------------------------------------------------------

REGISTERED_MODEL = "topic-tagger"


@dataclass(frozen=True)
class ModelVersion:
    version: str
    run_id: str
    aliases: tuple[str, ...]
    created: str
    metrics: dict[str, float]


def connect_registry(tracking_uri: str) -> None:
    """Point the client at a store for registry calls (no experiment needed)."""
    _quiet()
    mlflow.set_tracking_uri(tracking_uri)  # the registry follows it, unless MLFLOW_REGISTRY_URI is set


def register(model_uri: str, name: str = REGISTERED_MODEL) -> str:
    """Register a logged model; returns the new version number."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        registered = mlflow.register_model(model_uri, name)
    return str(registered.version)


def promote(version: str, alias: str = "champion", name: str = REGISTERED_MODEL) -> None:
    """Point `models:/<name>@<alias>` at a version."""
    client = mlflow.MlflowClient()
    try:
        client.get_model_version(name, version)
    except Exception:
        raise TrackingError(f"model {name!r} has no version {version} (see `train models`)") from None
    client.set_registered_model_alias(name, alias, version)


def list_versions(name: str = REGISTERED_MODEL) -> list[ModelVersion]:
    """Every registered version, newest first, with the metrics of the run that trained it."""
    client = mlflow.MlflowClient()
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except Exception as exc:
        raise TrackingError(f"cannot list versions of {name!r}: {str(exc).splitlines()[0]}") from None
    out = []
    for found in sorted(versions, key=lambda v: int(v.version), reverse=True):
        v = client.get_model_version(name, found.version)  # search results omit aliases
        metrics = client.get_run(v.run_id).data.metrics if v.run_id else {}
        created = datetime.fromtimestamp(v.creation_timestamp / 1000, UTC).strftime("%Y-%m-%d %H:%M")
        out.append(ModelVersion(str(v.version), v.run_id or "", tuple(v.aliases), created, metrics))
    return out


def log_evaluation(
    experiment_id: str, run_name: str, metrics: Mapping[str, float], tags: Mapping[str, str], report_text: str
) -> str:
    """One run per `train evaluate`: the held-out metrics, tagged with the model's training run."""
    with run(experiment_id, run_name, {**tags, "run_kind": "evaluation"}) as run_id:
        log_metrics(metrics)
        mlflow.log_text(report_text, "report/evaluation_report.txt")
    return run_id
