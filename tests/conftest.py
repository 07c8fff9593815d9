"""Shared fixtures: real data, a real jieba and a real MLflow SQLite store in tmp dirs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from train import scorer
from train.cli import app
from train.context import Context
from train.labels import load_labels
from train.modelfile import ModelFiles, load

ROOT = Path(__file__).resolve().parent.parent
TRAIN = str(Path(sys.executable).parent / "train")
LABELS = load_labels(ROOT / "data" / "labels.toml").names


@pytest.fixture(autouse=True)
def _no_ambient_tracking(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's tracking store must never receive test runs, and no test's store may reach the next:
    mlflow.set_tracking_uri / set_registry_uri also export the URI to os.environ, where subprocesses find it."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.setenv(name, "")  # records the value before the test, so it is restored after
        monkeypatch.delenv(name)


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@dataclass(frozen=True)
class FittedProject:
    """One real `train fit` on the project's real data, shared by the tests that read it."""

    root: Path
    model: Path
    tracking_uri: str
    output: str


@pytest.fixture(scope="session")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FittedProject]:
    root = tmp_path_factory.mktemp("project")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    model = root / "models" / "topic_classifier.joblib"
    result = CliRunner().invoke(
        app,
        [
            "fit",
            "--data", str(ROOT / "data" / "paragraphs.jsonl"),
            "--data", str(ROOT / "data" / "authored"),
            "--user-dict", str(ROOT / "data" / "userdict.txt"),
            "--model", str(model),
            "--tracking-uri", tracking_uri,
            "--repeats", "1",
            "--run-name", "test-fit",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    yield FittedProject(root=root, model=model, tracking_uri=tracking_uri, output=result.output)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_rows() -> list[dict[str, object]]:
    """A small, hand-written, labeled set: enough of each label for 2-fold CV."""
    return [
        {"id": "t:1", "text": "首席科学家宣布离职，加盟竞争对手", "labels": ["talent_exodus"]},
        {"id": "t:2", "text": "多名核心研究员出走创办新公司", "labels": ["talent_exodus"]},
        {"id": "t:3", "text": "联合创始人辞职，董事会罢免首席执行官", "labels": ["talent_exodus"]},
        {"id": "t:4", "text": "安全团队解散，员工批评公司重商业轻安全", "labels": ["safety_vs_commercialization"]},
        {"id": "t:5", "text": "非营利使命与营利架构之争再起", "labels": ["safety_vs_commercialization"]},
        {"id": "t:6", "text": "公开信警告AI风险，呼吁放慢商业化脚步", "labels": ["safety_vs_commercialization"]},
        {"id": "t:7", "text": "新模型在多项基准测试中超越对手", "labels": ["competition"]},
        {"id": "t:8", "text": "开源模型与闭源模型的市场争夺战", "labels": ["competition"]},
        {"id": "t:9", "text": "两家公司争夺聊天机器人市场份额", "labels": ["competition"]},
        {"id": "t:10", "text": "公司完成新一轮融资，估值达千亿美元", "labels": ["finance"]},
        {"id": "t:11", "text": "年收入翻倍，但亏损仍在扩大", "labels": ["finance"]},
        {"id": "t:12", "text": "微软追加投资一百亿美元", "labels": ["finance"]},
        {"id": "t:13", "text": "作家集体起诉公司侵犯版权", "labels": ["lawsuits"]},
        {"id": "t:14", "text": "法官驳回了原告的部分诉讼请求", "labels": ["lawsuits"]},
        {"id": "t:15", "text": "马斯克在联邦法院提起诉讼", "labels": ["lawsuits"]},
        {"id": "t:16", "text": "点击关注，获取更多科技资讯", "labels": []},
        {"id": "t:17", "text": "本文图片来自网络", "labels": []},
        {"id": "t:18", "text": "还没有标注的一段文字", "labels": None},
    ]


# --- real server processes on 127.0.0.1 ---------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(
    command: Sequence[str], url: str, log: Path, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a server in its own process group and wait until `url` answers 200."""
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"{command[0]} exited with {server.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    stop_server(server)
    pytest.fail(f"no answer from {url} within {timeout} s: {log.read_text()[-2000:]}")


def stop_server(server: subprocess.Popen[bytes]) -> int:
    """SIGTERM the server's process group (the server and any workers) and wait for it."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        return server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        return server.wait()


@dataclass(frozen=True)
class TrackingServer:
    uri: str
    root: Path


@pytest.fixture(scope="session")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingServer]:
    """A real `mlflow server`: SQLite backend, artifacts proxied to a local folder, a free port."""
    root = tmp_path_factory.mktemp("tracking-server")
    port = free_port()
    command = [
        sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{root / 'server.db'}", "--artifacts-destination", str(root / "artifacts"),
    ]  # fmt: skip
    server = start_server(command, f"http://127.0.0.1:{port}/health", root / "server.log")
    yield TrackingServer(uri=f"http://127.0.0.1:{port}", root=root)
    stop_server(server)


@dataclass(frozen=True)
class ServerFit:
    """One real `train fit --register` that logged to the tracking server."""

    tracking_uri: str
    run_id: str
    model: Path


@pytest.fixture(scope="session")
def server_fit(tracking_server: TrackingServer) -> ServerFit:
    model = tracking_server.root / "models" / "topic_classifier.joblib"
    result = subprocess.run(
        [TRAIN, "fit", "--data", str(ROOT / "data" / "paragraphs.jsonl"), "--data", str(ROOT / "data" / "authored"),
         "--user-dict", str(ROOT / "data" / "userdict.txt"), "--model", str(model), "--repeats", "1",
         "--no-learning-curve", "--register", "--run-name", "server-fit", "--tracking-uri", tracking_server.uri],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return ServerFit(tracking_server.uri, load(model)[1]["mlflow_run_id"], model)


@pytest.fixture(scope="session")
def context_model(fitted: FittedProject, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fitted model with article context switched on (mean x 0.4), its sidecar vouching for it.

    Fits on the project's data leave context off (grouped CV says it does not help there);
    the inference paths must still apply it alike when a model has it.
    """
    files = ModelFiles.of(fitted.model)
    target = ModelFiles.of(tmp_path_factory.mktemp("context") / "topic_classifier.npz")
    payload = scorer.to_bytes(replace(scorer.read(files.plain), context=Context("mean", 0.4)))
    target.plain.write_bytes(payload)
    shutil.copyfile(files.pipeline, target.pipeline)
    meta = json.loads(files.sidecar.read_text(encoding="utf-8"))
    meta["plain_sha256"] = hashlib.sha256(payload).hexdigest()
    target.sidecar.write_text(json.dumps(meta), encoding="utf-8")
    return target.plain
