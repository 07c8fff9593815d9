"""`train predict --engine spark`: tag a JSONL or Parquet input on Spark with `mlflow.pyfunc.spark_udf`.

The same pyfunc model that `train serve` serves runs inside Spark's Python workers, so a
laptop (`local[*]`) and a cluster (`--spark-master`, or spark-submit's configuration) give
the labels and scores `train predict` gives.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from train import pyfunc
from train.errors import DataError, TrainError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from train.scorer import Scorer

INSTALL_HINT = "pip install 'topic-tagger[spark]'; Spark also needs Java 17 or newer"
PREDICTED = ("labels", "scores")


@dataclass(frozen=True)
class SparkJob:
    model: str
    input: str
    output: str
    master: str | None
    tracking_uri: str


@dataclass(frozen=True)
class SparkResult:
    rows: int
    output: str
    master: str
    seconds: float


def score(job: SparkJob) -> SparkResult:
    """Read the input, tag every row's `text`, write Parquet: input columns, `labels`, `scores`."""
    started = time.perf_counter()
    _require_pyspark()
    reader = _reader_for(job.input)
    _refuse_existing(job.output)
    with pyfunc.model_uri(job.model) as uri, warnings.catch_warnings():
        # pyspark warns that pandas 3 is new to it; the tests compare every score with `train predict`.
        warnings.simplefilter("ignore", FutureWarning)
        pyfunc.check_model_uri(uri, job.tracking_uri)
        model, _ = pyfunc.load_model(uri, job.tracking_uri)
        spark = session(job.master)
        try:
            frame = _validated(getattr(spark.read.options(mode="FAILFAST"), reader)(job.input), job.input)
            tagged = tag(spark, frame, uri, model)
            _write_parquet(tagged, job.output)
            rows = spark.read.parquet(job.output).count()
            master = str(spark.sparkContext.master)
        except TrainError:
            raise
        except Exception as exc:  # Spark wraps every failure in a JVM traceback; _reason finds the cause in it
            raise TrainError(f"{job.input}: Spark job failed: {_reason(exc)}") from None
        finally:
            spark.stop()
    return SparkResult(rows=rows, output=job.output, master=master, seconds=time.perf_counter() - started)


def session(master: str | None) -> SparkSession:
    """A Spark session on `master`, else on spark-submit's or spark-defaults.conf's, else local[*]."""
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    # Start (or, under spark-submit, join) the JVM first: only then does SparkConf see the
    # master that spark-submit, spark-defaults.conf or the launcher's local[*] default chose.
    SparkContext._ensure_initialized()
    conf = SparkConf().setAppName("topic-tagger")
    if master:
        conf.setMaster(master)
    if conf.get("spark.master", "local[*]").startswith("local"):
        # Local workers must run this interpreter (the one with the project installed), not `python3` on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = SparkSession.builder.config(conf=conf).getOrCreate()
    spark.sparkContext.setLogLevel("FATAL")  # a failed task's JVM traceback would bury our one-line error
    return spark


def tag(spark: SparkSession, frame: DataFrame, model_uri: str, model: Scorer) -> DataFrame:
    """The input with `labels` (array of names) and `scores` (a struct, one field per label) appended.

    Input columns that clash with those names are kept as `input_labels` / `input_scores`.
    Each row is scored alone by the pyfunc; `model`'s article context, if on, is then applied
    over each article's rows wherever they are in the frame (a window, not a batch).
    """
    import mlflow
    from pyspark.sql import functions as F

    logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)  # "use env_manager=conda": local is deliberate
    predict = mlflow.pyfunc.spark_udf(
        spark, model_uri, result_type=pyfunc.spark_result_type(model.labels), env_manager="local"
    )
    for name in PREDICTED:
        if name in frame.columns:
            frame = frame.withColumnRenamed(name, f"input_{name}")
    result = "_topic_tagger_result"
    tagged = frame.withColumn(result, predict(F.struct(F.col(pyfunc.TEXT_COLUMN))))
    inputs = [F.col(f"`{c}`") for c in frame.columns]
    if model.context.weight == 0.0:
        return tagged.select(
            *inputs,
            F.col(f"{result}.labels").alias("labels"),
            F.struct(*(F.col(f"{result}.{label}").alias(label) for label in model.labels)).alias("scores"),
        )
    return tagged.select(*inputs, *_in_context(frame.columns, result, model))


def _in_context(columns: list[str], result: str, model: Scorer) -> list[Column]:
    """`labels` and `scores` with each row blended with its article (`train.context`), as `Scorer.in_context`."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    article = _article_column(columns)
    within = Window.partitionBy(article)
    pool = F.avg if model.context.form == "mean" else F.max
    weight = model.context.weight
    scores = {}
    for label in model.labels:
        alone = F.col(f"{result}.{label}")
        blended = (1.0 - weight) * alone + weight * pool(alone).over(within)
        scores[label] = F.when(article.isNull(), alone).otherwise(blended)
    chosen = F.array(
        *(
            F.when(scores[label] >= float(t), F.lit(label))
            for label, t in zip(model.labels, model.thresholds, strict=True)
        )
    )
    return [
        F.filter(chosen, lambda name: name.isNotNull()).alias("labels"),
        F.struct(*(score.alias(label) for label, score in scores.items())).alias("scores"),
    ]


def _article_column(columns: list[str]) -> Column:
    """Each row's article as `train predict` reads it (`train.data.article_of`): its `article`, else
    the part of its `id` before the last colon (none for authored rows or ids without a colon)."""
    from pyspark.sql import functions as F

    none = F.lit(None).cast("string")
    from_id = none
    if "id" in columns:
        prefix = F.regexp_extract(F.col("id").cast("string"), r"^(.*):", 1)
        authored = F.col("source") == "authored" if "source" in columns else F.lit(False)
        from_id = F.when((prefix == "") | authored, none).otherwise(prefix)
    if pyfunc.ARTICLE_COLUMN not in columns:
        return from_id
    given = F.col(pyfunc.ARTICLE_COLUMN).cast("string")
    return F.when(given.isNull() | (given == ""), from_id).otherwise(given)


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise TrainError(f"--engine spark needs pyspark, which is not installed: {INSTALL_HINT}") from None
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise TrainError(f"--engine spark needs Java, which was not found on PATH or in JAVA_HOME: {INSTALL_HINT}")


def _reader_for(location: str) -> str:
    """Spark's reader for the input: JSON Lines by suffix; Parquet by suffix, or a folder of parts."""
    if _is_local(location):
        path = Path(location)
        if not path.exists():
            raise DataError(f"{location}: no such file or directory")
        if path.is_dir():
            return "parquet"
    suffix = Path(location.rstrip("/")).suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "json"
    if suffix == ".parquet" or (not suffix and not _is_local(location)):
        return "parquet"
    raise DataError(f"{location}: --engine spark reads .jsonl or .parquet input (or a folder of Parquet parts)")


def _refuse_existing(location: str) -> None:
    if _is_local(location) and Path(location).exists():
        raise DataError(f"{location}: already exists; choose a new --output (nothing is overwritten)")


def _validated(frame: DataFrame, location: str) -> DataFrame:
    """Every row needs non-empty text; found out before any scoring, not in a failed task."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    text = pyfunc.TEXT_COLUMN
    if text not in frame.columns:
        raise DataError(f"{location}: no '{text}' column (columns: {', '.join(frame.columns) or 'none'})")
    if not isinstance(frame.schema[text].dataType, StringType):
        raise DataError(f"{location}: column '{text}' is {frame.schema[text].dataType.simpleString()}, not text")
    blank = frame.filter(F.col(text).isNull() | (F.trim(F.col(text)) == ""))
    missing = blank.count()
    if missing:
        first = blank.first()
        where = f" (first: id {first['id']!r})" if first is not None and "id" in frame.columns else ""
        raise DataError(f"{location}: {missing} rows have no text{where}")
    return frame


def _write_parquet(frame: DataFrame, location: str) -> None:
    """Write beside the target and rename into place, so a failed job leaves no half-written output."""
    if not _is_local(location):
        frame.write.parquet(location)
        return
    target = Path(location)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        frame.write.parquet(str(partial))
        partial.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _is_local(location: str) -> bool:
    return "://" not in location


def _reason(exc: BaseException) -> str:
    """Spark's own error class and message (`[MALFORMED_RECORD_IN_PARSING…] Malformed records…`), found
    inside the JVM traceback py4j wraps around it; else the exception's first line."""
    text = str(exc).strip()
    found = re.search(r"\[[A-Z][A-Z0-9_.]+\][^\n]*", text)
    if found:
        return found[0].strip()
    return text.splitlines()[0] if text else type(exc).__name__
