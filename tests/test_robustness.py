"""Bad input never crashes: one-line errors naming the file, non-zero exit, nothing overwritten.

Real files in tmp dirs, the real CLI (CliRunner on `train.cli.app`, and real subprocesses where
the process boundary matters: stdin, argv bytes, stderr), and the model fitted on the real data.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import subprocess
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.conftest import LABELS, ROOT, FittedProject
from train.cli import app
from train.modelfile import load
from train.predict import Paragraph, load_tagger, tag
from train.scorer import Scorer

runner = CliRunner()

Rows = list[dict[str, object]]
ANY_LINE = -1  # a line-level problem whose line number depends on the bytes
SUMMARY = re.compile(r"^\d+ records, \d+ problems$")
# The CLI's last-resort handler for exceptions it did not expect: a crash in one line, not a diagnosis.
UNEXPECTED = re.compile(r"^error: unexpected \w+")
EMPTY_TEXT_ERROR = "error: text 1 is empty: nothing to tag"
PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa"
HUGE_BYTES = 5_000_000
ONE_MB = 1_000_000


# --- shared checks ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tagger(fitted: FittedProject) -> Scorer:
    return load_tagger(str(fitted.model))


def assert_probabilities(scores: dict[str, float], labels: Sequence[str], model_thresholds: Sequence[float]) -> None:
    """Every label scored once with a finite probability; labels agree with the thresholds."""
    assert list(scores) == list(LABELS)
    for value in scores.values():
        assert isinstance(value, float)
        assert math.isfinite(value) and 0.0 <= value <= 1.0, scores
    assert list(labels) == [label for label in LABELS if label in labels], "labels out of order or repeated"
    for label, threshold in zip(LABELS, model_thresholds, strict=True):
        if label in labels:
            assert scores[label] >= threshold - 1e-4, (label, scores, threshold)
        else:
            assert scores[label] <= threshold + 1e-4, (label, scores, threshold)


def no_uncaught_exception(result: Result) -> None:
    """CliRunner swallows a crash into `result.exception` (exit 1, no traceback in output): catch it."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        exc = result.exception
        shown = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        pytest.fail(f"uncaught {type(exc).__name__} escaped the CLI (a traceback for the user):\n{shown}")


def assert_one_line_error(
    code: int, stdout: str, stderr: str, path: Path | str, line: int | None, *, check_report: bool = False
) -> str:
    """Non-zero exit, no traceback, exactly one error line naming the file (and `:<line>:`)."""
    assert code != 0, f"exit code 0 for bad input {path}\nstdout: {stdout[:2000]}\nstderr: {stderr[:2000]}"
    assert "Traceback" not in stdout + stderr, stderr[-4000:]
    if check_report:  # `data check`: problems on stdout, then the count
        lines = [ln for ln in (stdout + stderr).splitlines() if ln.strip() and not SUMMARY.match(ln)]
    else:  # fit and predict: the error on stderr; stdout may hold results streamed before it
        lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one error line, got {len(lines)}:\n" + "\n".join(lines[:20])
    error = lines[0]
    assert not UNEXPECTED.match(error), f"an unhandled exception reached the catch-all: {error!r}"
    assert str(path) in error, f"error does not name the file {path}: {error!r}"
    if line == ANY_LINE:
        assert re.search(re.escape(str(path)) + r":\d+: ", error), f"error lacks :<line>: {error!r}"
    elif line is not None:
        assert f"{path}:{line}:" in error, f"error lacks {path}:{line}: {error!r}"
    return error


def assert_no_leftovers(model_dir: Path) -> None:
    """Only the model set (and fit's hidden lock file) beside the model: no temp files."""
    names = sorted(p.name for p in model_dir.iterdir())
    assert [n for n in names if not n.startswith(".")] == ["m.joblib", "m.json", "m.npz"], names
    assert not [n for n in names if n.endswith(".tmp")], f"temp files left behind: {names}"


def snapshot(paths: Sequence[Path]) -> dict[Path, bytes | None]:
    """Bytes of each readable regular file, to prove nothing was rewritten."""
    out: dict[Path, bytes | None] = {}
    for path in paths:
        try:
            out[path] = path.read_bytes() if path.is_file() else None
        except OSError:
            out[path] = None
    return out


# --- hypothesis: any text through `tag` and through the command line --------------

EMOJI = st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF) | st.sampled_from(
    ["👨‍👩‍👧", "🏳️‍🌈", "🇨🇳", "1️⃣", "\ufe0f", "\u200d"]
)
CONTROL = st.characters(categories=["Cc", "Cf"])  # NUL, C0/C1 controls, ZWJ, bidi marks, BOM
TRADITIONAL = st.sampled_from(list("軟體執行長輝達臺灣資料庫訴訟融資離職競爭對手開發億萬轉變聯邦法院")) | st.characters(
    min_codepoint=0x4E00, max_codepoint=0x9FFF
)
RTL = st.characters(min_codepoint=0x0590, max_codepoint=0x06FF) | st.sampled_from(
    ["\u200f", "\u202b", "\u202e", "\u2067", "\u2069", "שלום", "مرحبا"]
)
PUNCTUATION = st.characters(categories=["P", "S"])
ENGLISH = st.sampled_from([*"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,", "OpenAI ", "lawsuit "])
WHITESPACE = st.sampled_from([chr(c) for c in range(0x3001) if chr(c).isspace()])
MIXED = st.one_of(EMOJI, CONTROL, TRADITIONAL, RTL, PUNCTUATION, ENGLISH, WHITESPACE)


def joined(pieces: st.SearchStrategy[str], min_size: int = 0, max_size: int = 100) -> st.SearchStrategy[str]:
    """Text built from pieces that may be longer than one character (emoji sequences, words)."""
    return st.lists(pieces, min_size=min_size, max_size=max_size).map("".join)


ANY_TEXT = st.one_of(
    st.text(max_size=200),  # every Unicode scalar value, NUL and controls included
    joined(MIXED, max_size=200),  # mixed scripts
    joined(EMOJI, min_size=1, max_size=50),
    joined(TRADITIONAL, min_size=1),
    joined(RTL, min_size=1),
    joined(PUNCTUATION, min_size=1, max_size=50),
    joined(ENGLISH, min_size=1, max_size=200),
    st.text(WHITESPACE, max_size=20),
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(ANY_TEXT, min_size=1, max_size=6))
@example(texts=["\x00"])
@example(texts=["\x00" * 64, "融资\x00诉讼"])
@example(texts=["🤖🚀💰👨‍👩‍👧", "\u202eسلام OpenAI 起訴 融资\u202c"])
@example(texts=["。，！？…——“”《》", "!!!???...", "OpenAI raised money and was sued"])
@example(texts=["", " ", "\t\n\r\x0b\x0c\u3000\u00a0\u2028\u2029"])
@example(texts=["\x01\x02\x1b[31m\x7f\x85\x9f\ufeff\ufffe\U0010ffff"])
@example(texts=["軟體執行長宣布離職，加盟輝達", "作家起訴公司侵犯版權"])
def test_tag_gives_finite_probabilities_for_any_text(tagger: Scorer, texts: list[str]) -> None:
    paragraphs = [Paragraph(str(i), text) for i, text in enumerate(texts)]
    tagged = list(tag(tagger, paragraphs))
    assert [t.id for t in tagged] == [p.id for p in paragraphs]
    assert [t.text for t in tagged] == texts
    for t in tagged:
        assert_probabilities(t.scores, t.labels, tagger.thresholds.tolist())
    alone = next(tag(tagger, paragraphs[-1:]))
    assert alone.scores == tagged[-1].scores, "a paragraph's scores must not depend on its batch"


@pytest.mark.parametrize(
    "unit",
    [
        pytest.param("OpenAI与Anthropic争夺市场，作家起訴公司侵犯版權。🤖 سلام ", id="mixed"),
        pytest.param("融", id="one-cjk-char"),
        pytest.param("a", id="one-ascii-char"),
        pytest.param("\x00", id="nul"),
        pytest.param("，", id="punctuation"),
    ],
)
def test_tag_a_one_megabyte_line(tagger: Scorer, unit: str) -> None:
    text = unit * (ONE_MB // len(unit.encode("utf-8")) + 1)
    (tagged,) = tag(tagger, [Paragraph("big", text)])
    assert len(tagged.text.encode("utf-8")) >= ONE_MB
    assert_probabilities(tagged.scores, tagged.labels, tagger.thresholds.tolist())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(WHITESPACE, max_size=30), ANY_TEXT))
@example(text="")
@example(text=" \t\u3000\n")
@example(text="\x00")
@example(text="--help")
@example(text="-x")
@example(text="🤖 \u202e融资\u202c")
def test_predict_command_line_text(fitted: FittedProject, tagger: Scorer, text: str) -> None:
    """Any text argument is tagged with probabilities, or is whitespace and gets the documented error."""
    assume(text != "-")  # `-` alone means "read stdin"
    result = runner.invoke(app, ["predict", "--model", str(fitted.model), "--format", "json", "--", text])
    no_uncaught_exception(result)
    assert "Traceback" not in result.output
    if not text.strip():
        assert result.exit_code == 1, result.output
        assert result.stderr.splitlines() == [EMPTY_TEXT_ERROR]
        assert result.stdout == ""
        return
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    (paragraph,) = payload["paragraphs"]
    assert paragraph["id"] == "1"
    assert paragraph["text"] == text.strip()
    assert_probabilities(paragraph["scores"], paragraph["labels"], tagger.thresholds.tolist())


# --- malformed input files: data check, fit --data, predict --file -------------------


def _jsonl(rows: Rows, newline: str = "\n") -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + newline for r in rows)


def _huge_text() -> str:
    sentence = "OpenAI完成新一轮融资，估值达到八百亿美元；作家起訴公司侵犯版權，Anthropic争夺企业市场。"
    return sentence * (HUGE_BYTES // len(sentence.encode("utf-8")) + 1)


@dataclass(frozen=True)
class Case:
    """A bad (or odd but valid) input file, and what the commands must make of it."""

    name: str
    make: Callable[[Path, Rows], Path]
    line: int | None = None  # line named in the error; ANY_LINE: some line; None: the file as a whole
    accepted: bool = False
    records: Callable[[Rows], Rows] | None = None  # for accepted cases: the records read


def _truncated(directory: Path, rows: Rows) -> Path:
    """Three good records, then the fourth cut mid-record (no closing brace, no newline)."""
    path = directory / "truncated.jsonl"
    last = json.dumps(rows[3], ensure_ascii=False)
    path.write_text(_jsonl(rows[:3]) + last[: len(last) // 2], encoding="utf-8")
    return path


def _truncated_mid_character(directory: Path, rows: Rows) -> Path:
    """As a download cut off mid-byte-stream: the last record ends inside a UTF-8 character."""
    path = directory / "cut.jsonl"
    last = json.dumps(rows[3], ensure_ascii=False).encode("utf-8")
    cut = next(i for i in range(len(last) // 2, len(last)) if last[i] >= 0xE0) + 1  # after a lead byte
    path.write_bytes(_jsonl(rows[:3]).encode("utf-8") + last[:cut])
    return path


def _bom(directory: Path, rows: Rows) -> Path:
    path = directory / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + _jsonl(rows).encode("utf-8"))
    return path


def _crlf(directory: Path, rows: Rows) -> Path:
    path = directory / "crlf.jsonl"
    path.write_bytes(_jsonl(rows, "\r\n").encode("utf-8"))
    return path


def _huge_line(directory: Path, rows: Rows) -> Path:
    """A 5 MB single-line record (unlabeled, so `fit` reads it but does not train on it)."""
    path = directory / "huge.jsonl"
    huge = {"id": "huge:1", "text": _huge_text(), "labels": None}
    path.write_text(_jsonl([*rows, huge]), encoding="utf-8")
    assert path.stat().st_size > HUGE_BYTES
    return path


def _with_huge(rows: Rows) -> Rows:
    return [*rows, {"id": "huge:1", "text": _huge_text(), "labels": None}]


def _png(directory: Path, rows: Rows) -> Path:
    path = directory / "picture.png"
    path.write_bytes(PNG_HEADER + random.Random(7).randbytes(4096))
    return path


def _random_bytes(directory: Path, rows: Rows) -> Path:
    path = directory / "random.jsonl"
    path.write_bytes(random.Random(1234).randbytes(64 * 1024))
    return path


def _utf16(directory: Path, rows: Rows) -> Path:
    """What Windows Notepad calls 'Unicode'."""
    path = directory / "utf16.jsonl"
    path.write_bytes(_jsonl(rows).encode("utf-16"))
    return path


def _directory(directory: Path, rows: Rows) -> Path:
    path = directory / "folder"
    path.mkdir()
    return path


def _directory_named_jsonl(directory: Path, rows: Rows) -> Path:
    path = directory / "folder.jsonl"
    path.mkdir()
    return path


def _unreadable(directory: Path, rows: Rows) -> Path:
    """chmod 000; root reads anything, so as root: a path whose parent is a regular file."""
    if os.geteuid() != 0:
        path = directory / "locked.jsonl"
        path.write_text(_jsonl(rows), encoding="utf-8")
        path.chmod(0)
        return path
    parent = directory / "plain.txt"
    parent.write_text("a file, not a directory\n", encoding="utf-8")
    return parent / "data.jsonl"


def _missing(directory: Path, rows: Rows) -> Path:
    return directory / "absent.jsonl"


CASES = [
    Case("truncated", _truncated, line=4),
    Case("truncated-mid-character", _truncated_mid_character, line=4),
    Case("bom", _bom, accepted=True, records=lambda rows: rows),
    Case("crlf", _crlf, accepted=True, records=lambda rows: rows),
    Case("huge-line", _huge_line, accepted=True, records=_with_huge),
    Case("png", _png, line=1),
    Case("random-bytes", _random_bytes, line=ANY_LINE),
    Case("utf16", _utf16, line=1),
    Case("directory", _directory),
    Case("directory-named-jsonl", _directory_named_jsonl),
    Case("unreadable", _unreadable),
    Case("missing", _missing),
]
CASE_IDS = [c.name for c in CASES]


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    directory = tmp_path / "inputs"
    directory.mkdir()
    return directory


def _invoke(args: list[str]) -> Result:
    result = runner.invoke(app, args)
    no_uncaught_exception(result)
    return result


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_data_check(case: Case, inputs: Path, tiny_rows: Rows) -> None:
    path = case.make(inputs, tiny_rows)
    before = snapshot([path])
    result = _invoke(["data", "check", str(path), "--seeds", str(ROOT / "seeds")])
    if case.accepted:
        assert case.records is not None
        assert result.exit_code == 0, result.output[-3000:]
        assert "Traceback" not in result.output
        assert result.stdout.splitlines()[-1] == f"{len(case.records(tiny_rows))} records, 0 problems"
        assert not any(line.startswith(str(path)) for line in result.output.splitlines())
    else:
        assert_one_line_error(result.exit_code, result.stdout, result.stderr, path, case.line, check_report=True)
    assert snapshot([path]) == before


def trainable_rows(rows: Rows, copies: int = 4) -> Rows:
    """The tiny set four times over, as four batches: enough that every CV stage has data to learn from."""
    return [{**r, "id": f"copy{k}:{str(r['id']).split(':')[1]}"} for k in range(copies) for r in rows]


def _fit_args(tmp_path: Path, data: Path, model: Path, run_name: str) -> list[str]:
    return [
        "fit",
        "--data", str(data),
        "--model", str(model),
        "--tracking-uri", f"sqlite:///{tmp_path / 'db.sqlite'}",
        "--user-dict", str(tmp_path / "no-user-dict.txt"),
        "--folds", "2",
        "--repeats", "1",
        "--jobs", "1",
        "--run-name", run_name,
    ]  # fmt: skip


def _old_model(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A previous model set where fit will write: a failed fit must leave it as it was."""
    out = tmp_path / "out"
    out.mkdir()
    model, sidecar = out / "m.joblib", out / "m.json"
    model.write_bytes(b"previous model, not a pickle")
    (out / "m.npz").write_bytes(b"previous plain model")
    sidecar.write_text('{"previous": "sidecar"}', encoding="utf-8")
    return out, model, sidecar


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_fit_data(case: Case, tmp_path: Path, inputs: Path, tiny_rows: Rows) -> None:
    rows = trainable_rows(tiny_rows)
    path = case.make(inputs, rows)
    out, model, sidecar = _old_model(tmp_path)
    before = snapshot([path, model, sidecar, model.with_suffix(".npz")])
    result = _invoke(_fit_args(tmp_path, path, model, f"robustness-{case.name}"))
    if case.accepted:
        assert case.records is not None
        assert result.exit_code == 0, result.output[-3000:]
        assert "Traceback" not in result.output
        _, meta = load(model)  # the old file replaced by a real, checksummed model
        records = case.records(rows)
        assert meta["n_train"] == sum(r["labels"] is not None for r in records)
        assert snapshot([path]) == {path: before[path]}
    else:
        error = assert_one_line_error(result.exit_code, result.stdout, result.stderr, path, case.line)
        assert error.startswith("error: ")
        assert result.stdout.strip() == "", "nothing but the error on a failed fit"
        assert snapshot([path, model, sidecar, model.with_suffix(".npz")]) == before, (
            "a failed fit must leave the old model untouched"
        )
    assert_no_leftovers(out)


def test_fit_small_valid_file_trains_or_fails_in_one_line(tmp_path: Path, inputs: Path, tiny_rows: Rows) -> None:
    """17 labeled paragraphs, 3 per label, pass `data check` and `--folds 2`: no stage may crash on them."""
    path = inputs / "small.jsonl"
    path.write_text(_jsonl(tiny_rows), encoding="utf-8")
    out, model, sidecar = _old_model(tmp_path)
    before = snapshot([path, model, sidecar, model.with_suffix(".npz")])
    result = _invoke(_fit_args(tmp_path, path, model, "robustness-small"))
    if result.exit_code == 0:
        assert load(model)[1]["n_train"] == sum(r["labels"] is not None for r in tiny_rows)
    else:
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output[-3000:]
        assert not UNEXPECTED.match(lines[0]), f"an unhandled exception reached the catch-all: {lines[0]!r}"
        assert snapshot([path, model, sidecar, model.with_suffix(".npz")]) == before
    assert_no_leftovers(out)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_predict_file(case: Case, fitted: FittedProject, inputs: Path, tiny_rows: Rows) -> None:
    path = case.make(inputs, tiny_rows)
    before = snapshot([path, fitted.model])
    result = _invoke(["predict", "--model", str(fitted.model), "--file", str(path)])  # not a tty: jsonl
    if case.accepted:
        assert case.records is not None
        assert result.exit_code == 0, result.output[-3000:]
        assert "Traceback" not in result.output
        rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        records = case.records(tiny_rows)
        assert [r["id"] for r in rows] == [r["id"] for r in records]
        assert [r["text"] for r in rows] == [str(r["text"]).strip() for r in records]
        thresholds = load(fitted.model)[1]["thresholds"]
        for row in rows:
            assert_probabilities(row["scores"], row["labels"], thresholds)
    else:
        error = assert_one_line_error(result.exit_code, result.stdout, result.stderr, path, case.line)
        assert error.startswith("error: ")
        streamed = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]  # only whole records
        if case.line is not None and case.line != ANY_LINE:
            assert len(streamed) < case.line, "no record from the bad line or after it"
    assert snapshot([path, fitted.model]) == before


def test_predict_article_with_bom_and_crlf(fitted: FittedProject, inputs: Path) -> None:
    """A .txt article saved on Windows: the BOM and the CRs never reach the text or the ids."""
    path = inputs / "windows.txt"
    path.write_bytes("\ufeff标题：OpenAI完成融资\r\n\r\n作家起訴公司侵犯版權\r\n".encode())
    result = _invoke(["predict", "--model", str(fitted.model), "--file", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [(p["id"], p["text"]) for p in payload["paragraphs"]] == [
        ("windows:1", "标题：OpenAI完成融资"),
        ("windows:3", "作家起訴公司侵犯版權"),
    ]


@pytest.mark.parametrize("case", [c for c in CASES if not c.accepted], ids=[c.name for c in CASES if not c.accepted])
def test_predict_bad_file_as_json_prints_nothing_but_the_error(
    case: Case, fitted: FittedProject, inputs: Path, tiny_rows: Rows
) -> None:
    path = case.make(inputs, tiny_rows)
    result = _invoke(["predict", "--model", str(fitted.model), "--file", str(path), "--format", "json"])
    assert_one_line_error(result.exit_code, result.stdout, result.stderr, path, case.line)
    assert result.stdout == ""


# --- real processes: stderr, stdin and argv bytes as a shell delivers them ----------


def _run(
    args: Sequence[str | bytes], cwd: Path, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    env = {**{k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}, "LC_ALL": "C.UTF-8", **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "train.cli", *args],
        cwd=cwd,
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=600,
        env=env,
        check=False,
    )
    return done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")


LABELS_FILE = str(ROOT / "data" / "labels.toml")  # these processes run in an empty folder


@pytest.mark.parametrize("case", [c for c in CASES if c.name in ("truncated", "png")], ids=["truncated", "png"])
@pytest.mark.parametrize("command", ["check", "fit", "predict"])
def test_real_process_bad_file(
    command: str, case: Case, fitted: FittedProject, tmp_path: Path, tiny_rows: Rows
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    path = case.make(inputs, tiny_rows)
    model = tmp_path / "m.joblib"
    model.write_bytes(b"previous model")
    args = {
        "check": ["data", "check", str(path), "--labels", LABELS_FILE],
        "fit": [
            "fit",
            "--data",
            str(path),
            "--labels",
            LABELS_FILE,
            "--model",
            str(model),
            "--tracking-uri",
            f"sqlite:///{tmp_path / 'db'}",
        ],
        "predict": ["predict", "--model", str(fitted.model), "--file", str(path)],
    }[command]
    code, stdout, stderr = _run(args, cwd=tmp_path)
    assert_one_line_error(code, stdout, stderr, path, case.line, check_report=command == "check")
    assert model.read_bytes() == b"previous model"


PNG_STDIN = PNG_HEADER + random.Random(3).randbytes(512)
GBK_STDIN = "标题\n作家起訴公司侵犯版權\n".encode("gbk")
LOCALE_STDIN: dict[str, str] = {}  # C.UTF-8: Python reads stdin with errors="surrogateescape"
STRICT_STDIN = {"PYTHONIOENCODING": "utf-8:strict"}  # as under en_US.UTF-8: errors="strict"


@pytest.mark.parametrize(
    ("args", "stdin", "env"),
    [
        pytest.param(["-"], PNG_STDIN, LOCALE_STDIN, id="dash-png"),
        pytest.param(["--file", "-"], PNG_STDIN, LOCALE_STDIN, id="file-dash-png"),
        pytest.param(["-"], GBK_STDIN, LOCALE_STDIN, id="dash-gbk"),
        pytest.param(["-"], PNG_STDIN, STRICT_STDIN, id="dash-png-strict"),
        pytest.param(["--file", "-"], GBK_STDIN, STRICT_STDIN, id="file-dash-gbk-strict"),
    ],
)
def test_real_process_binary_stdin(
    args: list[str], stdin: bytes, env: dict[str, str], fitted: FittedProject, tmp_path: Path
) -> None:
    """An article piped in that is not UTF-8: one line naming stdin and the line, no traceback."""
    code, stdout, stderr = _run(["predict", "--model", str(fitted.model), *args], tmp_path, stdin, env)
    assert_one_line_error(code, stdout, stderr, "stdin", ANY_LINE)


def test_real_process_argument_that_is_not_utf8(fitted: FittedProject, tmp_path: Path) -> None:
    """A GBK terminal passes bytes that are not UTF-8: tag them or refuse in one line, never crash."""
    text = "作家起訴公司侵犯版權".encode("gbk")
    code, stdout, stderr = _run(["predict", "--model", str(fitted.model), "--format", "json", text], tmp_path)
    assert "Traceback" not in stdout + stderr, stderr[-4000:]
    if code == 0:
        (paragraph,) = json.loads(stdout)["paragraphs"]
        assert_probabilities(paragraph["scores"], paragraph["labels"], load(fitted.model)[1]["thresholds"])
    else:
        lines = [ln for ln in stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr[-4000:]
        assert not UNEXPECTED.match(lines[0]), f"an unhandled exception reached the catch-all: {lines[0]!r}"
        assert "text 1" in lines[0], lines[0]


@pytest.mark.parametrize("text", ["", "   ", "\t\u3000\u00a0"], ids=["empty", "spaces", "tab-ideographic-nbsp"])
def test_real_process_whitespace_text(text: str, fitted: FittedProject, tmp_path: Path) -> None:
    code, stdout, stderr = _run(["predict", "--model", str(fitted.model), text], cwd=tmp_path)
    assert code == 1
    assert stdout == ""
    assert stderr.splitlines() == [EMPTY_TEXT_ERROR]
