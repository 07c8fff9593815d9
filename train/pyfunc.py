"""The model as an MLflow pyfunc: raw text in, labels and scores out.

One definition serves every MLflow consumer: `mlflow.pyfunc.load_model`, the REST
server of `mlflow models serve` (`train serve`) and `mlflow.pyfunc.spark_udf`
(`train predict --engine spark`). It is logged models-from-code, with the `train`
package as its code path, so nothing but the scikit-learn model itself is pickled.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc.model import PythonModel, PythonModelContext

from train.errors import TrackingError
from train.model import TopicModel, load, sidecar_path

MODEL_NAME = "model"
TEXT_COLUMN = "text"


class TopicTaggerPyfunc(PythonModel):
    """A DataFrame with a `text` column in; a `labels` list and one score per label out."""

    def load_context(self, context: PythonModelContext) -> None:
        self.model, self.metadata = load(Path(context.artifacts["model"]))

    # A DataFrame hint: MLflow validates against the logged signature instead of the hint.
    def predict(
        self, context: PythonModelContext, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return tag_frame(self.model, texts_of(model_input))


def tag_frame(model: TopicModel, texts: Sequence[str]) -> pd.DataFrame:
    """One row per text: its `labels` list, then one score column per label."""
    if len(texts) == 0:  # an empty batch is a valid request with an empty answer
        return pd.DataFrame(columns=["labels", *model.labels])
    scores = model.scores(texts)
    frame = pd.DataFrame(scores, columns=list(model.labels))
    labels = [[lab for lab, on in zip(model.labels, row, strict=True) if on] for row in model.decide(scores)]
    frame.insert(0, "labels", labels)
    return frame


def texts_of(model_input: Any) -> list[str]:
    """The texts to tag; a row without text is the caller's error (HTTP 400), not the model's."""
    if isinstance(model_input, pd.DataFrame):
        if TEXT_COLUMN not in model_input.columns:
            raise MlflowException(
                f"expected a '{TEXT_COLUMN}' column, got {list(model_input.columns)}",
                error_code=INVALID_PARAMETER_VALUE,
            )
        values = list(model_input[TEXT_COLUMN])
    elif isinstance(model_input, pd.Series | np.ndarray | list | tuple):
        values = list(model_input)
    else:
        values = [model_input]
    for row, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise MlflowException(
                f"row {row}: expected non-empty text in column '{TEXT_COLUMN}', got {value!r}",
                error_code=INVALID_PARAMETER_VALUE,
            )
    return values


def spark_result_type(labels: Sequence[str]) -> str:
    """The pyfunc's output as a Spark DDL struct, for `spark_udf(result_type=...)`."""
    return ", ".join(["labels array<string>", *(f"{label} double" for label in labels)])


def _model_arguments(model: TopicModel, model_path: Path, example_texts: Sequence[str]) -> dict[str, Any]:
    """What `log_model` and `save_model` share: code, artifacts, requirements, signature and example."""
    from mlflow.models import infer_signature

    import train

    package = Path(train.__file__).parent
    example = pd.DataFrame({TEXT_COLUMN: list(example_texts)})
    artifacts = {"model": str(model_path), "metadata": str(sidecar_path(model_path))}
    return {
        "python_model": str(package / "mlflow_model.py"),  # models-from-code: nothing pickled
        "artifacts": artifacts,
        "code_paths": [str(package)],
        "pip_requirements": _requirements(),
        "signature": infer_signature(example, tag_frame(model, example[TEXT_COLUMN])),
        "input_example": example,
    }


def log_model(model: TopicModel, model_path: Path, example_texts: Sequence[str], user_dict: Path | None = None) -> str:
    """Log the saved model (`model`, as written to `model_path`) to the active run; returns its URI.

    The user dictionary is already inside the pickled tokenizer; the copy logged beside it
    is for people, so a run shows which words the segmenter was given.
    """
    arguments = _model_arguments(model, model_path, example_texts)
    if user_dict is not None:
        arguments["artifacts"]["user_dict"] = str(user_dict)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # type-hint signature inference: we pass one
        info = mlflow.pyfunc.log_model(name=MODEL_NAME, **arguments)
    return str(info.model_uri)


def _requirements() -> list[str]:
    from importlib.metadata import version

    packages = ["scikit-learn", "jieba", "rjieba", "joblib", "opencc", "numpy", "pandas", "mlflow"]
    return [f"{name}=={version(name)}" for name in packages]


@contextmanager
def model_uri(ref: str) -> Iterator[str]:
    """An MLflow model URI for `ref`: a `runs:/` or `models:/` URI as is, or a model file
    wrapped as an MLflow model in a temporary folder that lives as long as the context."""
    from train.predict import is_mlflow_uri

    if is_mlflow_uri(ref) or Path(ref, "MLmodel").is_file():
        yield ref
        return
    path = Path(ref)
    model = load(path)[0]  # checked here, so a file the server would refuse fails now, in one line
    examples = ["马斯克起诉OpenAI，指其背离非营利使命"]
    with tempfile.TemporaryDirectory(prefix="topic-tagger-model-") as tmp:
        target = Path(tmp) / MODEL_NAME
        logging.getLogger("mlflow.pyfunc").setLevel(logging.WARNING)  # "validating input example…"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            mlflow.pyfunc.save_model(str(target), **_model_arguments(model, path, examples))
        yield str(target)


def check_model_uri(uri: str, tracking_uri: str) -> None:
    """Fail in one line, before any server or Spark job starts, if the URI names no model."""
    from mlflow.models import get_model_info

    mlflow.set_tracking_uri(tracking_uri)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            get_model_info(uri)
    except Exception as exc:  # mlflow raises many types for a missing run, version or alias
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrackingError(f"cannot find MLflow model {uri}: {message}") from None


def load_model(uri: str, tracking_uri: str) -> tuple[TopicModel, dict[str, Any]]:
    """The TopicModel and its metadata behind a `runs:/` or `models:/` URI."""
    mlflow.set_tracking_uri(tracking_uri)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "add type hints to predict": deliberate
            loaded = mlflow.pyfunc.load_model(uri)
    except Exception as exc:
        raise TrackingError(f"cannot load MLflow model {uri}: {str(exc).splitlines()[0]}") from None
    wrapper = loaded.unwrap_python_model()
    return wrapper.model, wrapper.metadata
