"""Benchmark topic-tagger: `python bench/run.py [--quick]` from the repository root, with the project venv.

Prints one table and writes the same figures to bench/results/latest.json. The machine is
shared and noisy, so every figure also comes as a ratio to a reference measured in the same
run: the model's word segmenter alone for throughput, a bare `import jieba` for cold start,
a 1-paragraph predict for memory, the 1x fit for fit cost, a 1-process predict for REST and
a `--jobs 2` predict for Spark.

Measured (see `--help` for sizes; about 8-10 minutes by default, 2-3 with --quick):
  * tokenizer limit: jieba (Python) and the model's segmenter (rjieba by default) with the
    project's user words, in process, over a synthetic corpus of distinct paragraphs;
  * `train predict --file CORPUS.jsonl` throughput, one process and `--jobs 2` (when offered);
  * cold start: a fresh 1-paragraph `train predict` against a fresh `import jieba`;
  * `train fit` wall time and peak RSS at multiples of the seed data;
  * `train predict` on a large JSONL: peak RSS, RSS growth and time to the first output line;
  * `train serve` (MLflow's model server): requests/s, paragraphs/s and p50/p99 latency of
    1-paragraph and 100-paragraph requests from one sequential client;
  * `train predict --engine spark` on local[2] against `train predict --jobs 2`, same corpus.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

# `python bench/run.py` puts bench/, not the repository root, on the import path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import corpus, measure, serving
from bench.report import Row, ratio, table, write_json

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent  # not resolved: the venv's python is a symlink
DEFAULT_OUT = ROOT / "bench" / "results" / "latest.json"
ONE_PARAGRAPH = "一段文本"
FIT_BUDGET_SECONDS = 600.0  # above this (estimated), the largest fit drops its learning curve
BUDGET_SECONDS = 600.0  # the whole default run; the large predict gets what is left of it
MIN_BIG_SECONDS = 60.0
AUTO = -1.0  # --big-max-seconds not given: fit the large predict into BUDGET_SECONDS
SECTIONS = ("throughput", "cold", "fit", "big", "rest", "spark")
REST_BATCH = 100  # paragraphs per request in the REST batch mode
SPARK_MASTER = "local[2]"

PREDICT_1 = "predict batch, 1 process"
JIEBA_COLD = "python: import jieba; initialize"
PREDICT_COLD = "predict 1 paragraph, fresh process"
PREDICT_1_RSS = "predict 1 paragraph: peak RSS"
REFERENCE = "(reference)"


@dataclass(frozen=True)
class Settings:
    corpus_size: int
    fit_scales: tuple[int, ...]
    big_mb: float
    big_max_seconds: float | None  # None: never stop it; AUTO: what is left of BUDGET_SECONDS
    cold_runs: int
    rest_seconds: float  # per REST mode
    fit_curve: str  # for scales of 100x and more: auto, on or off
    sections: tuple[str, ...]
    out: Path
    workdir: Path | None


GROUPS = ("throughput", "start-up", "memory", "fit", "serving")


@dataclass
class Results:
    """Rows by group (printed in GROUPS order), reference values by row name, and raw figures for the JSON."""

    groups: dict[str, list[Row]] = field(default_factory=lambda: {group: [] for group in GROUPS})
    references: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    limit_name: str = ""  # the tokenizer-limit row, once measured

    def add(self, group: str, row: Row) -> None:
        self.groups[group].append(row)

    def reference(self, group: str, row: Row) -> None:
        """A row other rows are divided by: its ratio is 1."""
        assert row.value is not None
        self.add(group, replace(row, ratio=1.0, reference=REFERENCE))
        self.references[row.name] = row.value


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def train(*args: str) -> list[str]:
    executable = VENV_BIN / "train"
    return [str(executable if executable.exists() else shutil.which("train") or "train"), *args]


# --- setup ---------------------------------------------------------------------------


def tracking_uri(model: Path) -> str:
    """The MLflow store beside a model: what fits log to, and what serve and Spark are pointed at."""
    return f"sqlite:///{model.parent / 'db.sqlite'}"


def fit_model(work: Path) -> tuple[Path, float]:
    """The model every predict uses: all data, one CV repeat, no learning curve."""
    model = work / "model" / "m.npz"
    model.parent.mkdir(parents=True, exist_ok=True)
    command = train(
        "fit",
        *("--data", str(corpus.SEED_DATA), "--data", str(corpus.AUTHORED_DIR)),
        *("--model", str(model), "--tracking-uri", tracking_uri(model)),
        *("--repeats", "1", "--no-learning-curve"),
    )
    return model, measure.run_measured(command).seconds


def predict_file(model: Path, path: Path) -> list[str]:
    """`train predict` over a JSONL file, JSONL out."""
    return train("predict", "--model", str(model), "--file", str(path), "--format", "jsonl")


def predict_has_jobs() -> bool:
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb", "NO_COLOR": "1"}
    done = subprocess.run(train("predict", "--help"), capture_output=True, text=True, env=env, check=False)
    return "--jobs" in done.stdout


def one_paragraph_rss(results: Results, model: Path) -> None:
    """Peak RSS of tagging one paragraph: what every other predict's memory is compared to."""
    log("predict 1 paragraph: peak RSS")
    run = measure.run_measured(train("predict", "--model", str(model), ONE_PARAGRAPH, "--format", "jsonl"))
    results.reference("memory", Row(PREDICT_1_RSS, run.peak_rss_mb, "MB", 1.0, REFERENCE))
    results.details["predict_1_paragraph"] = {"seconds": run.seconds, "peak_rss_mb": run.peak_rss_mb}


# --- 1 and 3: tokenizer limit and batch throughput ---------------------------------------


@dataclass(frozen=True)
class Segmenter:
    engine: str  # as train.tokens.JiebaTokenizer takes it: jieba or rjieba
    hmm: bool = True

    @property
    def name(self) -> str:
        label = "jieba (Python)" if self.engine == "jieba" else self.engine
        return label if self.hmm else f"{label} without HMM"


PYTHON_JIEBA = Segmenter("jieba")


def model_segmenter(model: Path) -> Segmenter:
    """The segmenter a saved model uses, from its sidecar; models from before the choice use jieba."""
    config = json.loads(model.with_suffix(".json").read_text(encoding="utf-8")).get("config", {})
    kind = str(config.get("tokenizer", "jieba"))
    return Segmenter("rjieba" if kind == "rjieba" else "jieba", hmm=kind != "jieba-nohmm")


@dataclass(frozen=True)
class Rate:
    paragraphs: int
    text_mb: float
    seconds: float

    @property
    def per_second(self) -> float:
        return self.paragraphs / self.seconds

    @property
    def mb_per_second(self) -> float:
        return self.text_mb / self.seconds


def normalized_texts(corpus_path: Path) -> list[str]:
    """The corpus as the tokenizer sees it inside the pipeline: after train.tokens.normalize."""
    from train.tokens import normalize

    return [normalize(str(row["text"])) for row in corpus.read_jsonl(corpus_path)]


def tokenizer_rate(texts: list[str], segmenter: Segmenter) -> Rate:
    """train.tokens.JiebaTokenizer with the project's user words over distinct texts, in this process."""
    from train import tokens

    engine = {} if segmenter.engine == "jieba" else {"engine": segmenter.engine}
    tokenizer = tokens.JiebaTokenizer(tokens.read_user_words(corpus.USER_DICT), hmm=segmenter.hmm, **engine)
    tokenizer("预热")  # builds the segmenter: its dictionary load stays out of the timing
    clear_cache = getattr(getattr(tokens, "_cut", None), "cache_clear", None)
    if clear_cache is not None:  # the texts are distinct anyway; this also frees the last run's entries
        clear_cache()
    start = time.perf_counter()
    for text in texts:
        tokenizer(text)
    seconds = time.perf_counter() - start
    if clear_cache is not None:
        clear_cache()
    return Rate(len(texts), sum(len(t.encode("utf-8")) for t in texts) / 1e6, seconds)


def stage_rates(raw: list[str], model: Path) -> dict[str, Rate]:
    """In this process, over the raw texts: the normaliser alone, and the whole plain-data scorer
    (normalise, segment, n-gram lookups, TF-IDF, weights) in predict's batches, without any I/O."""
    from train.modelfile import load
    from train.predict import BATCH_SIZE
    from train.tokens import normalize_all

    scorer = load(model)[0]
    scorer.scores(raw[:BATCH_SIZE])  # segmenter and lookup tables built outside the timing
    mb = sum(len(t.encode("utf-8")) for t in raw) / 1e6
    start = time.perf_counter()
    normalize_all(raw)
    normalised = time.perf_counter() - start
    start = time.perf_counter()
    for first in range(0, len(raw), BATCH_SIZE):
        scorer.scores(raw[first : first + BATCH_SIZE])
    scored = time.perf_counter() - start
    return {"normalise": Rate(len(raw), mb, normalised), "scorer": Rate(len(raw), mb, scored)}


def throughput(results: Results, model: Path, corpus_path: Path) -> None:
    texts = normalized_texts(corpus_path)
    n = len(texts)
    segmenter = model_segmenter(model)
    log(f"tokenizer limit on {n:,} paragraphs: {PYTHON_JIEBA.name}")
    python_jieba = tokenizer_rate(texts, PYTHON_JIEBA)
    log(f"tokenizer limit: {segmenter.name} (the model's segmenter)")
    before = python_jieba if segmenter == PYTHON_JIEBA else tokenizer_rate(texts, segmenter)
    command = predict_file(model, corpus_path)
    log(PREDICT_1)
    single = measure.run_measured(command, sample_tree=True)
    jobs = None
    if predict_has_jobs():
        log("predict batch, --jobs 2")
        jobs = measure.run_measured([*command, "--jobs", "2"], sample_tree=True)
    log(f"tokenizer limit again: {segmenter.name} (the reference is the mean of before and after)")
    after = tokenizer_rate(texts, segmenter)
    log("in process: the normaliser alone, and the whole scorer")
    stages = stage_rates([str(row["text"]) for row in corpus.read_jsonl(corpus_path)], model)

    limit_name = results.limit_name = f"tokenizer limit: {segmenter.name}"
    limit = (before.per_second + after.per_second) / 2
    limit_mb = (before.mb_per_second + after.mb_per_second) / 2
    note = "the model's segmenter, in process, mean of before and after the predicts"
    results.reference("throughput", Row(limit_name, limit, "par/s", 1.0, REFERENCE, note))
    results.reference("throughput", Row(f"{limit_name} (MB/s)", limit_mb, "MB/s", 1.0, REFERENCE, "UTF-8 text"))
    if segmenter != PYTHON_JIEBA:
        jieba_name = f"tokenizer limit: {PYTHON_JIEBA.name}"
        rate, mb = python_jieba.per_second, python_jieba.mb_per_second
        results.add("throughput", Row(jieba_name, rate, "par/s", ratio(rate, limit), limit_name))
        results.add("throughput", Row(f"{jieba_name} (MB/s)", mb, "MB/s", ratio(mb, limit_mb), f"{limit_name} (MB/s)"))
    normalise = stages["normalise"].per_second
    note = "in process: NFKC, lower case, OpenCC tw2sp; a stage every paragraph passes, like the segmenter"
    results.add("throughput", Row("normalise limit", normalise, "par/s", ratio(normalise, limit), limit_name, note))
    scorer = stages["scorer"].per_second
    note = "in process, batches of 512, no I/O: normalise + segment + features + weights"
    results.add("throughput", Row("scorer alone", scorer, "par/s", ratio(scorer, limit), limit_name, note))
    single_rate = results.references[PREDICT_1] = n / single.seconds  # also the REST rows' reference
    jobs_rate = n / jobs.seconds if jobs else None
    note = f"{n:,} paragraphs, wall time including start-up"
    results.add("throughput", Row(PREDICT_1, single_rate, "par/s", ratio(single_rate, limit), limit_name, note))
    note = "" if jobs else "`train predict --help` lists no --jobs yet"
    results.add(
        "throughput", Row("predict batch, --jobs 2", jobs_rate, "par/s", ratio(jobs_rate, limit), limit_name, note)
    )
    speedup = ratio(jobs_rate, single_rate)
    results.add("throughput", Row("predict batch, --jobs 2 vs 1 process", jobs_rate, "par/s", speedup, PREDICT_1))

    one = results.references.get(PREDICT_1_RSS)
    peak = single.peak_rss_mb
    results.add("memory", Row(f"{PREDICT_1}: peak RSS", peak, "MB", ratio(peak, one), PREDICT_1_RSS))
    # Forked workers share pages with their parent, so processes are summed by PSS, and compared with PSS.
    pss_name = f"{PREDICT_1}: PSS"
    note = "sampled; PSS splits shared pages among the processes sharing them"
    results.reference("memory", Row(pss_name, single.tree_peak_mb or 0.0, "MB", 1.0, REFERENCE, note))
    tree = jobs.tree_peak_mb if jobs else None
    note = "sampled sum over the parent and its workers"
    name = "predict batch, --jobs 2: PSS of all processes"
    results.add("memory", Row(name, tree, "MB", ratio(tree, single.tree_peak_mb), pss_name, note))
    results.details["throughput"] = {
        "paragraphs": n,
        "text_mb": before.text_mb,
        "segmenter": segmenter.name,
        "tokenizer_seconds": [before.seconds, after.seconds],
        "tokenizer_paragraphs_per_s": [before.per_second, after.per_second],
        "python_jieba": {"seconds": python_jieba.seconds, "paragraphs_per_s": python_jieba.per_second},
        "in_process_paragraphs_per_s": {name: rate.per_second for name, rate in stages.items()},
        "predict_1_process": {
            "seconds": single.seconds,
            "peak_rss_mb": single.peak_rss_mb,
            "pss_mb": single.tree_peak_mb,
        },
        "predict_jobs_2": None
        if jobs is None
        else {"seconds": jobs.seconds, "peak_rss_mb": jobs.peak_rss_mb, "pss_all_processes_mb": jobs.tree_peak_mb},
    }


# --- 4: cold start -----------------------------------------------------------------------


def cold_start(results: Results, model: Path, runs: int) -> None:
    """Median wall seconds of a fresh 1-paragraph predict against a fresh `import jieba`."""
    log(f"cold start, {runs} rounds")
    commands = {
        "predict": train("predict", "--model", str(model), ONE_PARAGRAPH, "--format", "jsonl"),
        "jieba": [sys.executable, "-c", "import jieba; jieba.initialize()"],
    }
    times = measure.interleaved_wall_times(commands, runs)
    jieba, predict = measure.median(times["jieba"]), measure.median(times["predict"])
    note = f"median of {runs}"
    results.reference("start-up", Row(JIEBA_COLD, jieba, "s", 1.0, REFERENCE, note))
    results.add("start-up", Row(PREDICT_COLD, predict, "s", ratio(predict, jieba), JIEBA_COLD, note))
    results.references[PREDICT_COLD] = predict
    results.details["cold_start"] = {"runs": runs, "seconds": times}


# --- 5: fit scaling ----------------------------------------------------------------------


def wants_curve(scale: int, setting: str, done: dict[int, float]) -> tuple[bool, float | None]:
    """Whether the fit at `scale` keeps its learning curve, and the estimated seconds it was judged on.

    Only fits of 100x and more may drop it, and under `auto` only if the time, extrapolated
    from the two largest fits so far (at least linearly), would pass FIT_BUDGET_SECONDS.
    """
    if scale < 100 or setting == "on":
        return True, None
    if setting == "off":
        return False, None
    if len(done) < 2:
        return True, None
    (s1, t1), (s2, t2) = sorted(done.items())[-2:]
    slope = max(1.0, math.log(t2 / t1) / math.log(s2 / s1))
    estimate = t2 * (scale / s2) ** slope
    return estimate <= FIT_BUDGET_SECONDS, estimate


def fit_scaling(results: Results, work: Path, settings: Settings) -> None:
    done: dict[int, float] = {}
    details: dict[str, Any] = {}
    bases: dict[int, Row] = {}
    for scale in settings.fit_scales:
        folder = work / f"fit-{scale}x"  # a fresh data file, model and tracking store per fit
        folder.mkdir(parents=True, exist_ok=True)
        data = folder / "data.jsonl"
        records = corpus.write_scaled_labeled(data, scale)
        curve, estimate = wants_curve(scale, settings.fit_curve, done)
        command = train(
            "fit",
            *("--data", str(data), "--model", str(folder / "m.npz")),
            *("--tracking-uri", f"sqlite:///{folder / 'db.sqlite'}"),
            *(() if curve else ("--no-learning-curve",)),
        )
        log(f"fit {scale}x: {records:,} paragraphs{'' if curve else ', no learning curve'}")
        run = measure.run_measured(command, sample_tree=True)
        shutil.rmtree(folder, ignore_errors=True)
        done[scale] = run.seconds
        for index, row in enumerate(fit_rows(f"fit {scale}x ({records:,} par)", run, curve)):
            base = bases.get(index)  # the same figure of the first fit
            if base is None and row.value is not None:
                results.reference("fit", row)
                bases[index] = row
            else:
                base_value, base_name = (base.value, base.name) if base else (None, "")
                results.add("fit", replace(row, ratio=ratio(row.value, base_value), reference=base_name))
        details[f"{scale}x"] = {
            "records": records,
            "seconds": run.seconds,
            "peak_rss_mb": run.peak_rss_mb,
            "pss_all_processes_mb": run.tree_peak_mb,
            "learning_curve": curve,
            "estimated_seconds_with_curve": estimate,
        }
    results.details["fit"] = {"budget_seconds": FIT_BUDGET_SECONDS, "scales": details}


def fit_rows(name: str, run: measure.Measured, curve: bool) -> list[Row]:
    """Seconds, peak RSS and sampled all-process RSS of one fit, ratios still to fill in."""
    return [
        Row(name, run.seconds, "s", None, "", "defaults" if curve else "defaults + --no-learning-curve"),
        Row(f"{name}: peak RSS", run.peak_rss_mb, "MB", None, "", "largest single process"),
        Row(
            f"{name}: PSS of all processes",
            run.tree_peak_mb,
            "MB",
            None,
            "",
            "sampled sum over fit and its CV workers",
        ),
    ]


# --- 6: a large input --------------------------------------------------------------------


def big_input(results: Results, model: Path, work: Path, settings: Settings, elapsed: float) -> None:
    """Peak RSS and time to the first output line of `train predict` on a large JSONL."""
    started = time.perf_counter()
    path = work / "big.jsonl"
    lines = corpus.write_big_input(path, int(settings.big_mb * 1e6))
    size_mb = path.stat().st_size / 1e6
    max_seconds = settings.big_max_seconds
    if max_seconds == AUTO:
        max_seconds = max(MIN_BIG_SECONDS, BUDGET_SECONDS - elapsed - (time.perf_counter() - started))
    limit = f", stopped after {max_seconds:.0f} s if not done" if max_seconds else ""
    log(f"predict {size_mb:.0f} MB ({lines:,} paragraphs){limit}")
    command = predict_file(model, path)
    run = measure.run_streamed(command, max_seconds=max_seconds)
    path.unlink()

    label = f"predict {size_mb:.0f} MB JSONL"
    done = f"{run.lines:,} of {lines:,} paragraphs ({run.lines / lines:.0%})"
    coverage = f"whole input, {run.lines:,} paragraphs" if run.completed else f"stopped at {run.seconds:.0f} s: {done}"
    one = results.references.get(PREDICT_1_RSS)
    peak = run.peak_rss_mb
    results.add("memory", Row(f"{label}: peak RSS", peak, "MB", ratio(peak, one), PREDICT_1_RSS, coverage))
    if len(run.timeline) >= 2:  # the process's RSS as output starts and at the end: flat, or growing?
        begin, end = run.timeline[0], run.timeline[-1]
        at_first = f"{label}: RSS at the first output line"
        results.reference("memory", Row(at_first, begin.rss_mb, "MB", 1.0, REFERENCE))
        note = f"after {end.lines:,} paragraphs out"
        growth = ratio(end.rss_mb, begin.rss_mb)
        results.add("memory", Row(f"{label}: RSS at the end", end.rss_mb, "MB", growth, at_first, note))

    first = run.first_line_seconds
    cold = PREDICT_COLD if PREDICT_COLD in results.references else ""
    results.add(
        "start-up", Row(f"{label}: first output line", first, "s", ratio(first, results.references.get(cold)), cold)
    )
    streaming = (run.lines - 1) / (run.seconds - first) if run.seconds > first else None
    limit_name = results.limit_name
    note = "paragraphs out per second after the first line"
    results.add(
        "throughput",
        Row(
            f"{label}: streaming rate",
            streaming,
            "par/s",
            ratio(streaming, results.references.get(limit_name)),
            limit_name,
            note,
        ),
    )
    results.details["big_input"] = {
        "file_mb": size_mb,
        "paragraphs": lines,
        "completed": run.completed,
        "max_seconds": max_seconds,
        "seconds": run.seconds,
        "lines_out": run.lines,
        "first_line_seconds": first,
        "peak_rss_mb": run.peak_rss_mb,
        "timeline": [vars(sample) for sample in run.timeline],
    }


# --- 7: REST and Spark ------------------------------------------------------------------


def predict_1_rate(results: Results, model: Path, corpus_path: Path, n: int) -> float:
    """Paragraphs/s of `train predict --file CORPUS` in one process: the throughput section's, else measured now."""
    if PREDICT_1 not in results.references:
        log(f"{PREDICT_1}: the REST reference, as the throughput section is not run")
        rate = n / measure.run_measured(predict_file(model, corpus_path)).seconds
        note = f"{n:,} paragraphs, wall time including start-up; measured for the REST rows"
        results.reference("throughput", Row(PREDICT_1, rate, "par/s", 1.0, REFERENCE, note))
    return results.references[PREDICT_1]


def rest(results: Results, model: Path, corpus_path: Path, work: Path, settings: Settings) -> None:
    """`train serve` under one sequential client: 1-paragraph requests, then REST_BATCH-paragraph ones."""
    reference = predict_1_rate(results, model, corpus_path, settings.corpus_size)
    texts = iter([str(row["text"]) for row in corpus.read_jsonl(corpus_path)])  # each mode takes what is left
    port = serving.free_port()
    url = f"http://127.0.0.1:{port}"
    command = train("serve", "--model", str(model), "--port", str(port), "--tracking-uri", tracking_uri(model))
    log(f"REST: train serve on port {port}; {settings.rest_seconds:.0f} s per mode")
    loads: dict[int, serving.Load] = {}
    with serving.served(command, url, work / "serve.log") as startup:
        for size in (1, REST_BATCH):
            log(f"REST: {size} paragraph(s) per request")
            loads[size] = serving.send(url, serving.batches(texts, size), settings.rest_seconds)

    cold = PREDICT_COLD if PREDICT_COLD in results.references else ""
    up = ratio(startup, results.references.get(cold))
    note = "includes wrapping the model file as an MLflow model"
    results.add("start-up", Row("train serve: first 200 from /ping", startup, "s", up, cold, note))
    single = rest_label(1)
    for size, load in loads.items():
        label = rest_label(size)
        ran_out = "" if load.seconds >= settings.rest_seconds else "; the corpus ran out first"
        note = f"{load.requests:,} requests in {load.seconds:.1f} s after {serving.WARMUP_REQUESTS} untimed{ran_out}"
        rate, per_second, p50, p99 = load.paragraphs_per_second, load.requests_per_second, load.p50_ms, load.p99_ms
        results.add("serving", Row(label, rate, "par/s", ratio(rate, reference), PREDICT_1, note))
        if size == 1:
            results.reference("serving", Row(f"{label}: requests/s", per_second, "req/s", 1.0, REFERENCE))
            note = "from sending a request to its answer parsed"
            results.reference("serving", Row(f"{label}: p50 latency", p50, "ms", 1.0, REFERENCE, note))
        else:
            base = results.references[f"{single}: requests/s"]
            row = Row(f"{label}: requests/s", per_second, "req/s", ratio(per_second, base), f"{single}: requests/s")
            results.add("serving", row)
            base = results.references[f"{single}: p50 latency"]
            results.add("serving", Row(f"{label}: p50 latency", p50, "ms", ratio(p50, base), f"{single}: p50 latency"))
        results.add("serving", Row(f"{label}: p99 latency", p99, "ms", ratio(p99, p50), f"{label}: p50 latency"))
    results.details["rest"] = {
        "seconds_per_mode": settings.rest_seconds,
        "warmup_requests": serving.WARMUP_REQUESTS,
        "startup_seconds": startup,
        "modes": {
            str(size): {
                "requests": load.requests,
                "paragraphs": load.paragraphs,
                "seconds": load.seconds,
                "p50_ms": load.p50_ms,
                "p99_ms": load.p99_ms,
                "max_ms": max(load.latencies) * 1000,
            }
            for size, load in loads.items()
        },
    }


def rest_label(size: int) -> str:
    return f"REST, {size} paragraph{'' if size == 1 else 's'} per request"


def spark(results: Results, model: Path, corpus_path: Path, work: Path, n: int) -> None:
    """`train predict --engine spark` on SPARK_MASTER against `train predict --jobs 2`, on the same JSONL."""
    log(f"predict --jobs 2 on {n:,} paragraphs: the Spark reference")
    jobs = measure.run_measured([*predict_file(model, corpus_path), "--jobs", "2"], sample_tree=True)
    output, stdout_file = work / "spark.parquet", work / "spark.stdout"
    shutil.rmtree(output, ignore_errors=True)
    command = train(
        *("predict", "--engine", "spark", "--spark-master", SPARK_MASTER),
        *("--model", str(model), "--file", str(corpus_path), "--output", str(output)),
        *("--tracking-uri", tracking_uri(model)),
    )
    log(f"predict --engine spark --spark-master {SPARK_MASTER} on {n:,} paragraphs")
    with stdout_file.open("wb") as stdout:
        run = measure.run_measured(command, stdout=stdout, sample_tree=True)
    shutil.rmtree(output, ignore_errors=True)
    printed = stdout_file.read_text(encoding="utf-8").strip()
    line = serving.spark_line(printed)
    if line is not None and line.rows != n:
        raise RuntimeError(f"Spark tagged {line.rows:,} rows of {n:,}: {printed}")

    jobs_name = f"predict --jobs 2, {n:,} par JSONL"
    note = "wall time including start-up, JSONL to /dev/null"
    results.reference("serving", Row(jobs_name, jobs.seconds, "s", 1.0, REFERENCE, note))
    jobs_rate = n / jobs.seconds
    results.reference("serving", Row(f"{jobs_name} (par/s)", jobs_rate, "par/s", 1.0, REFERENCE))
    name = f"predict --engine spark {SPARK_MASTER}, {n:,} par JSONL"
    note = "wall time including start-up (Python, JVM, Spark session), Parquet out"
    results.add("serving", Row(name, run.seconds, "s", ratio(run.seconds, jobs.seconds), jobs_name, note))
    rate = n / run.seconds
    results.add("serving", Row(f"{name} (par/s)", rate, "par/s", ratio(rate, jobs_rate), f"{jobs_name} (par/s)"))
    in_job = line.seconds if line else None
    note = (
        "as it prints it: model wrapped, Spark session, read, tag, write, count; not the CLI's start-up"
        if line
        else f"no `tagged N rows ... in X s` line on stdout: {printed[:80]!r}"
    )
    results.add("serving", Row(f"{name}: in-job time", in_job, "s", ratio(in_job, run.seconds), name, note))
    results.details["spark"] = {
        "paragraphs": n,
        "master": SPARK_MASTER,
        "stdout": printed,
        "in_job_seconds": in_job,
        "spark": {"seconds": run.seconds, "peak_rss_mb": run.peak_rss_mb, "pss_all_processes_mb": run.tree_peak_mb},
        "predict_jobs_2": {
            "seconds": jobs.seconds,
            "peak_rss_mb": jobs.peak_rss_mb,
            "pss_all_processes_mb": jobs.tree_peak_mb,
        },
    }


# --- the run -----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": commit.stdout.strip() or None,
        "rss_tool": measure.rss_tool(),
    }


def settings_json(settings: Settings) -> dict[str, Any]:
    out = {key: str(value) if isinstance(value, Path) else value for key, value in vars(settings).items()}
    if settings.big_max_seconds == AUTO:
        out["big_max_seconds"] = f"auto: what is left of {BUDGET_SECONDS:.0f} s, at least {MIN_BIG_SECONDS:.0f} s"
    return out


@contextmanager
def workspace(chosen: Path | None) -> Iterator[Path]:
    if chosen is not None:
        chosen.mkdir(parents=True, exist_ok=True)
        yield chosen
        return
    with tempfile.TemporaryDirectory(prefix="topic-tagger-bench-") as tmp:
        yield Path(tmp)


def run(settings: Settings) -> None:
    started = time.perf_counter()
    header: dict[str, Any] = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": settings_json(settings),
        "load_average_start": os.getloadavg(),
    }
    results = Results()
    with workspace(settings.workdir) as work:
        corpus_path = work / "corpus.jsonl"
        log(f"corpus of {settings.corpus_size:,} synthetic paragraphs; reference model (train fit)")
        text_bytes = corpus.write_corpus(corpus_path, settings.corpus_size)
        model, fit_seconds = fit_model(work)
        results.details["setup"] = {"corpus_text_mb": text_bytes / 1e6, "reference_model_fit_seconds": fit_seconds}
        one_paragraph_rss(results, model)
        if "throughput" in settings.sections:
            throughput(results, model, corpus_path)
        if "cold" in settings.sections:
            cold_start(results, model, settings.cold_runs)
        if "fit" in settings.sections:
            fit_scaling(results, work, settings)
        if "big" in settings.sections:
            big_input(results, model, work, settings, time.perf_counter() - started)
        if "rest" in settings.sections:
            rest(results, model, corpus_path, work, settings)
        if "spark" in settings.sections:
            spark(results, model, corpus_path, work, settings.corpus_size)
    header["load_average_end"] = os.getloadavg()
    header["total_seconds"] = time.perf_counter() - started

    info = header["machine"]
    print(f"topic-tagger benchmark, {header['date']}")
    print(f"machine: nproc {info['nproc']}, Python {info['python']}, {info['platform']}, commit {info['git_commit']}")
    load = ", ".join(f"{x:.1f}" for x in header["load_average_start"])
    print(f"load average at start {load}; total {header['total_seconds']:.0f} s; peak RSS by {info['rss_tool']}")
    print()
    print(table(results.groups))
    write_json(settings.out, header, results.groups, results.details)
    print(f"\nwritten: {settings.out.relative_to(ROOT) if settings.out.is_relative_to(ROOT) else settings.out}")


def parse_args(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="Smoke run: 5,000 paragraphs, fits 1x and 10x, 20 MB.")
    parser.add_argument(
        "--corpus-size", type=int, help="Synthetic paragraphs for throughput, REST and Spark [50000; quick 5000]."
    )
    parser.add_argument("--fit-scales", help="Comma-separated multiples of the seed data [1,10,100; quick 1,10].")
    parser.add_argument("--big-mb", type=float, help="Size of the large predict input in MB [200; quick 20].")
    parser.add_argument(
        "--big-max-seconds",
        type=float,
        help="Stop the large predict after this many seconds, 0 = never [what is left of a "
        f"{BUDGET_SECONDS / 60:.0f}-minute budget, at least {MIN_BIG_SECONDS:.0f} s; quick 0]. "
        "Peak RSS and first-line time are still measured; the table says how much was read.",
    )
    parser.add_argument("--cold-runs", type=int, help="Fresh processes per cold-start median [5; quick 3].")
    parser.add_argument(
        "--rest-seconds",
        type=float,
        help="Seconds of requests per REST mode, fewer if the corpus runs out [20; quick 3].",
    )
    parser.add_argument(
        "--fit-curve",
        choices=("auto", "on", "off"),
        default="auto",
        help="Learning curve for fits of 100x and more; auto drops it if the fit is estimated "
        f"to pass {FIT_BUDGET_SECONDS:.0f} s.",
    )
    parser.add_argument("--only", help=f"Comma-separated sections to run, of {','.join(SECTIONS)} [all].")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results [bench/results/latest.json].")
    parser.add_argument("--workdir", type=Path, help="Keep generated files here instead of a temporary folder.")
    args = parser.parse_args(argv)

    def pick(value: Any, full: Any, quick: Any) -> Any:
        return value if value is not None else (quick if args.quick else full)

    sections = tuple(s.strip() for s in args.only.split(",")) if args.only else SECTIONS
    if unknown := set(sections) - set(SECTIONS):
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    scales = pick(args.fit_scales, "1,10,100", "1,10")
    big_max = pick(args.big_max_seconds, AUTO, 0.0)
    return Settings(
        corpus_size=pick(args.corpus_size, 50_000, 5_000),
        fit_scales=tuple(int(s) for s in str(scales).split(",")),
        big_mb=pick(args.big_mb, 200.0, 20.0),
        big_max_seconds=None if big_max == 0 else big_max,
        cold_runs=pick(args.cold_runs, 5, 3),
        rest_seconds=pick(args.rest_seconds, 20.0, 3.0),
        fit_curve=args.fit_curve,
        sections=sections,
        out=args.out.resolve(),
        workdir=args.workdir.resolve() if args.workdir else None,
    )


def main() -> None:
    settings = parse_args()
    os.chdir(ROOT)  # train's defaults (data/, data/userdict.txt) are relative to the repository
    run(settings)


if __name__ == "__main__":
    main()
