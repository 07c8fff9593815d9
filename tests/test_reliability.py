"""Faults injected into real processes: kills, interrupts, concurrent fits, broken tracking stores."""

import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import ROOT, TRAIN, free_port, start_server, stop_server, write_jsonl
from train.modelfile import load


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, tiny_rows) -> Path:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("template")
    write_jsonl(root / "tiny.jsonl", [{**r, "id": f"{r['id']}:{k}"} for k in range(4) for r in tiny_rows])
    result = _fit(root)
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def project(tmp_path: Path, template: Path) -> Path:
    """A labeled file and a trained model, as a user has them before the next fit; an empty store."""
    for name in ("tiny.jsonl", "m.joblib", "m.json", "m.npz"):
        shutil.copy(template / name, tmp_path / name)
    return tmp_path


def _fit_args(root: Path, *extra: str, model: Path | None = None, store: str | None = None) -> list[str]:
    model = model or root / "m.joblib"
    store = store or f"sqlite:///{root / 'db.sqlite'}"
    return [TRAIN, "fit", "--data", str(root / "tiny.jsonl"), "--folds", "2", "--repeats", "2", "--min-df", "1",
            "--model", str(model), "--tracking-uri", store, *extra]  # fmt: skip


def _fit(root: Path, *extra: str, store: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_fit_args(root, *extra, store=store), capture_output=True, text=True, timeout=300)


def _runs(root: Path) -> list:  # type: ignore[type-arg]
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'db.sqlite'}")
    experiment = client.get_experiment_by_name("topic-tagger")
    return [] if experiment is None else client.search_runs([experiment.experiment_id])


def _running(root: Path) -> int:
    """How many runs are open, read straight from SQLite: opening the store through MLflow could create
    or migrate its tables while the process under test does the same, and break it."""
    try:
        with closing(sqlite3.connect(f"file:{root / 'db.sqlite'}?mode=ro", uri=True)) as db:
            return int(db.execute("SELECT count(*) FROM runs WHERE status = 'RUNNING'").fetchone()[0])
    except sqlite3.Error:  # no store yet, or its tables are still being created
        return 0


def _one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip() and "━" not in line]
    assert "Traceback" not in stderr
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("delay", [0.5, 2.0, 4.0, 6.0])
def test_sigkill_at_any_moment_leaves_a_loadable_model(project: Path, delay: float) -> None:
    before, _ = load(project / "m.joblib")
    process = subprocess.Popen(_fit_args(project), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    process.kill()
    process.wait()
    model, meta = load(project / "m.joblib")  # the old model or a complete new one, never a torn pair
    assert model.labels == before.labels
    assert meta["model_sha256"]


def test_ctrl_c_ends_the_run_killed(project: Path) -> None:
    process = subprocess.Popen(_fit_args(project), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not _running(project):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert [r.info.status for r in _runs(project)] == ["KILLED"]
    load(project / "m.joblib")


def test_a_failure_after_training_ends_the_run_failed(project: Path) -> None:
    blocker = project / "not-a-folder"
    blocker.write_text("x")
    result = subprocess.run(_fit_args(project, model=blocker / "m.joblib"), capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "cannot write model" in _one_line_error(result.stderr)
    assert [r.info.status for r in _runs(project)] == ["FAILED"]


def test_two_fits_at_once_both_finish_and_leave_a_consistent_pair(project: Path) -> None:
    first = subprocess.Popen(_fit_args(project, "--C", "1"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(_fit_args(project, "--C", "8"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for process in (first, second):
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
    assert [r.info.status for r in _runs(project)] == ["FINISHED"] * 2
    _, meta = load(project / "m.joblib")
    assert meta["config"]["C"] in (1.0, 8.0)
    assert meta["mlflow_run_id"] in {r.info.run_id for r in _runs(project)}


def test_locked_sqlite_store_fails_before_training(project: Path) -> None:
    before = (project / "m.joblib").read_bytes()
    assert _fit(project).returncode == 0  # create the store, then hold it
    before = (project / "m.joblib").read_bytes()
    lock = sqlite3.connect(project / "db.sqlite", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        result = _fit(project)
    finally:
        lock.close()
    assert result.returncode == 1
    assert "database is locked" in _one_line_error(result.stderr)
    assert (project / "m.joblib").read_bytes() == before


def test_read_only_store_fails_before_training(project: Path, template: Path) -> None:
    before = (project / "m.joblib").read_bytes()
    shutil.copy(template / "db.sqlite", project / "db.sqlite")
    store = f"sqlite:///file:{project / 'db.sqlite'}?mode=ro&uri=true"
    # From the project folder: MLflow makes the "parent folder" of `file:/…` relative to the working directory.
    args = _fit_args(project, "--labels", str(ROOT / "data" / "labels.toml"), store=store)
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=project)
    assert result.returncode == 1
    assert "readonly database" in _one_line_error(result.stderr)
    assert (project / "m.joblib").read_bytes() == before


def test_tracking_server_that_went_down_fails_fast(project: Path) -> None:
    port = free_port()
    command = [
        sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{project / 'server.db'}", "--default-artifact-root", str(project / "art"),
    ]  # fmt: skip
    stop_server(start_server(command, f"http://127.0.0.1:{port}/health", project / "server.log"))
    before = (project / "m.joblib").read_bytes()
    started = time.monotonic()
    result = _fit(project, store=f"http://127.0.0.1:{port}")
    assert time.monotonic() - started < 60
    assert result.returncode == 1
    assert f"cannot use MLflow tracking store http://127.0.0.1:{port}" in _one_line_error(result.stderr)
    assert (project / "m.joblib").read_bytes() == before


def test_tracking_failure_after_training_keeps_the_model_and_says_so(project: Path) -> None:
    # The store accepts the run, but its artifact folder is a file: logging the report fails.
    (project / "mlruns").write_text("in the way")
    result = _fit(project)
    assert result.returncode == 1
    line = _one_line_error(result.stderr)
    assert f"model saved to {project / 'm.joblib'}, but logging run" in line
    _, meta = load(project / "m.joblib")
    assert meta["mlflow_run_id"] in line
    failed = [r for r in _runs(project) if r.info.run_id == meta["mlflow_run_id"]]
    assert [r.info.status for r in failed] == ["FAILED"]


def test_ctrl_c_during_tune_leaves_no_run_running(project: Path) -> None:
    store = f"sqlite:///{project / 'db.sqlite'}"
    base = project / "base.json"
    base.write_text('{"folds": 2, "repeats": 2, "min_df": 1}', encoding="utf-8")
    command = [TRAIN, "tune", "--data", str(project / "tiny.jsonl"), "--config", str(base), "--n-iter", "50",
               "--score", "macro_f1", "--out", str(project / "best.json"), "--tracking-uri", store]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 90
    while time.time() < deadline and _running(project) < 2:
        time.sleep(0.2)  # the parent and a child are open
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    statuses = [r.info.status for r in _runs(project)]
    assert "RUNNING" not in statuses
    assert statuses.count("KILLED") == 2  # the parent and the child it interrupted
    assert not (project / "best.json").exists()
