"""`train predict` in every input and output form, on the model fitted from the real data."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import LABELS, ROOT, FittedProject
from train.cli import app
from train.modelfile import load
from train.predict import Paragraph, load_tagger, tag, tag_parallel

runner = CliRunner()
ARTICLE = ROOT / "data" / "examples" / "article.txt"


def _predict(fitted: FittedProject, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["predict", "--model", str(fitted.model), *args], input=stdin)
    return result.exit_code, result.output


def test_texts_as_arguments_json(fitted: FittedProject) -> None:
    code, out = _predict(
        fitted, "Anthropic完成新一轮融资，估值升至六百亿美元", "点赞关注，下期再见", "--format", "json"
    )
    assert code == 0, out
    payload = json.loads(out)
    first, second = payload["paragraphs"]
    assert first["id"] == "1" and "finance" in first["labels"]
    assert second["labels"] == []
    assert set(first["scores"]) == set(LABELS)
    assert all(0.0 <= s <= 1.0 for s in first["scores"].values())
    assert payload["summary"] is None


def test_traditional_text_is_tagged_like_simplified(fitted: FittedProject) -> None:
    model = load_tagger(str(fitted.model))
    simplified, traditional = tag(
        model, [Paragraph("s", "作家起诉公司侵犯版权"), Paragraph("t", "作家起訴公司侵犯版權")]
    )
    assert simplified.scores == traditional.scores


def test_article_file_gets_paragraph_tags_and_summary(fitted: FittedProject) -> None:
    code, out = _predict(fitted, "--file", str(ARTICLE), "--format", "json")
    assert code == 0, out
    payload = json.loads(out)
    lines = [line for line in ARTICLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert [p["text"] for p in payload["paragraphs"]] == lines
    assert payload["paragraphs"][0]["id"] == "article:1"
    summary = payload["summary"]
    assert summary["paragraphs"] == len(lines)
    assert {"finance", "talent_exodus", "lawsuits"} <= set(summary["labels"])
    assert summary["share"]["finance"] == pytest.approx(
        sum("finance" in p["labels"] for p in payload["paragraphs"]) / len(lines)
    )


def test_jsonl_batch_passes_ids_through_as_jsonl(fitted: FittedProject, tmp_path: Path) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_text(
        '{"id": "x-1", "text": "法院驳回了作家的诉讼"}\n\n{"text": "英伟达发布新一代芯片"}\n', encoding="utf-8"
    )
    code, out = _predict(fitted, "--file", str(batch), "--format", "jsonl")
    assert code == 0, out
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == ["x-1", "batch.jsonl:3"]
    assert "lawsuits" in rows[0]["labels"]


def test_csv_output(fitted: FittedProject) -> None:
    code, out = _predict(fitted, "OpenAI总裁布罗克曼宣布长期休假", "--format", "csv")
    assert code == 0, out
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["id"] == "1"
    assert "talent_exodus" in row["labels"].split(";")
    assert 0.0 <= float(row["finance"]) <= 1.0


def test_stdin_article_and_table(fitted: FittedProject) -> None:
    code, out = _predict(fitted, "-", "--format", "table", stdin="马斯克起诉OpenAI\n\n点击关注我们\n")
    assert code == 0, out
    assert "stdin:1" in out and "stdin:3" in out
    assert "—" in out  # the boilerplate line gets no label
    assert "article: 2 paragraphs" in out


def test_mlflow_uri_gives_the_same_scores(fitted: FittedProject, monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = load(fitted.model)[1]["mlflow_run_id"]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", fitted.tracking_uri)
    text = "微软向OpenAI追加投资"
    local = json.loads(_predict(fitted, text, "--format", "json")[1])
    result = runner.invoke(app, ["predict", "--model", f"runs:/{run_id}/model", text, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["paragraphs"] == local["paragraphs"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["   "], "error: text 1 is empty: nothing to tag"),
        ([], "error: give either texts to tag or --file"),
        (["--file", "/nonexistent/a.txt"], "error: /nonexistent/a.txt: cannot read"),
    ],
)
def test_bad_predict_input(fitted: FittedProject, args: list[str], message: str) -> None:
    code, out = _predict(fitted, *args)
    assert code == 1
    assert out.strip() == message or out.startswith(message)


def test_bad_input_files_name_file_and_line(fitted: FittedProject, tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("第一段\n".encode() + "caf\xe9\n".encode("latin-1"))
    code, out = _predict(fitted, "--file", str(latin1), "--format", "json")
    assert code == 1 and f"{latin1}:2: not UTF-8" in out
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "好"}\n{"text": \n', encoding="utf-8")
    code, out = _predict(fitted, "--file", str(broken), "--format", "json")
    assert code == 1 and f"{broken}:2: invalid JSON" in out


def test_missing_model_says_run_fit(tmp_path: Path) -> None:
    result = runner.invoke(app, ["predict", "--model", str(tmp_path / "none.joblib"), "文本"])
    assert result.exit_code == 1
    assert "run `train fit` first" in result.output


def test_console_script_runs_without_importing_mlflow(fitted: FittedProject) -> None:
    script = Path(sys.executable).parent / "train"
    text = "OpenAI完成新一轮66亿美元融资，估值达到1570亿美元"
    out = subprocess.run(
        [str(script), "predict", "--model", str(fitted.model), "--format", "jsonl", text],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "finance" in json.loads(out.stdout)["labels"]
    probe = (
        "import sys; from typer.testing import CliRunner; from train.cli import app; "
        f"r = CliRunner().invoke(app, ['predict', '--model', {str(fitted.model)!r}, '文本']); "
        "assert r.exit_code == 0, r.output; print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('mlflow', 'matplotlib')))"  # sklearn itself imports pandas when installed
    )
    modules = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert modules.strip() == "[]"


def test_parallel_tagging_equals_serial_in_input_order(fitted: FittedProject) -> None:
    model = load_tagger(str(fitted.model))
    texts = [line for line in ARTICLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    paragraphs = [Paragraph(f"p{i}", f"{texts[i % len(texts)]}（第{i}段）") for i in range(1300)]  # 3 batches
    serial = list(tag(model, paragraphs))
    parallel = list(tag_parallel(model, iter(paragraphs), jobs=2))
    assert [t.id for t in parallel] == [p.id for p in paragraphs]
    assert parallel == serial


def test_streamed_output_equals_in_memory_output(fitted: FittedProject, tmp_path: Path) -> None:
    batch = tmp_path / "batch.jsonl"
    lines = [
        json.dumps({"id": f"r{i}", "text": f"第{i}条：马斯克起诉OpenAI，估值再创新高"}, ensure_ascii=False)
        for i in range(700)
    ]
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, streamed = _predict(fitted, "--file", str(batch), "--format", "jsonl", "--jobs", "2")
    assert code == 0, streamed
    code, in_memory = _predict(fitted, "--file", str(batch), "--format", "json")
    assert code == 0, in_memory
    assert [json.loads(line) for line in streamed.splitlines()] == json.loads(in_memory)["paragraphs"]
