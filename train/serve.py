"""`train serve`: MLflow's own model server (`mlflow models serve`) for the tagger."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from train import pyfunc
from train.errors import TrainError


def serve_command(uri: str, host: str, port: int, workers: int, timeout: int) -> list[str]:
    """The `mlflow models serve` call, in this environment (`--env-manager local`)."""
    return [
        sys.executable, "-m", "mlflow", "models", "serve",
        "--model-uri", uri,
        "--env-manager", "local",
        "--host", host,
        "--port", str(port),
        "--workers", str(workers),
        "--timeout", str(timeout),
    ]  # fmt: skip


def check_port_free(host: str, port: int) -> None:
    """A taken port fails here in one line, not in a server traceback after the model loaded."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise TrainError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None


def serve(
    ref: str,
    *,
    host: str,
    port: int,
    workers: int,
    timeout: int,
    tracking_uri: str,
    announce: Callable[[str], None],
) -> int:
    """Run the model server until it stops or we are told to stop; returns its exit code.

    `ref` is a model file (wrapped as an MLflow model for the server's lifetime) or a
    `runs:/` / `models:/` URI resolved against `tracking_uri`.
    """
    check_port_free(host, port)
    with pyfunc.model_uri(ref) as uri:
        pyfunc.check_model_uri(uri, tracking_uri)
        command = serve_command(uri, host, port, workers, timeout)
        announce(f"serving {ref} on http://{host}:{port} (POST /invocations, GET /ping; Ctrl-C to stop)")
        server = subprocess.Popen(command, env=_server_environment(tracking_uri))
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            code = server.wait()
            return 128 - code if code < 0 else code  # killed by a signal: the shell's convention
        except KeyboardInterrupt:  # the server got the same Ctrl-C from the terminal
            _stop(server)
            return 130
        finally:
            signal.signal(signal.SIGTERM, previous)
            if server.poll() is None:
                _stop(server)


def _server_environment(tracking_uri: str) -> dict[str, str]:
    """MLflow starts `uvicorn` by name: put this environment's scripts first on PATH, so a
    `.venv/bin/train` that was never activated still finds the uvicorn installed beside it."""
    scripts = str(Path(sys.executable).parent)
    path = os.pathsep.join([scripts, os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, "MLFLOW_TRACKING_URI": tracking_uri}


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Ask the server to shut down gracefully, then make sure it does."""
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
