"""`train label`'s logic on real files and a real model: queue order, decisions written at once, undo, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT, FittedProject, write_jsonl
from train.cli import app
from train.errors import DataError, ModelError
from train.labeling import Session, check_label_set, open_session
from train.labels import Label, LabelSet
from train.predict import Paragraph, load_tagger, most_uncertain

LABELS_FILE = ROOT / "data" / "labels.toml"
runner = CliRunner()

# Paragraphs written for these tests, unlabeled; one labeled record that must never enter the queue.
UNLABELED = [
    ("lab-a:1", "这家初创公司本周宣布完成新一轮融资，投后估值接近三百亿美元。"),
    ("lab-a:2", "与此同时，公司的首席技术官在内部信中宣布离职，称将先休息一段时间。"),
    ("lab-a:3", "多位前员工公开表示，公司为了抢在对手之前发布产品，压缩了安全评估的时间。"),
    ("lab-a:4", "一个作家团体已向地方法院递交诉状，指控模型未经许可使用了成员的作品。"),
    ("lab-a:5", "在最新公布的编程基准上，这款开源模型的得分首次追平了闭源的领先者。"),
    ("lab-a:6", "欢迎订阅我们的早报，每天早上八点准时送达。"),
]
LABELED: dict[str, object] = {
    "id": "lab-b:1",
    "text": "董事会改组之后，两名创始成员相继出走。",
    "labels": ["talent_exodus"],
}


def unlabeled_data(path: Path) -> Path:
    """A JSONL file of UNLABELED (with extra fields a rewrite must keep) and one labeled record."""
    rows: list[dict[str, object]] = [
        {"id": rid, "text": text, "labels": None, "source": "added", "note": f"kept {rid}"} for rid, text in UNLABELED
    ]
    return write_jsonl(path, [*rows[:3], LABELED, *rows[3:]])


def on_disk(path: Path) -> dict[str, dict[str, object]]:
    """Every record of a JSONL file by id; fails if any line is not valid JSON."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {str(row["id"]): row for row in rows}


def session_over(fitted: FittedProject, data: Path) -> Session:
    return open_session([data], load_tagger(str(fitted.model)), LABELS_FILE)


def test_queue_holds_the_unlabeled_in_suggest_order(fitted: FittedProject, tmp_path: Path) -> None:
    data = unlabeled_data(tmp_path / "u.jsonl")
    tagger = load_tagger(str(fitted.model))
    session = open_session([data], tagger, LABELS_FILE)
    expected = most_uncertain(tagger, [Paragraph(rid, text, "lab-a") for rid, text in UNLABELED], 99)
    assert [item.id for item in session.pending] == [s.tagged.id for s in expected]
    assert LABELED["id"] not in {item.id for item in session.pending}
    thresholds = dict(zip(tagger.labels, tagger.thresholds, strict=True))
    for item in session.pending:
        assert item.article == "lab-a"
        assert item.guess == tuple(name for name in tagger.labels if item.scores[name] >= thresholds[name])
    assert str(session.progress) == "0 labeled · 0 skipped · 6 left"


def test_accept_writes_the_labels_at_once_keeping_the_rest(fitted: FittedProject, tmp_path: Path) -> None:
    data = unlabeled_data(tmp_path / "u.jsonl")
    before = on_disk(data)
    session = session_over(fitted, data)
    first = session.current
    assert first is not None
    decision = session.accept(["finance", "competition"])
    assert decision.file == data
    after = on_disk(data)
    # In the label file's order, whatever order they were ticked in.
    assert after[first.id]["labels"] == ["competition", "finance"]
    assert after[first.id]["note"] == f"kept {first.id}" and after[first.id]["source"] == "added"
    assert {rid: row for rid, row in after.items() if rid != first.id} == {
        rid: row for rid, row in before.items() if rid != first.id
    }
    assert list(after) == list(before)  # line order kept
    assert session.current is not None and session.current.id != first.id
    assert str(session.progress) == "1 labeled · 0 skipped · 5 left"


def test_accepting_nothing_is_a_real_no_topic_label(fitted: FittedProject, tmp_path: Path) -> None:
    data = unlabeled_data(tmp_path / "u.jsonl")
    session = session_over(fitted, data)
    rid = session.accept([]).item.id
    assert on_disk(data)[rid]["labels"] == []


def test_skip_writes_nothing_and_the_next_session_brings_it_back(fitted: FittedProject, tmp_path: Path) -> None:
    data = unlabeled_data(tmp_path / "u.jsonl")
    before = data.read_bytes()
    session = session_over(fitted, data)
    skipped = session.skip().item.id
    assert data.read_bytes() == before
    assert skipped not in {item.id for item in session.pending}  # not again in this session
    labeled = session.accept(["lawsuits"]).item.id
    assert str(session.progress) == "1 labeled · 1 skipped · 4 left"
    again = session_over(fitted, data)
    assert skipped in {item.id for item in again.pending}
    assert labeled not in {item.id for item in again.pending}
    assert len(again.pending) == 5


def test_undo_restores_null_in_the_file_and_shows_the_paragraph_again(fitted: FittedProject, tmp_path: Path) -> None:
    data = unlabeled_data(tmp_path / "u.jsonl")
    before = data.read_bytes()
    session = session_over(fitted, data)
    first = session.accept(["talent_exodus"]).item
    second = session.skip().item
    undone = session.undo()
    assert undone is not None and undone.item == second and undone.labels is None
    assert session.current == second
    undone = session.undo()
    assert undone is not None and undone.item == first and undone.labels == ("talent_exodus",)
    assert session.current == first
    assert on_disk(data)[first.id]["labels"] is None
    assert data.read_bytes() == before  # byte for byte: other fields and order untouched
    assert session.undo() is None
    assert str(session.progress) == "0 labeled · 0 skipped · 6 left"


def test_a_new_session_resumes_where_the_last_one_stopped(fitted: FittedProject, tmp_path: Path) -> None:
    data = unlabeled_data(tmp_path / "u.jsonl")
    first = session_over(fitted, data)
    order = [item.id for item in first.pending]
    for _ in range(3):
        first.accept([])
    resumed = session_over(fitted, data)
    assert [item.id for item in resumed.pending] == order[3:]


def test_a_failed_write_keeps_the_paragraph_on_screen(fitted: FittedProject, tmp_path: Path) -> None:
    data = unlabeled_data(tmp_path / "u.jsonl")
    session = session_over(fitted, data)
    current = session.current
    data.unlink()
    with pytest.raises(DataError, match="no such file"):
        session.accept(["finance"])
    assert session.current == current
    assert session.history == ()


def test_unknown_labels_are_refused_before_writing(fitted: FittedProject, tmp_path: Path) -> None:
    data = unlabeled_data(tmp_path / "u.jsonl")
    before = data.read_bytes()
    session = session_over(fitted, data)
    with pytest.raises(DataError, match="unknown label 'gossip'"):
        session.accept(["gossip"])
    assert data.read_bytes() == before


def test_the_label_file_must_match_the_model(fitted: FittedProject, tmp_path: Path) -> None:
    other = tmp_path / "labels.toml"
    other.write_text('[[label]]\nname = "finance"\ndescription = "Money."\n', encoding="utf-8")
    with pytest.raises(ModelError, match="missing from the file: competition, lawsuits"):
        open_session([unlabeled_data(tmp_path / "u.jsonl")], load_tagger(str(fitted.model)), other)


def test_more_labels_than_digit_keys_is_an_error(tmp_path: Path) -> None:
    names = tuple(f"topic_{n}" for n in range(10))
    with pytest.raises(DataError, match="at most 9"):
        check_label_set(LabelSet(tuple(Label(n, "d") for n in names)), names, tmp_path / "labels.toml")


def test_nothing_to_label(fitted: FittedProject, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "done.jsonl", [LABELED])
    with pytest.raises(DataError, match="nothing to label"):
        session_over(fitted, data)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("nothing", 'no unlabeled records ("labels": null)'),
        ("mismatch", "does not match the model's labels"),
        ("no model", "no model found; run `train fit` first"),
        ("no terminal", "train label is an interactive screen: run it in a terminal"),
    ],
)
def test_cli_errors_are_one_line(fitted: FittedProject, tmp_path: Path, case: str, message: str) -> None:
    data = (
        write_jsonl(tmp_path / "done.jsonl", [LABELED]) if case == "nothing" else unlabeled_data(tmp_path / "u.jsonl")
    )
    labels = tmp_path / "labels.toml"
    labels.write_text('[[label]]\nname = "finance"\ndescription = "Money."\n', encoding="utf-8")
    model = tmp_path / "absent.npz" if case == "no model" else fitted.model
    args = ["label", "--data", str(data), "--model", str(model)]
    args += ["--labels", str(labels if case == "mismatch" else LABELS_FILE)]
    before = data.read_bytes()
    result = runner.invoke(app, args)  # CliRunner's stdin is no terminal: the screen never starts
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert data.read_bytes() == before
