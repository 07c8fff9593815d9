"""`train serve`: MLflow's model server as a real process on 127.0.0.1, queried over HTTP."""

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LABELS, TRAIN, ServerFit, free_port, start_server, stop_server

# Simplified and traditional characters, English names, and a paragraph with no topic.
PARAGRAPHS = [
    "马斯克在联邦法院起诉OpenAI，指控其背离非营利使命",
    "OpenAI首席科学家Ilya Sutskever宣布离职，另创新公司",
    "軟銀領投新一輪融資，公司估值突破三千億美元",
    "谷歌发布Gemini新版本，在多项基准测试中超越GPT-4o",
    "安全团队负责人辞职时批评公司把产品放在安全之前",
    "點擊關注，獲取更多科技資訊",
]


@pytest.fixture(scope="module")
def server(server_fit: ServerFit, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`train serve` of the registered version, resolved through the tracking server."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    command = [TRAIN, "serve", "--model", "models:/topic-tagger/1", "--port", str(port),
               "--tracking-uri", server_fit.tracking_uri]  # fmt: skip
    process = start_server(command, f"http://127.0.0.1:{port}/ping", log)
    yield f"http://127.0.0.1:{port}"
    assert stop_server(process) in (0, 143)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/ping", timeout=5)


@pytest.fixture(scope="module")
def expected(server_fit: ServerFit) -> list[dict[str, Any]]:
    """`train predict` on the same paragraphs, with the model file the same fit wrote."""
    result = subprocess.run(
        [TRAIN, "predict", "--model", str(server_fit.model), "--format", "jsonl", *PARAGRAPHS],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [json.loads(line) for line in result.stdout.splitlines()]


def _invoke(server: str, body: object) -> requests.Response:
    return requests.post(f"{server}/invocations", json=body, timeout=30)


def _as_predict_output(predictions: list[dict[str, Any]]) -> list[tuple[list[str], dict[str, float]]]:
    """The server's full-precision scores, rounded as `train predict` prints them."""
    return [(row["labels"], {label: round(row[label], 4) for label in LABELS}) for row in predictions]


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": ["text"], "data": [[t] for t in PARAGRAPHS]}},
        {"dataframe_records": [{"text": t} for t in PARAGRAPHS]},
        {"inputs": PARAGRAPHS},
        {"inputs": {"text": PARAGRAPHS}},
        {"dataframe_split": {"columns": ["body"], "data": [[t] for t in PARAGRAPHS]}},
    ],
    ids=["dataframe_split", "dataframe_records", "inputs-list", "inputs-columns", "one-column"],
)
def test_invocations_match_train_predict(server: str, expected: list[dict[str, Any]], body: object) -> None:
    response = _invoke(server, body)
    assert response.status_code == 200, response.text
    assert _as_predict_output(response.json()["predictions"]) == [(e["labels"], e["scores"]) for e in expected]
    assert any(e["labels"] for e in expected) and not expected[-1]["labels"]  # the comparison is not all-empty


def test_csv_body_matches_train_predict(server: str, expected: list[dict[str, Any]]) -> None:
    body = "text\n" + "".join(f'"{t}"\n' for t in PARAGRAPHS)
    response = requests.post(
        f"{server}/invocations", data=body.encode(), headers={"Content-Type": "text/csv"}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert _as_predict_output(response.json()["predictions"]) == [(e["labels"], e["scores"]) for e in expected]


def test_ping_and_health(server: str) -> None:
    assert requests.get(f"{server}/ping", timeout=5).status_code == 200
    assert requests.get(f"{server}/health", timeout=5).status_code == 200


def test_empty_batch_is_an_empty_answer(server: str) -> None:
    response = _invoke(server, {"inputs": []})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "valid JSON"),
        ({"paragraphs": ["x"]}, "dataframe_split"),
        (
            {"dataframe_split": {"columns": ["id", "body"], "data": [["1", "x"]]}},
            "expected a 'text' column or a single column",
        ),
        ({"dataframe_split": {"columns": ["text"], "data": [["ok"], [None]]}}, "row 1: expected non-empty text"),
        ({"dataframe_records": [{"text": "   "}]}, "row 0: expected non-empty text"),
        ({"inputs": [""]}, "expected non-empty text"),
        ({"inputs": ["ok", None]}, "row 1: expected non-empty text"),
    ],
    ids=["not-json", "unknown-key", "no-text-column", "null-text", "blank-text", "empty-text", "null-in-list"],
)
def test_bad_request_is_a_4xx_with_a_message(server: str, body: object, message: str) -> None:
    data = body if isinstance(body, str) else json.dumps(body)
    response = requests.post(
        f"{server}/invocations", data=data, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert 400 <= response.status_code < 500, response.text
    assert message in response.json()["message"]


def test_unsupported_content_type_is_415(server: str) -> None:
    response = requests.post(f"{server}/invocations", data="马斯克", headers={"Content-Type": "text/plain"}, timeout=30)
    assert response.status_code == 415
    assert "content types" in response.text


def test_busy_port_is_a_one_line_error(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    result = subprocess.run([TRAIN, "serve", "--port", port], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: cannot serve on 127.0.0.1:{port}: Address already in use"


def test_unknown_model_is_a_one_line_error(server_fit: ServerFit) -> None:
    result = subprocess.run(
        [TRAIN, "serve", "--model", "models:/topic-tagger@nobody", "--port", str(free_port()),
         "--tracking-uri", server_fit.tracking_uri],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: cannot find MLflow model models:/topic-tagger@nobody: ")


def test_model_file_is_served_then_sigterm_stops_server_and_removes_its_copy(
    tmp_path: Path, server_fit: ServerFit, expected: list[dict[str, Any]]
) -> None:
    """The default: the model file `train predict` uses, wrapped as an MLflow model for the server's lifetime."""
    port = free_port()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    command = [TRAIN, "serve", "--model", str(server_fit.model), "--port", str(port)]
    env = {**os.environ, "TMPDIR": str(scratch)}
    process = start_server(command, f"http://127.0.0.1:{port}/ping", tmp_path / "serve.log", env=env)
    try:
        assert list(scratch.glob("topic-tagger-model-*/model/MLmodel"))
        response = _invoke(f"http://127.0.0.1:{port}", {"inputs": PARAGRAPHS})
        assert response.status_code == 200, response.text
        assert _as_predict_output(response.json()["predictions"]) == [(e["labels"], e["scores"]) for e in expected]
        process.send_signal(signal.SIGTERM)  # to `train serve` alone, as `kill PID` would
        assert process.wait(timeout=60) == 143
        with pytest.raises(requests.ConnectionError):  # it stopped MLflow's server too
            requests.get(f"http://127.0.0.1:{port}/ping", timeout=5)
        assert not list(scratch.glob("topic-tagger-model-*"))
    finally:
        stop_server(process)  # only if something above failed is anything left in its group


def test_served_model_applies_article_context_as_train_predict_does(context_model: Path, tmp_path: Path) -> None:
    rows = [{"id": f"story:{i}", "text": t} for i, t in enumerate(PARAGRAPHS)]
    batch = tmp_path / "story.jsonl"
    batch.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    result = subprocess.run(
        [TRAIN, "predict", "--model", str(context_model), "--format", "jsonl", "--file", str(batch)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    expected = [json.loads(line) for line in result.stdout.splitlines()]
    port = free_port()
    command = [TRAIN, "serve", "--model", str(context_model), "--port", str(port)]
    process = start_server(command, f"http://127.0.0.1:{port}/ping", tmp_path / "serve.log")
    try:
        url = f"http://127.0.0.1:{port}"
        for body in (
            {"dataframe_split": {"columns": ["id", "text"], "data": [[r["id"], r["text"]] for r in rows]}},
            {"inputs": {"text": PARAGRAPHS, "article": ["story"] * len(PARAGRAPHS)}},
        ):
            response = _invoke(url, body)
            assert response.status_code == 200, response.text
            assert _as_predict_output(response.json()["predictions"]) == [(e["labels"], e["scores"]) for e in expected]
        alone = _invoke(url, {"inputs": PARAGRAPHS}).json()["predictions"]  # no ids: each paragraph alone
        assert _as_predict_output(alone) != [(e["labels"], e["scores"]) for e in expected]
    finally:
        stop_server(process)
