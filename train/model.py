"""The sklearn pipeline, the fitted TopicModel and its atomic save / checked load."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

from train.config import LABELS, FitConfig
from train.errors import ModelError
from train.files import atomic_write
from train.tokens import JiebaTokenizer, normalize_all


def build_features(config: FitConfig, user_words: Sequence[str]) -> FeatureUnion:
    """TF-IDF over jieba words, character n-grams, or both side by side."""
    common: dict[str, Any] = {
        "min_df": config.min_df,
        "max_df": config.max_df,
        "sublinear_tf": config.sublinear_tf,
        "lowercase": False,  # normalize_all has already folded case
        "dtype": np.float32,
    }
    parts: list[tuple[str, TfidfVectorizer]] = []
    if config.analyzer in ("word", "both"):
        word = TfidfVectorizer(
            tokenizer=JiebaTokenizer(
                user_words,
                hmm=config.tokenizer != "jieba-nohmm",
                engine="rjieba" if config.tokenizer == "rjieba" else "jieba",
            ),
            token_pattern=None,
            ngram_range=(1, config.word_ngram_max),
            **common,
        )
        parts.append(("word", word))
    if config.analyzer in ("char", "both"):
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=(config.char_ngram_min, config.char_ngram_max), **common)
        parts.append(("char", char))
    return FeatureUnion(parts)


def build_classifier(config: FitConfig) -> BaseEstimator:
    """One binary linear model per label; `C` is the inverse regularisation strength for every kind."""
    base: BaseEstimator
    if config.classifier == "logreg":
        base = LogisticRegression(C=config.C, class_weight="balanced", solver="liblinear", random_state=config.seed)
    elif config.classifier == "svm":
        # LinearSVC has no probabilities; calibration gives scores that thresholds can cut.
        base = CalibratedClassifierCV(LinearSVC(C=config.C, class_weight="balanced", random_state=config.seed), cv=3)
    elif config.classifier == "nb":
        base = ComplementNB(alpha=1.0 / config.C)
    else:
        base = SGDClassifier(
            loss="log_loss", alpha=1e-4 * 4.0 / config.C, class_weight="balanced", random_state=config.seed
        )
    return OneVsRestClassifier(base)


def build_pipeline(config: FitConfig, user_words: Sequence[str] = ()) -> Pipeline:
    """normalize → features → one-vs-rest linear classifier."""
    return Pipeline(
        [
            ("normalize", FunctionTransformer(normalize_all)),
            ("features", build_features(config, user_words)),
            ("clf", build_classifier(config)),
        ]
    )


def build_baseline(config: FitConfig) -> Pipeline:
    """Guess each label at random with its training prior: the floor a model must beat."""
    return Pipeline([("clf", OneVsRestClassifier(DummyClassifier(strategy="stratified", random_state=config.seed)))])


@dataclass
class TopicModel:
    """A fitted pipeline with its label order and per-label decision thresholds."""

    pipeline: Pipeline
    labels: tuple[str, ...]
    thresholds: np.ndarray

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Probability per label, shape (n_texts, n_labels)."""
        return np.asarray(self.pipeline.predict_proba(list(texts)), dtype=np.float64)

    def decide(self, scores: np.ndarray) -> np.ndarray:
        return scores >= self.thresholds


# --- persistence --------------------------------------------------------------------


def sidecar_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def save(model: TopicModel, path: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    """Write model and sidecar so that a crash at any moment leaves a loadable pair.

    The sidecar is the commit point and is renamed first; it also carries the previous
    sidecar, so a crash between the two renames leaves the old model with metadata that
    still vouches for it. A lock serialises concurrent fits writing the same model.
    """
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    payload = buffer.getvalue()
    sidecar: dict[str, Any] = {
        **metadata,
        "labels": list(model.labels),
        "thresholds": [float(t) for t in model.thresholds],
        "model_file": path.name,
        "model_sha256": hashlib.sha256(payload).hexdigest(),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _lock(path):
            previous = _current_metadata(path)
            if previous is not None:
                sidecar["previous"] = {k: v for k, v in previous.items() if k != "previous"}
            encoded = json.dumps(sidecar, ensure_ascii=False, indent=2).encode()  # fails before any write
            atomic_write(sidecar_path(path), encoded)
            atomic_write(path, payload)
    except OSError as exc:
        raise ModelError(f"{path}: cannot write model: {exc.strerror or exc}") from None
    return sidecar


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive lock beside the model, held while the pair is replaced."""
    import fcntl

    with path.with_name(f".{path.name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _current_metadata(path: Path) -> dict[str, Any] | None:
    """The sidecar that vouches for the model file on disk now, if any."""
    if not path.exists():
        return None
    try:
        return _vouching_metadata(path, read_sidecar(path), hashlib.sha256(path.read_bytes()).hexdigest())
    except ModelError:
        return None


def _vouching_metadata(path: Path, meta: dict[str, Any], sha256: str) -> dict[str, Any]:
    if meta.get("model_sha256") == sha256:
        return meta
    previous = meta.get("previous")
    if isinstance(previous, dict) and previous.get("model_sha256") == sha256:
        return previous  # a save was interrupted between its two renames: the old pair stands
    raise ModelError(
        f"{path}: sha256 does not match its metadata; refusing to unpickle "
        "(use --trust only if you know where the file came from)"
    )


def _version_mismatches(meta: dict[str, Any]) -> list[str]:
    """Libraries whose pickles may not load across versions, where they differ from training."""
    from importlib.metadata import version

    trained = meta.get("versions", {})
    return [
        f"{name} {trained[name]} (installed {version(name)})"
        for name in ("scikit-learn", "numpy")
        if name in trained and trained[name] != version(name)
    ]


def read_sidecar(path: Path) -> dict[str, Any]:
    side = sidecar_path(path)
    try:
        meta: dict[str, Any] = json.loads(side.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{side}: metadata file missing; retrain with `train fit`") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{side}: unreadable metadata ({exc})") from None
    return meta


def load(path: Path, *, trust: bool = False) -> tuple[TopicModel, dict[str, Any]]:
    """Load a model whose bytes match the sha256 its sidecar recorded at training time.

    Unpickling runs code, so a file nobody vouched for is refused unless `trust`;
    so is a model for other labels or from other library versions.
    """
    if not path.exists():
        raise ModelError(f"{path}: no model found; run `train fit` first")
    if path.is_dir():
        raise ModelError(f"{path}: is a directory, expected a model file")
    meta = read_sidecar(path)
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model: {exc.strerror}") from None
    if not trust:
        meta = _vouching_metadata(path, meta, hashlib.sha256(payload).hexdigest())
        if tuple(meta.get("labels", ())) != LABELS:
            raise ModelError(f"{path}: trained for labels {meta.get('labels')}, this code expects {list(LABELS)}")
        mismatched = _version_mismatches(meta)
        if mismatched:
            raise ModelError(f"{path}: trained with {', '.join(mismatched)}; retrain with `train fit` or pass --trust")
    try:
        model = joblib.load(io.BytesIO(payload))
    except Exception as exc:  # a damaged or foreign pickle can raise anything
        raise ModelError(f"{path}: cannot load model ({type(exc).__name__}: {exc})") from None
    if not isinstance(model, TopicModel):
        raise ModelError(f"{path}: not a topic-tagger model")
    return model, meta
