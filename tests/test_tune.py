"""`train tune` against a real MLflow store: parent run, child runs, best config round trip."""

import json
from pathlib import Path

from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from tests.conftest import write_jsonl
from train.cli import app
from train.config import FitConfig
from train.modelfile import load
from train.tune import SEARCH_SPACE, candidates

runner = CliRunner()


def test_candidates_are_seeded_distinct_and_valid() -> None:
    first = candidates(SEARCH_SPACE, 12, seed=1)
    assert first == candidates(SEARCH_SPACE, 12, seed=1)
    assert len({json.dumps(c, sort_keys=True) for c in first}) == 12
    assert all(c["char_ngram_min"] <= c["char_ngram_max"] for c in first)
    assert len(candidates({"C": [1.0, 2.0], "min_df": [1, 2]}, None, seed=0)) == 4


def test_tune_logs_parent_and_children_and_best_config_round_trips(tmp_path: Path, tiny_rows) -> None:  # type: ignore[no-untyped-def]
    data = write_jsonl(tmp_path / "tiny.jsonl", [*tiny_rows, *[{**r, "id": f"b:{i}"} for i, r in enumerate(tiny_rows)]])
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"C": [0.5, 10.0], "analyzer": ["word", "char"], "min_df": [1]}), encoding="utf-8")
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"folds": 2, "repeats": 1, "min_df": 1}), encoding="utf-8")
    best = tmp_path / "best.json"
    uri = f"sqlite:///{tmp_path / 'db.sqlite'}"
    result = runner.invoke(
        app,
        ["tune", "--data", str(data), "--space", str(space), "--n-iter", "3", "--config", str(base),
         "--score", "macro_f1", "--out", str(best), "--tracking-uri", uri, "--experiment", "tune-test"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("tune-test")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    (parent,) = parents
    assert len(children) == 4  # the default settings plus three trials
    assert all(c.data.tags["mlflow.parentRunId"] == parent.info.run_id for c in children)
    assert all(c.info.status == "FINISHED" for c in runs)
    assert all({"C", "analyzer", "min_df"} <= set(c.data.params) and "macro_f1" in c.data.metrics for c in children)
    trials = sorted((c for c in children if c.info.run_name != "default"), key=lambda c: c.info.start_time)
    best_child = max(trials, key=lambda c: c.data.metrics["macro_f1"])  # ties: the earliest trial wins
    assert parent.data.metrics["best_macro_f1"] == best_child.data.metrics["macro_f1"]
    assert parent.data.params["best_C"] == best_child.data.params["C"]
    assert [a.path for a in client.list_artifacts(parent.info.run_id, "report")] == ["report/search.png"]

    chosen = FitConfig.from_file(best)
    assert str(chosen.C) == best_child.data.params["C"] and chosen.analyzer == best_child.data.params["analyzer"]
    fitted = runner.invoke(
        app,
        ["fit", "--data", str(data), "--config", str(best), "--model", str(tmp_path / "m.joblib"),
         "--tracking-uri", uri, "--no-learning-curve"],
    )  # fmt: skip
    assert fitted.exit_code == 0, fitted.output
    assert load(tmp_path / "m.joblib")[1]["config"] == chosen.to_params()


def test_bad_space_file(tmp_path: Path) -> None:
    space = tmp_path / "space.json"
    space.write_text('{"learning_rate": [1]}', encoding="utf-8")
    result = runner.invoke(app, ["tune", "--space", str(space), "--tracking-uri", f"sqlite:///{tmp_path / 'db'}"])
    assert result.exit_code == 1
    assert "unknown settings ['learning_rate']" in result.output
