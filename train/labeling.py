"""`train label`'s logic: the queue of unlabeled paragraphs, each decision written at once, and undo.

No terminal code here (the screen is `train.label_app`). Every decision goes to the data
file before the queue moves on, so a crash or a kill loses at most the paragraph on screen,
and the next session resumes by itself: a labeled record is no longer `"labels": null`.
Skipped paragraphs are set aside for the rest of the session; they stay unlabeled in the
file and come back in the next session.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from train.data import load_dataset, relabel
from train.errors import DataError, ModelError
from train.labels import LabelSet, load_labels
from train.predict import Paragraph, most_uncertain
from train.scorer import Scorer

MAX_LABELS = 9  # one digit key per label


@dataclass(frozen=True)
class Item:
    """One unlabeled paragraph, with what the model makes of it."""

    id: str
    text: str
    article: str | None
    scores: dict[str, float]
    guess: tuple[str, ...]  # the labels whose score reaches the model's threshold


@dataclass(frozen=True)
class Decision:
    item: Item
    labels: tuple[str, ...] | None  # None: skipped, nothing written
    file: Path | None = None  # the data file the labels went to


@dataclass(frozen=True)
class Progress:
    labeled: int
    skipped: int
    left: int  # including the paragraph on screen

    def __str__(self) -> str:
        return f"{self.labeled} labeled · {self.skipped} skipped · {self.left} left"


class Session:
    """One sitting of labeling: the queue in order, the decisions made, and undo of the last ones."""

    def __init__(self, data: Sequence[Path], labels: LabelSet, queue: Iterable[Item]) -> None:
        self.data = list(data)
        self.labels = labels
        self._queue: deque[Item] = deque(queue)
        self._history: list[Decision] = []

    @property
    def current(self) -> Item | None:
        """The paragraph on screen; None once the queue is done."""
        return self._queue[0] if self._queue else None

    @property
    def pending(self) -> tuple[Item, ...]:
        """The queue left, the paragraph on screen first."""
        return tuple(self._queue)

    @property
    def history(self) -> tuple[Decision, ...]:
        return tuple(self._history)

    @property
    def progress(self) -> Progress:
        skipped = sum(d.labels is None for d in self._history)
        return Progress(len(self._history) - skipped, skipped, len(self._queue))

    def accept(self, chosen: Iterable[str]) -> Decision:
        """Write `chosen` (possibly none: a real "no topic" label) as the current paragraph's labels."""
        item = self._current()
        wanted = set(chosen)
        unknown = sorted(wanted - set(self.labels.names))
        if unknown:
            raise DataError(f"unknown label {unknown[0]!r} (known: {', '.join(self.labels.names)})")
        labels = self.labels.in_order(wanted)
        written = relabel(self.data, {item.id: labels})  # before the queue moves: a failed write keeps it on screen
        return self._decided(Decision(item, labels, written[0]))

    def skip(self) -> Decision:
        """Set the current paragraph aside for this session; the file keeps it unlabeled."""
        return self._decided(Decision(self._current(), None))

    def undo(self) -> Decision | None:
        """Take back the last decision: a written one becomes `"labels": null` again; the paragraph is shown again."""
        if not self._history:
            return None
        last = self._history[-1]
        if last.labels is not None:
            relabel(self.data, {last.item.id: None})
        self._history.pop()
        self._queue.appendleft(last.item)
        return last

    def _current(self) -> Item:
        if not self._queue:
            raise DataError("nothing left to label in this session")
        return self._queue[0]

    def _decided(self, decision: Decision) -> Decision:
        self._queue.popleft()
        self._history.append(decision)
        return decision


def check_label_set(label_set: LabelSet, model_labels: Sequence[str], labels_file: Path) -> None:
    """The label file must name the model's labels (in any order), and few enough for the digit keys."""
    ours, theirs = set(label_set.names), set(model_labels)
    if ours != theirs:
        parts = []
        if ours - theirs:
            parts.append(f"not in the model: {', '.join(sorted(ours - theirs))}")
        if theirs - ours:
            parts.append(f"missing from the file: {', '.join(sorted(theirs - ours))}")
        raise ModelError(
            f"{labels_file} does not match the model's labels ({'; '.join(parts)}); "
            "retrain with `train fit` or pass the --labels file the model was trained with"
        )
    if len(label_set.names) > MAX_LABELS:
        raise DataError(f"{labels_file}: {len(label_set.names)} labels; `train label` has keys 1-9 for at most 9")


def open_session(data: Sequence[Path], scorer: Scorer, labels_file: Path) -> Session:
    """A session over every unlabeled record in `data`, the model's most uncertain first (`suggest`'s order)."""
    label_set = load_labels(labels_file)
    check_label_set(label_set, scorer.labels, labels_file)
    unlabeled = [r for r in load_dataset(data, scorer.labels).records if r.labels is None]
    if not unlabeled:
        where = ", ".join(map(str, data))
        raise DataError(f'no unlabeled records ("labels": null) in {where}; nothing to label')
    ranked = most_uncertain(scorer, (Paragraph(r.id, r.text, r.article) for r in unlabeled), len(unlabeled))
    article = {r.id: r.article for r in unlabeled}
    queue = (Item(s.tagged.id, s.tagged.text, article[s.tagged.id], s.tagged.scores, s.tagged.labels) for s in ranked)
    return Session(data, label_set, queue)
