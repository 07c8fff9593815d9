"""`train ui`: the real console script, a real MLflow UI, and nothing of it left after a SIGTERM."""

import errno
import os
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import TRAIN, free_port, start_server, stop_server, write_jsonl

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table in /proc")


def _processes() -> dict[int, tuple[int, int]]:
    """pid → (parent pid, process group) of every process, from /proc."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (command)": state, ppid, pgrp, ...
        out[int(entry.name)] = (int(fields[1]), int(fields[2]))
    return out


def _descendants(root: int) -> set[int]:
    table = _processes()
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, (parent, _) in table.items() if parent in frontier} - found
        found |= frontier
    return found


def test_sigterm_stops_the_ui_and_every_process_it_started(tmp_path: Path) -> None:
    port = free_port()
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    command = [TRAIN, "ui", "--port", str(port), "--tracking-uri", store]
    ui = start_server(command, f"http://127.0.0.1:{port}/health", tmp_path / "ui.log")
    try:
        children = _descendants(ui.pid)
        (leader,) = {pid for pid in children if _processes().get(pid, (0, 0))[0] == ui.pid}
        assert len(children) > 2, "mlflow ui, uvicorn and its workers"
        os.kill(ui.pid, signal.SIGTERM)  # train ui only: stopping the rest is its job
        assert ui.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if ui.poll() is None:
            stop_server(ui)

    left = {pid for pid, (_, group) in _processes().items() if pid in children or group == leader}
    assert not left, f"still running: {left}"
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))  # free for the next server

    experiment = MlflowClient(store).get_experiment_by_name("topic-tagger")
    printed = (tmp_path / "ui.log").read_text(encoding="utf-8")
    runs_url = f"http://127.0.0.1:{port}/#/experiments/{experiment.experiment_id}/runs?workflowType=machine_learning"
    assert f"training runs of topic-tagger: {runs_url}" in printed


def test_a_taken_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [TRAIN, "ui", "--port", str(port), "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert re.fullmatch(rf"error: cannot start the MLflow UI on 127\.0\.0\.1:{port}: .+\n", result.stderr)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # `make test` installs Debian's chromium


def _rendered(url: str, profile: Path) -> str:
    """The page as headless Chromium renders it, scripts run: what a person opening the link sees."""
    assert Path(CHROMIUM).exists(), "headless Chromium is needed: `make test` installs Debian's chromium"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
    done = subprocess.run(
        [CHROMIUM, *flags, f"--user-data-dir={profile}", "--virtual-time-budget=20000", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return re.sub(r"<[^>]+>", " ", done.stdout)  # the text on the page


def test_a_browser_on_the_printed_links_sees_the_runs_and_what_changed(tmp_path: Path, tiny_rows) -> None:  # type: ignore[no-untyped-def]
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    data = write_jsonl(tmp_path / "tiny.jsonl", tiny_rows)
    fit = [TRAIN, "fit", "--data", str(data), "--folds", "2", "--repeats", "1", "--min-df", "1",
           "--no-learning-curve", "--model", str(tmp_path / "m.joblib"), "--tracking-uri", store]  # fmt: skip
    subprocess.run([*fit, "--run-name", "before-relabel"], check=True, capture_output=True, timeout=300)
    write_jsonl(data, [{**row, "labels": ["finance"]} if row["id"] == "t:16" else row for row in tiny_rows])
    second = subprocess.run([*fit, "--run-name", "after-relabel"], check=True, capture_output=True, text=True)
    compare = second.stdout.split("compare the two runs: ")[1].split()[0]

    port = free_port()
    ui = start_server([TRAIN, "ui", "--port", str(port), "--tracking-uri", store],
                      f"http://127.0.0.1:{port}/health", tmp_path / "ui.log")  # fmt: skip
    try:
        runs_url = re.search(r"training runs of topic-tagger: (\S+)", (tmp_path / "ui.log").read_text()).group(1)  # type: ignore[union-attr]
        runs_page = _rendered(runs_url, tmp_path / "profile")
        compare_page = _rendered(compare.replace(":5000/", f":{port}/"), tmp_path / "profile")
    finally:
        stop_server(ui)
    # The training-runs table, not the GenAI overview the bare experiment link opens on.
    assert "before-relabel" in runs_page and "after-relabel" in runs_page
    assert re.search(r"\b2\s+matching runs", runs_page)
    # Side by side, the tags say what changed between the two runs.
    assert re.search(r"diff\.relabeled\s+1\b", compare_page)
    assert re.search(r"diff\.label\.finance\s+\+1\b", compare_page)
