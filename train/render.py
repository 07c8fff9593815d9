"""Turning results into terminal tables, JSON, JSON Lines and CSV. Only cli.py calls this."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from train.data import Stats
    from train.fit import Evaluation, FitRequest, FitResult
    from train.metrics import Metrics
    from train.predict import ArticleSummary, Suggestion, Tagged
    from train.tracking import ModelVersion
    from train.tune import TuneResult


def console() -> Console:
    """Rich console for results; wide enough for the fit table when piped to a file."""
    from rich.console import Console

    terminal = Console(soft_wrap=True)
    return terminal if terminal.is_terminal else Console(soft_wrap=True, width=140)


def metrics_table(title: str, columns: Mapping[str, Metrics], extra: Mapping[str, Sequence[str]] | None = None) -> Any:
    """One row per label plus macro/micro F1; one column per evaluation."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("label", no_wrap=True)
    first = next(iter(columns.values()))
    table.add_column("n", justify="right")
    for name in (*columns, *(extra or {})):
        table.add_column(name, justify="right", no_wrap=True)
    for index, label in enumerate(first.per_label):
        cells = [f"{m.per_label[label].f1:.3f}" for m in columns.values()]
        cells += [values[index] for values in (extra or {}).values()]
        table.add_row(label, str(first.per_label[label].support), *cells)
    blanks = [""] * len(extra or {})
    table.add_row("macro F1", "", *(f"{m.macro_f1:.3f}" for m in columns.values()), *blanks, style="bold")
    table.add_row("micro F1", "", *(f"{m.micro_f1:.3f}" for m in columns.values()), *blanks)
    return table


def context_table(evaluation: Evaluation) -> Table:
    """Grouped-CV macro-F1 without and with article context, on all data and on its articles."""
    from rich.table import Table

    table = Table(
        "grouped CV by article", "alone", "in article context", title=f"Article context: {evaluation.context}"
    )
    parts = evaluation.grouped_parts
    for name, key in (
        ("all paragraphs", "grouped"),
        ("seed articles", "grouped_seed"),
        ("new articles", "grouped_articles"),
    ):
        alone = evaluation.grouped if key == "grouped" else parts.get(key)
        with_context = parts.get(f"{key}_context")
        if alone is not None and with_context is not None:
            table.add_row(name, f"{alone.macro_f1:.3f}", f"{with_context.macro_f1:.3f}")
    return table


def fit_summary(result: FitResult, request: FitRequest, url: str) -> None:
    out = console()
    evaluation = result.evaluation
    columns = {"CV": evaluation.cv.mean(), "baseline": evaluation.baseline.mean()}
    if evaluation.grouped is not None:
        columns["grouped"] = evaluation.grouped
    if "grouped_seed" in evaluation.grouped_parts:
        columns["grouped seed"] = evaluation.grouped_parts["grouped_seed"]
    for name, metrics in evaluation.cross_source.items():
        columns[name.replace("_to_", "→").replace("authored", "auth")] = metrics
    thresholds = {"thr": [f"{t:.2f}" for t in result.thresholds]}
    out.print(metrics_table(f"Out-of-fold F1 ({result.n_train} paragraphs)", columns, thresholds))
    if "grouped_context" in evaluation.grouped_parts:
        out.print(context_table(evaluation))
    if result.n_unlabeled:
        out.print(f"skipped {result.n_unlabeled} unlabeled records")
    config = request.config
    out.print(
        f"stratified CV macro-F1 {evaluation.cv.macro_f1:.3f} ± {evaluation.cv.macro_f1_std:.3f} "
        f"({config.folds} folds × {config.repeats} repeats) vs baseline {evaluation.baseline.macro_f1:.3f}"
    )
    out.print(f"model: {request.model_path}  ({result.seconds:.0f} s)")
    out.print(f"MLflow run {result.run_id} in experiment {request.experiment}: {result.model_uri}")
    if result.registered_version:
        out.print(f"registered as topic-tagger version {result.registered_version}")
    out.print(f"open it: train ui, then {url}")


# --- predict ------------------------------------------------------------------------


def tagged_row(tagged: Tagged) -> dict[str, object]:
    row: dict[str, object] = {
        "id": tagged.id,
        "text": tagged.text,
        "labels": list(tagged.labels),
        "scores": tagged.scores,
    }
    if tagged.reasons is not None:
        row["reasons"] = {label: [[term, round(w, 4)] for term, w in terms] for label, terms in tagged.reasons.items()}
    return row


def stream_jsonl(tagged: Iterable[Tagged]) -> None:
    """Write each result as soon as its batch is tagged."""
    for t in tagged:
        sys.stdout.write(json.dumps(tagged_row(t), ensure_ascii=False) + "\n")


def stream_csv(tagged: Iterable[Tagged], labels: Sequence[str]) -> None:
    """One row per paragraph, one score column per label of the model."""
    writer = csv.writer(sys.stdout)
    writer.writerow(["id", "text", "labels", *labels])
    for t in tagged:
        writer.writerow([t.id, t.text, ";".join(t.labels), *(t.scores.get(label, "") for label in labels)])


def tagged_json(rows: Sequence[Tagged], summary: ArticleSummary | None) -> str:
    payload = {"paragraphs": [tagged_row(t) for t in rows], "summary": vars(summary) if summary else None}
    return json.dumps(payload, ensure_ascii=False, indent=2)


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def tagged_table(rows: Sequence[Tagged], summary: ArticleSummary | None) -> None:
    from rich.table import Table

    out = console()
    explain = any(t.reasons for t in rows)
    table = Table("id", "paragraph", "labels", "why" if explain else "scores")
    for t in rows:
        if explain and t.reasons is not None:
            detail = "\n".join(f"{label}: {', '.join(term for term, _ in terms)}" for label, terms in t.reasons.items())
        else:
            top = sorted(t.scores.items(), key=lambda kv: -kv[1])[:2]
            detail = "  ".join(f"{k} {v:.2f}" for k, v in top)
        table.add_row(t.id, _short(t.text), ", ".join(t.labels) or "—", detail)
    out.print(table)
    if summary is not None:
        shares = ", ".join(f"{label} {summary.share[label]:.0%}" for label in summary.labels) or "—"
        out.print(f"article: {summary.paragraphs} paragraphs; topics: {shares}")


# --- data ---------------------------------------------------------------------------


def stats_tables(s: Stats) -> None:
    from rich.table import Table

    out = console()
    out.print(
        f"{s.total} paragraphs: {s.total - s.unlabeled} labeled ({s.no_label} with no label, "
        f"{s.multi_label} multi-label), {s.unlabeled} unlabeled"
    )
    sources = sorted(s.label_by_source)
    labels = list(s.per_label)
    table = Table("label", "total", *sources, title="Paragraphs per label")
    for label in (*labels, "(none)"):
        total = s.per_label.get(label, s.no_label)
        table.add_row(label, str(total), *(str(s.label_by_source[src].get(label, 0)) for src in sources))
    out.print(table)
    pairs = Table(" ", *labels, title="Label co-occurrence")
    for a in labels:
        cells = [str(s.pairs.get((a, b), s.pairs.get((b, a), ""))) if a != b else "·" for b in labels]
        pairs.add_row(a, *cells)
    out.print(pairs)
    out.print("by source: " + ", ".join(f"{k} {v}" for k, v in sorted(s.by_source.items())))
    out.print("by script: " + ", ".join(f"{k} {v}" for k, v in sorted(s.by_script.items())))


# --- evaluate, explain, suggest, models, tune ---------------------------------------


def metrics_json(metrics: Metrics) -> str:
    payload = {
        "per_label": {label: vars(s) for label, s in metrics.per_label.items()},
        "micro_f1": metrics.micro_f1,
        "macro_f1": metrics.macro_f1,
        "subset_accuracy": metrics.subset_accuracy,
    }
    return json.dumps(payload, indent=2)


def evaluation_table(metrics: Metrics, title: str) -> None:
    from rich.table import Table

    table = Table("label", "precision", "recall", "F1", "support", title=title)
    for label, s in metrics.per_label.items():
        table.add_row(label, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", str(s.support))
    table.add_row("micro avg", "", "", f"{metrics.micro_f1:.3f}", "", style="bold")
    table.add_row("macro avg", "", "", f"{metrics.macro_f1:.3f}", "", style="bold")
    table.add_row("subset accuracy", "", "", f"{metrics.subset_accuracy:.3f}", "")
    console().print(table)


def terms_table(terms: Mapping[str, Mapping[str, Sequence[tuple[str, float]]]]) -> None:
    from rich.table import Table

    table = Table("label", "pushes towards the label", "pushes away", title="Top terms per label")
    for label, sides in terms.items():
        positive = ", ".join(name for name, _ in sides["positive"])
        negative = ", ".join(name for name, _ in sides["negative"])
        table.add_row(label, positive, negative)
    console().print(table)


def suggestions_table(suggestions: Sequence[Suggestion]) -> None:
    from rich.table import Table

    table = Table("id", "paragraph", "model's guess", "margin", title="Label these first (least certain first)")
    for s in suggestions:
        guess = ", ".join(s.tagged.labels) or "—"
        table.add_row(s.tagged.id, _short(s.tagged.text, 70), guess, f"{s.margin:.3f}")
    console().print(table)


def versions_table(versions: Sequence[ModelVersion]) -> None:
    from rich.table import Table

    table = Table("version", "aliases", "created", "macro F1", "grouped", "grouped seed", "run", title="topic-tagger")
    for v in versions:
        m = v.metrics
        table.add_row(
            v.version,
            ", ".join(v.aliases) or "",
            v.created,
            *(f"{m[k]:.3f}" if k in m else "" for k in ("macro_f1", "grouped_macro_f1", "grouped_seed_macro_f1")),
            v.run_id,
        )
    console().print(table)


def tune_summary(result: TuneResult, score: str, out_path: str) -> None:
    from rich.table import Table

    best, default = result.best, result.default
    ranked = sorted(result.trials, key=lambda t: -t.metrics[score])
    table = Table(
        "rank", "analyzer", "classifier", "C", "min_df", "chars", "words", score, "strat. CV ±", title="Best trials"
    )
    for rank, trial in enumerate(ranked[:10], 1):
        c = trial.config
        table.add_row(
            str(rank), c.analyzer, c.classifier, f"{c.C:g}", str(c.min_df),
            f"{c.char_ngram_min}-{c.char_ngram_max}", f"1-{c.word_ngram_max}",
            f"{trial.metrics[score]:.3f}", f"{trial.metrics['macro_f1_std']:.3f}",
        )  # fmt: skip
    out = console()
    out.print(table)
    if default is not None:
        gain = best.metrics[score] - default.metrics[score]
        out.print(f"best {score} {best.metrics[score]:.3f} vs default {default.metrics[score]:.3f} ({gain:+.3f})")
    out.print(f"best settings written to {out_path}: train fit --config {out_path}")
    out.print(f"MLflow parent run {result.parent_run_id}: {len(result.trials) + 1} child runs to compare in the UI")
