"""The model files on disk: written as a crash-safe set, read back without running any code.

`train fit` writes three files with one stem:

- `topic_classifier.npz`: the plain-data model every command predicts with (`train.scorer`);
- `topic_classifier.joblib`: the fitted scikit-learn `TopicModel`, for Python users who want
  the pipeline (`joblib.load`). It is a pickle: no command here ever opens it;
- `topic_classifier.json`: the sidecar, with settings, metrics, data fingerprints and the
  sha256 of both model files.

Nothing here imports scikit-learn or joblib except `save`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from train.errors import ModelError
from train.files import atomic_write
from train.scorer import Scorer, from_bytes, to_bytes

if TYPE_CHECKING:
    from train.model import TopicModel

PLAIN_SUFFIX = ".npz"
PIPELINE_SUFFIX = ".joblib"


@dataclass(frozen=True)
class ModelFiles:
    """The three files of one model; any of them (or their common stem) names the set."""

    plain: Path
    pipeline: Path
    sidecar: Path

    @classmethod
    def of(cls, path: Path) -> ModelFiles:
        stem = path.with_suffix("") if path.suffix in (PLAIN_SUFFIX, PIPELINE_SUFFIX, ".json") else path
        return cls(
            plain=stem.with_name(stem.name + PLAIN_SUFFIX),
            pipeline=stem.with_name(stem.name + PIPELINE_SUFFIX),
            sidecar=stem.with_name(stem.name + ".json"),
        )


def sidecar_path(model_path: Path) -> Path:
    return ModelFiles.of(model_path).sidecar


def save(model: TopicModel, scorer: Scorer, path: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    """Write the plain model, the pipeline and the sidecar so that a crash at any moment leaves a loadable set.

    The sidecar is the commit point and is renamed first; it also carries the previous
    sidecar, so a crash before the model files are replaced leaves the old files with
    metadata that still vouches for them. A lock serialises concurrent fits writing the same model.
    """
    import io

    import joblib

    files = ModelFiles.of(path)
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    pipeline, plain = buffer.getvalue(), to_bytes(scorer)
    sidecar: dict[str, Any] = {
        **metadata,
        "labels": list(model.labels),
        "thresholds": [float(t) for t in model.thresholds],
        "plain_file": files.plain.name,
        "plain_sha256": hashlib.sha256(plain).hexdigest(),
        "model_file": files.pipeline.name,
        "model_sha256": hashlib.sha256(pipeline).hexdigest(),
    }
    try:
        files.plain.parent.mkdir(parents=True, exist_ok=True)
        with _lock(files.plain):
            previous = _current_metadata(files)
            if previous is not None:
                sidecar["previous"] = {k: v for k, v in previous.items() if k != "previous"}
            encoded = json.dumps(sidecar, ensure_ascii=False, indent=2).encode()  # fails before any write
            atomic_write(files.sidecar, encoded)
            atomic_write(files.plain, plain)
            atomic_write(files.pipeline, pipeline)
    except OSError as exc:
        raise ModelError(f"{path}: cannot write model: {exc.strerror or exc}") from None
    return sidecar


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive lock beside the model, held while the set is replaced."""
    import fcntl

    with path.with_name(f".{path.stem}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _current_metadata(files: ModelFiles) -> dict[str, Any] | None:
    """The sidecar that vouches for the plain model on disk now, if any."""
    if not files.plain.exists():
        return None
    try:
        return _vouching_metadata(files.plain, read_sidecar(files.plain), _sha256(files.plain.read_bytes()))
    except ModelError:
        return None


def _sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _vouching_metadata(path: Path, meta: dict[str, Any], sha256: str) -> dict[str, Any]:
    if meta.get("plain_sha256") == sha256:
        return meta
    previous = meta.get("previous")
    if isinstance(previous, dict) and previous.get("plain_sha256") == sha256:
        return previous  # a save was interrupted before the model files were replaced: the old set stands
    raise ModelError(f"{path}: sha256 does not match its metadata (damaged or replaced); retrain with `train fit`")


def read_sidecar(path: Path) -> dict[str, Any]:
    side = ModelFiles.of(path).sidecar
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{side}: metadata file missing; retrain with `train fit`") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{side}: unreadable metadata ({exc})") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{side}: metadata is not a JSON object")
    return meta


def load(path: Path) -> tuple[Scorer, dict[str, Any]]:
    """The plain model named by `path` (any file of the set), checked against its sidecar's sha256.

    Reading it runs no code, whoever wrote the files; the checksum catches a damaged or
    half-copied model. The model carries its own label set and predicts with it.
    """
    plain = ModelFiles.of(path).plain
    if plain.is_dir():
        raise ModelError(f"{plain}: is a directory, expected a model file")
    if not plain.exists():
        if ModelFiles.of(path).pipeline.exists():
            raise ModelError(f"{plain}: no plain-data model beside {path.name}; retrain with `train fit`")
        raise ModelError(f"{plain}: no model found; run `train fit` first")
    meta = read_sidecar(plain)
    try:
        payload = plain.read_bytes()
    except OSError as exc:
        raise ModelError(f"{plain}: cannot read model: {exc.strerror}") from None
    meta = _vouching_metadata(plain, meta, _sha256(payload))
    return from_bytes(payload, str(plain)), meta
