"""The `train` command line: parse options, call one function, render the result."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, Optional

import typer

from train import __version__
from train.config import (
    ADDED_DIR,
    EVAL_DIR,
    EXPERIMENT,
    MODEL_PATH,
    SEED_DATA,
    SEEDS_DIR,
    USER_DICT,
    FitConfig,
    default_data,
)
from train.errors import TrainError
from train.labels import LABELS_PATH

app = typer.Typer(help="Tag Chinese AI-industry news paragraphs with topics.", no_args_is_help=True)
data_app = typer.Typer(help="Build, check and summarise the labeled data.", no_args_is_help=True)
app.add_typer(data_app, name="data")

# typer needs Optional[...] at runtime on Python 3.11 (ruff UP045 would rewrite it).
# ruff: noqa: UP045


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


class Engine(StrEnum):
    local = "local"
    spark = "spark"


class ReportFormat(StrEnum):
    table = "table"
    json = "json"


class Analyzer(StrEnum):
    word = "word"
    char = "char"
    both = "both"


class Tokenizer(StrEnum):
    rjieba = "rjieba"
    jieba = "jieba"
    jieba_nohmm = "jieba-nohmm"


class Classifier(StrEnum):
    logreg = "logreg"
    svm = "svm"
    nb = "nb"
    sgd = "sgd"


class ExportFormat(StrEnum):
    label_studio = "label-studio"


@contextmanager
def user_errors() -> Iterator[None]:
    """A TrainError becomes one line on stderr and exit code 1, never a traceback."""
    try:
        yield
    except TrainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None
    except Exception as exc:
        if os.environ.get("TRAIN_DEBUG"):
            raise
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        typer.echo(f"error: unexpected {type(exc).__name__}: {reason} (TRAIN_DEBUG=1 shows the traceback)", err=True)
        raise typer.Exit(2) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"topic-tagger {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = None,
) -> None:
    """Tag Chinese AI-industry news paragraphs with topics."""


# Options shared by several commands.
DataOption = Annotated[
    Optional[list[Path]],
    typer.Option("--data", "-d", help="Labeled JSONL file or directory; repeat for several [default: data/…]."),
]
ModelRef = Annotated[str, typer.Option("--model", "-m", help="Model file, or an MLflow URI (runs:/…, models:/…).")]
TrackingUri = Annotated[
    Optional[str],
    typer.Option(help="MLflow tracking URI [default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db]."),
]
Experiment = Annotated[str, typer.Option(help="MLflow experiment.")]
UserDict = Annotated[Path, typer.Option(help="jieba user dictionary.")]
Jobs = Annotated[int, typer.Option("--jobs", "-j", help="Processes for CV folds.")]
LabelsFile = Annotated[Path, typer.Option("--labels", help="The label set: one [[label]] table per topic.")]


# --- data ---------------------------------------------------------------------------

DataFiles = Annotated[
    Optional[list[Path]],
    typer.Argument(
        help="Labeled JSONL files or directories of them "
        "[default: data/paragraphs.jsonl data/authored data/articles data/added]"
    ),
]


@data_app.command("build")
def data_build(
    seeds: Annotated[Path, typer.Option(help="Folder of .txt articles.")] = SEEDS_DIR,
    out: Annotated[Path, typer.Option(help="Labeled file to (re)create.")] = SEED_DATA,
    labels_file: LabelsFile = LABELS_PATH,
) -> None:
    """Recreate paragraph records from every .txt in seeds/, keeping labels by id."""
    from train.data import build, write_build
    from train.labels import load_labels

    with user_errors():
        labels = load_labels(labels_file).names
        report = build(seeds, out, labels)
        orphans = write_build(report, out, labels)
    typer.echo(f"{out}: {len(report.records)} records ({report.kept} kept, {len(report.added)} new and unlabeled)")
    for rid in report.changed:
        typer.echo(f"  {rid}: seed text changed; old labels moved to the orphan file, relabel this record")
    if orphans:
        typer.echo(f"  {len(report.orphans)} labeled records no longer match a seed line: kept in {orphans}")


@data_app.command("check")
def data_check(
    files: DataFiles = None,
    seeds: Annotated[Path, typer.Option(help="Seed articles that authored text must not copy from.")] = SEEDS_DIR,
    labels_file: LabelsFile = LABELS_PATH,
    folds: Annotated[
        Optional[int],
        typer.Option(help="Flag labels with fewer examples than these CV folds [default: fit's folds, when no FILES]."),
    ] = None,
) -> None:
    """Validate the label set and labeled files; print each problem as file:line: message; exit 1 on any.

    Also flags labels with too few examples for the folds, authored records that copy 15+
    characters from a seed or another record, and warns about near-duplicate records.
    """
    from train.data import label_problems, near_duplicates, scan, seed_paragraphs, shared_runs
    from train.labels import load_labels

    with user_errors():
        label_set = load_labels(labels_file)
        records, problems = scan(files or default_data(), label_set.names)
        if folds is None and not files:
            folds = FitConfig().folds  # checking what `fit` will read, as it will read it
        if folds:
            problems += label_problems(records, label_set, labels_file, folds)
        seed_lines = seed_paragraphs(seeds) if seeds.is_dir() else []
    for problem in problems:
        typer.echo(str(problem))
    copies = shared_runs(records, seed_lines)
    for rid, other, piece in copies:
        typer.echo(f"{rid}: shares {piece!r} with {other} (write it in our own words)")
    for a, b, similarity in near_duplicates(records):
        typer.echo(f"warning: near-duplicate records {a} and {b} (similarity {similarity:.2f})")
    typer.echo(f"{len(records)} records, {len(problems) + len(copies)} problems")
    if problems or copies:
        raise typer.Exit(1)


@data_app.command("stats")
def data_stats(files: DataFiles = None, labels_file: LabelsFile = LABELS_PATH) -> None:
    """Paragraphs per label, by source and script, unlabeled count and label co-occurrence."""
    from train import render
    from train.data import load_dataset, stats
    from train.labels import load_labels

    with user_errors():
        labels = load_labels(labels_file).names
        summary = stats(load_dataset(files or default_data(), labels).records, labels)
    render.stats_tables(summary)


@data_app.command("add")
def data_add(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE", help="Articles: .txt, .md, .html/.htm, or .jsonl of {id, text}.")
    ],
    out: Annotated[Path, typer.Option(help="Folder of added articles, one JSONL file per article.")] = ADDED_DIR,
) -> None:
    """Add articles as unlabeled paragraphs, skipping those already in the data (see train/ingest.py)."""
    from train.ingest import add_articles

    with user_errors():
        done = add_articles(files, out, [*default_data(), EVAL_DIR])
    paragraphs = f"{done.added} paragraph{'s' * (done.added != 1)}"
    inputs = f"{done.inputs} file{'s' * (done.inputs != 1)}"
    skipped = f"{done.duplicates} duplicate{'s' * (done.duplicates != 1)} skipped"
    typer.echo(f"added {paragraphs} from {inputs} ({skipped}) to {out}/")


@data_app.command("export")
def data_export(
    data: DataOption = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Tasks file to write; the labeling config goes beside it.")
    ] = Path("tasks.json"),
    export_format: Annotated[ExportFormat, typer.Option("--format", help="Export format.")] = ExportFormat.label_studio,
    include_all: Annotated[bool, typer.Option("--all", help="Every record, not only the unlabeled ones.")] = False,
    model: ModelRef = str(MODEL_PATH),
    predictions: Annotated[bool, typer.Option(help="Pre-annotate each task with the model's labels.")] = True,
    labels_file: LabelsFile = LABELS_PATH,
    tracking_uri: TrackingUri = None,
) -> None:
    """Label Studio tasks for the unlabeled records, the model's labels as predictions, and their labeling config."""
    from train.labels import load_labels
    from train.labelstudio import export_label_studio

    with user_errors():
        written = export_label_studio(
            data or default_data(),
            output,
            load_labels(labels_file),
            model if predictions else None,
            include_labeled=include_all,
            tracking_uri=tracking_uri,
        )
    predicted = f", predictions by {written.model_version}" if written.model_version else ""
    typer.echo(f"{written.tasks_path}: {written.tasks} tasks{predicted} (import them into the project)")
    typer.echo(f"{written.config_path}: labeling config (paste into Settings → Labeling Interface → Code)")


@data_app.command("import")
def data_import(
    file: Annotated[Path, typer.Argument(help="A Label Studio export of those tasks: JSON or JSON-MIN.")],
    data: DataOption = None,
    skip_conflicts: Annotated[
        bool, typer.Option(help="Import the rest when annotators disagree on a task, leaving it unlabeled.")
    ] = False,
    labels_file: LabelsFile = LABELS_PATH,
) -> None:
    """Set labels from a Label Studio export: each annotator's latest annotation; disagreements stop it."""
    from train.labels import load_labels
    from train.labelstudio import import_label_studio

    with user_errors():
        done = import_label_studio(
            file, data or default_data(), load_labels(labels_file), skip_conflicts=skip_conflicts
        )
    for conflict in done.conflicts:
        typer.echo(f"conflict: {conflict}", err=True)
    unannotated = f", {done.unannotated} not annotated" if done.unannotated else ""
    typer.echo(
        f"{done.labeled} records labeled, {done.unchanged} unchanged, {len(done.conflicts)} conflicts{unannotated}"
    )


# --- fit and tune -------------------------------------------------------------------


@app.command()
def fit(
    data: DataOption = None,
    config_file: Annotated[
        Optional[Path], typer.Option("--config", help="JSON file of settings; options given explicitly win.")
    ] = None,
    analyzer: Annotated[Optional[Analyzer], typer.Option(help="Jieba words, character n-grams, or both.")] = None,
    tokenizer: Annotated[
        Optional[Tokenizer], typer.Option(help="Word segmenter: rjieba (default, fast), jieba, jieba without HMM.")
    ] = None,
    word_ngram_max: Annotated[Optional[int], typer.Option(help="Longest word n-gram.")] = None,
    char_ngram_min: Annotated[Optional[int], typer.Option(help="Shortest character n-gram.")] = None,
    char_ngram_max: Annotated[Optional[int], typer.Option(help="Longest character n-gram.")] = None,
    min_df: Annotated[Optional[int], typer.Option(help="Ignore terms in fewer paragraphs.")] = None,
    sublinear_tf: Annotated[Optional[bool], typer.Option(help="Use 1 + log(tf).")] = None,
    classifier: Annotated[Optional[Classifier], typer.Option(help="Linear classifier per label.")] = None,
    c: Annotated[Optional[float], typer.Option("--C", help="Inverse regularisation strength.")] = None,
    folds: Annotated[Optional[int], typer.Option(help="Cross-validation folds.")] = None,
    repeats: Annotated[Optional[int], typer.Option(help="Repeats of stratified CV.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed for splits and models.")] = None,
    model: Annotated[Path, typer.Option("--model", "-m", help="Where to write the model.")] = MODEL_PATH,
    user_dict: UserDict = USER_DICT,
    experiment: Experiment = EXPERIMENT,
    run_name: Annotated[Optional[str], typer.Option(help="MLflow run name.")] = None,
    tracking_uri: TrackingUri = None,
    register: Annotated[bool, typer.Option(help="Register the model in the MLflow registry as topic-tagger.")] = False,
    curve: Annotated[bool, typer.Option("--learning-curve/--no-learning-curve", help="Log a learning curve.")] = True,
    labels_file: LabelsFile = LABELS_PATH,
    jobs: Jobs = 2,
) -> None:
    """Cross-validate, train on all labeled data, save the model and log the run to MLflow."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from train import render
    from train.fit import FitRequest, run_fit
    from train.tracking import compare_url, resolve_tracking_uri, run_url

    with user_errors():
        base = FitConfig.from_file(config_file) if config_file else FitConfig()
        overrides: dict[str, Any] = {
            "analyzer": analyzer,
            "tokenizer": tokenizer,
            "word_ngram_max": word_ngram_max,
            "char_ngram_min": char_ngram_min,
            "char_ngram_max": char_ngram_max,
            "min_df": min_df,
            "sublinear_tf": sublinear_tf,
            "classifier": classifier,
            "C": c,
            "folds": folds,
            "repeats": repeats,
            "seed": seed,
        }
        chosen: dict[str, Any] = {
            key: str(value) if isinstance(value, StrEnum) else value
            for key, value in overrides.items()
            if value is not None
        }
        config = replace(base, **chosen)
        request = FitRequest(
            data=data or default_data(),
            labels_file=labels_file,
            model_path=model,
            config=config,
            user_dict=user_dict if user_dict.exists() else None,
            tracking_uri=resolve_tracking_uri(tracking_uri),
            experiment=experiment,
            run_name=run_name,
            n_jobs=jobs,
            register=register,
            learning_curve=curve,
        )
        with _progress() as progress:
            result = run_fit(request, progress)
    render.fit_summary(result, request, run_url(request.tracking_uri, result.experiment_id, result.run_id))
    if result.changes is not None:
        typer.echo(f"data: {result.changes.describe(datetime.now(UTC))}")
        if result.changes.since is not None:
            runs = [result.changes.since.run_id, result.run_id]
            typer.echo(f"compare the two runs: {compare_url(request.tracking_uri, result.experiment_id, runs)}")


@app.command()
def tune(
    data: DataOption = None,
    n_iter: Annotated[
        Optional[int], typer.Option("--n-iter", help="Random configurations to try [default: 12]; 0 = the full grid.")
    ] = None,
    space_file: Annotated[
        Optional[Path], typer.Option("--space", help="JSON object of setting → list of values [default: built in].")
    ] = None,
    score: Annotated[str, typer.Option(help="Metric to maximise (grouped CV: unseen sources).")] = "grouped_macro_f1",
    config_file: Annotated[
        Optional[Path], typer.Option("--config", help="Base settings (folds, repeats, seed…).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the best settings.")] = Path("configs/best.json"),
    user_dict: UserDict = USER_DICT,
    experiment: Experiment = EXPERIMENT,
    run_name: Annotated[str, typer.Option(help="Name of the parent MLflow run.")] = "tune",
    tracking_uri: TrackingUri = None,
    labels_file: LabelsFile = LABELS_PATH,
    jobs: Jobs = 2,
) -> None:
    """Search pipeline settings with fit's cross-validation; one MLflow child run per configuration."""
    from train import render
    from train.tracking import resolve_tracking_uri
    from train.tune import SEARCH_SPACE, TuneRequest, load_space, run_tune

    with user_errors():
        request = TuneRequest(
            data=data or default_data(),
            labels_file=labels_file,
            base=FitConfig.from_file(config_file) if config_file else FitConfig(),
            space=load_space(space_file) if space_file else SEARCH_SPACE,
            n_iter=None if n_iter == 0 else (n_iter or 12),
            score=score,
            out=out,
            user_dict=user_dict if user_dict.exists() else None,
            tracking_uri=resolve_tracking_uri(tracking_uri),
            experiment=experiment,
            run_name=run_name,
            n_jobs=jobs,
        )
        with _progress() as progress:
            result = run_tune(request, progress)
    render.tune_summary(result, score, str(out))


@contextmanager
def _progress() -> Iterator[Callable[[str, int], Callable[[], None]]]:
    """Rich progress bars on stderr, one per stage; each step is also where a lost Ctrl-C resurfaces.

    Python drops a KeyboardInterrupt that lands inside a garbage-collector callback or an atexit
    hook ("Exception ignored in …"), so the first Ctrl-C is also remembered, and the next step
    raises it again: a fit or tune is interrupted, never silently finished.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    bars = Progress(*columns, console=Console(stderr=True))
    shown = False
    interrupted = False

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        interrupted = True
        raise KeyboardInterrupt

    def stage(description: str, total: int) -> Callable[[], None]:
        nonlocal shown
        if not shown:  # start drawing only once there is a stage: an early error stays one line
            bars.start()
            shown = True
        task = bars.add_task(description, total=total)

        def step() -> None:
            if interrupted:
                raise KeyboardInterrupt
            bars.advance(task)

        return step

    # Only where Ctrl-C is live: a background job that ignores SIGINT keeps ignoring it.
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler:
        signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield stage
    finally:
        signal.signal(signal.SIGINT, previous)
        if shown:
            bars.stop()


# --- predict, evaluate, explain, suggest ---------------------------------------------


@app.command()
def predict(
    texts: Annotated[
        Optional[list[str]], typer.Argument(help="Paragraphs to tag; `-` reads an article from stdin.")
    ] = None,
    file: Annotated[
        Optional[str],
        typer.Option(
            "--file",
            "-f",
            help="A .txt article (one paragraph per line), a .jsonl of {id, text}; Spark: also .parquet.",
        ),
    ] = None,
    model: ModelRef = str(MODEL_PATH),
    output_format: Annotated[
        Optional[OutputFormat],
        typer.Option("--format", help="Output format [default: table on a terminal, else jsonl]."),
    ] = None,
    explain: Annotated[bool, typer.Option(help="Show the terms behind each label a paragraph gets.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Processes tagging in parallel (order is kept).")] = 1,
    engine: Annotated[
        Engine, typer.Option(help="local: this process (or --jobs). spark: mlflow.pyfunc.spark_udf on Spark.")
    ] = Engine.local,
    output: Annotated[
        Optional[str], typer.Option("--output", "-o", help="Parquet output of --engine spark (a new path).")
    ] = None,
    spark_master: Annotated[
        Optional[str],
        typer.Option(help="Spark master [default: spark-submit's, else local[*]], e.g. spark://host:7077, yarn."),
    ] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Tag paragraphs, an article, or a JSONL batch with topics; or a JSONL/Parquet input on Spark."""
    if engine is Engine.spark:
        _predict_on_spark(texts, file, output, model, spark_master, explain, tracking_uri)
        return
    from train import predict as p
    from train import render

    chosen = output_format or (OutputFormat.table if sys.stdout.isatty() else OutputFormat.jsonl)
    with user_errors():
        if bool(texts) == bool(file):
            raise TrainError("give either texts to tag or --file, not both or neither")
        if output or spark_master:
            raise TrainError("--output and --spark-master go with --engine spark; the local engine writes to stdout")
        tagger = p.load_tagger(model, tracking_uri=tracking_uri)
        paragraphs, article = p.read_input(texts or [], Path(file) if file else None)
        tagged = p.tag_parallel(tagger, paragraphs, jobs, explain=explain)
        if chosen is OutputFormat.jsonl:
            render.stream_jsonl(tagged)
            return
        if chosen is OutputFormat.csv:
            render.stream_csv(tagged, tagger.labels)
            return
        rows = list(tagged)
        if not rows:
            raise TrainError(f"{file or 'input'}: no paragraphs to tag")
    summary = p.summarize(rows, tagger.labels) if article else None
    if chosen is OutputFormat.json:
        typer.echo(render.tagged_json(rows, summary))
    else:
        render.tagged_table(rows, summary)


def _predict_on_spark(
    texts: list[str] | None,
    file: str | None,
    output: str | None,
    model: str,
    master: str | None,
    explain: bool,
    tracking_uri: str | None,
) -> None:
    from train.spark import SparkJob, score
    from train.tracking import resolve_tracking_uri

    with user_errors():
        if texts or file is None or output is None:
            raise TrainError("--engine spark tags a file: give --file INPUT (.jsonl or .parquet) and --output OUTPUT")
        if explain:
            raise TrainError("--explain is not available with --engine spark")
        job = SparkJob(model, file, output, master, resolve_tracking_uri(tracking_uri))
        result = score(job)
    typer.echo(f"tagged {result.rows:,} rows on Spark {result.master} in {result.seconds:.1f} s → {result.output}")


@app.command()
def evaluate(
    data: Annotated[Path, typer.Option("--data", "-d", help="Labeled JSONL the model never trained on.")],
    model: ModelRef = str(MODEL_PATH),
    output_format: Annotated[ReportFormat, typer.Option("--format", help="table or json.")] = ReportFormat.table,
    track: Annotated[bool, typer.Option(help="Log an MLflow evaluation run.")] = True,
    experiment: Experiment = EXPERIMENT,
    tracking_uri: TrackingUri = None,
) -> None:
    """Score a saved model on a held-out labeled file: per-label P/R/F1, micro/macro F1, subset accuracy."""
    from train import render
    from train.predict import evaluate_file

    with user_errors():
        result = evaluate_file(model, data, tracking_uri=tracking_uri)
        if track:
            from train import tracking

            uri = tracking.resolve_tracking_uri(tracking_uri)
            experiment_id = tracking.connect(uri, experiment)
            tags = {
                "training_run_id": result.training_run_id,
                "eval_data": str(data),
                "eval_data_sha256": result.data_sha256,
            }
            report_text = render.metrics_json(result.metrics)
            run_id = tracking.log_evaluation(
                experiment_id, f"evaluate-{data.stem}", result.metrics.flat("eval_"), tags, report_text
            )
    if output_format is ReportFormat.json:
        typer.echo(render.metrics_json(result.metrics))
        return
    render.evaluation_table(result.metrics, f"{model} on {data} ({result.n} paragraphs)")
    if track:
        typer.echo(f"MLflow evaluation run {run_id} (training run {result.training_run_id or 'unknown'})")


@app.command()
def explain(
    model: ModelRef = str(MODEL_PATH),
    n: Annotated[int, typer.Option("--n", help="Terms per side.")] = 15,
    output_format: Annotated[ReportFormat, typer.Option("--format", help="table or json.")] = ReportFormat.table,
    tracking_uri: TrackingUri = None,
) -> None:
    """The terms that push each label up or down the most in the saved model."""
    import json

    from train import render
    from train.explain import top_terms
    from train.predict import load_tagger

    with user_errors():
        tagger = load_tagger(model, tracking_uri=tracking_uri)
        terms = top_terms(tagger, n)
    if output_format is ReportFormat.json:
        typer.echo(json.dumps(terms, ensure_ascii=False, indent=2))
    else:
        render.terms_table(terms)


@app.command()
def suggest(
    data: DataOption = None,
    n: Annotated[int, typer.Option("--n", help="How many paragraphs to suggest.")] = 20,
    model: ModelRef = str(MODEL_PATH),
    tracking_uri: TrackingUri = None,
) -> None:
    """Unlabeled paragraphs ranked by how much labeling them would help (the model's uncertainty)."""
    from train import render
    from train.data import load_dataset
    from train.predict import Paragraph, load_tagger, most_uncertain

    with user_errors():
        tagger = load_tagger(model, tracking_uri=tracking_uri)
        unlabeled = [r for r in load_dataset(data or default_data(), tagger.labels).records if r.labels is None]
        if not unlabeled:
            raise TrainError('no unlabeled records ("labels": null) in the data; nothing to suggest')
        suggestions = most_uncertain(tagger, (Paragraph(r.id, r.text, r.article) for r in unlabeled), n)
    render.suggestions_table(suggestions)


@app.command()
def label(
    data: DataOption = None,
    model: ModelRef = str(MODEL_PATH),
    labels_file: LabelsFile = LABELS_PATH,
    tracking_uri: TrackingUri = None,
) -> None:
    """Label unlabeled paragraphs in the terminal, in `suggest`'s order; each decision is saved at once."""
    from train.labeling import open_session
    from train.predict import load_tagger

    with user_errors():
        tagger = load_tagger(model, tracking_uri=tracking_uri)
        session = open_session(data or default_data(), tagger, labels_file)
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise TrainError("train label is an interactive screen: run it in a terminal")
    from train.label_app import LabelApp

    with user_errors():
        LabelApp(session).run()
    progress = session.progress
    typer.echo(f"{progress}; every decision is saved in the data files")
    if progress.skipped:
        typer.echo("skipped paragraphs stay unlabeled and come back next `train label`")


# --- registry and UI ----------------------------------------------------------------


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="Registered version number (see `train models`).")],
    alias: Annotated[str, typer.Option(help="Alias to point at it.")] = "champion",
    tracking_uri: TrackingUri = None,
) -> None:
    """Point models:/topic-tagger@ALIAS (default champion) at a registered version."""
    from train import tracking

    with user_errors():
        tracking.connect_registry(tracking.resolve_tracking_uri(tracking_uri))
        tracking.promote(version, alias)
    typer.echo(f"models:/{tracking.REGISTERED_MODEL}@{alias} → version {version}")


@app.command()
def models(tracking_uri: TrackingUri = None) -> None:
    """Registered versions of topic-tagger with their aliases and metrics."""
    from train import render, tracking

    with user_errors():
        tracking.connect_registry(tracking.resolve_tracking_uri(tracking_uri))
        versions = tracking.list_versions()
    if not versions:
        typer.echo("no registered versions yet: train fit --register")
        return
    render.versions_table(versions)


@app.command()
def serve(
    model: ModelRef = str(MODEL_PATH),
    host: Annotated[
        str, typer.Option(help="Interface to bind; 0.0.0.0 exposes the server to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5001,
    workers: Annotated[int, typer.Option(help="Server worker processes.")] = 1,
    timeout: Annotated[int, typer.Option(help="Seconds allowed per request.")] = 60,
    tracking_uri: TrackingUri = None,
) -> None:
    """Serve the model over REST with MLflow's model server (POST /invocations)."""
    from train.serve import serve as run_server
    from train.tracking import resolve_tracking_uri

    with user_errors():
        code = run_server(
            model,
            host=host,
            port=port,
            workers=workers,
            timeout=timeout,
            tracking_uri=resolve_tracking_uri(tracking_uri),
            announce=lambda line: typer.echo(line, err=True),
        )
    raise typer.Exit(code)


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
    experiment: Experiment = EXPERIMENT,
    tracking_uri: TrackingUri = None,
) -> None:
    """Open the MLflow UI on the same store `train fit` logs to; prints the URL of the experiment's runs."""
    from train import tracking
    from train.ui import run_ui

    uri = tracking.resolve_tracking_uri(tracking_uri)
    with user_errors():
        if uri.startswith("http"):
            experiment_id = tracking.connect(uri, experiment)
            typer.echo(f"tracking server: open {tracking.runs_url(uri, experiment_id)} in a browser")
            return
        code = run_ui(uri, experiment, port, announce=typer.echo)
    raise typer.Exit(code)


if __name__ == "__main__":
    app()
