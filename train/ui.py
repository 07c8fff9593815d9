"""`train ui`: MLflow's UI on the store `train fit` logs to, and nothing of it left running after.

`mlflow ui` starts uvicorn, which starts its workers; a signal to `mlflow ui` alone leaves
them serving on the port. So the UI runs in a process group of its own, and every way
`train ui` ends (Ctrl-C, SIGTERM, SIGHUP, the server exiting) stops that whole group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from types import FrameType

from train.errors import TrainError

HOST = "127.0.0.1"
STOP_SECONDS = 5.0  # the group's grace after SIGTERM, before SIGKILL


def ui_command(tracking_uri: str, port: int, artifact_root: str | None) -> list[str]:
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", tracking_uri]
    command += ["--host", HOST, "--port", str(port)]
    if artifact_root:
        command += ["--default-artifact-root", artifact_root]
    return command


def run_ui(tracking_uri: str, experiment: str, port: int, announce: Callable[[str], None]) -> int:
    """Serve the UI until it stops or we are told to stop; returns the exit code."""
    from train import tracking

    check_port_free(port)
    experiment_id = tracking.connect(tracking_uri, experiment)
    base = f"http://{HOST}:{port}"
    announce(f"MLflow UI on {base} (Ctrl-C to stop)")
    announce(f"training runs of {experiment}: {tracking.runs_url(base, experiment_id)}")
    _adopt_orphans()
    command = ui_command(tracking_uri, port, tracking.artifact_root(tracking_uri))
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)}
    signal.signal(signal.SIGTERM, _exit_on_signal)  # before the server exists: no moment leaves it behind
    signal.signal(signal.SIGHUP, _exit_on_signal)
    server = None
    try:
        server = subprocess.Popen(command, start_new_session=True)
        code = server.wait()
        return 128 - code if code < 0 else code  # killed by a signal: the shell's convention
    except KeyboardInterrupt:  # Ctrl-C reaches only us: the server has a session of its own
        return 130
    finally:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)  # a second signal must not cut the cleanup short
        if server is not None:
            stop_group(server)
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


def stop_group(leader: subprocess.Popen[bytes], grace: float = STOP_SECONDS) -> None:
    """SIGTERM the leader's process group, wait `grace` seconds for all of it, then SIGKILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leader.pid, sig)
        if _wait_group(leader, grace):
            return


def check_port_free(port: int) -> None:
    """A taken port fails here in one line, before the server starts and its traceback scrolls past.

    With SO_REUSEADDR, as uvicorn binds: connections of a stopped server still in TIME_WAIT do not count.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise TrainError(f"cannot start the MLflow UI on {HOST}:{port}: {exc.strerror or exc}") from None


def _wait_group(leader: subprocess.Popen[bytes], seconds: float) -> bool:
    """True once no process of the group is left; reaps the leader and any orphan adopted from it."""
    deadline = time.monotonic() + seconds
    while True:
        leader.poll()
        _reap_adopted(leader.pid)
        try:
            os.killpg(leader.pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _adopt_orphans() -> None:
    """Linux: become the reaper of our descendants, so a uvicorn orphaned by its parent is ours to reap.

    Otherwise it is reparented to PID 1, and where that init never reaps (some containers)
    its zombie stays in the group and the group never looks stopped.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_child_subreaper = 36
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def _reap_adopted(group: int) -> None:
    """Collect the group's exited processes that were adopted (the leader's Popen has polled its own)."""
    while True:
        try:
            pid, _ = os.waitpid(-group, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
