"""`train fit` end to end on the real data, and every way its input can be bad."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT, FittedProject, write_jsonl
from train.cli import app
from train.modelfile import load

runner = CliRunner()


def test_fit_beats_baseline_on_real_data(fitted: FittedProject) -> None:
    _, meta = load(fitted.model)
    metrics = meta["cv_metrics"]
    assert metrics["macro_f1"] > metrics["baseline_macro_f1"] + 0.3
    assert metrics["grouped_macro_f1"] > metrics["baseline_macro_f1"]
    assert {"authored_to_seed_macro_f1", "seed_to_authored_macro_f1"} <= set(metrics)
    assert len(meta["thresholds"]) == 5
    assert meta["n_train"] > 1000
    assert meta["mlflow_run_id"] in fitted.output
    assert Path(meta["data_files"][0]["path"]).name == "paragraphs.jsonl"
    assert "macro F1" in fitted.output and "baseline" in fitted.output


def _fit(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(
        app,
        ["fit", "--model", str(tmp_path / "m.joblib"), "--tracking-uri", f"sqlite:///{tmp_path / 'db.sqlite'}", *args],
    )
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("rows_text", "message"),
    [
        ('{"id": "a:1", "text": "x", "labels": [\n', "bad.jsonl:1: invalid JSON"),
        ('{"id": "a:1", "text": "x", "labels": ["gossip"]}\n', "bad.jsonl:1: record 'a:1': unknown label 'gossip'"),
        (
            '{"id": "a:1", "text": "x", "labels": []}\n{"id": "a:1", "text": "y", "labels": []}\n',
            "bad.jsonl:2: duplicate id",
        ),
        ("", "bad.jsonl:1: file holds no records"),
    ],
)
def test_bad_data_fails_cleanly_and_keeps_old_model(tmp_path: Path, rows_text: str, message: str) -> None:
    model = tmp_path / "m.joblib"
    model.write_bytes(b"previous model")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(rows_text, encoding="utf-8")
    code, output = _fit(tmp_path, "--data", str(bad))
    assert code == 1
    assert message in output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1
    assert model.read_bytes() == b"previous model"


def test_missing_data_file(tmp_path: Path) -> None:
    code, output = _fit(tmp_path, "--data", str(tmp_path / "absent.jsonl"))
    assert code == 1
    assert "absent.jsonl: no such file" in output


def test_too_few_examples_for_folds(tmp_path: Path, tiny_rows) -> None:  # type: ignore[no-untyped-def]
    data = write_jsonl(tmp_path / "tiny.jsonl", tiny_rows)
    code, output = _fit(tmp_path, "--data", str(data), "--folds", "5")
    assert code == 1
    assert "label 'talent_exodus' has 3 labeled examples, fewer than --folds 5" in output


def test_unreachable_tracking_server_fails_before_training(tmp_path: Path, tiny_rows) -> None:  # type: ignore[no-untyped-def]
    data = write_jsonl(tmp_path / "tiny.jsonl", tiny_rows)
    result = runner.invoke(
        app,
        ["fit", "--data", str(data), "--folds", "2", "--model", str(tmp_path / "m.joblib"),
         "--tracking-uri", "http://127.0.0.1:9"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "cannot use MLflow tracking store http://127.0.0.1:9" in result.output
    assert not (tmp_path / "m.joblib").exists()


def test_config_file_sets_options_and_cli_wins(tmp_path: Path, tiny_rows) -> None:  # type: ignore[no-untyped-def]
    data = write_jsonl(tmp_path / "tiny.jsonl", tiny_rows)
    config = tmp_path / "config.json"
    config.write_text('{"analyzer": "char", "C": 2.0, "folds": 2, "repeats": 1, "min_df": 1}', encoding="utf-8")
    code, output = _fit(tmp_path, "--data", str(data), "--config", str(config), "--C", "3")
    assert code == 0, output
    meta = load(tmp_path / "m.joblib")[1]
    assert meta["config"]["analyzer"] == "char"
    assert meta["config"]["C"] == 3.0
    assert "skipped 1 unlabeled records" in output


def test_unknown_config_key(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"learning_rate": 1}', encoding="utf-8")
    code, output = _fit(tmp_path, "--data", str(ROOT / "data" / "paragraphs.jsonl"), "--config", str(config))
    assert code == 1
    assert "unknown config keys: ['learning_rate']" in output


def test_second_fit_tells_and_tags_what_changed(tmp_path: Path, tiny_rows) -> None:  # type: ignore[no-untyped-def]
    from mlflow.tracking import MlflowClient

    data = write_jsonl(tmp_path / "tiny.jsonl", tiny_rows)
    args = ("--data", str(data), "--folds", "2", "--repeats", "1", "--min-df", "1", "--no-learning-curve")
    code, first = _fit(tmp_path, *args)
    assert code == 0, first
    assert "data: first run of experiment topic-tagger" in first
    relabeled = [{**row, "labels": ["finance"]} if row["id"] == "t:16" else row for row in tiny_rows]
    write_jsonl(data, relabeled)
    code, second = _fit(tmp_path, *args)
    assert code == 0, second

    client = MlflowClient(f"sqlite:///{tmp_path / 'db.sqlite'}")
    experiment = client.get_experiment_by_name("topic-tagger")
    latest, previous = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])
    assert f"data: since run {previous.info.run_id[:8]} ({previous.info.run_name}, " in second
    assert "1 relabeled; finance +1" in second
    assert latest.info.run_id in second.split("compare the two runs:")[1]
    tags = latest.data.tags
    assert tags["diff.previous_run"] == previous.info.run_id
    assert (tags["diff.added"], tags["diff.removed"], tags["diff.relabeled"]) == ("0", "0", "1")
    assert tags["diff.label.finance"] == "+1" and tags["diff.label.lawsuits"] == "0"
    assert previous.data.tags["diff.previous_run"] == "none"
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
