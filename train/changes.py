"""What changed in the labeled data since the previous run: records added, removed, relabeled.

Each fit logs a snapshot of its records (`labels.jsonl`: id, labels, a hash of the text);
the next fit compares its own records with it, prints the difference and tags its run
with it, so two runs side by side in MLflow's compare view explain themselves.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from train.data import Record

ARTIFACT = "labels.jsonl"
TAG_PREFIX = "diff."


@dataclass(frozen=True)
class Entry:
    """One record as the next run needs to see it: its labels and which text they were given to."""

    labels: tuple[str, ...]
    text: str  # a short sha256 of the text: a changed paragraph shows without storing the corpus twice


Snapshot = dict[str, Entry]


@dataclass(frozen=True)
class PreviousRun:
    run_id: str
    run_name: str
    started: datetime


@dataclass(frozen=True)
class LabelCount:
    """Records that gained and lost one label."""

    gained: int = 0
    lost: int = 0

    def __str__(self) -> str:
        parts = [f"+{self.gained}"] if self.gained else []
        parts += [f"−{self.lost}"] if self.lost else []
        return "/".join(parts) or "0"


@dataclass(frozen=True)
class Changes:
    """The data of this run against the previous one; `since` is None on an experiment's first run."""

    experiment: str
    n_records: int
    since: PreviousRun | None = None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    relabeled: tuple[str, ...] = ()
    edited: tuple[str, ...] = ()  # same id, different text
    per_label: dict[str, LabelCount] = field(default_factory=dict)

    def describe(self, now: datetime | None = None) -> str:
        """One line; with `now`, the previous run's age ("2 h ago"), else its start time (for a tag that stays true)."""
        if self.since is None:
            return f"first run of experiment {self.experiment}"
        when = f"{_age(now - self.since.started)} ago" if now else self.since.started.strftime("%Y-%m-%d %H:%M UTC")
        head = f"since run {self.since.run_id[:8]} ({self.since.run_name}, {when})"
        counts = [
            f"{sign}{len(ids)} record{'s' * (len(ids) != 1)}"
            for sign, ids in (("+", self.added), ("−", self.removed))
            if ids
        ]
        counts += [
            f"{len(ids)} {name}" for name, ids in (("relabeled", self.relabeled), ("edited", self.edited)) if ids
        ]
        if not counts:
            return f"{head}: same {self.n_records} records and labels"
        moved = [f"{label} {count}" for label, count in self.per_label.items() if count.gained or count.lost]
        return f"{head}: {', '.join(counts)}" + (f"; {', '.join(moved)}" if moved else "")

    def tags(self) -> dict[str, str]:
        """MLflow run tags; they sort together (`diff.*`) and read side by side in the compare view."""
        tags = {f"{TAG_PREFIX}summary": self.describe()}
        if self.since is None:
            return {**tags, f"{TAG_PREFIX}previous_run": "none"}
        tags[f"{TAG_PREFIX}previous_run"] = self.since.run_id
        for name, ids in (
            ("added", self.added),
            ("removed", self.removed),
            ("relabeled", self.relabeled),
            ("edited", self.edited),
        ):
            tags[f"{TAG_PREFIX}{name}"] = str(len(ids))
        for label, count in self.per_label.items():
            tags[f"{TAG_PREFIX}label.{label}"] = str(count)
        return tags


def snapshot(records: Iterable[Record]) -> Snapshot:
    """The labeled records, as the next run will compare them."""
    return {r.id: Entry(tuple(sorted(r.labels or ())), _text_hash(r.text)) for r in records if r.labels is not None}


def dumps(snap: Mapping[str, Entry]) -> str:
    """The `labels.jsonl` artifact: one {"id", "labels", "text"} object a line, in id order."""
    rows = ({"id": rid, "labels": list(e.labels), "text": e.text} for rid, e in sorted(snap.items()))
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def loads(text: str) -> Snapshot:
    """Read a `labels.jsonl` artifact back; ValueError if it is not one."""
    out: Snapshot = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out[str(row["id"])] = Entry(tuple(str(label) for label in row["labels"]), str(row["text"]))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{ARTIFACT}:{number}: not a labels record ({exc})") from None
    return out


def first_run(experiment: str, current: Mapping[str, Entry]) -> Changes:
    return Changes(experiment=experiment, n_records=len(current))


def compare(
    since: PreviousRun, previous: Mapping[str, Entry], current: Mapping[str, Entry], experiment: str
) -> Changes:
    """Records added, removed, relabeled and edited, and per label the records that gained or lost it."""
    kept = sorted(current.keys() & previous.keys())
    gained: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    for rid in current.keys() | previous.keys():
        before = set(previous[rid].labels) if rid in previous else set()
        after = set(current[rid].labels) if rid in current else set()
        gained.update(after - before)
        lost.update(before - after)
    every_label = {label for entry in (*previous.values(), *current.values()) for label in entry.labels}
    return Changes(
        experiment=experiment,
        n_records=len(current),
        since=since,
        added=tuple(sorted(current.keys() - previous.keys())),
        removed=tuple(sorted(previous.keys() - current.keys())),
        relabeled=tuple(rid for rid in kept if set(previous[rid].labels) != set(current[rid].labels)),
        edited=tuple(rid for rid in kept if previous[rid].text != current[rid].text),
        per_label={label: LabelCount(gained[label], lost[label]) for label in sorted(every_label)},
    )


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _age(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
