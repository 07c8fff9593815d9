"""The label set is data: data/labels.toml is validated, and a new or renamed label needs no code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import LABELS, ROOT, write_jsonl
from train.cli import app
from train.errors import DataError
from train.labels import load_labels

runner = CliRunner()

FIVE = (ROOT / "data" / "labels.toml").read_text(encoding="utf-8")


def test_project_label_set_has_descriptions_in_file_order() -> None:
    label_set = load_labels(ROOT / "data" / "labels.toml")
    assert label_set.names == LABELS
    assert len(LABELS) == 5
    assert all(label.description and label.line > 0 for label in label_set.labels)
    assert "诉讼" in label_set.description("lawsuits") or "legal" in label_set.description("lawsuits")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[label]\nname = 'a'\n", "not valid TOML"),
        ("title = 'topics'\n", "no [[label]] tables"),
        ("[[label]]\nname = ''\ndescription = 'x'\n", ":1: label 1: missing or empty 'name'"),
        ("[[label]]\nname = 'Finance News'\ndescription = 'x'\n", ":1: label 1: name 'Finance News' must be"),
        (
            "[[label]]\nname = 'finance'\ndescription = 'x'\n\n[[label]]\nname = 'finance'\ndescription = 'y'\n",
            ":5: label 2: duplicate name 'finance'",
        ),
        ("[[label]]\nname = 'finance'\ndescription = ' '\n", ":1: label 1 (finance): missing or empty 'description'"),
        ("[[label]]\nname = 'finance'\ndescription = 'x'\ncolour = 'red'\n", "unknown keys ['colour']"),
    ],
)
def test_bad_label_file_is_one_line_naming_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "labels.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match="^" + str(path).replace(".", r"\.")) as raised:
        load_labels(path)
    assert message in str(raised.value)
    data = write_jsonl(tmp_path / "d.jsonl", [{"id": "a:1", "text": "文字", "labels": []}])
    result = runner.invoke(app, ["data", "check", str(data), "--labels", str(path)])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_missing_label_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"labels\.toml: no such file"):
        load_labels(tmp_path / "labels.toml")


def test_renamed_label_shows_every_record_still_using_the_old_name(tmp_path: Path, tiny_rows) -> None:  # type: ignore[no-untyped-def]
    labels = tmp_path / "labels.toml"
    labels.write_text(FIVE.replace('name = "lawsuits"', 'name = "legal_action"'), encoding="utf-8")
    data = write_jsonl(tmp_path / "d.jsonl", tiny_rows)
    result = runner.invoke(app, ["data", "check", str(data), "--labels", str(labels), "--folds", "2"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert [line.split(": ", 1)[0] for line in lines if "unknown label 'lawsuits'" in line] == [
        f"{data}:13",
        f"{data}:14",
        f"{data}:15",
    ]
    # The renamed label now has no examples: reported against its table in the labels file.
    line = next(n for n, text in enumerate(FIVE.splitlines(), 1) if 'name = "lawsuits"' in text) - 1
    assert any(text.startswith(f"{labels}:{line}: label 'legal_action' has 0 labeled examples") for text in lines)


CHIPS = [
    {"id": "c:1", "text": "美国收紧对华高端AI芯片出口管制", "labels": ["chips"]},
    {"id": "c:2", "text": "新一代GPU供不应求，数据中心排队等货", "labels": ["chips"]},
    {"id": "c:3", "text": "晶圆代工厂扩产先进制程以满足AI芯片需求", "labels": ["chips"]},
    {"id": "c:4", "text": "芯片禁令之下，国产加速卡加快量产", "labels": ["chips"]},
]


def test_a_sixth_label_is_trained_predicted_and_tracked_without_code(tmp_path: Path, tiny_rows) -> None:  # type: ignore[no-untyped-def]
    labels = tmp_path / "labels.toml"
    labels.write_text(FIVE + '\n[[label]]\nname = "chips"\ndescription = "AI chips: supply, export controls"\n')
    data = write_jsonl(tmp_path / "d.jsonl", tiny_rows + CHIPS)
    check = runner.invoke(app, ["data", "check", str(data), "--labels", str(labels), "--folds", "2"])
    assert check.exit_code == 0, check.output
    model = tmp_path / "m.joblib"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    fit = runner.invoke(
        app,
        ["fit", "--data", str(data), "--labels", str(labels), "--folds", "2", "--repeats", "1",
         "--no-learning-curve", "--model", str(model), "--tracking-uri", uri],
    )  # fmt: skip
    assert fit.exit_code == 0, fit.output
    assert "chips" in fit.output

    result = runner.invoke(app, ["predict", "--model", str(model), "--format", "json", "美国扩大AI芯片出口管制范围"])
    assert result.exit_code == 0, result.output
    (tagged,) = json.loads(result.output)["paragraphs"]
    assert set(tagged["scores"]) == {*LABELS, "chips"}
    assert "chips" in tagged["labels"]

    import mlflow

    mlflow.set_tracking_uri(uri)
    (run,) = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert "chips" in run.data.params["labels"]
    assert any(key.endswith("f1_chips") for key in run.data.metrics)
