"""What a fit leaves in a real MLflow store, read back through MLflow's own client."""

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from tests.conftest import LABELS, FittedProject, ServerFit, write_jsonl
from train.cli import app
from train.modelfile import load
from train.pyfunc import tag_frame
from train.tracking import artifact_root, resolve_tracking_uri, sqlite_path


@pytest.fixture(scope="module")
def client(fitted: FittedProject) -> MlflowClient:
    return MlflowClient(tracking_uri=fitted.tracking_uri)


def _run(fitted: FittedProject, client: MlflowClient):  # type: ignore[no-untyped-def]
    return client.get_run(load(fitted.model)[1]["mlflow_run_id"])


def test_run_has_params_metrics_tags_and_dataset(fitted: FittedProject, client: MlflowClient) -> None:
    run = _run(fitted, client)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "test-fit"
    assert {"analyzer", "C", "min_df", "sublinear_tf", "classifier", "folds", "seed"} <= set(run.data.params)
    for name in ("macro_f1", "micro_f1", "baseline_macro_f1", "grouped_macro_f1", *(f"f1_{lab}" for lab in LABELS)):
        assert 0.0 <= run.data.metrics[name] <= 1.0
    assert run.data.tags["data_sha256"] == load(fitted.model)[1]["data_sha256"]
    assert "git_commit" in run.data.tags
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "topic-paragraphs"
    assert dataset_input.dataset.digest


def test_run_has_report_artifacts(fitted: FittedProject, client: MlflowClient) -> None:
    run = _run(fitted, client)
    names = {a.path for a in client.list_artifacts(run.info.run_id, "report")}
    assert {
        "report/classification_report.txt",
        "report/confusion_matrices.png",
        "report/top_terms.json",
        "report/oof_mistakes.json",
        "report/learning_curve.png",
    } <= names
    report = Path(client.download_artifacts(run.info.run_id, "report/classification_report.txt")).read_text()
    assert "macro avg" in report


def test_artifacts_live_beside_the_sqlite_store(fitted: FittedProject) -> None:
    assert list((fitted.root / "mlruns").rglob("confusion_matrices.png"))


def test_logged_model_predicts_raw_text(fitted: FittedProject) -> None:
    mlflow.set_tracking_uri(fitted.tracking_uri)
    run_id = load(fitted.model)[1]["mlflow_run_id"]
    logged = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    out = logged.predict(pd.DataFrame({"text": ["马斯克起诉OpenAI违背非营利使命", "点击关注我们"]}))
    assert list(out.columns) == ["labels", *LABELS]
    assert "lawsuits" in out["labels"][0]
    assert list(out["labels"][1]) == []


def test_two_fits_compare_side_by_side(fitted: FittedProject, tmp_path: Path, tiny_rows) -> None:  # type: ignore[no-untyped-def]
    data = write_jsonl(tmp_path / "tiny.jsonl", tiny_rows)
    for analyzer in ("word", "char"):
        result = CliRunner().invoke(
            app,
            ["fit", "--data", str(data), "--folds", "2", "--repeats", "1", "--min-df", "1", "--analyzer", analyzer,
             "--model", str(tmp_path / "m.joblib"), "--tracking-uri", fitted.tracking_uri, "--experiment", "compare"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    runs = mlflow.search_runs(experiment_names=["compare"], output_format="list")
    assert sorted(r.data.params["analyzer"] for r in runs) == ["char", "word"]
    assert all("macro_f1" in r.data.metrics for r in runs)


def test_tracking_uri_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5555")
    assert resolve_tracking_uri() == "http://127.0.0.1:5555"
    assert resolve_tracking_uri("sqlite:///x.db") == "sqlite:///x.db"


# --- a real tracking server ---------------------------------------------------------


def test_fit_logs_run_metrics_and_model_to_a_tracking_server(server_fit: ServerFit) -> None:
    client = MlflowClient(tracking_uri=server_fit.tracking_uri)
    run = client.get_run(server_fit.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "server-fit"
    assert 0.5 < run.data.metrics["macro_f1"] <= 1.0
    assert {"grouped_macro_f1", "baseline_macro_f1", *(f"f1_{lab}" for lab in LABELS)} <= set(run.data.metrics)
    (logged,) = client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'"
    )
    artifacts = {a.path for a in client.list_logged_model_artifacts(logged.model_id)}
    assert {"MLmodel", "artifacts", "code"} <= artifacts
    carried = {Path(a.path).name for a in client.list_logged_model_artifacts(logged.model_id, "artifacts")}
    assert carried == {"topic_classifier.npz", "topic_classifier.joblib", "topic_classifier.json", "userdict.txt"}
    (version,) = client.search_model_versions("name = 'topic-tagger'")
    assert version.run_id == run.info.run_id


def test_model_loads_from_the_tracking_server_and_predicts_as_the_file(server_fit: ServerFit) -> None:
    texts = ["法院受理了作家对人工智能公司的版权诉讼", "該公司宣布完成新一輪融資，估值翻倍", "今天天气不错"]
    expected = tag_frame(load(server_fit.model)[0], texts)
    mlflow.set_tracking_uri(server_fit.tracking_uri)
    for uri in (f"runs:/{server_fit.run_id}/model", "models:/topic-tagger/1"):
        served = mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"text": texts}))
        pd.testing.assert_frame_equal(served, expected)


@pytest.mark.parametrize(
    ("uri", "database"),
    [
        ("sqlite:////srv/ml/mlflow.db", "/srv/ml/mlflow.db"),
        ("sqlite:///file:/srv/ml/mlflow.db?mode=ro&uri=true", "/srv/ml/mlflow.db"),
        ("sqlite:///:memory:", None),
        ("http://127.0.0.1:5000", None),
    ],
)
def test_artifacts_of_a_sqlite_store_go_beside_its_database(uri: str, database: str | None) -> None:
    found = sqlite_path(uri)
    assert found == (Path(database) if database else None)
    root = artifact_root(uri)
    assert root == (None if database is None else Path(database).parent.joinpath("mlruns").as_uri())
