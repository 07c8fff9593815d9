"""The `train` command line: parse options, call one function, render the result."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from train import __version__
from train.config import DEFAULT_DATA, EXPERIMENT, LABELS, MODEL_PATH, SEED_DATA, SEEDS_DIR, USER_DICT, FitConfig
from train.errors import TrainError

if TYPE_CHECKING:
    from rich.console import Console

    from train.fit import FitRequest, FitResult
    from train.predict import ArticleSummary, Tagged

app = typer.Typer(help="Tag Chinese AI-industry news paragraphs with topics.", no_args_is_help=True)
data_app = typer.Typer(help="Build, check and summarise the labeled data.", no_args_is_help=True)
app.add_typer(data_app, name="data")


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


class Analyzer(StrEnum):
    word = "word"
    char = "char"
    both = "both"


class Classifier(StrEnum):
    logreg = "logreg"
    svm = "svm"


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


def _version(value: bool) -> None:
    if value:
        typer.echo(f"topic-tagger {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        Optional[bool],  # noqa: UP045 - typer needs Optional at runtime on 3.11
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = None,
) -> None:
    """Tag Chinese AI-industry news paragraphs with topics."""


# --- data ---------------------------------------------------------------------------

DataFiles = Annotated[
    Optional[list[Path]],  # noqa: UP045
    typer.Argument(help="Labeled JSONL files or directories of them [default: data/paragraphs.jsonl data/authored]"),
]


@data_app.command("build")
def data_build(
    seeds: Annotated[Path, typer.Option(help="Folder of .txt articles.")] = SEEDS_DIR,
    out: Annotated[Path, typer.Option(help="Labeled file to (re)create.")] = SEED_DATA,
) -> None:
    """Recreate paragraph records from every .txt in seeds/, keeping labels by id."""
    from train.data import build, write_jsonl

    with user_errors():
        report = build(seeds, out)
        if report.orphans:
            orphan_file = out.with_name(out.stem + ".orphans.jsonl")
            previous = orphan_file.read_text(encoding="utf-8").splitlines() if orphan_file.exists() else []
            rows = [json.loads(line) for line in previous if line.strip()]
            write_jsonl(orphan_file, rows + [r.to_json() for r in report.orphans])
        write_jsonl(out, (r.to_json() for r in report.records))
    typer.echo(f"{out}: {len(report.records)} records ({report.kept} kept, {len(report.added)} new and unlabeled)")
    for rid in report.changed:
        typer.echo(f"  {rid}: seed text changed; old labels moved to the orphan file, relabel this record")
    if report.orphans:
        typer.echo(f"  {len(report.orphans)} labeled records no longer match a seed line: kept in {orphan_file}")


@data_app.command("check")
def data_check(
    files: DataFiles = None,
    seeds: Annotated[Path, typer.Option(help="Seed articles that authored text must not copy from.")] = SEEDS_DIR,
) -> None:
    """Validate labeled files; print each problem as file:line: message; exit 1 on any.

    Also flags authored records that copy 15+ characters from a seed or another record,
    and warns about near-duplicate records.
    """
    from train.data import near_duplicates, scan, seed_paragraphs, shared_runs

    with user_errors():
        records, problems = scan(files or list(DEFAULT_DATA))
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
def data_stats(files: DataFiles = None) -> None:
    """Paragraphs per label, by source and script, unlabeled count and label co-occurrence."""
    from rich.table import Table

    from train.data import load_dataset, stats

    with user_errors():
        s = stats(load_dataset(files or list(DEFAULT_DATA)).records)
    console = _console()
    console.print(
        f"{s.total} paragraphs: {s.total - s.unlabeled} labeled ({s.no_label} with no label, "
        f"{s.multi_label} multi-label), {s.unlabeled} unlabeled"
    )
    sources = sorted(s.label_by_source)
    table = Table("label", "total", *sources, title="Paragraphs per label")
    for label in (*LABELS, "(none)"):
        total = s.per_label.get(label, s.no_label)
        table.add_row(label, str(total), *(str(s.label_by_source[src].get(label, 0)) for src in sources))
    console.print(table)
    pairs = Table(" ", *LABELS, title="Label co-occurrence")
    for a in LABELS:
        cells = [str(s.pairs.get((a, b), s.pairs.get((b, a), ""))) if a != b else "·" for b in LABELS]
        pairs.add_row(a, *cells)
    console.print(pairs)
    console.print("by source: " + ", ".join(f"{k} {v}" for k, v in sorted(s.by_source.items())))
    console.print("by script: " + ", ".join(f"{k} {v}" for k, v in sorted(s.by_script.items())))


# --- fit ----------------------------------------------------------------------------


@app.command()
def fit(
    data: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option("--data", "-d", help="Labeled JSONL file or directory; repeat for several."),
    ] = None,
    config_file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--config", help="JSON file of settings; options given explicitly win."),
    ] = None,
    analyzer: Annotated[Optional[Analyzer], typer.Option(help="Jieba words, character n-grams, or both.")] = None,  # noqa: UP045
    word_ngram_max: Annotated[Optional[int], typer.Option(help="Longest word n-gram.")] = None,  # noqa: UP045
    char_ngram_min: Annotated[Optional[int], typer.Option(help="Shortest character n-gram.")] = None,  # noqa: UP045
    char_ngram_max: Annotated[Optional[int], typer.Option(help="Longest character n-gram.")] = None,  # noqa: UP045
    min_df: Annotated[Optional[int], typer.Option(help="Ignore terms in fewer paragraphs.")] = None,  # noqa: UP045
    sublinear_tf: Annotated[Optional[bool], typer.Option(help="Use 1 + log(tf).")] = None,  # noqa: UP045
    classifier: Annotated[Optional[Classifier], typer.Option(help="Linear classifier per label.")] = None,  # noqa: UP045
    c: Annotated[Optional[float], typer.Option("--C", help="Inverse regularisation strength.")] = None,  # noqa: UP045
    folds: Annotated[Optional[int], typer.Option(help="Cross-validation folds.")] = None,  # noqa: UP045
    repeats: Annotated[Optional[int], typer.Option(help="Repeats of stratified CV.")] = None,  # noqa: UP045
    seed: Annotated[Optional[int], typer.Option(help="Random seed for splits and models.")] = None,  # noqa: UP045
    model: Annotated[Path, typer.Option("--model", "-m", help="Where to write the model.")] = MODEL_PATH,
    user_dict: Annotated[Path, typer.Option(help="jieba user dictionary.")] = USER_DICT,
    experiment: Annotated[str, typer.Option(help="MLflow experiment.")] = EXPERIMENT,
    run_name: Annotated[Optional[str], typer.Option(help="MLflow run name.")] = None,  # noqa: UP045
    tracking_uri: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="MLflow tracking URI [default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db]."),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel CV folds.")] = 2,
) -> None:
    """Cross-validate, train on all labeled data, save the model and log the run to MLflow."""
    from dataclasses import replace

    from train.fit import FitRequest, run_fit
    from train.tracking import resolve_tracking_uri

    with user_errors():
        base = FitConfig.from_file(config_file) if config_file else FitConfig()
        overrides: dict[str, Any] = {
            "analyzer": analyzer.value if analyzer else None,
            "word_ngram_max": word_ngram_max,
            "char_ngram_min": char_ngram_min,
            "char_ngram_max": char_ngram_max,
            "min_df": min_df,
            "sublinear_tf": sublinear_tf,
            "classifier": classifier.value if classifier else None,
            "C": c,
            "folds": folds,
            "repeats": repeats,
            "seed": seed,
        }
        config = replace(base, **{k: v for k, v in overrides.items() if v is not None})
        request = FitRequest(
            data=data or list(DEFAULT_DATA),
            model_path=model,
            config=config,
            user_dict=user_dict if user_dict.exists() else None,
            tracking_uri=resolve_tracking_uri(tracking_uri),
            experiment=experiment,
            run_name=run_name,
            n_jobs=jobs,
        )
        with _progress() as progress:
            result = run_fit(request, progress)
    _render_fit(result, request)


def _console() -> Console:
    """Rich console for results; wide enough for the fit table when piped to a file."""
    from rich.console import Console

    console = Console(soft_wrap=True)
    if not console.is_terminal:
        console = Console(soft_wrap=True, width=140)
    return console


@contextmanager
def _progress() -> Iterator[Callable[[str, int], Callable[[], None]]]:
    """Rich progress bars on stderr, one per stage."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as bars:

        def stage(description: str, total: int) -> Callable[[], None]:
            task = bars.add_task(description, total=total)
            return lambda: bars.advance(task)

        yield stage


def _render_fit(result: FitResult, request: FitRequest) -> None:
    from rich.table import Table

    from train.tracking import run_url

    console = _console()
    cv, baseline = result.cv.mean(), result.baseline.mean()
    columns = {"CV": cv, "baseline": baseline}
    if result.grouped is not None:
        columns["grouped"] = result.grouped
    if result.grouped_seed is not None:
        columns["grouped seed"] = result.grouped_seed
    columns.update(
        {name.replace("_to_", "→").replace("authored", "auth"): m for name, m in result.cross_source.items()}
    )
    table = Table(title=f"Out-of-fold F1 ({result.n_train} paragraphs)")
    table.add_column("label", no_wrap=True)
    for name in ("n", *columns, "thr"):
        table.add_column(name, justify="right", no_wrap=True)
    for label, threshold in zip(LABELS, result.thresholds, strict=True):
        table.add_row(
            label,
            str(cv.per_label[label].support),
            *(f"{m.per_label[label].f1:.3f}" for m in columns.values()),
            f"{threshold:.2f}",
        )
    table.add_row("macro F1", "", *(f"{m.macro_f1:.3f}" for m in columns.values()), "", style="bold")
    table.add_row("micro F1", "", *(f"{m.micro_f1:.3f}" for m in columns.values()), "")
    console.print(table)
    if result.n_unlabeled:
        console.print(f"skipped {result.n_unlabeled} unlabeled records")
    console.print(
        f"stratified CV macro-F1 {result.cv.macro_f1:.3f} ± {result.cv.macro_f1_std:.3f} "
        f"({request.config.folds} folds × {request.config.repeats} repeats) vs baseline {result.baseline.macro_f1:.3f}"
    )
    console.print(f"model: {request.model_path}  ({result.seconds:.0f} s)")
    console.print(f"MLflow run {result.run_id} in experiment {request.experiment}: {result.model_uri}")
    console.print(f"open it: train ui, then {run_url(request.tracking_uri, result.experiment_id, result.run_id)}")


# --- predict ------------------------------------------------------------------------


@app.command()
def predict(
    texts: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(help="Paragraphs to tag; `-` reads an article from stdin."),
    ] = None,
    file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--file", "-f", help="A .txt article (one paragraph per line) or a .jsonl of {id, text}."),
    ] = None,
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model file, or an MLflow URI (runs:/..., models:/...).")
    ] = str(MODEL_PATH),
    output_format: Annotated[
        Optional[OutputFormat],  # noqa: UP045
        typer.Option("--format", help="Output format [default: table on a terminal, else jsonl]."),
    ] = None,
    trust: Annotated[bool, typer.Option(help="Load a model file whose checksum does not match its metadata.")] = False,
    tracking_uri: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="MLflow store for runs:/ and models:/ URIs [default: as for fit]."),
    ] = None,
) -> None:
    """Tag paragraphs, an article, or a JSONL batch with topics."""
    from train import predict as p

    chosen = output_format or (OutputFormat.table if sys.stdout.isatty() else OutputFormat.jsonl)
    with user_errors():
        if bool(texts) == bool(file):
            raise TrainError("give either texts to tag or --file, not both or neither")
        tagger = p.load_tagger(model, trust=trust, tracking_uri=tracking_uri)
        article = False
        if texts == ["-"] or file == Path("-"):
            paragraphs: Iterator[p.Paragraph] | list[p.Paragraph] = p.paragraphs_of_article(p.stdin_lines(), "stdin")
            article = True
        elif file is not None and file.suffix == ".jsonl":
            paragraphs = p.paragraphs_of_jsonl(file)
        elif file is not None:
            from train.data import read_lines

            paragraphs = p.paragraphs_of_article(read_lines(file), file.stem)
            article = True
        else:
            paragraphs = p.paragraphs_of_texts(texts or [])
        tagged = p.tag(tagger, paragraphs)
        if chosen in (OutputFormat.jsonl, OutputFormat.csv):
            _stream(tagged, chosen)
            return
        rows = list(tagged)
        if not rows:
            raise TrainError(f"{file or 'input'}: no paragraphs to tag")
    summary = p.summarize(rows, tagger.labels) if article else None
    if chosen is OutputFormat.json:
        payload = {"paragraphs": [_row(t) for t in rows], "summary": vars(summary) if summary else None}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        _render_table(rows, summary)


def _row(tagged: Tagged) -> dict[str, object]:
    return {"id": tagged.id, "text": tagged.text, "labels": list(tagged.labels), "scores": tagged.scores}


def _stream(tagged: Iterator[Tagged], output_format: OutputFormat) -> None:
    """Write each result as soon as its batch is tagged."""
    if output_format is OutputFormat.jsonl:
        for t in tagged:
            sys.stdout.write(json.dumps(_row(t), ensure_ascii=False) + "\n")
        return
    writer = csv.writer(sys.stdout)
    writer.writerow(["id", "text", "labels", *LABELS])
    for t in tagged:
        writer.writerow([t.id, t.text, ";".join(t.labels), *(t.scores.get(label, "") for label in LABELS)])


def _render_table(rows: Sequence[Tagged], summary: ArticleSummary | None) -> None:
    from rich.table import Table

    console = _console()
    table = Table("id", "paragraph", "labels", "scores")
    for t in rows:
        text = t.text if len(t.text) <= 60 else t.text[:59] + "…"
        top = sorted(t.scores.items(), key=lambda kv: -kv[1])[:2]
        table.add_row(t.id, text, ", ".join(t.labels) or "—", "  ".join(f"{k} {v:.2f}" for k, v in top))
    console.print(table)
    if summary is not None:
        shares = ", ".join(f"{label} {summary.share[label]:.0%}" for label in summary.labels) or "—"
        console.print(f"article: {summary.paragraphs} paragraphs; topics: {shares}")


# --- ui -----------------------------------------------------------------------------


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
    tracking_uri: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Tracking store [default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db]."),
    ] = None,
) -> None:
    """Open the MLflow UI on the same store `train fit` logs to."""
    from train.tracking import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    if uri.startswith("http"):
        typer.echo(f"tracking server: open {uri} in a browser")
        return
    typer.echo(f"MLflow UI on http://127.0.0.1:{port} (Ctrl-C to stop)")
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if uri.startswith("sqlite:///"):
        command += ["--default-artifact-root", (Path.cwd() / "mlruns").as_uri()]
    try:
        subprocess.run(command, check=False)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    app()
