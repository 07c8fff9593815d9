"""The CLI shell: version, help, data commands and one-line errors."""

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from tests.conftest import ROOT, write_jsonl
from train import __version__
from train.cli import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"topic-tagger {__version__}"


def test_data_check_reports_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(
        '{"id": "a:1", "text": "x", "labels": []}\n{"id": "a:1", "text": "y", "labels": []}\n'
        '{"id": "a:3", "text": "z", "labels": ["nope"]}\nnot json\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["data", "check", str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{path}:2: duplicate id 'a:1'")
    assert lines[1].startswith(f"{path}:3: record 'a:3': unknown label 'nope'")
    assert lines[2].startswith(f"{path}:4: invalid JSON")
    assert lines[-1] == "1 records, 3 problems"


def test_data_check_passes_on_project_data() -> None:
    result = runner.invoke(
        app, ["data", "check", str(ROOT / "data" / "paragraphs.jsonl"), str(ROOT / "data" / "authored")]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].endswith(", 0 problems")


def test_data_check_warns_on_near_duplicates(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [
            {"id": "a:1", "text": "公司宣布完成新一轮融资", "labels": []},
            {"id": "a:2", "text": "公司宣布完成新一轮融资。", "labels": []},
        ],
    )
    result = runner.invoke(app, ["data", "check", str(path)])
    assert result.exit_code == 0
    assert "warning: near-duplicate records a:1 and a:2" in result.output


def test_data_build_then_stats(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seeds").mkdir()
    (tmp_path / "data").mkdir()
    shutil.copy(ROOT / "data" / "labels.toml", tmp_path / "data")
    (tmp_path / "seeds" / "a.txt").write_text("标题\n正文第一段\n", encoding="utf-8")
    result = runner.invoke(app, ["data", "build"])
    assert result.exit_code == 0, result.output
    assert "2 records (0 kept, 2 new and unlabeled)" in result.output
    out = tmp_path / "data" / "paragraphs.jsonl"
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows == [{"id": "a:1", "text": "标题", "labels": None}, {"id": "a:2", "text": "正文第一段", "labels": None}]

    rows[0]["labels"] = ["finance"]
    write_jsonl(out, rows)
    (tmp_path / "seeds" / "a.txt").write_text("新标题\n正文第一段\n", encoding="utf-8")
    result = runner.invoke(app, ["data", "build"])
    assert result.exit_code == 0, result.output
    assert "a:1: seed text changed" in result.output
    orphans = (tmp_path / "data" / "paragraphs.orphans.jsonl").read_text(encoding="utf-8")
    assert json.loads(orphans) == {"id": "a:1", "text": "标题", "labels": ["finance"]}

    result = runner.invoke(app, ["data", "stats", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 paragraphs: 0 labeled" in result.output and "2 unlabeled" in result.output


def test_data_stats_on_project_data() -> None:
    result = runner.invoke(app, ["data", "stats", str(ROOT / "data" / "paragraphs.jsonl")])
    assert result.exit_code == 0, result.output
    assert "Label co-occurrence" in result.output
    assert "talent_exodus" in result.output
