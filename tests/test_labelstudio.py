"""Label Studio both ways: config, tasks with predictions, JSON and JSON-MIN exports read back through the CLI."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT, FittedProject, write_jsonl
from train.cli import app
from train.labels import load_labels
from train.labelstudio import labeling_config, read_export
from train.modelfile import load
from train.predict import Paragraph, load_tagger, tag

runner = CliRunner()
FIXTURES = Path(__file__).parent / "fixtures" / "labelstudio"
LABELS_FILE = ROOT / "data" / "labels.toml"
LABEL_SET = load_labels(LABELS_FILE)
EXPORT = json.loads((FIXTURES / "export.json").read_text(encoding="utf-8"))
EXPORT_MIN = json.loads((FIXTURES / "export-min.json").read_text(encoding="utf-8"))

# What both fixtures say, by the rules: annotator 7's updated annotation 503 is their latest for ls:2
# and agrees with annotator 9's; the cancelled 502 does not count; ls:5 was submitted with no topic.
EXPECTED = {"ls:1": ("finance",), "ls:2": ("talent_exodus", "lawsuits"), "ls:5": (), "ls:6": ("competition",)}


def _data_file(tmp_path: Path) -> Path:
    """The records the fixtures' tasks were exported from, unlabeled but for ls:6, plus one no task names."""
    rows: list[dict[str, object]] = [
        {"id": t["data"]["record_id"], "text": t["data"]["text"], "labels": None, "source": "authored"} for t in EXPORT
    ]
    rows[-1]["labels"] = ["competition"]
    rows.append({"id": "ls:9", "text": "这一段不在任何任务里。", "labels": ["finance"]})
    return write_jsonl(tmp_path / "records.jsonl", rows)


def _import(export: Path, data: Path, *extra: str) -> Any:
    return runner.invoke(
        app, ["data", "import", str(export), "--data", str(data), "--labels", str(LABELS_FILE), *extra]
    )


def _rows(path: Path) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


# --- the labeling config ------------------------------------------------------------


def test_labeling_config_has_one_choice_per_label_with_its_description() -> None:
    view = ET.fromstring(labeling_config(LABEL_SET))
    assert view.tag == "View"
    text = view.find("Text")
    assert text is not None and text.attrib == {"name": "text", "value": "$text"}
    choices = view.find("Choices")
    assert choices is not None
    assert choices.attrib == {"name": "topics", "toName": "text", "choice": "multiple", "showInline": "false"}
    assert [(c.get("value"), c.get("hint")) for c in choices.findall("Choice")] == [
        (label.name, label.description) for label in LABEL_SET.labels
    ]


# --- reading exports ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["export.json", "export-min.json"])
def test_read_export_takes_each_annotators_latest_non_cancelled_annotation(name: str) -> None:
    found = read_export(FIXTURES / name, LABEL_SET)
    assert found.labels == EXPECTED
    assert found.conflicts == ()
    assert found.unannotated == ("ls:3",)
    assert found.tasks["ls:2"] == ("102",)


def test_import_json_sets_labels_and_keeps_everything_else(tmp_path: Path) -> None:
    data = _data_file(tmp_path)
    before = _rows(data)
    result = _import(FIXTURES / "export.json", data)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "3 records labeled, 1 unchanged, 0 conflicts, 1 not annotated"
    after = _rows(data)
    assert {rid: after[rid]["labels"] for rid in EXPECTED} == {rid: list(v) for rid, v in EXPECTED.items()}
    assert after["ls:3"] == before["ls:3"]  # nobody annotated it: still unlabeled
    assert after["ls:9"] == before["ls:9"]
    assert all(after[rid]["source"] == "authored" for rid in EXPECTED)
    assert list(after) == list(before)  # line order kept


def test_import_json_min_gives_the_same_file(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    from_json, from_min = _data_file(tmp_path / "a"), _data_file(tmp_path / "b")
    assert _import(FIXTURES / "export.json", from_json).exit_code == 0
    result = _import(FIXTURES / "export-min.json", from_min)
    assert result.exit_code == 0, result.output
    assert from_min.read_bytes() == from_json.read_bytes()


def test_importing_again_changes_nothing(tmp_path: Path) -> None:
    data = _data_file(tmp_path)
    assert _import(FIXTURES / "export.json", data).exit_code == 0
    before = data.read_bytes()
    result = _import(FIXTURES / "export.json", data)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("0 records labeled, 4 unchanged, 0 conflicts")
    assert data.read_bytes() == before


def _conflicting(export: list[dict[str, Any]]) -> list[dict[str, Any]]:
    bad = copy.deepcopy(export)
    bad[1]["annotations"][2]["result"][0]["value"]["choices"] = ["lawsuits"]  # annotator 9 on task 102
    return bad


def test_skip_conflicts_imports_the_rest_and_reports_them(tmp_path: Path) -> None:
    data = _data_file(tmp_path)
    export = tmp_path / "export.json"
    export.write_text(json.dumps(_conflicting(EXPORT)), encoding="utf-8")
    result = _import(export, data, "--skip-conflicts")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "2 records labeled, 1 unchanged, 1 conflicts, 1 not annotated"
    assert result.stderr.strip() == (
        "conflict: task 102 (record 'ls:2'): annotators disagree: 7 chose talent_exodus+lawsuits; 9 chose lawsuits"
    )
    after = _rows(data)
    assert after["ls:2"]["labels"] is None
    assert after["ls:1"]["labels"] == ["finance"]


# --- bad input: one line naming the file (and task), exit 1, nothing written ---------


def _json(change: Callable[[list[dict[str, Any]]], None], source: list[dict[str, Any]] = EXPORT) -> str:
    rows = copy.deepcopy(source)
    change(rows)
    return json.dumps(rows, ensure_ascii=False)


def _set(path: tuple[Any, ...], value: Any) -> Callable[[list[dict[str, Any]]], None]:
    def change(rows: list[dict[str, Any]]) -> None:
        target: Any = rows
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


BAD_INPUTS: dict[str, tuple[str, str]] = {
    # case: (file content, what the one line says)
    "not JSON": ('[{"id": 101, "data": ', "not JSON"),
    "not a list": ('{"tasks": []}', "not a Label Studio export"),
    "no tasks": ("[]", "holds no tasks"),
    "tasks, not an export": (
        json.dumps([{"data": {"record_id": "ls:1", "text": "x"}, "predictions": []}]),
        "tasks without annotations",
    ),
    "something else": (json.dumps([{"name": "x"}]), "not a Label Studio JSON or JSON-MIN export"),
    "unknown label": (
        _json(_set((0, "annotations", 0, "result", 0, "value", "choices"), ["weather"])),
        "task 101 (record 'ls:1'): unknown label 'weather'",
    ),
    "unknown label, JSON-MIN": (
        _json(_set((2, "topics"), "weather"), EXPORT_MIN),
        "task 102 (record 'ls:2'): unknown label 'weather'",
    ),
    "unknown id": (_json(_set((4, "data", "record_id"), "ls:404")), "task 106: no record 'ls:404'"),
    "unknown id, unannotated task": (_json(_set((2, "data", "record_id"), "ls:404")), "task 103: no record 'ls:404'"),
    "conflict": (json.dumps(_conflicting(EXPORT)), "task 102 (record 'ls:2'): annotators disagree"),
    "conflict, JSON-MIN": (
        _json(_set((1, "topics"), "lawsuits"), EXPORT_MIN),
        "task 102 (record 'ls:2'): annotators disagree: 7 chose talent_exodus+lawsuits; 9 chose lawsuits",
    ),
    "text changed since export": (
        _json(_set((0, "data", "text"), "另一段话。")),
        "task 101 (record 'ls:1'): its text is not the record's",
    ),
    "no record id": (_json(_set((0, "data"), {"text": "x"})), "task 101: no 'record_id'"),
    "other choices": (
        _json(_set((0, "annotations", 0, "result", 0, "from_name"), "sentiment")),
        "task 101: choices from 'sentiment'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_export_is_one_line_and_writes_nothing(tmp_path: Path, case: str) -> None:
    content, says = BAD_INPUTS[case]
    data = _data_file(tmp_path)
    before = data.read_bytes()
    export = tmp_path / "export.json"
    export.write_text(content, encoding="utf-8")
    result = _import(export, data)
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {export}: "), lines[0]
    assert says in lines[0]
    assert result.stdout == ""
    assert data.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json", "records.jsonl"]  # no temp file left


def test_missing_export_is_one_line(tmp_path: Path) -> None:
    data = _data_file(tmp_path)
    result = _import(tmp_path / "nope.json", data)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {tmp_path / 'nope.json'}: no such file"


# --- export, then import what Label Studio gives back --------------------------------


def _export(data: Path, output: Path, *extra: str) -> Any:
    return runner.invoke(
        app, ["data", "export", "--format", "label-studio", "--data", str(data), "--output", str(output),
              "--labels", str(LABELS_FILE), *extra],
    )  # fmt: skip


def test_round_trip_with_a_real_model(
    tmp_path: Path, fitted: FittedProject, tiny_rows: list[dict[str, object]]
) -> None:
    rows = [dict(r, labels=None) if r["id"] in {"t:1", "t:10"} else r for r in tiny_rows]
    data = write_jsonl(tmp_path / "records.jsonl", rows)
    output = tmp_path / "tasks.json"
    result = _export(data, output, "--model", str(fitted.model))
    assert result.exit_code == 0, result.output
    config = tmp_path / "tasks.config.xml"
    run_id = load(fitted.model)[1]["mlflow_run_id"]
    assert result.stdout.splitlines() == [
        f"{output}: 3 tasks, predictions by {run_id} (import them into the project)",
        f"{config}: labeling config (paste into Settings → Labeling Interface → Code)",
    ]
    assert config.read_text(encoding="utf-8") == labeling_config(LABEL_SET)

    tasks = json.loads(output.read_text(encoding="utf-8"))
    assert [t["data"]["record_id"] for t in tasks] == ["t:1", "t:10", "t:18"]
    tagger = load_tagger(str(fitted.model))
    expected = list(tag(tagger, [Paragraph(t["data"]["record_id"], t["data"]["text"]) for t in tasks]))
    for task, tagged in zip(tasks, expected, strict=True):
        (prediction,) = task["predictions"]
        assert prediction["model_version"] == run_id
        assert 0.0 <= prediction["score"] <= 1.0
        chosen = [c for r in prediction["result"] for c in r["value"]["choices"]]
        assert chosen == list(tagged.labels)
        assert all(r["from_name"] == "topics" and r["to_name"] == "text" for r in prediction["result"])
        assert all(r["type"] == "choices" for r in prediction["result"])

    # Label Studio: an annotator accepts the first two predictions and sets the third to finance.
    exported = []
    for number, task in enumerate(tasks, 1):
        result_items = copy.deepcopy(task["predictions"][0]["result"]) if number < 3 else [
            {"id": "k1", "from_name": "topics", "to_name": "text", "type": "choices",
             "value": {"choices": ["finance"]}, "origin": "manual"}
        ]  # fmt: skip
        annotation = {"id": 40 + number, "completed_by": 1, "result": result_items, "was_cancelled": False,
                      "ground_truth": False, "created_at": "2024-06-01T10:00:00.000000Z",
                      "updated_at": "2024-06-01T10:00:00.000000Z", "lead_time": 4.0, "task": number}  # fmt: skip
        exported.append({"id": number, "data": task["data"], "annotations": [annotation],
                         "predictions": task["predictions"], "project": 1})  # fmt: skip
    export = tmp_path / "project-1-at-2024-06-01.json"
    export.write_text(json.dumps(exported, ensure_ascii=False), encoding="utf-8")
    result = _import(export, data)
    assert result.exit_code == 0, result.output
    after = _rows(data)
    assert after["t:1"]["labels"] == list(expected[0].labels)
    assert after["t:10"]["labels"] == list(expected[1].labels)
    assert after["t:18"]["labels"] == ["finance"]
    assert after["t:2"] == rows[1]


def test_export_all_and_without_predictions(tmp_path: Path, tiny_rows: list[dict[str, object]]) -> None:
    data = write_jsonl(tmp_path / "records.jsonl", list(tiny_rows))
    output = tmp_path / "all.json"
    result = _export(data, output, "--all", "--no-predictions", "--model", str(tmp_path / "no-model.npz"))
    assert result.exit_code == 0, result.output
    tasks = json.loads(output.read_text(encoding="utf-8"))
    assert [t["data"]["record_id"] for t in tasks] == [r["id"] for r in tiny_rows]
    assert all("predictions" not in t for t in tasks)
    assert (tmp_path / "all.config.xml").exists()
    assert result.stdout.splitlines()[0] == f"{output}: {len(tiny_rows)} tasks (import them into the project)"


def test_export_with_nothing_unlabeled_is_one_line(tmp_path: Path, tiny_rows: list[dict[str, object]]) -> None:
    data = write_jsonl(tmp_path / "records.jsonl", [r for r in tiny_rows if r["labels"] is not None])
    result = _export(data, tmp_path / "tasks.json", "--no-predictions")
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1
    assert "nothing to export" in result.stderr
    assert not (tmp_path / "tasks.json").exists()
