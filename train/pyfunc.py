"""The model as an MLflow pyfunc: raw text in, labels and scores out.

One definition serves every MLflow consumer: `mlflow.pyfunc.load_model`, the REST
server of `mlflow models serve` (`train serve`) and `mlflow.pyfunc.spark_udf`
(`train predict --engine spark`). It is logged models-from-code, with the `train`
package as its code path, and it predicts with the plain-data model: loading it
unpickles nothing. The fitted scikit-learn pipeline is logged beside it (`pipeline`)
for Python users who want it.
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

from train.data import article_of
from train.errors import TrackingError
from train.modelfile import ModelFiles, load
from train.scorer import Scorer

MODEL_NAME = "model"
TEXT_COLUMN = "text"
ARTICLE_COLUMN = "article"


class TopicTaggerPyfunc(PythonModel):
    """Texts in (a list, a Series, a DataFrame with a `text` column or with one column); a `labels` list
    and one score per label out."""

    def load_context(self, context: PythonModelContext) -> None:
        self.model, self.metadata = load(Path(context.artifacts["model"]))

    # MLflow reads this hint: with pd.DataFrame it neither validates nor converts the input, so a list,
    # a Series or a dict reaches `texts_of` as the caller passed it (the logged signature has no inputs).
    def predict(
        self, context: PythonModelContext, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return tag_frame(self.model, texts_of(model_input), articles_of(model_input))


def tag_frame(model: Scorer, texts: Sequence[str], articles: Sequence[str | None] | None = None) -> pd.DataFrame:
    """One row per text: its `labels` list, then one score column per label."""
    if len(texts) == 0:  # an empty batch is a valid request with an empty answer
        return pd.DataFrame(columns=["labels", *model.labels])
    scores = model.scores(texts, articles)
    frame = pd.DataFrame(scores, columns=list(model.labels))
    labels = [[lab for lab, on in zip(model.labels, row, strict=True) if on] for row in model.decide(scores)]
    frame.insert(0, "labels", labels)
    return frame


def texts_of(model_input: Any) -> list[str]:
    """The texts to tag from any shape a Python caller or the REST server passes.

    A DataFrame gives its `text` column, or its only column; a dict (REST `{"inputs": {"text": [...]}}`)
    its `text` entry; a list, tuple, array or Series its items; a string itself. A row without
    text is the caller's error (HTTP 400), not the model's.
    """
    if isinstance(model_input, pd.DataFrame):
        columns = list(model_input.columns)
        if TEXT_COLUMN not in columns and len(columns) != 1:
            raise _bad_input(f"expected a '{TEXT_COLUMN}' column or a single column, got {columns}")
        values = list(model_input[TEXT_COLUMN if TEXT_COLUMN in columns else columns[0]])
    elif isinstance(model_input, dict):
        if TEXT_COLUMN not in model_input and len(model_input) != 1:
            raise _bad_input(f"expected a '{TEXT_COLUMN}' input, got {sorted(model_input)}")
        values = _as_list(model_input.get(TEXT_COLUMN, next(iter(model_input.values()), None)))
    else:
        values = _as_list(model_input)
    for row, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise _bad_input(f"row {row}: expected non-empty text in column '{TEXT_COLUMN}', got {value!r}")
    return [str(value) for value in values]


def articles_of(model_input: Any) -> list[str | None] | None:
    """Each row's article, as `train predict` reads a JSONL batch: its `article`, else the part of
    its `id` before the last colon; None (every row alone) for input with neither column."""
    if isinstance(model_input, dict):  # REST `{"inputs": {"text": [...], "article": [...]}}`
        wanted = (ARTICLE_COLUMN, "id", "source")
        model_input = pd.DataFrame({k: _as_list(v) for k, v in model_input.items() if k in wanted})
    if not isinstance(model_input, pd.DataFrame) or not {ARTICLE_COLUMN, "id"} & set(model_input.columns):
        return None

    def column(name: str, default: Any = None) -> list[Any]:
        values = model_input[name] if name in model_input.columns else [default] * len(model_input)
        return [None if pd.isna(value) else value for value in values]

    return [
        str(article) if article else article_of(None if rid is None else str(rid), str(source))
        for article, rid, source in zip(column(ARTICLE_COLUMN), column("id"), column("source", "seed"), strict=True)
    ]


def _as_list(values: Any) -> list[Any]:
    if isinstance(values, str):
        return [values]
    if isinstance(values, np.ndarray):
        return list(values.ravel()) if values.ndim else [values.item()]
    if isinstance(values, pd.Series | list | tuple):
        return list(values)
    return [values]


def _bad_input(message: str) -> MlflowException:
    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


def spark_result_type(labels: Sequence[str]) -> str:
    """The pyfunc's output as a Spark DDL struct, for `spark_udf(result_type=...)`."""
    return ", ".join(["labels array<string>", *(f"{label} double" for label in labels)])


def _model_arguments(model: Scorer, model_path: Path, example_texts: Sequence[str]) -> dict[str, Any]:
    """What `log_model` and `save_model` share: code, artifacts, requirements, signature and example."""
    from mlflow.models import ModelSignature, infer_signature

    import train

    package = Path(train.__file__).parent
    files = ModelFiles.of(model_path)
    example = pd.DataFrame({TEXT_COLUMN: list(example_texts)})
    artifacts = {"model": str(files.plain), "metadata": str(files.sidecar)}
    if files.pipeline.exists():
        artifacts["pipeline"] = str(files.pipeline)
    # Outputs only: an input schema would make MLflow refuse a plain list or Series before `texts_of` sees it.
    outputs = infer_signature(example, tag_frame(model, example[TEXT_COLUMN])).outputs
    return {
        "python_model": str(package / "mlflow_model.py"),  # models-from-code: nothing pickled
        "artifacts": artifacts,
        "code_paths": [str(package)],
        "pip_requirements": _requirements(),
        "signature": ModelSignature(inputs=None, outputs=outputs),
        "input_example": example,
    }


def log_model(model: Scorer, model_path: Path, example_texts: Sequence[str], user_dict: Path | None = None) -> str:
    """Log the saved model (`model`, as written to `model_path`) to the active run; returns its URI.

    The user dictionary is already inside the plain model (and the pickled tokenizer); the
    copy logged beside it is for people, so a run shows which words the segmenter was given.
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

    packages = ["jieba", "rjieba", "opencc", "numpy", "pandas", "mlflow"]  # what scoring needs; no scikit-learn
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


def load_model(uri: str, tracking_uri: str) -> tuple[Scorer, dict[str, Any]]:
    """The plain-data model and its metadata behind a `runs:/` or `models:/` URI."""
    mlflow.set_tracking_uri(tracking_uri)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "add type hints to predict": deliberate
            loaded = mlflow.pyfunc.load_model(uri)
    except Exception as exc:
        raise TrackingError(f"cannot load MLflow model {uri}: {str(exc).splitlines()[0]}") from None
    wrapper = loaded.unwrap_python_model()
    return wrapper.model, wrapper.metadata
