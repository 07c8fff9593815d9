"""The pyfunc model: input checks, the output frame, and a model file wrapped as an MLflow model."""

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from tests.conftest import FittedProject
from train.config import LABELS
from train.errors import ModelError, TrackingError
from train.model import load
from train.pyfunc import check_model_uri, model_uri, spark_result_type, tag_frame, texts_of


def test_texts_come_from_the_text_column_or_a_plain_list() -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "text": ["融资", "诉讼"]})
    assert texts_of(frame) == ["融资", "诉讼"]
    assert texts_of(["融资", "诉讼"]) == ["融资", "诉讼"]
    assert texts_of(pd.Series(["融资"])) == ["融资"]


@pytest.mark.parametrize(
    ("texts", "message"),
    [(["ok", None], "row 1: expected non-empty text in column 'text'"), (["  "], "row 0"), ([3], "got 3")],
)
def test_rows_without_text_are_a_client_error(texts: list[object], message: str) -> None:
    with pytest.raises(MlflowException, match=message) as raised:
        texts_of(pd.DataFrame({"text": texts}))
    assert raised.value.get_http_status_code() == 400


def test_a_frame_without_a_text_column_is_a_client_error() -> None:
    with pytest.raises(MlflowException, match=r"expected a 'text' column, got \['body'\]"):
        texts_of(pd.DataFrame({"body": ["融资"]}))


def test_tag_frame_has_labels_then_one_score_per_label(fitted: FittedProject) -> None:
    model = load(fitted.model)[0]
    frame = tag_frame(model, ["作家起诉人工智能公司侵犯版权", "点击关注"])
    assert list(frame.columns) == ["labels", *LABELS]
    assert frame["labels"][0] == ["lawsuits"]
    assert frame["labels"][1] == []
    empty = tag_frame(model, [])
    assert list(empty.columns) == ["labels", *LABELS] and len(empty) == 0


def test_spark_result_type_names_every_output_column() -> None:
    assert spark_result_type(["a", "b"]) == "labels array<string>, a double, b double"


def test_model_file_is_wrapped_for_its_context_only(fitted: FittedProject) -> None:
    texts = ["軟銀領投新一輪融資", "马斯克起诉OpenAI"]
    with model_uri(str(fitted.model)) as uri:
        assert Path(uri, "MLmodel").is_file()
        assert {p.name for p in Path(uri, "artifacts").iterdir()} == {fitted.model.name, fitted.model.stem + ".json"}
        served = mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"text": texts}))
    assert not Path(uri).exists()
    pd.testing.assert_frame_equal(served, tag_frame(load(fitted.model)[0], texts))


def test_uris_and_mlflow_model_folders_pass_through(tmp_path: Path) -> None:
    with model_uri("models:/topic-tagger@champion") as uri:
        assert uri == "models:/topic-tagger@champion"
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    with model_uri(str(tmp_path)) as uri:
        assert uri == str(tmp_path)


def test_a_missing_model_fails_before_any_server(tmp_path: Path, fitted: FittedProject) -> None:
    with pytest.raises(ModelError, match="no model found"), model_uri(str(tmp_path / "none.joblib")):
        pass
    with pytest.raises(TrackingError, match="cannot find MLflow model runs:/0123/model"):
        check_model_uri("runs:/0123/model", fitted.tracking_uri)
