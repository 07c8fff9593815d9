"""Label Studio, both ways: a labeling config and tasks to import, labels read back from its exports.

The formats are Label Studio's own, as its documentation and converter write them:

- import: a JSON list of tasks `{"data": {...}, "predictions": [{"model_version", "score",
  "result": [{"from_name", "to_name", "type": "choices", "value": {"choices": [...]}}]}]}`
  (docs/source/guide/tasks.md and predictions.md);
- JSON export: the same tasks with `id` and `annotations[]`, each annotation with `id`,
  `completed_by`, `result[]`, `was_cancelled`, `created_at` and `updated_at` (guide/export.md);
- JSON-MIN export: one flat object per non-cancelled annotation (one per task without any),
  the task's data fields at the top, `id` set to Label Studio's task id, the `from_name` key
  holding one choice as a string or several as `{"choices": [...]}`, and `annotator`,
  `annotation_id`, `created_at`, `updated_at` (label_studio_sdk/converter/converter.py,
  `convert_to_json_min` and `prettify_result`).

JSON-MIN overwrites a data field named `id` with the task id, so our record id travels
as `data.record_id`, which both exports keep.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from train.data import Record, load_dataset, relabel
from train.errors import DataError
from train.files import atomic_write
from train.labels import LabelSet
from train.scorer import Scorer

FROM_NAME = "topics"  # the Choices tag: `from_name` in every result
TO_NAME = "text"  # the Text tag it labels: `to_name`
RECORD_ID = "record_id"
TEXT = "text"
_EARLIEST = datetime.min.replace(tzinfo=UTC)


def labeling_config(labels: LabelSet) -> str:
    """The project's labeling interface: the paragraph, and one checkbox per label with its description on hover."""
    view = ET.Element("View")
    ET.SubElement(view, "Text", name=TO_NAME, value=f"${TEXT}")
    choices = ET.SubElement(view, "Choices", name=FROM_NAME, toName=TO_NAME, choice="multiple", showInline="false")
    for label in labels.labels:
        ET.SubElement(choices, "Choice", value=label.name, hint=label.description)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


def config_path(tasks_path: Path) -> Path:
    """Where the labeling config goes beside a tasks file: tasks.json → tasks.config.xml."""
    return tasks_path.with_suffix(".config.xml")


def _result(choices: Sequence[str]) -> dict[str, Any]:
    return {"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices", "value": {"choices": list(choices)}}


def export_tasks(
    records: Sequence[Record], model: Scorer | None, model_version: str, labels: LabelSet
) -> list[dict[str, Any]]:
    """One Label Studio task per record; with a model, its labels as the task's prediction.

    A prediction's `score` is the model's confidence in its least certain label decision
    (p for a label it assigns, 1 - p for one it does not), so sorting by prediction score in
    Label Studio puts the paragraphs most worth a look first. Assigning no label is a
    prediction too, with an empty result.
    """
    from train.predict import Paragraph, tag

    tasks: list[dict[str, Any]] = [{"data": {RECORD_ID: r.id, TEXT: r.text}} for r in records]
    if model is None:
        return tasks
    foreign = [name for name in model.labels if name not in labels.names]
    if foreign:
        raise DataError(
            f"the model predicts labels the label set lacks ({', '.join(foreign)}); "
            "retrain with `train fit`, pass the --labels it was trained with, or use --no-predictions"
        )
    tagged = tag(model, (Paragraph(r.id, r.text, r.article) for r in records))
    for number, (task, t) in enumerate(zip(tasks, tagged, strict=True), 1):
        confidence = min(p if name in t.labels else 1.0 - p for name, p in t.scores.items())
        result = [{"id": f"topics-{number}", **_result(t.labels)}] if t.labels else []
        task["predictions"] = [{"model_version": model_version, "score": round(confidence, 4), "result": result}]
    return tasks


@dataclass(frozen=True)
class Exported:
    tasks_path: Path
    config_path: Path
    tasks: int
    model_version: str | None  # None: tasks without predictions


def export_label_studio(
    data: Sequence[Path],
    output: Path,
    labels: LabelSet,
    model_ref: str | None,
    *,
    include_labeled: bool = False,
    tracking_uri: str | None = None,
) -> Exported:
    """Write the tasks for the unlabeled records (every record with `include_labeled`) and the labeling config."""
    from train.predict import load_with_metadata

    records = [r for r in load_dataset(data, labels.names).records if include_labeled or r.labels is None]
    if not records:
        raise DataError(
            'no unlabeled records ("labels": null) in the data; nothing to export (--all exports every one)'
        )
    model, version = None, None
    if model_ref is not None:
        model, metadata = load_with_metadata(model_ref, tracking_uri=tracking_uri)
        version = str(metadata.get("mlflow_run_id") or model_ref)
    tasks = export_tasks(records, model, version or "", labels)
    config = config_path(output)
    atomic_write(output, (json.dumps(tasks, ensure_ascii=False, indent=2) + "\n").encode())
    atomic_write(config, labeling_config(labels).encode())
    return Exported(output, config, len(tasks), version)


# --- reading an export --------------------------------------------------------------


@dataclass(frozen=True)
class Vote:
    """One annotator's non-cancelled annotation of one task, as the export holds it."""

    task: str  # Label Studio's task id, for messages
    record_id: str
    annotator: str
    annotation: str  # the annotation's id
    when: datetime  # updated_at, else created_at
    choices: tuple[str, ...]


@dataclass(frozen=True)
class Conflict:
    """A record whose annotators' latest annotations chose different labels."""

    record_id: str
    tasks: tuple[str, ...]
    choices: dict[str, tuple[str, ...]]  # annotator → labels

    def __str__(self) -> str:
        chose = "; ".join(f"{who} chose {'+'.join(labels) or 'no label'}" for who, labels in self.choices.items())
        return f"task {', '.join(self.tasks)} (record {self.record_id!r}): annotators disagree: {chose}"


@dataclass(frozen=True)
class Annotations:
    """What an export says: labels per record id, the records it disagrees on, those nobody annotated."""

    labels: dict[str, tuple[str, ...]]
    conflicts: tuple[Conflict, ...]
    unannotated: tuple[str, ...]
    tasks: dict[str, tuple[str, ...]]  # record id → the task ids that carry it
    texts: dict[str, str]  # record id → the text the annotators saw


def read_export(path: Path, labels: LabelSet) -> Annotations:
    """Labels per record from a Label Studio JSON or JSON-MIN export.

    A record takes the choices of each annotator's latest non-cancelled annotation (by
    updated_at, else created_at, then annotation id); when annotators' latest choices differ
    the record is a conflict, left unlabeled here for the caller to report. Cancelled
    (skipped) annotations and tasks without any leave a record unannotated.
    """
    rows = _load(path)
    is_min = _kind(path, rows)
    tasks: dict[str, list[str]] = {}
    texts: dict[str, str] = {}
    votes: list[Vote] = []
    for number, row in enumerate(rows, 1):
        task, record_id, text, row_votes = (_min_row if is_min else _json_row)(path, number, row)
        if task not in tasks.setdefault(record_id, []):
            tasks[record_id].append(task)
        if text is not None:
            if texts.setdefault(record_id, text) != text:
                raise DataError(
                    f"{path}: task {task} (record {record_id!r}): two tasks show the record different texts"
                )
        votes.extend(row_votes)
    known = set(labels.names)
    for vote in votes:
        unknown = [choice for choice in vote.choices if choice not in known]
        if unknown:
            raise DataError(
                f"{path}: task {vote.task} (record {vote.record_id!r}): unknown label {unknown[0]!r} "
                f"(known: {', '.join(labels.names)})"
            )
    latest: dict[str, dict[str, Vote]] = {}
    for vote in sorted(votes, key=lambda v: (v.when, _id_order(v.annotation))):
        latest.setdefault(vote.record_id, {})[vote.annotator] = vote
    decided: dict[str, tuple[str, ...]] = {}
    conflicts: list[Conflict] = []
    for record_id, by_annotator in latest.items():
        chosen = {who: labels.in_order(v.choices) for who, v in sorted(by_annotator.items())}
        if len(set(chosen.values())) > 1:
            conflicts.append(Conflict(record_id, tuple(tasks[record_id]), chosen))
        else:
            decided[record_id] = next(iter(chosen.values()))
    return Annotations(
        labels=decided,
        conflicts=tuple(conflicts),
        unannotated=tuple(rid for rid in tasks if rid not in latest),
        tasks={rid: tuple(ids) for rid, ids in tasks.items()},
        texts=texts,
    )


def _load(path: Path) -> list[Any]:
    try:
        raw = json.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a Label Studio export") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(raw, list) or not all(isinstance(row, dict) for row in raw):
        raise DataError(f"{path}: not a Label Studio export (expected a JSON list of tasks)")
    if not raw:
        raise DataError(f"{path}: the export holds no tasks")
    return raw


def _kind(path: Path, rows: list[dict[str, Any]]) -> bool:
    """True for JSON-MIN, False for JSON; anything else is not an export."""
    first = rows[0]
    if isinstance(first.get("data"), dict) and "annotations" in first:
        return False
    if "annotation_id" in first and "data" not in first:
        return True
    if isinstance(first.get("data"), dict):
        raise DataError(
            f"{path}: tasks without annotations, not a Label Studio export "
            "(import this file into Label Studio; export JSON or JSON-MIN from the project to bring labels back)"
        )
    raise DataError(
        f"{path}: not a Label Studio JSON or JSON-MIN export (task 1 has neither 'annotations' nor 'annotation_id')"
    )


def _json_row(path: Path, number: int, task: dict[str, Any]) -> tuple[str, str, str | None, list[Vote]]:
    name = str(task.get("id", f"#{number}"))
    data, annotations = task.get("data"), task.get("annotations")
    if not isinstance(data, dict) or not isinstance(annotations, list):
        raise DataError(f"{path}: task {name}: not a Label Studio task (needs 'data' and 'annotations')")
    record_id, text = _record(path, name, data)
    votes = []
    for annotation in annotations:
        if not isinstance(annotation, dict) or not isinstance(annotation.get("result") or [], list):
            raise DataError(f"{path}: task {name}: an annotation is not an object with a 'result' list")
        if annotation.get("was_cancelled") or annotation.get("skipped"):
            continue
        choices: list[str] = []
        for item in annotation.get("result") or []:
            choices += _result_choices(path, name, item)
        votes.append(
            Vote(
                task=name,
                record_id=record_id,
                annotator=_annotator(annotation.get("completed_by")),
                annotation=str(annotation.get("id", "")),
                when=_when(path, name, annotation),
                choices=tuple(choices),
            )
        )
    return name, record_id, text, votes


def _min_row(path: Path, number: int, row: dict[str, Any]) -> tuple[str, str, str | None, list[Vote]]:
    name = str(row.get("id", f"#{number}"))
    record_id, text = _record(path, name, row)
    if row.get("annotation_id") is None:  # a task without annotations
        return name, record_id, text, []
    vote = Vote(
        task=name,
        record_id=record_id,
        annotator=_annotator(row.get("annotator")),
        annotation=str(row["annotation_id"]),
        when=_when(path, name, row),
        choices=_min_choices(path, name, row.get(FROM_NAME)),
    )
    return name, record_id, text, [vote]


def _record(path: Path, task: str, data: dict[str, Any]) -> tuple[str, str | None]:
    record_id, text = data.get(RECORD_ID), data.get(TEXT)
    if not isinstance(record_id, str) or not record_id:
        raise DataError(f"{path}: task {task}: no '{RECORD_ID}' in its data (tasks must come from `train data export`)")
    return record_id, text if isinstance(text, str) else None


def _result_choices(path: Path, task: str, item: Any) -> list[str]:
    if not isinstance(item, dict):
        raise DataError(f"{path}: task {task}: a result item is not an object")
    if item.get("type") != "choices":
        return []  # a region, a comment box or other control someone added: not a topic
    if item.get("from_name") != FROM_NAME:
        raise DataError(
            f"{path}: task {task}: choices from {item.get('from_name')!r}, expected {FROM_NAME!r} "
            "(the labeling config `train data export` writes)"
        )
    value = item.get("value")
    choices = value.get("choices") if isinstance(value, dict) else None
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise DataError(f"{path}: task {task}: a '{FROM_NAME}' result has no list of choices")
    return choices


def _min_choices(path: Path, task: str, value: Any) -> tuple[str, ...]:
    """JSON-MIN's value of the from_name key: absent when nothing was chosen, one choice as a string,
    several as {"choices": [...]} (a list of those if the tag has several results)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, dict) and isinstance(value.get("choices"), list):
        if all(isinstance(c, str) for c in value["choices"]):
            return tuple(value["choices"])
    if isinstance(value, list):
        return tuple(choice for part in value for choice in _min_choices(path, task, part))
    raise DataError(f"{path}: task {task}: '{FROM_NAME}' is neither a label nor {{\"choices\": [...]}}")


def _annotator(who: Any) -> str:
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    return "unknown" if who is None else str(who)


def _when(path: Path, task: str, annotation: dict[str, Any]) -> datetime:
    stamp = annotation.get("updated_at") or annotation.get("created_at")
    if stamp is None:
        return _EARLIEST
    try:
        moment = datetime.fromisoformat(str(stamp))
    except ValueError:
        raise DataError(f"{path}: task {task}: annotation time {stamp!r} is not an ISO 8601 timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _id_order(annotation_id: str) -> tuple[int, int, str]:
    return (0, int(annotation_id), "") if annotation_id.isdigit() else (1, 0, annotation_id)


# --- applying an export -------------------------------------------------------------


@dataclass(frozen=True)
class Imported:
    labeled: int  # records whose labels the export set or changed
    unchanged: int  # records the export labels as the data already does
    conflicts: tuple[Conflict, ...]  # skipped (only with skip_conflicts)
    unannotated: int  # records whose tasks nobody annotated (or every annotation was cancelled)
    files: tuple[Path, ...]  # data files rewritten


def import_label_studio(
    export: Path, data: Sequence[Path], labels: LabelSet, *, skip_conflicts: bool = False
) -> Imported:
    """Set the labels an export gives, through `train.data.relabel`; any problem stops it before a write.

    Conflicting annotations stop the import unless `skip_conflicts`, which leaves those records
    as they are and reports them.
    """
    found = read_export(export, labels)
    if found.conflicts and not skip_conflicts:
        more = f" (and {len(found.conflicts) - 1} more)" if len(found.conflicts) > 1 else ""
        raise DataError(
            f"{export}: {found.conflicts[0]}{more}; settle them in Label Studio, or --skip-conflicts to import the rest"
        )
    records = {r.id: r for r in load_dataset(data, labels.names).records}
    for record_id, task_ids in found.tasks.items():
        record = records.get(record_id)
        if record is None:
            raise DataError(
                f"{export}: task {', '.join(task_ids)}: no record {record_id!r} in {', '.join(map(str, data))}"
            )
        if record_id in found.texts and found.texts[record_id] != record.text:
            raise DataError(
                f"{export}: task {', '.join(task_ids)} (record {record_id!r}): its text is not the record's "
                "(the record changed since the export); export it again"
            )
    changed = {rid: chosen for rid, chosen in found.labels.items() if records[rid].labels != chosen}
    files = relabel(data, changed) if changed else []
    return Imported(
        labeled=len(changed),
        unchanged=len(found.labels) - len(changed),
        conflicts=found.conflicts,
        unannotated=len(found.unannotated),
        files=tuple(files),
    )
