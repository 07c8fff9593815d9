"""`train predict`: load a model, read paragraphs, tag them in batches.

Kept lean: a local model file is the plain-data scorer, so this path never imports
scikit-learn, scipy, pandas, joblib or mlflow, and never unpickles anything.
"""

from __future__ import annotations

import heapq
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from train.data import article_of, decode_lines, load_dataset, read_lines
from train.errors import DataError
from train.modelfile import load
from train.scorer import Scorer

if TYPE_CHECKING:
    from train.metrics import Metrics

BATCH_SIZE = 512
# Paragraphs of one article held together for its context; a longer run is read in blocks this long.
MAX_ARTICLE = 4096


@dataclass(frozen=True)
class Paragraph:
    id: str
    text: str
    article: str | None = None  # paragraphs of one article are scored in its light; None: alone


@dataclass(frozen=True)
class Tagged:
    id: str
    text: str
    labels: tuple[str, ...]
    scores: dict[str, float]
    reasons: dict[str, list[tuple[str, float]]] | None = None  # per assigned label, its strongest terms


@dataclass(frozen=True)
class ArticleSummary:
    """Which labels an article carries and the share of its paragraphs with each."""

    paragraphs: int
    labels: tuple[str, ...]
    share: dict[str, float]


def is_mlflow_uri(ref: str) -> bool:
    return ref.startswith(("runs:/", "models:/", "mlflow-artifacts:/"))


def load_with_metadata(ref: str, *, tracking_uri: str | None = None) -> tuple[Scorer, dict[str, Any]]:
    """A model file (any of its set), or an MLflow model URI (which needs mlflow), with its sidecar metadata."""
    if is_mlflow_uri(ref):
        from train import pyfunc, tracking

        return pyfunc.load_model(ref, tracking.resolve_tracking_uri(tracking_uri))
    return load(Path(ref))


def load_tagger(ref: str, *, tracking_uri: str | None = None) -> Scorer:
    return load_with_metadata(ref, tracking_uri=tracking_uri)[0]


def read_input(texts: Sequence[str], file: Path | None) -> tuple[Iterable[Paragraph], bool]:
    """Paragraphs from arguments (each alone), a .txt article or stdin (one article), a .jsonl
    batch (articles as its records say); and whether the input is one article."""
    if list(texts) == ["-"] or file == Path("-"):
        return paragraphs_of_article(stdin_lines(), "stdin"), True
    if file is not None and file.suffix == ".jsonl":
        return paragraphs_of_jsonl(file), False
    if file is not None:
        return paragraphs_of_article(read_lines(file), file.stem), True
    return paragraphs_of_texts(texts), False


def paragraphs_of_texts(texts: Sequence[str]) -> list[Paragraph]:
    """Texts given on the command line, numbered from 1."""
    out = []
    for number, text in enumerate(texts, 1):
        if not text.strip():
            raise DataError(f"text {number} is empty: nothing to tag")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # argv bytes that were not UTF-8 arrive as lone surrogates
            raise DataError(f"text {number} is not valid UTF-8") from None
        out.append(Paragraph(str(number), text.strip()))
    return out


def paragraphs_of_article(lines: Iterable[tuple[int, str]], name: str) -> Iterator[Paragraph]:
    """Each non-empty line of an article is a paragraph, id `<name>:<line>`."""
    for number, line in lines:
        if line.strip():
            yield Paragraph(f"{name}:{number}", line.strip(), article=name)


def paragraphs_of_jsonl(path: Path) -> Iterator[Paragraph]:
    """Records with `text`, an optional `id` (default `<file>:<line>`) and `article`.

    A record's article is its `article`, else the part of its own `id` before the last colon
    (as in data/: `article:tw-news-01:3`); consecutive records of one article are scored together.
    """
    for number, line in read_lines(path):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        text = raw.get("text") if isinstance(raw, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{path}:{number}: record has no non-empty 'text'")
        record_id = str(raw["id"]) if "id" in raw else None
        article = raw.get("article") or article_of(record_id, str(raw.get("source", "seed")))
        yield Paragraph(record_id or f"{path.name}:{number}", text.strip(), None if article is None else str(article))


def stdin_lines() -> Iterator[tuple[int, str]]:
    # Bytes, not sys.stdin's text layer: a non-UTF-8 pipe is an error on a numbered line, not mojibake.
    return decode_lines(sys.stdin.buffer, "stdin")


def tag(
    model: Scorer, paragraphs: Iterable[Paragraph], batch_size: int = BATCH_SIZE, *, explain: bool = False
) -> Iterator[Tagged]:
    """Tag paragraphs batch by batch, so memory stays flat whatever the input size."""
    for batch in batches(model, paragraphs, batch_size):
        features = model.features([p.text for p in batch])
        scores = model.in_context(model.scores_of(features), [p.article for p in batch])
        decided = model.decide(scores)
        why: list[dict[str, list[tuple[str, float]]]] | list[None] = [None] * len(batch)
        if explain:
            from train.explain import contributions

            why = contributions(model, features)
        for paragraph, row, on, reasons in zip(batch, scores, decided, why, strict=True):
            labels = tuple(label for label, flag in zip(model.labels, on, strict=True) if flag)
            yield Tagged(
                id=paragraph.id,
                text=paragraph.text,
                labels=labels,
                scores={label: round(float(s), 4) for label, s in zip(model.labels, row, strict=True)},
                reasons=None if reasons is None else {label: reasons[label] for label in labels},
            )


def batches(model: Scorer, paragraphs: Iterable[Paragraph], size: int = BATCH_SIZE) -> Iterator[list[Paragraph]]:
    """Batches of `size` paragraphs; with article context on, a batch ends only between articles
    (or after MAX_ARTICLE paragraphs of one), so each article is scored whole."""
    iterator = iter(paragraphs)
    if model.context.weight == 0.0:
        while chunk := list(islice(iterator, size)):
            yield chunk
        return
    batch: list[Paragraph] = []
    run = 0  # paragraphs of the last article in this batch
    for paragraph in iterator:
        same = bool(batch) and paragraph.article is not None and paragraph.article == batch[-1].article
        if batch and ((len(batch) >= size and not same) or run == MAX_ARTICLE):
            yield batch
            batch, run = [], 0
        run = run + 1 if same else 1
        batch.append(paragraph)
    if batch:
        yield batch


def tag_parallel(
    model: Scorer, paragraphs: Iterable[Paragraph], jobs: int, *, explain: bool = False
) -> Iterator[Tagged]:
    """`tag` on `jobs` processes, results in input order, at most 2 × jobs batches in flight.

    Workers are forked after the model and its segmenter are loaded, so they start
    at once and share that memory; the bounded window keeps memory flat on any input.
    """
    if jobs <= 1:
        yield from tag(model, paragraphs, explain=explain)
        return
    import multiprocessing
    from collections import deque
    from multiprocessing.pool import AsyncResult

    global _worker_model
    _worker_model = model
    model.scores(["预热"])  # load jieba's dictionary once, before forking
    pending: deque[AsyncResult[list[Tagged]]] = deque()
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        for batch in batches(model, paragraphs):
            pending.append(pool.apply_async(_tag_batch, (batch, explain)))
            if len(pending) >= 2 * jobs:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()


_worker_model: Scorer | None = None


def _tag_batch(batch: list[Paragraph], explain: bool) -> list[Tagged]:
    assert _worker_model is not None, "tag_parallel sets the model before forking"
    return list(tag(_worker_model, batch, explain=explain))


def summarize(tagged: Sequence[Tagged], labels: Sequence[str]) -> ArticleSummary:
    n = len(tagged)
    share = {label: sum(label in t.labels for t in tagged) / n if n else 0.0 for label in labels}
    return ArticleSummary(paragraphs=n, labels=tuple(lab for lab in labels if share[lab] > 0), share=share)


@dataclass(frozen=True)
class Suggestion:
    tagged: Tagged
    margin: float  # distance of the closest label score to its threshold: small = uncertain


def most_uncertain(model: Scorer, paragraphs: Iterable[Paragraph], n: int) -> list[Suggestion]:
    """The n paragraphs whose labels the model is least sure of: the most useful to label next."""
    thresholds = dict(zip(model.labels, model.thresholds, strict=True))
    scored = (
        Suggestion(t, min(abs(score - thresholds[label]) for label, score in t.scores.items()))
        for t in tag(model, paragraphs)
    )
    return heapq.nsmallest(n, scored, key=lambda s: s.margin)


@dataclass(frozen=True)
class EvaluationResult:
    metrics: Metrics
    n: int
    training_run_id: str
    data_sha256: str


def evaluate_file(ref: str, path: Path, *, tracking_uri: str | None = None) -> EvaluationResult:
    """Score a saved model on a labeled file (every record must be labeled)."""
    from train.data import label_matrix
    from train.metrics import evaluate_model

    model, metadata = load_with_metadata(ref, tracking_uri=tracking_uri)
    dataset = load_dataset([path], model.labels)
    unlabeled = [r.id for r in dataset.records if r.labels is None]
    if unlabeled:
        raise DataError(f"{path}: record {unlabeled[0]!r} is unlabeled; an evaluation file must be fully labeled")
    scores = model.scores([r.text for r in dataset.records], [r.article for r in dataset.records])
    y = np.asarray(label_matrix(dataset.records, model.labels))
    return EvaluationResult(
        metrics=evaluate_model(scores, model.thresholds, y, model.labels),
        n=len(dataset.records),
        training_run_id=str(metadata.get("mlflow_run_id", "")),
        data_sha256=dataset.sha256,
    )
