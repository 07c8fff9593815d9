"""The pyfunc model: input checks, the output frame, and a model file wrapped as an MLflow model."""

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from tests.conftest import LABELS, FittedProject
from train.errors import ModelError, TrackingError
from train.modelfile import load
from train.pyfunc import check_model_uri, model_uri, spark_result_type, tag_frame, texts_of


def test_texts_come_from_any_shape_a_python_user_or_the_server_passes() -> None:
    expected = ["融资", "诉讼"]
    assert texts_of(pd.DataFrame({"id": ["a", "b"], "text": expected})) == expected
    assert texts_of(pd.DataFrame({"body": expected})) == expected  # a one-column frame
    assert texts_of(expected) == expected
    assert texts_of(tuple(expected)) == expected
    assert texts_of(pd.Series(expected)) == expected
    assert texts_of(np.array(expected)) == expected
    assert texts_of({"text": np.array(expected)}) == expected  # REST {"inputs": {"text": [...]}}
    assert texts_of("融资") == ["融资"]


@pytest.mark.parametrize(
    ("texts", "message"),
    [(["ok", None], "row 1: expected non-empty text in column 'text'"), (["  "], "row 0"), ([3], "got 3")],
)
def test_rows_without_text_are_a_client_error(texts: list[object], message: str) -> None:
    with pytest.raises(MlflowException, match=message) as raised:
        texts_of(pd.DataFrame({"text": texts}))
    assert raised.value.get_http_status_code() == 400


def test_a_frame_of_several_columns_without_text_is_a_client_error() -> None:
    with pytest.raises(MlflowException, match=r"expected a 'text' column or a single column, got \['id', 'body'\]"):
        texts_of(pd.DataFrame({"id": ["a"], "body": ["融资"]}))
    with pytest.raises(MlflowException, match="expected a 'text' input"):
        texts_of({"id": ["a"], "body": ["融资"]})


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
        names = {p.name for p in Path(uri, "artifacts").iterdir()}
        assert names == {f"{fitted.model.stem}{suffix}" for suffix in (".npz", ".json", ".joblib")}
        loaded = mlflow.pyfunc.load_model(uri)
        expected = tag_frame(load(fitted.model)[0], texts)
        for shape in (texts, pd.Series(texts), pd.DataFrame({"text": texts}), pd.DataFrame({"body": texts})):
            pd.testing.assert_frame_equal(loaded.predict(shape), expected)
    assert not Path(uri).exists()


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
