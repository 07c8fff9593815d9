"""`train predict`: load a model, read paragraphs, tag them in batches.

Kept lean: a local model file never imports mlflow.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from train.data import read_lines
from train.errors import DataError
from train.model import TopicModel, load

BATCH_SIZE = 512


@dataclass(frozen=True)
class Paragraph:
    id: str
    text: str


@dataclass(frozen=True)
class Tagged:
    id: str
    text: str
    labels: tuple[str, ...]
    scores: dict[str, float]


@dataclass(frozen=True)
class ArticleSummary:
    """Which labels an article carries and the share of its paragraphs with each."""

    paragraphs: int
    labels: tuple[str, ...]
    share: dict[str, float]


def is_mlflow_uri(ref: str) -> bool:
    return ref.startswith(("runs:/", "models:/", "mlflow-artifacts:/"))


def load_tagger(ref: str, *, trust: bool = False, tracking_uri: str | None = None) -> TopicModel:
    """A joblib path, or an MLflow model URI (which needs mlflow)."""
    if is_mlflow_uri(ref):
        from train import tracking

        model: TopicModel = tracking.load_model(ref, tracking_uri)
        return model
    return load(Path(ref), trust=trust)[0]


def paragraphs_of_texts(texts: Sequence[str]) -> list[Paragraph]:
    """Texts given on the command line, numbered from 1."""
    out = []
    for number, text in enumerate(texts, 1):
        if not text.strip():
            raise DataError(f"text {number} is empty: nothing to tag")
        out.append(Paragraph(str(number), text.strip()))
    return out


def paragraphs_of_article(lines: Iterable[tuple[int, str]], name: str) -> Iterator[Paragraph]:
    """Each non-empty line of an article is a paragraph, id `<name>:<line>`."""
    for number, line in lines:
        if line.strip():
            yield Paragraph(f"{name}:{number}", line.strip())


def paragraphs_of_jsonl(path: Path) -> Iterator[Paragraph]:
    """Records with `text` and an optional `id` (default `<file>:<line>`)."""
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
        yield Paragraph(str(raw.get("id", f"{path.name}:{number}")), text.strip())


def stdin_lines() -> Iterator[tuple[int, str]]:
    for number, line in enumerate(sys.stdin, 1):
        yield number, line.rstrip("\r\n")


def tag(model: TopicModel, paragraphs: Iterable[Paragraph], batch_size: int = BATCH_SIZE) -> Iterator[Tagged]:
    """Tag paragraphs batch by batch, so memory stays flat whatever the input size."""
    iterator = iter(paragraphs)
    while batch := list(islice(iterator, batch_size)):
        scores = model.scores([p.text for p in batch])
        decided = model.decide(scores)
        for paragraph, row, on in zip(batch, scores, decided, strict=True):
            yield Tagged(
                id=paragraph.id,
                text=paragraph.text,
                labels=tuple(label for label, flag in zip(model.labels, on, strict=True) if flag),
                scores={label: round(float(s), 4) for label, s in zip(model.labels, row, strict=True)},
            )


def summarize(tagged: Sequence[Tagged], labels: Sequence[str]) -> ArticleSummary:
    n = len(tagged)
    share = {label: sum(label in t.labels for t in tagged) / n if n else 0.0 for label in labels}
    return ArticleSummary(paragraphs=n, labels=tuple(lab for lab in labels if share[lab] > 0), share=share)
