"""`train predict --engine spark` on a real local Spark (pyspark from PyPI, Java 17)."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.conftest import LABELS, ROOT, TRAIN, FittedProject
from train.data import load_dataset


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few thousand real paragraphs, simplified and traditional, in a shuffled order."""
    records = load_dataset([ROOT / "data" / "paragraphs.jsonl", ROOT / "data" / "authored"], LABELS).records
    held_out = load_dataset([ROOT / "data" / "eval" / "heldout.jsonl"], LABELS).records
    rows = [{"id": r.id, "text": r.text, "source": r.id.split(":")[0]} for r in [*records, *held_out]]
    random.Random(42).shuffle(rows)
    path = tmp_path_factory.mktemp("spark") / "paragraphs.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def _spark(model: Path, source: Path, output: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRAIN, "predict", "--engine", "spark", "--model", str(model), "--file", str(source),
         "--output", str(output), "--spark-master", "local[2]", *extra],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _local(model: Path, source: Path) -> dict[str, dict[str, Any]]:
    result = subprocess.run(
        [TRAIN, "predict", "--model", str(model), "--file", str(source), "--format", "jsonl"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {row["id"]: row for row in map(json.loads, result.stdout.splitlines())}


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one `error:` line; Spark's own start-up banner may precede it on stderr."""
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    return line


def test_spark_output_equals_train_predict(fitted: FittedProject, corpus: Path, tmp_path: Path) -> None:
    output = tmp_path / "tagged.parquet"
    result = _spark(fitted.model, corpus, output)
    assert result.returncode == 0, result.stderr
    expected = _local(fitted.model, corpus)
    assert len(expected) > 2000
    assert f"tagged {len(expected):,} rows on Spark local[2]" in result.stdout

    tagged = pd.read_parquet(output)
    assert list(tagged.columns) == ["id", "source", "text", "labels", "scores"]
    assert sorted(tagged["id"]) == sorted(expected)  # every row once; Spark's order is its own
    for row in tagged.itertuples():
        want = expected[row.id]
        assert row.text == want["text"]
        assert list(row.labels) == want["labels"], row.id
        assert {label: round(row.scores[label], 4) for label in LABELS} == want["scores"], row.id
    assert tagged["labels"].map(len).sum() > 1000  # the comparison covers many assigned labels


def test_parquet_input_keeps_every_input_column(fitted: FittedProject, tmp_path: Path) -> None:
    source = tmp_path / "archive.parquet"
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "text": ["马斯克起诉OpenAI违背非营利使命", "軟銀領投新一輪融資", "今天天气不错"],
            "labels": [["lawsuits"], ["finance"], []],  # a user's own gold labels must survive
            "published": pd.to_datetime(["2024-03-01", "2024-10-02", "2025-01-01"]),
        }
    )
    frame.to_parquet(source)
    result = _spark(fitted.model, source, tmp_path / "out.parquet")
    assert result.returncode == 0, result.stderr
    tagged = pd.read_parquet(tmp_path / "out.parquet").sort_values("id").reset_index(drop=True)
    assert list(tagged.columns) == ["id", "text", "input_labels", "published", "labels", "scores"]
    assert [list(x) for x in tagged["input_labels"]] == [["lawsuits"], ["finance"], []]
    assert (tagged["published"] == frame["published"]).all()
    assert "lawsuits" in tagged["labels"][0]


def test_rows_without_text_fail_before_scoring(fitted: FittedProject, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "1", "text": "融资"}\n{"id": "2", "text": "  "}\n{"id": "3"}\n', encoding="utf-8")
    output = tmp_path / "out.parquet"
    result = _spark(fitted.model, source, output)
    assert result.returncode == 1
    assert _error_line(result) == f"error: {source}: 2 rows have no text (first: id '2')"
    assert not output.exists()
    assert not list(tmp_path.glob(".out.parquet.partial-*"))


def test_malformed_jsonl_is_a_one_line_error(fitted: FittedProject, tmp_path: Path) -> None:
    source = tmp_path / "cut.jsonl"
    source.write_text('{"id": "1", "text": "融资"}\n{"id": "2", "text": "诉', encoding="utf-8")  # cut mid-record
    result = _spark(fitted.model, source, tmp_path / "out.parquet")
    assert result.returncode == 1
    assert _error_line(result).startswith(f"error: {source}: Spark job failed: [MALFORMED_RECORD_IN_PARSING")
    assert "Exception" not in result.stderr  # no JVM traceback around it
    assert not (tmp_path / "out.parquet").exists()


def test_input_without_text_column_is_a_one_line_error(fitted: FittedProject, tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    pd.DataFrame({"body": ["融资"]}).to_parquet(source)
    result = _spark(fitted.model, source, tmp_path / "out.parquet")
    assert result.returncode == 1
    assert _error_line(result) == f"error: {source}: no 'text' column (columns: body)"


def test_existing_output_is_never_overwritten(fitted: FittedProject, corpus: Path, tmp_path: Path) -> None:
    output = tmp_path / "out.parquet"
    output.mkdir()
    (output / "keep.txt").write_text("earlier results")
    result = _spark(fitted.model, corpus, output)
    assert result.returncode == 1
    assert _error_line(result) == f"error: {output}: already exists; choose a new --output (nothing is overwritten)"
    assert (output / "keep.txt").read_text() == "earlier results"


def test_missing_pyspark_says_how_to_install(fitted: FittedProject, corpus: Path, tmp_path: Path) -> None:
    # A real interpreter where `import pyspark` fails, as in an install without the extra.
    blocker = tmp_path / "blocker" / "pyspark"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('No module named pyspark')\n")
    env = {**os.environ, "PYTHONPATH": str(blocker.parent)}
    result = subprocess.run(
        [TRAIN, "predict", "--engine", "spark", "--model", str(fitted.model), "--file", str(corpus),
         "--output", str(tmp_path / "out.parquet")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: --engine spark needs pyspark, which is not installed: "
        "pip install 'topic-tagger[spark]'; Spark also needs Java 17 or newer"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine", "spark", "马斯克"], "--engine spark tags a file"),
        (["--engine", "spark", "--file", "x.jsonl"], "--engine spark tags a file"),
        (["--output", "out.parquet", "马斯克"], "--output and --spark-master go with --engine spark"),
    ],
)
def test_option_mistakes_are_one_line_errors(fitted: FittedProject, args: list[str], message: str) -> None:
    result = subprocess.run(
        [TRAIN, "predict", "--model", str(fitted.model), *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {message}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_spark_submit_runs_the_same_command_on_its_master(fitted: FittedProject, corpus: Path, tmp_path: Path) -> None:
    """As on a cluster: spark-submit chooses the master, `train/__main__.py` is the application."""
    import train

    source = tmp_path / "few.jsonl"
    source.write_text("".join(corpus.read_text(encoding="utf-8").splitlines(keepends=True)[:40]), encoding="utf-8")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [str(bin_dir / "spark-submit"), "--master", "local[1]", str(Path(train.__file__).parent / "__main__.py"),
         "predict", "--engine", "spark", "--model", str(fitted.model), "--file", str(source),
         "--output", str(tmp_path / "out.parquet")],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "tagged 40 rows on Spark local[1]" in result.stdout
    tagged = pd.read_parquet(tmp_path / "out.parquet")
    expected = _local(fitted.model, source)
    assert {row.id: list(row.labels) for row in tagged.itertuples()} == {k: v["labels"] for k, v in expected.items()}


def test_spark_applies_article_context_as_train_predict_does(
    fitted: FittedProject, context_model: Path, tmp_path: Path
) -> None:
    """Articles by id (data/articles), by an `article` column, and lone rows, shuffled across partitions."""
    records = load_dataset([ROOT / "data" / "articles"], LABELS).records[:300]
    rows: list[dict[str, Any]] = [{"id": r.id, "text": r.text, "source": r.source} for r in records]
    rows += [{"id": f"x{i}", "text": r.text, "article": "x"} for i, r in enumerate(records[:12])]
    rows += [{"id": f"lone-{i}", "text": r.text} for i, r in enumerate(records[:5])]
    source = tmp_path / "articles.jsonl"
    source.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    expected = _local(context_model, source)  # `train predict` reads an article's consecutive rows together
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)  # Spark pools an article's rows wherever they are
    source.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in shuffled), encoding="utf-8")
    output = tmp_path / "tagged.parquet"
    result = _spark(context_model, source, output)
    assert result.returncode == 0, result.stderr
    tagged = pd.read_parquet(output)
    assert sorted(tagged["id"]) == sorted(expected)
    for row in tagged.itertuples():
        assert list(row.labels) == expected[row.id]["labels"], row.id
        assert {label: round(row.scores[label], 4) for label in LABELS} == expected[row.id]["scores"], row.id
    alone = _local(fitted.model, source)  # the same weights without context
    assert sum(alone[i]["scores"] != expected[i]["scores"] for i in expected) > len(records) // 2
    assert all(alone[f"lone-{i}"]["scores"] == expected[f"lone-{i}"]["scores"] for i in range(5))
